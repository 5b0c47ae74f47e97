"""vLLM offline batch inference as a synthesis backend (no server: the engine in process).

:class:`VLLMBackend` owns a ``vllm.LLM`` and feeds it batches: requests that arrive
within ``batch_wait_s`` of each other (up to ``max_batch``) go to the engine in one
``LLM.chat`` call, so the runner's many concurrent records become the large batches
vLLM is fast at. Each conversation is the same OpenAI-style message list the HTTP
backend sends (images as base64 ``data:`` URLs, which ``LLM.chat`` decodes), and a
request's JSON schema becomes ``SamplingParams(structured_outputs=
StructuredOutputsParams(json=schema))`` (``guided_decoding=GuidedDecodingParams(...)``
on vLLM releases before ``StructuredOutputsParams`` existed).

The engine runs in a worker thread, one batch at a time (``LLM`` is not thread-safe),
so the event loop keeps preparing the next batch meanwhile. If a batch raises, its
requests are retried one by one so that one bad input fails alone
(``reason="engine_error"``). A schema-constrained answer that does not parse fails with
``reason="malformed_json"``, like the HTTP backend's.

``vllm`` is imported when the backend is made (extra ``vllm``, CUDA machines only).

Example:
    >>> from grounding_rewards.synthesis.backends.vllm_offline import VLLMBackend
    >>> VLLMBackend("Qwen/Qwen2.5-VL-7B-Instruct")  # doctest: +SKIP
    VLLMBackend(model='Qwen/Qwen2.5-VL-7B-Instruct', max_batch=256)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grounding_rewards._optional import require
from grounding_rewards.errors import ConfigError
from grounding_rewards.synthesis.backends.base import BackendError, BaseBackend, GenerationRequest
from grounding_rewards.synthesis.backends.openai_http import build_messages, extract_json_text

__all__ = ["VLLMBackend", "sampling_params"]

logger = logging.getLogger(__name__)


def sampling_params(vllm: Any, request: GenerationRequest) -> Any:
    """Build the vLLM ``SamplingParams`` for ``request`` (``vllm`` is the imported module).

    Uses ``StructuredOutputsParams`` where the installed vLLM has it (0.10.2 and
    later; ``guided_decoding`` was removed in 0.12), else ``GuidedDecodingParams``.
    """
    options: dict[str, Any] = {
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "seed": request.seed,
    }
    schema = request.json_schema
    if schema is not None:
        module = vllm.sampling_params
        if hasattr(module, "StructuredOutputsParams"):
            options["structured_outputs"] = module.StructuredOutputsParams(json=schema)
        else:
            options["guided_decoding"] = module.GuidedDecodingParams(json=schema)
    return vllm.SamplingParams(**options)


@dataclass
class _Pending:
    request: GenerationRequest
    future: asyncio.Future[str]


class VLLMBackend(BaseBackend):
    """Generation with an in-process ``vllm.LLM``, batched across concurrent requests.

    Args:
        model: Model name or path, passed to ``vllm.LLM``.
        llm: An already built ``vllm.LLM`` (or anything with the same ``chat``); when
            given, ``model`` and ``engine_options`` are not used.
        max_batch: Most conversations per ``LLM.chat`` call.
        batch_wait_s: How long the first request of a batch waits for company.
        system_prompt: Optional system message sent first.
        chat_template_kwargs: Passed to ``LLM.chat`` (e.g. ``{"enable_thinking": False}``).
        **engine_options: Passed to ``vllm.LLM`` (``tensor_parallel_size``,
            ``max_model_len``, ``limit_mm_per_prompt``, ``gpu_memory_utilization``...).

    Raises:
        MissingDependencyError: When ``llm`` is not given and vLLM is not installed.
        ConfigError: On an invalid option.
    """

    name = "vllm"

    def __init__(
        self,
        model: str | None = None,
        *,
        llm: Any = None,
        max_batch: int = 256,
        batch_wait_s: float = 0.01,
        system_prompt: str | None = None,
        chat_template_kwargs: Mapping[str, Any] | None = None,
        **engine_options: Any,
    ) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ConfigError(f"max_batch: expected an integer >= 1, got {max_batch!r}")
        if not isinstance(batch_wait_s, (int, float)) or batch_wait_s < 0:
            raise ConfigError(f"batch_wait_s: expected a number >= 0, got {batch_wait_s!r}")
        if llm is None and not model:
            raise ConfigError(f"model: expected a model name or path, got {model!r}")
        self._vllm = require("vllm", extra="vllm")
        self.model = model
        self.max_batch = max_batch
        self.batch_wait_s = float(batch_wait_s)
        self.system_prompt = system_prompt
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.engine_options = dict(engine_options)
        self._llm = llm
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batch_sizes: list[int] = []

    def __repr__(self) -> str:
        return f"VLLMBackend(model={self.model!r}, max_batch={self.max_batch})"

    def conversation(self, request: GenerationRequest) -> list[Any]:
        """The chat messages ``LLM.chat`` gets for ``request`` (as the HTTP backend's)."""
        return build_messages(request, system_prompt=self.system_prompt)

    async def generate(self, request: GenerationRequest) -> str:
        """Queue ``request`` for the next batch and wait for its answer."""
        loop = asyncio.get_running_loop()
        queue = self._ensure_worker()
        future: asyncio.Future[str] = loop.create_future()
        await queue.put(_Pending(request, future))
        return await future

    def _ensure_worker(self) -> asyncio.Queue[_Pending]:
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._drain(self._queue))
        return self._queue

    async def _drain(self, queue: asyncio.Queue[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.batch_wait_s
            while len(batch) < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
            results = await asyncio.to_thread(self._run_batch, [p.request for p in batch])
            for pending, result in zip(batch, results, strict=True):
                if pending.future.done():
                    continue  # its caller was cancelled
                if isinstance(result, BackendError):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)

    def _engine(self) -> Any:
        if self._llm is None:
            self._llm = self._vllm.LLM(model=self.model, **self.engine_options)
        return self._llm

    def _run_batch(self, requests: Sequence[GenerationRequest]) -> list[str | BackendError]:
        self.batch_sizes.append(len(requests))
        try:
            texts = self._chat(requests)
        except Exception as exc:  # any engine failure: isolate the culprit below
            if len(requests) == 1:
                return [BackendError(f"vLLM: {type(exc).__name__}: {exc}", reason="engine_error")]
            logger.warning("vLLM batch of %d failed (%s); retrying one by one", len(requests), exc)
            return [self._run_batch([request])[0] for request in requests]
        return [_check(request, text) for request, text in zip(requests, texts, strict=True)]

    def _chat(self, requests: Sequence[GenerationRequest]) -> list[str]:
        engine = self._engine()
        outputs = engine.chat(
            [self.conversation(request) for request in requests],
            sampling_params=[sampling_params(self._vllm, request) for request in requests],
            use_tqdm=False,
            chat_template_kwargs=self.chat_template_kwargs or None,
        )
        if len(outputs) != len(requests):
            raise RuntimeError(f"expected {len(requests)} outputs, got {len(outputs)}")
        return [str(output.outputs[0].text) for output in outputs]

    async def aclose(self) -> None:
        """Stop the batching task (the engine is kept for reuse until garbage collected)."""
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker


def _check(request: GenerationRequest, text: str) -> str | BackendError:
    if request.json_schema is None:
        return text
    extracted = extract_json_text(text)
    if extracted is None:
        return BackendError(
            f"{request.template_id or 'request'}: expected JSON, got {text[:120]!r}",
            reason="malformed_json",
        )
    return extracted
