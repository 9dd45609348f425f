"""EXIF metadata read server-side from the original photo: GPS position, its accuracy, capture time."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import datetime

from PIL import Image, UnidentifiedImageError
from PIL.ExifTags import GPS, IFD, Base


@dataclass
class PhotoMetadata:
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None  # GPSHPositioningError: the receiver's horizontal error, metres
    taken_at: datetime | None = None
    flags: list[str] = field(default_factory=list)


def _rational(value) -> float:
    try:
        if isinstance(value, tuple):
            num, den = value
            return float(num) / float(den)
        return float(value)
    except (ZeroDivisionError, TypeError, ValueError):
        return math.nan


def _dms(values, ref: str, positive: str) -> float | None:
    try:
        d, m, s = (_rational(v) for v in values)
    except (TypeError, ValueError):
        return None
    deg = d + m / 60.0 + s / 3600.0
    if not math.isfinite(deg):
        return None
    return deg if (ref or positive).upper().startswith(positive) else -deg


def _positioning_error(value, flags: list[str]) -> float | None:
    """GPSHPositioningError in metres; absent: None; zero, negative or unreadable: flagged, None."""
    if value is None:
        return None
    metres = _rational(value)
    if not math.isfinite(metres) or metres <= 0:
        flags.append("exif_gps_error_invalid")
        return None
    return metres


def read_photo_metadata(data: bytes) -> PhotoMetadata:
    """GPS (decimal degrees) and DateTimeOriginal; damaged tags are flagged, never raised."""
    meta = PhotoMetadata()
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format == "PNG" and "exif" not in img.info:
                # PNG may keep EXIF after the pixels; Pillow's getexif() then decodes the whole image
                # to reach it (a 7000x7000 PNG: ~200 MB in the web process). Read only what precedes them.
                return meta
            exif = img.getexif()
            gps = exif.get_ifd(IFD.GPSInfo)
            sub = exif.get_ifd(IFD.Exif)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return meta
    except Exception:  # noqa: BLE001 - Pillow raises assorted errors on hostile EXIF
        meta.flags.append("exif_unreadable")
        return meta
    if gps and GPS.GPSLatitude in gps and GPS.GPSLongitude in gps:
        lat = _dms(gps.get(GPS.GPSLatitude), gps.get(GPS.GPSLatitudeRef, "N"), "N")
        lon = _dms(gps.get(GPS.GPSLongitude), gps.get(GPS.GPSLongitudeRef, "E"), "E")
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            meta.flags.append("exif_gps_invalid")
        else:
            meta.latitude, meta.longitude = lat, lon
            meta.accuracy_m = _positioning_error(gps.get(GPS.GPSHPositioningError), meta.flags)
    raw_time = sub.get(Base.DateTimeOriginal) or exif.get(Base.DateTime)
    if raw_time:
        try:
            meta.taken_at = datetime.strptime(str(raw_time).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            meta.flags.append("exif_time_invalid")
    return meta
