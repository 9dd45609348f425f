"""The decode budget and the served copy (docs/reliability.md, "Worker faults and memory" W1, W5):
what a photo costs to decode is read from its header, and the copy people see is the model's RGB."""

import io
import struct

import numpy as np
import pytest
from PIL import Image

from ml.images import IMAGE_CORRUPT, IMAGE_TOO_LARGE, ImageError, decode_budget, inspect_image, load_rgb, served_jpeg


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


MAX_PIXELS = 1_000_000  # a small ceiling keeps the test images small; the rule scales with it


def test_w1_decode_budget_counts_pixels_bit_depth_and_frames():
    side = 990  # 0.98 MP: under the pixel ceiling in every case below
    rgb = encode(Image.new("RGB", (side, side), (10, 120, 30)), "PNG")
    rgba = encode(Image.new("RGBA", (side, side), (10, 120, 30, 0)), "PNG")
    sixteen_bit = encode(Image.fromarray(np.full((side, side), 40_000, dtype=np.uint16)), "PNG")
    frames = [Image.new("RGB", (side // 2, side // 2), (i * 40, 0, 0)) for i in range(6)]
    animated = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])

    assert inspect_image(rgb, MAX_PIXELS).decode_bytes <= decode_budget(
        MAX_PIXELS
    )  # 8-bit RGB under the ceiling always fits
    assert load_rgb(rgb, max_pixels=MAX_PIXELS).size == (side, side)
    for costly, what in ((rgba, "RGBA"), (sixteen_bit, "I;16"), (animated, "6 frame(s)")):
        # The file is small (a few KB) but declares a decode the budget refuses, before any pixel is decoded.
        assert len(costly) < 100_000
        for read in (lambda data: inspect_image(data, MAX_PIXELS), lambda data: load_rgb(data, max_pixels=MAX_PIXELS)):
            with pytest.raises(ImageError) as err:
                read(costly)
            assert err.value.code == IMAGE_TOO_LARGE and what in err.value.detail and "MB" in err.value.detail


def test_w1_a_real_size_phone_photo_fits_the_default_budget():
    # 48 MP (8064x6048, a current phone's sensor) in RGB: under the 50 MP ceiling, so under the budget.
    header = encode(Image.new("RGB", (8064, 6048)), "JPEG", quality=10)
    assert inspect_image(header).decode_bytes <= decode_budget(50_000_000)


def _header_only_bmp(width=4000, height=3000) -> bytes:
    """A BMP whose header promises 4000x3000 24-bit pixels and whose file ends right after it."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def test_w4_header_only_bmp_is_corrupt_for_the_served_copy_too():
    assert inspect_image(_header_only_bmp()).format == "BMP"  # the header alone passes the upload check
    with pytest.raises(ImageError) as err:
        served_jpeg(_header_only_bmp(), max_side=2048)
    assert err.value.code == IMAGE_CORRUPT


def test_w5_served_copy_composites_like_the_model_and_scales_sixteen_bit():
    # Transparent pixels hide a red square: neither the model nor the served copy may reveal it.
    hidden = Image.new("RGBA", (64, 64), (255, 0, 0, 0))
    hidden.paste((0, 0, 255, 255), (0, 0, 32, 64))  # an opaque blue half
    data = encode(hidden, "PNG")
    served = np.asarray(Image.open(io.BytesIO(served_jpeg(data, max_side=2048))).convert("RGB"), dtype=int)
    model = np.asarray(load_rgb(data), dtype=int)
    assert np.abs(served - model).mean() < 3  # only JPEG's rounding (and ringing at the edge) apart
    assert served[:, 40:].min() >= 240 and served[:, :24, 2].min() >= 230  # white where transparent, blue where opaque

    ramp = encode(Image.fromarray((np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16)), "PNG")  # 0..65520
    served16 = np.asarray(Image.open(io.BytesIO(served_jpeg(ramp, max_side=2048))).convert("L"))
    assert served16.min() < 20 and served16.max() > 230  # the full range, not all white


def test_w2_served_copy_is_bounded_upright_and_carries_no_metadata():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    exif[0x010F] = "CameraMaker-Serial-42"
    photo = encode(Image.new("RGB", (4000, 3000), (90, 140, 60)), "JPEG", exif=exif.tobytes())
    served = served_jpeg(photo, max_side=2048)
    image = Image.open(io.BytesIO(served))
    assert image.size == (1536, 2048)  # upright, long side bounded
    assert not image.getexif() and b"CameraMaker" not in served and b"Exif" not in served


def test_w1_decodes_in_flight_share_one_budget_per_process():
    import threading

    from ml.images import DecodeBudget

    budget, events = DecodeBudget(), []
    first_holds, second_tried = threading.Event(), threading.Event()

    def big(name, hold: threading.Event | None):
        with budget.reserve(300, limit=400):
            events.append(f"{name} decoding")
            if hold is not None:
                first_holds.set()
                hold.wait(5)
        events.append(f"{name} done")

    release = threading.Event()
    first = threading.Thread(target=big, args=("first", release))
    first.start()
    first_holds.wait(5)
    with budget.reserve(100, limit=400):  # a small photo still fits beside it
        events.append("small decoding")
    second = threading.Thread(target=lambda: (second_tried.set(), big("second", None)))
    second.start()
    second_tried.wait(5)
    second.join(0.3)
    assert second.is_alive() and "second decoding" not in events  # 300 + 300 > 400: it waits
    release.set()
    first.join(5)
    second.join(5)
    assert events == ["first decoding", "small decoding", "first done", "second decoding", "second done"]
    assert budget.in_flight == 0
