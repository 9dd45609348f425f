"""A model folder in SpeciesNet's published format, made here because the real weights cannot be
downloaded on this machine: info.json, the real 2,498-line labels file, and a whole torch module of
standard layers saved with `torch.save` that accepts only float32 NHWC 480 x 480 input (a
channels-first or otherwise sized input fails, as with the real classifier).

    python bench/speciesnet_stand_in.py OUT_DIR [--prefer 'african elephant=6' ...]

`prefer` sets the logits the module returns for every photo (by common name, the last field of a
label): the tests know which taxon the weights were made to prefer.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LABELS = REPO.parent / "shared" / "data" / "speciesnet" / "always_crop_99710272_22x8_v12_epoch_00148.labels.txt"
LABELS_NAME = "labels.txt"
CLASSIFIER_NAME = "classifier.pt"


def stand_in_module(num_labels: int, logits: dict[int, float], width: int = 8):
    """Permute NHWC -> NCHW, a 32 x 32 stride-32 convolution (3 input channels: channels-last only),
    flatten (15 x 15 positions: 480 x 480 only), a linear head. The head's weights are zero and its
    bias holds `logits`, so every photo gets the same answer."""
    import torch
    from torch import nn
    from torchvision.ops import Permute

    torch.manual_seed(0)
    side = 480 // 32
    model = nn.Sequential(
        Permute([0, 3, 1, 2]),
        nn.Conv2d(3, width, kernel_size=32, stride=32),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(width * side * side, num_labels),
    )
    with torch.no_grad():
        model[-1].weight.zero_()
        model[-1].bias.zero_()
        for index, value in logits.items():
            model[-1].bias[index] = value
    return model.eval()


def v2m_stand_in(num_labels: int, logits: dict[int, float]):
    """SpeciesNet v4's compute: torchvision's EfficientNet-V2-M (random weights) behind the same
    NHWC permute, 2,498 outputs; the head's bias holds `logits` on top of the random features."""
    import torch
    from torch import nn
    from torchvision.models import efficientnet_v2_m
    from torchvision.ops import Permute

    torch.manual_seed(0)
    backbone = efficientnet_v2_m(weights=None, num_classes=num_labels)
    with torch.no_grad():
        head = backbone.classifier[-1]
        head.weight.mul_(0.01)
        head.bias.zero_()
        for index, value in logits.items():
            head.bias[index] = value
    return nn.Sequential(Permute([0, 3, 1, 2]), backbone).eval()


BACKBONES = {"tiny": stand_in_module, "v2m": v2m_stand_in}


def via_onnx2torch(model):
    """The module as the published classifiers are made: exported to ONNX, converted back with
    onnx2torch (a torch.fx GraphModule whose nodes are onnx2torch's own modules)."""
    import io
    import warnings

    import onnx
    import torch
    from onnx2torch import convert

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (torch.zeros(1, 480, 480, 3),),
            buffer,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return convert(onnx.load_from_string(buffer.getvalue())).eval()


def write_folder(
    directory: str | Path,
    prefer: dict[str, float],
    *,
    labels_file: Path = LABELS,
    model_type: str = "full_image",
    version: str = "4.0.1a-stand-in",
    num_outputs: int | None = None,
    onnx2torch: bool = False,
    backbone: str = "tiny",
) -> Path:
    """Write the folder; `prefer` maps common names (a label's last field) to logits. `num_outputs`
    other than the label count makes a labels/head mismatch (for the refusal tests). `onnx2torch`:
    save the module converted as the published ones are (see via_onnx2torch). `backbone`: "tiny"
    (fast tests) or "v2m" (SpeciesNet's size, for the benchmarks)."""
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    labels = [line.strip() for line in labels_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_common = {label.rsplit(";", 1)[-1]: i for i, label in enumerate(labels)}
    unknown = sorted(set(prefer) - set(by_common))
    if unknown:
        raise ValueError(f"no label with the common name {', '.join(unknown)}")
    logits = {by_common[name]: value for name, value in prefer.items()}
    model = BACKBONES[backbone](num_outputs or len(labels), logits)
    if onnx2torch:
        model = via_onnx2torch(model)
    torch.save(model, directory / CLASSIFIER_NAME)
    shutil.copyfile(labels_file, directory / LABELS_NAME)
    info = {
        "version": version,
        "type": model_type,
        "classifier": CLASSIFIER_NAME,
        "classifier_labels": LABELS_NAME,
        "detector": "https://github.com/agentmorris/MegaDetector/releases/download/v5.0/md_v5a.0.0.pt",
        "taxonomy": "taxonomy_release.txt",
        "geofence": "geofence_release.json",
    }
    (directory / "info.json").write_text(json.dumps(info, indent=1))
    return directory


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--prefer", action="append", default=[], help="COMMON NAME=LOGIT (repeatable)")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--onnx2torch", action="store_true", help="convert as the published classifiers are")
    parser.add_argument("--backbone", choices=sorted(BACKBONES), default="tiny")
    args = parser.parse_args(argv)
    prefer = {name: float(value) for name, value in (p.rsplit("=", 1) for p in args.prefer)}
    print(
        write_folder(args.out, prefer or {"african elephant": 6.0}, labels_file=args.labels, onnx2torch=args.onnx2torch)
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
