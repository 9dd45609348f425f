"""The served copy of an app photo keeps its compressed pixels and loses every metadata segment
(docs/reliability.md W2): what is shown is what the model saw, and nothing of the original's
EXIF GPS, XMP, ICC profile, comments, thumbnails or trailing data (a motion photo's video) rides along."""

import io

import numpy as np
import pytest
from PIL import Image

from ml.images import jpeg_without_metadata, load_rgb, served_jpeg
from tests.conftest import shared_path

GPS_IFD = 0x8825


def _noise(size=(320, 240), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _loaded_jpeg(**save) -> bytes:
    """A phone-like JPEG with everything a served copy must not carry."""
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker-Serial-42"
    exif.get_ifd(GPS_IFD).update({1: "S", 2: (2.0, 19.0, 48.0), 3: "E", 4: (34.0, 49.0, 48.0)})
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>exif:GPSLatitude="2,19.8S"</rdf:RDF></x:xmpmeta>'
    buf = io.BytesIO()
    _noise().save(
        buf,
        "JPEG",
        quality=85,
        exif=exif.tobytes(),
        icc_profile=b"ICC-PROFILE-BYTES" * 8,
        comment=b"shot at home",
        xmp=xmp,
        **save,
    )
    return buf.getvalue() + b"ftypmp4 motion photo video with its own GPS"


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_w2_app_photo_keeps_its_pixels_and_loses_gps_xmp_icc_comment_and_trailer(progressive):
    photo = _loaded_jpeg(progressive=progressive, restart_marker_blocks=4 if not progressive else 0)
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(GPS_IFD)  # the input really has a position

    served = served_jpeg(photo, max_side=2048)

    image = Image.open(io.BytesIO(served))
    assert not image.getexif() and not image.getexif().get_ifd(GPS_IFD)
    assert "icc_profile" not in image.info and "xmp" not in image.info and "comment" not in image.info
    for leak in (b"Exif", b"CameraMaker", b"xmpmeta", b"ICC-PROFILE", b"shot at home", b"motion photo"):
        assert leak not in served, leak
    assert served.endswith(b"\xff\xd9")
    # The very pixels the model decodes: no second lossy encode.
    assert np.array_equal(np.asarray(load_rgb(served)), np.asarray(load_rgb(photo)))


def test_w2_rotated_large_or_odd_jpegs_are_re_encoded_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # a browser would rotate it; with the EXIF gone, the pixels themselves must be upright
    buf = io.BytesIO()
    _noise((320, 240)).save(buf, "JPEG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(served_jpeg(buf.getvalue(), max_side=2048))).size == (240, 320)

    big = io.BytesIO()
    _noise((3000, 2000)).save(big, "JPEG")
    assert max(Image.open(io.BytesIO(served_jpeg(big.getvalue(), max_side=2048))).size) == 2048

    cmyk = io.BytesIO()
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(cmyk, "JPEG")
    assert Image.open(io.BytesIO(served_jpeg(cmyk.getvalue(), max_side=2048))).mode == "RGB"


@pytest.mark.parametrize(
    "data",
    [b"not a jpeg", b"\xff\xd8\xff\xe1\x00", b"\xff\xd8\xff\xdb\x00\x04\x00", b"\xff\xd8\xff\xda\x00\x02\x12\x34"],
    ids=["not-jpeg", "cut-in-a-length", "cut-in-a-segment", "scan-never-ends"],
)
def test_w2_stripper_refuses_what_it_cannot_read_to_its_end(data):
    assert jpeg_without_metadata(data) is None  # the caller then decodes and re-encodes (or reports corrupt)


def test_w2_real_camera_frames_strip_losslessly():
    photos = shared_path("photos")
    frames = sorted(photos.rglob("*.jpg"))[:5] + sorted(photos.rglob("*.JPG"))[:5]
    assert frames, f"no JPEGs under {photos}"
    for frame in frames:
        data = frame.read_bytes()
        stripped = jpeg_without_metadata(data)
        assert stripped is not None, frame
        assert b"Exif" not in stripped and not Image.open(io.BytesIO(stripped)).getexif()
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(stripped))), np.asarray(Image.open(frame))), frame
