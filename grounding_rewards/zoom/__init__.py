"""Thinking with images: rewards for the crops a model zooms into, and the zoom tool.

The model calls a zoom-in tool on a region, sees the zoomed view and answers (DeepEyes,
Mini-o3, Chain-of-Focus). :func:`zoom_reward` scores *where* it zoomed: each crop is
replayed through the chain of views back to pixels of the original image and must contain
an evidence box, tightly, one crop per evidence box.

Modules, one concern each: :mod:`~grounding_rewards.zoom.config` (knobs),
:mod:`~grounding_rewards.zoom.calls` (reading calls), :mod:`~grounding_rewards.zoom.trajectory`
(a trajectory's calls and answer), :mod:`~grounding_rewards.zoom.views` and
:mod:`~grounding_rewards.zoom.chain` (view transforms, chains of crops),
:mod:`~grounding_rewards.zoom.reward` (R_zoom), :mod:`~grounding_rewards.zoom.tool` (crop and
resize), :mod:`~grounding_rewards.zoom.verl_tool` and :mod:`~grounding_rewards.zoom.trl_env`
(trainer integrations), :mod:`~grounding_rewards.zoom.sft` (SFT export),
:mod:`~grounding_rewards.zoom.metrics` and :mod:`~grounding_rewards.zoom.audit_checks`.

Example:
    >>> from grounding_rewards.zoom import zoom_reward
    >>> text = '<grounding>{"bbox_2d": [0.1, 0.1, 0.3, 0.3]}</grounding><answer>A</answer>'
    >>> zoom_reward(text, [[100, 100, 250, 250]], image_size=(1000, 1000))
    1.0
"""

from __future__ import annotations

from grounding_rewards.zoom.calls import ZoomCall
from grounding_rewards.zoom.chain import Crop, resolve_crops
from grounding_rewards.zoom.config import DEFAULT_ZOOM_CONFIG, ZoomConfig
from grounding_rewards.zoom.reward import ZoomScore, ZoomScorer, score_zoom, zoom_reward
from grounding_rewards.zoom.trajectory import ZoomTrajectory, parse_trajectory
from grounding_rewards.zoom.views import View, view_size

__all__ = [
    "DEFAULT_ZOOM_CONFIG",
    "Crop",
    "View",
    "ZoomCall",
    "ZoomConfig",
    "ZoomScore",
    "ZoomScorer",
    "ZoomTrajectory",
    "parse_trajectory",
    "resolve_crops",
    "score_zoom",
    "view_size",
    "zoom_reward",
]
