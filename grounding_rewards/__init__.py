"""grounding-rewards: exact, tested, fast rewards for grounded-reasoning RL of VLMs.

A grounded completion reasons about objects and where they are, then answers::

    <think>The <obj>man</obj><bbox>[212, 88, 405, 610]</bbox> wears a white
    <obj>helmet</obj><bbox>[268, 88, 340, 170]</bbox>.</think><answer>B</answer>

and is rewarded with ``R = w_f·R_format + w_a·R_accuracy + w_b·R_bbox``.

Example:
    >>> import grounding_rewards as gr
    >>> text = ("<think>The <obj>man</obj><bbox>[212, 88, 405, 610]</bbox> wears a white "
    ...         "<obj>helmet</obj><bbox>[268, 88, 340, 170]</bbox>.</think><answer>B</answer>")
    >>> r = gr.grounding_reward(text, answer="B",
    ...                         gt_boxes=[[210, 90, 400, 600], [270, 90, 338, 168]])
    >>> r.format, r.accuracy, round(r.bbox, 3)
    (1.0, 1.0, 0.92)
"""

from typing import TYPE_CHECKING, Any

# First: GROUNDING_REWARDS_PURE_PYTHON=1 must take effect before any compiled module loads.
from grounding_rewards import _pure  # noqa: F401  (installs the pure-Python finder if wanted)
from grounding_rewards.boxes import box_convert, from_pixels, qwen25vl_resize, to_pixels
from grounding_rewards.components import Component, components, register_component
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.dialects import register_dialect, render_marks
from grounding_rewards.errors import (
    ConfigError,
    GroundingRewardsError,
    GroundTruthError,
    InputError,
    InputTypeError,
    MissingDependencyError,
)
from grounding_rewards.ground_truth import GroundTruth, parse_ground_truth
from grounding_rewards.iou import (
    box_iou,
    box_similarity,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
    paired_box_iou,
    paired_complete_box_iou,
    paired_distance_box_iou,
    paired_generalized_box_iou,
)
from grounding_rewards.matching import Matching, match_boxes
from grounding_rewards.options import extract_option
from grounding_rewards.parsing import (
    ISSUE_CODES,
    FormatIssue,
    GroundedPoint,
    GroundedSpan,
    Trace,
    format_box,
    format_span,
    parse_trace,
)
from grounding_rewards.polygons import polygon_iou, rotated_box_iou
from grounding_rewards.rewards import (
    BatchRewards,
    RewardBreakdown,
    bbox_reward,
    format_reward,
    grounding_reward,
    grounding_reward_batch,
    option_reward,
    point_reward,
)

if TYPE_CHECKING:
    from grounding_rewards.zoom.reward import zoom_reward

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The zoom-in reward loads on first use: most users never score a trajectory, and
    # its readers would add a third to the import time.
    if name == "zoom_reward":
        from grounding_rewards.zoom.reward import zoom_reward

        return zoom_reward
    raise AttributeError(f"module 'grounding_rewards' has no attribute {name!r}")


__all__ = [
    "DEFAULT_CONFIG",
    "ISSUE_CODES",
    "BatchRewards",
    "Component",
    "ConfigError",
    "FormatIssue",
    "GroundTruth",
    "GroundTruthError",
    "GroundedPoint",
    "GroundedSpan",
    "GroundingRewardsError",
    "InputError",
    "InputTypeError",
    "Matching",
    "MissingDependencyError",
    "RewardBreakdown",
    "RewardConfig",
    "Trace",
    "__version__",
    "bbox_reward",
    "box_convert",
    "box_iou",
    "box_similarity",
    "complete_box_iou",
    "components",
    "distance_box_iou",
    "extract_option",
    "format_box",
    "format_reward",
    "format_span",
    "from_pixels",
    "generalized_box_iou",
    "grounding_reward",
    "grounding_reward_batch",
    "match_boxes",
    "option_reward",
    "paired_box_iou",
    "paired_complete_box_iou",
    "paired_distance_box_iou",
    "paired_generalized_box_iou",
    "parse_ground_truth",
    "parse_trace",
    "point_reward",
    "polygon_iou",
    "qwen25vl_resize",
    "register_component",
    "register_dialect",
    "render_marks",
    "rotated_box_iou",
    "to_pixels",
    "zoom_reward",
]
