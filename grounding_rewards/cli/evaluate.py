"""``grounding-rewards evaluate ROLLOUTS``: the numbers papers report, and a report to look at.

Reads our rollout JSONL (``completion`` with ``answer``, ``gt_boxes``, ``gt_labels``,
``image_size``, ``choices``, and optionally ``image`` and ``id``), a veRL rollout dump
(``{step}.jsonl``) or a TRL completion log (``completions_*.parquet``), a directory of
them too. Prints a summary table (or ``--json``): the mean of each reward component,
Acc@τ, mIoU, one-to-one P/R/F1, COCO AP, and the grounded-reasoning metrics
(answer accuracy, format validity and issues, spans per completion, hallucinated boxes,
label agreement, CHAIR). ``--report report.html`` also writes a self-contained HTML
report with reward histograms and a worst-first gallery of images with boxes.

Rollouts that zoom (a completion with zoom tool calls, or a chat ``messages`` /
conversational ``completion`` list) add a ``zoom`` section: zoom precision and recall
against the evidence boxes, calls per answer, answer accuracy with and without zoom and
mean R_zoom; the report draws each rollout's crops on its image.

A malformed record (a line that is not UTF-8 or not JSON, a truncated last line) is
reported on stderr as ``file:line: ...`` and skipped; the rest is evaluated and the
command exits 1. Odd model output (lone surrogates, NUL, huge completions) is scored,
not an error. The report is written atomically: an existing one stays intact until
the new one is complete.
"""

from __future__ import annotations

import argparse
import json
import sys
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
from grounding_rewards.metrics.evaluation import RolloutEvaluator
from grounding_rewards.metrics.grounding import COCO_THRESHOLDS
from grounding_rewards.metrics.reasoning import Synonyms
from grounding_rewards.metrics.rollouts import read_rollouts

__all__ = ["load_synonyms", "register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` subcommand.

    Args:
        subparsers: The top-level parser's subparsers.
    """
    parser = subparsers.add_parser(
        "evaluate",
        help="metrics and an HTML report over rollouts (ours, veRL dumps, TRL logs)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("rollouts", type=Path, help="rollout file or directory")
    parser.add_argument(
        "--format",
        choices=("auto", "rollouts", "verl", "trl"),
        default="auto",
        help="input format (default: detect per file)",
    )
    parser.add_argument(
        "--images",
        type=Path,
        help="directory that relative image paths are under "
        "(default: the rollouts file's directory)",
    )
    parser.add_argument("--report", type=Path, help="write a self-contained HTML report here")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument(
        "--gallery", type=int, default=50, help="rollouts in the report gallery (50)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="IoU threshold of P/R/F1, hallucinated boxes, label agreement (0.5)",
    )
    parser.add_argument(
        "--synonyms",
        type=Path,
        help='JSON object mapping labels to canonical names, e.g. {"man": "person"}',
    )
    parser.add_argument("--no-coco", dest="coco", action="store_false", help="skip COCO AP")
    parser.add_argument(
        "--coco-backend",
        choices=("faster-coco-eval", "pycocotools"),
        default="faster-coco-eval",
        help="COCO library (faster-coco-eval)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    add_config_arguments(parser)
    parser.set_defaults(handler=run)


def load_synonyms(path: Path | None) -> Synonyms | None:
    """Read a synonym map: a JSON object of label → canonical name.

    Raises:
        DataFileError: When the file is not such an object.
    """
    if path is None:
        return None
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataFileError(
            f"{path}: expected a JSON object of label -> name, got invalid JSON ({exc})"
        ) from None
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
    ):
        raise DataFileError(f"{path}: expected a JSON object of label -> name strings")
    return {" ".join(k.lower().split()): v for k, v in loaded.items()}


def _total(path: Path) -> int:
    if path.is_file() and path.suffix == ".jsonl":
        return count_lines(path)
    return 0


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the summary, and write the report when asked.

    Args:
        args: Parsed arguments.

    Returns:
        0 on success, 1 when malformed records were skipped (each reported on stderr).
    """
    if args.gallery < 0:
        raise DataFileError(f"--gallery: expected a count >= 0, got {args.gallery}")
    config = config_from_args(args)
    evaluator = RolloutEvaluator(
        config,
        thresholds=COCO_THRESHOLDS,
        threshold=args.threshold,
        synonyms=load_synonyms(args.synonyms),
        gallery_size=args.gallery if args.report is not None else 0,
        coco=args.coco,
        coco_backend=args.coco_backend,
    )
    total = _total(args.rollouts)
    bar = Progress(total, "evaluating", enabled=args.progress if total else False)
    skipped = SkippedRecords("evaluate")
    for rollout in read_rollouts(args.rollouts, format=args.format, on_error=skipped):
        evaluator.add(rollout)
        bar.advance()
    bar.close()
    result = evaluator.compute()
    if args.report is not None:
        # Imported here: the report needs Pillow only when there are images to embed.
        from grounding_rewards.report.html import write_report

        images = args.images
        if images is None:
            images = args.rollouts if args.rollouts.is_dir() else args.rollouts.parent
        write_report(
            args.report,
            result,
            evaluator.gallery(),
            source=str(args.rollouts),
            images_dir=images,
        )
    if args.json:
        json.dump(result.as_dict(), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        from grounding_rewards.report.summary import format_value, summary_rows

        rows = [
            [
                row.section,
                row.name,
                format_value(row.value),
                "" if row.count is None else str(row.count),
            ]
            for row in summary_rows(result)
        ]
        print(f"{result.rollouts} rollouts from {args.rollouts}")
        print(format_table(["section", "metric", "value", "n"], rows))
    if args.report is not None:
        print(f"report written to {args.report}", file=sys.stderr)
    return skipped.exit_code()
