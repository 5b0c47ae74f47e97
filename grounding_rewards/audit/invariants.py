"""Sanity checks and invariants: properties every sound grounded reward has.

Sanity (the audit is only meaningful when they pass):

* ``responds_to_boxes``: exact boxes score more than boxes that overlap nothing;
* ``responds_to_answer``: the right answer scores more than a wrong one;
* ``responds_to_format``: the template scores more than the same words untagged;
* ``responds_to_points``: exact points score more than points that overlap nothing.

Each runs only when the reward claims that component. ``NO SIGNAL`` means the
honest completions are not rewarded: every exploit comparison would be vacuous
(often the reward expects another ``--coords``).

Invariants (from the reward contract in ``docs/reward-contract.md``):

* ``span_order`` / ``ground_truth_order``: permuting the predicted spans, or the
  ground-truth objects, leaves the reward unchanged;
* ``spam_bound``: with ``n > m`` boxes of which ``m`` are perfect,
  ``R <= R_far + (R_perfect - R_far) * m / n`` (the box part is bounded by ``m / n``);
* ``quality_order``: perfect >= roughly right >= boxes that overlap nothing, and
  the right answer >= a wrong one;
* ``deterministic``: the same input gives the same reward;
* ``batch_consistency`` (TRL): a row scores the same alone as inside a mixed batch;
* ``fuzz``: seeded adversarial completions neither crash the reward nor beat a
  perfect completion;
* ``finite_and_in_range``: every reward the audit saw is finite and inside the range;
* ``box_scale``: the exact boxes scaled about their centres (x0.5 ... x2) never score
  more than the exact boxes (the reward as a function of the scale is in the details);
* ``group_signal``: a GRPO group of different completions (perfect, rough, far, wrong,
  broken) does not all get the same reward: zero variance means no learning signal.
  Reported as a warning (``WARN``), which never fails the audit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

from grounding_rewards.audit.contracts import Outcome
from grounding_rewards.audit.exploits import distinct_spaces, written_marks
from grounding_rewards.audit.fuzz import fuzz_completions
from grounding_rewards.audit.report import CheckResult
from grounding_rewards.audit.scenarios import TraceWriter
from grounding_rewards.audit.session import Session

__all__ = [
    "SCALES",
    "batch_consistency",
    "box_scale",
    "deterministic",
    "finite_and_in_range",
    "fuzz",
    "ground_truth_order",
    "group_signal",
    "quality_order",
    "sanity_checks",
    "spam_bound",
    "span_order",
]

Row = dict[str, Any]


def _row(
    writer: TraceWriter,
    variant: str,
    ref: float | None,
    value: float | None,
    gain: float | None,
    outcome: Outcome | None = None,
) -> Row:
    row: Row = {
        "scenario": writer.scenario.name,
        "variant": variant,
        "honest": ref,
        "exploit": value,
        "gain": gain,
    }
    if outcome is not None:
        row["error"] = outcome.error
        row["seconds"] = round(outcome.seconds, 6)
    return row


def _key(gain: float | None) -> float:
    if gain is None:
        return -math.inf
    return math.inf if math.isnan(gain) else gain


def summarize(
    name: str,
    kind: str,
    description: str,
    rows: Sequence[Row],
    *,
    session: Session,
    fail_verdict: str,
    fails: Callable[[float], bool],
) -> CheckResult:
    """Turn per-case rows into one check result (the worst case is shown).

    Args:
        name: Check name.
        kind: ``sanity``, ``exploit`` or ``invariant``.
        description: One line.
        rows: Per-case dicts with ``scenario``, ``variant``, ``honest``, ``exploit``,
            ``gain`` and optionally ``error`` / ``seconds``.
        session: The run (for the time limit).
        fail_verdict: Verdict when ``fails(worst gain)``.
        fails: Whether a gain fails the check.

    Returns:
        The check result.
    """
    details: dict[str, Any] = {"cases": list(rows)}
    crashed = [r for r in rows if r.get("error")]
    if crashed:
        r = crashed[0]
        details["error"] = r["error"]
        return CheckResult(
            name,
            kind,
            description,
            r["honest"],
            None,
            None,
            "CRASH",
            r["scenario"],
            r["variant"],
            details,
        )
    scored = [r for r in rows if r["gain"] is not None]
    if not scored:
        return CheckResult(name, kind, description, None, None, None, "n/a", None, None, details)
    r = max(scored, key=lambda row: _key(row["gain"]))
    verdict = fail_verdict if fails(r["gain"]) else "ok"
    if verdict == "GAINS" and math.isnan(r["gain"]):
        verdict = "BROKEN"  # a NaN reward, not a gain
    slow = [row for row in rows if row.get("seconds", 0.0) > session.options.time_limit]
    if verdict == "ok" and slow:
        r = max(slow, key=lambda row: row["seconds"])
        verdict = "SLOW"
        details["slowest_seconds"] = r["seconds"]
    return CheckResult(
        name,
        kind,
        description,
        r["honest"],
        r["exploit"],
        r["gain"],
        verdict,
        r["scenario"],
        r["variant"],
        details,
    )


def _invariant(name: str, description: str, rows: Sequence[Row], session: Session) -> CheckResult:
    """An invariant check: broken when the worst case's gain is positive (or NaN)."""
    tol = session.options.tolerance
    return summarize(
        name,
        "invariant",
        description,
        rows,
        session=session,
        fail_verdict="BROKEN",
        fails=lambda g: math.isnan(g) or g > tol,
    )


