"""Model backends for the synthesis pipeline (heavy ones import their engine lazily).

Example:
    >>> from grounding_rewards.synthesis.backends import GenerationRequest, make_backend
    >>> GenerationRequest(prompt="Describe.", template_id="main_caption@v1").stage
    'main_caption'
"""

from __future__ import annotations

from grounding_rewards.synthesis.backends.base import (
    BACKENDS,
    Backend,
    BackendError,
    BaseBackend,
    GenerationRequest,
    make_backend,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "BaseBackend",
    "GenerationRequest",
    "make_backend",
]
