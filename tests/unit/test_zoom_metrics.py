"""ZoomMetrics arithmetic and the crop drawing."""

from __future__ import annotations

from grounding_rewards import parse_ground_truth
from grounding_rewards.zoom import score_zoom
from grounding_rewards.zoom.draw import crop_captions, draw_crops
from grounding_rewards.zoom.metrics import ZoomMetrics

TRUTH = parse_ground_truth(
    answer="A", gt_boxes=[[20, 20, 40, 40], [60, 60, 80, 80]], image_size=(100, 100)
)


def grounding(*boxes: tuple[float, ...]) -> str:
    return "".join('<grounding>{"bbox_2d": %s}</grounding>' % list(b) for b in boxes)  # noqa: UP031


def test_metrics_by_hand() -> None:
    metrics = ZoomMetrics()
    # rollout 1: hits evidence 0, misses (0.9..1) -> precision 1/2; answered A (right)
    metrics.update(
        grounding((0.15, 0.15, 0.45, 0.45), (0.9, 0.9, 1, 1)) + "<answer>A</answer>", TRUTH
    )
    # rollout 2: hits both evidence boxes, answers B (wrong)
    metrics.update(
        grounding((0.15, 0.15, 0.45, 0.45), (0.55, 0.55, 0.85, 0.85)) + "<answer>B</answer>", TRUTH
    )
    # rollout 3: no zoom, right answer
    metrics.update("<answer>A</answer>", TRUTH)
    r = metrics.compute()
    assert r["zoom_precision"] == 3 / 4  # 3 hitting crops of 4 valid
    assert r["zoom_recall"] == 3 / 6  # 1 + 2 of 2 + 2 + 2 evidence boxes
    assert r["calls_per_answer"] == 4 / 3
    assert (r["accuracy_with_zoom"], r["accuracy_without_zoom"]) == (0.5, 1.0)
    assert r["zoom_reward"] == (0.5 + 1.0 + 0.0) / 3


def test_draw_crops() -> None:
    text = grounding((0.15, 0.15, 0.45, 0.45), (2, 2, 3, 3)) + "<answer>A</answer>"
    score = score_zoom(text, TRUTH)
    assert crop_captions(score) == ["crop 1 S 1.00", "crop 2 unmatched"]
    assert draw_crops(None, score, TRUTH).size == (100, 100)
