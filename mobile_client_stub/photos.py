"""On-device photo handling, as phone apps do it: read EXIF GPS and time, downsize, strip EXIF."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps
from PIL.ExifTags import GPS, IFD, Base

try:  # HEIC straight from an iPhone; the server accepts it too.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is in requirements.txt
    pass

DEFAULT_LONG_SIDE = 1600
DEFAULT_QUALITY = 85


@dataclass(frozen=True)
class PhotoMeta:
    latitude: float | None
    longitude: float | None
    observed_at: datetime | None


@dataclass(frozen=True)
class PreparedPhoto:
    """What the phone sends: re-encoded JPEG bytes with no metadata, and the metadata as fields."""

    data: bytes
    filename: str
    width: int
    height: int
    meta: PhotoMeta


def _signed_degrees(dms, ref, negative: str) -> float | None:
    """Pillow's (degrees, minutes, seconds) rationals and the N/S or E/W reference as decimal
    degrees; None when absent or unusable (a zero denominator reads as NaN)."""
    try:
        value = sum(float(part) / 60**i for i, part in enumerate(dms))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(value):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    return -value if str(ref).strip().upper() == negative else value


def _exif_time(raw, offset) -> datetime | None:
    """DateTimeOriginal with OffsetTimeOriginal when the camera wrote one; without it EXIF time is
    camera-local, and the phone's own zone is the best guess."""
    if not isinstance(raw, str) or not raw.strip("\x00 "):
        return None
    raw = raw.strip("\x00 ")
    if isinstance(offset, str) and offset.strip("\x00 "):
        try:
            return datetime.strptime(raw + offset.strip("\x00 "), "%Y:%m:%d %H:%M:%S%z")
        except ValueError:
            pass
    try:
        return datetime.strptime(raw, "%Y:%m:%d %H:%M:%S").astimezone()
    except ValueError:
        return None


def read_meta(image: Image.Image) -> PhotoMeta:
    """GPS position and capture time from the photo's EXIF (Pillow's IFD reader), each None when
    absent or unreadable."""
    exif = image.getexif()
    gps = exif.get_ifd(IFD.GPSInfo)
    latitude = _signed_degrees(gps.get(GPS.GPSLatitude), gps.get(GPS.GPSLatitudeRef), negative="S")
    longitude = _signed_degrees(gps.get(GPS.GPSLongitude), gps.get(GPS.GPSLongitudeRef), negative="W")
    if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        latitude = longitude = None
    details = exif.get_ifd(IFD.Exif)
    observed_at = _exif_time(
        details.get(Base.DateTimeOriginal) or exif.get(Base.DateTime), details.get(Base.OffsetTimeOriginal)
    )
    return PhotoMeta(latitude, longitude, observed_at)


def prepare_photo(path: Path, *, long_side: int = DEFAULT_LONG_SIDE, quality: int = DEFAULT_QUALITY) -> PreparedPhoto:
    """Read metadata, then downsize (never upscale), apply the EXIF orientation and re-encode as a
    JPEG with no EXIF, so the bytes that leave the device carry no location: it goes in form fields."""
    path = Path(path)
    with Image.open(path) as image:
        meta = read_meta(image)
        image.draft("RGB", (long_side, long_side))  # JPEG: decode at a reduced scale, like phones do
        image = ImageOps.exif_transpose(image)
        if image.mode not in ("RGB", "L"):
            background = Image.new("RGB", image.size, "white")
            rgba = image.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            image = background
        image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=quality, optimize=True)  # no exif= → none written
        width, height = image.size
    return PreparedPhoto(out.getvalue(), f"{path.stem}.jpg", width, height, meta)
