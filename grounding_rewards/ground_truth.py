"""Validate and normalize the caller's ground truth once, with errors that point at the item.

Ground truth is the caller's data, not model output: malformed ground truth raises
:class:`~grounding_rewards.errors.GroundTruthError` (a ``ValueError``) naming the field
and item. Values may arrive as Python objects, numpy arrays or JSON strings (as
dataset columns and veRL's ``ground_truth`` often hold them); JSON is read with
``json``, never ``eval``.

Example:
    >>> gt = parse_ground_truth(answer="(b)", gt_boxes="[[0, 0, 10, 10]]", gt_labels=["cat"],
    ...                         choices=["dog", "cat"], image_size={"width": 64, "height": 48})
    >>> gt.answer, gt.boxes, gt.labels, gt.image_size
    ('B', ((0.0, 0.0, 10.0, 10.0),), ('cat',), (64.0, 48.0))
    >>> parse_ground_truth(gt_boxes=[[5, 5, 1, 1]])
    Traceback (most recent call last):
    ...
    grounding_rewards.errors.GroundTruthError: gt_boxes[0]: expected x1 < x2 and y1 < y2, got ...
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from grounding_rewards.boxes import validate_image_size
from grounding_rewards.errors import GroundTruthError
from grounding_rewards.options import extract_option

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "AnswerLike",
    "BoxesLike",
    "ChoicesLike",
    "GroundTruth",
    "LabelsLike",
    "PolygonsLike",
    "SizeLike",
    "parse_ground_truth",
]

Box = tuple[float, float, float, float]

# What the rewards accept as ground truth, before validation: Python values, numpy arrays
# or JSON strings (as dataset columns and veRL's ground_truth hold them).
AnswerLike = object
"""The correct option: ``"B"``, ``"(B)"`` or an option's text; ``None`` for none. Typed
``object`` because any other value is the caller's error, reported as a
:class:`~grounding_rewards.errors.GroundTruthError` (a narrower type would make the
compiled functions raise a bare ``TypeError`` first)."""
BoxesLike = Union[Sequence[Sequence[float]], Sequence[float], "NDArray[Any]", str, bytes, None]
"""``[[x1, y1, x2, y2], ...]`` (or one bare box), a numpy array or a JSON string."""
LabelsLike = Union[Sequence[str], "NDArray[Any]", str, bytes, None]
"""One label per box: a list, a numpy array or a JSON string."""
ChoicesLike = Union[Sequence[str], Mapping[str, str], "NDArray[Any]", str, bytes, None]
"""Option texts in order, a ``{"A": ..., "B": ...}`` mapping or a JSON string."""
SizeLike = Union[Sequence[float], Mapping[str, float], "NDArray[Any]", str, bytes, None]
"""``(width, height)``, ``{"width": ..., "height": ...}`` or a JSON string."""
PolygonsLike = Union[Sequence[Sequence[Sequence[float]]], "NDArray[Any]", str, bytes, None]
"""One ``[[x, y], ...]`` polygon per object, a numpy array or a JSON string."""


class GroundTruth(NamedTuple):
    """Validated ground truth of one sample.

    An immutable named tuple, like :class:`~grounding_rewards.parsing.GroundedSpan`: it is
    built once per scored completion, where a tuple is several times cheaper to create than
    a frozen dataclass.

    Attributes:
        answer: The correct option letter, or ``None`` when there is no answer to check.
        boxes: Ground-truth boxes, pixel ``xyxy`` of the original image.
        labels: One label per box, or ``None``.
        choices: Option texts (A, B, ...), or ``None``.
        image_size: ``(width, height)`` of the original image, or ``None``.
        polygons: One pixel polygon per box (a mask's outline), or ``None``.
    """

    answer: str | None = None
    boxes: tuple[Box, ...] = ()
    labels: tuple[str, ...] | None = None
    choices: tuple[str, ...] | None = None
    image_size: tuple[float, float] | None = None
    polygons: tuple[tuple[tuple[float, float], ...], ...] | None = None


_make_truth = GroundTruth._make  # tuple.__new__: several times cheaper than the constructor


def _decode(name: str, value: Any) -> Any:
    if isinstance(value, (str, bytes)) and name != "answer":
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            raise GroundTruthError(
                f"{name}: expected a JSON value, got {str(value)[:80]!r}"
            ) from None
    if hasattr(value, "tolist"):  # numpy arrays, pandas/pyarrow scalars
        return value.tolist()
    return value


def _boxes(value: Any) -> tuple[Box, ...]:
    if type(value) is not list:  # a list, the common case, needs no decoding
        value = _decode("gt_boxes", value)
        if value is None:
            return ()
        if not isinstance(value, Sequence):
            raise GroundTruthError(f"gt_boxes: expected a list of [x1, y1, x2, y2], got {value!r}")
    if len(value) == 4 and all(isinstance(v, (int, float)) for v in value):
        value = [value]  # one bare box
    boxes = []
    for index, item in enumerate(value):
        try:
            x1, y1, x2, y2 = item
            box = (float(x1), float(y1), float(x2), float(y2))
        except (TypeError, ValueError):
            raise GroundTruthError(
                f"gt_boxes[{index}]: expected [x1, y1, x2, y2], got {item!r}"
            ) from None
        if not math.isfinite(box[0] + box[1] + box[2] + box[3]):
            raise GroundTruthError(f"gt_boxes[{index}]: expected finite numbers, got {list(box)}")
        if not (box[0] < box[2] and box[1] < box[3]):
            raise GroundTruthError(
                f"gt_boxes[{index}]: expected x1 < x2 and y1 < y2, got {list(box)}"
            )
        boxes.append(box)
    return tuple(boxes)


def _strings(name: str, value: Any) -> tuple[str, ...] | None:
    if type(value) is list or type(value) is tuple:  # the common case, decoded
        strings = tuple(value)
        if all(type(item) is str for item in strings):
            return strings
    value = _decode(name, value)
    if value is None:
        return None
    if isinstance(value, Mapping):  # {"A": "...", "B": "..."}
        value = [value[key] for key in sorted(value)]
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise GroundTruthError(f"{name}: expected a list of strings, got {value!r}")
    strings = tuple(value)
    if not all(type(item) is str for item in strings):
        for index, item in enumerate(strings):
            if not isinstance(item, str):
                raise GroundTruthError(f"{name}[{index}]: expected a string, got {item!r}")
    return strings


@lru_cache(maxsize=4096)
def _answer(value: Any, choices: tuple[str, ...] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise GroundTruthError(f"answer: expected an option letter like 'B', got {value!r}")
    letter = extract_option(value, choices=choices)
    if letter is None:
        expected = f"A-{chr(64 + len(choices))} or an option's text" if choices else "A-Z"
        raise GroundTruthError(f"answer: expected one option ({expected}), got {value!r}")
    return letter


def _polygons(value: Any) -> tuple[tuple[tuple[float, float], ...], ...] | None:
    value = _decode("gt_polygons", value)
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise GroundTruthError(f"gt_polygons: expected a list of [[x, y], ...], got {value!r}")
    polygons = []
    for index, polygon in enumerate(value):
        polygon = polygon.tolist() if hasattr(polygon, "tolist") else polygon
        try:
            vertices = tuple((float(x), float(y)) for x, y in polygon)
        except (TypeError, ValueError):
            raise GroundTruthError(
                f"gt_polygons[{index}]: expected [[x, y], ...], got {polygon!r}"
            ) from None
        if len(vertices) < 3 or not all(math.isfinite(x + y) for x, y in vertices):
            raise GroundTruthError(
                f"gt_polygons[{index}]: expected >= 3 finite vertices, got {len(vertices)}"
            )
        polygons.append(vertices)
    return tuple(polygons)


def _polygon_box(polygon: tuple[tuple[float, float], ...]) -> Box:
    xs = [x for x, _ in polygon]
    ys = [y for _, y in polygon]
    return (min(xs), min(ys), max(xs), max(ys))


def parse_ground_truth(
    *,
    answer: AnswerLike = None,
    gt_boxes: BoxesLike = None,
    gt_labels: LabelsLike = None,
    choices: ChoicesLike = None,
    image_size: SizeLike = None,
    gt_polygons: PolygonsLike = None,
) -> GroundTruth:
    """Validate ground truth and return it normalized.

    Args:
        answer: The correct option: ``"B"``, ``"(B)"``, or an option's text when
            ``choices`` are given; ``None`` when there is none.
        gt_boxes: ``[[x1, y1, x2, y2], ...]`` pixel boxes of the original image (a list,
            a numpy array or a JSON string); ``None`` or empty when there are none.
        gt_labels: One label per box, or ``None``.
        choices: Option texts in order, a ``{"A": ..., "B": ...}`` mapping, or ``None``.
        image_size: ``(width, height)`` or ``{"width": ..., "height": ...}``, or ``None``.
        gt_polygons: One pixel polygon ``[[x, y], ...]`` per object (a mask's outline),
            for point rewards; without ``gt_boxes`` the boxes are the polygons' bounds.

    Returns:
        The normalized :class:`GroundTruth`.

    Raises:
        GroundTruthError: For any malformed field; the message names it.

    Example:
        >>> parse_ground_truth(gt_boxes=[1, 2, 3, 4]).boxes
        ((1.0, 2.0, 3.0, 4.0),)
    """
    boxes = _boxes(gt_boxes)
    polygons = None if gt_polygons is None else _polygons(gt_polygons)
    if polygons is not None:
        if not boxes:
            boxes = tuple(_polygon_box(polygon) for polygon in polygons)
        elif len(boxes) != len(polygons):
            raise GroundTruthError(
                f"gt_polygons: expected one polygon per box ({len(boxes)}), got {len(polygons)}"
            )
    labels = None if gt_labels is None else _strings("gt_labels", gt_labels)
    if labels is not None and len(labels) != len(boxes):
        raise GroundTruthError(
            f"gt_labels: expected one label per box ({len(boxes)}), got {len(labels)}"
        )
    option_texts = None if choices is None else _strings("choices", choices)
    if option_texts is not None and not 1 <= len(option_texts) <= 26:
        raise GroundTruthError(f"choices: expected 1 to 26 options, got {len(option_texts)}")
    size = None if image_size is None else validate_image_size(_decode("image_size", image_size))
    try:
        letter = None if answer is None else _answer(answer, option_texts)
    except TypeError:  # an unhashable answer (a list, a dict) cannot be a letter
        raise GroundTruthError(
            f"answer: expected an option letter like 'B', got {answer!r}"
        ) from None
    return _make_truth((letter, boxes, labels, option_texts, size, polygons))
