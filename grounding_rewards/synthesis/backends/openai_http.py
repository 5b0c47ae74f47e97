r"""An async client for OpenAI-compatible chat servers (vLLM, SGLang) over HTTP.

:class:`OpenAIBackend` sends each :class:`GenerationRequest` as one
``POST {base_url}/chat/completions``: images become ``image_url`` content parts
holding base64 ``data:`` URLs (the server needs no access to our files), and a
request's ``json_schema`` becomes a constrained-decoding field (``response_format``
by default; vLLM's ``structured_outputs`` or the older ``guided_json`` on request).

What it does for a long run against a real server:

- **Concurrency limit**: at most ``max_concurrency`` requests in flight (a semaphore
  held only while a request is on the wire, not while it waits to retry), over one
  pooled keep-alive connection set of the same size.
- **Timeouts**: ``timeout_s`` for one attempt, ``connect_timeout_s`` to connect.
- **Retries**: on timeouts, connection errors, 5xx, 408 and 429 (and a 200 whose body is
  not an OpenAI answer), up to ``max_retries`` times, with exponential backoff and
  jitter: before retry *k* (1-based) it waits ``min(backoff_max_s, backoff_base_s *
  2**(k-1))`` times a uniform factor in [0.5, 1] (a ``Retry-After`` header, capped at
  ``backoff_max_s``, wins when longer). Other 4xx are the request's fault and are
  never retried.
- **Malformed JSON**: when the request has a schema and no JSON can be found in the
  answer (see :func:`extract_json_text`, whose result is what it returns), it raises
  ``BackendError(reason="malformed_json")``. It retries that only for sampled requests
  (``temperature > 0``), ``malformed_json_retries`` times: a greedy request would
  repeat the same answer, so a retry would only cost time. (The pipeline's stages
  re-ask after ``malformed_json`` themselves, with a new seed,
  ``SynthesisConfig.json_retries`` times: see
  :func:`~grounding_rewards.synthesis.stages.common.ask_many`.)
- **API key**: read from the environment variable ``api_key_env`` when the connection
  pool opens, sent as a bearer token, never stored in the backend's attributes,
  ``repr``, pickled state, log lines or error messages (messages are scrubbed of it
  even when a server echoes it back).

Errors carry ``reason``: ``timeout``, ``connection``, ``http_<status>``,
``bad_response``, ``malformed_json`` or ``no_model``.

``aiohttp`` is imported only when the first request is made (extra ``synthesis``).

Example:
    >>> from grounding_rewards.synthesis.backends import GenerationRequest
    >>> backend = OpenAIBackend(model="Qwen/Qwen2.5-VL-7B-Instruct", api_key_env="MY_KEY")
    >>> backend  # doctest: +NORMALIZE_WHITESPACE
    OpenAIBackend(model='Qwen/Qwen2.5-VL-7B-Instruct', base_url='http://127.0.0.1:8000/v1',
                  api_key_env='MY_KEY', max_concurrency=64)
    >>> payload = backend.build_payload(GenerationRequest(
    ...     prompt="Caption it.", images=(b"\x89PNG\r\n\x1a\n...",),
    ...     json_schema={"type": "object"}, template_id="main_caption@v1"))
    >>> [part["type"] for part in payload["messages"][0]["content"]]
    ['image_url', 'text']
    >>> payload["messages"][0]["content"][0]["image_url"]["url"][:22]
    'data:image/png;base64,'
    >>> payload["response_format"]["json_schema"]["name"]
    'main_caption'
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from grounding_rewards._optional import require
from grounding_rewards.errors import ConfigError
from grounding_rewards.synthesis.backends.base import BackendError, BaseBackend, GenerationRequest

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "STRUCTURED_OUTPUT_MODES",
    "BackendStats",
    "OpenAIBackend",
    "build_messages",
    "extract_json_text",
    "image_data_url",
]

logger = logging.getLogger(__name__)

StructuredOutputMode = Literal[
    "response_format", "structured_outputs", "guided_json", "json_object", "none"
]
STRUCTURED_OUTPUT_MODES: tuple[str, ...] = (
    "response_format",
    "structured_outputs",
    "guided_json",
    "json_object",
    "none",
)
"""How a request's JSON schema reaches the server:

