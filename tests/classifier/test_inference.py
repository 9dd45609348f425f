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
    assert inference._loaded[1].batcher.batches < 8


def test_unreadable_photo_is_a_failure_entry(tmp_path):
    register(tiny_model_artifact(tmp_path / "v1"), "v1")
    _, result = inference.classify_photo(b"not an image")
    assert result.error_code == "unsupported_format"


def test_newly_activated_version_is_picked_up_without_restart(tmp_path):
    v1 = register(tiny_model_artifact(tmp_path / "v1"), "v1")
    assert inference.classify_photo(jpeg_bytes())[0].pk == v1.pk
    old_batcher = inference._loaded[1]
    v2 = register(tiny_model_artifact(tmp_path / "v2"), "v2")
    version, result = inference.classify_photo(jpeg_bytes())
    assert version.pk == v2.pk and result.ok
    assert old_batcher.batcher._closed.is_set()


def test_warm_up_loads_the_active_model_before_the_first_task(tmp_path):
    register(tiny_model_artifact(tmp_path / "v1"), "v1")
    inference.warm_up()
    assert inference._loaded is not None


def test_warm_up_without_active_model_only_warns():
    inference.warm_up()
    assert inference._loaded is None


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
