"""Regression tests for faults that once lost work (issue 10).

1. A malformed-JSON answer from the OpenAI-compatible backend failed the record
   after one request, although ``SynthesisConfig.json_retries`` promised a re-ask.
2. A completion holding a lone surrogate made ``evaluate --report`` exit 2 and left
   the report at 0 bytes.
"""

from __future__ import annotations

import asyncio

from skimage import data

from grounding_rewards.synthesis.backends.openai_http import OpenAIBackend
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.pipeline import Pipeline, encode_array
from grounding_rewards.synthesis.records import Record
from grounding_rewards.synthesis.testing_server import StubOpenAIServer, offline_responder


def _record(server: StubOpenAIServer, config: SynthesisConfig) -> Record:
    backend = OpenAIBackend(
        model="stub", base_url=server.base_url, backoff_base_s=0.01, jitter_seed=0
    )
    pipeline = Pipeline(backend, config=config, detectors=["vlm"])

    async def go() -> Record:
        try:
            return await pipeline.process_bytes(encode_array(data.coffee()), source="coffee")
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_malformed_json_from_the_http_backend_is_re_asked_json_retries_times() -> None:
    with StubOpenAIServer(responder=offline_responder()) as server:
        clean = _record(server, SynthesisConfig(json_retries=3))
        server.reset_stats()
        server.script(["malformed_json"])
        faulty = _record(server, SynthesisConfig(json_retries=3))
        requests_with_fault = server.stats.requests
    assert clean.status == "ok", clean.errors
    assert faulty.status == "ok", faulty.errors
    assert faulty.errors == clean.errors == []
    assert faulty.model_dump(exclude={"provenance"}) == clean.model_dump(exclude={"provenance"})
    assert requests_with_fault >= 2  # the malformed answer was asked again


def test_malformed_json_retries_are_bounded_by_json_retries() -> None:
    with StubOpenAIServer(responder=offline_responder()) as server:
        server.script(["malformed_json"] * 3)
        record = _record(server, SynthesisConfig(json_retries=2))
        assert server.stats.requests == 3  # one ask and two re-asks, then it gives up
    assert record.status == "failed"
    assert [(e.stage, e.reason) for e in record.errors] == [("main_caption", "malformed_json")]
