"""What every recipe's ``prepare_data.py`` shares: the common arguments, the checks, the
smoke input and the deterministic train/val split.

Each recipe adds its own options (pixel budgets, data source, system prompt) and writes
its trainer's format; this module gives it the examples of each split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grounding_rewards.cli.export import load_examples
from grounding_rewards.export import split_by_id
from grounding_rewards.export_schema import GroundedExample


def recipe_parser(description: str | None) -> argparse.ArgumentParser:
    """A parser with INPUTS, --out-dir, --model-family, --val-fraction, --image-root, --smoke."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "inputs", nargs="*", type=Path, help="JSONL records or synth output folders"
    )
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--model-family", default="qwen2.5-vl")
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--image-root", type=Path)
    parser.add_argument("--smoke", action="store_true", help="use the bundled sample pictures")
    return parser


def smoke_input(out_dir: Path) -> Path:
    """Write the bundled sample pictures with hand-drawn boxes (offline) and return them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "trl"))
    import tiny_qwen

    return tiny_qwen.write_samples(out_dir)


def split_examples(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, validate_first: bool = False
) -> tuple[list[GroundedExample], list[GroundedExample]]:
    """Check the common arguments, load the examples and split them by id.

    Args:
        parser: The recipe's parser (its errors exit with status 2).
        args: The parsed arguments.
        validate_first: The trainer validates before training: a smoke run with no
            validation example gets the first training one.

    Returns:
        ``(train, val)``.
    """
    if not args.smoke and not args.inputs:
        parser.error("expected INPUT files (or --smoke)")
    if not 0.0 <= args.val_fraction < 1.0:
        parser.error(f"--val-fraction: expected a number in [0, 1), got {args.val_fraction}")
    inputs = [smoke_input(args.out_dir)] if args.smoke else args.inputs
    train, val = split_by_id(load_examples(inputs, image_root=args.image_root), args.val_fraction)
    if validate_first and args.smoke and not val:
        val = train[:1]
    return train, val
