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

import dataclasses
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from grounding_rewards.audit import invariants
from grounding_rewards.audit.contracts import CONTRACTS, AuditError, RewardAdapter, make_adapter
from grounding_rewards.audit.exploits import EVAL_CANARY, EXPLOITS, Exploit
from grounding_rewards.audit.report import PASSING, AuditReport, CheckResult
from grounding_rewards.audit.scenarios import BOX_REGIONS, TASKS, AuditSettings, select_scenarios
from grounding_rewards.audit.session import TASK_COMPONENTS, AuditOptions, Session, known_components

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
    executed: list[str] = []
    strict_for = exploit.strict_for
    if session.options.task == "rec":
        # One target: a reward may read the first box only, so boxes after it need not
        # cost anything; they must only never gain (spam_bound checks boxes before it).
        strict_for = strict_for - {"bbox"}
    strict = bool(strict_for & session.options.components)
    for w in writers:
        for variant in exploit.build(w, session.rng("exploit", exploit.name, w.scenario.name)):
            ref = session.reference(w, variant.reference or exploit.reference)
            sys.modules.pop(EVAL_CANARY, None)
            out = session.score(
                exploit.name, w, variant.name, variant.completion, prompt=variant.prompt
            )
            if sys.modules.pop(EVAL_CANARY, None) is not None:
                executed.append(f"{w.scenario.name}: {variant.name}")
            gain = None if out.value is None or ref.value is None else out.value - ref.value
            if gain is not None and not math.isnan(gain) and strict and variant.strict is False:
                gain = min(gain, -2 * tol) if gain <= tol else gain  # only a gain counts
            rows.append(
                {
                    "scenario": w.scenario.name,
                    "variant": variant.name,
                    "reference": variant.reference or exploit.reference,
                    "honest": ref.value,
                    "exploit": out.value,
                    "gain": gain,
                    "error": out.error or ref.error,
                    "seconds": round(out.seconds, 6),
                    "chars": len(variant.completion),
                    "completion_preview": variant.completion[:_PREVIEW],
                }
            )

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
    if executed:
        verdict = "UNSAFE"
        details["executed"] = executed
        details["hint"] = "the reward executes model output (eval): parse numbers, never eval"
    return dataclasses.replace(result, verdict=verdict, details=details)


_INVARIANT_PREMISES: dict[str, frozenset[str]] = {
    "span_order": frozenset({"bbox", "point"}),
    "ground_truth_order": frozenset({"bbox", "point"}),
    "spam_bound": frozenset({"bbox", "point"}),
    "quality_order": frozenset({"bbox", "point", "accuracy"}),
    "box_scale": frozenset({"bbox"}),
}
_SANITY_COMPONENT = {
    "responds_to_boxes": "bbox",
    "responds_to_answer": "accuracy",
    "responds_to_format": "format",
    "responds_to_points": "point",
}
_UNSKIPPABLE = frozenset({"CRASH", "UNSAFE", "SLOW"})


def _skip_vacuous(
    checks: Sequence[CheckResult], premises: dict[str, frozenset[str]]
) -> list[CheckResult]:
    """Failures of checks whose premise (a sanity check) reported NO SIGNAL become SKIPPED."""
    dead = {
        _SANITY_COMPONENT[c.name]: c.name
        for c in checks
        if c.kind == "sanity" and c.verdict == "NO SIGNAL"
    }
    out = []
    for c in checks:
        needs = premises.get(c.name, frozenset())
        failed_premises = sorted(dead[n] for n in needs if n in dead)
        if c.kind != "sanity" and failed_premises and c.verdict not in PASSING | _UNSKIPPABLE:
            details = {**c.details, "premise_failed": failed_premises, "would_be": c.verdict}
            c = dataclasses.replace(c, verdict="SKIPPED", details=details)
        out.append(c)
    return out


