"""Run the whole audit on one reward function.

Example:
    >>> from grounding_rewards.audit import naive
    >>> report = audit(naive.substring_answer, components=["accuracy"], fuzz=10)
    >>> report.passed
    False
    >>> [(c.name, c.verdict) for c in report.failures]
    [('empty_answer', 'GAINS'), ('every_option', 'GAINS'), ('answer_in_prompt', 'GAINS')]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from grounding_rewards.audit import invariants
from grounding_rewards.audit.contracts import AuditError, RewardAdapter, make_adapter
from grounding_rewards.audit.exploits import EXPLOITS, Exploit
from grounding_rewards.audit.report import AuditReport, CheckResult
from grounding_rewards.audit.scenarios import AuditSettings
from grounding_rewards.audit.session import COMPONENTS, AuditOptions, Session

__all__ = ["audit", "run_audit", "run_exploit"]

_PREVIEW = 160


def run_exploit(session: Session, exploit: Exploit) -> CheckResult:
    """Score every variant of ``exploit`` on every scenario against its reference.

    Args:
        session: The run.
        exploit: The exploit family.

    Returns:
        The check result for the worst variant.
    """
    tol = session.options.tolerance
    writers = session.writers[:1] if exploit.first_scenario_only else session.writers
    rows = []
    for w in writers:
        ref = session.reference(w, exploit.reference)
        for variant in exploit.build(w, session.rng("exploit", exploit.name, w.scenario.name)):
            out = session.score(
                exploit.name, w, variant.name, variant.completion, prompt=variant.prompt
            )
            gain = None if out.value is None or ref.value is None else out.value - ref.value
            rows.append(
                {
                    "scenario": w.scenario.name,
                    "variant": variant.name,
                    "honest": ref.value,
                    "exploit": out.value,
                    "gain": gain,
                    "error": out.error or ref.error,
                    "seconds": round(out.seconds, 6),
                    "chars": len(variant.completion),
                    "completion_preview": variant.completion[:_PREVIEW],
                }
            )
    strict = bool(exploit.strict_for & session.options.components)

    def fails(gain: float) -> bool:
        return math.isnan(gain) or gain > tol or (strict and gain >= -tol)

    result = invariants.summarize(
        exploit.name,
        "exploit",
        exploit.title,
        rows,
        session=session,
        fail_verdict="GAINS",
        fails=fails,
    )
    details = {**result.details, "reference": exploit.reference, "strict": strict}
    verdict = result.verdict
    if verdict == "GAINS" and result.gain is not None:
        if math.isnan(result.gain):
            verdict = "BROKEN"  # a NaN reward: finite_and_in_range says more
        elif result.gain <= tol:
            verdict = "NOT PENALIZED"
    return CheckResult(
        result.name,
        result.kind,
        result.description,
        result.honest,
        result.exploit,
        result.gain,
        verdict,
        result.scenario,
        result.variant,
        details,
    )


def run_audit(
    adapter: RewardAdapter, options: AuditOptions | None = None, *, target: str | None = None
) -> AuditReport:
    """Run sanity checks, the exploit battery and the invariants.

    Args:
        adapter: The reward under its contract.
        options: Audit options; ``None`` uses the defaults.
        target: Name shown in the report (default: the function's name).

    Returns:
        The report.

    Raises:
        AuditError: When the reward fails on every honest completion (usually the
            wrong ``--contract``); the message carries its error.
    """
    options = options or AuditOptions()
    unknown = set(options.components) - set(COMPONENTS)
    if unknown:
        raise AuditError(
            f"expected components among {', '.join(COMPONENTS)}, got {sorted(unknown)}"
        )
    if options.settings.box_region not in ("think", "anywhere"):
        raise AuditError(
            "expected box_region 'think' or 'anywhere' (the audit writes boxes in the reasoning), "
            f"got {options.settings.box_region!r}"
        )
    session = Session(adapter, options)
    perfect = [session.reference(w, "perfect") for w in session.writers]
    if all(p.error for p in perfect):
        raise AuditError(
            f"the reward fails on every honest completion under the {adapter.contract!r} "
            f"contract: {perfect[0].error} (is --contract right?)"
        )
    checks: list[CheckResult] = list(invariants.sanity_checks(session))
    checks += [run_exploit(session, e) for e in EXPLOITS]
    checks += [
        invariants.span_order(session),
        invariants.ground_truth_order(session),
        invariants.spam_bound(session),
        invariants.quality_order(session),
        invariants.deterministic(session),
    ]
    if adapter.contract == "trl":
        checks.append(invariants.batch_consistency(session))
    if options.fuzz > 0:
        checks.append(invariants.fuzz(session))
    if options.reward_range is not None:
        low, high = options.reward_range
    else:
        best = [p.value for p in perfect if p.value is not None and math.isfinite(p.value)]
        low, high = 0.0, max([1.0, *best])
    checks.append(invariants.finite_and_in_range(session, low, high))
    settings = {k: getattr(options.settings, k) for k in AuditSettings.__dataclass_fields__}
    return AuditReport(
        target=target or adapter.name,
        contract=adapter.contract,
        settings=settings,
        components=tuple(c for c in COMPONENTS if c in options.components),
        tolerance=options.tolerance,
        reward_range=(low, high),
        checks=tuple(checks),
    )


def audit(
    fn: Callable[..., Any],
    *,
    contract: str = "plain",
    components: Iterable[str] = COMPONENTS,
    settings: AuditSettings | None = None,
    config: Any = None,
    tolerance: float = 1e-6,
    reward_range: tuple[float, float] | None = None,
    time_limit: float = 5.0,
    fuzz: int = 100,
    seed: int = 0,
    **adapter_options: Any,
) -> AuditReport:
    """Audit a reward function (the Python face of ``grounding-rewards audit``).

    Args:
        fn: The reward function.
        contract: ``plain``, ``trl`` or ``verl``.
        components: What the reward claims to judge (``format``, ``accuracy``, ``bbox``).
        settings: How completions are written; default: from ``config``, else defaults.
        config: A :class:`~grounding_rewards.RewardConfig`; sets the settings and is
            passed as ``config=`` to ``plain`` functions that take it.
        tolerance: Differences at or below this count as zero.
        reward_range: ``(low, high)`` every reward must lie in.
        time_limit: Seconds one call may take.
        fuzz: Number of seeded adversarial completions.
        seed: Seed of the random choices.
        **adapter_options: ``reward_kwargs``, ``conversational``, ``data_source``, ``columns``.

    Returns:
        The report.
    """
    if settings is None:
        settings = AuditSettings.from_config(config) if config is not None else AuditSettings()
    adapter = make_adapter(fn, contract, config=config, **adapter_options)
    options = AuditOptions(
        settings=settings,
        components=frozenset(components),
        tolerance=tolerance,
        reward_range=reward_range,
        time_limit=time_limit,
        fuzz=fuzz,
        seed=seed,
    )
    return run_audit(adapter, options)
