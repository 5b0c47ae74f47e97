"""OpenAIBackend against the stub OpenAI-compatible server on 127.0.0.1.

Every test talks to a real socket: the stub answers slowly, fails with 5xx and 4xx,
hangs past the client's timeout, drops connections and returns malformed JSON, and
counts what reaches it (attempts, arrival times, requests in flight, auth headers).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import pickle
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

# CI installs the synthesis extra: a missing aiohttp fails here, never skips.
import aiohttp  # noqa: F401
import pytest
import skimage.data

from grounding_rewards.errors import ConfigError, MissingDependencyError
from grounding_rewards.synthesis.backends import BackendError, GenerationRequest, make_backend
from grounding_rewards.synthesis.backends.openai_http import (
    OpenAIBackend,
    extract_json_text,
    image_data_url,
)
from grounding_rewards.synthesis.testing_server import StubOpenAIServer, echo_responder

SECRET = "sk-test-Zq81-never-print-me"
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def server() -> Iterator[StubOpenAIServer]:
    with StubOpenAIServer(latency_s=0.0, hang_s=3.0, keep_bodies=True) as stub:
        yield stub


@pytest.fixture(autouse=True)
def _fresh(server: StubOpenAIServer) -> None:
    server.latency_s = 0.0
    server.reset_stats()


def make(server: StubOpenAIServer, **options: Any) -> OpenAIBackend:
    defaults: dict[str, Any] = {
        "model": "stub-model",
        "base_url": server.base_url,
        "api_key_env": "GR_TEST_API_KEY",
        "backoff_base_s": 0.02,
        "backoff_max_s": 1.0,
        "timeout_s": 2.0,
        "jitter_seed": 0,
    }
    defaults.update(options)
    return OpenAIBackend(**defaults)


def run(backend: OpenAIBackend, *requests: GenerationRequest) -> list[str | BackendError]:
    async def go() -> list[str | BackendError]:
        try:
            return await backend.generate_many(list(requests))
        finally:
            await backend.aclose()

    return asyncio.run(go())


def one(backend: OpenAIBackend, request: GenerationRequest) -> str | BackendError:
    return run(backend, request)[0]


# -- what is sent ---------------------------------------------------------------


def test_answers_and_sends_openai_chat_payload(server: StubOpenAIServer) -> None:
    request = GenerationRequest(
        prompt="Describe the crop.",
        images=(PNG_1X1, b"\xff\xd8\xff\xe0jpeg-bytes"),
        max_tokens=77,
        temperature=0.0,
        seed=5,
        json_schema={"type": "object", "properties": {"caption": {"type": "string"}}},
        template_id="branch_caption@v1",
    )
    answer = one(make(server), request)
    assert answer == json.dumps({"echo": "Describe the crop."})
    body = server.stats.bodies[-1]
    assert body["model"] == "stub-model"
    assert (body["max_tokens"], body["temperature"], body["seed"]) == (77, 0.0, 5)
    parts = body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    png_url = parts[0]["image_url"]["url"]
    assert png_url.startswith("data:image/png;base64,")
    assert base64.b64decode(png_url.split(",", 1)[1]) == PNG_1X1
    assert parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert parts[2]["text"] == "Describe the crop."
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "branch_caption", "schema": request.json_schema},
    }


@pytest.mark.parametrize(
    ("mode", "field", "expected"),
    [
        ("structured_outputs", "structured_outputs", {"json": {"type": "object"}}),
        ("guided_json", "guided_json", {"type": "object"}),
        ("json_object", "response_format", {"type": "json_object"}),
    ],
)
def test_structured_output_modes(mode: str, field: str, expected: object) -> None:
    backend = OpenAIBackend(model="m", structured_output=mode)  # type: ignore[arg-type]
    payload = backend.build_payload(GenerationRequest(prompt="x", json_schema={"type": "object"}))
    assert payload[field] == expected


def test_no_schema_field_without_schema_and_text_only_prompt_is_a_string() -> None:
    backend = OpenAIBackend(model="m", system_prompt="sys", extra_body={"top_p": 0.9})
    payload = backend.build_payload(GenerationRequest(prompt="plain"))
    assert "response_format" not in payload
    assert payload["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "plain"},
    ]
    assert payload["top_p"] == 0.9


def test_model_is_discovered_from_the_server_when_not_given(server: StubOpenAIServer) -> None:
    backend = make(server, model=None)
    assert one(backend, GenerationRequest(prompt="hi")) == "echo: hi"
    assert backend.model == "stub"
    assert server.stats.bodies[-1]["model"] == "stub"


def test_make_backend_builds_the_http_backend(server: StubOpenAIServer) -> None:
    backend = make_backend("openai", model="m", base_url=server.base_url)
    assert isinstance(backend, OpenAIBackend)


# -- slow answers, timeouts -------------------------------------------------------


def test_slow_answers_within_the_timeout_succeed(server: StubOpenAIServer) -> None:
    server.latency_s = 0.3
    start = time.perf_counter()
    answer = one(make(server, timeout_s=2.0), GenerationRequest(prompt="slow"))
    assert answer == "echo: slow"
    assert time.perf_counter() - start >= 0.3
    assert server.stats.requests == 1


def test_hanging_server_times_out_with_reason_timeout(server: StubOpenAIServer) -> None:
    server.script(["hang", "hang"])
    backend = make(server, timeout_s=0.2, max_retries=1)
    start = time.perf_counter()
    error = one(backend, GenerationRequest(prompt="stuck"))
    elapsed = time.perf_counter() - start
    assert isinstance(error, BackendError)
    assert error.reason == "timeout"
    assert "gave up after 2 attempts" in str(error)
    assert server.stats.requests == 2  # the first attempt and one retry
    assert elapsed < 2.0  # well before the stub's 3 s hang would end


def test_timeout_then_recovery(server: StubOpenAIServer) -> None:
    server.script(["hang"])
    answer = one(make(server, timeout_s=0.2), GenerationRequest(prompt="again"))
    assert answer == "echo: again"
    assert server.stats.requests == 2


# -- retries and backoff ----------------------------------------------------------


def test_5xx_is_retried_with_exponential_backoff(server: StubOpenAIServer) -> None:
    server.script(["http_500", "http_503", "http_502"])
    backend = make(server, max_retries=3, backoff_base_s=0.05, backoff_max_s=5.0)
    answer = one(backend, GenerationRequest(prompt="flaky"))
    assert answer == "echo: flaky"
    arrivals = [t for t, _ in server.stats.arrivals]
    assert [fault for _, fault in server.stats.arrivals] == [
        "http_500",
        "http_503",
        "http_502",
        "ok",
    ]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # Retry k waits base * 2**(k-1) times a factor in [0.5, 1]: at least 25, 50, 100 ms.
    for k, gap in enumerate(gaps, start=1):
        assert gap >= 0.05 * 2 ** (k - 1) * 0.5 - 0.005, gaps
    assert gaps[2] > gaps[0]  # 100-200 ms against 25-50 ms: the delay grows
    assert backend.stats.retries == 3


def test_backoff_jitter_and_cap_are_bounded() -> None:
    backend = OpenAIBackend(model="m", backoff_base_s=1.0, backoff_max_s=4.0, jitter_seed=1)
    delays = [backend._backoff(k, None) for k in (1, 2, 3, 4, 5, 6)]
    bounds = [1, 2, 4, 4, 4, 4]
    assert all(bound * 0.5 <= d <= bound for d, bound in zip(delays, bounds, strict=True)), delays
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
    assert backend._backoff(1, retry_after=3.0) == 3.0  # Retry-After wins when longer
    assert backend._backoff(1, retry_after=60.0) == 4.0  # ...capped at backoff_max_s


def test_5xx_exhausting_retries_fails_with_status_reason(server: StubOpenAIServer) -> None:
    server.script(["http_500"] * 3)
    backend = make(server, max_retries=2)
    error = one(backend, GenerationRequest(prompt="down"))
    assert isinstance(error, BackendError)
    assert error.reason == "http_500"
    assert server.stats.requests == 3
    assert backend.stats.failed["http_500"] == 1


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_4xx_is_not_retried(server: StubOpenAIServer, status: int) -> None:
    server.script([f"http_{status}"])
    error = one(make(server, max_retries=3), GenerationRequest(prompt="bad"))
    assert isinstance(error, BackendError)
    assert error.reason == f"http_{status}"
    assert server.stats.requests == 1


def test_429_rate_limit_is_retried(server: StubOpenAIServer) -> None:
    server.script(["http_429"])
    assert one(make(server), GenerationRequest(prompt="busy")) == "echo: busy"
    assert server.stats.requests == 2


def test_dropped_connection_is_retried(server: StubOpenAIServer) -> None:
    server.script(["disconnect"])
    assert one(make(server), GenerationRequest(prompt="drop")) == "echo: drop"
    assert server.stats.requests == 2


def test_refused_connection_fails_with_reason_connection() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend(
        model="m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_base_s=0.01
    )
    error = one(backend, GenerationRequest(prompt="anyone?"))
    assert isinstance(error, BackendError)
    assert error.reason == "connection"


def test_non_openai_body_is_bad_response_and_retried(server: StubOpenAIServer) -> None:
    server.script(["bad_body", "bad_body"])
    error = one(make(server, max_retries=1), GenerationRequest(prompt="html"))
    assert isinstance(error, BackendError)
    assert error.reason == "bad_response"
    assert server.stats.requests == 2


# -- malformed JSON ---------------------------------------------------------------


def test_malformed_json_is_reported_and_not_retried_when_greedy(server: StubOpenAIServer) -> None:
    server.script(["malformed_json"])
    request = GenerationRequest(prompt="json please", json_schema={"type": "object"})
    error = one(make(server, malformed_json_retries=2), request)
    assert isinstance(error, BackendError)
    assert error.reason == "malformed_json"
    assert server.stats.requests == 1  # temperature 0 would repeat the same answer


def test_malformed_json_is_retried_when_sampling(server: StubOpenAIServer) -> None:
    server.script(["malformed_json"])
    request = GenerationRequest(prompt="json", json_schema={"type": "object"}, temperature=0.7)
    assert one(make(server, malformed_json_retries=1), request) == '{"echo": "json"}'
    assert server.stats.requests == 2


def test_malformed_json_retries_are_bounded(server: StubOpenAIServer) -> None:
    server.script(["malformed_json"] * 3)
    request = GenerationRequest(prompt="json", json_schema={"type": "object"}, temperature=0.7)
    error = one(make(server, malformed_json_retries=1), request)
    assert isinstance(error, BackendError) and error.reason == "malformed_json"
    assert server.stats.requests == 2


def test_fenced_or_thinking_json_answers_are_unwrapped(server: StubOpenAIServer) -> None:
    server.responder = lambda body: '<think>look</think>\n```json\n{"ok": true}\n```'
    try:
        request = GenerationRequest(prompt="x", json_schema={"type": "object"})
        assert one(make(server), request) == '{"ok": true}'
        # Without a schema the text is returned untouched.
        assert one(make(server), GenerationRequest(prompt="x")).startswith("<think>")
    finally:
        server.responder = echo_responder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', '{"a": 1}'),
        ("  ```\n[1, 2]\n```  ", "[1, 2]"),
        ("<think>unclosed", None),
        ('Sure! {"a": 1}', '{"a": 1}'),
        ("no json at all", None),
        ("", None),
    ],
)
def test_extract_json_text(text: str, expected: str | None) -> None:
    assert extract_json_text(text) == expected


# -- concurrency ------------------------------------------------------------------


def test_concurrency_limit_is_respected_at_the_server(server: StubOpenAIServer) -> None:
    server.latency_s = 0.05
    backend = make(server, max_concurrency=5)
    start = time.perf_counter()
    answers = run(backend, *(GenerationRequest(prompt=str(i)) for i in range(40)))
    elapsed = time.perf_counter() - start
    assert answers == [f"echo: {i}" for i in range(40)]
    assert server.stats.max_in_flight == 5  # saturated, never above the limit
    assert backend.stats.max_in_flight == 5
    assert elapsed >= 8 * 0.05  # 40 requests / 5 at a time = 8 rounds of 50 ms
    assert server.stats.connections <= 5  # pooled keep-alive connections, not one per request


def test_retry_waits_do_not_hold_a_concurrency_slot(server: StubOpenAIServer) -> None:
    # One request backs off for ~0.5-1 s while another request must still get through.
    server.script(["http_500"])
    backend = make(server, max_concurrency=1, backoff_base_s=1.0, backoff_max_s=1.0)

    async def go() -> tuple[float, list[str | BackendError]]:
        first = asyncio.ensure_future(backend.generate(GenerationRequest(prompt="a")))
        await asyncio.sleep(0.1)  # the first has failed once and is sleeping now
        start = time.perf_counter()
        second = await backend.generate(GenerationRequest(prompt="b"))
        waited = time.perf_counter() - start
        results: list[str | BackendError] = [await first, second]
        await backend.aclose()
        return waited, results

    waited, results = asyncio.run(go())
    assert results == ["echo: a", "echo: b"]
    assert waited < 0.4


def test_backend_survives_a_new_event_loop(server: StubOpenAIServer) -> None:
    backend = make(server)
    assert asyncio.run(backend.generate(GenerationRequest(prompt="one"))) == "echo: one"
    # asyncio.run closed that loop; the pool is rebuilt for the next one.
    assert asyncio.run(backend.generate(GenerationRequest(prompt="two"))) == "echo: two"


# -- the API key ------------------------------------------------------------------


def test_api_key_is_sent_but_never_logged_printed_or_pickled(
    server: StubOpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GR_TEST_API_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    # The stub echoes the Authorization header in its error bodies, as a careless proxy might.
    server.script(["http_500", "http_500", "http_400"])
    backend = make(server, max_retries=3)
    error = one(backend, GenerationRequest(prompt="secret?"))
    assert isinstance(error, BackendError) and error.reason == "http_400"
    assert server.stats.authorized == 3  # the key did travel, as a bearer token
    assert "Bearer ***" in str(error)  # the echoed header was scrubbed
    texts = [str(error), repr(error), repr(backend), str(vars(backend)), caplog.text]
    texts += [record.getMessage() for record in caplog.records]
    assert caplog.records, "the retries should have been logged"
    for text in texts:
        assert SECRET not in text
    assert SECRET.encode() not in pickle.dumps(backend)
    assert SECRET.encode() not in pickle.dumps(error)


def test_no_key_in_the_environment_sends_no_authorization(
    server: StubOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GR_TEST_API_KEY", raising=False)
    assert one(make(server), GenerationRequest(prompt="open")) == "echo: open"
    assert server.stats.authorized == 0


def test_pickled_backend_works_in_another_loop(server: StubOpenAIServer) -> None:
    backend = make(server)
    assert one(backend, GenerationRequest(prompt="before")) == "echo: before"
    clone = pickle.loads(pickle.dumps(backend))
    assert clone.model == "stub-model" and clone.stats.requests == 0
    assert one(clone, GenerationRequest(prompt="after")) == "echo: after"


# -- configuration and dependencies ------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "base_url",
            "127.0.0.1:8000",
            "base_url: expected an http(s):// URL, got '127.0.0.1:8000'",
        ),
        ("max_concurrency", 0, "max_concurrency: expected an integer >= 1, got 0"),
        ("max_retries", -1, "max_retries: expected an integer >= 0, got -1"),
        ("timeout_s", 0, "timeout_s: expected a number > 0, got 0"),
        ("structured_output", "xml", "structured_output: expected one of"),
        ("api_key_env", "", "api_key_env: expected a variable name, got ''"),
    ],
)
def test_bad_options_raise_config_error(option: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        OpenAIBackend(model="m", **{option: value})


def test_missing_aiohttp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    backend = OpenAIBackend(model="m")  # building it needs no HTTP library...
    with pytest.raises(MissingDependencyError, match=r"grounding-rewards\[synthesis\]"):
        asyncio.run(backend.generate(GenerationRequest(prompt="x")))  # ...sending does


def test_image_data_url_round_trips() -> None:
    url = image_data_url(PNG_1X1)
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG_1X1


def test_pipeline_records_over_http_reuse_one_pool(server: StubOpenAIServer) -> None:
    # Records made one after another (as Ray workers and scripts do with
    # process_sync) share the backend's keep-alive connections.
    from grounding_rewards.synthesis.pipeline import Pipeline, encode_array
    from grounding_rewards.synthesis.testing_server import offline_responder

    server.responder = offline_responder()
    try:
        backend = make(server, max_concurrency=4)
        pipeline = Pipeline(backend, detectors=["vlm"])
        records = [
            pipeline.process_sync(encode_array(getattr(skimage.data, name)()), source=name)
            for name in ("coffee", "chelsea")
        ]
    finally:
        server.responder = echo_responder
    assert [r.status for r in records] == ["ok", "ok"]
    assert all(r.kept_objects() and r.qa for r in records)
    assert server.stats.requests >= 8
    assert server.stats.connections <= 4
    assert server.stats.max_in_flight <= 4
