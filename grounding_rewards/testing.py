"""Hypothesis strategies for grounded traces: test your own reward code with ours.

Needs the ``testing`` extra (``pip install 'grounding-rewards[testing]'``, which
installs `hypothesis <https://hypothesis.readthedocs.io>`_). Importing
``grounding_rewards`` never imports this module or hypothesis.

What is here (each returns a hypothesis ``SearchStrategy``):

* geometry: :func:`image_sizes`, :func:`coord_spaces`, :func:`valid_boxes`,
  :func:`degenerate_boxes`, :func:`out_of_bounds_boxes`, :func:`boxes`;
* text: :func:`labels`, :func:`grounded_spans`, :func:`grounded_traces` (a
  well-formed completion with the spans and answer it was built from),
  :func:`well_formed_completions`, :func:`perfect_completions`,
  :func:`malformed_traces` / :func:`malformed_completions` (one known defect
  each), :func:`adversarial_completions` (nested, unclosed and mis-cased tags,
  NaN/inf/1e309, huge numbers, thousands of tags, megabyte strings),
  :func:`completions` (any of these, or any text);
* data: :func:`ground_truths` (keyword arguments for the rewards),
  :func:`reward_configs`;
* :func:`register_profiles`: hypothesis settings profiles ``ci``, ``dev`` and
  ``thorough``.

Boxes are written in a *coordinate space* (``pixel``, ``norm1000``, ``norm1``,
``qwen25vl``) for an image size ``(width, height)``; ground truth is always pixel
``xyxy`` of the original image, as the rewards expect.

Example:
    >>> from hypothesis import given, settings
    >>> from grounding_rewards import format_reward
    >>> from grounding_rewards.testing import completions
    >>> @settings(max_examples=25)
    ... @given(completions())
    ... def test_format_reward_in_range(text):
    ...     assert 0.0 <= format_reward(text) <= 1.0
    >>> test_format_reward_in_range()
"""

from __future__ import annotations

import math
import os
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from grounding_rewards._optional import require

require("hypothesis", extra="testing")

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from grounding_rewards.audit.coords import SPACES, BoxT, pixel_to_space, space_extent  # noqa: E402
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig  # noqa: E402
from grounding_rewards.errors import ConfigError, InputError  # noqa: E402
from grounding_rewards.parsing import format_span  # noqa: E402

__all__ = [
    "MALFORMATIONS",
    "GeneratedTrace",
    "adversarial_completions",
    "boxes",
    "completions",
    "coord_spaces",
    "degenerate_boxes",
    "ground_truths",
    "grounded_spans",
    "grounded_traces",
    "image_sizes",
    "labels",
    "malformed_completions",
    "malformed_traces",
    "out_of_bounds_boxes",
    "perfect_completions",
    "register_profiles",
    "render_completion",
    "reward_configs",
    "space_extent",
    "valid_boxes",
    "well_formed_completions",
]

Span = tuple[str, BoxT]
"""A grounded span as generated: ``(label, (x1, y1, x2, y2))`` in the model's space."""

_INTEGER_SPACES = frozenset({"norm1000", "qwen25vl"})
_CHOICE_WORDS = (
    "red",
    "blue",
    "white",
    "black",
    "green",
    "two",
    "three",
    "four",
    "left",
    "right",
    "a dog",
    "a cat",
    "a bicycle",
    "the man",
    "the table",
    "yes",
    "no",
    "behind",
    "on top",
)
_PROSE = (
    "I look at the image.",
    "Next,",
    "It is next to",
    "which is near",
    "Then I check",
    "so",
    "Also visible:",
    "Comparing the options,",
    "Clearly",
    "and",
)


# -- geometry ----------------------------------------------------------------------


def image_sizes(min_side: int = 16, max_side: int = 4096) -> st.SearchStrategy[tuple[int, int]]:
    """Image sizes ``(width, height)`` with an aspect ratio of at most 50.

    Args:
        min_side: Smallest side in pixels.
        max_side: Largest side in pixels.

    Returns:
        A strategy of ``(width, height)``.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=20)
        ... @given(image_sizes())
        ... def check(size):
        ...     assert max(size) <= 50 * min(size) and min(size) >= 16
        >>> check()
    """
    if not 1 <= min_side <= max_side:
        raise ConfigError(f"expected 1 <= min_side <= max_side, got {min_side}, {max_side}")

    def clamp(size: tuple[int, int]) -> tuple[int, int]:
        width, height = size
        low = max(min_side, math.ceil(width / 50))
        return width, min(max(height, low), width * 50, max_side)

    side = st.integers(min_side, max_side)
    return st.tuples(side, side).map(clamp)


