"""What a dialect reader finds: boxes and points with offsets, and format issues.

Example:
    >>> BoxMark("cat", (1.0, 2.0, 3.0, 4.0), 0, 10).label
    'cat'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from grounding_rewards.parsing import FormatIssue

__all__ = ["BoxMark", "PointMark", "Reading"]


class BoxMark(NamedTuple):
    """One box as a dialect wrote it.

    Attributes:
        label: The object label (``""`` when the dialect wrote none).
        box: ``(x1, y1, x2, y2)`` as written, or ``None`` when it could not be read
            (it still counts in ``n`` and scores 0).
        start: Offset of the mention's first character (decides its block).
        end: Offset just past the mention.
    """

    label: str
    box: tuple[float, float, float, float] | None
    start: int
    end: int


class PointMark(NamedTuple):
    """One point as a dialect wrote it (``point`` is ``None`` when unreadable)."""

    label: str
    point: tuple[float, float] | None
    start: int
    end: int


@dataclass
class Reading:
    """Everything a reader found in one completion, in order of appearance.

    Attributes:
        boxes: The boxes.
        points: The points.
        issues: Format issues (stable codes from :data:`~grounding_rewards.ISSUE_CODES`).
    """

    boxes: list[BoxMark] = field(default_factory=list)
    points: list[PointMark] = field(default_factory=list)
    issues: list[FormatIssue] = field(default_factory=list)
