"""The pipeline's stages, each a small step that can be run and tested on its own.

Order: load (``images``) -> :func:`main_caption` -> :func:`detect` ->
:func:`crop_and_zoom` -> :func:`branch_captions` -> merge (:func:`dedupe`,
:func:`link_mentions`, :func:`spatial_relations`) -> verify
(:func:`check_statements`, :func:`verify_statements`, :func:`apply_verdicts`) ->
:func:`generate_qa` -> :func:`validate_qa`.

Example:
    >>> from grounding_rewards.synthesis.stages import snap_box
    >>> snap_box((0.5, 0.5, 9.5, 9.5), (8, 8))
    (0, 0, 8, 8)
"""

from __future__ import annotations

from grounding_rewards.synthesis.stages.caption import branch_captions, main_caption
from grounding_rewards.synthesis.stages.common import StageContext, StageFailedError
from grounding_rewards.synthesis.stages.crop import Crop, crop_and_zoom, snap_box
from grounding_rewards.synthesis.stages.detect import detect
from grounding_rewards.synthesis.stages.merge import dedupe, link_mentions, spatial_relations
from grounding_rewards.synthesis.stages.qa import generate_qa
from grounding_rewards.synthesis.stages.validate import validate_qa
from grounding_rewards.synthesis.stages.verify import (
    apply_verdicts,
    build_statements,
    check_statements,
    verify_statements,
)

__all__ = [
    "Crop",
    "StageContext",
    "StageFailedError",
    "apply_verdicts",
    "branch_captions",
    "build_statements",
    "check_statements",
    "crop_and_zoom",
    "dedupe",
    "detect",
    "generate_qa",
    "link_mentions",
    "main_caption",
    "snap_box",
    "spatial_relations",
    "validate_qa",
    "verify_statements",
]