def coord_spaces() -> st.SearchStrategy[str]:
    """The coordinate spaces: ``pixel``, ``norm1000``, ``norm1``, ``norm100``, ``qwen25vl``."""
    return st.sampled_from(SPACES)


_IMAGE_SIZES = image_sizes()
_SPACES = coord_spaces()

# Boxes are drawn as unit fractions from *static* strategies and scaled with plain
# functions: building a strategy per draw (flatmap) costs hypothesis far more.
_UNIT = st.floats(0.0, 1.0, allow_nan=False)
_UNIT_BOX = st.tuples(_UNIT, _UNIT, _UNIT, _UNIT)
UnitBox = tuple[float, float, float, float]


def _side(u: float, v: float, extent: float, integer: bool, min_size: float) -> tuple[float, float]:
    """Map unit draws to ``(a, b)`` with ``0 <= a < b <= extent`` and ``b - a >= min_size``."""
    if integer:
        top = max(1, int(extent))
        least = min(max(1, math.ceil(min_size)), top)
        first = min(int(u * (top - least + 1)), top - least)
        last = min(top, first + least + int(v * (top - first - least + 1)))
        return float(first), float(last)
    size = min(max(min_size, extent * 1e-9), extent)
    a = u * (extent - size)
    b = min(extent, a + size + v * (extent - a - size))
    # Rounding can leave b - a a few ulps of `extent` short of `size` (every value
    # here is at most `extent`): step a down by that ulp, a bounded number of times.
    ulp = math.ulp(extent)
    for _ in range(16):
        if b - a >= size or a == 0.0:
            break
        a = max(0.0, a - ulp)
    if b - a < size:
        a, b = 0.0, max(b, size)
    return a, b


def _scale_box(unit: UnitBox, extent: tuple[float, float], integer: bool, min_size: float) -> BoxT:
    x1, x2 = _side(unit[0], unit[2], extent[0], integer, min_size)
    y1, y2 = _side(unit[1], unit[3], extent[1], integer, min_size)
    return (x1, y1, x2, y2)


def _integer_flags(space: str, integer: bool | None) -> st.SearchStrategy[bool]:
    if integer is not None:
        return st.just(integer)
    if space in _INTEGER_SPACES:
        return st.just(True)
    if space == "norm1":
        return st.just(False)
    return st.booleans()


def valid_boxes(
    image_size: Sequence[int],
    space: str = "pixel",
    *,
    integer: bool | None = None,
    min_size: float = 0.0,
    min_pixels: int = 3136,
    max_pixels: int = 12845056,
) -> st.SearchStrategy[BoxT]:
    """Valid boxes inside the image, written in ``space``: ``x1 < x2``, ``y1 < y2``.

    Args:
        image_size: ``(width, height)`` of the original image.
        space: Coordinate space of the box.
        integer: Integer coordinates (default: integers for ``norm1000`` and
            ``qwen25vl``, floats for ``norm1``, either for ``pixel``).
        min_size: Smallest width and height, in the space's units.
        min_pixels: Qwen2.5-VL ``min_pixels`` (``qwen25vl``).
        max_pixels: Qwen2.5-VL ``max_pixels`` (``qwen25vl``).

    Returns:
        A strategy of ``(x1, y1, x2, y2)`` floats.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=20)
        ... @given(valid_boxes((640, 480), "norm1000"))
        ... def check(box):
        ...     assert 0 <= box[0] < box[2] <= 1000 and 0 <= box[1] < box[3] <= 1000
        >>> check()
    """
    extent = space_extent(space, image_size, min_pixels=min_pixels, max_pixels=max_pixels)
    return st.tuples(_integer_flags(space, integer), _UNIT_BOX).map(
        lambda fu: _scale_box(fu[1], extent, fu[0], min_size)
    )


_NONFINITE = (math.nan, math.inf, -math.inf)


