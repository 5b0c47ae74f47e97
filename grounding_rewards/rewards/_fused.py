"""The clean-completion path: score a well-formed completion without building its trace.

Most completions of a trained policy are clean: the canonical shape of
:func:`~grounding_rewards.parsing._fast_trace` (``<think>`` with grounded spans, then
``<answer>``), every label non-empty, every box valid. In the ``json`` dialect: the four
block tags are the text's only ``<`` and its built-in reader finds valid boxes in the
reasoning and nothing to report. For those, the full path's trace has no parser issue:
R_format depends only on the boxes' place in the image and their count, R_accuracy on
the answer text and R_bbox on the boxes. This module reads just those from the text,
with the same patterns, reader and ``float`` conversions as the parser, and scores them
with the same functions (:func:`extract_option`, :func:`~grounding_rewards.iou.iou_rows`,
:func:`~grounding_rewards.rewards._bbox_value.matched_parts`), skipping the trace, its
spans and the per-component result objects.

Anything else returns ``None`` and the caller takes the full path: a completion that is
not clean, and a configuration other than the built-in format, accuracy and bbox
components with plain IoU, no label gating, and boxes counted in the reasoning (or
anywhere), in the ``tags`` or the built-in ``json`` dialect. ``tests/property/test_fused.py``
checks that every value equals the full path's, bit for bit, on every shape the property
strategies write and on the benchmark corpus.
"""

from __future__ import annotations

import math
import re

from grounding_rewards.components import Scorer, active_scorers
from grounding_rewards.config import RewardConfig
from grounding_rewards.dialects.registry import Dialect, Reader, get_dialect
from grounding_rewards.ground_truth import GroundTruth
from grounding_rewards.matching import iou_rows
from grounding_rewards.options import extract_option
from grounding_rewards.parsing import FormatIssue, _canonical_blocks, _parse_boxes, _plan
from grounding_rewards.rewards._bbox_value import BoxParts, matched_parts, to_pixels
from grounding_rewards.rewards.format import _TOLERANCE, _image_bounds, format_component
from grounding_rewards.rewards.option import option_component

__all__ = ["CleanScores", "clean_scores", "clean_values", "fused_weights"]

# (name, weight) of each component the configuration scores, in its order, and whether
# bbox is one of them.
_Weights = tuple[tuple[tuple[str, float], ...], bool]

_FUSED: dict[int, tuple[RewardConfig, object, object, _Weights | None]] = {}

CleanScores = tuple[str, int, float, tuple[FormatIssue, ...], BoxParts | None]
"""The stripped answer, the boxes counted, R_format, the format issues, and the bbox
parts (``None`` when bbox is not scored)."""


def fused_weights(config: RewardConfig) -> _Weights | None:
    """``(name, weight)`` of each component and whether bbox is one, or ``None``.

    ``None`` when ``config`` cannot be fused. Cached by identity of the configuration, of
    its resolved scorers (:func:`~grounding_rewards.components.active_scorers`, whose
    cache any registration clears) and of its dialect, so that re-registering a
    built-in component or dialect is seen at once.

    Example:
        >>> from grounding_rewards import DEFAULT_CONFIG
        >>> fused_weights(DEFAULT_CONFIG)
        ((('format', 1.0), ('accuracy', 1.0), ('bbox', 1.0)), True)
        >>> fused_weights(RewardConfig(similarity="giou")) is None
        True
    """
    scorers = active_scorers(config)
    dialect = get_dialect(config.dialect)
    entry = _FUSED.get(id(config))
    if entry is not None and entry[0] is config and entry[1] is scorers and entry[2] is dialect:
        return entry[3]
    weights = _weights(config, scorers, dialect)
    if len(_FUSED) >= 64:
        _FUSED.clear()
    _FUSED[id(config)] = (config, scorers, dialect, weights)
    return weights


def _weights(
    config: RewardConfig, scorers: tuple[tuple[str, float, Scorer], ...], dialect: Dialect
) -> _Weights | None:
    if (
        config.dialect not in ("tags", "json")
        or (config.dialect == "json" and not _builtin_json(dialect))
        or config.similarity != "iou"
        or config.label_matching != "ignore"
        or config.box_region not in ("think", "anywhere")
    ):
        return None
    from grounding_rewards.rewards.bbox import score_boxes  # bbox imports this module

    builtin = {"format": format_component, "accuracy": option_component, "bbox": score_boxes}
    weights = []
    for name, weight, scorer in scorers:
        if builtin.get(name) is not scorer:
            return None
        weights.append((name, weight))
    return tuple(weights), any(name == "bbox" for name, _ in weights)


def _builtin_json(dialect: Dialect) -> bool:
    """Whether the ``json`` dialect is still the built-in reader (it can be replaced)."""
    reader = dialect.reader
    return reader is _json_reader() or reader == "grounding_rewards.dialects.json_objects:read_json"


