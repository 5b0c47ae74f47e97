"""Reference synthesis pipeline: verified, grounded multiple-choice QA from images.

Two-level grounding with crop & zoom-in: a teacher VLM captions the image, objects
are detected, cropped, zoomed and captioned one by one, merged, verified (checks in
code first, then an LLM verdict per statement) and turned into QA whose rationale
is a grounded trace the rewards score 1. Heavy dependencies load only with the
backend or detector that needs them; Pillow comes with the ``synthesis`` extra.

Example:
    >>> from grounding_rewards.synthesis import SynthesisConfig
    >>> SynthesisConfig(seed=3).seed
    3
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grounding_rewards.synthesis.backends.base import (
    Backend,
    BackendError,
    BaseBackend,
    GenerationRequest,
    make_backend,
)
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.records import (
    ImageInfo,
    ObjectRecord,
    QAItem,
    Record,
    Relation,
    StageError,
    Statement,
)

if TYPE_CHECKING:
    from grounding_rewards.synthesis.pipeline import Pipeline, process_record
    from grounding_rewards.synthesis.runner import RunSummary, run_synthesis

__all__ = [
    "Backend",
    "BackendError",
    "BaseBackend",
    "GenerationRequest",
    "ImageInfo",
    "ObjectRecord",
    "Pipeline",
    "QAItem",
    "Record",
    "Relation",
    "RunSummary",
    "StageError",
    "Statement",
    "SynthesisConfig",
    "make_backend",
    "process_record",
    "run_synthesis",
]

_LAZY = {
    "Pipeline": "grounding_rewards.synthesis.pipeline",
    "process_record": "grounding_rewards.synthesis.pipeline",
    "RunSummary": "grounding_rewards.synthesis.runner",
    "run_synthesis": "grounding_rewards.synthesis.runner",
}


def __getattr__(name: str) -> Any:
    # The pipeline needs Pillow (the ``synthesis`` extra); records and backends do not.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
