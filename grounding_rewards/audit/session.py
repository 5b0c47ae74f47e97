"""Options of an audit and the bookkeeping of one run (every call it made).

Example:
    >>> options = AuditOptions(components=frozenset({"bbox"}), task="rec")
    >>> options.tolerance, sorted(options.components), [s.name for s in options.chosen][:1]
    (1e-06, ['bbox'], ['rec-dog'])
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from grounding_rewards.audit.contracts import Outcome, RewardAdapter, Sample, encode_solution
from grounding_rewards.audit.coords import render_number
from grounding_rewards.audit.scenarios import AuditSettings, Scenario, TraceWriter, scenarios_for
from grounding_rewards.components import component_names

__all__ = [
    "COMPONENTS",
    "TASK_COMPONENTS",
    "AuditOptions",
    "Observation",
    "Session",
    "known_components",
]


def known_components() -> tuple[str, ...]:
    """The components a function may claim: every one registered now (``--components``)."""
    return component_names()


COMPONENTS: tuple[str, ...] = known_components()
"""The registered components when the audit was imported (``format``, ``accuracy``,
``bbox``, ``point``...); :func:`known_components` sees later registrations too."""

TASK_COMPONENTS: dict[str, tuple[str, ...]] = {
    "grounded-qa": ("format", "accuracy", "bbox"),
    "rec": ("format", "bbox"),
    "detection": ("format", "bbox"),
    "points": ("format", "point"),
}
"""What a reward for each task is assumed to judge when ``--components`` is not given."""


@dataclass(frozen=True)
class AuditOptions:
    """Everything that shapes an audit.

    Attributes:
        settings: How completions are written (coordinate space, tag names).
        components: What the reward claims to judge; checks aimed at a claimed
            component must make the trick score strictly lower.
        tolerance: Differences at or below this are treated as zero.
        reward_range: ``(low, high)`` every reward must lie in; ``None`` means
            ``[0, max(1, best perfect reward)]``.
        time_limit: Seconds one call may take.
        fuzz: How many seeded adversarial completions to score.
        seed: Seed of every random choice (junk boxes, fuzz).
        scenarios: The ground-truth scenarios (``None``: those of ``task``).
        task: ``grounded-qa``, ``rec``, ``detection`` or ``points``.
    """

    settings: AuditSettings = field(default_factory=AuditSettings)
    components: frozenset[str] = frozenset(TASK_COMPONENTS["grounded-qa"])
    tolerance: float = 1e-6
    reward_range: tuple[float, float] | None = None
    time_limit: float = 5.0
    fuzz: int = 100
    seed: int = 0
    scenarios: Sequence[Scenario] | None = None
    task: str = "grounded-qa"

    @property
    def chosen(self) -> Sequence[Scenario]:
        """The scenarios this audit runs."""
        return scenarios_for(self.task) if self.scenarios is None else self.scenarios


@dataclass(frozen=True)
class Observation:
    """One call the audit made and what it returned."""

    check: str
    scenario: str
    variant: str
    outcome: Outcome


class Session:
    """One audit run: the adapter, the writers, cached references and every observation."""

    def __init__(self, adapter: RewardAdapter, options: AuditOptions) -> None:
        self.adapter = adapter
        self.options = options
        self.writers = [TraceWriter(sc, options.settings) for sc in options.chosen]
        self.observations: list[Observation] = []
        self._refs: dict[tuple[str, str], Outcome] = {}

    def rng(self, *keys: object) -> random.Random:
        """A random source seeded by the audit seed and ``keys`` (stable across runs)."""
        return random.Random(":".join(str(k) for k in (self.options.seed, *keys)))

    def sample(
        self,
        writer: TraceWriter,
        completion: str,
        *,
        prompt: str | None = None,
        gt_order: Sequence[int] | None = None,
    ) -> Sample:
        """A sample of ``writer``'s scenario (its solution written as the adapter says)."""
        truth = writer.scenario.ground_truth(gt_order)
        fmt = self.adapter.solution_format
        solution = None
        if fmt != "columns":
            coords = writer.settings.coords
            solution = encode_solution(
                truth,
                fmt,
                to_space=writer.to_space,
                number=lambda v: float(render_number(v, coords)),
            )
        return Sample(
            completion,
            truth,
            writer.scenario.prompt() if prompt is None else prompt,
            solution,
        )

    def record(self, check: str, writer: TraceWriter, variant: str, outcome: Outcome) -> Outcome:
        """Remember one outcome (for the range, crash and time checks)."""
        self.observations.append(Observation(check, writer.scenario.name, variant, outcome))
        return outcome

    def score(
        self,
        check: str,
        writer: TraceWriter,
        variant: str,
        completion: str,
        *,
        prompt: str | None = None,
        gt_order: Sequence[int] | None = None,
    ) -> Outcome:
        """Score one completion and record it."""
        outcome = self.adapter.score_one(
            self.sample(writer, completion, prompt=prompt, gt_order=gt_order)
        )
        return self.record(check, writer, variant, outcome)

    def reference(self, writer: TraceWriter, kind: str) -> Outcome:
        """A reference completion's outcome, scored once per run.

        Args:
            writer: The scenario's writer.
            kind: ``perfect``, ``honest``, ``honest_wrong``, ``far``, ``perfect_wrong``
                or ``perfect_untagged``.

        Returns:
            The outcome.
        """
        key = (writer.scenario.name, kind)
        if key not in self._refs:
            self._refs[key] = self.score(
                "references", writer, kind, self.reference_text(writer, kind)
            )
        return self._refs[key]

    @staticmethod
    def reference_text(writer: TraceWriter, kind: str) -> str:
        """The text of a reference completion (see :meth:`reference`)."""
        wrong = writer.scenario.wrong_answer
        texts: dict[str, Callable[[], str]] = {
            "perfect": writer.perfect,
            "honest": writer.honest,
            "far": writer.far,
            "honest_wrong": lambda: writer.honest(answer=wrong),
            "perfect_wrong": lambda: writer.perfect(answer=wrong),
            "perfect_untagged": writer.untagged,
        }
        if kind not in texts:
            raise KeyError(f"expected a reference kind in {sorted(texts)}, got {kind!r}")
        return texts[kind]()
