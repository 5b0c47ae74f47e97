"""Load untrusted image files into clean RGB, or say exactly why not.

EXIF orientation is applied (so ``width``/``height`` and every box refer to the
image as a person sees it), transparency is composited over white, CMYK, palette,
bilevel and 16-bit or float images become 8-bit RGB, and size limits are checked
from the header, before any pixel is decoded. Failures raise :class:`ImageError`
with a short ``reason`` that the runner records.

Example:
    >>> import io
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGBA", (40, 30), (255, 0, 0, 0)).save(buffer, "PNG")
    >>> loaded = load_image(buffer.getvalue(), source="red.png")
    >>> loaded.image.mode, loaded.size, loaded.image.getpixel((0, 0))
    ('RGB', (40, 30), (255, 255, 255))
    >>> load_image(b"not an image")
    Traceback (most recent call last):
    ...
    grounding_rewards.errors.ImageError: image_unreadable: cannot identify image file
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grounding_rewards._optional import require
from grounding_rewards.errors import ImageError
from grounding_rewards.synthesis.records import ImageInfo

if TYPE_CHECKING:
    from PIL import Image, ImageOps
else:
    Image = require("PIL.Image", extra="synthesis")
    ImageOps = require("PIL.ImageOps", extra="synthesis")

__all__ = [
    "ImageError",
    "LoadedImage",
    "encode_image",
    "image_id",
    "load_image",
    "read_source",
    "to_rgb",
]


def image_id(sha256: str) -> str:
    """The image id: the first 16 hex digits of its bytes' SHA-256.

    Example:
        >>> image_id("ab" * 32)
        'abababababababab'
    """
    return sha256[:16]


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """A decoded image ready for the stages.

    Attributes:
        image: 8-bit RGB, EXIF orientation applied.
        sha256: SHA-256 of the encoded bytes it came from.
        source: Where it came from.
    """

    image: Image.Image
    sha256: str
    source: str

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        width, height = self.image.size
        return int(width), int(height)

    @property
    def info(self) -> ImageInfo:
        """The record's :class:`~grounding_rewards.synthesis.records.ImageInfo`."""
        width, height = self.size
        return ImageInfo(
            id=image_id(self.sha256),
            source=self.source,
            width=width,
            height=height,
            sha256=self.sha256,
        )

    def model_view(self, max_side: int) -> tuple[Image.Image, float]:
        """The image shrunk to ``max_side`` (never enlarged) and the factor back.

        Returns:
            ``(view, scale)`` where original pixel = view pixel × ``scale``.

        Example:
            >>> from PIL import Image
            >>> loaded = LoadedImage(Image.new("RGB", (2000, 1000)), "0" * 64, "x")
            >>> view, scale = loaded.model_view(1000)
            >>> view.size, scale
            ((1000, 500), 2.0)
        """
        width, height = self.size
        longest = max(width, height)
        if longest <= max_side:
            return self.image, 1.0
        factor = max_side / longest
        view_size = (max(1, round(width * factor)), max(1, round(height * factor)))
        return self.image.resize(view_size, Image.Resampling.BICUBIC), width / view_size[0]


def read_source(source: str | os.PathLike[str] | bytes) -> tuple[bytes, str]:
    """Read an image source into ``(bytes, source name)``.

    Raises:
        ImageError: ``image_unreadable`` when the file cannot be read.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "<bytes>"
    path = Path(source)
    try:
        return path.read_bytes(), str(source)
    except OSError as exc:
        raise ImageError("image_unreadable", f"{path}: {exc.strerror or exc}") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB.

    Transparency is composited over white (transparent pixels often hold
    arbitrary colours); 16-bit and 32-bit integer images are scaled, not clipped.

    Raises:
        ImageError: ``image_mode`` for a mode Pillow cannot turn into RGB.

    Example:
        >>> from PIL import Image
        >>> deep = Image.new("I;16", (2, 2), 65535)
        >>> to_rgb(deep).getpixel((0, 0))
        (255, 255, 255)
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(image)), mode="L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in image.info
    )
    try:
        if has_alpha:
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageError("image_mode", f"cannot convert mode {mode} to RGB: {exc}") from None


def _to_uint8(array: np.ndarray) -> np.ndarray:
    values = array.astype(np.float64)
    if array.dtype.kind == "f":
        top = 1.0 if np.nanmax(values, initial=0.0) <= 1.0 else 255.0
    elif np.max(values, initial=0) > 255:
        # A 16-bit image stored in Pillow's 32-bit "I" mode still has a 0-65535 range.
        top = 65535.0 if np.max(values) <= 65535 else float(np.max(values))
    else:
        top = 255.0
    scaled = np.nan_to_num(values / top * 255.0, nan=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def load_image(
    data: bytes,
    *,
    source: str = "<bytes>",
    max_pixels: int = 64_000_000,
    min_side: int = 1,
) -> LoadedImage:
    """Decode ``data`` into an RGB :class:`LoadedImage`.

    Args:
        data: The encoded file.
        source: Where it came from (recorded, not read).
        max_pixels: Refuse images with more pixels, checked from the header.
        min_side: Refuse images whose shorter side is smaller.

    Returns:
        The loaded image, EXIF-oriented, 8-bit RGB.

    Raises:
        ImageError: With ``reason`` ``image_unreadable``, ``image_truncated``,
            ``image_too_large``, ``image_too_small`` or ``image_mode``.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        # Our own max_pixels is the limit; Pillow's bomb warning would only duplicate it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image: Image.Image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ImageError("image_too_large", str(exc)) from None
        except (OSError, SyntaxError, ValueError) as exc:
            message = str(exc)
            if "cannot identify image file" in message:
                message = "cannot identify image file"
            raise ImageError("image_unreadable", message) from None
        width, height = image.size
        if width * height > max_pixels:
            raise ImageError(
                "image_too_large",
                f"expected at most {max_pixels} pixels, got {width}x{height} = {width * height}",
            )
        try:
            image.load()
        except Image.DecompressionBombError as exc:
            raise ImageError("image_too_large", str(exc)) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            reason = "image_truncated" if "truncat" in str(exc).lower() else "image_unreadable"
            raise ImageError(reason, str(exc)) from None
    # Malformed EXIF can raise anything; then the pixels are kept as stored.
    with contextlib.suppress(Exception):
        image = ImageOps.exif_transpose(image)
    rgb = to_rgb(image)
    width, height = rgb.size
    if min(width, height) < min_side:
        raise ImageError(
            "image_too_small", f"expected both sides >= {min_side} pixels, got {width}x{height}"
        )
    return LoadedImage(rgb, sha256, source)


def encode_image(image: Image.Image, image_format: str = "PNG") -> bytes:
    r"""Encode ``image`` for a model request (``PNG`` or ``JPEG``).

    Example:
        >>> from PIL import Image
        >>> encode_image(Image.new("RGB", (4, 4)))[:4]
        b'\x89PNG'
    """
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=90)
    else:
        # Level 1: a crop is encoded once per request; speed matters more than size here.
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
