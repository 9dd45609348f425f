"""Training throughput on this machine: images/s and epoch time for EfficientNet-Lite0 and ResNet50.

    python bench/train.py [--archs efficientnet_lite0 resnet50] [--batch-size 16] [--iters 5] [--epoch-images 37]

A fixed synthetic batch (seeded) at each arch's serving size, full fine-tuning (all layers trainable,
AdamW), after one warm-up step; plus the input pipeline (decode once, then Preprocessing.train_array
per image, as train_classifier does) on real photos under ../shared/data when present. The epoch time
is the model step time plus the pipeline time for --epoch-images images (num_workers=0, as training).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def model_images_per_second(arch: str, batch_size: int, iters: int, frozen: bool) -> float:
    import torch

    from ml.training.train import head_parameters
    from ml.zoo import build_model, spec

    torch.manual_seed(0)
    size = spec(arch).preprocessing.input_size
    model = build_model(arch, 20, pretrained="none").train()
    if frozen:
        head = head_parameters(model)
        for p in model.parameters():
            p.requires_grad_(id(p) in head)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    x = torch.randn(batch_size, 3, size, size)
    y = torch.randint(0, 20, (batch_size,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    step()  # warm-up
    started = time.perf_counter()
    for _ in range(iters):
        step()
    return batch_size * iters / (time.perf_counter() - started)


def pipeline_images_per_second(arch: str, photos: list[Path]) -> float | None:
    from ml.images import load_rgb
    from ml.zoo import spec

    if not photos:
        return None
    prep = spec(arch).preprocessing
    decoded = [load_rgb(p, target_size=prep.resize_size) for p in photos]
    rng = random.Random(0)
    started = time.perf_counter()
    for img in decoded:
        prep.train_array(img, rng)
    return len(decoded) / (time.perf_counter() - started)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["efficientnet_lite0", "resnet50"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--epoch-images", type=int, default=37, help="images per epoch for the epoch-time estimate")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import torch

    labelled = REPO.parent / "shared" / "data" / "photos" / "lila_camera_trap_samples" / "snapshot_serengeti_labeled"
    photos = sorted(p for p in labelled.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    rows = []
    for arch in args.archs:
        unfrozen = model_images_per_second(arch, args.batch_size, args.iters, frozen=False)
        frozen = model_images_per_second(arch, args.batch_size, args.iters, frozen=True)
        pipeline = pipeline_images_per_second(arch, photos)
        epoch = args.epoch_images / unfrozen + (args.epoch_images / pipeline if pipeline else 0.0)
        rows.append(
            {
                "arch": arch,
                "batch_size": args.batch_size,
                "threads": torch.get_num_threads(),
                "train_images_per_s_unfrozen": round(unfrozen, 2),
                "train_images_per_s_frozen_body": round(frozen, 2),
                "pipeline_images_per_s": round(pipeline, 1) if pipeline else None,
                f"epoch_s_{args.epoch_images}_images_unfrozen": round(epoch, 2),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for row in rows:
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
