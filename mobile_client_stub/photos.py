"""On-device photo handling, as phone apps do it: read EXIF GPS and time, downsize, strip EXIF."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PIL import Image, ImageOps

try:  # HEIC straight from an iPhone; the server accepts it too.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is in requirements.txt
    pass

DEFAULT_LONG_SIDE = 1600
DEFAULT_QUALITY = 85

_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_OFFSET_TIME_ORIGINAL = 36881
_DATETIME = 306


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


def _ratio(value) -> float:
    # Pillow gives IFDRational (float-able) or (num, den) pairs depending on how the tag was written.
    if isinstance(value, tuple):
        num, den = value
        return num / den if den else 0.0
    return float(value)


def _dms_to_degrees(dms, ref) -> float | None:
    try:
        degrees, minutes, seconds = (_ratio(part) for part in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    if str(ref).strip().upper() in ("S", "W"):
        value = -value
    return value


def _parse_exif_time(raw, offset) -> datetime | None:
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "ignore")
    if not raw:
        return None
    try:
        moment = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "ignore")
    if offset and len(str(offset).strip()) >= 6:
        text = str(offset).strip()
        sign = -1 if text[0] == "-" else 1
        try:
            hours, minutes = int(text[1:3]), int(text[4:6])
            return moment.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
        except ValueError:
            pass
    # EXIF without OffsetTimeOriginal is camera-local time; the phone's own zone is the best guess.
    return moment.astimezone()


def read_meta(image: Image.Image) -> PhotoMeta:
    """GPS position and capture time from the photo's EXIF, each None when absent or unreadable."""
    exif = image.getexif()
    latitude = longitude = None
    gps = exif.get_ifd(_GPS_IFD)
    if gps and 2 in gps and 4 in gps:
        latitude = _dms_to_degrees(gps[2], gps.get(1, "N"))
        longitude = _dms_to_degrees(gps[4], gps.get(3, "E"))
        if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            latitude = longitude = None
    details = exif.get_ifd(_EXIF_IFD)
    observed_at = _parse_exif_time(details.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME), details.get(_OFFSET_TIME_ORIGINAL))
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
