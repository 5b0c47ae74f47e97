"""The input of ``grounding-rewards export``: grounded QA records, one JSON object a line.

Two kinds of line are read:

1. The **simple schema**, for data from anywhere::

       {"id": "cat-1",                      # optional; default: "<file stem>-<line>"
        "image": "images/cat.jpg",          # path, relative to the JSONL file (or --image-root)
        "question": "What colour are the cat's eyes?",
        "choices": ["blue", "brown", "green", "red"],
        "answer": "C",                      # letter, "(C)", or the option's text
        "objects": [{"label": "left eye", "box": [135, 85, 205, 150]}],  # pixel xyxy
        "image_size": [451, 300]}           # optional (width, height); read from the file if absent

   ``objects`` may be empty or absent (then the box reward does not apply to the example).

2. A **synthesis record** (``grounding-rewards synth`` output: ``image.source``,
   ``image.width``/``height`` and a ``qa`` list, each item with ``question``,
   ``choices``, ``answer``, ``gt_boxes``, ``gt_labels``): one example per QA item;
   records whose ``status`` is ``failed`` are skipped.

Boxes are always pixel ``xyxy`` of the original image (after EXIF orientation).
Every problem raises :class:`~grounding_rewards.errors.GroundTruthError` naming the
file, the line and the field.

Example:
    >>> line = ('{"image": "a.png", "question": "Which?", "choices": ["x", "y"], "answer": "y",'
    ...         ' "objects": [{"label": "y", "box": [1, 2, 3, 4]}]}')
    >>> [ex] = examples_from_line(line, where="data.jsonl:1", default_id="data-1")
    >>> ex.id, ex.answer, ex.boxes, ex.labels
    ('data-1', 'B', ((1.0, 2.0, 3.0, 4.0),), ('y',))
    >>> examples_from_line('{"image": "a.png"}', where="data.jsonl:2", default_id="data-2")
    Traceback (most recent call last):
    ...
    grounding_rewards.errors.GroundTruthError: data.jsonl:2: question: expected a non-empty ...
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grounding_rewards.errors import GroundTruthError
from grounding_rewards.ground_truth import parse_ground_truth

__all__ = ["GroundedExample", "examples_from_line", "read_examples"]

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class GroundedExample:
    """One grounded multiple-choice question about one image.

    Attributes:
        id: Stable example id.
        image: Path of the image file (as written in the input; resolved by the reader).
        question: The question.
        choices: Option texts; option ``A`` is ``choices[0]``.
        answer: The correct option letter.
        boxes: Ground-truth boxes, pixel ``xyxy`` of the original image.
        labels: One label per box.
        image_size: ``(width, height)`` when the input states it, else ``None``.
        rationale: A grounded reasoning trace, when the input has one (synthesis QA).
    """

    id: str
    image: str
    question: str
    choices: tuple[str, ...]
    answer: str
    boxes: tuple[Box, ...] = ()
    labels: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None
    rationale: str | None = None


def _text(value: Any, field: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise GroundTruthError(f"{where}: {field}: expected a non-empty string, got {value!r}")
    return value


def _size(value: Any, where: str) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        size = parse_ground_truth(image_size=value).image_size
    except GroundTruthError as error:
        raise GroundTruthError(f"{where}: {error}") from None
    assert size is not None
    return (round(size[0]), round(size[1]))


def _example(
    *,
    where: str,
    id: str,
    image: Any,
    question: Any,
    choices: Any,
    answer: Any,
    boxes: Any,
    labels: Any,
    image_size: Any,
    rationale: Any = None,
) -> GroundedExample:
    image = _text(image, "image", where)
    question = _text(question, "question", where)
    if choices is None:
        raise GroundTruthError(f"{where}: choices: expected a list of option texts, got None")
    if answer is None:
        raise GroundTruthError(f"{where}: answer: expected an option letter like 'B', got None")
    try:
        truth = parse_ground_truth(answer=answer, gt_boxes=boxes, gt_labels=labels, choices=choices)
    except GroundTruthError as error:
        raise GroundTruthError(f"{where}: {error}") from None
    if truth.boxes and truth.labels is None:
        raise GroundTruthError(f"{where}: objects: expected a label for every box, got none")
    assert truth.answer is not None and truth.choices is not None
    return GroundedExample(
        id=id,
        image=image,
        question=question,
        choices=truth.choices,
        answer=truth.answer,
        boxes=truth.boxes,
        labels=truth.labels or (),
        image_size=_size(image_size, where),
        rationale=rationale if isinstance(rationale, str) else None,
    )


def _simple(obj: Mapping[str, Any], where: str, default_id: str) -> GroundedExample:
    objects = obj.get("objects") or []
    if not isinstance(objects, list):
        raise GroundTruthError(f"{where}: objects: expected a list, got {objects!r}")
    boxes, labels = [], []
    for index, item in enumerate(objects):
        if not isinstance(item, Mapping) or "box" not in item:
            raise GroundTruthError(
                f"{where}: objects[{index}]: expected {{'label': ..., 'box': [x1, y1, x2, y2]}}, "
                f"got {item!r}"
            )
        boxes.append(item["box"])
        labels.append(_text(item.get("label"), f"objects[{index}].label", where))
    identifier = obj.get("id", default_id)
    return _example(
        where=where,
        id=str(identifier),
        image=obj.get("image"),
        question=obj.get("question"),
        choices=obj.get("choices"),
        answer=obj.get("answer"),
        boxes=boxes,
        labels=labels if boxes else None,
        image_size=obj.get("image_size"),
        rationale=obj.get("rationale"),
    )


def _synthesis(obj: Mapping[str, Any], where: str) -> list[GroundedExample]:
    if obj.get("status", "ok") != "ok":
        return []
    image = obj["image"]
    size = None
    if image.get("width") is not None and image.get("height") is not None:
        size = (image["width"], image["height"])
    examples = []
    for index, qa in enumerate(obj.get("qa") or []):
        if not isinstance(qa, Mapping):
            raise GroundTruthError(f"{where}: qa[{index}]: expected an object, got {qa!r}")
        examples.append(
            _example(
                where=f"{where}: qa[{index}]",
                id=f"{obj.get('id', where)}:{qa.get('id', index)}",
                image=image.get("source"),
                question=qa.get("question"),
                choices=qa.get("choices"),
                answer=qa.get("answer"),
                boxes=qa.get("gt_boxes") or [],
                labels=qa.get("gt_labels") if qa.get("gt_boxes") else None,
                image_size=size,
                rationale=qa.get("rationale"),
            )
        )
    return examples


def examples_from_line(line: str, *, where: str, default_id: str) -> list[GroundedExample]:
    """Parse one JSONL line into examples (a synthesis record may give several, or none).

    Args:
        line: One JSON object.
        where: ``file:line`` for error messages.
        default_id: Id of a simple-schema example that has none.

    Returns:
        The examples.

    Raises:
        GroundTruthError: For invalid JSON or a malformed field.
    """
    try:
        obj = json.loads(line)
    except ValueError as error:
        raise GroundTruthError(
            f"{where}: expected a JSON object, got invalid JSON ({error})"
        ) from None
    if not isinstance(obj, Mapping):
        raise GroundTruthError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "qa" in obj and isinstance(obj.get("image"), Mapping):
        return _synthesis(obj, where)
    return [_simple(obj, where, default_id)]


def read_examples(
    path: str | Path, *, image_root: str | Path | None = None
) -> Iterator[GroundedExample]:
    """Read a JSONL file of grounded QA records (either kind, mixed freely).

    Relative image paths are resolved against ``image_root``, or else the file's folder.
    Blank lines are skipped.

    Args:
        path: The JSONL file.
        image_root: Folder that relative image paths start from.

    Yields:
        Each example, with an absolute image path.

    Raises:
        GroundTruthError: For a malformed line (``file:line: field: expected X, got Y``),
            or a duplicate id.
        OSError: When the file cannot be read.
    """
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            for example in examples_from_line(
                line, where=where, default_id=f"{path.stem}-{number}"
            ):
                if example.id in seen:
                    raise GroundTruthError(
                        f"{where}: id: expected a unique id, got {example.id!r} "
                        f"(also on line {seen[example.id]})"
                    )
                seen[example.id] = number
                image = Path(example.image).expanduser()
                if not image.is_absolute():
                    image = root / image
                yield dataclasses.replace(example, image=str(image.resolve()))