def degenerate_boxes(
    image_size: Sequence[int] | None = None, space: str = "pixel"
) -> st.SearchStrategy[BoxT]:
    """Degenerate or absurd boxes: zero width or height, inverted, NaN, infinite, huge.

    The zero-size, inverted and non-finite ones are invalid (they score 0 and are
    format issues); the huge ones (a coordinate of magnitude >= 1e30) are finite
    and ordered but cover no image sensibly.

    Args:
        image_size: ``(width, height)``; places the finite ones inside the image.
        space: Coordinate space.

    Returns:
        A strategy of ``(x1, y1, x2, y2)`` floats (possibly NaN or infinite).

    Example:
        >>> import math
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=20)
        ... @given(degenerate_boxes((640, 480)))
        ... def check(box):
        ...     ordered = box[0] < box[2] and box[1] < box[3]
        ...     assert not ordered or not all(map(math.isfinite, box)) or max(box) >= 1e30
        >>> check()
    """
    w, h = (1000.0, 1000.0) if image_size is None else space_extent(space, image_size)
    xs = st.floats(0.0, w, allow_nan=False)
    ys = st.floats(0.0, h, allow_nan=False)
    nonfinite = st.sampled_from(_NONFINITE)
    huge = st.sampled_from((1e30, -1e30, 1e308, -1e308, 1.7e308))
    zero_width = st.tuples(xs, ys, ys).map(lambda t: (t[0], min(t[1:]), t[0], max(t[1:])))
    zero_height = st.tuples(xs, xs, ys).map(lambda t: (min(t[:2]), t[2], max(t[:2]), t[2]))
    inverted = st.tuples(xs, ys, xs, ys).filter(lambda b: b[0] > b[2] or b[1] > b[3])
    with_nonfinite = st.tuples(
        st.one_of(xs, nonfinite),
        st.one_of(ys, nonfinite),
        st.one_of(xs, nonfinite),
        st.one_of(ys, nonfinite),
    ).filter(lambda b: not all(math.isfinite(v) for v in b))
    with_huge = st.tuples(st.one_of(xs, huge), ys, huge, st.one_of(ys, huge))
    return st.one_of(zero_width, zero_height, inverted, with_nonfinite, with_huge)


def out_of_bounds_boxes(image_size: Sequence[int], space: str = "pixel") -> st.SearchStrategy[BoxT]:
    """Well-ordered finite boxes that extend outside the image by at least 1%.

    Args:
        image_size: ``(width, height)`` of the original image.
        space: Coordinate space.

    Returns:
        A strategy of ``(x1, y1, x2, y2)`` with ``x1 < x2``, ``y1 < y2``.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=20)
        ... @given(out_of_bounds_boxes((640, 480)))
        ... def check(box):
        ...     assert box[0] < 0 or box[1] < 0 or box[2] > 640 or box[3] > 480
        >>> check()
    """
    w, h = space_extent(space, image_size)

    def side(extent: float) -> st.SearchStrategy[tuple[float, float, bool]]:
        margin = 0.01 * extent + (1.0 if extent > 2 else 0.01)

        def make(choice: tuple[str, float, float, float]) -> tuple[float, float, bool]:
            where, u, v, over = choice
            if where == "low":
                a = -(margin + over * extent)
                return a, max(a + margin, u * extent), True
            if where == "high":
                b = extent + margin + over * extent
                return min(b - margin, u * extent), b, True
            a, b = _side(u, v, extent, False, 0.0)
            return a, b, False

        return st.tuples(
            st.sampled_from(("inside", "low", "high")), _UNIT, _UNIT, st.floats(0.0, 9.0)
        ).map(make)

    return (
        st.tuples(side(w), side(h))
        .filter(lambda xy: xy[0][2] or xy[1][2])
        .map(lambda xy: (xy[0][0], xy[1][0], xy[0][1], xy[1][1]))
    )


def boxes(
    image_size: Sequence[int],
    space: str = "pixel",
    *,
    kinds: Sequence[str] = ("valid", "degenerate", "out_of_bounds"),
) -> st.SearchStrategy[BoxT]:
    """Any mix of valid, degenerate and out-of-bounds boxes.

    Args:
        image_size: ``(width, height)`` of the original image.
        space: Coordinate space.
        kinds: Which kinds to draw from.

    Returns:
        A strategy of boxes.

    Raises:
        ConfigError: For an unknown kind.
    """
    table = {
        "valid": lambda: valid_boxes(image_size, space),
        "degenerate": lambda: degenerate_boxes(image_size, space),
        "out_of_bounds": lambda: out_of_bounds_boxes(image_size, space),
    }
    unknown = set(kinds) - set(table)
    if unknown or not kinds:
        raise ConfigError(f"expected kinds among {sorted(table)}, got {list(kinds)}")
    return st.one_of(*(table[k]() for k in kinds))


