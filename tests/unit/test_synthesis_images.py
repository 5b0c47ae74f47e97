from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from skimage import data

from grounding_rewards.synthesis.images import (
    ImageError,
    LoadedImage,
    encode_image,
    load_image,
    read_source,
    to_rgb,
)


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


ASTRONAUT = Image.fromarray(data.astronaut())


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_refused_with_their_reason(fmt: str) -> None:
    whole = encode(ASTRONAUT, fmt)
    with pytest.raises(ImageError) as info:
        load_image(whole[: len(whole) // 2])
    assert info.value.reason == "image_truncated"


def test_not_an_image_and_empty_bytes() -> None:
    for payload in (b"", b"GIF89a but not really", b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(ImageError) as info:
            load_image(payload)
        assert info.value.reason in ("image_unreadable", "image_truncated")


def test_cmyk_jpeg_becomes_rgb_with_the_same_colours() -> None:
    loaded = load_image(encode(ASTRONAUT.convert("CMYK"), "JPEG", quality=95))
    assert loaded.image.mode == "RGB"
    assert loaded.size == (512, 512)
    original = np.asarray(ASTRONAUT, dtype=float)
    assert np.abs(np.asarray(loaded.image, dtype=float) - original).mean() < 6


def test_rgba_transparency_is_composited_over_white() -> None:
    rgba = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 255), (0, 0, 10, 10))
    loaded = load_image(encode(rgba))
    assert loaded.image.getpixel((2, 2)) == (255, 0, 0)
    assert loaded.image.getpixel((15, 5)) == (255, 255, 255)  # not the stored black


def test_palette_with_transparency_and_la() -> None:
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    palette.paste(1, (0, 0, 4, 8))
    palette.info["transparency"] = 0
    loaded = load_image(encode(palette))
    assert loaded.image.getpixel((1, 1)) == (0, 255, 0)
    assert loaded.image.getpixel((6, 1)) == (255, 255, 255)
    la = Image.new("LA", (4, 4), (10, 0))
    assert load_image(encode(la)).image.getpixel((0, 0)) == (255, 255, 255)


def test_16_bit_grey_png_is_scaled_not_clipped() -> None:
    ramp = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    payload = encode(Image.fromarray(ramp))
    assert Image.open(io.BytesIO(payload)).mode.startswith("I")
    pixels = np.asarray(load_image(payload).image)[..., 0]
    # 65520 / 65535 * 255 = 254.9 -> 255; the middle of the ramp is mid-grey, not saturated.
    assert pixels[-1, -1] == 255
    assert 120 <= pixels[32, 0] <= 135
    assert pixels[0, 0] == 0


def test_32_bit_and_float_modes() -> None:
    assert to_rgb(Image.new("I", (2, 2), 200)).getpixel((0, 0)) == (200, 200, 200)
    assert to_rgb(Image.new("F", (2, 2), 0.5)).getpixel((0, 0)) == (128, 128, 128)


@pytest.mark.parametrize(
    ("orientation", "size", "corner"),
    [
        (1, (400, 300), (0, 0)),
        (3, (400, 300), (399, 299)),
        (6, (300, 400), (299, 0)),
        (8, (300, 400), (0, 399)),
    ],
)
def test_exif_orientation_is_applied(orientation, size, corner) -> None:
    stored = Image.new("RGB", (400, 300), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 40, 40))  # red mark at the stored top-left
    exif = stored.getexif()
    exif[0x0112] = orientation
    loaded = load_image(encode(stored, "PNG", exif=exif.tobytes()))
    assert loaded.size == size
    red, _, blue = loaded.image.getpixel(corner)
    assert red > 200 and blue < 50, (orientation, loaded.image.getpixel(corner))
    assert (loaded.info.width, loaded.info.height) == size


def test_one_pixel_image_refused_by_min_side_and_loaded_without_it() -> None:
    payload = encode(Image.new("RGB", (1, 1), (9, 9, 9)))
    with pytest.raises(ImageError) as info:
        load_image(payload, min_side=16)
    assert info.value.reason == "image_too_small"
    assert load_image(payload).size == (1, 1)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width x height`` pixels but carries no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_very_large_image_is_refused_from_its_header_before_decoding(monkeypatch) -> None:
    from PIL import ImageFile

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError) as info:
        load_image(png_header_only(12000, 9000), max_pixels=64_000_000)
    assert info.value.reason == "image_too_large"
    assert "12000x9000" in str(info.value)


def test_bigger_than_pillow_bomb_limit_is_refused_cleanly() -> None:
    with pytest.raises(ImageError) as info:
        load_image(png_header_only(20000, 20000), max_pixels=10**12)
    assert info.value.reason == "image_too_large"


def test_large_image_within_limits_is_decoded() -> None:
    payload = encode(Image.new("RGB", (4000, 3000), (1, 2, 3)))
    assert load_image(payload).size == (4000, 3000)


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    assert load_image(buffer.getvalue()).image.getpixel((0, 0))[0] > 200


def test_info_and_model_view() -> None:
    payload = encode(Image.new("RGB", (3000, 1500)))
    loaded = load_image(payload, source="wide.png")
    info = loaded.info
    assert (info.width, info.height, info.source) == (3000, 1500, "wide.png")
    assert info.id == info.sha256[:16]
    view, scale = loaded.model_view(1000)
    assert view.size == (1000, 500) and scale == 3.0
    small = LoadedImage(Image.new("RGB", (10, 10)), "0" * 64, "s")
    assert small.model_view(1000) == (small.image, 1.0)


def test_read_source(tmp_path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"abc")
    assert read_source(path) == (b"abc", str(path))
    assert read_source(b"xyz") == (b"xyz", "<bytes>")
    with pytest.raises(ImageError) as info:
        read_source(tmp_path / "missing.png")
    assert info.value.reason == "image_unreadable"


def test_image_error_pickles_with_reason() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(ImageError("image_truncated", "half")))
    assert (error.reason, error.detail) == ("image_truncated", "half")


def test_encode_image_formats() -> None:
    assert encode_image(ASTRONAUT, "JPEG")[:2] == b"\xff\xd8"
    assert Image.open(io.BytesIO(encode_image(ASTRONAUT))).size == (512, 512)
