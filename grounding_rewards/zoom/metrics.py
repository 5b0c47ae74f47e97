"""Zoom metrics over many rollouts: where models zoom, how often, and whether it helps.

Per rollout, with crops ``c_i`` and evidence ``g_j`` (a crop *hits* an evidence box when it
covers at least ``coverage_threshold`` of it, by default 0.5, and is tight, ``S >= 0.5``):

- **zoom precision**: crops that hit some evidence box / valid crops;
- **zoom recall**: evidence boxes hit by some crop / evidence boxes;
- **calls per answer**: zoom calls / rollouts with a final answer;
- **accuracy with / without zoom**: answer accuracy over rollouts that zoomed / did not;
- **mean R_zoom**;
- **rollouts with zoom**: rollouts that made at least one zoom call.

Example:
    >>> from grounding_rewards import parse_ground_truth
    >>> acc = ZoomMetrics()
    >>> truth = parse_ground_truth(answer="A", gt_boxes=[[20, 20, 40, 40]], image_size=(100, 100))
    >>> calls = ('<grounding>{"bbox_2d": [0.1, 0.1, 0.5, 0.5]}</grounding>'
    ...          '<grounding>{"bbox_2d": [0.6, 0.6, 0.9, 0.9]}</grounding>')
    >>> acc.update(calls + "<answer>A</answer>", truth).value  # the miss is the free extra call
    1.0
    >>> _ = acc.update("<answer>B</answer>", truth)
    >>> r = acc.compute()
    >>> r["zoom_precision"], r["zoom_recall"], r["calls_per_answer"]
    (0.5, 0.5, 1.0)
    >>> r["accuracy_with_zoom"], r["accuracy_without_zoom"]
    (1.0, 0.0)
"""

from __future__ import annotations

from typing import Any

from grounding_rewards.config import RewardConfig
from grounding_rewards.ground_truth import GroundTruth
from grounding_rewards.zoom.config import ZoomConfig
from grounding_rewards.zoom.reward import ZoomScore, coverage, crop_score, score_zoom

__all__ = ["ZoomMetrics"]


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


class ZoomMetrics:
    """Accumulate zoom metrics rollout by rollout (see the module docs).

    Args:
        config: Passed to :func:`~grounding_rewards.zoom.score_zoom`.
        zoom: Zoom knobs.
        hit_score: ``S`` a crop needs on an evidence box to hit it.
    """

    def __init__(
        self,
        config: RewardConfig | None = None,
        zoom: ZoomConfig | None = None,
        hit_score: float = 0.5,
    ) -> None:
        self.config, self.zoom, self.hit_score = config, zoom, hit_score
        self.rollouts = self.answered = self.calls = self.valid_crops = 0
        self.crop_hits = self.evidence = self.evidence_hit = 0
        self.zoomed = self.zoomed_right = self.plain = self.plain_right = 0
        self.reward_sum, self.rewarded = 0.0, 0
        self.with_calls = 0

    def update(self, trajectory: Any, truth: GroundTruth) -> ZoomScore:
        """Add one rollout scored against its ground truth (needs ``image_size`` with evidence).

        Returns:
            The rollout's :class:`~grounding_rewards.zoom.ZoomScore`.
        """
        score = score_zoom(trajectory, truth, self.config, self.zoom)
        self.rollouts += 1
        self.with_calls += score.n_calls > 0
        self.answered += score.answered
        self.calls += score.n_calls
        boxes = [c.box for c in score.crops if c.box is not None]
        self.valid_crops += len(boxes)
        hits = [
            [
                coverage(b, g) >= self.hit_score and crop_score(b, g, self.zoom) >= self.hit_score
                for g in truth.boxes
            ]
            for b in boxes
        ]
        self.crop_hits += sum(any(row) for row in hits)
        self.evidence += len(truth.boxes)
        self.evidence_hit += sum(any(row[j] for row in hits) for j in range(len(truth.boxes)))
        if score.answer_correct is not None:
            if score.n_calls:
                self.zoomed += 1
                self.zoomed_right += score.answer_correct
            else:
                self.plain += 1
                self.plain_right += score.answer_correct
        if score.value is not None:
            self.reward_sum += score.value
            self.rewarded += 1
        return score

    def merge(self, other: ZoomMetrics) -> None:
        """Add everything ``other`` has counted (same configuration)."""
        for name, value in vars(other).items():
            if name not in ("config", "zoom", "hit_score"):
                setattr(self, name, getattr(self, name) + value)

    def compute(self) -> dict[str, float | None]:
        """The metrics so far (``None`` where a denominator is 0)."""
        return {
            "zoom_precision": _ratio(self.crop_hits, self.valid_crops),
            "zoom_recall": _ratio(self.evidence_hit, self.evidence),
            "calls_per_answer": _ratio(self.calls, self.answered),
            "accuracy_with_zoom": _ratio(self.zoomed_right, self.zoomed),
            "accuracy_without_zoom": _ratio(self.plain_right, self.plain),
            "zoom_reward": _ratio(self.reward_sum, self.rewarded),
            "rollouts": float(self.rollouts),
            "rollouts_with_zoom": float(self.with_calls),
        }