# -- text --------------------------------------------------------------------------


_WORD = st.text(
    alphabet=st.characters(categories=("L", "N"), exclude_characters="<>"),
    min_size=1,
    max_size=12,
)
_CLEAN_LABELS = st.one_of(
    st.lists(_WORD, min_size=1, max_size=3).map(" ".join),
    st.tuples(_WORD, _WORD).map("-".join),
)
_TAG_LIKE_LABELS = st.sampled_from(
    (
        "",
        " ",
        "\n",
        "<obj>",
        "</obj>",
        "dog</obj><obj>cat",
        "<bbox>[1, 2, 3, 4]</bbox>",
        "a<b",
        "<think>",
        "</answer>",
        "\x00",
        "x" * 500,
    )
)
_ANY_LABELS = st.one_of(_CLEAN_LABELS, _TAG_LIKE_LABELS, st.text(max_size=40))


def labels(*, adversarial: bool = False) -> st.SearchStrategy[str]:
    """Object labels.

    Args:
        adversarial: Also any text (empty, tags, control characters), which a
            parser must survive but need not read back.

    Returns:
        A strategy of labels; the default ones are stripped, non-empty words
        (letters, digits, spaces, hyphens; any script) that parse back exactly.
    """
    return _ANY_LABELS if adversarial else _CLEAN_LABELS


@dataclass(frozen=True)
class GeneratedTrace:
    """A generated completion and what it was built from.

    Attributes:
        text: The completion.
        spans: ``(label, box)`` of every grounded span, in order, boxes as written.
        answer: The text of the answer block.
    """

    text: str
    spans: tuple[Span, ...]
    answer: str


def grounded_spans(
    image_size: Sequence[int],
    space: str = "pixel",
    *,
    min_size: int = 1,
    max_size: int = 8,
) -> st.SearchStrategy[list[Span]]:
    """Lists of ``(label, box)`` spans with valid boxes inside the image.

    Args:
        image_size: ``(width, height)`` of the original image.
        space: Coordinate space of the boxes.
        min_size: Fewest spans.
        max_size: Most spans.

    Returns:
        A strategy of span lists.
    """
    extent = space_extent(space, image_size)
    return st.lists(
        st.tuples(_CLEAN_LABELS, _integer_flags(space, None), _UNIT_BOX),
        min_size=min_size,
        max_size=max_size,
    ).map(lambda parts: [(lab, _scale_box(u, extent, flag, 0.0)) for lab, flag, u in parts])


_PROSE_PIECE = st.lists(st.sampled_from(_PROSE), max_size=3).map(" ".join)
_SPAN_PARTS = st.tuples(_CLEAN_LABELS, st.booleans(), _UNIT_BOX)


@lru_cache(maxsize=64)
def _lists(kind: str, low: int, high: int) -> st.SearchStrategy[list[Any]]:
    """Cached list strategies: building one per draw is what makes composites slow."""
    element = {"prose": _PROSE_PIECE, "span": _SPAN_PARTS}[kind]
    return st.lists(element, min_size=low, max_size=high)


def render_completion(
    spans: Sequence[Span],
    answer: str,
    *,
    prose: Sequence[str] | None = None,
    config: RewardConfig | None = None,
) -> str:
    r"""Write a completion in the trace format from spans and an answer.

    Args:
        spans: ``(label, box)`` pairs, written with :func:`~grounding_rewards.format_span`.
        answer: The answer block's text.
        prose: Text before each span and after the last (``len(spans) + 1`` items);
            default: a short sentence.
        config: Tag names.

    Returns:
        ``<think>...</think>``, a newline, ``<answer>...</answer>``.

    Example:
        >>> render_completion([("cat", (1, 2, 3, 4))], "B", prose=["The", "naps."])
        '<think>The <obj>cat</obj><bbox>[1, 2, 3, 4]</bbox> naps.</think>\n<answer>B</answer>'
    """
    config = config or DEFAULT_CONFIG
    texts = list(prose) if prose is not None else ["I see"] + ["."] * len(spans)
    if len(texts) != len(spans) + 1:
        raise InputError(f"expected {len(spans) + 1} prose pieces, got {len(texts)}")
    parts = [texts[0]]
    for (label, box), after in zip(spans, texts[1:], strict=True):
        parts.append(format_span(label, box, config=config))
        parts.append(after)
    think = " ".join(p for p in parts if p)
    t, a = config.think_tag, config.answer_tag
    return f"<{t}>{think}</{t}>\n<{a}>{answer}</{a}>"


