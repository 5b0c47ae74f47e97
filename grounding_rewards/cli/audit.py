"""``grounding-rewards audit MODULE:FUNCTION``: run the reward-hacking audit.

Loads any reward function, runs the exploit battery and the invariants
(:mod:`grounding_rewards.audit`), prints a table and exits 1 when an exploit
gains or an invariant breaks (0 when all pass, 2 for a usage error), so it can
gate a CI::

    grounding-rewards audit grounding_rewards:grounding_reward
    grounding-rewards audit my_rewards.py:box_reward --components bbox --coords norm1000
    grounding-rewards audit grounding_rewards.trl:composite_reward_func() --contract trl
    grounding-rewards audit my_verl_reward.py:compute_score --contract verl --json audit.json
    grounding-rewards audit vlm_r1.py:iou_reward --contract trl --task rec --dialect json \
        --box-region answer --solution-format answer-box

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="grounding-rewards")
    >>> register(parser.add_subparsers())
    >>> args = parser.parse_args(["audit", "grounding_rewards:option_reward",
    ...                           "--components", "accuracy", "--fuzz", "0", "--quiet"])
    >>> args.handler(args)
    0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grounding_rewards._atomic import write_text_atomic
from grounding_rewards.audit.contracts import (
    CALLS,
    CONTRACTS,
    AuditError,
    load_target,
    make_adapter,
)
from grounding_rewards.audit.coords import SPACES
from grounding_rewards.audit.runner import run_audit
from grounding_rewards.audit.scenarios import BOX_REGIONS, TASKS, AuditSettings, select_scenarios
from grounding_rewards.audit.session import TASK_COMPONENTS, AuditOptions, known_components

__all__ = ["register", "run"]

_EPILOG = """\
verdicts: ok; GAINS (an exploit beats the honest completion); NOT PENALIZED (a trick
aimed at a claimed component scores no less than honest); BROKEN (an invariant
fails); NO SIGNAL (the honest completion is not rewarded: check --coords,
--components, --contract); CRASH (the reward raised on model output); SLOW.
exit status: 0 all checks pass, 1 some check failed, 2 usage error.
"""


def register(subparsers: Any) -> None:
    """Add the ``audit`` subcommand.

    Args:
        subparsers: The object returned by ``ArgumentParser.add_subparsers()``.
    """
    parser = subparsers.add_parser(
        "audit",
        help="run the reward-hacking audit on any reward function",
        description=(
            "Score honest completions and a battery of exploits (whole-image box, box "
            "spam, NaN coordinates, wrong coordinate space, empty answer, every option, "
            "broken tags, a megabyte...) with a reward function; check invariants."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "target",
        metavar="MODULE:FUNCTION",
        help="the reward: module:function, path/to/file.py:function, or module:factory()",
    )
    parser.add_argument(
        "--contract",
        choices=CONTRACTS,
        default="plain",
        help="how to call it: plain f(completion, **ground_truth) (default; positional "
        "f(predict, ground_truth) and batch functions are detected), trl, verl, easyr1, "
        "swift (an ORM class or instance), openrlhf",
    )
    parser.add_argument(
        "--components",
        default=None,
        help="what the reward judges, comma-separated among the registered components "
        "(format, accuracy, bbox, point, ...; default by --task: format,accuracy,bbox for "
        "grounded-qa, format,bbox for rec and detection, format,point for points); "
        "tricks aimed at a claimed component must lower the reward",
    )
    parser.add_argument(
        "--task",
        choices=TASKS,
        default="grounded-qa",
        help="what the completions answer: grounded-qa (question, grounded reasoning, a "
        "letter; default), rec (one target), detection (several labelled objects), points",
    )
    parser.add_argument(
        "--scenarios",
        default=None,
        metavar="NAME,...",
        help="run only these scenarios of the task (see docs/audit.md)",
    )
    parser.add_argument(
        "--dialect",
        default=None,
        metavar="NAME",
        help="how the reward reads boxes: tags (default), json, qwen2-tokens, ref-box, bare, "
        "molmo, florence2 or any registered dialect; sets the default --coords to the "
        "dialect's usual space",
    )
    parser.add_argument(
        "--box-region",
        choices=BOX_REGIONS,
        default=None,
        help="where the honest completion writes boxes: think, answer (default for rec and "
        "detection) or anywhere (in the reasoning, and boxes elsewhere are no exploit)",
    )
    parser.add_argument(
        "--solution-format",
        default="columns",
        metavar="FORMAT",
        help="how the reward's ground truth is written: columns (gt_boxes, gt_labels, ...; "
        'default), json ([{"bbox_2d": [...], "label": ...}]), answer-box '
        "(<answer>[x1, y1, x2, y2]</answer>) or MODULE:FUNCTION (a hook given our columns)",
    )
    parser.add_argument(
        "--solution-column",
        default="solution",
        help="trl, swift and plain: the column (keyword) the solution goes in "
        "(default: solution); verl and easyr1 pass it as ground_truth, openrlhf as labels",
    )
    parser.add_argument(
        "--call",
        choices=CALLS,
        default="auto",
        help="plain: keywords f(completion, answer=..., ...), positional f(completion, "
        "solution), batch f(completions, solutions) -> list; auto detects it",
    )
    parser.add_argument(
        "--easyr1-type",
        choices=("batch", "sequential"),
        default=None,
        help="easyr1: batch f(reward_inputs) or sequential f(reward_input) (default: "
        "REWARD_TYPE of the function's module, else batch)",
    )
    parser.add_argument(
        "--coords",
        choices=SPACES,
        default=None,
        help="coordinate space the reward expects boxes in (default: pixel, or --config's)",
    )
    parser.add_argument(
        "--config",
        default=None,
        metavar="JSON",
        help="RewardConfig fields as JSON text or a .json file; sets coords and tag names, "
        "and is passed as config= to plain functions that take it",
    )
    parser.add_argument(
        "--reward-kwargs",
        default=None,
        metavar="JSON",
        help="extra keyword arguments for every call (like veRL's reward_kwargs)",
    )
    parser.add_argument(
        "--range",
        nargs=2,
        type=float,
        default=None,
        metavar=("LOW", "HIGH"),
        help="range every reward must lie in (default: [0, max(1, perfect reward)])",
    )
    parser.add_argument("--tolerance", type=float, default=1e-6, help="gains up to this count as 0")
    parser.add_argument("--time-limit", type=float, default=5.0, help="seconds one call may take")
    parser.add_argument("--fuzz", type=int, default=100, help="seeded adversarial completions")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random choices")
    parser.add_argument(
        "--conversational", action="store_true", help="trl: send chat messages instead of strings"
    )
    parser.add_argument("--data-source", default="grounding", help="verl: the data_source argument")
    parser.add_argument(
        "--json",
        default=None,
        metavar="PATH",
        help="write the full report as JSON ('-' for stdout)",
    )
    parser.add_argument("--quiet", action="store_true", help="print no table")
    parser.set_defaults(handler=run)


def _json_arg(name: str, value: str) -> dict[str, Any]:
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            raise AuditError(f"{name}: expected JSON text or a JSON file, got {value!r}")
        text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AuditError(f"{name}: expected JSON, got {value[:60]!r} ({exc})") from None
    if not isinstance(data, dict):
        raise AuditError(f"{name}: expected a JSON object, got {type(data).__name__}")
    return data


def _components(value: str | None, task: str) -> frozenset[str]:
    if value is None:
        return frozenset(TASK_COMPONENTS[task])
    names = known_components()
    parts = {p.strip() for p in value.split(",") if p.strip()}
    unknown = parts - set(names)
    if unknown or not parts:
        raise AuditError(f"--components: expected names among {','.join(names)}, got {value!r}")
    return frozenset(parts)


def _settings(args: argparse.Namespace) -> tuple[AuditSettings, Any]:
    """The rendering settings and the RewardConfig (``None`` without --config)."""
    from grounding_rewards.dialects import get_dialect
    from grounding_rewards.errors import ConfigError

    explicit = _json_arg("--config", args.config) if args.config is not None else {}
    dialect = args.dialect or explicit.get("dialect", "tags")
    try:
        usual = get_dialect(dialect).coords
    except ConfigError as exc:
        raise AuditError(f"--dialect: {exc}") from None
    coords = args.coords or explicit.get("coords") or ("pixel" if dialect == "tags" else usual)
    default_region = "answer" if args.task in ("rec", "detection") else "think"
    region = args.box_region or explicit.get("box_region") or default_region
    if args.config is None:
        return AuditSettings(coords=coords, dialect=dialect, box_region=region), None
    from grounding_rewards.config import RewardConfig

    config = RewardConfig(
        **{**explicit, "dialect": dialect, "coords": coords, "box_region": region}
    )
    return AuditSettings.from_config(config), config


def run(args: argparse.Namespace) -> int:
    """Run the audit; return 0 when every check passes, else 1.

    Args:
        args: Parsed arguments.

    Returns:
        The exit code.

    Raises:
        AuditError: For a bad target or option (the CLI prints it and exits 2).
    """
    settings, config = _settings(args)
    reward_kwargs = _json_arg("--reward-kwargs", args.reward_kwargs) if args.reward_kwargs else {}
    if args.fuzz < 0 or args.time_limit <= 0 or args.tolerance < 0:
        raise AuditError("expected --fuzz >= 0, --time-limit > 0 and --tolerance >= 0")
    if args.range is not None and not args.range[0] < args.range[1]:
        raise AuditError(f"--range: expected LOW < HIGH, got {args.range[0]:g} {args.range[1]:g}")
    names = [n.strip() for n in (args.scenarios or "").split(",") if n.strip()]
    try:
        scenarios = select_scenarios(args.task, names)
    except ValueError as exc:
        raise AuditError(f"--scenarios: {exc}") from None
    fn = load_target(args.target, allow_class=args.contract == "swift")
    adapter = make_adapter(
        fn,
        args.contract,
        config=config,
        reward_kwargs=reward_kwargs,
        conversational=args.conversational,
        data_source=args.data_source,
        solution_format=args.solution_format,
        solution_column=args.solution_column,
        call=args.call,
        easyr1_type=args.easyr1_type,
    )
    options = AuditOptions(
        settings=settings,
        components=_components(args.components, args.task),
        task=args.task,
        scenarios=scenarios,
        tolerance=args.tolerance,
        reward_range=None if args.range is None else (args.range[0], args.range[1]),
        time_limit=args.time_limit,
        fuzz=args.fuzz,
        seed=args.seed,
    )
    report = run_audit(adapter, options, target=args.target)
    if not args.quiet:
        out = sys.stderr if args.json == "-" else sys.stdout
        print(report.table(), file=out)
    if args.json == "-":
        print(report.to_json())
    elif args.json is not None:
        write_text_atomic(args.json, report.to_json() + "\n")  # an old report stays whole
    return 0 if report.passed else 1
