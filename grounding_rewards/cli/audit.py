"""``grounding-rewards audit MODULE:FUNCTION``: run the reward-hacking audit.

Loads any reward function, runs the exploit battery and the invariants
(:mod:`grounding_rewards.audit`), prints a table and exits 1 when an exploit
gains or an invariant breaks (0 when all pass, 2 for a usage error), so it can
gate a CI::

    grounding-rewards audit grounding_rewards:grounding_reward
    grounding-rewards audit my_rewards.py:box_reward --components bbox --coords norm1000
    grounding-rewards audit grounding_rewards.trl:composite_reward_func() --contract trl
    grounding-rewards audit my_verl_reward.py:compute_score --contract verl --json audit.json

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

from grounding_rewards.audit.contracts import CONTRACTS, AuditError, load_target, make_adapter
from grounding_rewards.audit.coords import SPACES
from grounding_rewards.audit.runner import run_audit
from grounding_rewards.audit.scenarios import AuditSettings
from grounding_rewards.audit.session import COMPONENTS, AuditOptions

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
        help="how to call it: plain f(completion, **ground_truth) (default), trl, verl",
    )
    parser.add_argument(
        "--components",
        default=",".join(COMPONENTS),
        help="what the reward judges, comma-separated among format,accuracy,bbox "
        "(default: all three); tricks aimed at a claimed component must lower the reward",
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


def _components(value: str) -> frozenset[str]:
    parts = {p.strip() for p in value.split(",") if p.strip()}
    unknown = parts - set(COMPONENTS)
    if unknown or not parts:
        raise AuditError(
            f"--components: expected names among {','.join(COMPONENTS)}, got {value!r}"
        )
    return frozenset(parts)


def run(args: argparse.Namespace) -> int:
    """Run the audit; return 0 when every check passes, else 1.

    Args:
        args: Parsed arguments.

    Returns:
        The exit code.

    Raises:
        AuditError: For a bad target or option (the CLI prints it and exits 2).
    """
    config = None
    if args.config is not None:
        from grounding_rewards.config import RewardConfig

        config = RewardConfig(**_json_arg("--config", args.config))
        if args.coords is not None:
            config = config.replace(coords=args.coords)
        settings = AuditSettings.from_config(config)
    else:
        settings = AuditSettings(coords=args.coords or "pixel")
    reward_kwargs = _json_arg("--reward-kwargs", args.reward_kwargs) if args.reward_kwargs else {}
    if args.fuzz < 0 or args.time_limit <= 0 or args.tolerance < 0:
        raise AuditError("expected --fuzz >= 0, --time-limit > 0 and --tolerance >= 0")
    if args.range is not None and not args.range[0] < args.range[1]:
        raise AuditError(f"--range: expected LOW < HIGH, got {args.range[0]:g} {args.range[1]:g}")
    fn = load_target(args.target)
    adapter = make_adapter(
        fn,
        args.contract,
        config=config,
        reward_kwargs=reward_kwargs,
        conversational=args.conversational,
        data_source=args.data_source,
    )
    options = AuditOptions(
        settings=settings,
        components=_components(args.components),
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
        Path(args.json).write_text(report.to_json() + "\n", encoding="utf-8")
    return 0 if report.passed else 1
