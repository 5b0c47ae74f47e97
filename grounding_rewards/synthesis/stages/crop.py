"""Crop & zoom-in: cut each object out with a margin and enlarge it for the captioner.

Level-2 captions see attributes a global view misses only if the crop is big
enough; tiny boxes are skipped (a few pixels upscaled show nothing real).

Example:
    >>> from PIL import Image
    >>> image = Image.new("RGB", (200, 100))
    >>> crop = crop_and_zoom(image, (190, 40, 200, 60), margin=0.5, min_side=64,
    ...                      max_side=256, min_box_side=4)
    >>> crop.crop_box, crop.image.size, crop.scale
    ((185, 30, 200, 70), (64, 171), 4.267)
    >>> crop_and_zoom(image, (10, 10, 12, 40), margin=0.1, min_side=64, max_side=256,
    ...               min_box_side=4) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grounding_rewards._optional import require

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Crop", "crop_and_zoom", "snap_box"]


@dataclass(frozen=True, slots=True)
class Crop:
    """A zoomed crop.

    Attributes:
        crop_box: Pixel box of the original image that was cut out.
        scale: Enlargement factor (1.0 = not enlarged).
        image: The crop after enlargement.
    """

    crop_box: tuple[int, int, int, int]
    scale: float
    image: Image.Image


def snap_box(box: Sequence[float], size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Round a box outward to whole pixels and clamp it to the image; ``None`` if empty.

    Boxes are integers in records so that a rationale's ``[x1, y1, x2, y2]`` text
    parses back to exactly the record's box.

    Example:
        >>> snap_box((10.2, -3, 20.7, 15.0), (18, 100))
        (10, 0, 18, 15)
        >>> snap_box((5, 5, 5.0, 9), (100, 100)) is None
        True
    """
    if len(box) != 4 or not all(math.isfinite(float(v)) for v in box):
        return None
    width, height = size
    x1 = min(max(math.floor(box[0]), 0), width)
    y1 = min(max(math.floor(box[1]), 0), height)
    x2 = min(max(math.ceil(box[2]), 0), width)
    y2 = min(max(math.ceil(box[3]), 0), height)
    if x1 >= x2 or y1 >= y2:
        return None
    return (x1, y1, x2, y2)


def crop_and_zoom(
    image: Image.Image,
    box: tuple[int, int, int, int],
    *,
    margin: float,
    min_side: int,
    max_side: int,
    min_box_side: int,
) -> Crop | None:
    """Cut ``box`` plus ``margin`` out of ``image``, clamped, enlarged to ``min_side``.

    Args:
        image: The original RGB image.
        box: Pixel ``xyxy`` box.
        margin: Added on each side as a fraction of the box's width and height.
        min_side: The crop's shorter side is enlarged to at least this...
        max_side: ...unless its longer side would exceed this.
        min_box_side: Boxes with a shorter side are skipped (returns ``None``).

    Returns:
        The crop, or ``None`` for a box too small to caption.
    """
    x1, y1, x2, y2 = box
    if min(x2 - x1, y2 - y1) < min_box_side:
        return None
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    crop_box = snap_box((x1 - dx, y1 - dy, x2 + dx, y2 + dy), image.size)
    if crop_box is None:
        return None
    crop = image.crop(crop_box)
    width, height = crop.size
    scale = max(1.0, min_side / min(width, height))
    scale = min(scale, max(1.0, max_side / max(width, height)))
    if scale > 1.0:
        image_module = require("PIL.Image", extra="synthesis")
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        crop = crop.resize(size, image_module.Resampling.LANCZOS)
    return Crop(crop_box, round(scale, 3), crop)
