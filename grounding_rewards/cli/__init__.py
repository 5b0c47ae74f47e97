"""The ``grounding-rewards`` command line.

Each subcommand lives in its own module ``grounding_rewards.cli.<name>`` with a
``register(subparsers)`` function; :data:`COMMANDS` lists them.

Example:
    >>> parser = build_parser()
    >>> parser.prog
    'grounding-rewards'
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from grounding_rewards import __version__
from grounding_rewards.errors import GroundingRewardsError

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: tuple[str, ...] = ("score", "evaluate", "draw", "audit", "synth", "export")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand registered.

    Returns:
        The top-level parser.
    """
    parser = argparse.ArgumentParser(
        prog="grounding-rewards",
        description="Rewards, metrics, audits and data synthesis for grounded-reasoning RL.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"grounding_rewards.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Errors in the user's files or options (``ValueError``, ``OSError`` and this
    library's errors) print one clear line and exit with status 2 instead of a
    traceback.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit code.
    """
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except BrokenPipeError:  # `... | head`: the reader left; that is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (GroundingRewardsError, ValueError, OSError) as error:
        print(f"grounding-rewards {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
