"""Prepare EasyR1 parquet (train and val) from grounded QA records.

    python integrations/easyr1/prepare_data.py data/qa.jsonl --out-dir data/easyr1 \
        --model-family qwen2.5-vl --data-max-pixels 4194304 --val-fraction 0.05

INPUT is a JSONL file of grounded QA records or a ``grounding-rewards synth`` output
folder. Writes ``train.parquet`` and ``val.parquet`` (a deterministic split by example
id, so a rerun gives the same split) through ``grounding_rewards.export``: columns
``prompt`` (``<image>`` then the question, options and instruction), ``images`` and
``answer`` (the JSON ground truth EasyR1 hands the reward as ``ground_truth``).

EasyR1 resizes every image to its ``data.min_pixels`` / ``data.max_pixels`` before
Qwen2.5-VL's processor does, so with qwen2.5-vl the prompt states the size the model
sees after both: pass the same ``--data-min-pixels`` / ``--data-max-pixels`` here, to
EasyR1 (``data.*``) and to the reward (``data_min_pixels`` / ``data_max_pixels``), as
``run_qwen25vl_grpo.sh`` does. ``--min-pixels`` / ``--max-pixels`` are the processor's
own budget (default: the official checkpoints', which EasyR1 keeps).

``--smoke`` writes four scikit-image pictures with hand-drawn boxes instead (offline).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grounding_rewards import RewardConfig
from grounding_rewards.cli.export import load_examples
from grounding_rewards.easyr1 import EASYR1_MAX_PIXELS, EASYR1_MIN_PIXELS
from grounding_rewards.export import coords_for, split_by_id, write_easyr1_parquet


def smoke_input(out_dir: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trl"))
    import tiny_qwen

    return tiny_qwen.write_samples(out_dir)


def pixels(text: str) -> int | None:
    """A pixel budget, or ``none`` for EasyR1's ``null``."""
    return None if text.lower() in ("none", "null") else int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "inputs", nargs="*", type=Path, help="JSONL records or synth output folders"
    )
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--model-family", default="qwen2.5-vl")
    parser.add_argument("--data-min-pixels", type=pixels, default=EASYR1_MIN_PIXELS)
    parser.add_argument("--data-max-pixels", type=pixels, default=EASYR1_MAX_PIXELS)
    parser.add_argument("--min-pixels", type=int, help="the processor's min_pixels")
    parser.add_argument("--max-pixels", type=int, help="the processor's max_pixels")
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--image-root", type=Path)
    parser.add_argument("--smoke", action="store_true", help="use the bundled sample pictures")
    args = parser.parse_args(argv)
    if not args.smoke and not args.inputs:
        parser.error("expected INPUT files (or --smoke)")
    if not 0.0 <= args.val_fraction < 1.0:
        parser.error(f"--val-fraction: expected a number in [0, 1), got {args.val_fraction}")
    inputs = [smoke_input(args.out_dir)] if args.smoke else args.inputs
    budget = {
        name: getattr(args, name)
        for name in ("min_pixels", "max_pixels")
        if getattr(args, name) is not None
    }
    config = RewardConfig(coords=coords_for(args.model_family), **budget)
    examples = load_examples(inputs, image_root=args.image_root)
    train, val = split_by_id(examples, args.val_fraction)
    if args.smoke and not val:
        val = train[:1]  # EasyR1 validates before training; give it something to look at
    for split, rows in (("train", train), ("val", val)):
        path = args.out_dir / f"{split}.parquet"
        count = write_easyr1_parquet(
            rows,
            path,
            config=config,
            data_min_pixels=args.data_min_pixels,
            data_max_pixels=args.data_max_pixels,
        )
        print(f"{split}: {count} examples -> {path}")
    data_min, data_max = (
        "null" if value is None else value for value in (args.data_min_pixels, args.data_max_pixels)
    )
    overrides = [f"data.min_pixels={data_min}", f"data.max_pixels={data_max}"]
    reward = {"coords": config.coords}
    if config.coords == "qwen25vl":
        reward.update(
            min_pixels=config.min_pixels,
            max_pixels=config.max_pixels,
            data_min_pixels=data_min,
            data_max_pixels=data_max,
        )
    overrides += [f"worker.reward.reward_function_kwargs.{k}={v}" for k, v in reward.items()]
    print("EasyR1 overrides:", " ".join(overrides))
    return 0


if __name__ == "__main__":
    sys.exit(main())
