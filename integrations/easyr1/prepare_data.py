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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _prepare import recipe_parser, split_examples

from grounding_rewards import RewardConfig
from grounding_rewards.easyr1 import EASYR1_MAX_PIXELS, EASYR1_MIN_PIXELS
from grounding_rewards.export import coords_for, write_easyr1_parquet


def pixels(text: str) -> int | None:
    """A pixel budget, or ``none`` for EasyR1's ``null``."""
    return None if text.lower() in ("none", "null") else int(text)


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__)
    parser.add_argument("--data-min-pixels", type=pixels, default=EASYR1_MIN_PIXELS)
    parser.add_argument("--data-max-pixels", type=pixels, default=EASYR1_MAX_PIXELS)
    parser.add_argument("--min-pixels", type=int, help="the processor's min_pixels")
    parser.add_argument("--max-pixels", type=int, help="the processor's max_pixels")
    args = parser.parse_args(argv)
    budget = {
        name: getattr(args, name)
        for name in ("min_pixels", "max_pixels")
        if getattr(args, name) is not None
    }
    config = RewardConfig(coords=coords_for(args.model_family), **budget)
    train, val = split_examples(parser, args, validate_first=True)
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
