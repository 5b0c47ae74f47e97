"""The ``tags`` dialect: ``<obj>label</obj><bbox>[..]</bbox>`` and ``<point>[x, y]</point>``.

The core parser reads this dialect in its own single pass (it is the fast path); the
reader here exposes it through the dialect interface, for users who compose dialects.

Example:
    >>> from grounding_rewards import DEFAULT_CONFIG
    >>> render_tags([("cat", (1, 2, 3, 4)), ("dog", (5.5, 6))], DEFAULT_CONFIG)
    '<obj>cat</obj><bbox>[1, 2, 3, 4]</bbox> <obj>dog</obj><point>[5.5, 6]</point>'
    >>> [m.box for m in read_tags("<obj>a</obj><bbox>[1, 2, 3, 4]</bbox>", DEFAULT_CONFIG).boxes]
    [(1.0, 2.0, 3.0, 4.0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from grounding_rewards.dialects._numbers import number_text
from grounding_rewards.dialects.marks import BoxMark, PointMark, Reading

if TYPE_CHECKING:
    from grounding_rewards.config import RewardConfig

__all__ = ["read_tags", "render_tags"]


def read_tags(text: str, config: RewardConfig) -> Reading:
    """Read ``<obj>``/``<bbox>``/``<point>`` marks with the core parser."""
    from grounding_rewards.parsing import parse_trace

    trace = parse_trace(text, config=config.replace(dialect="tags", require_blocks=False))
    return Reading(
        boxes=[BoxMark(s.label, s.box if s.valid else None, s.start, s.end) for s in trace.spans],
        points=[
            PointMark(p.label, p.point if p.valid else None, p.start, p.end) for p in trace.points
        ],
        issues=[i for i in trace.issues if i.code not in _BLOCK_CODES],
    )


_BLOCK_CODES = frozenset({"missing_think", "missing_answer", "empty_answer", "text_outside_blocks"})


def render_tags(items: Sequence[tuple[str, Sequence[float]]], config: RewardConfig) -> str:
    """Write ``(label, box)``/``(label, point)`` items as tag spans separated by spaces."""
    obj, parts = config.obj_tag, []
    for label, coords in items:
        tag = config.point_tag if len(coords) == 2 else config.bbox_tag
        body = "[" + ", ".join(number_text(v) for v in coords) + "]"
        parts.append(f"<{obj}>{label}</{obj}><{tag}>{body}</{tag}>")
    return " ".join(parts)
