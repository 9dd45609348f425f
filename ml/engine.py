"""The inference engine: a loaded classifier that turns photos into taxon probabilities.

Loaded once per worker process (never at import). Backends: torch (CPU, or CUDA with channels_last,
autocast bf16/fp16 and nvJPEG decode) and onnxruntime (CPU; the exported model.onnx is cached next
to the artifact, keyed by the weights' sha256). Unreadable photos come back as failure entries,
never as exceptions through a batch (the SpeciesNet contract).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ml.artifacts import ArtifactError, Manifest, file_sha256, read_manifest
from ml.images import DEFAULT_MAX_PIXELS, IMAGE_CORRUPT, ImageError, inspect_image, load_rgb
from ml.taxonomy import NO_ANIMAL
from ml.transforms import Preprocessing

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnxruntime")
ONNX_OPSET = 17


@dataclass
class Classification:
    """Probabilities per taxon key (labels mapped to the same taxon are summed)."""

    taxon_scores: dict[str, float]
    top_k: list[tuple[str, float]]
    error_code: str | None = None
    error_detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error_code is None

    @classmethod
    def failure(cls, exc: ImageError) -> "Classification":
        return cls({}, [], exc.code, exc.detail)


# -- backends ----------------------------------------------------------------------------------
class TorchRunner:
    """A torch module on CPU or CUDA, channels_last; CUDA runs under autocast (bf16 where supported)."""

    def __init__(self, model, device: str, nhwc_input: bool = False):
        import torch

        self.device = device
        self.cuda = device.startswith("cuda")
        self.dtype = None
        # An NHWC input (SpeciesNet) is passed as it is: the model permutes it itself.
        self.input_format = torch.contiguous_format if nhwc_input else torch.channels_last
        # channels_last: faster convolutions on CUDA and on CPU (oneDNN), about 1.3x here.
        model = model.to(device, memory_format=torch.channels_last)
        if self.cuda:
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.model = model.eval()

    def __call__(self, batch) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.as_tensor(batch).to(self.device, non_blocking=True).contiguous(memory_format=self.input_format)
            if self.cuda:
                with torch.autocast("cuda", dtype=self.dtype):
                    out = self.model(x)
            else:
                out = self.model(x)
            return out.float().cpu().numpy()


class OnnxRunner:
    """An onnxruntime CPU session with a fixed intra-op thread count."""

    def __init__(self, path: Path, threads: int | None, spinning: bool = False):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        # Spin-waiting pool threads steal the cores the decode threads need between batches.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_classes = self.session.get_outputs()[0].shape[-1]

    def __call__(self, batch) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=np.float32)
        return self.session.run(None, {self.input_name: x})[0].astype(np.float32, copy=False)


def onnx_path(artifact_dir: Path, manifest: Manifest, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the exported ONNX model lives: next to the artifact, or in `cache_dir`; keyed by sha256."""
    key = (manifest.sha256 or "unsigned")[:16]
    name = f"model-{key}.onnx"
    return Path(cache_dir) / f"{manifest.name}-{name}" if cache_dir else artifact_dir / name


