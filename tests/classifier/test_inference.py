"""classifier.inference: batched classify_photo, model swap without restart, worker warm-up."""

import threading

import pytest
from celery.exceptions import WorkerShutdown

from classifier import inference
from classifier.models import ModelVersion
from tests.factories import jpeg_bytes, tiny_model_artifact

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_worker_state():
    inference.reset()
    yield
    inference.reset()


def register(path, name, active=True):
    from ml.artifacts import read_manifest

    manifest = read_manifest(path)
    if active:
        ModelVersion.objects.filter(is_active=True).update(is_active=False)
    return ModelVersion.objects.create(
        name=name,
        arch=manifest.arch,
        path=str(path),
        sha256=manifest.sha256,
        num_labels=manifest.num_classes,
        is_active=active,
    )


def test_classify_photo_records_the_version_and_batches_threads(tmp_path, settings):
    settings.RANGEWATCH_BATCH_SIZE = 4
    settings.RANGEWATCH_BATCH_WAIT_MS = 30
    version = register(tiny_model_artifact(tmp_path / "v1"), "v1")
    results = []

    def task():
        results.append(inference.classify_photo(jpeg_bytes()))

    threads = [threading.Thread(target=task) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert all(v.pk == version.pk and r.top_k[0][0] == "Testus nativus" for v, r in results)
    assert inference.loaded_classifier().batcher.batches < 8


def test_unreadable_photo_is_a_failure_entry(tmp_path):
    register(tiny_model_artifact(tmp_path / "v1"), "v1")
    _, result = inference.classify_photo(b"not an image")
    assert result.error_code == "unsupported_format"


def test_newly_activated_version_is_picked_up_without_restart(tmp_path):
    v1 = register(tiny_model_artifact(tmp_path / "v1"), "v1")
    assert inference.classify_photo(jpeg_bytes())[0].pk == v1.pk
    old_batcher = inference.loaded_classifier()
    v2 = register(tiny_model_artifact(tmp_path / "v2"), "v2")
    version, result = inference.classify_photo(jpeg_bytes())
    assert version.pk == v2.pk and result.ok
    assert old_batcher.batcher._closed.is_set()


def test_warm_up_loads_the_active_model_before_the_first_task(tmp_path):
    register(tiny_model_artifact(tmp_path / "v1"), "v1")
    inference.warm_up()
    assert inference.loaded_classifier() is not None


def test_warm_up_without_active_model_only_warns():
    inference.warm_up()
    assert inference.loaded_classifier() is None


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_r27_worker_refuses_to_start_on_a_broken_artifact(tmp_path, settings, backend, caplog):
    settings.RANGEWATCH_INFERENCE_BACKEND = backend
    path = tiny_model_artifact(tmp_path / "v1")
    register(path, "v1")
    data = bytearray((path / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(WorkerShutdown):
        inference.warm_up()
    assert "refuses to start" in caplog.text and "checksum mismatch" in caplog.text


def test_medium_broken_model_worker_fails_jobs_typed_and_healthz_says_degraded(tmp_path):
    """Issue 23: an active model whose weights were truncated left each upload in `processing` for
    ~4 min while /healthz said "ok". The worker fails the job at once with `model_unavailable`, does
    not re-read the artifact for every job, and /healthz says degraded."""
    import time

    from django.core.cache import cache
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from observations.classification import observation_classify
    from observations.models import Observation
    from observations.services import observation_create
    from tests.factories import UserFactory

    cache.delete(inference.MODEL_UNAVAILABLE_KEY)
    path = tiny_model_artifact(tmp_path / "v1")
    register(path, "v1")  # as a version whose file was damaged after it was activated
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    owner = UserFactory(username="dana")
    jobs = [
        observation_create(
            owner=owner,
            photo=SimpleUploadedFile("p.jpg", jpeg_bytes(color=(n, 90, 30)), content_type="image/jpeg"),
            latitude=5,
            longitude=5,
        ).observation
        for n in range(2)
    ]
    started = time.monotonic()
    loads = []
    real_load = inference._load
    inference._load = lambda version: loads.append(version.pk) or real_load(version)
    try:
        assert [observation_classify(observation_id=job.pk) for job in jobs] == ["failed", "failed"]
    finally:
        inference._load = real_load
    assert time.monotonic() - started < 5
    assert len(loads) == 1  # the second job did not read the broken artifact again
    for job in Observation.objects.filter(pk__in=[j.pk for j in jobs]):
        assert job.status == "failed" and job.failure_code == "model_unavailable"
        assert "checksum mismatch" in job.failure_detail or "cannot read" in job.failure_detail

    health = Client().get("/healthz")
    assert health.status_code == 200, health.content
    body = health.json()
    assert body["status"] == "degraded"
    assert body["checks"]["inference_worker"]["status"] == "model unavailable"
    assert "v1" in body["checks"]["inference_worker"]["model"]

    # The artifact repaired (a good model activated): the next load clears the warning.
    inference.reset()
    register(tiny_model_artifact(tmp_path / "v2"), "v2")
    inference.active_classifier()
    assert Client().get("/healthz").json()["status"] == "ok"