def _contract_hint(adapter: RewardAdapter, session: Session) -> str:
    """Which contract (or --conversational) makes the perfect completion score."""
    sample = session.sample(
        session.writers[0], session.reference_text(session.writers[0], "perfect")
    )
    fields = {f.name: getattr(adapter, f.name) for f in dataclasses.fields(adapter)}
    fields.pop("captured")
    if adapter.contract == "trl":
        flipped = dataclasses.replace(
            adapter, conversational=not adapter.conversational, captured=[]
        )
        if flipped.score_one(sample).error is None:
            return "try " + (
                "--conversational" if flipped.conversational else "without --conversational"
            )
    for contract in CONTRACTS:
        if contract == adapter.contract:
            continue
        options = {**fields, "contract": contract, "call": "auto", "easyr1_type": None}
        options.pop("fn")
        try:
            other = make_adapter(adapter.fn, **options)
        except AuditError:
            continue
        if other.score_one(sample).error is None:
            return f"it scores under --contract {contract}"
    return (
        "is --contract right? (--conversational for chat messages, --solution-format for "
        "its ground truth)"
    )


def _settings_hint(session: Session, component: str, kind: str) -> str | None:
    """Another dialect or box region under which the sanity check would pass."""
    from grounding_rewards.dialects import dialects

    options = session.options
    base = options.settings
    tol = options.tolerance
    geometry = "points" if options.task == "points" else "boxes"
    for dialect in dialects():
        if dialect.renderer is None or geometry not in dialect.writes:
            continue
        for region in BOX_REGIONS[:2]:
            if (dialect.name, region) == (base.dialect, base.box_region):
                continue
            settings = dataclasses.replace(base, dialect=dialect.name, box_region=region)
            probe = Session(
                session.adapter,
                dataclasses.replace(options, settings=settings, scenarios=options.chosen[:1]),
            )
            w = probe.writers[0]
            best = probe.reference(w, "perfect").value
            worse = probe.reference(w, kind).value
            if best is not None and worse is not None and best > worse + tol:
                return (
                    f"the reward responds to {component} written in the {dialect.name!r} "
                    f"dialect with boxes in the {region}: try --dialect {dialect.name} "
                    f"--box-region {region}"
                )
    return None


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
            wrong ``--contract``); the message carries its error and a hint.
    """
    options = options or AuditOptions()
    names = known_components()
    unknown = set(options.components) - set(names)
    if unknown:
        raise AuditError(f"expected components among {', '.join(names)}, got {sorted(unknown)}")
    if options.task not in TASKS:
        raise AuditError(f"expected --task among {', '.join(TASKS)}, got {options.task!r}")
    if options.settings.box_region not in BOX_REGIONS:
        raise AuditError(
            f"expected --box-region among {', '.join(BOX_REGIONS)}, "
            f"got {options.settings.box_region!r}"
        )
    from grounding_rewards.dialects import get_dialect
    from grounding_rewards.errors import ConfigError

    try:
        dialect = get_dialect(options.settings.dialect)
    except ConfigError as exc:
        raise AuditError(f"--dialect: {exc}") from None
    geometry = "points" if options.task == "points" else "boxes"
    if options.settings.dialect != "tags" and (
        dialect.renderer is None or geometry not in dialect.writes
    ):
        raise AuditError(
            f"--dialect {dialect.name}: expected a dialect that writes {geometry} "
            f"(it writes {', '.join(dialect.writes)}; --task points for a points dialect)"
        )
    if not options.chosen or any(s.task != options.task for s in options.chosen):
        raise AuditError(f"expected scenarios of task {options.task!r}")
    session = Session(adapter, options)
    perfect = [session.reference(w, "perfect") for w in session.writers]
    if all(p.error for p in perfect):
        raise AuditError(
            f"the reward fails on every honest completion under the {adapter.contract!r} "
            f"contract: {perfect[0].error} ({_contract_hint(adapter, session)})"
        )
    checks: list[CheckResult] = list(invariants.sanity_checks(session))
    for i, c in enumerate(checks):
        if c.verdict == "NO SIGNAL" and c.name in (
            "responds_to_format",
            "responds_to_boxes",
            "responds_to_points",
        ):
            kind = "perfect_untagged" if c.name == "responds_to_format" else "far"
            if c.name != "responds_to_format" and str(c.details.get("hint", "")).startswith(
                "the reward scores exact boxes written in"
            ):
                continue
            hint = _settings_hint(session, _SANITY_COMPONENT[c.name], kind)
            if hint:
                checks[i] = dataclasses.replace(c, details={**c.details, "hint": hint})
    exploits = [e for e in EXPLOITS if options.task in e.tasks]
    checks += [run_exploit(session, e) for e in exploits]
    boxes = options.task != "points"
    checks += [
        invariants.span_order(session),
        invariants.ground_truth_order(session),
        invariants.spam_bound(session),
        invariants.quality_order(session),
        invariants.deterministic(session),
    ]
    if boxes:
        checks.append(invariants.box_scale(session))
    if adapter.batched:
        checks.append(invariants.batch_consistency(session))
    if options.fuzz > 0:
        checks.append(invariants.fuzz(session))
    checks.append(invariants.group_signal(session))
    if options.reward_range is not None:
        low, high = options.reward_range
    else:
        best = [p.value for p in perfect if p.value is not None and math.isfinite(p.value)]
        low, high = 0.0, max([1.0, *best])
    checks.append(invariants.finite_and_in_range(session, low, high))
    premises = {e.name: e.premises for e in exploits} | _INVARIANT_PREMISES
    checks = _skip_vacuous(checks, premises)
    settings = {k: getattr(options.settings, k) for k in AuditSettings.__dataclass_fields__}
    settings["solution_format"] = adapter.solution_format
    return AuditReport(
        target=target or adapter.name,
        contract=adapter.contract,
        settings=settings,
        components=tuple(c for c in names if c in options.components),
        tolerance=options.tolerance,
        reward_range=(low, high),
        checks=tuple(checks),
        output=tuple(adapter.captured),
        task=options.task,
    )


def audit(
    fn: Callable[..., Any],
    *,
    contract: str = "plain",
    components: Iterable[str] | None = None,
    settings: AuditSettings | None = None,
    config: Any = None,
    task: str = "grounded-qa",
    scenarios: Sequence[str] | None = None,
    tolerance: float = 1e-6,
    reward_range: tuple[float, float] | None = None,
    time_limit: float = 5.0,
    fuzz: int = 100,
    seed: int = 0,
    **adapter_options: Any,
) -> AuditReport:
    """Audit a reward function (the Python face of ``grounding-rewards audit``).

    Args:
        fn: The reward function (``swift``: an ORM class or instance).
        contract: One of ``plain``, ``trl``, ``verl``, ``easyr1``, ``swift``, ``openrlhf``.
        components: What the reward claims to judge (default: by task, e.g.
            ``format``, ``accuracy``, ``bbox`` for grounded QA).
        settings: How completions are written; default: from ``config``, else defaults.
        config: A :class:`~grounding_rewards.RewardConfig`; sets the settings (dialect,
            coordinates, tags, box region) and is passed as ``config=`` to ``plain``
            functions that take it.
        task: ``grounded-qa``, ``rec``, ``detection`` or ``points``.
        scenarios: Names of the task's scenarios to run (default: all of them).
        tolerance: Differences at or below this count as zero.
        reward_range: ``(low, high)`` every reward must lie in.
        time_limit: Seconds one call may take.
        fuzz: Number of seeded adversarial completions.
        seed: Seed of the random choices.
        **adapter_options: ``reward_kwargs``, ``conversational``, ``data_source``,
            ``columns``, ``solution_format``, ``solution_column``, ``call``, ``easyr1_type``.

    Returns:
        The report.
    """
    if settings is None:
        settings = AuditSettings.from_config(config) if config is not None else AuditSettings()
    adapter = make_adapter(fn, contract, config=config, **adapter_options)
    try:
        chosen = select_scenarios(task, scenarios)
    except ValueError as exc:
        raise AuditError(str(exc)) from None
    options = AuditOptions(
        settings=settings,
        components=frozenset(TASK_COMPONENTS.get(task, ()) if components is None else components),
        tolerance=tolerance,
        reward_range=reward_range,
        time_limit=time_limit,
        fuzz=fuzz,
        seed=seed,
        scenarios=chosen,
        task=task,
    )
    return run_audit(adapter, options)
