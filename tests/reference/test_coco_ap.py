"""Our COCO AP (conversion + faster-coco-eval) equals pycocotools' own on generated data.

The reference side builds the COCO dicts by hand here, independently of
``grounding_rewards.metrics.coco.to_coco``, and runs the original pycocotools.
"""

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from grounding_rewards.metrics import coco_ap
from grounding_rewards.metrics.coco import COCO_STAT_NAMES


def _generate(seed, n_images=60, labels=("cat", "dog", "car")):
    rng = np.random.default_rng(seed)
    preds, target, scores, pred_labels, target_labels = [], [], [], [], []
    for _ in range(n_images):
        m = int(rng.integers(0, 5))
        xy = rng.uniform(0, 500, size=(m, 2))
        wh = rng.uniform(4, 200, size=(m, 2))  # small, medium and large objects
        gt = np.concatenate([xy, xy + wh], axis=1)
        gl = [str(rng.choice(labels)) for _ in range(m)]
        keep = rng.random(m) < 0.7
        jitter = rng.normal(0, 0.15, size=(m, 4)) * np.concatenate([wh, wh], axis=1)
        pred = (gt + jitter)[keep]
        pl = [
            label if rng.random() < 0.8 else str(rng.choice(labels))
            for label, k in zip(gl, keep, strict=False)
            if k
        ]
        n_fp = int(rng.integers(0, 3))
        fxy = rng.uniform(0, 500, size=(n_fp, 2))
        fp = np.concatenate([fxy, fxy + rng.uniform(4, 150, size=(n_fp, 2))], axis=1)
        pred = np.concatenate([pred, fp])
        pl += [str(rng.choice(labels)) for _ in range(n_fp)]
        order = rng.permutation(len(pred))
        preds.append(pred[order])
        pred_labels.append([pl[i] for i in order])
        scores.append(rng.uniform(0, 1, size=len(pred)).round(2).tolist())  # rounding makes ties
        target.append(gt)
        target_labels.append(gl)
    return preds, target, scores, pred_labels, target_labels


def _pycocotools(preds, target, scores, pred_labels, target_labels, agnostic):
    categories = {}
    images, annotations, results = [], [], []
    for i, gt in enumerate(target):
        images.append({"id": i + 1})
        for k, (x1, y1, x2, y2) in enumerate(gt):
            cat = 1 if agnostic else categories.setdefault(target_labels[i][k], len(categories) + 1)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": cat,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
    for i, pred in enumerate(preds):
        for k, (x1, y1, x2, y2) in enumerate(pred):
            if not (x1 < x2 and y1 < y2):
                continue
            if agnostic:
                cat = 1
            elif pred_labels[i][k] in categories:
                cat = categories[pred_labels[i][k]]
            else:
                continue
            results.append(
                {
                    "image_id": i + 1,
                    "category_id": cat,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": 1.0 if scores is None else scores[i][k],
                }
            )
    names = (
        [{"id": 1, "name": "object"}]
        if agnostic
        else [{"id": v, "name": k} for k, v in categories.items()]
    )
    with contextlib.redirect_stdout(io.StringIO()):
        gt_coco = COCO()
        gt_coco.dataset = {"images": images, "annotations": annotations, "categories": names}
        gt_coco.createIndex()
        dt_coco = gt_coco.loadRes(results)
        evaluator = COCOeval(gt_coco, dt_coco, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [None if v < 0 else float(v) for v in evaluator.stats[:12]]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_scores", [True, False])
@pytest.mark.parametrize("agnostic", [True, False])
def test_ap_equals_pycocotools(seed, with_scores, agnostic):
    preds, target, scores, pred_labels, target_labels = _generate(seed)
    scores = scores if with_scores else None
    ours = coco_ap(
        preds,
        target,
        pred_scores=scores,
        pred_labels=pred_labels,
        target_labels=target_labels,
        class_agnostic=agnostic,
    )
    reference = _pycocotools(preds, target, scores, pred_labels, target_labels, agnostic)
    assert ours.ap is not None and 0.0 < ours.ap < 1.0  # a non-trivial case
    for name, expected in zip(COCO_STAT_NAMES, reference, strict=False):
        value = getattr(ours, name)
        if expected is None:
            assert value is None, name
        else:
            assert value == pytest.approx(expected, abs=1e-12), name


def test_pycocotools_backend_equals_reference_too():
    preds, target, scores, pred_labels, target_labels = _generate(7)
    ours = coco_ap(preds, target, pred_scores=scores, backend="pycocotools")
    reference = _pycocotools(preds, target, scores, pred_labels, target_labels, True)
    assert list(ours.as_dict().values()) == pytest.approx(reference, abs=1e-12)
