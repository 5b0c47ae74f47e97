"""R_zoom: do the crops a model zooms into hold the evidence, tightly, one per evidence box?

With ``n`` zoom calls (invalid ones included) replayed to crops ``c_i`` in original pixels
and ``m`` evidence boxes ``g_j`` (the ground-truth boxes the question is about)::

    coverage(c, g)  = |c ∩ g| / |g|
    tightness(c, g) = min(1, max(κ·|g|, s²) / |c|)          κ = context, s = min_crop_side
    S[i, j]         = coverage(c_i, g_j) · tightness(c_i, g_j)     (0 for an invalid call)
    R_crop          = (Σ_matched S / m) · min(1, (m + f) / n) ** α   f = free_calls
    R_zoom          = R_crop · (1 − b + b·[answer correct])       b = answer_weight

The matching is the one-to-one assignment maximizing ``Σ S`` (Hungarian). ``R_zoom`` is 0
when no call is made, when the trajectory has no final answer (``require_answer``), when it
holds more than ``max_calls`` calls or more than ``max_chars`` characters; ``None`` when
there is no evidence box. A crop that contains the evidence and is at most ``κ`` times its
area (or ``s²`` pixels) scores 1; growing it further lowers the score in proportion, so a
whole-image crop of a small object earns little.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import GroundTruthError
from grounding_rewards.ground_truth import GroundTruth, parse_ground_truth
from grounding_rewards.matching import assign
from grounding_rewards.options import extract_option
from grounding_rewards.zoom.chain import Crop, resolve_crops
from grounding_rewards.zoom.config import DEFAULT_ZOOM_CONFIG, ZoomConfig
from grounding_rewards.zoom.trajectory import Trajectory, ZoomTrajectory, parse_trajectory
from grounding_rewards.zoom.views import Box

__all__ = [
    "ZoomScore",
    "ZoomScorer",
    "coverage",
    "crop_score",
    "score_zoom",
    "tightness",
    "zoom_component",
    "zoom_reward",
]


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def coverage(crop: Box, evidence: Box) -> float:
    """Fraction of the evidence box inside the crop, ``|c ∩ g| / |g|``.

    Example:
        >>> coverage((0, 0, 10, 10), (5, 0, 15, 10))  # half of g: 50 / 100
        0.5
    """
    inter = _area(
        (
            max(crop[0], evidence[0]),
            max(crop[1], evidence[1]),
            min(crop[2], evidence[2]),
            min(crop[3], evidence[3]),
        )
    )
    area = _area(evidence)
    return min(1.0, inter / area) if area > 0 else 0.0


def tightness(crop: Box, evidence: Box, zoom: ZoomConfig | None = None) -> float:
    """``min(1, max(κ·|g|, s²) / |c|)``: 1 up to the allowed context, then falling as 1 / area.

    Example:
        >>> tightness((0, 0, 100, 100), (40, 40, 60, 60))  # max(4·400, 56²) / 10000
        0.3136
    """
    zoom = zoom or DEFAULT_ZOOM_CONFIG
    area = _area(crop)
    if area <= 0:
        return 0.0
    allowed = max(zoom.context * _area(evidence), zoom.min_crop_side**2)
    return min(1.0, allowed / area)


def crop_score(crop: Box | None, evidence: Box, zoom: ZoomConfig | None = None) -> float:
    """``S = coverage · tightness`` of a crop (original pixels) on an evidence box; 0 for ``None``.

    Example:
        >>> crop_score((30, 30, 70, 70), (40, 40, 60, 60))  # covers g, 1600 <= 3136
        1.0
    """
    if crop is None:
        return 0.0
    return coverage(crop, evidence) * tightness(crop, evidence, zoom)


@dataclass(frozen=True, slots=True)
class ZoomScore:
    """R_zoom with its details.

    Attributes:
        value: R_zoom in ``[0, 1]``, or ``None`` without evidence boxes.
        n_calls: Zoom calls counted (``n``).
        n_gt: Evidence boxes (``m``).
        crops: Each call replayed (crop in original pixels, or why none).
        pairs: Matched ``(call, evidence)`` pairs with a positive score.
        pair_scores: ``S`` of each matched pair.
        crop_reward: ``R_crop``, before the answer condition.
        answered: The trajectory ends with a non-empty answer block.
        answer_correct: Whether that answer names the right option (``None``: not checked).
        issues: What was not read and why calls did not crop.
    """

    value: float | None
    n_calls: int
    n_gt: int
    crops: tuple[Crop, ...] = ()
    pairs: tuple[tuple[int, int], ...] = ()
    pair_scores: tuple[float, ...] = ()
    crop_reward: float = 0.0
    answered: bool = False
    answer_correct: bool | None = None
    issues: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Scalars for logs: ``zoom``, ``zoom_crop``, ``zoom_calls``, ``zoom_answered``."""
        return {
            "zoom": self.value,
            "zoom_crop": self.crop_reward,
            "zoom_calls": self.n_calls,
            "zoom_answered": float(self.answered),
        }


