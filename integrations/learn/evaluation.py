"""Held-out evaluation through ``grounding-rewards evaluate``, plus the two box statistics.

Greedy completions are written as our rollout JSONL and scored by the CLI's own entry
point (``grounding_rewards.cli.main(["evaluate", ...])``), which also writes the HTML
report. Two figures the summary needs are computed here from the same completions with
the library's parser and matcher: boxes per completion (every box the model wrote in its
reasoning) and the area ratio (mean predicted / true area over one-to-one matched pairs
with IoU > 0), the figure that shows boxes growing or shrinking to game a reward.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

__all__ = ["box_statistics", "evaluate", "image_paths", "write_rollouts"]

KEYS = ("miou", "acc50", "answer_accuracy", "format_validity")


def write_rollouts(path: Path, dataset: Any, completions: list[str]) -> Path:
    """Our rollout JSONL: one line per held-out row with its completion and ground truth."""
    path.parent.mkdir(parents=True, exist_ok=True)
    paths = image_paths(dataset)
    with path.open("w", encoding="utf-8") as handle:
        for row, image, completion in zip(dataset, paths, completions, strict=True):
            record = {
                "id": row["id"],
                "completion": completion,
                "answer": row["answer"],
                "choices": row["choices"],
                "gt_boxes": row["gt_boxes"],
                "gt_labels": row["gt_labels"],
                "image_size": row["image_size"],
                "image": image,
            }
            handle.write(json.dumps(record) + "\n")
    return path


def image_paths(dataset: Any) -> list[str | None]:
    """The file each row's image was exported from (for the report's gallery)."""
    import datasets

    raw = dataset.cast_column("image", datasets.Image(decode=False))["image"]
    return [item.get("path") if isinstance(item, dict) else None for item in raw]


def box_statistics(dataset: Any, completions: list[str]) -> dict[str, float]:
    """Boxes per completion and the matched-pair area ratio (predicted / true)."""
    from grounding_rewards import parse_trace
    from grounding_rewards.matching import match_boxes

    boxes, ratios = 0, []
    for row, completion in zip(dataset, completions, strict=True):
        spans = [s for s in parse_trace(completion).spans if s.region == "think"]
        boxes += len(spans)
        preds = [s.box for s in spans if s.valid]
        truth = row["gt_boxes"]
        if not preds or not truth:
            continue
        matching = match_boxes(preds, truth)
        for (i, j), score in zip(matching.pairs, matching.scores, strict=True):
            true_area = (truth[j][2] - truth[j][0]) * (truth[j][3] - truth[j][1])
            area = (preds[i][2] - preds[i][0]) * (preds[i][3] - preds[i][1])
            if score > 0 and true_area > 0:
                ratios.append(area / true_area)
    return {
        "boxes_per_completion": boxes / max(1, len(completions)),
        "area_ratio": sum(ratios) / len(ratios) if ratios else math.nan,
    }


def evaluate(
    folder: Path, dataset: Any, completions: list[str], *, report: bool = False
) -> dict[str, Any]:
    """Score completions with ``grounding-rewards evaluate``; returns the summary metrics.

    Writes ``folder/rollouts.jsonl``, ``folder/metrics.json`` (the CLI's full JSON) and,
    with ``report``, ``folder/report.html``.
    """
    from grounding_rewards.cli import main as cli

    rollouts = write_rollouts(folder / "rollouts.jsonl", dataset, completions)
    argv = ["evaluate", str(rollouts), "--json", "--no-coco", "--no-progress"]
    if report:
        argv += ["--report", str(folder / "report.html")]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        code = cli(argv)
    if code != 0:
        raise RuntimeError(f"grounding-rewards evaluate: expected exit 0, got {code}")
    full = json.loads(stdout.getvalue())
    (folder / "metrics.json").write_text(json.dumps(full, indent=2) + "\n")
    return {**_summary(full), **box_statistics(dataset, completions)}


def _summary(full: dict[str, Any]) -> dict[str, float]:
    """The headline figures; NaN where the CLI has none (precision with no predicted box)."""
    grounding, reasoning = full["grounding"], full["reasoning"]
    figures = {
        "miou": grounding["miou"],
        "acc50": grounding["acc@0.5"],
        "recall50": grounding["recall@0.5"],
        "precision50": grounding["precision@0.5"],
        "answer_accuracy": reasoning["answer_accuracy"],
        "format_validity": reasoning["format_validity"],
        "bbox_reward": full["rewards"]["bbox"]["mean"],
    }
    return {k: math.nan if v is None else float(v) for k, v in figures.items()}
