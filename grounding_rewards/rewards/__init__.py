"""The rewards: format, option (accuracy), bbox, point, and the composite.

Example:
    >>> from grounding_rewards.rewards import bbox_reward, format_reward, option_reward
"""

from grounding_rewards.rewards.batch import BatchRewards, grounding_reward_batch
from grounding_rewards.rewards.bbox import BoxScore, bbox_reward, score_boxes
from grounding_rewards.rewards.composite import RewardBreakdown, grounding_reward, score_trace
from grounding_rewards.rewards.format import FormatResult, check_format, format_reward
from grounding_rewards.rewards.option import option_reward, score_option
from grounding_rewards.rewards.point import PointScore, point_reward, score_points

__all__ = [
    "BatchRewards",
    "BoxScore",
    "FormatResult",
    "PointScore",
    "RewardBreakdown",
    "bbox_reward",
    "check_format",
    "format_reward",
    "grounding_reward",
    "grounding_reward_batch",
    "option_reward",
    "point_reward",
    "score_boxes",
    "score_option",
    "score_points",
    "score_trace",
]
