"""Print the side-by-side table of a learning run (``summary.json``) as Markdown.

    python integrations/learn/table.py runs/learn/summary.json

Example:
    >>> m = {"miou": 0.1, "acc50": 0.1, "answer_accuracy": 0.8, "boxes_per_completion": 1.3,
    ...      "area_ratio": 1.0, "precision50": 0.1, "bbox_reward": 0.1}
    >>> run = {"reward": "ours", "seed": 0, "before": m, "after": {**m, "miou": 0.2},
    ...        "curves": {"bbox_reward": [0.1, 0.3], "naive_bbox_reward": [0.1, 0.3]}}
    >>> markdown({"runs": [run]}).splitlines()[2].split(" | ")[:3]
    ['| ours', '1', '0.100 → 0.200 (+0.100 ± 0.000)']
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["markdown"]


def _mean(values: Sequence[float | None]) -> float:
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.fmean(kept) if kept else math.nan


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def markdown(summary: dict[str, Any], tail: int = 20) -> str:
    """Mean over seeds of before → after, with the mIoU gain's standard deviation.

    Precision@0.5 (matched boxes at IoU >= 0.5 over all predicted boxes) and our
    ``bbox_reward`` on the held-out completions are the figures that show extra boxes:
    mIoU is one-to-one and averaged over true boxes, so it does not see them. The last two
    columns are the mean over the last ``tail`` GRPO steps of each box
    reward as sampled in training (the one not trained on is logged with weight 0).
    """
    lines = [
        "| reward | seeds | mIoU before → after (gain ± sd) | Acc@0.5 | answer acc. "
        "| boxes / completion | area ratio | precision@0.5 | held-out: our bbox "
        "| train: our bbox | train: naive bbox |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for reward in ("ours", "naive"):
        runs = [r for r in summary["runs"] if r["reward"] == reward]
        if not runs:
            continue

        def pair(key: str, digits: int = 3, runs: list[dict[str, Any]] = runs) -> str:
            before = _mean([r["before"][key] for r in runs])
            after = _mean([r["after"][key] for r in runs])
            return f"{before:.{digits}f} → {after:.{digits}f}"

        gains = [r["after"]["miou"] - r["before"]["miou"] for r in runs]
        trained = {
            name: _mean([_mean(r["curves"][name][-tail:]) for r in runs])
            for name in ("bbox_reward", "naive_bbox_reward")
        }
        lines.append(
            f"| {reward} | {len(runs)} | {pair('miou')} "
            f"({statistics.fmean(gains):+.3f} ± {_std(gains):.3f}) | {pair('acc50')} "
            f"| {pair('answer_accuracy')} | {pair('boxes_per_completion', 2)} "
            f"| {pair('area_ratio', 2)} | {pair('precision50')} | {pair('bbox_reward')} "
            f"| {trained['bbox_reward']:.3f} "
            f"| {trained['naive_bbox_reward']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "runs/learn/summary.json")
    print(markdown(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
