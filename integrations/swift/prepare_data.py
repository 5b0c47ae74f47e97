"""Prepare ms-swift GRPO JSONL (train and val) from grounded QA records.

    python integrations/swift/prepare_data.py data/qa.jsonl --out-dir data/swift \
        --model-family qwen2.5-vl --max-pixels 1003520 --val-fraction 0.05

INPUT is a JSONL file of grounded QA records or a ``grounding-rewards synth`` output
folder. Writes ``train.jsonl`` and ``val.jsonl`` (a deterministic split by example id)
through ``grounding_rewards.export``: ``messages`` (the user turn: ``<image>`` then the
question, options and instruction), ``images`` (embedded as ``data:`` URIs) and the
ground-truth columns the plugin's rewards read (``answer``, ``choices``, ``gt_boxes``,
``gt_labels``, ``image_size``).

ms-swift resizes Qwen2.5-VL images with its ``MAX_PIXELS`` / ``MIN_PIXELS`` environment
variables: launch it with the same values as ``--max-pixels`` / ``--min-pixels``, and
the plugin with the printed ``GROUNDING_REWARDS_CONFIG`` (``run_qwen25vl_grpo.sh`` does
both).

``--smoke`` writes four scikit-image pictures with hand-drawn boxes instead (offline).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _prepare import recipe_parser, split_examples

from grounding_rewards import RewardConfig
from grounding_rewards.export import coords_for, write_swift_jsonl


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__)
    parser.add_argument("--min-pixels", type=int, default=3136, help="ms-swift's MIN_PIXELS")
    parser.add_argument("--max-pixels", type=int, default=1003520, help="ms-swift's MAX_PIXELS")
    parser.add_argument("--system-prompt", help="system message before the user turn")
    args = parser.parse_args(argv)
    config = RewardConfig(
        coords=coords_for(args.model_family), min_pixels=args.min_pixels, max_pixels=args.max_pixels
    )
    train, val = split_examples(parser, args)
    for split, rows in (("train", train), ("val", val)):
        path = args.out_dir / f"{split}.jsonl"
        count = write_swift_jsonl(rows, path, config=config, system_prompt=args.system_prompt)
        print(f"{split}: {count} examples -> {path}")
    fields: dict[str, object] = {"coords": config.coords}
    if config.coords == "qwen25vl":
        fields.update(min_pixels=config.min_pixels, max_pixels=config.max_pixels)
        print(f"MIN_PIXELS={config.min_pixels} MAX_PIXELS={config.max_pixels}")
    print(f"GROUNDING_REWARDS_CONFIG='{json.dumps(fields)}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