_READ_JSON: list[Reader] = []  # the built-in JSON reader, loaded on first use


def _json_reader() -> Reader:
    """The built-in JSON reader (its module loads only when a ``json`` config is scored)."""
    if not _READ_JSON:
        from grounding_rewards.dialects.json_objects import read_json

        _READ_JSON.append(read_json)
    return _READ_JSON[0]


def clean_scores(
    text: str,
    truth: GroundTruth,
    config: RewardConfig,
    score_bbox: bool,
    check_format: bool = True,
) -> CleanScores | None:
    """What the full path would score for a clean completion, or ``None`` for the full path.

    A clean completion has no parser issue; the format reward may still find boxes
    outside the image or fewer spans than ``min_spans``, reported as the full path does.

    Args:
        text: The completion.
        truth: Validated ground truth.
        config: A configuration for which :func:`fused_weights` is not ``None``.
        score_bbox: Whether to score the boxes (the bbox component is active).
        check_format: Whether to run the format checks (``bbox_reward`` needs none: it
            then gets R_format 1 and no issue, whatever the boxes).

    Returns:
        ``(answer, n, R_format, format issues, bbox parts)``, or ``None`` when the
        completion is not clean.

    Raises:
        ValueError: When ``config.coords`` needs an image size that ``truth`` lacks and
            bbox is scored (as the full path raises).

    Example:
        >>> from grounding_rewards import DEFAULT_CONFIG, parse_ground_truth
        >>> truth = parse_ground_truth(answer="A", gt_boxes=[[0, 0, 4, 4]])
        >>> clean_scores("<think><obj>x</obj><bbox>[0, 0, 4, 2]</bbox></think>"
        ...              "<answer>A</answer>", truth, DEFAULT_CONFIG, True)
        ('A', 1, 1.0, (), (0.5, 1, 1, ((0, 0),), (0.5,)))
        >>> clean_scores("<think><bbox>[0, 0, 4, 2]</bbox></think><answer>A</answer>",
        ...              truth, DEFAULT_CONFIG, True) is None  # a box without a label
        True
    """
    if len(text) > config.max_chars:
        return None
    plan = _plan(config)
    blocks = _canonical_blocks(text, plan)
    if blocks is None:
        return None
    think_start, think_end, answer = blocks
    answer = answer.strip()
    if not answer:
        return None
    if config.dialect == "tags":
        tags_boxes = _tag_boxes(text, think_start, think_end, config, plan[4])
    else:
        tags_boxes = _json_boxes(text, think_start, think_end, config)
    if tags_boxes is None:
        return None
    boxes = tags_boxes
    n = len(boxes)
    form = 1.0
    issues: tuple[FormatIssue, ...] = ()
    if check_format:
        form, issues = _format(text, boxes, think_start, think_end, truth.image_size, config)
    if not score_bbox:
        return answer, n, form, issues, None
    m = len(truth.boxes)
    if m == 0:
        return answer, n, form, issues, (None, n, 0, (), ())
    sx, sy = to_pixels(truth, config)
    if n == 0:
        return answer, n, form, issues, (0.0, 0, m, (), ())
    if sx != 1.0 or sy != 1.0:
        boxes = [(b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for b in boxes]
    scores = iou_rows(boxes, [True] * n, truth.boxes)
    return answer, n, form, issues, matched_parts(scores, n, m, config.length_penalty)


def _tag_boxes(
    text: str, think_start: int, think_end: int, config: RewardConfig, spans: re.Pattern[str]
) -> list[tuple[float, float, float, float]] | None:
    """The boxes of the reasoning's spans, or ``None`` unless every span is clean.

    ``spans`` is the parser's fast-path pattern (:func:`~grounding_rewards.parsing._plan`).
    """
    tags = text.count("<", think_start, think_end)
    if tags % 4 or tags // 4 > config.max_boxes:
        return None
    boxes: list[tuple[float, float, float, float]] = []
    found = 0
    if tags:
        max_boxes = config.max_boxes
        for label, n1, n2, n3, n4, content in spans.findall(text, think_start, think_end):
            found += 1
            if not label.strip():  # an empty label
                return None
            if n1:
                x1, y1, x2, y2 = float(n1), float(n2), float(n3), float(n4)
                if not (x1 < x2 and y1 < y2 and math.isfinite((x2 - x1) + (y2 - y1) + x1 + y1)):
                    return None
                boxes.append((x1, y1, x2, y2))
                continue
            plural = _parse_boxes(content, max_boxes)  # a plural box
            if plural is None:
                return None
            for x1, y1, x2, y2 in plural:
                if not (x1 < x2 and y1 < y2 and math.isfinite((x2 - x1) + (y2 - y1) + x1 + y1)):
                    return None
                boxes.append((x1, y1, x2, y2))
        if len(boxes) > max_boxes:
            return None
    if found * 4 != tags:
        return None
    return boxes


def _json_boxes(
    text: str, think_start: int, think_end: int, config: RewardConfig
) -> list[tuple[float, float, float, float]] | None:
    """The boxes of the reasoning's JSON objects, or ``None`` unless all are clean.

    Clean: the four block tags are the only ``<`` of the text (what the parser's
    ``fast_blocks`` reads), the reader reports no issue and no point, and every box is
    valid and written in the reasoning (or anywhere, with ``box_region="anywhere"``).
    """
    if text.count("<") != 4:
        return None
    reading = _json_reader()(text, config)
    if reading.issues or reading.points or len(reading.boxes) > config.max_boxes:
        return None
    anywhere = config.box_region == "anywhere"
    boxes: list[tuple[float, float, float, float]] = []
    for mark in reading.boxes:
        box = mark.box
        if box is None or not (anywhere or think_start <= mark.start < think_end):
            return None
        x1, y1, x2, y2 = box
        if not (x1 < x2 and y1 < y2 and math.isfinite((x2 - x1) + (y2 - y1) + x1 + y1)):
            return None
        boxes.append(box)
    return boxes


def _format(
    text: str,
    boxes: list[tuple[float, float, float, float]],
    think_start: int,
    think_end: int,
    image_size: tuple[float, float] | None,
    config: RewardConfig,
) -> tuple[float, tuple[FormatIssue, ...]]:
    """R_format and its issues for valid boxes, as ``format_checks`` gives them.

    Four checks pass (structure, answer, grounding, valid boxes); ``boxes_in_image``
    (when the bounds are known) and ``min_spans`` are decided here.
    """
    if image_size is not None and config.coords == "pixel":
        sx, sy, (width, height) = 1.0, 1.0, image_size
    else:
        sx, sy, width, height = _image_bounds(config, image_size)
    checks = 5
    issues: list[FormatIssue] = []
    if width > 0:
        checks = 6
        tol_x, tol_y = _TOLERANCE * width, _TOLERANCE * height
        for index, (x1, y1, x2, y2) in enumerate(boxes):
            if (
                x1 * sx < -tol_x
                or y1 * sy < -tol_y
                or x2 * sx > width + tol_x
                or y2 * sy > height + tol_y
            ):
                start = _span_start(text, index, think_start, think_end, config)
                box = boxes[index]
                issues.append(
                    FormatIssue("box_out_of_image", start, f"box {box} is outside the image")
                )
                break
    n = len(boxes)
    if n < config.min_spans:
        issues.append(
            FormatIssue("too_few_spans", 0, f"{n} grounded spans < min_spans {config.min_spans}")
        )
    if not issues:
        return 1.0, ()
    passed = checks - len(issues)
    if config.format_mode == "strict":
        return 0.0, tuple(issues)
    return passed / checks, tuple(issues)


def _span_start(text: str, index: int, start: int, end: int, config: RewardConfig) -> int:
    """Offset of the span holding the ``index``-th box (rarely needed: read again)."""
    if config.dialect == "json":
        return _json_reader()(text, config).boxes[index].start
    seen = 0
    for match in _plan(config)[4].finditer(text, start, end):
        if match.group(2):
            seen += 1
        else:
            seen += len(_parse_boxes(match.group(6), config.max_boxes) or ())
        if seen > index:
            return match.start()
    raise AssertionError("unreachable: the box was read from this text")


def clean_values(
    clean: CleanScores, truth: GroundTruth, weights: tuple[tuple[str, float], ...]
) -> tuple[float, list[float | None]]:
    """The total and each component's value of a clean completion, in ``weights``' order.

    Summed in the order :func:`~grounding_rewards.rewards.composite.score_trace` sums.

    Example:
        >>> from grounding_rewards import DEFAULT_CONFIG, parse_ground_truth
        >>> truth = parse_ground_truth(answer="B", gt_boxes=[[0, 0, 4, 4]])
        >>> text = "<think><obj>x</obj><bbox>[0, 0, 4, 2]</bbox></think><answer>A</answer>"
        >>> weights = fused_weights(DEFAULT_CONFIG)[0]
        >>> clean_values(clean_scores(text, truth, DEFAULT_CONFIG, True), truth, weights)
        (1.5, [1.0, 0.0, 0.5])
    """
    answer, _, form, _, parts = clean
    total = 0.0
    values: list[float | None] = []
    value: float | None
    for name, weight in weights:
        if name == "format":
            value = form
        elif name == "accuracy":
            value = (
                None
                if truth.answer is None
                else 1.0
                if extract_option(answer, choices=truth.choices) == truth.answer
                else 0.0
            )
        else:
            value = None if parts is None else parts[0]
        values.append(value)
        if value is not None:
            total += weight * value
    return total, values
