"""The one image loader: allow-listed formats, bounded decode, upright RGB, typed failures."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "MPO", "HEIF"})
DEFAULT_MAX_PIXELS = 50_000_000

IMAGE_CORRUPT = "image_corrupt"
IMAGE_TOO_LARGE = "image_too_large"
UNSUPPORTED_FORMAT = "unsupported_format"

try:  # HEIC from phones, when pillow-heif is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - optional
    pass


class ImageError(Exception):
    """A photo that cannot be used; `code` is the machine-readable reason."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def _open(source: bytes | str | Path) -> Image.Image:
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        return Image.open(fp)
    except UnidentifiedImageError as exc:
        raise ImageError(UNSUPPORTED_FORMAT, "not an image in an accepted format (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(IMAGE_TOO_LARGE, str(exc)) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(IMAGE_CORRUPT, f"unreadable image header: {exc}") from exc


def _check(img: Image.Image, max_pixels: int) -> ImageInfo:
    if img.format not in ALLOWED_FORMATS:
        raise ImageError(UNSUPPORTED_FORMAT, f"format {img.format} is not accepted")
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageError(IMAGE_CORRUPT, "image has no pixels")
    if width * height > max_pixels:
        raise ImageError(IMAGE_TOO_LARGE, f"{width}x{height} exceeds the limit of {max_pixels} pixels")
    return ImageInfo(format=img.format, width=width, height=height)


def inspect_image(source: bytes | str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read only the header: format and size, checked against the allow-list and the pixel ceiling."""
    with _open(source) as img:
        return _check(img, max_pixels)


def load_rgb(source: bytes | str | Path, *, target_size: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode a photo into an upright 8-bit RGB image.

    `target_size` lets JPEG decode at a reduced scale (Pillow `draft`) when the result is only
    needed at about that size on its short side. Raises ImageError with a typed code.
    """
    img = _open(source)
    try:
        _check(img, max_pixels)
        if target_size and img.format in ("JPEG", "MPO"):
            # DCT scaling: decode at the smallest 1/2^k scale still >= target on the short side.
            scale = min(img.size) / target_size
            if scale >= 2:
                img.draft("RGB", (max(1, int(img.size[0] / scale)), max(1, int(img.size[1] / scale))))
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.seek(0)  # first frame of animations
            img.load()
        upright = ImageOps.exif_transpose(img)
        rgb = _to_rgb(upright)
        return rgb.copy() if rgb is img else rgb
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(IMAGE_TOO_LARGE, str(exc)) from exc
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError) as exc:
        raise ImageError(IMAGE_CORRUPT, f"the image data is damaged or truncated: {exc}") from exc
    finally:
        img.close()


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit greyscale: scale to the image's own range instead of clipping to white.
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = np.zeros_like(arr) if hi <= lo else (arr - lo) * (255.0 / (hi - lo))
        return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64))
        lo, hi = float(arr.min()), float(arr.max())
        arr = np.zeros_like(arr) if hi <= lo else (arr - lo) * (255.0 / (hi - lo))
        return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        # Composite transparency over white so hidden pixels don't show.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")
