"""The backend interface every model backend of the synthesis pipeline implements.

A backend turns a :class:`GenerationRequest` (a rendered prompt, optional encoded
images, decoding settings, an optional JSON schema) into text. Backends are
async so that the runner can keep many requests in flight against an HTTP
server; a failing call raises :class:`BackendError` with a short machine-readable
``reason`` that the runner records and counts.

Example:
    >>> import asyncio
    >>> class Echo(BaseBackend):
    ...     name = "echo"
    ...     async def generate(self, request: GenerationRequest) -> str:
    ...         if not request.prompt:
    ...             raise BackendError("empty prompt", reason="bad_request")
    ...         return request.prompt.upper()
    >>> requests = [GenerationRequest(prompt="hi"), GenerationRequest(prompt="")]
    >>> results = asyncio.run(Echo().generate_many(requests))
    >>> results[0], type(results[1]).__name__, results[1].reason
    ('HI', 'BackendError', 'bad_request')
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from grounding_rewards.errors import (  # noqa: F401 (_rebuild_backend_error: old pickles)
    BackendError,
    ConfigError,
    _rebuild_backend_error,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "BaseBackend",
    "GenerationRequest",
    "make_backend",
]


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One generation call.

    Attributes:
        prompt: The rendered template text.
        images: Encoded PNG/JPEG bytes (crops or the full image), in prompt order.
        max_tokens: Upper bound on generated tokens.
        temperature: Sampling temperature (0 = greedy).
        seed: Sampling seed, recorded in provenance.
        json_schema: When set, the answer must be JSON of this schema (servers
            that support guided decoding enforce it; the pipeline validates it anyway).
        template_id: The template that rendered ``prompt``, e.g. ``"main_caption@v1"``.
        metadata: Free-form, non-prompt hints for backends (e.g. the stage name, a
            crop's object label). Never sent to a model; excluded from equality.
    """

    prompt: str
    images: tuple[bytes, ...] = ()
    max_tokens: int = 512
    temperature: float = 0.0
    seed: int = 0
    json_schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    template_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def stage(self) -> str:
        """The template name without its version (``"main_caption@v1"`` -> ``"main_caption"``)."""
        return self.template_id.split("@", 1)[0]


@runtime_checkable
class Backend(Protocol):
    """What the pipeline needs from a model backend."""

    name: str

    async def generate(self, request: GenerationRequest) -> str:
        """Answer one request; raise :class:`BackendError` on failure."""
        ...

    async def generate_many(
        self, requests: Sequence[GenerationRequest]
    ) -> list[str | BackendError]:
        """Answer many requests; failures come back as :class:`BackendError` values."""
        ...

    async def aclose(self) -> None:
        """Release connections, processes or models."""
        ...


class BaseBackend:
    """Convenience base: ``generate_many`` gathers ``generate`` concurrently.

    Subclasses set ``name`` and implement :meth:`generate`; batch-native engines
    (vLLM offline) override :meth:`generate_many` too.
    """

    name: str = "base"

    async def generate(self, request: GenerationRequest) -> str:
        """Answer one request; raise :class:`BackendError` on failure."""
        raise NotImplementedError

    async def generate_many(
        self, requests: Sequence[GenerationRequest]
    ) -> list[str | BackendError]:
        """Run :meth:`generate` over ``requests`` concurrently, keeping their order.

        A :class:`BackendError` is returned in place of its result; any other
        exception is a bug and propagates.
        """

        async def one(request: GenerationRequest) -> str | BackendError:
            try:
                return await self.generate(request)
            except BackendError as exc:
                return exc

        return list(await asyncio.gather(*(one(r) for r in requests)))

    async def aclose(self) -> None:
        """Release resources (nothing by default)."""

    async def __aenter__(self) -> BaseBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


BACKENDS: dict[str, str] = {
    "offline": "grounding_rewards.synthesis.backends.offline:OfflineBackend",
    "openai": "grounding_rewards.synthesis.backends.openai_http:OpenAIBackend",
    "vllm": "grounding_rewards.synthesis.backends.vllm_offline:VLLMBackend",
    "transformers": "grounding_rewards.synthesis.backends.transformers_local:TransformersBackend",
}
"""Backend name -> ``"module:Class"``; imported only when that backend is made."""


def make_backend(name: str, **options: Any) -> Backend:
    """Build the backend registered under ``name`` with ``options``.

    The backend's module is imported only now, so heavy dependencies (vLLM,
    transformers, an HTTP client) load only for the backend in use.

    Args:
        name: One of :data:`BACKENDS` (``offline``, ``openai``, ``vllm``, ``transformers``).
        **options: Passed to the backend's constructor.

    Returns:
        The backend instance.

    Raises:
        ConfigError: When ``name`` is not registered.

    Example:
        >>> make_backend("offline").name
        'offline'
        >>> make_backend("carrier-pigeon")
        Traceback (most recent call last):
        ...
        grounding_rewards.errors.ConfigError: backend: expected one of ..., got 'carrier-pigeon'
    """
    target = BACKENDS.get(name)
    if target is None:
        raise ConfigError(f"backend: expected one of {', '.join(BACKENDS)}, got {name!r}")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = cls(**options)
    return backend