def export_onnx(model, preprocessing: Preprocessing, path: Path) -> Path:
    """Export a torch model with a dynamic batch axis, written atomically."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        # The TorchScript exporter needs no onnxscript; its deprecation notice is not news here.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model.eval(),
                (torch.zeros(1, *preprocessing.input_shape),),
                tmp,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=ONNX_OPSET,
                dynamo=False,
                external_data=False,
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _resolve_device(device: str) -> str:
    if not device.startswith("cuda"):
        return device
    import torch

    if torch.cuda.is_available():
        return device
    log.warning("device %s requested but CUDA is not available: falling back to CPU", device)
    return "cpu"


# -- the classifier ----------------------------------------------------------------------------
@dataclass
class Classifier:
    manifest: Manifest
    runner: object
    backend: str = "torch"
    device: str = "cpu"
    artifact_dir: Path | None = None
    load_seconds: float = 0.0
    top_k: int = 5
    max_pixels: int = DEFAULT_MAX_PIXELS
    threads: int | None = 1
    _groups: list[tuple[str, np.ndarray]] = field(default_factory=list, repr=False)

    @classmethod
    def load(
        cls,
        artifact_dir: str | os.PathLike,
        *,
        backend: str = "torch",
        device: str = "cpu",
        threads: int | None = 1,
        top_k: int = 5,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        onnx_cache_dir: str | os.PathLike | None = None,
    ) -> "Classifier":
        """Load and verify an artifact. Raises ArtifactError (weights missing, checksum mismatch,
        labels != head size) so that a worker refuses to start and says why."""
        if backend not in BACKENDS:
            raise ValueError(f"unknown inference backend {backend!r}; known: {', '.join(BACKENDS)}")
        started = time.perf_counter()
        artifact_dir = Path(artifact_dir)
        if backend == "onnxruntime":
            if device != "cpu":
                log.warning("the onnxruntime backend runs on CPU here; ignoring device %s", device)
            device = "cpu"
            manifest, runner = _load_onnx(artifact_dir, threads, onnx_cache_dir)
        else:
            device = _resolve_device(device)
            if device == "cpu" and threads:
                _set_torch_threads(threads)
            from ml.artifacts import load_artifact

            manifest, model = load_artifact(artifact_dir)
            runner = TorchRunner(model, device, nhwc_input=manifest.preprocessing.layout == "NHWC")
        classifier = cls(
            manifest=manifest,
            runner=runner,
            backend=backend,
            device=device,
            artifact_dir=artifact_dir,
            top_k=top_k,
            max_pixels=max_pixels,
            threads=threads,
        )
        classifier._groups = _label_groups(manifest.label_taxa)
        classifier.load_seconds = time.perf_counter() - started
        log.info(
            "classifier loaded: %s (%s, %d labels) backend=%s device=%s threads=%s in %.2fs",
            manifest.name,
            manifest.arch,
            manifest.num_classes,
            backend,
            device,
            threads,
            classifier.load_seconds,
        )
        return classifier

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")

    # -- arrays ------------------------------------------------------------------------------
    def logits(self, batch) -> np.ndarray:
        return self.runner(batch)

    def probabilities(self, batch) -> np.ndarray:
        """Temperature-calibrated softmax over the model's labels."""
        z = self.logits(batch) / self.manifest.temperature
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def classify_batch(self, batch) -> list[Classification]:
        """One forward pass over prepared inputs (what MicroBatcher calls)."""
        return [self.summarise(row) for row in self.probabilities(batch)]

    # -- photos ------------------------------------------------------------------------------
    def preprocess(self, source) -> np.ndarray:
        """Decode on CPU (Pillow, draft for JPEG) into a normalised (3, S, S) float32 array."""
        prep = self.manifest.preprocessing
        return prep.to_array(load_rgb(source, target_size=prep.decode_size, max_pixels=self.max_pixels))

    def prepare(self, source):
        """The model input for one photo: a CUDA tensor when JPEG can be decoded on the GPU,
        else a CPU array. Raises ImageError."""
        if (
            self.on_gpu
            and isinstance(source, (bytes, bytearray))
            and isinstance(self.manifest.preprocessing, Preprocessing)
        ):
            tensor = _gpu_prepare(source, self.manifest.preprocessing, self.device, self.max_pixels)
            if tensor is not None:
                return tensor
        return self.preprocess(source)

    def stack(self, items: list):
        """Stack prepared inputs (arrays, or CUDA tensors mixed with arrays) into one batch."""
        if self.on_gpu:
            import torch

            return torch.stack([torch.as_tensor(x).to(self.device) for x in items])
        return np.stack(items)

    def classify(self, sources: list) -> list[Classification]:
        """Classify photos (bytes or paths) in one forward pass; failures are per item."""
        arrays, slots, results = [], [], [None] * len(sources)
        for i, source in enumerate(sources):
            try:
                arrays.append(self.prepare(source))
                slots.append(i)
            except ImageError as exc:
                results[i] = Classification.failure(exc)
        if arrays:
            for row, i in zip(self.classify_batch(self.stack(arrays)), slots):
                results[i] = row
        return results

    def summarise(self, probs: np.ndarray) -> Classification:
        scores = {key: float(probs[idx].sum()) for key, idx in self._groups}
        top = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[: self.top_k]
        return Classification(scores, top)


def _set_torch_threads(threads: int) -> None:
    import torch

    # One intra-op thread per worker child: N children x default threads oversubscribe the cores.
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once parallel work started in this process
        pass


def _load_onnx(artifact_dir: Path, threads: int | None, cache_dir) -> tuple[Manifest, OnnxRunner]:
    """Verify the weights' checksum, export model.onnx once per sha256, check the head size.

    When the export is cached, torch is never imported: the worker's cold start stays short.
    """
    manifest = read_manifest(artifact_dir)
    weights = artifact_dir / manifest.weights_file
    if not weights.is_file():
        raise ArtifactError(f"weights file {weights} is missing")
    actual = file_sha256(weights)
    if manifest.sha256 and actual != manifest.sha256:
        raise ArtifactError(
            f"checksum mismatch for {weights}: manifest says {manifest.sha256[:12]}…, file is {actual[:12]}…"
        )
    path = onnx_path(artifact_dir, manifest, cache_dir)
    if not path.is_file():
        from ml.artifacts import load_artifact

        started = time.perf_counter()
        _, model = load_artifact(artifact_dir)  # checks head size against the labels too
        try:
            export_onnx(model, manifest.preprocessing, path)
        except OSError:
            if cache_dir is not None:
                raise
            # A read-only artifact folder: fall back to a per-user cache.
            path = onnx_path(artifact_dir, manifest, Path(tempfile.gettempdir()) / "rangewatch-onnx")
            if not path.is_file():
                export_onnx(model, manifest.preprocessing, path)
        log.info("exported %s to ONNX at %s in %.1fs", manifest.name, path, time.perf_counter() - started)
    runner = OnnxRunner(path, threads)
    if isinstance(runner.output_classes, int) and runner.output_classes != manifest.num_classes:
        raise ArtifactError(
            f"the manifest lists {manifest.num_classes} labels but the model has a {runner.output_classes}-class head"
        )
    return manifest, runner


