"""Views and their transforms: where a zoomed view lies in the original image.

A *view* is what the model sees: the original image, or a crop of it resized by the zoom
tool. Its transform is the crop box in pixels of the original image plus the view's own
pixel size, so a box written on any view maps back to original pixels in one step,
however long the chain of crops that made it (each view stores its box in original
pixels, not relative to its parent).

Example:
    >>> original = View.original((1000, 800))
    >>> crop = original.crop_of((100, 100, 300, 200))        # pixels of the original image
    >>> crop.box, crop.size
    ((100.0, 100.0, 300.0, 200.0), (644, 336))
    >>> crop.to_original((0.5, 0.0, 1.0, 1.0), "norm1")      # right half of the crop
    (200.0, 100.0, 300.0, 200.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from grounding_rewards.boxes import pixel_scale, qwen25vl_resize
from grounding_rewards.config import CoordSpace
from grounding_rewards.zoom.config import DEFAULT_ZOOM_CONFIG, ZoomConfig

__all__ = ["Box", "View", "view_size"]

Box = tuple[float, float, float, float]
_MAX_ASPECT = 200.0  # Qwen2.5-VL's processor refuses more; so does the tool


def view_size(
    crop_width: float, crop_height: float, zoom: ZoomConfig | None = None
) -> tuple[int, int]:
    """Pixel size of the view the zoom tool returns for a crop of this size.

    The crop is resized into ``[view_min_pixels, view_max_pixels]`` with Qwen2.5-VL's
    smart-resize (sides multiples of 28, aspect ratio kept): a small crop is enlarged.

    Args:
        crop_width: Crop width in original pixels (> 0).
        crop_height: Crop height in original pixels (> 0).
        zoom: The tool's pixel budget; ``None`` uses the defaults.

    Returns:
        ``(width, height)`` of the view.

    Example:
        >>> view_size(100, 50)
        (644, 336)
    """
    zoom = zoom or DEFAULT_ZOOM_CONFIG
    return qwen25vl_resize(
        (crop_width, crop_height), min_pixels=zoom.view_min_pixels, max_pixels=zoom.view_max_pixels
    )


@dataclass(frozen=True, slots=True)
class View:
    """One image the model sees.

    Attributes:
        box: The region of the original image it shows, pixel ``xyxy``.
        size: Its own ``(width, height)`` in pixels (the tool's resized output).
    """

    box: Box
    size: tuple[float, float]

    @classmethod
    def original(cls, image_size: tuple[float, float]) -> View:
        """The original image as a view (its box is the whole image)."""
        width, height = float(image_size[0]), float(image_size[1])
        return cls((0.0, 0.0, width, height), (width, height))

    def to_original(
        self,
        box: Box,
        space: CoordSpace | str,
        *,
        min_pixels: int = 3136,
        max_pixels: int = 12845056,
    ) -> Box | None:
        """Map a box written on this view (in ``space``) to original pixels, clipped to the view.

        Returns ``None`` when the box is not four finite numbers with ``x1 < x2`` and
        ``y1 < y2``, or when nothing of it lies inside the view (the tool can only show
        what the view shows).

        Args:
            box: ``(x1, y1, x2, y2)`` as the model wrote it.
            space: Its coordinate space, relative to this view.
            min_pixels: Qwen2.5-VL ``min_pixels`` (``qwen25vl`` only).
            max_pixels: Qwen2.5-VL ``max_pixels`` (``qwen25vl`` only).

        Returns:
            Pixel ``xyxy`` of the original image, or ``None``.

        Example:
            >>> View.original((100, 100)).to_original((50, 50, 300, 300), "pixel")
            (50.0, 50.0, 100.0, 100.0)
            >>> View.original((100, 100)).to_original((150, 0, 300, 10), "pixel") is None
            True
        """
        x1, y1, x2, y2 = box
        if not (math.isfinite(x1 + y1 + x2 + y2) and x1 < x2 and y1 < y2):
            return None
        sx, sy = pixel_scale(space, self.size, min_pixels=min_pixels, max_pixels=max_pixels)  # type: ignore[arg-type]
        vx1, vy1, vx2, vy2 = self.box
        kx = (vx2 - vx1) / self.size[0]
        ky = (vy2 - vy1) / self.size[1]
        ox1 = max(vx1, vx1 + x1 * sx * kx)
        oy1 = max(vy1, vy1 + y1 * sy * ky)
        ox2 = min(vx2, vx1 + x2 * sx * kx)
        oy2 = min(vy2, vy1 + y2 * sy * ky)
        if not (math.isfinite(ox1 + oy1 + ox2 + oy2) and ox1 < ox2 and oy1 < oy2):
            return None
        return (ox1, oy1, ox2, oy2)

    def crop_of(self, box: Box, zoom: ZoomConfig | None = None) -> View | None:
        """The view the zoom tool returns for ``box`` (original pixels), or ``None`` if it cannot.

        A crop narrower or shorter than one original pixel, or with an aspect ratio above
        200, cannot be shown.

        Args:
            box: The crop in original pixels (already clipped to this view).
            zoom: The tool's pixel budget.

        Returns:
            The new :class:`View`, or ``None``.
        """
        width, height = box[2] - box[0], box[3] - box[1]
        if (
            not (width >= 1.0 and height >= 1.0)
            or max(width, height) / min(width, height) > _MAX_ASPECT
        ):
            return None
        x1, y1, x2, y2 = (float(v) for v in box)
        return View((x1, y1, x2, y2), view_size(width, height, zoom))