def _diff(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return b - a


_HINTS = {
    "responds_to_boxes": "the honest boxes are not rewarded: is --coords the space the reward "
    "expects (and --config its tag names)?",
    "responds_to_answer": "the right answer is not rewarded: does the reward read <answer>?",
    "responds_to_format": "the template is not rewarded over the same words without it: if "
    "the reward judges another format, say which (--dialect, --box-region, --config tag "
    "names); drop 'format' from --components only if it judges no format at all",
    "responds_to_points": "the honest points are not rewarded: is --coords the space the "
    "reward expects (and --dialect the way it reads points)?",
}


def sanity_checks(session: Session) -> list[CheckResult]:
    """The ``responds_to_*`` checks for the claimed components.

    ``responds_to_boxes`` also writes the exact boxes in every other coordinate
    space that lands elsewhere: if one of those scores at least as much as the
    expected space, the reward reads another space than the audit writes.
    """
    tol = session.options.tolerance
    plan = (
        ("bbox", "responds_to_boxes", "exact boxes beat boxes that overlap nothing", "far"),
        ("accuracy", "responds_to_answer", "the right answer beats a wrong one", "perfect_wrong"),
        ("point", "responds_to_points", "exact points beat points that overlap nothing", "far"),
        (
            "format",
            "responds_to_format",
            "the template beats the same words untagged",
            "perfect_untagged",
        ),
    )
    out = []
    for component, name, description, other in plan:
        if component not in session.options.components:
            continue
        if component == "accuracy" and not session.writers[0].scenario.has_options:
            continue
        rows = []
        for w in session.writers:
            best = session.reference(w, "perfect")
            contenders: list[tuple[str, Outcome]] = [(other, session.reference(w, other))]
            if component in ("bbox", "point"):
                for space, written in distinct_spaces(w):
                    text = w.completion(written_marks(w, written), w.default_answer())
                    variant = f"exact boxes written in {space}"
                    contenders.append((variant, session.score(name, w, variant, text)))
            for variant, worse in contenders:
                error = best.error or worse.error
                gain = _diff(best.value, worse.value)
                if gain is None and error is None:
                    gain = math.nan  # None (not scored) where a score is due: no signal
                row = _row(w, variant, best.value, worse.value, gain)
                row["error"] = error
                rows.append(row)
        result = summarize(
            name,
            "sanity",
            description,
            rows,
            session=session,
            fail_verdict="NO SIGNAL",
            fails=lambda g: math.isnan(g) or g > -tol,
        )
        if result.verdict == "NO SIGNAL":
            hint = _HINTS[name]
            if result.variant and result.variant.startswith("exact boxes written in "):
                space = result.variant.rsplit(" ", 1)[-1]
                hint = (
                    f"the reward scores exact boxes written in {space} higher: try --coords {space}"
                )
            result = CheckResult(
                result.name,
                result.kind,
                result.description,
                result.honest,
                result.exploit,
                result.gain,
                result.verdict,
                result.scenario,
                result.variant,
                {**result.details, "hint": hint},
            )
        out.append(result)
    return out


def _perm_rows(session: Session, check: str, by_gt: bool) -> list[Row]:
    rows = []
    for w in session.writers:
        m = len(w.scenario.boxes)
        if m < 2:
            continue
        for base in ("perfect", "honest"):
            ref = session.reference(w, base)
            for order in itertools.permutations(range(m)):
                if list(order) == list(range(m)):
                    continue
                if by_gt:
                    text = session.reference_text(w, base)
                    out = session.score(
                        check, w, f"{base}, ground truth {order}", text, gt_order=order
                    )
                else:
                    text = w.perfect(order=order) if base == "perfect" else w.honest(order=order)
                    out = session.score(check, w, f"{base}, spans {order}", text)
                d = _diff(ref.value, out.value)
                rows.append(
                    _row(
                        w,
                        f"{base} {order}",
                        ref.value,
                        out.value,
                        None if d is None else abs(d),
                        out,
                    )
                )
    return rows


def span_order(session: Session) -> CheckResult:
    """Permuting the predicted spans changes nothing."""
    rows = _perm_rows(session, "span_order", by_gt=False)
    return _invariant("span_order", "the order of predicted spans does not matter", rows, session)


def ground_truth_order(session: Session) -> CheckResult:
    """Permuting the ground-truth objects changes nothing."""
    rows = _perm_rows(session, "ground_truth_order", by_gt=True)
    description = "the order of ground-truth objects does not matter"
    return _invariant("ground_truth_order", description, rows, session)


def _junk_boxes(
    w: TraceWriter, session: Session, k: int
) -> list[tuple[float, float, float, float]]:
    """``k`` random boxes that overlap no ground-truth box."""
    rng = session.rng("junk", w.scenario.name, k)
    width, height = w.scenario.image_size
    out: list[tuple[float, float, float, float]] = []
    while len(out) < k:
        bw, bh = rng.uniform(0.03, 0.2) * width, rng.uniform(0.03, 0.2) * height
        x, y = rng.uniform(0, width - bw), rng.uniform(0, height - bh)
        box = (float(round(x)), float(round(y)), float(round(x + bw)), float(round(y + bh)))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        if all(
            min(box[2], g[2]) <= max(box[0], g[0]) or min(box[3], g[3]) <= max(box[1], g[1])
            for g in w.scenario.boxes
        ):
            out.append(box)
    return out


def spam_bound(session: Session) -> CheckResult:
    """Box spam is bounded: the box part of the reward is at most ``m / n``.

    For ``rec`` (one target) only junk *before* the right box is written: a reward may
    read the first box alone, and then what follows it is not an answer.
    """
    cap = session.options.settings.max_boxes
    rec = session.options.task == "rec"
    rows = []
    for w in session.writers:
        sc = w.scenario
        m = len(sc.boxes)
        best, far = session.reference(w, "perfect"), session.reference(w, "far")
        if best.value is None or far.value is None:
            continue
        exact = w.marks()
        cases: list[tuple[str, int, list[Any]]] = []
        for j in (m, 3 * m):
            shapes: list[Any] = _junk_boxes(w, session, j)
            if w.points:
                shapes = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in shapes]
            junk = w.marks(shapes, labels=[sc.labels[i % m] for i in range(j)])
            if not rec:
                cases.append((f"perfect + {j} junk boxes after", m + j, exact + junk))
            cases.append((f"perfect + {j} junk boxes before", m + j, junk + exact))
        for k in () if rec else (2, 4):
            dup = [s for s in exact for _ in range(k)]
            cases.append((f"every perfect box x{k}", m * k, dup))
        for variant, n, sentences in cases:
            if n > cap:
                continue
            out = session.score(
                "spam_bound", w, variant, w.completion(sentences, w.default_answer())
            )
            bound = far.value + (best.value - far.value) * m / n
            rows.append(_row(w, variant, bound, out.value, _diff(bound, out.value), out))
    return _invariant(
        "spam_bound", "n > m boxes earn at most m / n of the box reward", rows, session
    )


