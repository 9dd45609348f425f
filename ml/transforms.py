"""Preprocessing, defined once: used by serving, training, evaluation and the benchmarks."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Preprocessing:
    """Resize the short side, centre-crop a square, scale to [0,1], normalise per channel."""

    input_size: int = 224
    crop_pct: float = 0.875
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bicubic"

    @property
    def resize_size(self) -> int:
        return int(round(self.input_size / self.crop_pct))

    @property
    def decode_size(self) -> int:
        """The short side a JPEG may be decoded down to (Pillow draft) before resize_crop."""
        return self.resize_size

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.input_size, self.input_size)

    @property
    def layout(self) -> str:
        return "NCHW"

    def to_dict(self) -> dict:
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessing":
        return cls(
            input_size=int(data["input_size"]),
            crop_pct=float(data.get("crop_pct", 0.875)),
            mean=tuple(data["mean"]),
            std=tuple(data["std"]),
            interpolation=data.get("interpolation", "bicubic"),
        )

    def resize_crop(self, img: Image.Image) -> Image.Image:
        """Short side to resize_size, then the centred input_size square (PIL, RGB)."""
        width, height = img.size
        scale = self.resize_size / min(width, height)
        new_size = (max(self.input_size, round(width * scale)), max(self.input_size, round(height * scale)))
        resample = Image.Resampling.BICUBIC if self.interpolation == "bicubic" else Image.Resampling.BILINEAR
        left = (new_size[0] - self.input_size) // 2
        top = (new_size[1] - self.input_size) // 2
        # Resample only the source region that lands in the crop: same pixels as resize-then-crop,
        # without paying for the margins that would be thrown away.
        sx, sy = width / new_size[0], height / new_size[1]
        box = (left * sx, top * sy, (left + self.input_size) * sx, (top + self.input_size) * sy)
        return img.resize((self.input_size, self.input_size), resample, box=box, reducing_gap=3.0)

    def to_array(self, img: Image.Image) -> np.ndarray:
        """RGB PIL image -> float32 array (3, input_size, input_size), normalised."""
        arr = np.asarray(self.resize_crop(img), dtype=np.float32) * (1.0 / 255.0)
        arr = (arr - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(arr.transpose(2, 0, 1))

    def train_array(self, img: Image.Image, rng) -> np.ndarray:
        """Training-time augmentation suited to camera traps, then the same scaling and normalisation.

        A random crop of 50-100 % of the area (aspect 3/4-4/3) resized to input_size, a horizontal flip
        (never vertical: the ground stays down), brightness/contrast jitter and occasional greyscale
        (night infrared frames). `rng` is a random.Random, so a seeded run repeats exactly.
        """
        from PIL import ImageEnhance

        width, height = img.size
        for _ in range(10):
            area = width * height * rng.uniform(0.5, 1.0)
            aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
            w, h = int(round((area * aspect) ** 0.5)), int(round((area / aspect) ** 0.5))
            if 0 < w <= width and 0 < h <= height:
                left, top = rng.randint(0, width - w), rng.randint(0, height - h)
                break
        else:
            side = min(width, height)
            w = h = side
            left, top = (width - side) // 2, (height - side) // 2
        resample = Image.Resampling.BICUBIC if self.interpolation == "bicubic" else Image.Resampling.BILINEAR
        img = img.resize((self.input_size, self.input_size), resample, box=(left, top, left + w, top + h))
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))
        img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.8, 1.2))
        if rng.random() < 0.1:
            img = img.convert("L").convert("RGB")
        arr = np.asarray(img, dtype=np.float32) * (1.0 / 255.0)
        arr = (arr - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(arr.transpose(2, 0, 1))


@dataclass(frozen=True)
class SpeciesNetPreprocessing:
    """SpeciesNet's `full_image` input, as its `speciesnet` package makes it: the top and bottom of
    the photo cropped to max(h * 0.7, h - 400) rows (centred, full width), resized to 480 x 480
    (bilinear, no antialias), rounded to 8 bits, scaled to [0, 1]; float32 NHWC, not normalised."""

    input_size: int = 480
    max_crop_ratio: float = 0.3
    max_crop_rows: int = 400
    layout: str = "NHWC"
    # The crop depends on the photo's full height (h - 400 rows), so JPEGs are decoded at full size
    # (no draft): what the model saw in training. Decode is small next to a 480-pixel forward pass.
    decode_size: None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.input_size, self.input_size, 3)

    def kept_rows(self, height: int) -> int:
        return max(int(height * (1.0 - self.max_crop_ratio)), height - self.max_crop_rows)

    def to_dict(self) -> dict:
        return {**asdict(self), "kind": "speciesnet"}

    def to_array(self, img: Image.Image) -> np.ndarray:
        """RGB PIL image -> float32 array (input_size, input_size, 3) in [0, 1]."""
        width, height = img.size
        rows = self.kept_rows(height)
        # torchvision's center_crop: the top offset rounds half the margin to the nearest row.
        top = int(round((height - rows) / 2.0))
        pixels = np.asarray(img)
        y0, y1, wy = _bilinear_taps(rows, self.input_size)
        x0, x1, wx = _bilinear_taps(width, self.input_size)
        # Separable: the needed rows first (from uint8, so the full photo is never made float).
        upper, lower = pixels[top + y0].astype(np.float32), pixels[top + y1].astype(np.float32)
        wy = wy[:, None, None]
        tall = upper * (1.0 - wy) + lower * wy
        wx = wx[None, :, None]
        x = (tall[:, x0] * (1.0 - wx) + tall[:, x1] * wx) * (1.0 / 255.0)
        # torchvision's convert_image_dtype(float -> uint8): x * (256 - eps), truncated; then / 255.
        x = np.floor(np.clip(x * (256.0 - 1e-3), 0, 255)) * (1.0 / 255.0)
        return np.ascontiguousarray(x, dtype=np.float32)


def _bilinear_taps(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of torch's bilinear resize (align_corners=False, no antialias,
    what SpeciesNet's torchvision resize does): source = max((dst + 0.5) * in / out - 0.5, 0)."""
    source = np.maximum((np.arange(size_out, dtype=np.float64) + 0.5) * (size_in / size_out) - 0.5, 0.0)
    low = source.astype(np.int64)
    high = np.minimum(low + 1, size_in - 1)
    return low, high, (source - low).astype(np.float32)