def score_zoom(
    trajectory: Trajectory | ZoomTrajectory,
    truth: GroundTruth,
    config: RewardConfig | None = None,
    zoom: ZoomConfig | None = None,
) -> ZoomScore:
    """Score a trajectory's crops against validated ground truth (see the module docs).

    Args:
        trajectory: A trajectory (text, messages, ``Trace``) or an already parsed one.
        truth: Evidence boxes (pixel ``xyxy``), ``image_size``, and ``answer`` /
            ``choices`` for the answer condition.
        config: ``coords``, pixel budget, ``length_penalty``, ``max_chars``, answer tag.
        zoom: Zoom knobs; ``None`` uses the defaults.

    Returns:
        The :class:`ZoomScore`.

    Raises:
        GroundTruthError: When there are evidence boxes but no ``image_size`` (crops are
            replayed on the image; the caller must say how large it is).
    """
    config = config or DEFAULT_CONFIG
    zoom = zoom or DEFAULT_ZOOM_CONFIG
    parsed = (
        trajectory
        if isinstance(trajectory, ZoomTrajectory)
        else parse_trajectory(trajectory, config, zoom)
    )
    evidence = truth.boxes
    n, m = len(parsed.calls), len(evidence)
    answered = parsed.answer is not None
    correct = None
    if truth.answer is not None and answered:
        correct = extract_option(parsed.answer or "", choices=truth.choices) == truth.answer
    elif truth.answer is not None:
        correct = False
    base = ZoomScore(None, n, m, answered=answered, answer_correct=correct, issues=parsed.issues)
    if m == 0:
        return base
    if truth.image_size is None:
        raise GroundTruthError(
            "zoom_reward needs image_size=(width, height) to replay crops on the image, got None"
        )
    crops = resolve_crops(parsed, truth.image_size, config, zoom)
    issues = parsed.issues + tuple(c.reason for c in crops if c.reason and not c.call.issue)
    if n == 0 or not parsed.readable:
        return replace(base, value=0.0, crops=crops, issues=issues[:64])
    scores = [[crop_score(c.box, g, zoom) for g in evidence] for c in crops]
    pairs = tuple((i, j) for i, j in assign(scores) if scores[i][j] > 0.0)
    matched = tuple(scores[i][j] for i, j in pairs)
    alpha = config.length_penalty if zoom.length_penalty is None else zoom.length_penalty
    penalty = min(1.0, (m + zoom.free_calls) / n) ** alpha
    crop_reward = min(1.0, max(0.0, math.fsum(matched) / m * penalty))
    value = crop_reward
    if zoom.require_answer and not answered:
        value = 0.0
    elif zoom.answer_weight > 0 and correct is not None:
        value = crop_reward * (1.0 - zoom.answer_weight + zoom.answer_weight * float(correct))
    return replace(
        base,
        value=value,
        crops=crops,
        pairs=pairs,
        pair_scores=matched,
        crop_reward=crop_reward,
        issues=issues[:64],
    )


