"""A stub OpenAI-compatible chat server on loopback, for tests and benchmarks.

It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length`` bodies) to answer
``POST /v1/chat/completions`` the way vLLM or SGLang would, with a fixed latency
and scripted faults, and it counts what it sees: requests, the largest number in
flight at once, and whether an ``Authorization`` header came. Standard library
only, so the benchmark and the tests need nothing beyond the client under test.

It binds to ``127.0.0.1`` only and never opens an outgoing connection.

Faults, consumed one per request from :meth:`StubOpenAIServer.script` (then ``"ok"``):

- ``"ok"``: a normal answer after ``latency_s``;
- ``"http_<code>"``: that status with a JSON error body (e.g. ``"http_500"``, ``"http_400"``);
- ``"hang"``: wait ``hang_s`` before answering (a client with a shorter timeout gives up);
- ``"malformed_json"``: a 200 whose message content is not JSON;
- ``"bad_body"``: a 200 whose body is not JSON at all;
- ``"disconnect"``: close the connection without answering;
- ``"drop_mid_body"``: send the headers of a normal answer and half its body, then
  close the connection (a server or proxy dying mid-response).

:func:`fault_plan` draws a seeded mix of faults for a campaign.

Example:
    >>> import json, urllib.request
    >>> with StubOpenAIServer(latency_s=0.0) as server:
    ...     body = json.dumps({"model": "m", "messages": [
    ...         {"role": "user", "content": "hello"}]}).encode()
    ...     req = urllib.request.Request(server.base_url + "/chat/completions", data=body,
    ...                                  headers={"Content-Type": "application/json"})
    ...     with urllib.request.urlopen(req) as resp:
    ...         answer = json.load(resp)
    >>> answer["choices"][0]["message"]["content"]
    'echo: hello'
    >>> server.stats.requests, server.stats.max_in_flight
    (1, 1)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import inspect
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from grounding_rewards.errors import InputError

__all__ = [
    "FAULTS",
    "Responder",
    "StubOpenAIServer",
    "StubStats",
    "echo_responder",
    "fault_plan",
    "main",
    "offline_responder",
    "request_from_body",
    "request_text",
]

FAULTS = ("ok", "hang", "malformed_json", "bad_body", "disconnect", "drop_mid_body")
"""Fault names understood besides ``"http_<code>"``."""

Responder = Callable[[dict[str, Any]], "str | Awaitable[str]"]
"""Maps a parsed chat-completions request body to the assistant's content (or awaits it)."""

_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 256 * 1024 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    408: "Request Timeout",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def request_text(body: dict[str, Any]) -> str:
    """Join the text parts of the last user message of a chat request.

    Example:
        >>> request_text({"messages": [{"role": "user", "content": [
        ...     {"type": "image_url", "image_url": {"url": "data:,"}},
        ...     {"type": "text", "text": "What is it?"}]}]})
        'What is it?'
    """
    messages = body.get("messages") or []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(
                    str(part.get("text", ""))
                    for part in content
                    if isinstance(part, dict) and part.get("type") == "text"
                )
    return ""


def fault_plan(seed: int, length: int, weights: dict[str, float], *, spacing: int = 1) -> list[str]:
    """A seeded list of ``length`` faults (``"ok"`` in between) to :meth:`~StubOpenAIServer.script`.

    Args:
        seed: Seed of the draw (same seed, same plan).
        length: Requests the plan covers (``"ok"`` after it).
        weights: Fault -> probability per request (the rest is ``"ok"``).
        spacing: At least this many ``"ok"`` answers follow each fault, so that
            bounded retries always get through.

    Example:
        >>> plan = fault_plan(0, 12, {"http_500": 0.3, "disconnect": 0.2})
        >>> len(plan), plan == fault_plan(0, 12, {"http_500": 0.3, "disconnect": 0.2})
        (12, True)
        >>> all(a == "ok" or b == "ok" for a, b in zip(plan, plan[1:]))
        True
    """
    import random

    for fault in weights:
        _check_fault(fault)
    rng = random.Random(seed)
    plan: list[str] = []
    quiet = 0
    for _ in range(length):
        fault = "ok"
        if quiet == 0:
            draw = rng.random()
            for name, weight in weights.items():
                if draw < weight:
                    fault = name
                    break
                draw -= weight
        else:
            quiet -= 1
        if fault != "ok":
            quiet = spacing
        plan.append(fault)
    return plan


def echo_responder(body: dict[str, Any]) -> str:
    """Answer ``"echo: <text>"``, or a JSON object holding it when a schema is asked for.

    Example:
        >>> echo_responder({"messages": [{"role": "user", "content": "hi"}]})
        'echo: hi'
        >>> echo_responder({"messages": [{"role": "user", "content": "hi"}],
        ...                 "response_format": {"type": "json_schema"}})
        '{"echo": "hi"}'
    """
    text = request_text(body)
    if "response_format" in body or "structured_outputs" in body or "guided_json" in body:
        return json.dumps({"echo": text})
    return f"echo: {text}"