_ANSWER_FORMS = ("{}", "({})", "{}.", "The answer is {}.", "Option {}")


def _answers(letter: str) -> st.SearchStrategy[str]:
    return st.sampled_from(_ANSWER_FORMS).map(lambda form: form.format(letter))


_ANY_ANSWER = st.tuples(st.sampled_from(_ANSWER_FORMS), st.sampled_from("ABCDEF")).map(
    lambda fl: fl[0].format(fl[1])
)


@st.composite
def _traces(
    draw: st.DrawFn,
    image_size: Sequence[int] | None,
    space: str | None,
    config: RewardConfig | None,
    min_spans: int,
    max_spans: int,
) -> GeneratedTrace:
    size = draw(_IMAGE_SIZES) if image_size is None else image_size
    chosen = draw(_SPACES) if space is None else space
    extent = space_extent(chosen, size)
    forced = None if chosen == "pixel" else chosen in _INTEGER_SPACES
    spans = [
        (label, _scale_box(unit, extent, flag if forced is None else forced, 0.0))
        for label, flag, unit in draw(_lists("span", min_spans, max_spans))
    ]
    prose = draw(_lists("prose", len(spans) + 1, len(spans) + 1))
    answer = draw(_ANY_ANSWER)
    text = render_completion(spans, answer, prose=prose, config=config)
    return GeneratedTrace(text, tuple(spans), answer)


def grounded_traces(
    image_size: Sequence[int] | None = None,
    space: str | None = "pixel",
    *,
    config: RewardConfig | None = None,
    min_spans: int = 1,
    max_spans: int = 8,
) -> st.SearchStrategy[GeneratedTrace]:
    """Well-formed completions with the spans and answer they were built from.

    Args:
        image_size: ``(width, height)``; drawn when ``None``.
        space: Coordinate space of the boxes; drawn when ``None``.
        config: Tag names.
        min_spans: Fewest grounded spans.
        max_spans: Most grounded spans.

    Returns:
        A strategy of :class:`GeneratedTrace`.

    Example:
        >>> from hypothesis import given, settings
        >>> from grounding_rewards import parse_trace
        >>> @settings(max_examples=20)
        ... @given(grounded_traces((640, 480)))
        ... def check(trace):
        ...     spans = parse_trace(trace.text).spans
        ...     assert [(s.label, s.box) for s in spans] == list(trace.spans)
        >>> check()
    """
    return _traces(image_size, space, config, min_spans, max_spans)


def well_formed_completions(
    image_size: Sequence[int] | None = None,
    space: str | None = "pixel",
    *,
    config: RewardConfig | None = None,
    min_spans: int = 1,
    max_spans: int = 8,
) -> st.SearchStrategy[str]:
    """Completions that follow the template (arguments as :func:`grounded_traces`)."""
    return grounded_traces(
        image_size, space, config=config, min_spans=min_spans, max_spans=max_spans
    ).map(lambda t: t.text)


