"""Writers for the built-in dialects.

The audit and the property tests write the same boxes in every dialect with them.

Example:
    >>> from grounding_rewards import DEFAULT_CONFIG
    >>> render_ref_box([("cat", (1, 2, 3, 4))], DEFAULT_CONFIG)
    '<ref>cat</ref><box>[[1, 2, 3, 4]]</box>'
    >>> render_molmo([("cat", (61.5, 40))], DEFAULT_CONFIG)
    '<point x="61.5" y="40" alt="cat">cat</point>'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from grounding_rewards.dialects._numbers import number_text

if TYPE_CHECKING:
    from grounding_rewards.config import RewardConfig

__all__ = [
    "render_bare",
    "render_florence2",
    "render_json",
    "render_molmo",
    "render_qwen2_tokens",
    "render_ref_box",
]

Items = Sequence[tuple[str, Sequence[float]]]


def _list(coords: Sequence[float]) -> str:
    return "[" + ", ".join(number_text(v) for v in coords) + "]"


def render_json(items: Items, config: RewardConfig) -> str:
    """A ```` ```json ```` fenced list of ``bbox_2d`` / ``point_2d`` objects."""
    objects = []
    for label, coords in items:
        key = "point_2d" if len(coords) == 2 else "bbox_2d"
        objects.append(f'{{"{key}": {_list(coords)}, "label": {json.dumps(label)}}}')
    return "```json\n[" + ", ".join(objects) + "]\n```"


def render_qwen2_tokens(items: Items, config: RewardConfig) -> str:
    """Qwen2-VL's ``<|object_ref_start|>label<|object_ref_end|><|box_start|>...`` marks."""
    parts = []
    for label, coords in items:
        pairs = ",".join(
            f"({number_text(coords[i])},{number_text(coords[i + 1])})"
            for i in range(0, len(coords), 2)
        )
        parts.append(
            f"<|object_ref_start|>{label}<|object_ref_end|><|box_start|>{pairs}<|box_end|>"
        )
    return " ".join(parts)


def render_ref_box(items: Items, config: RewardConfig) -> str:
    """InternVL's ``<ref>label</ref><box>[[x1, y1, x2, y2]]</box>`` marks."""
    return " ".join(f"<ref>{label}</ref><box>[{_list(coords)}]</box>" for label, coords in items)


def render_bare(items: Items, config: RewardConfig) -> str:
    """Bare ``[x1, y1, x2, y2]`` lists (labels are dropped)."""
    return " ".join(_list(coords) for _, coords in items)


def render_molmo(items: Items, config: RewardConfig) -> str:
    """Molmo ``<point x=".." y=".." alt="label">label</point>`` tags."""
    return " ".join(
        f'<point x="{number_text(c[0])}" y="{number_text(c[1])}" alt="{label}">{label}</point>'
        for label, c in items
    )


def render_florence2(items: Items, config: RewardConfig) -> str:
    """Florence-2 ``label<loc_..>`` runs (coordinates rounded to integer bins)."""
    return "".join(
        label + "".join(f"<loc_{round(float(v))}>" for v in coords) for label, coords in items
    )
