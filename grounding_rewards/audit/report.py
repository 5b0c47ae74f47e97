"""Audit results: one row per check, a text table and JSON.

Verdicts:

``ok``
    The check passed.
``GAINS``
    An exploit scored more than the honest completion (``gain > tolerance``).
``NOT PENALIZED``
    An exploit aimed at a component the reward claims (``--components``) scored no
    less than the honest completion: the reward does not notice the trick.
``BROKEN``
    An invariant does not hold (the ``gain`` column says by how much).
``NO SIGNAL``
    The honest completion is not rewarded for what the reward claims to reward;
    every comparison would be vacuous. Usually a wrong ``--coords``,
    ``--components`` or ``--contract``.
``CRASH``
    The reward raised (or returned something that is not a reward) on model output.
``SLOW``
    One call took longer than the time limit.
``UNSAFE``
    The reward executed Python written by the model (``eval`` of its output).
``SKIPPED``
    The check's premise failed: a sanity check it relies on reported ``NO SIGNAL``,
    so its comparison would be vacuous (the ``NO SIGNAL`` itself fails the audit).
``WARN``
    Worth knowing, not a hole (a GRPO group with one reward for every completion);
    never fails the audit.
``n/a``
    Nothing to compare (the reward returned ``None``, or the check does not apply).

Example:
    >>> row = CheckResult("empty_answer", "exploit", "an empty answer", 1.0, 2.0, 1.0, "GAINS")
    >>> row.passed
    False
    >>> print(format_table([row]))  # doctest: +NORMALIZE_WHITESPACE
    check         honest  exploit    gain  verdict
    empty_answer   1.000    2.000  +1.000  GAINS
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PASSING", "VERDICTS", "AuditReport", "CheckResult", "format_table"]

VERDICTS: tuple[str, ...] = (
    "ok",
    "GAINS",
    "NOT PENALIZED",
    "BROKEN",
    "NO SIGNAL",
    "CRASH",
    "SLOW",
    "UNSAFE",
    "SKIPPED",
    "WARN",
    "n/a",
)
PASSING: frozenset[str] = frozenset({"ok", "n/a", "SKIPPED", "WARN"})


@dataclass(frozen=True)
class CheckResult:
    """One row of the audit.

    Attributes:
        name: Check identifier.
        kind: ``sanity``, ``exploit`` or ``invariant``.
        description: One line saying what is checked.
        honest: The honest (reference) reward of the worst case; for an invariant,
            the value it is compared with (e.g. the spam bound).
        exploit: The exploit's reward (the observed value for an invariant).
        gain: ``exploit - honest`` (for invariants: by how much it is violated,
            positive when broken).
        verdict: One of :data:`VERDICTS`.
        scenario: The scenario of the worst case.
        variant: The variant of the worst case.
        details: Everything else (per-variant results, error messages, timings).
    """

    name: str
    kind: str
    description: str
    honest: float | None
    exploit: float | None
    gain: float | None
    verdict: str
    scenario: str | None = None
    variant: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether the verdict is ``ok``, ``n/a``, ``SKIPPED`` or ``WARN``."""
        return self.verdict in PASSING


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def format_table(rows: Sequence[CheckResult]) -> str:
    """The rows as an aligned text table: check, honest, exploit, gain, verdict.

    Args:
        rows: Check results.

    Returns:
        The table (no trailing newline).
    """
    header = ("check", "honest", "exploit", "gain", "verdict")
    body = [
        (r.name, _num(r.honest), _num(r.exploit), _num(r.gain, signed=True), r.verdict)
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(5)]
    lines = []
    for line in [header, *body]:
        cells = [line[0].ljust(widths[0])]
        cells += [line[i].rjust(widths[i]) for i in (1, 2, 3)]
        cells.append(line[4])
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    """Replace non-finite floats by strings so the JSON is standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class AuditReport:
    """The whole audit of one reward function.

    Attributes:
        target: What was audited (``MODULE:FUNCTION`` or the function's name).
        contract: ``plain``, ``trl`` or ``verl``.
        settings: The rendering settings (coordinate space, tags), as a dict.
        components: The components the reward claims (``format``, ``accuracy``, ``bbox``).
        tolerance: Gains at or below this count as none.
        reward_range: The ``(low, high)`` every reward must lie in.
        checks: Every check, in report order.
        output: What the target printed or warned while it was audited (kept out of
            the table).
        task: The task the scenarios come from.
    """

    target: str
    contract: str
    settings: Mapping[str, Any]
    components: tuple[str, ...]
    tolerance: float
    reward_range: tuple[float, float]
    checks: tuple[CheckResult, ...]
    output: tuple[str, ...] = ()
    task: str = "grounded-qa"

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass."""
        return tuple(check for check in self.checks if not check.passed)

    def table(self) -> str:
        """The report as text: a header, the table and a summary line."""
        lo, hi = self.reward_range
        dialect = self.settings.get("dialect", "tags")
        extra = "" if dialect == "tags" else f", dialect {dialect}"
        if self.task != "grounded-qa":
            extra += f", task {self.task}"
        head = (
            f"audit of {self.target} (contract {self.contract}, coords "
            f"{self.settings.get('coords')}{extra}, components "
            f"{','.join(self.components) or '-'}, range [{lo:g}, {hi:g}])"
        )
        failed = self.failures
        summary = (
            f"{len(self.checks)} checks, all passed"
            if not failed
            else f"{len(self.checks)} checks, {len(failed)} failed: "
            + ", ".join(f"{c.name} ({c.verdict})" for c in failed)
        )
        hints = [f"hint ({c.name}): {c.details['hint']}" for c in failed if c.details.get("hint")]
        notes = [
            f"warning ({c.name}): {c.details.get('hint', c.description)}"
            for c in self.checks
            if c.verdict == "WARN"
        ]
        skipped = [c.name for c in self.checks if c.verdict == "SKIPPED"]
        if skipped:
            notes.append(f"skipped (premise failed): {', '.join(skipped)}")
        for c in self.checks:
            curve = c.details.get("curve")
            if c.name == "box_scale" and curve:
                points = "  ".join(f"x{k}: {v:.3f}" for k, v in curve.items())
                notes.append(f"reward vs box scale (mean over scenarios): {points}")
        if self.output:
            lines = sum(text.count("\n") or 1 for text in self.output)
            notes.append(
                f"the reward printed or warned {lines} line(s) while audited (kept out of "
                "this table; see 'output' in --json)"
            )
        tail = "\n".join([*notes, summary, *hints])
        return f"{head}\n\n{format_table(self.checks)}\n\n{tail}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite numbers become ``"nan"``/``"inf"`` strings)."""
        return {
            "target": self.target,
            "contract": self.contract,
            "settings": dict(self.settings),
            "components": list(self.components),
            "tolerance": self.tolerance,
            "reward_range": list(self.reward_range),
            "passed": self.passed,
            "failed": [c.name for c in self.failures],
            "checks": [_jsonable(asdict(c)) for c in self.checks],
            "task": self.task,
            "output": list(self.output),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as standard JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)