def zoom_reward(
    trajectory: Trajectory,
    gt_boxes: Any,
    *,
    image_size: Any = None,
    answer: Any = None,
    choices: Any = None,
    config: RewardConfig | None = None,
    zoom: ZoomConfig | None = None,
) -> float | None:
    """R_zoom in ``[0, 1]``: the crops hold the evidence, tightly, one per evidence box.

    ``R_crop = (Σ_matched coverage·tightness / m) · min(1, (m + f) / n) ** α`` and
    ``R_zoom = R_crop · (1 − b + b·[answer correct])``; 0 without a final answer (see
    :mod:`grounding_rewards.zoom.reward`).

    Args:
        trajectory: One text with tool responses, or a list of chat messages; DeepEyes
            ``<tool_call>``, Mini-o3 ``<grounding>`` and function-calling ``tool_calls``
            are recognized per call.
        gt_boxes: Evidence boxes, pixel ``xyxy`` of the original image.
        image_size: ``(width, height)`` of the original image (required with evidence).
        answer: The correct option, for ``answer_weight``.
        choices: Option texts, for reading the answer.
        config: Coordinate space of ``<tool_call>`` / function boxes, α, caps.
        zoom: Zoom knobs.

    Returns:
        The reward, or ``None`` without evidence boxes.

    Raises:
        GroundTruthError: For malformed ground truth, or evidence without ``image_size``.

    Example:
        >>> call = ('<tool_call>{"name": "image_zoom_in_tool", "arguments": '
        ...         '{"bbox_2d": [%d, %d, %d, %d]}}</tool_call>')
        >>> tight = call % (90, 90, 210, 160) + "<answer>B</answer>"
        >>> whole = call % (0, 0, 1000, 800) + "<answer>B</answer>"
        >>> gt = [[100, 100, 200, 150]]  # area 5000
        >>> zoom_reward(tight, gt, image_size=(1000, 800))  # covers g; 8400 <= 4·5000
        1.0
        >>> zoom_reward(whole, gt, image_size=(1000, 800))  # 4·5000 / 800000
        0.025
        >>> zoom_reward(tight, None, image_size=(1000, 800)) is None
        True
    """
    truth = parse_ground_truth(
        answer=answer, gt_boxes=gt_boxes, choices=choices, image_size=image_size
    )
    return score_zoom(trajectory, truth, config, zoom).value


class ZoomScorer:
    """The ``zoom`` component's scorer with a given :class:`ZoomConfig` (picklable).

    ``register_component("zoom_bonus", ZoomScorer(ZoomConfig(answer_weight=0.5)),
    reads=("gt_boxes", "image_size", "answer", "choices"), default_weight=0.0)`` adds a
    variant; the built-in ``zoom`` component uses the defaults.
    """

    __name__ = "zoom_component"

    def __init__(self, zoom: ZoomConfig | None = None) -> None:
        self.zoom = zoom or DEFAULT_ZOOM_CONFIG

    def __call__(self, trace: Any, truth: GroundTruth, config: RewardConfig) -> ZoomScore:
        """Score ``trace.text`` (a trajectory) with this scorer's :class:`ZoomConfig`."""
        return score_zoom(trace, truth, config, self.zoom)


def zoom_component(trace: Any, truth: GroundTruth, config: RewardConfig) -> ZoomScore:
    """The registered ``zoom`` component: :func:`score_zoom` on ``trace.text`` with default knobs.

    Args:
        trace: The parsed completion (its ``text`` is the trajectory).
        truth: Validated ground truth.
        config: Configuration.

    Returns:
        The :class:`ZoomScore`.
    """
    return score_zoom(trace, truth, config, DEFAULT_ZOOM_CONFIG)