def request_from_body(body: dict[str, Any]) -> Any:
    """Rebuild the :class:`GenerationRequest` a chat-completions body was made from.

    The template id comes back from the schema name the HTTP backend sends (the
    stage), so a stand-in model can answer per stage exactly as it would in process.
    """
    from grounding_rewards.synthesis.backends.base import GenerationRequest

    images: list[bytes] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            url = part.get("image_url", {}).get("url", "") if isinstance(part, dict) else ""
            if url.startswith("data:") and "," in url:
                images.append(base64.b64decode(url.split(",", 1)[1]))
    schema: dict[str, Any] | None = None
    stage = ""
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = response_format["json_schema"].get("schema")
        stage = str(response_format["json_schema"].get("name", ""))
    return GenerationRequest(
        prompt=request_text(body),
        images=tuple(images),
        max_tokens=int(body.get("max_tokens", 512)),
        temperature=float(body.get("temperature", 0.0)),
        seed=int(body.get("seed", 0)),
        json_schema=schema,
        template_id=stage,
    )


def offline_responder(**options: Any) -> Responder:
    """A responder that answers as the deterministic offline model would, in process.

    Pipeline runs through the HTTP backend against this stub give the same records
    as runs with :class:`~grounding_rewards.synthesis.backends.offline.OfflineBackend`
    (but for the model names in provenance and the ids that hash them).

    Args:
        **options: Passed to ``OfflineBackend`` (e.g. ``hallucinate=["mention"]``).
    """
    from grounding_rewards.synthesis.backends.offline import OfflineBackend

    model = OfflineBackend(**options)

    async def respond(body: dict[str, Any]) -> str:
        answer: str = await model.generate(request_from_body(body))
        return answer

    return respond


@dataclass
class StubStats:
    """What the stub server saw (read it from any thread; ints only change under the GIL).

    Attributes:
        requests: Chat-completion requests received (faulty ones included).
        in_flight: Requests being answered now.
        max_in_flight: The largest ``in_flight`` seen.
        connections: TCP connections accepted (fewer than ``requests`` means keep-alive works).
        authorized: Requests that carried an ``Authorization`` header.
        arrivals: ``(monotonic time, fault)`` of the most recent requests (bounded).
        bodies: The most recent parsed request bodies (bounded; only when ``keep_bodies``).
    """

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    connections: int = 0
    authorized: int = 0
    arrivals: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=10_000))
    bodies: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=64))

    def as_dict(self) -> dict[str, int]:
        """The counters as a JSON-ready dict."""
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "connections": self.connections,
            "authorized": self.authorized,
        }


