"""The value of R_bbox from a similarity matrix, shared by the full and the clean path.

Example:
    >>> matched_parts([[0.5, 0.0], [0.0, 1.0]], 2, 2, 1.0)
    (0.75, 2, 2, ((0, 0), (1, 1)), (0.5, 1.0))
"""

from __future__ import annotations

import math

from grounding_rewards.boxes import pixel_scale
from grounding_rewards.config import RewardConfig
from grounding_rewards.ground_truth import GroundTruth
from grounding_rewards.matching import assign

__all__ = ["BoxParts", "matched_parts", "to_pixels"]

BoxParts = tuple[float | None, int, int, tuple[tuple[int, int], ...], tuple[float, ...]]
"""The fields of a :class:`~grounding_rewards.rewards.bbox.BoxScore`, as a plain tuple."""


def to_pixels(truth: GroundTruth, config: RewardConfig) -> tuple[float, float]:
    """The factors from ``config.coords`` to pixels (raises without a needed image size)."""
    if config.coords == "pixel":  # pixel_scale's answer, without the call
        return 1.0, 1.0
    return pixel_scale(
        config.coords,
        truth.image_size,
        min_pixels=config.min_pixels,
        max_pixels=config.max_pixels,
    )


def matched_parts(scores: list[list[float]], n: int, m: int, length_penalty: float) -> BoxParts:
    """R_bbox and its matching from the ``n × m`` similarity rows (``n, m >= 1``).

    The one place the formula ``(Σ_matched S / m) · min(1, m / n) ** α`` is computed.

    Example:
        >>> matched_parts([[1.0], [0.5]], 2, 1, 1.0)
        (0.5, 2, 1, ((0, 0),), (1.0,))
    """
    pairs = tuple(assign(scores))
    matched = tuple(scores[i][j] for i, j in pairs)
    value = (math.fsum(matched) / m) * min(1.0, m / n) ** length_penalty
    value = min(1.0, max(0.0, value))  # summation rounding must not leave [0, 1]
    return value, n, m, pairs, matched