# -- GPU decode ----------------------------------------------------------------------------------


def _gpu_prepare(data: bytes, prep: Preprocessing, device: str, max_pixels: int):
    """nvJPEG decode + resize/crop/normalise on the GPU, or None to fall back to Pillow.

    The header is checked on CPU first (allow-list, pixel ceiling); EXIF orientation is applied
    here because torchvision ignores it on CUDA. Anything unusual (CMYK, greyscale, a decode
    error) goes the Pillow way, which gives the typed failures.
    """
    import io

    from PIL import ExifTags, Image

    info = inspect_image(data, max_pixels)  # raises ImageError
    if info.format != "JPEG":
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.mode != "RGB":
                return None
            orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - let the Pillow path report it
        return None
    import torch
    import torch.nn.functional as F
    from torchvision.io import ImageReadMode, decode_jpeg

    try:
        raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        img = decode_jpeg(raw, mode=ImageReadMode.RGB, device=device)
    except RuntimeError:
        return None
    img = _orient(img, orientation)
    _, height, width = img.shape
    scale = prep.resize_size / min(width, height)
    new_h, new_w = max(prep.input_size, round(height * scale)), max(prep.input_size, round(width * scale))
    x = img.unsqueeze(0).float()
    x = F.interpolate(x, size=(new_h, new_w), mode=prep.interpolation, antialias=True, align_corners=False)[0]
    top, left = (new_h - prep.input_size) // 2, (new_w - prep.input_size) // 2
    x = x[:, top : top + prep.input_size, left : left + prep.input_size].clamp_(0, 255) / 255.0
    mean = torch.tensor(prep.mean, device=device).view(3, 1, 1)
    std = torch.tensor(prep.std, device=device).view(3, 1, 1)
    if not torch.isfinite(x).all():
        raise ImageError(IMAGE_CORRUPT, "the JPEG decoded to non-finite values")
    return (x - mean) / std


def _orient(img, orientation: int):
    """EXIF orientation (1-8) applied to a (3, H, W) tensor, as PIL's exif_transpose does."""
    import torch

    if orientation == 2:
        return img.flip(-1)
    if orientation == 3:
        return torch.rot90(img, 2, (1, 2))
    if orientation == 4:
        return img.flip(-2)
    if orientation == 5:
        return torch.rot90(img, 1, (1, 2)).flip(-2)
    if orientation == 6:
        return torch.rot90(img, -1, (1, 2))
    if orientation == 7:
        return torch.rot90(img, -1, (1, 2)).flip(-2)
    if orientation == 8:
        return torch.rot90(img, 1, (1, 2))
    return img


def _label_groups(label_taxa: list[str | None]) -> list[tuple[str, np.ndarray]]:
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(label_taxa):
        groups.setdefault(key or NO_ANIMAL, []).append(i)
    return [(key, np.asarray(idx)) for key, idx in groups.items()]


# Decodes that need more than this many pixels in memory (non-JPEG: no draft) take a slot.
LARGE_DECODE_PIXELS = 12_000_000


class BatchingClassifier:
    """A classifier shared by many task threads: each caller decodes its own photo, then waits on
    one micro-batched forward pass. What the inference worker and the pipeline benchmark use.

    Worker memory stays bounded with many threads: at most `large_decodes` full-size decodes of
    big non-JPEG images (up to the pixel ceiling each) run at once; JPEGs decode scaled down.
    """

    def __init__(
        self, classifier: Classifier, *, max_batch: int = 16, max_wait_ms: float = 10.0, large_decodes: int = 2
    ):
        import threading

        from ml.batching import MicroBatcher

        self.classifier = classifier
        self.batcher = MicroBatcher(
            classifier.classify_batch,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            stack=classifier.stack,
            name=f"batcher-{classifier.manifest.name}",
        )
        self._large = threading.BoundedSemaphore(large_decodes)

    def classify_one(self, source, timeout: float | None = None) -> Classification:
        try:
            info = inspect_image(source, self.classifier.max_pixels)
            if info.format not in ("JPEG", "MPO") and info.width * info.height > LARGE_DECODE_PIXELS:
                with self._large:
                    prepared = self.classifier.prepare(source)
            else:
                prepared = self.classifier.prepare(source)
        except ImageError as exc:
            return Classification.failure(exc)
        return self.batcher(prepared, timeout)

    def close(self) -> None:
        self.batcher.close()
