"""Draw predicted and ground-truth boxes over an image (a PNG overlay), with Pillow.

Ground truth is drawn in blue and predictions in orange (a pair that stays distinct
under the common colour-vision deficiencies), each box labelled; a predicted box
carries the IoU of its matched ground-truth box. A ground-truth outline lies just
outside its box and a predicted outline just inside, so a perfect prediction shows
both. Coordinates are pixel ``xyxy`` of the image. Without an image, the boxes are
drawn on a blank canvas of ``image_size``.

Example:
    >>> overlay = draw_overlay(None, image_size=(320, 240), gt_boxes=[(80, 80, 200, 200)],
    ...                        pred_boxes=[(100, 90, 220, 200)], pred_ious=[0.73])
    >>> overlay.size
    (320, 240)
    >>> overlay.getpixel((79, 150)) == GT_COLOR, overlay.getpixel((219, 150)) == PRED_COLOR
    (True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grounding_rewards._atomic import atomic_path
from grounding_rewards._optional import require
from grounding_rewards.errors import InputError

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "CANVAS_COLOR",
    "GT_COLOR",
    "PRED_COLOR",
    "box_caption",
    "draw_overlay",
    "load_image",
    "save_overlay",
]

GT_COLOR: tuple[int, int, int] = (0, 114, 178)
"""Ground-truth boxes: blue (Okabe-Ito)."""
PRED_COLOR: tuple[int, int, int] = (230, 159, 0)
"""Predicted boxes: orange (Okabe-Ito)."""
CANVAS_COLOR: tuple[int, int, int] = (236, 236, 236)
"""Background when there is no image."""

_MAX_CANVAS_SIDE = 8192  # a blank canvas from a bogus image_size must not eat memory


def _pil() -> Any:
    return require("PIL.Image", extra="metrics")


def load_image(path: str | Path) -> Image:
    """Open an image file as RGB.

    Raises:
        MissingDependencyError: Without Pillow (``pip install 'grounding-rewards[metrics]'``).
        OSError: When the file cannot be read as an image.
    """
    opened = _pil().open(path)
    opened.load()
    rgb: Image = opened.convert("RGB")
    return rgb


def box_caption(label: str, iou: float | None, *, predicted: bool) -> str:
    """The text drawn next to a box: ``label``, plus ``IoU 0.83`` or ``no match`` for predictions.

    Example:
        >>> box_caption("man", 0.834, predicted=True), box_caption("", None, predicted=True)
        ('man IoU 0.83', '(no label) no match')
    """
    text = label.strip() or "(no label)"
    if not predicted:
        return text
    if iou is None:
        return f"{text} no match"
    return f"{text} IoU {iou:.2f}"


def _finite(box: Sequence[float]) -> bool:
    return len(box) == 4 and all(math.isfinite(v) for v in box)


def draw_overlay(
    image: Image | None,
    *,
    image_size: tuple[float, float] | None = None,
    pred_boxes: Sequence[Sequence[float]] = (),
    gt_boxes: Sequence[Sequence[float]] = (),
    pred_labels: Sequence[str] | None = None,
    gt_labels: Sequence[str] | None = None,
    pred_ious: Sequence[float | None] | None = None,
    line_width: int | None = None,
    pred_captions: Sequence[str] | None = None,
) -> Image:
    """Return a copy of ``image`` with ground-truth (blue) and predicted (orange) boxes.

    Args:
        image: The original image, or ``None`` for a blank canvas of ``image_size``.
        image_size: ``(width, height)``, needed without an image.
        pred_boxes: Predicted pixel ``xyxy`` boxes (non-finite ones are skipped).
        gt_boxes: Ground-truth pixel ``xyxy`` boxes.
        pred_labels: Labels of the predicted boxes.
        gt_labels: Labels of the ground-truth boxes.
        pred_ious: IoU of each predicted box's match (``None``: unmatched).
        line_width: Box outline width in pixels; default scales with the image.
        pred_captions: Captions that replace ``label IoU x`` on predicted boxes (e.g.
            zoom crops with their scores).

    Returns:
        A new RGB image.

    Raises:
        InputError: Without an image and without a usable ``image_size``.
    """
    pil = _pil()
    draw_module = require("PIL.ImageDraw", extra="metrics")
    font_module = require("PIL.ImageFont", extra="metrics")
    if image is None:
        if image_size is None:
            raise InputError(
                "draw_overlay: expected an image or image_size=(width, height), got neither"
            )
        width, height = (max(1, min(_MAX_CANVAS_SIDE, round(float(v)))) for v in image_size)
        canvas: Image = pil.new("RGB", (width, height), CANVAS_COLOR)
    else:
        canvas = image.convert("RGB").copy()
    width, height = canvas.size
    stroke = line_width or max(2, round(min(width, height) / 150))
    font_size = max(10, round(min(width, height) / 30))
    font = font_module.load_default(size=font_size)
    draw = draw_module.Draw(canvas)
    items: list[tuple[Sequence[float], str, tuple[int, int, int]]] = []
    for k, box in enumerate(gt_boxes):
        label = gt_labels[k] if gt_labels is not None and k < len(gt_labels) else ""
        items.append((box, box_caption(label, None, predicted=False), GT_COLOR))
    for k, box in enumerate(pred_boxes):
        label = pred_labels[k] if pred_labels is not None and k < len(pred_labels) else ""
        iou = pred_ious[k] if pred_ious is not None and k < len(pred_ious) else None
        caption = box_caption(label, iou, predicted=True)
        if pred_captions is not None and k < len(pred_captions):
            caption = pred_captions[k]
        items.append((box, caption, PRED_COLOR))
    for box, _, color in items:
        if _finite(box):
            x1, y1, x2, y2 = (float(v) for v in box)
            if x2 > x1 and y2 > y1:
                # Pillow grows an outline inwards; ground truth goes just outside its edge
                # so that a prediction on the very same box leaves both visible.
                grow = stroke if color == GT_COLOR else 0
                draw.rectangle(
                    (x1 - grow, y1 - grow, x2 + grow, y2 + grow), outline=color, width=stroke
                )
    # Captions go on top of every outline, so a later box never hides an earlier caption.
    for box, caption, color in items:
        if not _finite(box):
            continue
        x1, y1 = float(box[0]), float(box[1])
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
        text_w, text_h = right - left, bottom - top
        tx = min(max(0.0, x1), max(0.0, width - text_w - 4))
        ty = y1 - text_h - 4 if y1 - text_h - 4 >= 0 else min(y1 + stroke, height - text_h - 4)
        draw.rectangle((tx, ty, tx + text_w + 4, ty + text_h + 4), fill=color)
        draw.text((tx + 2 - left, ty + 2 - top), caption, fill=(255, 255, 255), font=font)
    return canvas


def save_overlay(path: str | Path, overlay: Image) -> Path:
    """Save an overlay as PNG (lossless, so box colours stay exact) and return the path.

    Written atomically: an existing file stays intact until the new one is complete.
    """
    target = Path(path)
    with atomic_path(target) as temporary:
        overlay.save(temporary, format="PNG")
    return target
