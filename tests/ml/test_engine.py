"""The engine on the tiny model: backends, ONNX cache, thread count, CPU fallback, GPU-decode maths."""

import io
import json
import threading

import numpy as np
import pytest
from PIL import Image, ImageOps

from ml.artifacts import ArtifactError
from ml.engine import BatchingClassifier, Classifier, _gpu_prepare, _orient, onnx_path
from tests.factories import jpeg_bytes


def test_onnx_backend_exports_once_and_matches_torch(tiny_artifact):
    torch_clf = Classifier.load(tiny_artifact, backend="torch")
    ort_clf = Classifier.load(tiny_artifact, backend="onnxruntime")
    cached = onnx_path(tiny_artifact, ort_clf.manifest)
    assert cached.is_file() and ort_clf.manifest.sha256[:16] in cached.name
    mtime = cached.stat().st_mtime_ns
    Classifier.load(tiny_artifact, backend="onnxruntime")
    assert cached.stat().st_mtime_ns == mtime  # reused, not exported again

    batch = np.random.default_rng(0).standard_normal((4, 3, 64, 64)).astype(np.float32)
    a, b = torch_clf.logits(batch), ort_clf.logits(batch)
    assert np.abs(a - b).max() < 1e-3
    assert (a.argmax(1) == b.argmax(1)).all()
    result = ort_clf.classify([jpeg_bytes(), b"junk"])
    assert result[0].top_k[0][0] == "Testus nativus" and result[1].error_code == "unsupported_format"


def test_onnx_cache_dir_is_keyed_by_sha(tiny_artifact, tmp_path):
    clf = Classifier.load(tiny_artifact, backend="onnxruntime", onnx_cache_dir=tmp_path / "onnx")
    files = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(files) == 1 and clf.manifest.sha256[:16] in files[0].name


def test_r27_onnx_backend_refuses_checksum_mismatch(tiny_artifact):
    path = tiny_artifact / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        Classifier.load(tiny_artifact, backend="onnxruntime")


@pytest.mark.parametrize("cached", [False, True])
def test_r27_onnx_backend_refuses_labels_not_matching_head(tiny_artifact, cached):
    if cached:
        Classifier.load(tiny_artifact, backend="onnxruntime")  # export with the right manifest first
    manifest_path = tiny_artifact / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["labels"].append("extra")
    manifest["label_taxa"].append(None)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="3-class head"):
        Classifier.load(tiny_artifact, backend="onnxruntime")


def test_r27_missing_weights_refused_by_both_backends(tiny_artifact):
    (tiny_artifact / "model.safetensors").unlink()
    for backend in ("torch", "onnxruntime"):
        with pytest.raises(ArtifactError, match="missing"):
            Classifier.load(tiny_artifact, backend=backend)


def test_unknown_backend_is_refused(tiny_artifact):
    with pytest.raises(ValueError, match="unknown inference backend"):
        Classifier.load(tiny_artifact, backend="tensorrt")


def test_one_intra_op_thread_per_worker_on_cpu(tiny_artifact):
    import torch

    before = torch.get_num_threads()
    try:
        Classifier.load(tiny_artifact, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_cuda_requested_without_gpu_falls_back_to_cpu(tiny_artifact):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the fallback is not exercised")
    clf = Classifier.load(tiny_artifact, device="cuda")
    assert clf.device == "cpu" and not clf.on_gpu
    assert clf.classify([jpeg_bytes()])[0].top_k[0][0] == "Testus nativus"


def test_batching_classifier_serves_many_threads_with_per_item_failures(tiny_artifact):
    serving = BatchingClassifier(Classifier.load(tiny_artifact), max_batch=4, max_wait_ms=20)
    payloads = [jpeg_bytes() if i % 3 else b"\xff\xd8\xff\xe0 truncated" for i in range(12)]
    results = [None] * len(payloads)

    def caller(i):
        results[i] = serving.classify_one(payloads[i])

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(len(payloads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    serving.close()
    for i, result in enumerate(results):
        if i % 3:
            assert result.ok and result.top_k[0][0] == "Testus nativus"
        else:
            assert result.error_code in ("image_corrupt", "unsupported_format")
    assert serving.batcher.batches < 8


@pytest.mark.parametrize("orientation", range(1, 9))
def test_gpu_orientation_matches_pillow(orientation):
    import torch

    arr = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    exif = Image.Exif()
    exif[0x0112] = orientation
    img = Image.fromarray(arr)
    img.info["exif"] = exif.tobytes()
    img.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(img))
    got = _orient(torch.from_numpy(arr).permute(2, 0, 1), orientation).permute(1, 2, 0).numpy()
    assert got.shape == expected.shape and (got == expected).all()


@pytest.mark.slow(reason="runs the GPU preprocessing path on the CPU: about 15 s")
def test_gpu_preprocessing_path_agrees_with_pillow_on_cpu(tiny_artifact):
    """The nvJPEG path's resize/crop/normalise maths, run with torchvision's CPU decoder."""
    clf = Classifier.load(tiny_artifact)
    arr = np.zeros((240, 320, 3), dtype=np.uint8)
    arr[:, :160] = (200, 40, 40)
    arr[:, 160:] = (40, 40, 200)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=95)
    gpu_like = _gpu_prepare(buf.getvalue(), clf.manifest.preprocessing, "cpu", clf.max_pixels).numpy()
    pillow = clf.preprocess(buf.getvalue())
    assert gpu_like.shape == pillow.shape
    assert np.abs(gpu_like - pillow).mean() < 0.05
    assert _gpu_prepare(_png(), clf.manifest.preprocessing, "cpu", clf.max_pixels) is None  # Pillow's job


def _png(side=8):
    buf = io.BytesIO()
    Image.new("RGB", (side, side)).save(buf, "PNG")
    return buf.getvalue()


def test_r02_bomb_is_refused_from_the_header_and_big_decodes_are_bounded(tiny_artifact, monkeypatch):
    import ml.engine as engine

    serving = BatchingClassifier(
        Classifier.load(tiny_artifact, max_pixels=1_000_000), max_batch=2, max_wait_ms=5, large_decodes=1
    )
    bomb = io.BytesIO()
    Image.new("L", (2000, 2000)).save(bomb, "PNG")
    assert serving.classify_one(bomb.getvalue()).error_code == "image_too_large"

    monkeypatch.setattr(engine, "LARGE_DECODE_PIXELS", 100)  # a 64x64 PNG counts as large
    inside, peak, lock = [0], [0], threading.Lock()
    prepare = serving.classifier.prepare

    def counting_prepare(source):
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        try:
            return prepare(source)
        finally:
            with lock:
                inside[0] -= 1

    serving.classifier.prepare = counting_prepare
    threads = [threading.Thread(target=serving.classify_one, args=(_png(64),)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    serving.close()
    assert peak[0] == 1
