"""COCO-style box AP, computed by a maintained COCO-evaluation library.

We do not re-implement COCO's evaluation: we convert grounding outputs into the
COCO data layout (images, categories, ``xywh`` annotations with areas, scored
detections) and let `faster-coco-eval <https://github.com/MiXaiLL76/faster_coco_eval>`_
(the default, a C++ port that gives the same numbers) or ``pycocotools`` (the
original) compute the twelve standard numbers.

Conventions, because grounding output is not detector output:

* A VLM writes no confidence, so every predicted box scores ``1.0`` unless
  ``pred_scores`` are given. COCO sorts detections by score with a stable sort, so
  ties keep the order of the samples and of the boxes within a sample; AP over
  tied scores therefore depends on that order (the number is still what the COCO
  library reports for that input).
* ``class_agnostic=True`` (the default) puts every box in one category, as
  referring-expression grounding does. With ``class_agnostic=False`` the ground
  truth labels become COCO categories; COCO ignores predicted labels that no
  ground-truth box carries (count those with the hallucination metrics instead).
* Boxes are pixel ``xyxy`` of the original image, like all ground truth here;
  predicted boxes that are not finite with ``x1 < x2`` and ``y1 < y2`` are not
  detections and are left out.
* Samples are images: each ``(preds[i], target[i])`` pair is image ``i + 1``.

Example:
    >>> result = coco_ap([[[0, 0, 10, 10]]], [[[0, 0, 10, 10]]])
    >>> result.ap, result.ap50
    (1.0, 1.0)
"""

from __future__ import annotations

import contextlib
import gc
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeAlias

from numpy.typing import ArrayLike

from grounding_rewards._optional import require
from grounding_rewards.boxes import as_boxes
from grounding_rewards.errors import ConfigError, InputError

__all__ = [
    "COCO_STAT_NAMES",
    "CocoBackend",
    "CocoResult",
    "coco_ap",
    "to_coco",
]

CocoBackend: TypeAlias = Literal["faster-coco-eval", "pycocotools"]

COCO_STAT_NAMES: tuple[str, ...] = (
    "ap",
    "ap50",
    "ap75",
    "ap_small",
    "ap_medium",
    "ap_large",
    "ar1",
    "ar10",
    "ar100",
    "ar_small",
    "ar_medium",
    "ar_large",
)
"""Names of COCO's twelve ``stats``, in COCO's order."""

_AGNOSTIC_CATEGORY = {"id": 1, "name": "object"}


@dataclass(frozen=True, slots=True)
class CocoResult:
    """COCO's twelve summary numbers; ``None`` where COCO reports -1 (undefined).

    Attributes:
        ap: AP averaged over IoU 0.50:0.95 (COCO's headline number).
        ap50: AP at IoU 0.50.
        ap75: AP at IoU 0.75.
        ap_small: AP for ground-truth areas below 32² px.
        ap_medium: AP for areas in [32², 96²).
        ap_large: AP for areas of 96² px and more.
        ar1: Recall with at most 1 detection per image.
        ar10: Recall with at most 10 detections per image.
        ar100: Recall with at most 100 detections per image.
        ar_small: AR100 for small objects.
        ar_medium: AR100 for medium objects.
        ar_large: AR100 for large objects.
    """

    ap: float | None
    ap50: float | None
    ap75: float | None
    ap_small: float | None
    ap_medium: float | None
    ap_large: float | None
    ar1: float | None
    ar10: float | None
    ar100: float | None
    ar_small: float | None
    ar_medium: float | None
    ar_large: float | None

    def as_dict(self) -> dict[str, float | None]:
        """Return the numbers keyed by :data:`COCO_STAT_NAMES`."""
        return asdict(self)


def _labels_for(
    labels: Sequence[Sequence[str] | None] | None, index: int, count: int, what: str
) -> Sequence[str] | None:
    if labels is None:
        return None
    row = labels[index]
    if row is None:
        return None
    if len(row) != count:
        raise InputError(f"{what}[{index}]: expected {count} labels (one per box), got {len(row)}")
    return row


def _rows(boxes: ArrayLike) -> list[list[float]]:
    """``[K, 4]`` boxes as float lists; plain sequences skip numpy (slow on tiny arrays)."""
    if isinstance(boxes, (list, tuple)) and all(
        isinstance(box, (list, tuple)) and len(box) == 4 for box in boxes
    ):
        return [[float(v) for v in box] for box in boxes]
    rows: list[list[float]] = as_boxes(boxes).tolist()
    return rows


