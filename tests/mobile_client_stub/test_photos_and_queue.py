"""On-device photo preparation (EXIF read, downsizing, stripping) and the offline queue's files."""

import io
import stat
from datetime import datetime, timedelta, timezone

import piexif
from PIL import Image

from mobile_client_stub.photos import prepare_photo
from mobile_client_stub.queue import Config, OfflineQueue
from tests.mobile_client_stub.conftest import gps_tagged_copy


def _jpeg(path, size=(3000, 2000)):
    Image.new("RGB", size, (90, 140, 60)).save(path, "JPEG")
    return path


def test_prepare_reads_gps_and_time_then_downsizes_and_strips_exif(tmp_path):
    tagged = gps_tagged_copy(
        _jpeg(tmp_path / "src.jpg"), tmp_path / "tagged.jpg", -33.8568, 151.2153, "2024:05:01 07:30:00", "+10:00"
    )
    prepared = prepare_photo(tagged, long_side=800)
    assert abs(prepared.meta.latitude + 33.8568) < 1e-4 and abs(prepared.meta.longitude - 151.2153) < 1e-4
    assert prepared.meta.observed_at == datetime(2024, 5, 1, 7, 30, tzinfo=timezone(timedelta(hours=10)))
    sent = Image.open(io.BytesIO(prepared.data))
    assert sent.format == "JPEG" and max(sent.size) == 800 and sent.size == (800, 533)
    assert len(sent.getexif()) == 0 and "exif" not in sent.info  # the location left only as form fields


def test_prepare_never_upscales_and_handles_no_exif(tmp_path):
    prepared = prepare_photo(_jpeg(tmp_path / "small.jpg", (640, 480)), long_side=1600)
    assert (prepared.width, prepared.height) == (640, 480)
    assert prepared.meta.latitude is None and prepared.meta.observed_at is None


def test_config_and_queue_files_are_private_and_survive_a_resend(tmp_path):
    config = Config(tmp_path / "cfg" / "config.json")
    config.save(server="http://x", token="secret")
    assert stat.S_IMODE(config.path.stat().st_mode) == 0o600
    assert Config(config.path).get("token") == "secret"

    queue = OfflineQueue(tmp_path / "queue")
    first = queue.add(
        b"jpeg-1",
        filename="a.jpg",
        source_path="a.jpg",
        latitude=1.0,
        longitude=2.0,
        observed_at=None,
        location_source="typed",
    )
    second = queue.add(
        b"jpeg-2",
        filename="b.jpg",
        source_path="b.jpg",
        latitude=None,
        longitude=None,
        observed_at=None,
        location_source="none",
        idempotency_key="already-used",
    )
    items = queue.items()
    assert [i.id for i in items] == [first.id, second.id]  # capture order
    assert items[1].idempotency_key == "already-used" and queue.photo(items[0]) == b"jpeg-1"
    assert stat.S_IMODE((queue.root / first.id / "photo.jpg").stat().st_mode) == 0o600
    queue.remove(items[0])
    parked = queue.park_failed(items[1])
    assert queue.items() == [] and (parked / "item.json").exists()
    assert not [p for p in queue.root.iterdir() if p.name.startswith(".")]  # no leftovers


def test_western_longitude_and_no_offset_time(tmp_path):
    tagged = gps_tagged_copy(
        _jpeg(tmp_path / "src.jpg", (64, 48)), tmp_path / "florida.jpg", 27.5, -81.5, "2024:05:01 07:30:00", ""
    )
    meta = prepare_photo(tagged).meta
    assert abs(meta.latitude - 27.5) < 1e-4 and abs(meta.longitude + 81.5) < 1e-4
    # Without OffsetTimeOriginal the camera's time is local: read in this device's zone.
    assert meta.observed_at == datetime(2024, 5, 1, 7, 30).astimezone()


def test_gps_with_a_zero_denominator_is_no_position(tmp_path):
    """A damaged GPS tag gives no position, never a crash or a wrong point."""
    src = _jpeg(tmp_path / "src.jpg", (64, 48))
    gps = {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: ((50, 0), (41, 1), (0, 1)),
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: ((4, 1), (0, 1), (46, 1)),
    }
    piexif.insert(piexif.dump({"GPS": gps}), str(src))
    meta = prepare_photo(src).meta
    assert meta.latitude is None and meta.longitude is None
