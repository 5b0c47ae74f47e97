"""R_bbox invariants of the reward contract (DESIGN.md, "The reward contract")."""

import math
import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import grounding_rewards as gr
from grounding_rewards.audit.coords import pixel_to_space
from grounding_rewards.testing import (
    coord_spaces,
    degenerate_boxes,
    ground_truths,
    grounded_spans,
    perfect_completions,
    render_completion,
    valid_boxes,
)

CONFIGS = {space: gr.RewardConfig(coords=space) for space in gr.boxes.COORD_SPACES}


@st.composite
def perfect_cases(draw):
    gt = draw(ground_truths())
    space = draw(coord_spaces())
    text = draw(perfect_completions(gt, space))
    return gt, space, text


@given(perfect_cases())
def test_perfect_prediction_in_any_order_scores_one(case):
    gt, space, text = case
    r = gr.grounding_reward(text, **gt, config=CONFIGS[space])
    assert r.bbox == pytest.approx(1.0, abs=1e-9)
    assert (r.format, r.accuracy) == (1.0, 1.0)


@st.composite
def predictions(draw, max_size=7, more_than_gt=False, min_size=0):
    """Ground truth and predicted spans (pixel boxes) for the same image."""
    gt = draw(ground_truths(max_objects=5))
    low = len(gt["gt_boxes"]) + 1 if more_than_gt else min_size
    spans = draw(
        grounded_spans(gt["image_size"], "pixel", min_size=low, max_size=max(low, max_size))
    )
    # Mix in near-copies of ground-truth boxes so that matches are not all zero.
    for box in draw(st.lists(st.sampled_from(gt["gt_boxes"]), max_size=3)):
        spans.append(("near", tuple(v + draw(st.integers(-3, 3)) for v in box)))
    return gt, spans


def _bbox(spans, gt, config=None, gt_order=None):
    boxes, labels = gt["gt_boxes"], gt["gt_labels"]
    if gt_order is not None:
        boxes = [boxes[i] for i in gt_order]
        labels = [labels[i] for i in gt_order]
    text = render_completion(spans, gt["answer"])
    return gr.bbox_reward(text, boxes, gt_labels=labels, image_size=gt["image_size"], config=config)


@given(
    predictions(),
    st.randoms(use_true_random=False),
    st.sampled_from(["iou", "giou", "diou", "ciou"]),
    st.sampled_from(["ignore", "fuzzy"]),
)
def test_order_of_spans_and_of_ground_truth_does_not_matter(case, rnd, similarity, labels):
    gt, spans = case
    config = gr.RewardConfig(similarity=similarity, label_matching=labels)
    base = _bbox(spans, gt, config)
    shuffled = spans[:]
    rnd.shuffle(shuffled)
    assert _bbox(shuffled, gt, config) == pytest.approx(base, abs=1e-9)
    order = list(range(len(gt["gt_boxes"])))
    rnd.shuffle(order)
    assert _bbox(spans, gt, config, gt_order=order) == pytest.approx(base, abs=1e-9)


def _far_box(gt):
    """A box inside the image that overlaps no ground-truth box, or None."""
    width, height = gt["image_size"]
    rng = random.Random(repr(gt["gt_boxes"]))
    for _ in range(400):
        w, h = rng.uniform(0.5, max(0.6, width / 8)), rng.uniform(0.5, max(0.6, height / 8))
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        box = (x, y, x + w, y + h)
        if all(
            min(box[2], g[2]) <= max(box[0], g[0]) or min(box[3], g[3]) <= max(box[1], g[1])
            for g in gt["gt_boxes"]
        ):
            return box
    return None


@given(predictions(), st.integers(0, 10), st.sampled_from([0.0, 0.5, 1.0, 2.0]))
def test_adding_a_box_that_overlaps_no_ground_truth_never_raises_bbox(case, at, alpha):
    # Under IoU (the default) only: with GIoU/DIoU/CIoU a disjoint box has a positive
    # similarity, so a box nearer than a matched one can raise R_bbox, by design (a near
    # miss earns signal). E.g. giou, gt [[0, 0, 10, 10], [50, 50, 60, 60]]: one exact box
    # scores 0.5, adding [80, 80, 90, 90] scores 0.53125.
    gt, spans = case
    far = _far_box(gt)
    assume(far is not None)
    config = gr.RewardConfig(length_penalty=alpha)
    before = _bbox(spans, gt, config)
    more = spans[:]
    more.insert(min(at, len(more)), ("extra", far))
    after = _bbox(more, gt, config)
    assert after <= before + 1e-12
    n, m = len(spans), len(gt["gt_boxes"])
    if alpha == 1.0 and n >= m and before > 0:
        assert after < before  # with alpha = 1 and n >= m it strictly lowers R_bbox


