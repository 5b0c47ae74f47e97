import sys

import pytest

from grounding_rewards.errors import MissingDependencyError
from grounding_rewards.metrics import coco_ap, to_coco
from grounding_rewards.metrics.coco import COCO_STAT_NAMES, evaluate_coco


@pytest.mark.parametrize("backend", ["faster-coco-eval", "pycocotools"])
def test_perfect_prediction_scores_one(backend):
    r = coco_ap(
        [[[0, 0, 100, 100]], [[10, 10, 50, 90]]],
        [[[0, 0, 100, 100]], [[10, 10, 50, 90]]],
        backend=backend,
    )
    assert r.ap == r.ap50 == r.ap75 == r.ar100 == 1.0
    # 100x100 = 10^4 px is "large" (>= 96^2); 40x80 = 3200 px is "medium"
    assert r.ap_large == pytest.approx(1.0) and r.ap_medium == pytest.approx(1.0)
    assert r.ap_small is None


@pytest.mark.parametrize("backend", ["faster-coco-eval", "pycocotools"])
def test_half_the_objects_found(backend):
    # precision 1 up to recall 0.5, nothing after: 51 of COCO's 101 recall points
    r = coco_ap([[[0, 0, 10, 10]], []], [[[0, 0, 10, 10]], [[5, 5, 9, 9]]], backend=backend)
    assert r.ap50 == pytest.approx(51 / 101)
    assert r.ar100 == 0.5


def test_false_positive_ranked_first_halves_precision():
    # sample 1: a false positive scored 0.9; sample 2: a hit scored 0.8. At recall 1 the
    # interpolated precision is 1/2 for every recall point: AP50 = 0.5
    r = coco_ap(
        [[[50, 50, 60, 60]], [[0, 0, 10, 10]]],
        [[[0, 0, 10, 10]], [[0, 0, 10, 10]]],
        pred_scores=[[0.9], [0.8]],
    )
    # recall points 0..0.5 have precision 1/2 (after the FP), 0.51..1 have none (recall 0.5 max)
    assert r.ap50 == pytest.approx(0.5 * 51 / 101)


def test_no_ground_truth_is_undefined_and_invalid_boxes_are_dropped():
    assert coco_ap([[]], [[]]).ap is None
    gt, dets = to_coco([[[float("nan")] * 4, [5, 5, 1, 1], [0, 0, 2, 3]]], [[[0, 0, 2, 2]]])
    assert [d["bbox"] for d in dets] == [[0.0, 0.0, 2.0, 3.0]]
    assert gt["annotations"][0]["area"] == 4.0
    assert gt["categories"] == [{"id": 1, "name": "object"}]


def test_label_aware_categories():
    gt, dets = to_coco(
        [[[0, 0, 10, 10], [20, 20, 30, 30]]],
        [[[0, 0, 10, 10], [20, 20, 30, 30]]],
        pred_labels=[["dog", "unicorn"]],
        target_labels=[["dog", "cat"]],
        class_agnostic=False,
    )
    assert gt["categories"] == [{"id": 1, "name": "dog"}, {"id": 2, "name": "cat"}]
    assert [d["category_id"] for d in dets] == [1]  # "unicorn" has no COCO category
    r = evaluate_coco(gt, dets)
    assert r.ap == pytest.approx((1.0 + 0.0) / 2)  # dog found, cat missed


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="expected one entry per sample"):
        to_coco([[]], [])
    with pytest.raises(ValueError, match=r"pred_scores\[0\]: expected 1 scores"):
        to_coco([[[0, 0, 1, 1]]], [[[0, 0, 1, 1]]], pred_scores=[[1.0, 0.5]])
    with pytest.raises(ValueError, match="expected target_labels"):
        to_coco([[]], [[]], class_agnostic=False)
    with pytest.raises(ValueError, match="backend: expected"):
        coco_ap([[]], [[[0, 0, 1, 1]]], backend="detectron")  # type: ignore[arg-type]


def test_missing_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_coco_eval", None)
    with pytest.raises(MissingDependencyError, match=r"grounding-rewards\[metrics\]"):
        coco_ap([[[0, 0, 1, 1]]], [[[0, 0, 1, 1]]])


def test_result_as_dict_uses_coco_order():
    r = coco_ap([[[0, 0, 10, 10]]], [[[0, 0, 10, 10]]])
    assert tuple(r.as_dict()) == COCO_STAT_NAMES
