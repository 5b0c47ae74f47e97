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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _prepare import recipe_parser, split_examples

from grounding_rewards import RewardConfig
from grounding_rewards.export import coords_for, write_verl_parquet


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__)
    parser.add_argument("--min-pixels", type=int, default=3136)
    parser.add_argument("--max-pixels", type=int, default=1003520)
    parser.add_argument("--data-source", default="grounding_rewards")
    args = parser.parse_args(argv)
    config = RewardConfig(
        coords=coords_for(args.model_family), min_pixels=args.min_pixels, max_pixels=args.max_pixels
    )
    train, val = split_examples(parser, args, validate_first=True)
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
