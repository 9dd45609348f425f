"""The image loader on the format matrix and on hostile input (docs/reliability.md R1, R2, R4, R26)."""

import io

import numpy as np
import pytest
from PIL import Image

from ml.images import IMAGE_CORRUPT, IMAGE_TOO_LARGE, UNSUPPORTED_FORMAT, ImageError, inspect_image, load_rgb
from ml.transforms import Preprocessing
from tests.conftest import shared_path


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def gradient(mode="RGB", size=(40, 30)):
    arr = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3).astype(np.uint8)
    return Image.fromarray(arr).convert(mode)


def _16bit_png() -> bytes:
    arr = (np.arange(40 * 30, dtype=np.uint16).reshape(30, 40) * 50).astype(np.uint16)
    return encode(Image.fromarray(arr), "PNG")


def _palette_with_transparency() -> bytes:
    img = gradient().convert("P")
    return encode(img, "PNG", transparency=0)


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (20, 20), c) for c in [(255, 0, 0), (0, 255, 0)]]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


FORMATS = {
    "cmyk_jpeg": lambda: encode(gradient("CMYK"), "JPEG"),
    "greyscale_L": lambda: encode(gradient("L"), "PNG"),
    "one_bit": lambda: encode(gradient("1"), "PNG"),
    "palette_transparency": _palette_with_transparency,
    "rgba_png": lambda: encode(gradient("RGBA"), "PNG"),
    "sixteen_bit_png": _16bit_png,
    "sixteen_bit_tiff": lambda: encode(
        Image.fromarray((np.arange(1200, dtype=np.uint16).reshape(30, 40) * 40)), "TIFF"
    ),
    "animated_gif": _animated_gif,
    "one_by_one": lambda: encode(Image.new("RGB", (1, 1), (10, 200, 30)), "PNG"),
    "very_wide": lambda: encode(Image.new("RGB", (10000, 50), (10, 200, 30)), "PNG"),
    "webp": lambda: encode(gradient(), "WEBP"),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_r26_format_matrix_gives_finite_tensor(name):
    img = load_rgb(FORMATS[name]())
    assert img.mode == "RGB"
    arr = Preprocessing(input_size=32).to_array(img)
    assert arr.shape == (3, 32, 32) and np.isfinite(arr).all()


def test_r26_sixteen_bit_is_scaled_not_white():
    arr = np.asarray(load_rgb(_16bit_png()))
    assert arr.min() < 50 and arr.max() > 200  # the full range survives


def test_r26_exif_orientation_is_applied():
    img = gradient(size=(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    assert load_rgb(encode(img, "JPEG", exif=exif.tobytes())).size == (20, 40)


def test_r01_truncated_jpeg_is_corrupt():
    data = encode(gradient(size=(400, 300)), "JPEG")[:600]
    with pytest.raises(ImageError) as err:
        load_rgb(data)
    assert err.value.code == IMAGE_CORRUPT


def test_r01_real_truncated_camera_trap_photo():
    data = shared_path("photos", "speciesnet_test_images", "african_elephants_truncated_file.jpg").read_bytes()
    with pytest.raises(ImageError) as err:
        load_rgb(data)
    assert err.value.code == IMAGE_CORRUPT


def test_r02_decompression_bomb_refused_from_header():
    bomb = encode(Image.new("1", (20000, 20000)), "PNG")
    assert len(bomb) < 1_000_000
    for call in (inspect_image, load_rgb):
        with pytest.raises(ImageError) as err:
            call(bomb, max_pixels=50_000_000)
        assert err.value.code == IMAGE_TOO_LARGE


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\x01random bytes that are not an image" * 10,
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
        b"8BPS\x00\x01" + b"\x00" * 40,  # PSD header
    ],
    ids=["random", "eps", "svg", "psd"],
)
def test_r04_unsupported_formats(payload):
    with pytest.raises(ImageError) as err:
        load_rgb(payload)
    assert err.value.code == UNSUPPORTED_FORMAT


def test_draft_decodes_large_jpeg_smaller_but_upright():
    photo = shared_path("photos", "speciesnet_test_images", "african_elephants.jpg").read_bytes()
    full = load_rgb(photo)
    small = load_rgb(photo, target_size=256)
    assert full.size == (2048, 1536)
    assert min(small.size) >= 256 and small.size[0] < full.size[0]


def test_real_cmyk_and_rotated_photos_load():
    for name in [
        "african_elephants_cmyk.jpg",
        "african_elephants_bw.jpg",
        "african_elephants_with_exif_orientation.jpg",
    ]:
        img = load_rgb(shared_path("photos", "speciesnet_test_images", name).read_bytes(), target_size=256)
        assert img.mode == "RGB"


def test_heic_from_phones_loads_when_pillow_heif_is_installed():
    pytest.importorskip("pillow_heif")
    data = encode(gradient(size=(64, 48)), "HEIF")
    assert inspect_image(data).format == "HEIF"
    img = load_rgb(data)
    assert img.mode == "RGB" and img.size == (64, 48)
