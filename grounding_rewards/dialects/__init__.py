r"""Dialects: the syntaxes models write boxes and points in, all read into one ``Trace``.

=================  ==============================================================  ===========
dialect            what the model writes                                           usual space
=================  ==============================================================  ===========
``tags``           ``<obj>cat</obj><bbox>[x1, y1, x2, y2]</bbox>`` (our default)   ``pixel``
``json``           ``{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}`` (Qwen2.5/3-VL)  ``qwen25vl``
``qwen2-tokens``   ``<|object_ref_start|>cat<|object_ref_end|><|box_start|>...``   ``norm1000``
``ref-box``        ``<ref>cat</ref><box>[[x1, y1, x2, y2]]</box>`` (InternVL)      ``norm1000``
``bare``           ``[x1, y1, x2, y2]`` anywhere, unlabelled (REC answers)         ``pixel``
``molmo``          ``<point x="61.5" y="40.2" alt="cat">cat</point>`` (Molmo)     ``norm100``
``florence2``      ``cat<loc_12><loc_40><loc_300><loc_512>`` (Florence-2)          ``norm1000``
=================  ==============================================================  ===========

Example:
    >>> from grounding_rewards import RewardConfig, parse_trace
    >>> text = '```json\n[{"bbox_2d": [10, 20, 110, 220], "label": "cat"}]\n```'
    >>> trace = parse_trace(text, config=RewardConfig(dialect="json"))
    >>> [(s.label, s.box) for s in trace.spans], trace.blockless
    ([('cat', (10.0, 20.0, 110.0, 220.0))], True)
    >>> render_marks([("cat", (10, 20, 110, 220))], "qwen2-tokens")
    '<|object_ref_start|>cat<|object_ref_end|><|box_start|>(10,20),(110,220)<|box_end|>'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from grounding_rewards.dialects.marks import BoxMark, PointMark, Reading
from grounding_rewards.dialects.registry import (
    Dialect,
    Reader,
    Renderer,
    dialect_names,
    dialects,
    get_dialect,
    register_dialect,
)

if TYPE_CHECKING:
    from grounding_rewards.config import RewardConfig

__all__ = [
    "BoxMark",
    "Dialect",
    "PointMark",
    "Reader",
    "Reading",
    "Renderer",
    "dialect_names",
    "dialects",
    "get_dialect",
    "register_dialect",
    "render_marks",
]


def render_marks(
    items: Iterable[tuple[str, Sequence[float]]],
    dialect: str = "tags",
    config: RewardConfig | None = None,
) -> str:
    r"""Write labelled boxes (4 numbers) and points (2 numbers) the way ``dialect`` does.

    :func:`~grounding_rewards.parse_trace` with the same dialect reads them back (labels
    dropped where the dialect writes none, e.g. ``bare``).

    Args:
        items: ``(label, box)`` or ``(label, point)`` pairs, in the model's coordinates.
        dialect: A registered dialect name.
        config: Tag names for ``tags``; ``None`` uses the defaults.

    Returns:
        The text of the marks (no ``<think>``/``<answer>`` blocks around them).

    Raises:
        ConfigError: For an unknown dialect, or a point in a dialect that writes none.

    Example:
        >>> print(render_marks([("cat", (1, 2, 3, 4)), ("dog", (5, 6))], "json"))
        ```json
        [{"bbox_2d": [1, 2, 3, 4], "label": "cat"}, {"point_2d": [5, 6], "label": "dog"}]
        ```
    """
    from grounding_rewards.config import DEFAULT_CONFIG

    return get_dialect(dialect).render(items, config or DEFAULT_CONFIG)
