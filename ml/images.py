"""The one image loader: allow-listed formats, bounded decode, upright RGB, typed failures; and the
served copy of a photo, made from the same RGB the model sees."""

from __future__ import annotations

import io
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "MPO", "HEIF"})
DEFAULT_MAX_PIXELS = 50_000_000

# Bytes per pixel held at the peak of `load_rgb` for a photo opened in each mode: Pillow's decoded
# image (3- and 4-band images take 32 bits a pixel) plus the working copies of the way to upright
# RGB (exif_transpose, compositing transparency, rescaling 16/32-bit). A small file can declare a
# costly decode (a 155 KB PNG of 7000x7000 RGBA needs ~640 MB), so the budget is checked from the
# header, before any pixel is decoded: width x height x frames x these bytes.
_RGB_PEAK_BYTES = 8  # decoded 4 + rotated copy 4
_PEAK_BYTES_PER_PIXEL = {
    "1": 6,
    "L": 6,
    "P": 6,  # 1 + 1 rotated + 4 RGB
    "RGB": _RGB_PEAK_BYTES,
    "CMYK": 12,
    "YCbCr": 12,
    "LAB": 12,
    "HSV": 12,  # 4 + 4 rotated + 4 RGB
    "RGBA": 13,
    "RGBa": 13,
    "LA": 13,
    "La": 13,
    "PA": 13,
    "P+transparency": 13,  # 4 + 4 + RGB 4 + mask 1
    "I;16": 14,
    "I;16B": 14,
    "I;16L": 14,
    "I;16N": 14,  # 2 + 2 + float32 4 + L 1 + ... + RGB 4
    "I": 18,
    "F": 18,
}

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
    decode_bytes: int = 0  # the memory decoding it to RGB takes at its peak (see _PEAK_BYTES_PER_PIXEL)


def decode_budget(max_pixels: int) -> int:
    """The decode budget that goes with a pixel ceiling: any 8-bit RGB photo under the ceiling fits;
    deeper, transparent or animated images fit only when smaller."""
    return max_pixels * _RGB_PEAK_BYTES


def decode_bytes(img: Image.Image) -> int:
    """The peak memory `load_rgb` needs for this opened (not yet decoded) image: pixels x bytes per
    pixel for its mode and bit depth x frames (every frame counts: a format may decode them all)."""
    mode = "P+transparency" if img.mode == "P" and "transparency" in img.info else img.mode
    per_pixel = _PEAK_BYTES_PER_PIXEL.get(mode, max(_PEAK_BYTES_PER_PIXEL.values()))
    frames = max(1, getattr(img, "n_frames", 1))
    return img.size[0] * img.size[1] * frames * per_pixel


def _open(source: bytes | str | Path) -> Image.Image:
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        return Image.open(fp)
    except UnidentifiedImageError as exc:
        raise ImageError(
            UNSUPPORTED_FORMAT, "not an image in an accepted format (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC)"
        ) from exc
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
    try:
        cost = decode_bytes(img)
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError) as exc:  # counting frames reads on
        raise ImageError(IMAGE_CORRUPT, f"the image data is damaged or truncated: {exc}") from exc
    budget = decode_budget(max_pixels)
    if cost > budget:
        raise ImageError(
            IMAGE_TOO_LARGE,
            f"{width}x{height} {img.mode} x {getattr(img, 'n_frames', 1)} frame(s) needs {cost // 2**20} MB to decode, "
            f"over the budget of {budget // 2**20} MB",
        )
    return ImageInfo(format=img.format, width=width, height=height, decode_bytes=cost)


class DecodeBudget:
    """The bytes of decoding in flight in this process, bounded: a worker's task threads decode in
    parallel, and six 7000x7000 photos at once took one to 2.8 GB. A decode waits while others hold
    the budget; one alone always proceeds (each is already under the per-image budget)."""

    def __init__(self):
        self._changed = threading.Condition()
        self.in_flight = 0

    @contextmanager
    def reserve(self, nbytes: int, *, limit: int):
        with self._changed:
            self._changed.wait_for(lambda: self.in_flight == 0 or self.in_flight + nbytes <= limit)
            self.in_flight += nbytes
        try:
            yield
        finally:
            with self._changed:
                self.in_flight -= nbytes
                self._changed.notify_all()


_decoding = DecodeBudget()


