"""Prepare OpenRLHF prompt JSONL (train and val) from grounded QA records.

    python integrations/openrlhf/prepare_data.py data/qa.jsonl --out-dir data/openrlhf \
        --model-family qwen2.5-vl --val-fraction 0.05

INPUT is a JSONL file of grounded QA records or a ``grounding-rewards synth`` output
folder. Writes ``train.jsonl`` and ``val.jsonl`` (a deterministic split by example id)
through ``grounding_rewards.export``: ``prompt`` (``<image>`` then the question, options
and instruction), ``label`` (the JSON ground truth ``reward_func`` reads), ``images``
(embedded as ``data:image`` URIs) and ``datasource``. Train with ``--data.input_key
prompt --data.label_key label --data.image_key images --data.apply_chat_template``.

OpenRLHF hands images unresized to the model's processor (``AutoProcessor`` with the
checkpoint's settings), so with qwen2.5-vl ``--min-pixels`` / ``--max-pixels`` must be
that processor's (default: the official checkpoints' 3136 / 12845056), and the reward
runs with the printed ``GROUNDING_REWARDS_CONFIG``.

``--smoke`` writes four scikit-image pictures with hand-drawn boxes instead (offline).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _prepare import recipe_parser, split_examples

from grounding_rewards import RewardConfig
from grounding_rewards.export import coords_for, write_openrlhf_jsonl


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__)
    parser.add_argument("--min-pixels", type=int, default=3136, help="the processor's min_pixels")
    parser.add_argument(
        "--max-pixels", type=int, default=12845056, help="the processor's max_pixels"
    )
    parser.add_argument("--data-source", default="grounding_rewards")
    parser.add_argument("--system-prompt", help="system message before the user turn")
    args = parser.parse_args(argv)
    config = RewardConfig(
        coords=coords_for(args.model_family), min_pixels=args.min_pixels, max_pixels=args.max_pixels
    )
    train, val = split_examples(parser, args)
    for split, rows in (("train", train), ("val", val)):
        path = args.out_dir / f"{split}.jsonl"
        count = write_openrlhf_jsonl(
            rows,
            path,
            config=config,
            data_source=args.data_source,
            system_prompt=args.system_prompt,
        )
        print(f"{split}: {count} examples -> {path}")
    fields: dict[str, object] = {"coords": config.coords}
    if config.coords == "qwen25vl":
        fields.update(min_pixels=config.min_pixels, max_pixels=config.max_pixels)
    print(f"GROUNDING_REWARDS_CONFIG='{json.dumps(fields)}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
