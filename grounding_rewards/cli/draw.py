"""``grounding-rewards draw ROLLOUTS --index N -o overlay.png``: one rollout's boxes as a PNG.

Ground-truth boxes are drawn in blue and predicted boxes in orange, each labelled (a
prediction with the IoU of its match), over the rollout's image (resolved under
``--images``), or over a blank canvas of its ``image_size`` when there is no image.
Pick the rollout by position (``--index``, 0-based, as the report numbers them) or by
``--id``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grounding_rewards.cli._common import DataFileError, add_config_arguments, config_from_args
from grounding_rewards.cli._skipped import SkippedRecords
from grounding_rewards.errors import GroundTruthError
from grounding_rewards.metrics.evaluation import sample_view
from grounding_rewards.metrics.reasoning import analyze_sample
from grounding_rewards.metrics.rollouts import (
    Rollout,
    RolloutFormat,
    RolloutFormatError,
    read_rollouts,
)

__all__ = ["find_rollout", "register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``draw`` subcommand.

    Args:
        subparsers: The top-level parser's subparsers.
    """
    parser = subparsers.add_parser(
        "draw",
        help="draw one rollout's predicted and ground-truth boxes as a PNG",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("rollouts", type=Path, help="rollout file or directory")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--index", type=int, help="0-based position of the rollout")
    which.add_argument("--id", help="the rollout's id")
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    parser.add_argument(
        "--format",
        choices=("auto", "rollouts", "verl", "trl"),
        default="auto",
        help="input format (default: detect)",
    )
    parser.add_argument(
        "--images",
        type=Path,
        help="directory that relative image paths are under "
        "(default: the rollouts file's directory)",
    )
    add_config_arguments(parser)
    parser.set_defaults(handler=run)


def find_rollout(
    path: Path,
    *,
    index: int | None = None,
    id: str | None = None,
    format: RolloutFormat = "auto",
    on_error: Callable[[RolloutFormatError], None] | None = None,
) -> tuple[int, Rollout]:
    """Return ``(position, rollout)`` of the rollout at ``index`` or with ``id``.

    Positions count readable rollouts only (as ``evaluate``'s report numbers them);
    malformed records before it go to ``on_error`` (``None``: they raise).

    Raises:
        DataFileError: When there is no such rollout.
    """
    if index is not None and index < 0:
        raise DataFileError(f"--index: expected a position >= 0, got {index}")
    count = 0
    for position, rollout in enumerate(read_rollouts(path, format=format, on_error=on_error)):
        count += 1
        if (index is not None and position == index) or (id is not None and rollout.id == id):
            return position, rollout
    wanted = f"index {index}" if index is not None else f"id {id!r}"
    raise DataFileError(
        f"{path}: expected a rollout with {wanted}, got {count} rollouts without it"
    )


def run(args: argparse.Namespace) -> int:
    """Draw the overlay and print where it went.

    Args:
        args: Parsed arguments.

    Returns:
        0 on success, 1 when malformed records before the rollout were skipped.
    """
    from grounding_rewards.report.draw import draw_overlay, load_image, save_overlay
    from grounding_rewards.report.html import resolve_image

    config = config_from_args(args)
    skipped = SkippedRecords("draw")
    position, rollout = find_rollout(
        args.rollouts, index=args.index, id=args.id, format=args.format, on_error=skipped
    )
    try:
        sample = analyze_sample(rollout.completion, rollout.target, config=config)
    except (GroundTruthError, ValueError) as exc:
        raise DataFileError(f"{rollout.source}: {exc}") from None
    view = sample_view(sample, rollout, index=position, config=config)
    images = args.images
    if images is None:
        images = args.rollouts if args.rollouts.is_dir() else args.rollouts.parent
    image_path = resolve_image(view.image, images)
    image = load_image(image_path) if image_path is not None else None
    if image is None and view.image_size is None:
        raise DataFileError(
            f"{rollout.source}: expected an 'image' or an 'image_size' to draw on, got neither"
        )
    counted = [span for span in view.spans if span.counted and span.box is not None]
    overlay = draw_overlay(
        image,
        image_size=view.image_size,
        pred_boxes=[span.box for span in counted if span.box is not None],
        pred_labels=[span.label for span in counted],
        pred_ious=[span.iou for span in counted],
        gt_boxes=view.gt_boxes,
        gt_labels=view.gt_labels,
    )
    save_overlay(args.output, overlay)
    print(
        f"{args.output}: rollout {position} ({rollout.source}), "
        f"{len(counted)} predicted and {len(view.gt_boxes)} ground-truth boxes",
        file=sys.stdout,
    )
    return skipped.exit_code()
