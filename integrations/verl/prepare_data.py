"""Prepare veRL parquet (train and val) from grounded QA records.

    python integrations/verl/prepare_data.py data/qa.jsonl --out-dir data/verl \
        --model-family qwen2.5-vl --max-pixels 1003520 --val-fraction 0.05

Writes ``train.parquet`` and ``val.parquet`` (a deterministic split by example id,
so a rerun gives the same split) through ``grounding_rewards.export``. Pass the same
``--min-pixels`` / ``--max-pixels`` to the reward
(``reward.custom_reward_function.reward_kwargs``), as ``run_qwen25vl_grpo.sh`` does.

``--smoke`` writes four scikit-image pictures with hand-drawn boxes instead (offline).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grounding_rewards import RewardConfig
from grounding_rewards.cli.export import load_examples
from grounding_rewards.export import coords_for, split_by_id, write_verl_parquet


def smoke_input(out_dir: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trl"))
    import tiny_qwen

    return tiny_qwen.write_samples(out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "inputs", nargs="*", type=Path, help="JSONL records or synth output folders"
    )
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--model-family", default="qwen2.5-vl")
    parser.add_argument("--min-pixels", type=int, default=3136)
    parser.add_argument("--max-pixels", type=int, default=1003520)
    parser.add_argument("--val-fraction", type=float, default=0.05)
    parser.add_argument("--data-source", default="grounding_rewards")
    parser.add_argument("--image-root", type=Path)
    parser.add_argument("--smoke", action="store_true", help="use the bundled sample pictures")
    args = parser.parse_args(argv)
    if not args.smoke and not args.inputs:
        parser.error("expected INPUT files (or --smoke)")
    if not 0.0 <= args.val_fraction < 1.0:
        parser.error(f"--val-fraction: expected a number in [0, 1), got {args.val_fraction}")
    inputs = [smoke_input(args.out_dir)] if args.smoke else args.inputs
    config = RewardConfig(
        coords=coords_for(args.model_family), min_pixels=args.min_pixels, max_pixels=args.max_pixels
    )
    examples = load_examples(inputs, image_root=args.image_root)
    train, val = split_by_id(examples, args.val_fraction)
    if args.smoke and not val:
        val = train[:1]  # veRL validates before training; give it something to look at
    for split, rows in (("train", train), ("val", val)):
        count = write_verl_parquet(
            rows,
            args.out_dir / f"{split}.parquet",
            config=config,
            data_source=args.data_source,
            split=split,
        )
        print(f"{split}: {count} examples -> {args.out_dir / f'{split}.parquet'}")
    print(
        f"reward_kwargs: coords={config.coords} min_pixels={config.min_pixels} "
        f"max_pixels={config.max_pixels}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