def inspect_image(source: bytes | str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Read only the header: format and size, checked against the allow-list and the pixel ceiling."""
    with _open(source) as img:
        return _check(img, max_pixels)


def load_rgb(
    source: bytes | str | Path, *, target_size: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image.Image:
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
        # What this decode costs once drafted; the process's threads share one budget for it.
        with _decoding.reserve(decode_bytes(img), limit=decode_budget(max_pixels)):
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
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16/32-bit greyscale: scale to the image's own range instead of clipping to white
        # (float32, in place: the decode budget counts 4 bytes a pixel for it).
        arr = np.nan_to_num(np.asarray(img, dtype=np.float32), copy=False)
        lo, hi = float(arr.min()), float(arr.max())
        if hi <= lo:
            arr[...] = 0
        else:
            arr -= lo
            arr *= 255.0 / (hi - lo)
        return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in img.info):
        # Composite transparency over white so hidden pixels don't show (the served copy too).
        rgba = img if mode == "RGBA" else img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def served_jpeg(
    source: bytes | str | Path, *, max_side: int, max_pixels: int = DEFAULT_MAX_PIXELS, quality: int = 85
) -> bytes:
    """The copy of a photo that is shown to people: upright, the same RGB the model sees (`load_rgb`:
    transparency over white, 16-bit scaled), at most `max_side` on its long side, with no EXIF, XMP,
    ICC, comment or trailer (GPS, camera serial, a motion photo's video) riding along. Raises ImageError.

    A JPEG that is already upright 8-bit RGB or grey and small enough (what the app sends) keeps its
    compressed pixels, only its metadata segments are left out: the same pixels in 0.4 ms instead of
    a decode and re-encode (14 ms of the worker per 1600 px photo, about what the model costs).
    Anything else is decoded and re-encoded from the pixels alone."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    info = inspect_image(data, max_pixels)
    if info.format == "JPEG" and max(info.width, info.height) <= max_side and _upright_rgb(data):
        stripped = jpeg_without_metadata(data)
        if stripped is not None:
            return stripped
    # JPEG decodes at a reduced scale when the result is small anyway (draft targets the short side).
    short_side_target = max(1, max_side * min(info.width, info.height) // max(info.width, info.height))
    image = load_rgb(data, target_size=short_side_target, max_pixels=max_pixels)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    clean = Image.frombytes("RGB", image.size, image.tobytes())
    buf = io.BytesIO()
    clean.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _upright_rgb(data: bytes) -> bool:
    """8-bit RGB or grey with no rotation to apply (read from the header, nothing decoded)."""
    with _open(data) as img:
        return img.mode in ("RGB", "L") and img.getexif().get(ExifTags.Base.Orientation, 1) == 1


_JFIF_APP0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"  # no thumbnail
_APP0, _APP14, _COM, _SOS, _EOI = 0xE0, 0xEE, 0xFE, 0xDA, 0xD9
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field


def jpeg_without_metadata(data: bytes) -> bytes | None:
    """The JPEG's compressed image (frame, tables, scans) with every metadata segment left out:
    APP1-APP13 and APP15 (EXIF with GPS and thumbnail, XMP, ICC, MPF, maker notes), comments, and
    anything after the end-of-image marker. APP0 becomes a bare JFIF header (no thumbnail); APP14
    (Adobe: how the colours are coded) stays. None when the data is not a marker sequence this
    reads to its end: the caller re-encodes instead. (piexif.remove drops only the EXIF segment, and
    jpegtran -copy none is a system binary: hence these few lines.)"""
    if data[:2] != b"\xff\xd8":
        return None
    out, i, n = [b"\xff\xd8"], 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            return None
        while i < n and data[i] == 0xFF:  # fill bytes before a marker
            i += 1
        if i >= n:
            return None
        marker = data[i]
        i += 1
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)
        if marker in _STANDALONE:
            return None  # not between segments in a well-formed file
        if i + 2 > n:
            return None
        length = int.from_bytes(data[i : i + 2], "big")
        end = i + length
        if length < 2 or end > n:
            return None
        if marker == _SOS:  # the scan header, then entropy-coded data up to the next marker
            scan_end = _next_marker(data, end)
            if scan_end is None:
                return None
            out.append(bytes((0xFF, marker)) + data[i:scan_end])
            i = scan_end
            continue
        if marker == _APP0:
            if data[i + 2 : i + 7] == b"JFIF\x00" and len(out) == 1:
                out.append(_JFIF_APP0)
        elif marker == _APP14 or not (0xE1 <= marker <= 0xEF or marker == _COM):
            out.append(bytes((0xFF, marker)) + data[i:end])
        i = end
    return None


def _next_marker(data: bytes, start: int) -> int | None:
    """Where the entropy-coded data that begins at `start` ends: the next 0xFF that is neither a
    stuffed byte (FF 00), a restart marker (FF D0-D7) nor fill (FF FF). None if the data ends first."""
    j = data.find(b"\xff", start)
    while 0 <= j < len(data) - 1:
        follower = data[j + 1]
        if follower == 0x00 or 0xD0 <= follower <= 0xD7:
            j = data.find(b"\xff", j + 2)
        elif follower == 0xFF:
            j += 1
        else:
            return j
    return None
