"""Dialects without label tags: ``bare`` boxes, ``molmo`` points, ``florence2`` locations.

``bare``: every ``[x1, y1, x2, y2]`` list of four numbers, unlabelled (a REC answer is
often just that). Lists of other lengths are prose, not boxes.

``molmo``: ``<point x="61.5" y="40.2" alt="cat">cat</point>`` and
``<points x1="10" y1="20" x2="30" y2="40" alt="cats">cats</points>`` (percent
coordinates: use ``coords="norm100"``).

``florence2``: ``label<loc_x1><loc_y1><loc_x2><loc_y2>`` (bins 0-999: ``coords="norm1000"``);
two locations are a point.

Example:
    >>> from grounding_rewards import DEFAULT_CONFIG
    >>> [m.point for m in read_molmo('<point x="61.5" y="40" alt="cat">cat</point>',
    ...                              DEFAULT_CONFIG).points]
    [(61.5, 40.0)]
    >>> [(m.label, m.box) for m in read_florence2("car<loc_1><loc_2><loc_30><loc_40>",
    ...                                           DEFAULT_CONFIG).boxes]
    [('car', (1.0, 2.0, 30.0, 40.0))]
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from grounding_rewards.dialects._numbers import NUMBER, label_text
from grounding_rewards.dialects.marks import BoxMark, PointMark, Reading

if TYPE_CHECKING:
    from grounding_rewards.config import RewardConfig

__all__ = ["read_bare", "read_florence2", "read_molmo"]

_N = rf"\s*({NUMBER})\s*"
_BARE = re.compile(rf"\[{_N},{_N},{_N},{_N}\]")


def read_bare(text: str, config: RewardConfig) -> Reading:
    """Read every bare ``[x1, y1, x2, y2]`` list as an unlabelled box."""
    reading = Reading()
    for match in _BARE.finditer(text):
        x1, y1, x2, y2 = (float(v) for v in match.groups())
        reading.boxes.append(BoxMark("", (x1, y1, x2, y2), match.start(), match.end()))
        if len(reading.boxes) > config.max_boxes:
            break
    return reading


_MOLMO = re.compile(r"<(points?)\b([^<>]{0,4000})>([^<]{0,400})(</\1\s*>)?", re.IGNORECASE)
_ATTR = re.compile(r"""([A-Za-z_][\w-]{0,16})\s*=\s*(?:"([^"]{0,64})"|'([^']{0,64})')""")
_INDEXED = re.compile(r"([xy])(\d{1,3})")


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def read_molmo(text: str, config: RewardConfig) -> Reading:
    """Read Molmo's ``<point>`` and ``<points>`` tags (one point per coordinate pair)."""
    from grounding_rewards.parsing import FormatIssue

    reading = Reading()
    for match in _MOLMO.finditer(text):
        tag, attributes, inner, closing = match.groups()
        start, end = match.start(), match.end()
        if closing is None:
            reading.issues.append(FormatIssue("unclosed_tag", start, f"<{tag}> is not closed"))
        attrs = {
            m[1].lower(): m[2] if m[2] is not None else m[3] for m in _ATTR.finditer(attributes)
        }
        label = label_text(inner) or label_text(attrs.get("alt", ""))
        if tag.lower() == "point":
            pairs = [(attrs.get("x"), attrs.get("y"))]
        else:
            indices = sorted({int(m[2]) for k in attrs if (m := _INDEXED.fullmatch(k))})
            pairs = [(attrs.get(f"x{i}"), attrs.get(f"y{i}")) for i in indices] or [(None, None)]
        for x_text, y_text in pairs:
            x, y = _number(x_text), _number(y_text)
            if x is None or y is None:
                reading.issues.append(
                    FormatIssue("unparsable_point", start, f"cannot read a point from <{tag} ...>")
                )
                reading.points.append(PointMark(label, None, start, end))
            else:
                reading.points.append(PointMark(label, (x, y), start, end))
        if len(reading.points) > config.max_boxes:
            break
    return reading


_LOC_RUN = re.compile(r"(?:<loc_\d{1,4}>){1,64}")
_LOC = re.compile(r"<loc_(\d{1,4})>")


def read_florence2(text: str, config: RewardConfig) -> Reading:
    """Read Florence-2's ``label<loc_..>`` runs: 4 locations a box, 2 a point."""
    from grounding_rewards.parsing import FormatIssue

    reading = Reading()
    previous = 0
    for match in _LOC_RUN.finditer(text):
        start, end = match.start(), match.end()
        label = label_text(text[previous:start])
        label_start = start  # the locations decide the block (a label may follow a tag)
        previous = end
        values = [float(v) for v in _LOC.findall(match.group(0))]
        if len(values) == 4:
            x1, y1, x2, y2 = values
            reading.boxes.append(BoxMark(label, (x1, y1, x2, y2), label_start, end))
        elif len(values) == 2:
            reading.points.append(PointMark(label, (values[0], values[1]), label_start, end))
        else:
            reading.issues.append(
                FormatIssue("unparsable_bbox", start, f"{len(values)} locations: expected 4 or 2")
            )
            reading.boxes.append(BoxMark(label, None, label_start, end))
        if len(reading.boxes) > config.max_boxes or len(reading.points) > config.max_boxes:
            break
    return reading
