"""SpeciesNet's pipeline rate: the worker's path (decode at full size, SpeciesNet's crop and resize,
micro-batched forward pass) on real camera-trap JPEGs, per backend and device; and how far CUDA's
logits are from the CPU's. What `bench/inference.py --arch speciesnet --model PATH` runs and
bench/gpu_speciesnet.sh calls on a GPU machine.

A real SpeciesNet folder is not downloadable here: `--model stand-in-v2m` builds one of the same
compute (torchvision's EfficientNet-V2-M, SpeciesNet v4's backbone, random weights, 2,498 outputs,
NHWC 480 x 480 input) with bench/speciesnet_stand_in.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def model_folder(model: str, root: Path) -> Path:
    """PATH as given, or the stand-in built once under `root` for 'stand-in-v2m' / 'stand-in-tiny'
    (with the real labels file, or where ../shared is absent, 2,498 made-up labels of its format)."""
    if not model.startswith("stand-in-"):
        return Path(model)
    from bench.speciesnet_stand_in import LABELS, write_folder

    backbone = model.removeprefix("stand-in-")
    folder = root / f"speciesnet-{model}"
    if not (folder / "info.json").is_file():
        labels = LABELS
        if not labels.is_file():
            labels = root / "synthetic-labels.txt"
            root.mkdir(parents=True, exist_ok=True)
            rows = [f"{i:08d};mammalia;order{i};family{i};genus{i};species{i};common {i}" for i in range(2497)]
            labels.write_text(
                "\n".join([*rows, "55631055;mammalia;proboscidea;elephantidae;loxodonta;africana;african elephant"])
            )
        write_folder(folder, {"african elephant": 6.0}, labels_file=labels, backbone=backbone)
    return folder


def synthetic_jpegs(root: Path, count: int = 32) -> list[Path]:
    """Camera-trap-sized JPEGs (2048 x 1536, smooth gradients and noise) where ../shared is absent."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = root / f"synthetic-{i:02d}.jpg"
        if not path.is_file():
            small = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
            Image.fromarray(small).resize((2048, 1536), Image.Resampling.BICUBIC).save(path, quality=90)
        paths.append(path)
    return paths


def pipeline_rates(
    folder: Path,
    payloads: list[bytes],
    *,
    backends: tuple[str, ...],
    device: str,
    threads: int | None,
    batches: tuple[int, ...],
    seconds: float,
    wait_ms: float = 10.0,
    fp16: bool = False,
) -> dict[tuple[str, int], tuple[float, float]]:
    """{(backend, max batch): (img/s, mean batch)} through ml.engine.BatchingClassifier with
    2 x batch request threads, as the inference worker runs."""
    from bench.inference import bench_pipeline
    from ml.engine import Classifier

    rates = {}
    for backend in backends:
        classifier = Classifier.load(folder, backend=backend, device=device, threads=threads)
        if fp16 and classifier.on_gpu:
            import torch

            classifier.runner.dtype = torch.float16
        for batch in batches:
            rates[backend, batch] = bench_pipeline(
                classifier, payloads, max_batch=batch, wait_ms=wait_ms, concurrency=2 * batch, seconds=seconds
            )
    return rates


def cpu_cuda_agreement(folder: Path, paths: list[Path]) -> dict[str, float]:
    """The same photos through the CPU (float32) and CUDA (autocast) torch runners: the largest
    probability difference, and how often the top label agrees."""
    from ml.engine import Classifier

    cpu = Classifier.load(folder, backend="torch", device="cpu", threads=None)
    cuda = Classifier.load(folder, backend="torch", device="cuda")
    inputs = np.stack([cpu.preprocess(p) for p in paths])
    p_cpu, p_cuda = cpu.probabilities(inputs), cuda.probabilities(inputs)
    return {
        "images": len(paths),
        "max_abs_prob_diff": float(np.abs(p_cpu - p_cuda).max()),
        "top1_agreement": float(np.mean(p_cpu.argmax(1) == p_cuda.argmax(1))),
        "cuda_dtype": str(cuda.runner.dtype),
    }


def main(args, paths: list[Path]) -> int:
    """--arch speciesnet: print the pipeline rate per backend (and, on CPU, which is faster)."""
    import torch

    folder = model_folder(args.model, args.artifacts)
    if not paths:
        print("# no camera-trap JPEGs under ../shared/data/photos: synthetic 2048 x 1536 JPEGs instead")
        paths = synthetic_jpegs(args.artifacts / "synthetic-jpegs")
    payloads = [p.read_bytes() for p in paths]
    device = args.device
    backends = ("torch",) if device.startswith("cuda") else ("torch", "onnxruntime")
    batches = tuple(args.speciesnet_batches or (args.batch,))
    seconds = 4.0 if args.quick else 10.0
    started = time.perf_counter()
    rates = pipeline_rates(
        folder,
        payloads,
        backends=backends,
        device=device,
        threads=args.threads,
        batches=batches,
        seconds=seconds,
        wait_ms=args.wait_ms,
        fp16=args.fp16,
    )
    print(f"# speciesnet {folder} on {device} (torch {torch.__version__}, threads {args.threads}), {len(paths)} JPEGs")
    print("| backend | max batch | pipeline img/s | mean batch |")
    print("|---|---|---|---|")
    for (backend, batch), (img_s, mean_batch) in rates.items():
        print(f"| {backend} | {batch} | {img_s:.2f} | {mean_batch:.1f} |")
    if len(backends) > 1:
        best = {b: max(r for (backend, _), (r, _) in rates.items() if backend == b) for b in backends}
        faster = max(best, key=best.get)
        print(
            f"# faster on {device}: {faster} ({best[faster]:.2f} vs "
            + ", ".join(f"{b} {r:.2f}" for b, r in best.items())
            + " img/s)"
        )
    print(f"# measured in {time.perf_counter() - started:.0f} s")
    return 0
