"""Measure the share of a GRPO step spent in reward functions.

:class:`TimedReward` wraps a reward function (keeping its ``__name__``, so TRL logs it
under the same name) and adds up the wall time of its calls; :class:`StepTimer` is a
``TrainerCallback`` that records the wall time of each optimizer step. Used by
``integrations/gpu_check.py`` and ``benchmarks/bench_trl_step.py``.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["StepTimer", "TimedReward", "summarize"]


class TimedReward:
    """A reward function that also records how long each call took."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.__name__ = inner.__name__
        self.seconds: list[float] = []
        self.completions = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = self.inner(*args, **kwargs)
        self.seconds.append(time.perf_counter() - start)
        self.completions += len(result)
        return result


def step_timer_class() -> type:
    """``StepTimer``: a ``transformers.TrainerCallback`` (built lazily, transformers is heavy)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):  # type: ignore[misc]
        """Wall time of every optimizer step, generation and rewards included."""

        def __init__(self) -> None:
            self.steps: list[float] = []
            self._start = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._start = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.steps.append(time.perf_counter() - self._start)

    return StepTimer


def StepTimer() -> Any:  # noqa: N802 - reads as the class it builds
    """A new step timer callback."""
    return step_timer_class()()


def summarize(rewards: list[TimedReward], timer: Any, skip_first: int = 1) -> dict[str, float]:
    """Per-step wall time, reward time and their ratio, leaving out warm-up steps.

    Each reward function is called once per generation batch; with
    ``steps_per_generation == 1`` (the default here) that is once per step, so call
    ``i`` of every reward belongs to step ``i``.
    """
    steps = timer.steps[skip_first:]
    per_step_reward = [
        sum(r.seconds[i] for r in rewards) for i in range(skip_first, len(timer.steps))
    ]
    step_s = sum(steps) / len(steps)
    reward_s = sum(per_step_reward) / len(per_step_reward)
    completions = sum(r.completions for r in rewards) / max(1, sum(len(r.seconds) for r in rewards))
    return {
        "steps_measured": float(len(steps)),
        "step_s": step_s,
        "reward_s_per_step": reward_s,
        "reward_share_percent": 100.0 * reward_s / step_s,
        "completions_per_step": completions,
        "reward_us_per_completion": 1e6 * reward_s / max(completions, 1.0),
    }
