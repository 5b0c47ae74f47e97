"""Geometry invariants: IoU symmetry, range and similarity invariance; Hungarian >= greedy;
our coordinate spaces agree with the audit's independent implementation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import grounding_rewards as gr
from grounding_rewards.audit import coords as independent
from grounding_rewards.testing import boxes, coord_spaces, image_sizes, valid_boxes

SIZE = (1000, 800)
any_box = boxes(SIZE, kinds=("valid", "degenerate", "out_of_bounds"))
IOU_FUNCTIONS = [gr.box_iou, gr.generalized_box_iou, gr.distance_box_iou, gr.complete_box_iou]


@given(st.lists(any_box, min_size=1, max_size=5), st.lists(any_box, min_size=1, max_size=5))
def test_iou_is_symmetric_and_in_unit_interval_even_for_degenerate_boxes(b1, b2):
    forward, backward = gr.box_iou(b1, b2), gr.box_iou(b2, b1)
    assert forward.shape == (len(b1), len(b2))
    assert np.all(np.isfinite(forward))
    assert np.all((forward >= 0.0) & (forward <= 1.0))
    np.testing.assert_allclose(forward, backward.T, rtol=0, atol=1e-9)


@given(
    st.lists(valid_boxes(SIZE), min_size=1, max_size=4),
    st.lists(valid_boxes(SIZE), min_size=1, max_size=4),
)
def test_generalized_ious_are_symmetric_and_bounded(b1, b2):
    # GIoU and DIoU lie in [-1, 1]; CIoU subtracts a further aspect term alpha * v < 0.5.
    # Symmetric up to rounding: boxes 1e-6 wide at x ~ 1000 lose ~1e-11 to cancellation.
    for fn, low in zip(IOU_FUNCTIONS[1:], (-1.0, -1.0, -1.5), strict=True):
        forward = fn(b1, b2)
        assert np.all(np.isfinite(forward))
        assert np.all((forward >= low - 1e-12) & (forward <= 1.0 + 1e-12))
        np.testing.assert_allclose(forward, fn(b2, b1).T, rtol=0, atol=1e-9)


@given(
    valid_boxes(SIZE, min_size=1.0),
    valid_boxes(SIZE, min_size=1.0),
    st.floats(-500, 500),
    st.floats(-500, 500),
    st.floats(0.05, 20),
)
def test_iou_invariant_to_translating_and_scaling_both_boxes(a, b, dx, dy, scale):
    def move(box):
        return [
            (box[0] + dx) * scale,
            (box[1] + dy) * scale,
            (box[2] + dx) * scale,
            (box[3] + dy) * scale,
        ]

    for fn in IOU_FUNCTIONS:
        before = fn([a], [b])[0, 0]
        after = fn([move(a)], [move(b)])[0, 0]
        assert after == pytest.approx(before, abs=1e-9)


def _greedy_total(scores):
    """Greedy matching: repeatedly take the largest remaining score."""
    cells = sorted(
        ((s, i, j) for i, row in enumerate(scores) for j, s in enumerate(row)), reverse=True
    )
    used_i, used_j, total = set(), set(), 0.0
    for s, i, j in cells:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            total += s
    return total


@given(
    st.lists(valid_boxes(SIZE), min_size=0, max_size=7),
    st.lists(valid_boxes(SIZE), min_size=0, max_size=7),
    st.sampled_from(["iou", "giou", "diou", "ciou"]),
)
def test_hungarian_total_is_at_least_greedy(b1, b2, similarity):
    config = gr.RewardConfig(similarity=similarity)
    matching = gr.match_boxes(b1, b2, config=config)
    assert len(matching.pairs) == min(len(b1), len(b2))
    assert len({i for i, _ in matching.pairs}) == len(matching.pairs)
    assert len({j for _, j in matching.pairs}) == len(matching.pairs)
    scores = gr.box_similarity(b1, b2, similarity).tolist() if b1 and b2 else []
    assert matching.total >= _greedy_total(scores) - 1e-9


@given(image_sizes(), coord_spaces(), st.data())
def test_coordinate_spaces_agree_with_the_audits_independent_implementation(size, space, data):
    box = data.draw(valid_boxes(size, "pixel"))
    ours = gr.from_pixels([box], space, size)[0]
    theirs = independent.pixel_to_space(box, space, size)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-9)
    back = gr.to_pixels([theirs], space, size)[0]
    np.testing.assert_allclose(back, box, rtol=1e-12, atol=1e-9)
    assert gr.qwen25vl_resize(size) == independent.qwen25vl_size(size)


@given(image_sizes(16, 6000), st.integers(3136, 200_000), st.integers(200_000, 20_000_000))
def test_qwen25vl_resize_matches_the_independent_formula_for_any_limits(size, low, high):
    assert gr.qwen25vl_resize(size, min_pixels=low, max_pixels=high) == independent.qwen25vl_size(
        size, min_pixels=low, max_pixels=high
    )