def quality_order(session: Session) -> CheckResult:
    """Better completions never score less: perfect >= rough >= far; right >= wrong."""
    rows = []
    for w in session.writers:
        pairs = [("perfect", "honest"), ("honest", "far")]
        if w.scenario.has_options:
            pairs.append(("honest", "honest_wrong"))
        for better, worse in pairs:
            hi, lo = session.reference(w, better), session.reference(w, worse)
            row = _row(w, f"{better} >= {worse}", hi.value, lo.value, _diff(hi.value, lo.value))
            row["error"] = hi.error or lo.error
            rows.append(row)
    return _invariant(
        "quality_order",
        "perfect >= roughly right >= wrong boxes; right answer >= wrong",
        rows,
        session,
    )


def deterministic(session: Session) -> CheckResult:
    """Scoring the same input twice gives the same reward."""
    rows = []
    for w in session.writers:
        for kind in ("perfect", "honest"):
            first = session.reference(w, kind)
            again = session.score("deterministic", w, kind, session.reference_text(w, kind))
            d = _diff(first.value, again.value)
            rows.append(
                _row(w, kind, first.value, again.value, None if d is None else abs(d), again)
            )
    return _invariant("deterministic", "the same input gives the same reward", rows, session)


def batch_consistency(session: Session) -> CheckResult:
    """Batched contracts: each row of a mixed batch scores as it does alone."""
    qa = session.writers[0].scenario.has_options
    kinds = ("perfect", "honest_wrong", "far", "honest") if qa else ("perfect", "far", "honest")
    cases = [(w, k) for k in kinds for w in session.writers]
    samples = [session.sample(w, session.reference_text(w, k)) for w, k in cases]
    outcomes = session.adapter.score_batch(samples)
    rows = []
    for (w, k), out in zip(cases, outcomes, strict=True):
        session.record("batch_consistency", w, k, out)
        alone = session.reference(w, k)
        d = _diff(alone.value, out.value)
        rows.append(_row(w, k, alone.value, out.value, None if d is None else abs(d), out))
    return _invariant(
        "batch_consistency", "a row scores the same alone and inside a mixed batch", rows, session
    )


