"""The zoom audit checks pass on zoom_reward and fail on DeepEyes' validity-only crop check."""

from __future__ import annotations

import functools

import pytest

from grounding_rewards.zoom import ZoomConfig, zoom_reward
from grounding_rewards.zoom.audit_checks import run_zoom_checks, validity_only_reward

NAMES = ["whole_image", "ever_larger", "zoom_spam", "no_answer", "wrong_object", "chain_drift"]


@pytest.mark.parametrize(
    "reward",
    [zoom_reward, functools.partial(zoom_reward, zoom=ZoomConfig(answer_weight=0.5))],
    ids=["default", "answer_weight"],
)
def test_every_check_passes_on_zoom_reward(reward: object) -> None:
    checks = run_zoom_checks(reward)  # type: ignore[arg-type]
    assert [c.name for c in checks] == NAMES
    failed = [c for c in checks if not c.passed]
    assert not failed, failed
    assert all(c.honest == 1.0 for c in checks)


def test_every_check_fails_on_the_validity_only_reward() -> None:
    checks = run_zoom_checks(validity_only_reward)
    assert [c.name for c in checks if not c.passed] == NAMES
    assert all(c.exploit == c.honest == 1.0 for c in checks)


def test_a_reward_that_pays_per_call_fails_spam() -> None:
    # DeepEyes' earlier reward paid +0.5 per call (capped at 1 here to stay in range)
    def per_call(trajectory: str, gt_boxes: object, **_: object) -> float:
        return min(1.0, 0.5 * trajectory.count("<tool_call>"))

    checks = {c.name: c for c in run_zoom_checks(per_call)}
    assert not checks["zoom_spam"].passed and not checks["whole_image"].passed