@given(predictions(), st.data(), st.integers(1, 5), st.sampled_from(["iou", "giou", "ciou"]))
def test_duplicating_a_box_never_raises_bbox_with_one_ground_truth_box(case, data, k, similarity):
    gt, spans = case
    gt = {**gt, "gt_boxes": gt["gt_boxes"][:1], "gt_labels": gt["gt_labels"][:1]}
    assume(spans)
    config = gr.RewardConfig(similarity=similarity)
    i = data.draw(st.integers(0, len(spans) - 1))
    before = _bbox(spans, gt, config)
    after = _bbox(spans[: i + 1] + [spans[i]] * k + spans[i + 1 :], gt, config)
    assert after <= before + 1e-12


@given(
    predictions(max_size=10, more_than_gt=True),
    st.floats(1.0, 4.0),
    st.sampled_from(["iou", "giou", "diou", "ciou"]),
)
def test_box_spam_is_bounded_by_m_over_n(case, alpha, similarity):
    gt, spans = case
    n, m = len(spans), len(gt["gt_boxes"])
    assert n > m
    value = _bbox(spans, gt, gr.RewardConfig(length_penalty=alpha, similarity=similarity))
    assert value <= m / n + 1e-12


@given(ground_truths(max_objects=4), coord_spaces(), st.integers(2, 6))
def test_spam_of_perfect_duplicates_is_bounded(gt, space, k):
    """The audit's spam case as a property: every perfect box written k times scores 1/k."""
    size = gt["image_size"]
    spans = [
        (lab, pixel_to_space(b, space, size))
        for lab, b in zip(gt["gt_labels"], gt["gt_boxes"], strict=True)
    ]
    text = render_completion([s for s in spans for _ in range(k)], gt["answer"])
    value = gr.bbox_reward(text, gt["gt_boxes"], image_size=size, config=CONFIGS[space])
    assert value == pytest.approx(1.0 / k, abs=1e-9)


@given(ground_truths(max_objects=1), valid_boxes((640, 480)))
def test_no_predicted_box_scores_zero_and_no_ground_truth_is_none(gt, box):
    text_without = render_completion([], gt["answer"])
    assert gr.bbox_reward(text_without, gt["gt_boxes"], image_size=gt["image_size"]) == 0.0
    text_with = render_completion([("x", box)], gt["answer"])
    assert gr.bbox_reward(text_with, [], image_size=gt["image_size"]) is None


@given(predictions(), degenerate_boxes((640, 480)), st.integers(0, 10))
def test_an_invalid_box_scores_zero_but_counts_in_n(case, bad, at):
    gt, spans = case
    before = _bbox(spans, gt)
    more = spans[:]
    more.insert(min(at, len(more)), ("bad", bad))
    after = _bbox(more, gt)
    n, m = len(spans), len(gt["gt_boxes"])
    if all(math.isfinite(v) for v in bad) and bad[0] < bad[2] and bad[1] < bad[3]:
        assert after <= before + 1e-12  # a huge but valid box: at best a sliver of IoU
    else:
        # alpha = 1: R = sum / max(n, m); the invalid box adds 0 to the sum and 1 to n
        assert after == pytest.approx(before * max(n, m) / max(n + 1, m), abs=1e-12)


@given(predictions(max_size=9, min_size=5), st.integers(1, 4))
def test_more_boxes_than_max_boxes_score_zero(case, cap):
    gt, spans = case
    assert len(spans) > cap
    config = gr.RewardConfig(max_boxes=cap)
    text = render_completion(spans, gt["answer"])
    r = gr.grounding_reward(text, **gt, config=config)
    assert r.bbox == 0.0 and r.format == 0.0
    assert any(issue.code == "too_many_boxes" for issue in r.issues)
