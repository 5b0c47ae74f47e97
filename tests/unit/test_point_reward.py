"""R_point: one-to-one points in boxes (or polygons), the length penalty, the Gaussian variant."""

from __future__ import annotations

import math

import pytest

from grounding_rewards import GroundTruthError, RewardConfig, parse_trace, point_reward


def wrap(*points: tuple[str, float, float]) -> str:
    body = "".join(f"<obj>{label}</obj><point>[{x}, {y}]</point>" for label, x, y in points)
    return f"<think>{body}</think><answer>A</answer>"


BOXES = [[0, 0, 10, 10], [20, 0, 30, 10]]


def test_each_box_hit_once_scores_one_in_any_order() -> None:
    assert point_reward(wrap(("a", 5, 5), ("b", 25, 5)), BOXES) == 1.0
    assert point_reward(wrap(("b", 25, 5), ("a", 5, 5)), BOXES) == 1.0


def test_edges_are_inside() -> None:
    assert point_reward(wrap(("a", 10, 10), ("b", 20, 0)), BOXES) == 1.0


def test_two_points_in_one_box_earn_one_hit() -> None:
    # matched 1 of m = 2, n = 2: (1 / 2) * min(1, 2 / 2) = 0.5
    assert point_reward(wrap(("a", 5, 5), ("a", 6, 6)), BOXES) == 0.5


def test_maximum_matching_not_greedy() -> None:
    # Point 0 lies in both boxes, point 1 only in box 0. Greedy (point 0 -> box 0) matches
    # one; the maximum matching gives point 0 box 1 and point 1 box 0: both hit.
    overlapping = [[0, 0, 10, 10], [5, 0, 15, 10]]
    assert point_reward(wrap(("a", 7, 5), ("b", 2, 5)), overlapping) == 1.0


def test_spam_is_bounded() -> None:
    # n = 6 points, every box hit: (2 / 2) * min(1, 2 / 6) = 1/3
    spam = wrap(*[("a", 5, 5), ("b", 25, 5)] * 3)
    assert point_reward(spam, BOXES) == pytest.approx(1 / 3)
    # alpha = 0 turns the penalty off (documented), alpha = 2 squares it.
    assert point_reward(spam, BOXES, config=RewardConfig(length_penalty=0)) == 1.0
    assert point_reward(spam, BOXES, config=RewardConfig(length_penalty=2)) == pytest.approx(1 / 9)


def test_near_misses_earn_nothing_under_inside() -> None:
    assert point_reward(wrap(("a", 10.5, 5)), [[0, 0, 10, 10]]) == 0.0


def test_edge_cases() -> None:
    assert point_reward(wrap(("a", 1, 1)), []) is None
    assert point_reward("<think>no points</think><answer>A</answer>", BOXES) == 0.0
    assert point_reward(wrap(("a", math.inf, 1)), [[0, 0, 10, 10]]) == 0.0
    too_many = RewardConfig(max_boxes=2)
    assert point_reward(wrap(*[("a", 5, 5)] * 3), [[0, 0, 10, 10]], config=too_many) == 0.0


def test_points_outside_the_counted_region_do_not_count() -> None:
    text = "<think>x</think><answer><obj>a</obj><point>[5, 5]</point></answer>"
    assert point_reward(text, [[0, 0, 10, 10]]) == 0.0
    assert point_reward(text, [[0, 0, 10, 10]], config=RewardConfig(box_region="answer")) == 1.0


def test_label_gating() -> None:
    config = RewardConfig(label_matching="exact")
    text = wrap(("cat", 5, 5), ("dog", 25, 5))
    assert point_reward(text, BOXES, gt_labels=["cat", "dog"], config=config) == 1.0
    # the labels swapped: no point lies in a box of its own label
    assert point_reward(text, BOXES, gt_labels=["dog", "cat"], config=config) == 0.0
    with pytest.raises(ValueError, match="needs gt_labels"):
        point_reward(text, BOXES, config=config)


def test_polygon_targets() -> None:
    # A right triangle (0,0), (10,0), (0,10): (2, 2) is inside, (8, 8) is in its box only.
    triangle = [[[0, 0], [10, 0], [0, 10]]]
    assert point_reward(wrap(("a", 2, 2)), None, gt_polygons=triangle) == 1.0
    assert point_reward(wrap(("a", 8, 8)), None, gt_polygons=triangle) == 0.0
    assert point_reward(wrap(("a", 8, 8)), [[0, 0, 10, 10]]) == 1.0
    with pytest.raises(GroundTruthError, match="one polygon per box"):
        point_reward(wrap(("a", 2, 2)), BOXES, gt_polygons=triangle)
    with pytest.raises(GroundTruthError, match=">= 3 finite vertices"):
        point_reward(wrap(("a", 2, 2)), None, gt_polygons=[[[0, 0], [1, 1]]])


def test_gaussian_clicks() -> None:
    config = RewardConfig(point_scoring="gaussian", point_sigma=0.5)
    # centre of a 10x20 box: exp(0) = 1
    assert point_reward(wrap(("a", 5, 10)), [[0, 0, 10, 20]], config=config) == 1.0
    # dx = 5 = 1 sigma (0.5 * 10), dy = 0: exp(-1/2)
    assert point_reward(wrap(("a", 10, 10)), [[0, 0, 10, 20]], config=config) == pytest.approx(
        math.exp(-0.5)
    )
    # a click far away earns almost nothing, and never more than one at the centre
    far = point_reward(wrap(("a", 100, 100)), [[0, 0, 10, 20]], config=config)
    assert far is not None and 0.0 <= far < 1e-6


def test_normalized_coordinates() -> None:
    config = RewardConfig(coords="norm1000")
    # (500, 500) on a 200x100 image is (100, 50): inside the box (90, 40, 110, 60)
    assert (
        point_reward(
            wrap(("a", 500, 500)), [[90, 40, 110, 60]], image_size=(200, 100), config=config
        )
        == 1.0
    )
    with pytest.raises(ValueError, match="needs image_size"):
        point_reward(wrap(("a", 500, 500)), [[90, 40, 110, 60]], config=config)


def test_tag_point_parsing_issues() -> None:
    trace = parse_trace("<think><obj>a</obj><point>[1, 2, 3]</point></think><answer>A</answer>")
    assert [p.valid for p in trace.points] == [False]
    assert "unparsable_point" in [i.code for i in trace.issues]
    # Several points of a plural object
    trace = parse_trace("<think><obj>eyes</obj><point>[[1, 2], [3, 4]]</point></think>")
    assert [(p.label, p.point) for p in trace.points] == [
        ("eyes", (1.0, 2.0)),
        ("eyes", (3.0, 4.0)),
    ]