def fuzz(session: Session) -> CheckResult:
    """Seeded adversarial completions: no crash, no reward above a perfect completion."""
    tol = session.options.tolerance
    count = session.options.fuzz
    rows = []
    for i, w in enumerate(session.writers):
        share = count // len(session.writers) + (1 if i < count % len(session.writers) else 0)
        best = session.reference(w, "perfect")
        for j, text in enumerate(fuzz_completions(w, session.rng("fuzz", w.scenario.name), share)):
            out = session.score("fuzz", w, f"fuzz #{j}", text)
            row = _row(w, f"fuzz #{j}", best.value, out.value, _diff(best.value, out.value), out)
            if out.error:
                row["completion_preview"] = text[:200]
            rows.append(row)
    return summarize(
        "fuzz",
        "invariant",
        f"{count} seeded adversarial completions: no crash, none beats perfect",
        rows,
        session=session,
        fail_verdict="GAINS",
        fails=lambda g: math.isnan(g) or g > tol,
    )


def finite_and_in_range(session: Session, low: float, high: float) -> CheckResult:
    """Every reward the audit observed is finite and in ``[low, high]``."""
    tol = session.options.tolerance
    worst: tuple[float, Any] | None = None
    count = 0
    for obs in session.observations:
        value = obs.outcome.value
        if value is None:
            continue
        count += 1
        excess = math.inf if math.isnan(value) else max(value - high, low - value)
        if worst is None or excess > worst[0]:
            worst = (excess, obs)
    details: dict[str, Any] = {"range": [low, high], "rewards_checked": count}
    description = f"every reward is finite and in [{low:g}, {high:g}]"
    if worst is None:
        return CheckResult(
            "finite_and_in_range",
            "invariant",
            description,
            None,
            None,
            None,
            "n/a",
            details=details,
        )
    excess, obs = worst
    value = obs.outcome.value
    broken = not math.isfinite(value) or excess > tol
    bound = high if value is None or math.isnan(value) or value >= low else low
    return CheckResult(
        "finite_and_in_range",
        "invariant",
        description,
        bound,
        value,
        math.nan if math.isnan(value) else excess,
        "BROKEN" if broken else "ok",
        obs.scenario,
        f"{obs.check}: {obs.variant}",
        details,
    )


