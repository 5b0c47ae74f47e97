"""``grounding-rewards score ROLLOUTS.jsonl``: score completions, per sample and in summary.

Each line of the input is a JSON object with ``completion`` and the ground truth:
``answer``, ``gt_boxes`` (pixel ``xyxy`` of the original image), ``gt_labels``,
``image_size`` (``[width, height]``), ``choices`` and ``gt_polygons``; ``id`` is optional.
A line that is not such a record (not UTF-8, not JSON, truncated, no ``completion``,
malformed ground truth) is reported on stderr with its line number and skipped; every
other line is scored, and the exit status is then 1. Odd model output is never an error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grounding_rewards.cli._common import (
    DataFileError,
    Progress,
    add_config_arguments,
    config_from_args,
    count_lines,
    format_table,
)
from grounding_rewards.cli._skipped import SkippedRecords
from grounding_rewards.components import GROUND_TRUTH_FIELDS
from grounding_rewards.config import RewardConfig
from grounding_rewards.errors import GroundTruthError
from grounding_rewards.ground_truth import parse_ground_truth
from grounding_rewards.metrics.evaluation import reward_columns
from grounding_rewards.metrics.rollouts import read_rollouts
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
    path: Path,
    config: RewardConfig,
    *,
    progress: bool | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Score every rollout of a JSONL file.

    Args:
        path: The rollouts file.
        config: Reward configuration.
        progress: Show a progress bar (``None``: when stderr is a terminal).
        on_error: Called with the error of each malformed record (not UTF-8, not JSON,
            truncated, without ``completion``, or with malformed ground truth), which is
            then skipped; ``None`` raises the first one instead.

    Returns:
        Per-sample rows and the summary (means over the samples where a component
        applies, and the count of each format issue).

    Raises:
        DataFileError: For a bad line, naming it, when ``on_error`` is ``None``.
    """
    rows: list[dict[str, Any]] = []
    issue_counts: Counter[str] = Counter()
    bar = Progress(count_lines(path), "scoring", enabled=progress)

    def fail(error: Exception) -> None:
        if on_error is None:
            raise DataFileError(str(error)) from None
        on_error(error)

    for rollout in read_rollouts(path, format="rollouts", on_error=fail):
        bar.advance()
        try:
            truth = parse_ground_truth(**{f: rollout.target.get(f) for f in GROUND_TRUTH_FIELDS})
            trace = parse_trace(rollout.completion, config=config)
            result = score_trace(trace, truth, config)
        except (GroundTruthError, ValueError) as error:
            fail(DataFileError(f"{rollout.source}: {error}"))
            continue
        codes = [issue.code for issue in result.issues]
        issue_counts.update(set(codes))
        line = int(rollout.source.rsplit(":", 1)[-1])
        rows.append({"line": line, "id": rollout.id, **result.as_dict()})
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
        0 on success; 1 when malformed records were skipped (each reported on stderr).
    """
    config = config_from_args(args)
    skipped = SkippedRecords("score")
    rows, summary = score_file(args.rollouts, config, progress=args.progress, on_error=skipped)
    if args.json:
        json.dump({"samples": rows, "summary": summary}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return skipped.exit_code()
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
    return skipped.exit_code()