def to_coco(
    preds: Sequence[ArrayLike],
    target: Sequence[ArrayLike],
    *,
    pred_scores: Sequence[Sequence[float]] | None = None,
    pred_labels: Sequence[Sequence[str] | None] | None = None,
    target_labels: Sequence[Sequence[str] | None] | None = None,
    image_sizes: Sequence[tuple[float, float] | None] | None = None,
    class_agnostic: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Convert per-sample pixel ``xyxy`` boxes to a COCO ground-truth dict and detections.

    Args:
        preds: Per sample, predicted boxes ``[N_i, 4]`` (pixel ``xyxy``).
        target: Per sample, ground-truth boxes ``[M_i, 4]`` (pixel ``xyxy``).
        pred_scores: Per sample, one confidence per predicted box; default all ``1.0``.
        pred_labels: Per sample, one label per predicted box (``class_agnostic=False``).
        target_labels: Per sample, one label per ground-truth box (``class_agnostic=False``).
        image_sizes: Per sample ``(width, height)``, copied into COCO's image records.
        class_agnostic: Put every box in a single category.

    Returns:
        ``(ground_truth, detections)``: a COCO dataset dict (``images``,
        ``annotations``, ``categories``) and a list of COCO result records.

    Raises:
        InputError: When the lists differ in length, a box array is not ``[K, 4]``,
            or labels are missing for ``class_agnostic=False``.

    Example:
        >>> gt, dets = to_coco([[[0, 0, 10, 20]]], [[[0, 0, 10, 10]]])
        >>> gt["annotations"][0]["bbox"], gt["annotations"][0]["area"]
        ([0.0, 0.0, 10.0, 10.0], 100.0)
        >>> dets[0]["bbox"], dets[0]["score"]
        ([0.0, 0.0, 10.0, 20.0], 1.0)
    """
    if len(preds) != len(target):
        raise InputError(
            f"preds and target: expected one entry per sample in each, got {len(preds)} and "
            f"{len(target)}"
        )
    if not class_agnostic and target_labels is None:
        raise InputError("class_agnostic=False: expected target_labels, got None")
    # Building a million small dicts triggers the cyclic garbage collector again and
    # again, for nothing (dicts of numbers make no cycles): it doubles the run time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _to_coco(
            preds, target, pred_scores, pred_labels, target_labels, image_sizes, class_agnostic
        )
    finally:
        if collecting:
            gc.enable()


def _to_coco(
    preds: Sequence[ArrayLike],
    target: Sequence[ArrayLike],
    pred_scores: Sequence[Sequence[float]] | None,
    pred_labels: Sequence[Sequence[str] | None] | None,
    target_labels: Sequence[Sequence[str] | None] | None,
    image_sizes: Sequence[tuple[float, float] | None] | None,
    class_agnostic: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    categories: dict[str, int] = {}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    detections: list[dict[str, Any]] = []
    for index, (pred, truth) in enumerate(zip(preds, target, strict=True)):
        image_id = index + 1
        image: dict[str, Any] = {"id": image_id}
        size = image_sizes[index] if image_sizes is not None else None
        if size is not None:
            image["width"], image["height"] = float(size[0]), float(size[1])
        images.append(image)
        gt_boxes = _rows(truth)
        gt_names = _labels_for(target_labels, index, len(gt_boxes), "target_labels")
        for k, (x1, y1, x2, y2) in enumerate(gt_boxes):
            category = 1
            if not class_agnostic:
                if gt_names is None:
                    raise InputError(f"target_labels[{index}]: expected labels, got None")
                category = categories.setdefault(gt_names[k], len(categories) + 1)
            w, h = x2 - x1, y2 - y1
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "bbox": [x1, y1, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        pred_boxes = _rows(pred)
        scores = pred_scores[index] if pred_scores is not None else None
        if scores is not None and len(scores) != len(pred_boxes):
            raise InputError(
                f"pred_scores[{index}]: expected {len(pred_boxes)} scores (one per box), "
                f"got {len(scores)}"
            )
        pred_names = _labels_for(pred_labels, index, len(pred_boxes), "pred_labels")
        for k, (x1, y1, x2, y2) in enumerate(pred_boxes):
            if not (math.isfinite(x1 + y1 + x2 + y2) and x1 < x2 and y1 < y2):
                continue
            if class_agnostic:
                category = 1
            elif pred_names is None:
                raise InputError(f"pred_labels[{index}]: expected labels, got None")
            else:
                # A label no ground truth carries gets no COCO category: COCO would ignore it.
                category = categories.get(pred_names[k], 0)
                if category == 0:
                    continue
            w, h = x2 - x1, y2 - y1
            detections.append(
                {
                    "id": len(detections) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "bbox": [x1, y1, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                    "score": 1.0 if scores is None else float(scores[k]),
                }
            )
    if class_agnostic:
        category_list = [dict(_AGNOSTIC_CATEGORY)]
    else:
        category_list = [{"id": i, "name": name} for name, i in categories.items()]
    ground_truth = {"images": images, "annotations": annotations, "categories": category_list}
    return ground_truth, detections


def _classes(backend: CocoBackend) -> tuple[Any, Any]:
    if backend == "faster-coco-eval":
        module = require("faster_coco_eval", extra="metrics")
        return module.COCO, module.COCOeval_faster
    if backend == "pycocotools":
        coco = require("pycocotools.coco", extra="metrics")
        cocoeval = require("pycocotools.cocoeval", extra="metrics")
        return coco.COCO, cocoeval.COCOeval
    raise ConfigError(f"backend: expected 'faster-coco-eval' or 'pycocotools', got {backend!r}")


def _index(coco_class: Any, dataset: dict[str, Any]) -> Any:
    # Both libraries accept a dataset set on an empty object; their file/dict
    # constructors and loadRes differ between versions (loadRes fails on no results).
    coco = coco_class()
    coco.dataset = dataset
    coco.createIndex()
    return coco


def evaluate_coco(
    ground_truth: dict[str, Any],
    detections: list[dict[str, Any]],
    *,
    backend: CocoBackend = "faster-coco-eval",
) -> CocoResult:
    """Run the COCO library's ``bbox`` evaluation on already converted data.

    Args:
        ground_truth: COCO dataset dict, as from :func:`to_coco`.
        detections: COCO result records, as from :func:`to_coco`.
        backend: ``faster-coco-eval`` (default) or ``pycocotools``.

    Returns:
        The twelve COCO numbers; ``None`` where COCO reports -1 (nothing to evaluate).

    Raises:
        MissingDependencyError: When the backend library is not installed.
    """
    coco_class, eval_class = _classes(backend)
    if not ground_truth["annotations"]:
        return CocoResult(*([None] * len(COCO_STAT_NAMES)))
    # Both libraries print progress; a metrics call should not.
    with contextlib.redirect_stdout(io.StringIO()):
        gt = _index(coco_class, ground_truth)
        dt = _index(coco_class, {**ground_truth, "annotations": detections})
        evaluator = eval_class(gt, dt, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = [float(value) for value in list(evaluator.stats)[: len(COCO_STAT_NAMES)]]
    return CocoResult(*(None if value < 0 else value for value in stats))


def coco_ap(
    preds: Sequence[ArrayLike],
    target: Sequence[ArrayLike],
    *,
    pred_scores: Sequence[Sequence[float]] | None = None,
    pred_labels: Sequence[Sequence[str] | None] | None = None,
    target_labels: Sequence[Sequence[str] | None] | None = None,
    class_agnostic: bool = True,
    backend: CocoBackend = "faster-coco-eval",
) -> CocoResult:
    """COCO box AP/AR of per-sample predicted boxes against ground truth.

    Args:
        preds: Per sample, predicted boxes ``[N_i, 4]`` in pixel ``xyxy``.
        target: Per sample, ground-truth boxes ``[M_i, 4]`` in pixel ``xyxy``.
        pred_scores: Per sample, a confidence per predicted box; default all ``1.0``.
        pred_labels: Per sample, a label per predicted box (``class_agnostic=False``).
        target_labels: Per sample, a label per ground-truth box (``class_agnostic=False``).
        class_agnostic: One category for every box (default), or one per ground-truth label.
        backend: ``faster-coco-eval`` (default) or ``pycocotools``.

    Returns:
        The twelve COCO numbers (:class:`CocoResult`).

    Raises:
        MissingDependencyError: When the COCO library is not installed
            (``pip install 'grounding-rewards[metrics]'``).
        InputError: On mismatched inputs (see :func:`to_coco`).

    Example:
        >>> r = coco_ap([[[0, 0, 10, 10]], []], [[[0, 0, 10, 10]], [[5, 5, 9, 9]]])
        >>> # one of two objects found, no false positive: precision 1 up to recall 0.5,
        >>> # which is 51 of COCO's 101 recall points
        >>> r.ap50 == 51 / 101, r.ar100
        (True, 0.5)
    """
    ground_truth, detections = to_coco(
        preds,
        target,
        pred_scores=pred_scores,
        pred_labels=pred_labels,
        target_labels=target_labels,
        class_agnostic=class_agnostic,
    )
    return evaluate_coco(ground_truth, detections, backend=backend)