class StubOpenAIServer:
    """An OpenAI-compatible chat server on ``127.0.0.1`` running in a background thread.

    Args:
        latency_s: Delay before each normal answer (the "model time").
        responder: Builds the answer's content from the request body
            (default :func:`echo_responder`).
        hang_s: How long a ``"hang"`` fault waits before answering anyway.
        keep_bodies: Keep the most recent request bodies in ``stats.bodies``.
        port: Port to bind (0 picks a free one).

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        responder: Responder | None = None,
        hang_s: float = 30.0,
        keep_bodies: bool = False,
        port: int = 0,
    ) -> None:
        self.latency_s = latency_s
        self.responder: Responder = responder or echo_responder
        self.hang_s = hang_s
        self.keep_bodies = keep_bodies
        self.stats = StubStats()
        self._port = port
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # -- control (any thread) -------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, what a client takes as its base URL."""
        return f"http://127.0.0.1:{self._port}/v1"

    def script(self, faults: Iterable[str]) -> None:
        """Queue faults for the next requests, one each, in arrival order."""
        faults = list(faults)
        for fault in faults:
            _check_fault(fault)
        with self._lock:
            self._faults.extend(faults)

    def reset_stats(self) -> None:
        """Zero the counters and drop queued faults."""
        with self._lock:
            self._faults.clear()
        self.stats = StubStats()  # handlers still running settle on the old object

    def start(self) -> StubOpenAIServer:
        """Start serving in a daemon thread; returns once the port is bound."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="stub-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("stub server did not start within 10 s")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> StubOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- serving (the server's own thread and loop) ---------------------------

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(
            self._handle, host="127.0.0.1", port=self._port, backlog=1024
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def serve_until(self, deadline_s: float) -> None:
        """Serve in the *current* loop until ``deadline_s`` seconds pass (used by :func:`main`)."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(
            self._handle, host="127.0.0.1", port=self._port, backlog=1024
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        print(f"LISTENING {self._port}", flush=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=deadline_s)
        self._server.close()
        for writer in list(self._writers):
            writer.close()

    def _next_fault(self) -> str:
        with self._lock:
            return self._faults.popleft() if self._faults else "ok"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                method, path, headers, body = request
                keep = await self._answer(writer, method, path, headers, body)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(
        self,
        writer: asyncio.StreamWriter,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> bool:
        if method == "GET" and path.rstrip("/") in ("/v1/models", "/health"):
            await _respond(writer, 200, {"object": "list", "data": [{"id": "stub"}]})
            return True
        if method == "GET" and path == "/stats":
            await _respond(writer, 200, self.stats.as_dict())
            return True
        if method == "POST" and path == "/shutdown":
            await _respond(writer, 200, {"ok": True})
            if self._stopping is not None:
                self._stopping.set()
            return False
        if method != "POST" or path.rstrip("/") != "/v1/chat/completions":
            await _respond(writer, 404, {"error": {"message": f"no route {method} {path}"}})
            return True

        stats = self.stats
        fault = self._next_fault()
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        stats.arrivals.append((time.monotonic(), fault))
        if "authorization" in headers:
            stats.authorized += 1
        try:
            reply = await self._chat(fault, headers, body)
        finally:
            # Out of flight before writing: the client may send its next request on
            # another connection as soon as the bytes land, before this task resumes.
            stats.in_flight -= 1
        if reply is None:
            return False
        if fault == "drop_mid_body":
            status, data, content_type = reply
            await _respond_raw(writer, status, data, content_type, cut=len(data) // 2)
            return False
        await _respond_raw(writer, *reply)
        return True

    async def _chat(
        self, fault: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, str] | None:
        if fault == "disconnect":
            return None
        if fault == "hang":
            await asyncio.sleep(self.hang_s)
        elif self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        if fault.startswith("http_"):
            status = int(fault[5:])
            # Echo what a careless server might: the auth header, to prove clients redact it.
            detail = {"message": f"stub fault {status}", "auth": headers.get("authorization", "")}
            return _json_reply(status, {"error": detail, "object": "error"})
        if fault == "bad_body":
            return 200, b"<html>not json</html>", "text/html"
        try:
            parsed = json.loads(body)
        except ValueError:
            return _json_reply(400, {"error": {"message": "request body is not JSON"}})
        if not isinstance(parsed, dict) or not isinstance(parsed.get("messages"), list):
            return _json_reply(400, {"error": {"message": "expected messages"}})
        if self.keep_bodies:
            self.stats.bodies.append(parsed)
        # A malformed answer is cut short, as a generation that hit max_tokens is.
        if fault == "malformed_json":
            content = '{"caption": "a cat", '
        else:
            try:
                answer = self.responder(parsed)
                content = await answer if inspect.isawaitable(answer) else answer
            except Exception as exc:  # a responder bug is the server's 500, not a hang
                return _json_reply(500, {"error": {"message": f"{type(exc).__name__}: {exc}"}})
        return _json_reply(200, _completion(parsed, content))


def _check_fault(fault: str) -> None:
    if fault in FAULTS:
        return
    if fault.startswith("http_") and fault[5:].isdigit() and 100 <= int(fault[5:]) <= 599:
        return
    raise InputError(f"fault: expected one of {', '.join(FAULTS)} or http_<code>, got {fault!r}")


def _completion(request: dict[str, Any], content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": str(request.get("model", "stub")),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed the connection between requests
    if len(head) > _MAX_HEADER_BYTES:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length < 0 or length > _MAX_BODY_BYTES:
        return None
    body = await reader.readexactly(length) if length else b""
    return parts[0].upper(), parts[1], headers, body


def _json_reply(status: int, payload: dict[str, Any]) -> tuple[int, bytes, str]:
    return status, json.dumps(payload).encode(), "application/json"


async def _respond(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
    await _respond_raw(writer, *_json_reply(status, payload))


async def _respond_raw(
    writer: asyncio.StreamWriter, status: int, data: bytes, content_type: str, cut: int = -1
) -> None:
    # ``cut`` >= 0 sends only that many body bytes (Content-Length still says all).
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(data)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    ).encode("latin-1")
    writer.write(head + (data if cut < 0 else data[:cut]))
    await writer.drain()


def main(argv: list[str] | None = None) -> int:
    """Run the stub in the foreground (a separate process, e.g. for the benchmark).

    Prints ``LISTENING <port>`` once bound, serves until ``POST /shutdown`` or
    ``--max-seconds`` pass, so a forgotten server always stops by itself.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per answer")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument(
        "--responder",
        default="",
        help="module:function building the answer's content (default: echo)",
    )
    args = parser.parse_args(argv)
    responder: Responder | None = None
    if args.responder:
        import importlib

        module_name, _, attr = args.responder.partition(":")
        responder = getattr(importlib.import_module(module_name), attr)
    server = StubOpenAIServer(latency_s=args.latency, responder=responder, port=args.port)
    try:
        asyncio.run(server.serve_until(args.max_seconds))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