SCALES: tuple[float, ...] = (0.5, 0.7, 0.85, 0.95, 1.0, 1.05, 1.15, 1.4, 2.0)
"""The factors :func:`box_scale` scales the exact boxes by (about their centres)."""


def _scaled(w: TraceWriter, factor: float) -> list[tuple[float, float, float, float]]:
    width, height = w.scenario.image_size
    out = []
    for x1, y1, x2, y2 in w.scenario.boxes:
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        hw, hh = factor * (x2 - x1) / 2, factor * (y2 - y1) / 2
        out.append(
            (
                max(0.0, cx - hw),
                max(0.0, cy - hh),
                min(float(width), cx + hw),
                min(float(height), cy + hh),
            )
        )
    return out


def box_scale(session: Session) -> CheckResult:
    """Boxes enlarged or shrunk about their centres never beat the exact boxes.

    The mean reward over the scenarios at each scale factor is kept in the details
    (``curve``): a reward that pays a systematic size drift shows a peak away from 1.
    """
    rows = []
    curve: dict[str, list[float]] = {}
    for w in session.writers:
        best = session.reference(w, "perfect")
        for factor in SCALES:
            if factor == 1.0:
                out = best
            else:
                text = w.completion(w.marks(_scaled(w, factor)), w.default_answer())
                out = session.score("box_scale", w, f"x{factor:g}", text)
            if out.value is not None:
                curve.setdefault(f"{factor:g}", []).append(out.value)
            if factor != 1.0:
                rows.append(
                    _row(
                        w,
                        f"boxes x{factor:g}",
                        best.value,
                        out.value,
                        _diff(best.value, out.value),
                        out,
                    )
                )
    result = _invariant(
        "box_scale", "boxes scaled x0.5 ... x2 never beat the exact boxes", rows, session
    )
    means = {k: sum(v) / len(v) for k, v in curve.items()}
    return CheckResult(
        result.name,
        result.kind,
        result.description,
        result.honest,
        result.exploit,
        result.gain,
        result.verdict,
        result.scenario,
        result.variant,
        {**result.details, "curve": means},
    )


def group_signal(session: Session) -> CheckResult:
    """A GRPO group of different completions does not all score the same (a warning)."""
    tol = session.options.tolerance
    kinds = ["perfect", "honest", "far", "perfect_untagged"]
    if session.writers[0].scenario.has_options:
        kinds.append("honest_wrong")
    rows = []
    flat: list[tuple[TraceWriter, float]] = []
    for w in session.writers:
        values = [session.reference(w, k).value for k in kinds]
        scored = [v for v in values if v is not None and not math.isnan(v)]
        if len(scored) < 2:
            continue
        spread = max(scored) - min(scored)
        rows.append(_row(w, "group of " + ", ".join(kinds), max(scored), min(scored), -spread))
        if spread <= tol:
            flat.append((w, scored[0]))
    description = "a GRPO group of different completions gets different rewards"
    details: dict[str, Any] = {"cases": rows, "group": kinds}
    if not rows:
        return CheckResult(
            "group_signal", "invariant", description, None, None, None, "n/a", details=details
        )
    if flat:
        w, value = flat[0]
        details["hint"] = (
            f"every completion of a group scores {value:g} on {w.scenario.name}: zero "
            "variance, GRPO learns nothing from such a group"
        )
        return CheckResult(
            "group_signal",
            "invariant",
            description,
            value,
            value,
            0.0,
            "WARN",
            w.scenario.name,
            "constant over the group",
            details,
        )
    worst = max(rows, key=lambda r: r["gain"])
    return CheckResult(
        "group_signal",
        "invariant",
        description,
        worst["honest"],
        worst["exploit"],
        worst["gain"],
        "ok",
        worst["scenario"],
        worst["variant"],
        details,
    )
