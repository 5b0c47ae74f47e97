"""Draw a trajectory's crops (orange, with their scores) over the evidence boxes (blue).

Example:
    >>> from grounding_rewards import parse_ground_truth
    >>> from grounding_rewards.zoom import score_zoom
    >>> text = '<grounding>{"bbox_2d": [0.1, 0.1, 0.5, 0.5]}</grounding><answer>A</answer>'
    >>> truth = parse_ground_truth(gt_boxes=[[20, 20, 40, 40]], image_size=(100, 100))
    >>> draw_crops(None, score_zoom(text, truth), truth).size
    (100, 100)
"""

from __future__ import annotations

from typing import Any

from grounding_rewards.ground_truth import GroundTruth
from grounding_rewards.zoom.reward import ZoomScore
from grounding_rewards.zoom.views import Box

__all__ = ["crop_boxes", "crop_captions", "draw_crops"]


def crop_captions(score: ZoomScore) -> list[str]:
    """``crop i: label S 0.83`` for each replayed crop (``unmatched`` / ``invalid``)."""
    matched = dict(zip((i for i, _ in score.pairs), score.pair_scores, strict=True))
    captions = []
    for i, crop in enumerate(score.crops):
        name = f"crop {i + 1}" + (f": {crop.call.label}" if crop.call.label else "")
        value = matched.get(i)
        captions.append(f"{name} S {value:.2f}" if value is not None else f"{name} unmatched")
    return captions


def crop_boxes(score: ZoomScore) -> list[tuple[Box, str]]:
    """``(box, caption)`` of each valid crop (pixels of the original image), as drawn.

    Example:
        >>> from grounding_rewards import parse_ground_truth
        >>> from grounding_rewards.zoom import score_zoom
        >>> text = '<grounding>{"bbox_2d": [0.1, 0.1, 0.5, 0.5]}</grounding><answer>A</answer>'
        >>> truth = parse_ground_truth(gt_boxes=[[20, 20, 40, 40]], image_size=(100, 100))
        >>> crop_boxes(score_zoom(text, truth))
        [((10.0, 10.0, 50.0, 50.0), 'crop 1 S 1.00')]
    """
    pairs = zip(score.crops, crop_captions(score), strict=True)
    return [(crop.box, caption) for crop, caption in pairs if crop.box is not None]


def draw_crops(image: Any, score: ZoomScore, truth: GroundTruth) -> Any:
    """The image with the evidence boxes and every valid crop, captioned with its score.

    Args:
        image: The original PIL image, or ``None`` for a blank canvas of ``truth.image_size``.
        score: :func:`~grounding_rewards.zoom.score_zoom`'s result.
        truth: The ground truth it was scored against.

    Returns:
        A new RGB image.
    """
    # Imported here: the evaluator imports this module, and the report package imports it.
    from grounding_rewards.report.draw import draw_overlay

    valid = crop_boxes(score)
    return draw_overlay(
        image,
        image_size=truth.image_size,
        gt_boxes=truth.boxes,
        gt_labels=truth.labels,
        pred_boxes=[box for box, _ in valid],
        pred_captions=[caption for _, caption in valid],
    )
