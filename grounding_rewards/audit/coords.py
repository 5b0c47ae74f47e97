"""Coordinate spaces, written apart from :mod:`grounding_rewards.boxes` on purpose.

The audit renders honest boxes in the space the reward under test expects. If it
borrowed the library's own conversion, a wrong conversion there would make the
honest completion and our reward agree with each other and the audit would pass
vacuously. This small, independent copy of the five spaces (from the published
descriptions: 0-1000 bins, 0-1 fractions, percent, Qwen2.5-VL's smart-resize with factor 28)
is checked against the library by the property tests.

Example:
    >>> qwen25vl_size((640, 480))
    (644, 476)
    >>> pixel_to_space((64.0, 48.0, 320.0, 240.0), "norm1000", (640, 480))
    (100.0, 100.0, 500.0, 500.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from grounding_rewards.errors import ConfigError

__all__ = [
    "SPACES",
    "BoxT",
    "pixel_to_space",
    "qwen25vl_size",
    "render_number",
    "space_extent",
    "space_to_pixel",
]

BoxT = tuple[float, float, float, float]
"""A box ``(x1, y1, x2, y2)``."""

SPACES: tuple[str, ...] = ("pixel", "norm1000", "norm1", "norm100", "qwen25vl")
"""The coordinate spaces a model may write boxes in (see ``RewardConfig.coords``)."""

_FACTOR = 28


def qwen25vl_size(
    image_size: Sequence[int], *, min_pixels: int = 3136, max_pixels: int = 12845056
) -> tuple[int, int]:
    """Size ``(width, height)`` of an image after Qwen2.5-VL's smart-resize.

    Both sides become multiples of 28, the area is brought inside
    ``[min_pixels, max_pixels]`` and the aspect ratio is kept as closely as the
    rounding allows.

    Args:
        image_size: Original ``(width, height)``.
        min_pixels: The processor's ``min_pixels``.
        max_pixels: The processor's ``max_pixels``.

    Returns:
        The resized ``(width, height)``.

    Example:
        >>> qwen25vl_size((4000, 4000), max_pixels=1280 * 28 * 28)
        (980, 980)
    """
    width, height = float(image_size[0]), float(image_size[1])
    h_bar = max(_FACTOR, round(height / _FACTOR) * _FACTOR)
    w_bar = max(_FACTOR, round(width / _FACTOR) * _FACTOR)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(_FACTOR, math.floor(height / beta / _FACTOR) * _FACTOR)
        w_bar = max(_FACTOR, math.floor(width / beta / _FACTOR) * _FACTOR)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / _FACTOR) * _FACTOR
        w_bar = math.ceil(width * beta / _FACTOR) * _FACTOR
    return int(w_bar), int(h_bar)


def space_extent(
    space: str, image_size: Sequence[int], *, min_pixels: int = 3136, max_pixels: int = 12845056
) -> tuple[float, float]:
    """The image's width and height measured in ``space``: the largest ``x``, ``y`` inside it.

    Args:
        space: ``pixel``, ``norm1000``, ``norm1``, ``norm100`` or ``qwen25vl``.
        image_size: Original ``(width, height)``.
        min_pixels: Qwen2.5-VL ``min_pixels``.
        max_pixels: Qwen2.5-VL ``max_pixels``.

    Returns:
        ``(width, height)`` in ``space``.

    Raises:
        ConfigError: For an unknown space.

    Example:
        >>> space_extent("norm1000", (640, 480)), space_extent("qwen25vl", (640, 480))
        ((1000.0, 1000.0), (644.0, 476.0))
    """
    if space == "pixel":
        return float(image_size[0]), float(image_size[1])
    if space == "norm1000":
        return 1000.0, 1000.0
    if space == "norm1":
        return 1.0, 1.0
    if space == "norm100":
        return 100.0, 100.0
    if space == "qwen25vl":
        w_bar, h_bar = qwen25vl_size(image_size, min_pixels=min_pixels, max_pixels=max_pixels)
        return float(w_bar), float(h_bar)
    raise ConfigError(f"expected a coordinate space in {SPACES}, got {space!r}")


def pixel_to_space(
    box: Sequence[float],
    space: str,
    image_size: Sequence[int],
    *,
    min_pixels: int = 3136,
    max_pixels: int = 12845056,
) -> BoxT:
    """Convert a pixel ``xyxy`` box of the original image to ``space``.

    Args:
        box: ``(x1, y1, x2, y2)`` in pixels of the original image.
        space: ``pixel``, ``norm1000``, ``norm1``, ``norm100`` or ``qwen25vl``.
        image_size: Original ``(width, height)``.
        min_pixels: Qwen2.5-VL ``min_pixels``.
        max_pixels: Qwen2.5-VL ``max_pixels``.

    Returns:
        The box in ``space`` (not rounded).

    Raises:
        ConfigError: For an unknown space.

    Example:
        >>> pixel_to_space((0, 0, 640, 480), "norm1", (640, 480))
        (0.0, 0.0, 1.0, 1.0)
    """
    sw, sh = space_extent(space, image_size, min_pixels=min_pixels, max_pixels=max_pixels)
    width, height = float(image_size[0]), float(image_size[1])
    # Multiply first, divide last: exact for the round numbers people check by hand.
    return (box[0] * sw / width, box[1] * sh / height, box[2] * sw / width, box[3] * sh / height)


def space_to_pixel(
    box: Sequence[float],
    space: str,
    image_size: Sequence[int],
    *,
    min_pixels: int = 3136,
    max_pixels: int = 12845056,
) -> BoxT:
    """Inverse of :func:`pixel_to_space`.

    Args:
        box: ``(x1, y1, x2, y2)`` in ``space``.
        space: ``pixel``, ``norm1000``, ``norm1``, ``norm100`` or ``qwen25vl``.
        image_size: Original ``(width, height)``.
        min_pixels: Qwen2.5-VL ``min_pixels``.
        max_pixels: Qwen2.5-VL ``max_pixels``.

    Returns:
        The box in pixels of the original image.

    Raises:
        ConfigError: For an unknown space.

    Example:
        >>> space_to_pixel((100, 100, 500, 500), "norm1000", (640, 480))
        (64.0, 48.0, 320.0, 240.0)
    """
    sw, sh = space_extent(space, image_size, min_pixels=min_pixels, max_pixels=max_pixels)
    width, height = float(image_size[0]), float(image_size[1])
    return (box[0] * width / sw, box[1] * height / sh, box[2] * width / sw, box[3] * height / sh)


def render_number(value: float, space: str) -> str:
    """Write one coordinate the way a model writes it in ``space``.

    Integer spaces get integers; ``norm1`` gets three decimals, ``norm100`` (percent) one.

    Args:
        value: The coordinate in ``space``.
        space: The coordinate space.

    Returns:
        The text of the number.

    Example:
        >>> render_number(212.6, "pixel"), render_number(0.33333, "norm1")
        ('213', '0.333')
    """
    if space == "norm1":
        return f"{value:.3f}"
    if space == "norm100":
        return f"{value:.1f}"
    return str(round(value))