def ground_truths(
    image_size: Sequence[int] | None = None,
    *,
    min_objects: int = 1,
    max_objects: int = 6,
    max_choices: int = 6,
) -> st.SearchStrategy[dict[str, Any]]:
    """Ground truth as keyword arguments of the rewards.

    Args:
        image_size: ``(width, height)``; drawn when ``None``.
        min_objects: Fewest ground-truth boxes.
        max_objects: Most ground-truth boxes.
        max_choices: Most options (at least 2).

    Returns:
        A strategy of dicts with ``answer`` (a letter), ``gt_boxes`` (pixel
        ``xyxy`` lists), ``gt_labels``, ``choices`` and ``image_size``: pass them as
        ``grounding_reward(text, **gt)``.

    Example:
        >>> from hypothesis import given, settings
        >>> from grounding_rewards import grounding_reward
        >>> @settings(max_examples=20)
        ... @given(ground_truths())
        ... def check(gt):
        ...     assert sorted(gt) == ["answer", "choices", "gt_boxes", "gt_labels", "image_size"]
        ...     assert grounding_reward("<answer>A</answer>", **gt).bbox == 0.0
        >>> check()
    """
    objects = st.lists(
        st.tuples(_CLEAN_LABELS, _UNIT_BOX), min_size=min_objects, max_size=max_objects
    )
    choice_lists = st.lists(
        st.sampled_from(_CHOICE_WORDS), min_size=2, max_size=max_choices, unique=True
    )
    sizes = _IMAGE_SIZES if image_size is None else st.just(tuple(image_size))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        size = draw(sizes)
        extent = (float(size[0]), float(size[1]))
        drawn = draw(objects)
        choices = draw(choice_lists)
        answer = string.ascii_uppercase[draw(st.integers(0, len(choices) - 1))]
        return {
            "answer": answer,
            "gt_boxes": [list(_scale_box(u, extent, False, 1.0)) for _, u in drawn],
            "gt_labels": [label for label, _ in drawn],
            "choices": choices,
            "image_size": (int(size[0]), int(size[1])),
        }

    return build()


def perfect_completions(
    ground_truth: dict[str, Any],
    space: str = "pixel",
    *,
    config: RewardConfig | None = None,
) -> st.SearchStrategy[str]:
    """Completions that ground every ground-truth object exactly, in any order.

    Boxes are converted from pixels to ``space`` without rounding, so the reward
    (with ``coords=space``) should be 1 up to floating-point error.

    Args:
        ground_truth: A dict from :func:`ground_truths`.
        space: Coordinate space the completion writes.
        config: Tag names and Qwen2.5-VL pixel limits.

    Returns:
        A strategy of completions with the right answer.
    """
    cfg = config or DEFAULT_CONFIG
    size = ground_truth["image_size"]
    converted = [
        pixel_to_space(b, space, size, min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels)
        for b in ground_truth["gt_boxes"]
    ]
    spans = list(zip(ground_truth["gt_labels"], converted, strict=True))

    @st.composite
    def build(draw: st.DrawFn) -> str:
        order = draw(st.permutations(spans))
        prose = draw(_lists("prose", len(order) + 1, len(order) + 1))
        answer = draw(_answers(ground_truth["answer"]))
        return render_completion(order, answer, prose=prose, config=config)

    return build()


# -- malformed and adversarial -----------------------------------------------------

MALFORMATIONS: dict[str, str] = {
    "drop_think_close": "unclosed_tag",
    "drop_answer_close": "unclosed_tag",
    "nest_think": "nested_tag",
    "miscase_think": "miscased_tag",
    "miscase_answer": "miscased_tag",
    "duplicate_answer": "duplicate_block",
    "swap_blocks": "misordered_blocks",
    "no_think": "missing_think",
    "no_answer": "missing_answer",
    "empty_answer": "empty_answer",
    "text_outside": "text_outside_blocks",
    "stray_close": "stray_closing_tag",
    "obj_without_bbox": "obj_without_bbox",
    "bbox_without_obj": "bbox_without_obj",
    "unparsable_bbox": "unparsable_bbox",
    "degenerate_bbox": "degenerate_box",
    "empty_label": "empty_label",
}
"""Each defect :func:`malformed_traces` can introduce, with the issue code it causes."""