- ``response_format``: OpenAI's ``{"type": "json_schema", ...}`` (vLLM and SGLang);
- ``structured_outputs``: vLLM's ``{"structured_outputs": {"json": schema}}`` (vLLM >= 0.10.2);
- ``guided_json``: vLLM's field before 0.12 (removed there);
- ``json_object``: ``{"type": "json_object"}``, any JSON (servers without schema support);
- ``none``: nothing sent; the prompt asks for JSON and the answer is still checked.
"""

_RETRYABLE_STATUS = frozenset({408, 429})
_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)


def image_data_url(image: bytes) -> str:
    r"""Encode image bytes as a base64 ``data:`` URL, the MIME type sniffed from the bytes.

    Example:
        >>> image_data_url(b"\xff\xd8\xff\xe0rest")[:30]
        'data:image/jpeg;base64,/9j/4HJ'
    """
    return f"data:{_sniff_mime(image)};base64,{base64.b64encode(image).decode('ascii')}"


def _sniff_mime(image: bytes) -> str:
    if image.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if image.startswith(b"RIFF") and image[8:12] == b"WEBP":
        return "image/webp"
    if image.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return "image/png"


def build_messages(request: GenerationRequest, *, system_prompt: str | None = None) -> list[Any]:
    """The chat messages for ``request``: images first, then the prompt (Qwen-VL's order).

    A request without images sends its prompt as a plain string, which text-only
    chat templates (the verifier LLM's) render as is.

    Example:
        >>> build_messages(GenerationRequest(prompt="Check it."), system_prompt="Be strict.")
        [{'role': 'system', 'content': 'Be strict.'}, {'role': 'user', 'content': 'Check it.'}]
    """
    messages: list[Any] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    if request.images:
        parts: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": image_data_url(image)}}
            for image in request.images
        ]
        parts.append({"type": "text", "text": request.prompt})
        messages.append({"role": "user", "content": parts})
    else:
        messages.append({"role": "user", "content": request.prompt})
    return messages


def extract_json_text(content: str) -> str | None:
    r"""The JSON text inside a model answer, or ``None`` when there is none that parses.

    Drops a leading ``<think>...</think>`` block (reasoning models), then tries the
    whole text, each Markdown code fence, and the span from the first ``{`` (or
    ``[``) to the last ``}`` (or ``]``): the first that parses is returned. Servers
    with constrained decoding answer bare JSON; the rest is for prompted-only JSON.

    Example:
        >>> extract_json_text('<think>hmm</think>```json\n{"a": 1}\n```')
        '{"a": 1}'
        >>> extract_json_text('Sure! Here it is: {"a": [1, 2]} Hope it helps.')
        '{"a": [1, 2]}'
        >>> extract_json_text('{"a": ') is None
        True
    """
    text = content.strip()
    if text.startswith("<think>"):
        _, sep, rest = text.partition("</think>")
        if not sep:
            return None
        text = rest.strip()
    candidates = [text, *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if start != -1 and end > start:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            json.loads(candidate)
        except ValueError:
            continue
        return candidate
    return None


@dataclass
class BackendStats:
    """Counters of one backend's calls (for progress lines and the benchmark).

    Attributes:
        requests: :meth:`OpenAIBackend.generate` calls.
        attempts: HTTP attempts (requests plus retries).
        retries: Attempts after the first of a request.
        succeeded: Requests answered.
        failed: Failed requests by reason.
        max_in_flight: The largest number of attempts on the wire at once.
    """

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    succeeded: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    max_in_flight: int = 0
    in_flight: int = 0


@dataclass(repr=False)
class _LoopState:
    """The pool and limit of one event loop (aiohttp sessions cannot cross loops)."""

    loop: asyncio.AbstractEventLoop
    session: aiohttp.ClientSession
    semaphore: asyncio.Semaphore
    aiohttp: Any
    model: str | None
    model_lock: asyncio.Lock


class _AttemptError(Exception):
    """One failed attempt, before the retry decision."""

    def __init__(self, error: BackendError, *, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class OpenAIBackend(BaseBackend):
    """Generation through an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: The served model's name; ``None`` asks the server's ``/models`` once
            and takes the first (a vLLM server serves one).
        base_url: The API root, e.g. ``http://10.0.0.5:8000/v1``.
        api_key_env: Environment variable holding the API key (unset: no key is sent).
        max_concurrency: Requests in flight at most (also the connection pool size).
        timeout_s: Limit for one attempt, connecting included.
        connect_timeout_s: Limit for connecting.
        max_retries: Retries after the first attempt for transient failures.
        backoff_base_s: First backoff delay; doubles each retry.
        backoff_max_s: Cap on one backoff delay.
        malformed_json_retries: Retries for malformed JSON when ``temperature > 0``.
        structured_output: One of :data:`STRUCTURED_OUTPUT_MODES`.
        system_prompt: Optional system message sent first.
        extra_body: Extra top-level JSON fields merged into every request (e.g.
            ``{"chat_template_kwargs": {"enable_thinking": False}}`` for Qwen3).
        jitter_seed: Seed of the backoff jitter (reproducible schedules in tests).

    Raises:
        ConfigError: On an invalid option ("expected X, got Y").
    """

    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str = "OPENAI_API_KEY",
        max_concurrency: int = 64,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        malformed_json_retries: int = 1,
        structured_output: StructuredOutputMode = "response_format",
        system_prompt: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
        jitter_seed: int | None = None,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url: expected an http(s):// URL, got {base_url!r}")
        _check_int("max_concurrency", max_concurrency, minimum=1)
        _check_int("max_retries", max_retries, minimum=0)
        _check_int("malformed_json_retries", malformed_json_retries, minimum=0)
        for option, value in (
            ("timeout_s", timeout_s),
            ("connect_timeout_s", connect_timeout_s),
            ("backoff_max_s", backoff_max_s),
        ):
            _check_positive(option, value)
        if not isinstance(backoff_base_s, (int, float)) or backoff_base_s < 0:
            raise ConfigError(f"backoff_base_s: expected a number >= 0, got {backoff_base_s!r}")
        if structured_output not in STRUCTURED_OUTPUT_MODES:
            raise ConfigError(
                f"structured_output: expected one of {', '.join(STRUCTURED_OUTPUT_MODES)}, "
                f"got {structured_output!r}"
            )
        if not isinstance(api_key_env, str) or not api_key_env:
            raise ConfigError(f"api_key_env: expected a variable name, got {api_key_env!r}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.max_concurrency = max_concurrency
        self.timeout_s = float(timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.max_retries = max_retries
        self.backoff_base_s = float(backoff_base_s)
        self.backoff_max_s = float(backoff_max_s)
        self.malformed_json_retries = malformed_json_retries
        self.structured_output: StructuredOutputMode = structured_output
        self.system_prompt = system_prompt
        self.extra_body = dict(extra_body or {})
        self.jitter_seed = jitter_seed
        self.stats = BackendStats()
        self._rng = random.Random(jitter_seed)
        self._state: _LoopState | None = None

    def __repr__(self) -> str:
        return (
            f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, "
            f"api_key_env={self.api_key_env!r}, max_concurrency={self.max_concurrency})"
        )

    def __getstate__(self) -> dict[str, Any]:
        # Ray ships backends to workers: send the options, never the pool or the key.
        state = dict(self.__dict__)
        state["_state"] = None
        state["stats"] = BackendStats()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # -- request building -----------------------------------------------------

    def build_payload(
        self, request: GenerationRequest, *, model: str | None = None
    ) -> dict[str, Any]:
        """The JSON body sent for ``request`` (without the API key, which travels in a header)."""
        payload: dict[str, Any] = {
            "model": model or self.model or "default",
            "messages": build_messages(request, system_prompt=self.system_prompt),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        schema = request.json_schema
        if schema is not None:
            mode = self.structured_output
            if mode == "response_format":
                name = _SCHEMA_NAME.sub("_", request.stage or "output")[:64] or "output"
                payload["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": schema},
                }
            elif mode == "structured_outputs":
                payload["structured_outputs"] = {"json": schema}
            elif mode == "guided_json":
                payload["guided_json"] = schema
            elif mode == "json_object":
                payload["response_format"] = {"type": "json_object"}
        payload.update(self.extra_body)
        return payload

    # -- the call -------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> str:
        """Answer ``request``, retrying transient failures.

        Raises:
            BackendError: With the reason of the last failure once retries are spent.
        """
        self.stats.requests += 1
        state = self._loop_state()
        if state.model is None:
            async with state.model_lock:
                if state.model is None:
                    state.model = await self._discover_model(state)
        body = json.dumps(self.build_payload(request, model=state.model)).encode()
        retries_left = self.max_retries
        json_retries_left = self.malformed_json_retries if request.temperature > 0 else 0
        retry = 0
        while True:
            try:
                async with state.semaphore:
                    content = await self._post(state, body)
                answer = self._check_answer(request, content)
            except _AttemptError as failed:
                error = failed.error
                if error.reason == "malformed_json":
                    can_retry = json_retries_left > 0
                    json_retries_left -= 1
                else:
                    can_retry = _transient(error.reason) and retries_left > 0
                    retries_left -= 1
                if not can_retry:
                    self.stats.failed[error.reason] += 1
                    if retry:
                        raise BackendError(
                            f"{error} (gave up after {retry + 1} attempts)", reason=error.reason
                        ) from None
                    raise error from None
                retry += 1
                self.stats.retries += 1
                delay = self._backoff(retry, failed.retry_after)
                logger.warning("%s; retry %d in %.2f s", self._scrub(str(error)), retry, delay)
                await asyncio.sleep(delay)
                continue
            self.stats.succeeded += 1
            return answer

    def _backoff(self, retry: int, retry_after: float | None) -> float:
        delay: float = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (retry - 1))
        delay *= self._rng.uniform(0.5, 1.0)  # equal jitter: spread, but never near zero
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max_s))
        return delay

    async def _post(self, state: _LoopState, body: bytes) -> str:
        aio = state.aiohttp
        url = f"{self.base_url}/chat/completions"
        stats = self.stats
        stats.attempts += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            async with state.session.post(url, data=body) as response:
                raw = await response.read()
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except asyncio.TimeoutError:
            raise _AttemptError(
                BackendError(f"POST {url}: no answer within {self.timeout_s:g} s", reason="timeout")
            ) from None
        except aio.ClientError as exc:
            message = self._scrub(f"POST {url}: {type(exc).__name__}: {exc}")
            raise _AttemptError(BackendError(message, reason="connection")) from None
        finally:
            stats.in_flight -= 1
        if status != 200:
            snippet = self._scrub(raw[:300].decode("utf-8", "replace"))
            error = BackendError(f"POST {url}: HTTP {status}: {snippet}", reason=f"http_{status}")
            raise _AttemptError(error, retry_after=retry_after)
        return self._content(url, raw)

    def _content(self, url: str, raw: bytes) -> str:
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            snippet = self._scrub(raw[:200].decode("utf-8", "replace"))
            raise _AttemptError(
                BackendError(
                    f"POST {url}: expected an OpenAI chat completion, got {snippet!r}",
                    reason="bad_response",
                )
            ) from None
        if not isinstance(content, str):
            raise _AttemptError(
                BackendError(f"POST {url}: the answer has no text content", reason="bad_response")
            )
        if choice.get("finish_reason") == "length":
            # Keep the text; a JSON answer cut short is caught by the JSON check.
            logger.info("POST %s: the answer hit max_tokens", url)
        return content

    def _check_answer(self, request: GenerationRequest, content: str) -> str:
        if request.json_schema is None:
            return content
        text = extract_json_text(content)
        if text is None:
            raise _AttemptError(
                BackendError(
                    f"{request.template_id or 'request'}: expected JSON, got "
                    f"{self._scrub(content[:120])!r}",
                    reason="malformed_json",
                )
            )
        return text

    # -- the pool -------------------------------------------------------------

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._state
        if state is not None and state.loop is loop and not state.session.closed:
            return state
        # A new loop (e.g. a fresh asyncio.run): sessions and semaphores are bound to
        # the loop that made them, so build new ones rather than share broken ones.
        aio = require("aiohttp", extra="synthesis")
        key = os.environ.get(self.api_key_env) or None
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        session = aio.ClientSession(
            headers=headers,
            timeout=aio.ClientTimeout(total=self.timeout_s, sock_connect=self.connect_timeout_s),
            connector=aio.TCPConnector(limit=self.max_concurrency, limit_per_host=0),
            raise_for_status=False,
        )
        self._state = _LoopState(
            loop=loop,
            session=session,
            semaphore=asyncio.Semaphore(self.max_concurrency),
            aiohttp=aio,
            model=self.model,
            model_lock=asyncio.Lock(),
        )
        return self._state

    async def _discover_model(self, state: _LoopState) -> str:
        url = f"{self.base_url}/models"
        try:
            async with state.session.get(url) as response:
                data = json.loads(await response.read())
            model = data["data"][0]["id"]
        except asyncio.TimeoutError:
            raise BackendError(f"GET {url}: no answer", reason="timeout") from None
        except state.aiohttp.ClientError as exc:
            raise BackendError(
                self._scrub(f"GET {url}: {type(exc).__name__}: {exc}"), reason="connection"
            ) from None
        except (ValueError, KeyError, IndexError, TypeError):
            raise BackendError(
                f"GET {url}: expected a model list; pass model= explicitly", reason="no_model"
            ) from None
        self.model = str(model)
        return self.model

    def _scrub(self, text: str) -> str:
        # The key lives only in the session's default headers, where aiohttp needs it.
        state = self._state
        if state is None:
            return text
        auth = state.session.headers.get("Authorization", "")
        secret = auth.removeprefix("Bearer ")
        return text.replace(secret, "***") if secret else text

    async def aclose(self) -> None:
        """Close the connection pool (call it in the loop that made the requests)."""
        state, self._state = self._state, None
        if state is None or state.session.closed:
            return
        if state.loop is asyncio.get_running_loop():
            await state.session.close()
        # A pool made in another, now finished loop cannot be closed from this one;
        # its sockets close when it is garbage collected.


def _transient(reason: str) -> bool:
    if reason in ("timeout", "connection", "bad_response"):
        return True
    if reason.startswith("http_") and reason[5:].isdigit():
        status = int(reason[5:])
        return status >= 500 or status in _RETRYABLE_STATUS
    return False


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare from model servers; the backoff covers it
    return seconds if seconds >= 0 else None


def _check_int(option: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{option}: expected an integer >= {minimum}, got {value!r}")


def _check_positive(option: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{option}: expected a number > 0, got {value!r}")
