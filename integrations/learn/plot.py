"""The training curves as a PNG, drawn with Pillow (no plotting library needed).

Example:
    >>> runs = [{"reward": "ours", "seed": 0, "curves": {"bbox_reward": [0.1, 0.3, 0.2]}}]
    >>> plot_curves(runs, panels=[("bbox_reward", "ours")]).size
    (480, 300)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["PANELS", "plot_curves", "smooth"]

PANELS = (
    ("bbox_reward", "our bbox reward (one-to-one)"),
    ("naive_bbox_reward", "naive max_iou_recall"),
    ("pred_boxes", "boxes per completion"),
)
_COLORS = {"ours": (31, 119, 180), "naive": (214, 39, 40)}
_W, _H, _PAD = 480, 300, 40


def smooth(values: Sequence[float], window: int = 10) -> list[float]:
    """Trailing moving average (NaN entries skipped).

    Example:
        >>> smooth([0, 2, 4, 6], window=2)
        [0.0, 1.0, 3.0, 5.0]
    """
    out = []
    for i in range(len(values)):
        part = [v for v in values[max(0, i - window + 1) : i + 1] if math.isfinite(v)]
        out.append(sum(part) / len(part) if part else math.nan)
    return out


def _panel(runs: Sequence[dict[str, Any]], key: str, title: str) -> Any:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (_W, _H), "white")
    draw = ImageDraw.Draw(image)
    series = [(run, smooth(run["curves"].get(key, []))) for run in runs]
    values = [v for _, s in series for v in s if math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    low, high = min(low, 0.0), high if high > low else low + 1.0
    steps = max((len(s) for _, s in series), default=1)
    left, top, right, bottom = _PAD + 10, _PAD, _W - 10, _H - _PAD
    draw.rectangle((left, top, right, bottom), outline=(120, 120, 120))
    draw.text((left, 10), title, fill="black")
    draw.text((4, top), f"{high:.2f}", fill="black")
    draw.text((4, bottom - 10), f"{low:.2f}", fill="black")
    draw.text((right - 60, bottom + 8), f"step {steps}", fill="black")
    for run, values_ in series:
        points = [
            (
                left + (right - left) * i / max(1, steps - 1),
                bottom - (bottom - top) * (v - low) / (high - low),
            )
            for i, v in enumerate(values_)
            if math.isfinite(v)
        ]
        if len(points) > 1:
            draw.line(points, fill=_COLORS.get(run["reward"], (0, 0, 0)), width=2)
    for k, (name, color) in enumerate(_COLORS.items()):
        draw.text((right - 110 + 55 * k, top + 6), name, fill=color)
    return image


def plot_curves(
    runs: Sequence[dict[str, Any]],
    path: Path | None = None,
    *,
    panels: Sequence[tuple[str, str]] = PANELS,
) -> Any:
    """One panel per curve, every run drawn (blue: ours, red: naive; 10-step average)."""
    from PIL import Image

    images = [_panel(runs, key, title) for key, title in panels]
    sheet = Image.new("RGB", (_W * len(images), _H), "white")
    for i, image in enumerate(images):
        sheet.paste(image, (_W * i, 0))
    if path is not None:
        sheet.save(path)
    return sheet
