"""Reward-hacking audit: run any reward function against a battery of exploits.

``grounding-rewards audit MODULE:FUNCTION`` (or :func:`audit` from Python) writes
honest completions for a few hand-made ground-truth scenarios (in the reward's own
dialect, for its task, under its trainer's calling contract), then the tricks a
policy could learn instead of the task (a whole-image box, box spam, NaN
coordinates, an empty answer, every option, broken tags, a megabyte...), and
checks invariants (finite and in range, order of spans, bounded box spam). Any
exploit that *gains* over the honest completion, or any broken invariant, fails
the audit, so it can gate a CI. See ``docs/audit.md``.

Example:
    >>> from grounding_rewards import grounding_reward
    >>> report = audit(grounding_reward, fuzz=20)
    >>> report.passed, len(report.checks)
    (True, 31)
"""

from grounding_rewards.audit.contracts import (
    CONTRACTS,
    SOLUTION_FORMATS,
    AuditError,
    Outcome,
    RewardAdapter,
    Sample,
    encode_solution,
    load_target,
    make_adapter,
    to_reward_value,
)
from grounding_rewards.audit.exploits import EXPLOITS, Exploit, Variant
from grounding_rewards.audit.report import VERDICTS, AuditReport, CheckResult, format_table
from grounding_rewards.audit.runner import audit, run_audit, run_exploit
from grounding_rewards.audit.scenarios import (
    SCENARIOS,
    TASKS,
    AuditSettings,
    Scenario,
    TraceWriter,
    scenarios_for,
)
from grounding_rewards.audit.session import COMPONENTS, AuditOptions, known_components

__all__ = [
    "COMPONENTS",
    "CONTRACTS",
    "EXPLOITS",
    "SCENARIOS",
    "SOLUTION_FORMATS",
    "TASKS",
    "VERDICTS",
    "AuditError",
    "AuditOptions",
    "AuditReport",
    "AuditSettings",
    "CheckResult",
    "Exploit",
    "Outcome",
    "RewardAdapter",
    "Sample",
    "Scenario",
    "TraceWriter",
    "Variant",
    "audit",
    "encode_solution",
    "format_table",
    "known_components",
    "load_target",
    "make_adapter",
    "run_audit",
    "run_exploit",
    "scenarios_for",
    "to_reward_value",
]
