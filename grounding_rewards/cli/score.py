"""``grounding-rewards score ROLLOUTS.jsonl``: score completions, per sample and in summary.

Each line of the input is a JSON object with ``completion`` and the ground truth:
``answer``, ``gt_boxes`` (pixel ``xyxy`` of the original image), ``gt_labels``,
``image_size`` (``[width, height]``) and ``choices``; ``id`` is optional. A line that
is not such a record stops the run with an error naming the line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from grounding_rewards.cli._common import (
    DataFileError,
    Progress,
    add_config_arguments,
    config_from_args,
    count_lines,
    format_table,
    read_jsonl,
)
from grounding_rewards.components import GROUND_TRUTH_FIELDS
from grounding_rewards.config import RewardConfig
from grounding_rewards.errors import GroundTruthError
from grounding_rewards.ground_truth import parse_ground_truth
from grounding_rewards.metrics.evaluation import reward_columns
from grounding_rewards.parsing import parse_trace
from grounding_rewards.rewards.composite import score_trace

__all__ = ["register", "run", "score_file"]


def register(subparsers: Any) -> None:
    """Add the ``score`` subcommand.

    Args:
        subparsers: The top-level parser's subparsers.
    """
    parser = subparsers.add_parser(
        "score",
        help="score rollouts (completion + ground truth per JSONL line)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("rollouts", type=Path, help="JSONL file, one rollout per line")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--summary-only", action="store_true", help="print only the summary")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    add_config_arguments(parser)
    parser.set_defaults(handler=run)


def score_file(
    path: Path, config: RewardConfig, *, progress: bool | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Score every rollout of a JSONL file.

    Args:
        path: The rollouts file.
        config: Reward configuration.
        progress: Show a progress bar (``None``: when stderr is a terminal).

    Returns:
        Per-sample rows and the summary (means over the samples where a component
        applies, and the count of each format issue).

    Raises:
        DataFileError: For a bad line, naming it.
    """
    rows: list[dict[str, Any]] = []
    issue_counts: Counter[str] = Counter()
    bar = Progress(count_lines(path), "scoring", enabled=progress)
    for number, record in read_jsonl(path):
        if "completion" not in record:
            raise DataFileError(f"{path}:{number}: expected a 'completion' field")
        try:
            truth = parse_ground_truth(**{f: record.get(f) for f in GROUND_TRUTH_FIELDS})
            trace = parse_trace(record["completion"], config=config)
            result = score_trace(trace, truth, config)
        except (GroundTruthError, ValueError) as error:
            raise DataFileError(f"{path}:{number}: {error}") from None
        codes = [issue.code for issue in result.issues]
        issue_counts.update(set(codes))
        rows.append({"line": number, "id": record.get("id"), **result.as_dict()})
        bar.advance()
    bar.close()
    summary: dict[str, Any] = {"samples": len(rows)}
    for name in reward_columns(config):
        values = [row[name] for row in rows if row[name] is not None]
        summary[f"mean_{name}"] = math.fsum(values) / len(values) if values else None
        summary[f"n_{name}"] = len(values)
    summary["issue_counts"] = dict(sorted(issue_counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return rows, summary


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def run(args: argparse.Namespace) -> int:
    """Score the file and print tables (or JSON).

    Args:
        args: Parsed arguments.

    Returns:
        0 on success.
    """
    config = config_from_args(args)
    rows, summary = score_file(args.rollouts, config, progress=args.progress)
    if args.json:
        json.dump({"samples": rows, "summary": summary}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not args.summary_only:
        columns = reward_columns(config)
        header = ["line", "id", *columns, "boxes", "issues"]
        table = [
            [
                str(row["line"]),
                _cell(row["id"]),
                *(_cell(row[name]) for name in columns),
                f"{row['n_pred']}/{row['n_gt']}",
                _shorten(row["issues"] or "-"),
            ]
            for row in rows
        ]
        print(format_table(header, table))
        print()
    print(
        f"{summary['samples']} samples, config: dialect={config.dialect}, coords={config.coords}, "
        f"similarity={config.similarity}, length_penalty={config.length_penalty:g}"
    )
    means = [
        [name, _cell(summary[f"mean_{name}"]), str(summary[f"n_{name}"])]
        for name in reward_columns(config)
    ]
    print(format_table(["component", "mean", "samples"], means))
    if summary["issue_counts"]:
        print()
        counts = [[code, str(count)] for code, count in summary["issue_counts"].items()]
        print(format_table(["format issue", "samples"], counts))
    return 0