def _malform(trace: GeneratedTrace, defect: str, config: RewardConfig) -> str:
    t, a, o, b = config.think_tag, config.answer_tag, config.obj_tag, config.bbox_tag
    text = trace.text
    think_end = text.index(f"</{t}>")
    think_body = text[len(f"<{t}>") : think_end]
    answer = trace.answer
    first_label = trace.spans[0][0]
    first_obj = f"<{o}>{first_label}</{o}>"
    edits = {
        "drop_think_close": lambda: text.replace(f"</{t}>", "", 1),
        "drop_answer_close": lambda: text.replace(f"</{a}>", "", 1),
        "nest_think": lambda: f"<{t}><{t}>{think_body}</{t}></{t}>\n<{a}>{answer}</{a}>",
        "miscase_think": lambda: text.replace(f"<{t}>", f"<{t.upper()}>", 1),
        "miscase_answer": lambda: text.replace(f"<{a}>", f"<{a.title()}>", 1),
        "duplicate_answer": lambda: text + f"\n<{a}>{answer}</{a}>",
        "swap_blocks": lambda: f"<{a}>{answer}</{a}>\n<{t}>{think_body}</{t}>",
        "no_think": lambda: f"<{a}>{answer}</{a}>",
        "no_answer": lambda: f"<{t}>{think_body}</{t}>",
        "empty_answer": lambda: f"<{t}>{think_body}</{t}>\n<{a}></{a}>",
        "text_outside": lambda: "Sure! " + text,
        "stray_close": lambda: text + f"</{t}>",
        "obj_without_bbox": lambda: text.replace(f"</{t}>", f" <{o}>{first_label}</{o}> </{t}>", 1),
        "bbox_without_obj": lambda: text.replace(first_obj, "", 1),
        "unparsable_bbox": lambda: text.replace(
            f"</{t}>", f" <{o}>x</{o}><{b}>[1, 2, three]</{b}></{t}>", 1
        ),
        "degenerate_bbox": lambda: text.replace(
            f"</{t}>", f" <{o}>x</{o}><{b}>[5, 5, 5, 9]</{b}></{t}>", 1
        ),
        "empty_label": lambda: text.replace(first_obj, f"<{o}> </{o}>", 1),
    }
    return edits[defect]()


def malformed_traces(
    image_size: Sequence[int] | None = None,
    *,
    config: RewardConfig | None = None,
) -> st.SearchStrategy[tuple[str, str]]:
    """Completions with exactly one known defect, and the issue code it causes.

    Args:
        image_size: ``(width, height)``; drawn when ``None``.
        config: Tag names.

    Returns:
        A strategy of ``(completion, issue_code)``; see :data:`MALFORMATIONS`.

    Example:
        >>> from hypothesis import given, settings
        >>> from grounding_rewards import parse_trace
        >>> @settings(max_examples=20)
        ... @given(malformed_traces((64, 64)))
        ... def check(case):
        ...     text, code = case
        ...     assert parse_trace(text).has_issue(code)
        >>> check()
    """
    cfg = config or DEFAULT_CONFIG
    return st.tuples(
        grounded_traces(image_size, "pixel", config=config), st.sampled_from(sorted(MALFORMATIONS))
    ).map(lambda td: (_malform(td[0], td[1], cfg), MALFORMATIONS[td[1]]))


def malformed_completions(
    image_size: Sequence[int] | None = None, *, config: RewardConfig | None = None
) -> st.SearchStrategy[str]:
    """Completions with one known defect (see :func:`malformed_traces`)."""
    return malformed_traces(image_size, config=config).map(lambda tc: tc[0])


_NASTY_NUMBERS = (
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "-1e309",
    "1e30",
    "-1e30",
    "1e-400",
    "9" * 400,
    "9" * 5000,
    "-0",
    "+5",
    "5.",
    ".5",
    "--3",
    "0x1F",
    "١٢٣",
    "1e",
    "",
    "12.34.56",
)


