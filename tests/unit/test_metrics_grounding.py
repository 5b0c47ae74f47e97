import math

import pytest

from grounding_rewards.metrics import (
    COCO_THRESHOLDS,
    grounding_metrics,
    iou_accuracy,
    match_sample,
    mean_iou,
    precision_recall_f1,
)
from grounding_rewards.metrics.grounding import threshold_key

NAN = math.nan


def test_single_box_is_refcoco_accuracy():
    # IoU([0,0,4,4], [0,0,4,2]) = 8 / 16 = 0.5: correct at 0.5 (>=), wrong at 0.55
    r = grounding_metrics([[[0, 0, 4, 4]]], [[[0, 0, 4, 2]]], thresholds=[0.5, 0.55])
    assert r.miou == 0.5
    assert r.accuracy == {0.5: 1.0, 0.55: 0.0}
    assert r.precision[0.5] == r.recall[0.5] == r.f1[0.5] == 1.0
    assert r.precision[0.55] == 0.0 and r.f1[0.55] == 0.0


def test_extra_box_lowers_sample_iou_and_accuracy_but_not_recall():
    # one exact box plus one spare: sample IoU = 1 / max(2, 1); n != m so not correct
    r = grounding_metrics(
        [[[0, 0, 10, 10], [50, 50, 60, 60]]], [[[0, 0, 10, 10]]], thresholds=[0.5]
    )
    assert r.miou == 0.5
    assert r.accuracy[0.5] == 0.0
    assert (r.precision[0.5], r.recall[0.5]) == (0.5, 1.0)
    assert r.f1[0.5] == pytest.approx(2 / 3)


def test_duplicate_boxes_are_not_free():
    p, rec, f1 = precision_recall_f1([[[0, 0, 10, 10]] * 3], [[[0, 0, 10, 10]]])
    assert (p, rec) == (1 / 3, 1.0)
    assert f1 == pytest.approx(0.5)


def test_missing_prediction_scores_zero_and_no_prediction_at_all_has_no_precision():
    r = grounding_metrics([[]], [[[0, 0, 1, 1]]], thresholds=[0.5])
    assert r.miou == 0.0 and r.accuracy[0.5] == 0.0
    assert r.precision[0.5] is None and r.recall[0.5] == 0.0 and r.f1[0.5] is None


def test_samples_without_ground_truth_are_not_applicable():
    r = grounding_metrics([[[0, 0, 1, 1]], [[0, 0, 2, 2]]], [[], [[0, 0, 2, 2]]], thresholds=[0.5])
    assert (r.samples, r.samples_without_gt) == (1, 1)
    assert r.miou == 1.0 and r.accuracy[0.5] == 1.0
    assert r.precision[0.5] == 1.0  # the box of the sample without ground truth is not counted
    nothing = grounding_metrics([[]], [[]], thresholds=[0.5])
    assert nothing.miou is None and nothing.accuracy[0.5] is None and nothing.recall[0.5] is None


def test_invalid_predicted_box_counts_in_n_and_matches_nothing():
    m = match_sample([(NAN, NAN, NAN, NAN), (5, 5, 1, 1), (0, 0, 10, 10)], [(0, 0, 10, 10)])
    assert m.n_pred == 3 and m.pairs == ((2, 0),) and m.ious == (1.0,)
    assert m.best_ious == (0.0, 0.0, 1.0)
    assert m.sample_iou == pytest.approx(1 / 3)


def test_multi_object_all_matched_at_threshold_is_correct():
    # pairs: IoU 1 and IoU([20,20,30,30],[21,21,30,30]) = 81/100
    preds = [[[0, 0, 10, 10], [20, 20, 30, 30]]]
    target = [[[21, 21, 30, 30], [0, 0, 10, 10]]]
    r = grounding_metrics(preds, target, thresholds=[0.8, 0.85])
    assert r.accuracy == {0.8: 1.0, 0.85: 0.0}
    assert r.miou == pytest.approx((1 + 0.81) / 2)
    assert r.recall[0.85] == 0.5


def test_matching_maximizes_total_iou_not_greedy():
    # greedy would give pred 0 the big box (IoU 0.5 > 0.45) and leave pred 1 with 0;
    # the matcher pairs pred 0 with the small box (0.45) and pred 1 with the big one (1.0)
    big, small = (0, 0, 10, 10), (0, 0, 10, 4.5)
    pred0 = (0, 0, 10, 5)  # IoU with big 0.5, with small 4.5/5 = 0.9
    m = match_sample([pred0, big], [big, small])
    assert m.pairs == ((0, 1), (1, 0))
    assert m.ious == pytest.approx((0.9, 1.0))


def test_label_gating_zeroes_pairs_whose_labels_disagree():
    m = match_sample(
        [(0, 0, 10, 10)],
        [(0, 0, 10, 10)],
        pred_labels=["dog"],
        gt_labels=["cat"],
        label_matching="exact",
    )
    assert m.ious == (0.0,) and m.best_ious == (1.0,)
    r = grounding_metrics(
        [[[0, 0, 10, 10]]],
        [[[0, 0, 10, 10]]],
        thresholds=[0.5],
        pred_labels=[["Cats"]],
        target_labels=[["cat"]],
        label_matching="fuzzy",
    )
    assert r.accuracy[0.5] == 1.0
    with pytest.raises(ValueError, match="expected pred_labels and gt_labels"):
        match_sample([(0, 0, 1, 1)], [(0, 0, 1, 1)], label_matching="exact")


def test_wrappers_and_default_thresholds():
    preds = [[[0, 0, 10, 10]], [[0, 0, 3, 10]]]
    target = [[[0, 0, 10, 10]], [[0, 0, 10, 10]]]
    assert iou_accuracy(preds, target) == 0.5
    assert iou_accuracy(preds, target, threshold=0.3) == 1.0
    assert mean_iou(preds, target) == pytest.approx((1 + 0.3) / 2)
    r = grounding_metrics(preds, target)
    assert tuple(r.accuracy) == COCO_THRESHOLDS
    flat = r.as_dict()
    assert flat["acc@0.5"] == 0.5 and flat["acc@0.95"] == 0.5
    assert flat["acc@0.5:0.95"] == pytest.approx(0.5)
    assert threshold_key(COCO_THRESHOLDS[4]) == "0.7"


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match="expected one entry per sample in each, got 1 and 2"):
        grounding_metrics([[]], [[], []])
    with pytest.raises(ValueError, match=r"thresholds: expected IoU values in \[0, 1\]"):
        grounding_metrics([[]], [[]], thresholds=[1.5])
    with pytest.raises(ValueError):
        grounding_metrics([[[0, 0, 1]]], [[[0, 0, 1, 1]]])
