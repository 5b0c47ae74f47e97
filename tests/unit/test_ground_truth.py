"""Hand-checkable cases for grounding_rewards.ground_truth.parse_ground_truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grounding_rewards import GroundTruth, GroundTruthError, parse_ground_truth


def test_everything_at_once() -> None:
    gt = parse_ground_truth(
        answer="(b)",
        gt_boxes=[[0, 0, 10, 10], [5, 5, 20, 30]],
        gt_labels=["cat", "dog"],
        choices=["dog", "cat"],
        image_size={"width": 64, "height": 48},
    )
    assert gt == GroundTruth(
        answer="B",
        boxes=((0.0, 0.0, 10.0, 10.0), (5.0, 5.0, 20.0, 30.0)),
        labels=("cat", "dog"),
        choices=("dog", "cat"),
        image_size=(64.0, 48.0),
    )


def test_defaults_are_empty() -> None:
    assert parse_ground_truth() == GroundTruth(None, (), None, None, None)


@pytest.mark.parametrize(
    "boxes",
    [
        [[0, 0, 10, 10], [2, 2, 3, 3]],
        "[[0, 0, 10, 10], [2, 2, 3, 3]]",  # JSON string
        b"[[0, 0, 10, 10], [2, 2, 3, 3]]",  # JSON bytes
        np.array([[0, 0, 10, 10], [2, 2, 3, 3]]),
        np.array([[0, 0, 10, 10], [2, 2, 3, 3]], dtype=np.float32),
        ((0, 0, 10, 10), (2, 2, 3, 3)),
    ],
)
def test_boxes_in_every_container(boxes: object) -> None:
    assert parse_ground_truth(gt_boxes=boxes).boxes == (
        (0.0, 0.0, 10.0, 10.0),
        (2.0, 2.0, 3.0, 3.0),
    )


def test_a_single_bare_box() -> None:
    assert parse_ground_truth(gt_boxes=[1, 2, 3, 4]).boxes == ((1.0, 2.0, 3.0, 4.0),)
    assert parse_ground_truth(gt_boxes="[1, 2, 3, 4]").boxes == ((1.0, 2.0, 3.0, 4.0),)


@pytest.mark.parametrize("empty", [None, [], "[]", "null", np.zeros((0, 4))])
def test_no_boxes(empty: object) -> None:
    assert parse_ground_truth(gt_boxes=empty).boxes == ()


def test_json_labels_choices_and_size() -> None:
    gt = parse_ground_truth(
        answer="white",
        gt_boxes="[[0, 0, 1, 1]]",
        gt_labels='["cat"]',
        choices='["black", "white"]',
        image_size='{"width": 640, "height": 480}',
    )
    assert (gt.answer, gt.labels, gt.choices, gt.image_size) == (
        "B",
        ("cat",),
        ("black", "white"),
        (640.0, 480.0),
    )
    assert parse_ground_truth(image_size="[640, 480]").image_size == (640.0, 480.0)


def test_choices_as_mapping_are_ordered_by_key() -> None:
    assert parse_ground_truth(choices={"B": "y", "A": "x"}).choices == ("x", "y")


def test_image_size_is_width_then_height() -> None:
    assert parse_ground_truth(image_size=(640, 480)).image_size == (640.0, 480.0)
    assert parse_ground_truth(image_size={"height": 480, "width": 640}).image_size == (
        640.0,
        480.0,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gt_boxes": "[[0, 0, 1"}, r"gt_boxes: expected a JSON value, got '\[\[0, 0, 1'"),
        ({"gt_boxes": [[0, 0, 1, 1], [0, 0, 1]]}, r"gt_boxes\[1\]: expected \[x1, y1, x2, y2\]"),
        (
            {"gt_boxes": [[0, 0, 1, 1], [0, "x", 1, 1]]},
            r"gt_boxes\[1\]: expected \[x1, y1, x2, y2\]",
        ),
        ({"gt_boxes": [[0, 0, math.nan, 1]]}, r"gt_boxes\[0\]: expected finite numbers"),
        ({"gt_boxes": [[0, 0, math.inf, 1]]}, r"gt_boxes\[0\]: expected finite numbers"),
        (
            {"gt_boxes": [[0, 0, 1, 1], [0, 0, 1, 1], [3, 0, 1, 1]]},
            r"gt_boxes\[2\]: expected x1 < x2 and y1 < y2, got \[3.0, 0.0, 1.0, 1.0\]",
        ),
        ({"gt_boxes": [[0, 0, 0, 1]]}, r"gt_boxes\[0\]: expected x1 < x2 and y1 < y2"),
        ({"gt_boxes": 5}, r"gt_boxes: expected a list of \[x1, y1, x2, y2\], got 5"),
        ({"gt_boxes": {"a": 1}}, r"gt_boxes: expected a list"),
        ({"gt_boxes": "[" * 100_000}, r"gt_boxes: expected a JSON value"),
        (
            {"gt_boxes": [[0, 0, 1, 1]], "gt_labels": ["a", "b"]},
            r"gt_labels: expected one label per box \(1\), got 2",
        ),
        (
            {"gt_boxes": [[0, 0, 1, 1]], "gt_labels": [3]},
            r"gt_labels\[0\]: expected a string, got 3",
        ),
        ({"gt_boxes": [[0, 0, 1, 1]], "gt_labels": "cat"}, r"gt_labels: expected"),
        ({"gt_boxes": [[0, 0, 1, 1]], "gt_labels": 7}, r"gt_labels: expected a list of strings"),
        ({"answer": 3}, r"answer: expected an option letter like 'B', got 3"),
        ({"answer": "A or B"}, r"answer: expected one option \(A-Z\), got 'A or B'"),
        ({"answer": ""}, r"answer: expected one option"),
        (
            {"answer": "E", "choices": ["a", "b"]},
            r"answer: expected one option \(A-B or an option's text\), got 'E'",
        ),
        ({"choices": []}, r"choices: expected 1 to 26 options, got 0"),
        ({"choices": ["x"] * 27}, r"choices: expected 1 to 26 options, got 27"),
        ({"choices": ["x", 2]}, r"choices\[1\]: expected a string, got 2"),
        ({"image_size": (0, 480)}, r"image_size: expected two finite numbers > 0"),
        ({"image_size": (640, 480, 3)}, r"image_size: expected \(width, height\)"),
        ({"image_size": "abc"}, r"image_size: expected a JSON value"),
        ({"image_size": {"w": 1, "h": 1}}, r"image_size: expected \(width, height\)"),
    ],
)
def test_malformed_ground_truth_raises_naming_the_item(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(GroundTruthError, match=message):
        parse_ground_truth(**kwargs)  # type: ignore[arg-type]


def test_ground_truth_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_ground_truth(gt_boxes="not json")


def test_ground_truth_is_frozen() -> None:
    gt = parse_ground_truth(gt_boxes=[[0, 0, 1, 1]])
    with pytest.raises(AttributeError):
        gt.boxes = ()  # type: ignore[misc]