def adversarial_completions(
    *,
    config: RewardConfig | None = None,
    max_repeats: int = 5000,
) -> st.SearchStrategy[str]:
    """Completions built to break parsers and rewards.

    Nested tags (deep), unclosed and stray tags, mis-cased tags, tags with
    attributes, NaN/inf/``1e309``/thousand-digit numbers in boxes, wrong box
    arity, thousands of tags and strings up to about a megabyte (a piece repeated
    up to ``max_repeats`` times), control characters.

    Args:
        config: Tag names.
        max_repeats: Most repetitions of one piece (5000 pieces reach ~1 MB).

    Returns:
        A strategy of completions.
    """
    cfg = config or DEFAULT_CONFIG
    names = (cfg.think_tag, cfg.answer_tag, cfg.obj_tag, cfg.bbox_tag)
    tag_name = st.sampled_from(names).flatmap(
        lambda n: st.sampled_from((n, n.upper(), n.title(), n + " x=1", n + "/"))
    )
    tag = st.tuples(st.sampled_from(("", "/")), tag_name).map(lambda p: f"<{p[0]}{p[1]}>")
    number = st.one_of(
        st.sampled_from(_NASTY_NUMBERS),
        st.integers(-(10**6), 10**6).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    )
    box_text = st.lists(number, min_size=0, max_size=9).map(lambda ns: "[" + ", ".join(ns) + "]")
    span = st.tuples(labels(adversarial=True), box_text).map(
        lambda lb: f"<{cfg.obj_tag}>{lb[0]}</{cfg.obj_tag}><{cfg.bbox_tag}>{lb[1]}</{cfg.bbox_tag}>"
    )
    nested = st.tuples(st.sampled_from(names), st.integers(2, 200), st.integers(0, 200)).map(
        lambda p: f"<{p[0]}>" * p[1] + "x" + f"</{p[0]}>" * p[2]
    )
    piece = st.one_of(span, tag, nested, st.text(max_size=30), st.sampled_from(("<", ">", "\x00")))
    body = st.lists(piece, max_size=30).map("".join)
    repeated = st.tuples(piece, st.integers(1, max_repeats)).map(lambda p: p[0] * p[1])
    t, a = cfg.think_tag, cfg.answer_tag
    wrapped = st.tuples(body, body).map(lambda p: f"<{t}>{p[0]}</{t}><{a}>{p[1]}</{a}>")
    return st.one_of(body, wrapped, repeated)


def completions(
    image_size: Sequence[int] | None = None, *, config: RewardConfig | None = None
) -> st.SearchStrategy[str]:
    """Any completion: well-formed, malformed, adversarial, or arbitrary text.

    Args:
        image_size: ``(width, height)`` for the generated boxes; drawn when ``None``.
        config: Tag names.

    Returns:
        A strategy of strings.
    """
    return st.one_of(
        well_formed_completions(image_size, None, config=config),
        malformed_completions(image_size, config=config),
        adversarial_completions(config=config),
        st.text(),
    )


def reward_configs(
    *,
    min_length_penalty: float = 1.0,
    max_length_penalty: float = 3.0,
) -> st.SearchStrategy[RewardConfig]:
    """Valid :class:`~grounding_rewards.RewardConfig` objects.

    Args:
        min_length_penalty: Smallest ``length_penalty`` (the spam bound needs >= 1).
        max_length_penalty: Largest ``length_penalty``.

    Returns:
        A strategy of configs over coordinate spaces, similarities, label matching,
        format modes, box regions and weights.
    """
    weight = st.floats(0.0, 3.0, allow_nan=False)
    return st.builds(
        RewardConfig,
        weights=st.tuples(weight, weight, weight),
        coords=coord_spaces(),
        similarity=st.sampled_from(("iou", "giou", "diou", "ciou")),
        length_penalty=st.floats(min_length_penalty, max_length_penalty, allow_nan=False),
        label_matching=st.sampled_from(("ignore", "exact", "fuzzy")),
        format_mode=st.sampled_from(("strict", "graded")),
        min_spans=st.integers(0, 3),
        box_region=st.sampled_from(("think", "answer", "anywhere")),
    )


def register_profiles(*, load: bool = True, default: str = "dev") -> None:
    """Register hypothesis settings profiles and load one.

    Profiles: ``ci`` (200 examples, derandomized so CI is reproducible, no deadline),
    ``dev`` (50 examples, no deadline) and ``thorough`` (2000 examples). The profile
    named by the ``HYPOTHESIS_PROFILE`` environment variable is loaded, else
    ``default``. Call it from a ``conftest.py``.

    Args:
        load: Load a profile after registering them.
        default: Profile to load when ``HYPOTHESIS_PROFILE`` is unset.

    Raises:
        ConfigError: When the profile to load is unknown.
    """
    slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile(
        "ci",
        max_examples=200,
        deadline=None,
        derandomize=True,
        print_blob=True,
        suppress_health_check=slow_ok,
    )
    settings.register_profile("dev", max_examples=50, deadline=None, suppress_health_check=slow_ok)
    settings.register_profile(
        "thorough", max_examples=2000, deadline=None, suppress_health_check=slow_ok
    )
    if load:
        name = os.environ.get("HYPOTHESIS_PROFILE", default)
        if name not in ("ci", "dev", "thorough"):
            raise ConfigError(f"HYPOTHESIS_PROFILE: expected ci, dev or thorough, got {name!r}")
        settings.load_profile(name)
