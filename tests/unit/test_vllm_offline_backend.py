"""VLLMBackend without vLLM: what can be checked on a CPU machine.

vLLM itself cannot be installed here (it needs CUDA and pins its own torch), so
these tests check our side of the contract: the missing-extra error, the
conversation sent to ``LLM.chat``, the ``SamplingParams`` built (against a stand-in
``vllm`` module with the same constructor names), batching of concurrent requests
into one ``LLM.chat`` call, failure isolation and the JSON check. Whether a real
vLLM accepts them is checked only on a GPU machine (see docs/synthesis-scale-out.md).
"""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from grounding_rewards.errors import ConfigError, MissingDependencyError
from grounding_rewards.synthesis.backends import BackendError, GenerationRequest, make_backend
from grounding_rewards.synthesis.backends.vllm_offline import VLLMBackend, sampling_params


class _Params:
    """Records its keyword arguments, as vLLM's classes take them."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


def _fake_vllm(*, structured_outputs: bool = True) -> types.ModuleType:
    vllm = types.ModuleType("vllm")
    sampling = types.ModuleType("vllm.sampling_params")
    if structured_outputs:
        sampling.StructuredOutputsParams = type("StructuredOutputsParams", (_Params,), {})  # type: ignore[attr-defined]
    else:
        sampling.GuidedDecodingParams = type("GuidedDecodingParams", (_Params,), {})  # type: ignore[attr-defined]
    vllm.sampling_params = sampling  # type: ignore[attr-defined]
    vllm.SamplingParams = type("SamplingParams", (_Params,), {})  # type: ignore[attr-defined]
    vllm.LLM = None  # type: ignore[attr-defined]  # never built in these tests
    return vllm


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    module = _fake_vllm()
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", module.sampling_params)
    yield module


class FakeLLM:
    """Answers like ``vllm.LLM.chat``: one output per conversation, in order."""

    def __init__(self, answer: Any = None, *, explode_on: str | None = None) -> None:
        self.answer = answer or (lambda conversation, params: "text:" + _prompt(conversation))
        self.explode_on = explode_on
        self.calls: list[tuple[list[Any], list[Any], dict[str, Any]]] = []

    def chat(
        self, conversations: list[Any], sampling_params: list[Any], **kwargs: Any
    ) -> list[Any]:
        self.calls.append((conversations, sampling_params, kwargs))
        if self.explode_on and any(_prompt(c) == self.explode_on for c in conversations):
            raise ValueError("image could not be processed")
        return [
            types.SimpleNamespace(outputs=[types.SimpleNamespace(text=self.answer(c, p))])
            for c, p in zip(conversations, sampling_params, strict=True)
        ]


def _prompt(conversation: list[Any]) -> str:
    content = conversation[-1]["content"]
    return content if isinstance(content, str) else content[-1]["text"]


def test_missing_vllm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(MissingDependencyError, match=r"grounding-rewards\[vllm\]"):
        VLLMBackend("Qwen/Qwen2.5-VL-7B-Instruct")
    with pytest.raises(MissingDependencyError):
        make_backend("vllm", model="Qwen/Qwen2.5-VL-7B-Instruct")


def test_bad_options_raise_config_error(fake_vllm: types.ModuleType) -> None:
    with pytest.raises(ConfigError, match="max_batch: expected an integer >= 1, got 0"):
        VLLMBackend("m", max_batch=0)
    with pytest.raises(ConfigError, match="model: expected a model name or path, got None"):
        VLLMBackend()


def test_sampling_params_with_structured_outputs(fake_vllm: types.ModuleType) -> None:
    request = GenerationRequest(
        prompt="p", max_tokens=64, temperature=0.3, seed=9, json_schema={"type": "object"}
    )
    params = sampling_params(fake_vllm, request)
    assert params.kwargs["max_tokens"] == 64
    assert (params.kwargs["temperature"], params.kwargs["seed"]) == (0.3, 9)
    structured = params.kwargs["structured_outputs"]
    assert type(structured).__name__ == "StructuredOutputsParams"
    assert structured.kwargs == {"json": {"type": "object"}}
    assert (
        "structured_outputs" not in sampling_params(fake_vllm, GenerationRequest(prompt="p")).kwargs
    )


def test_sampling_params_fall_back_to_guided_decoding_on_older_vllm() -> None:
    old = _fake_vllm(structured_outputs=False)
    params = sampling_params(old, GenerationRequest(prompt="p", json_schema={"type": "array"}))
    assert type(params.kwargs["guided_decoding"]).__name__ == "GuidedDecodingParams"
    assert params.kwargs["guided_decoding"].kwargs == {"json": {"type": "array"}}


def test_conversation_matches_the_http_backend(fake_vllm: types.ModuleType) -> None:
    backend = VLLMBackend(llm=FakeLLM(), system_prompt="Be exact.")
    request = GenerationRequest(prompt="What is it?", images=(b"\x89PNG\r\n\x1a\nxx",))
    conversation = backend.conversation(request)
    assert conversation[0] == {"role": "system", "content": "Be exact."}
    parts = conversation[1]["content"]
    assert parts[0]["type"] == "image_url"
    assert parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert parts[1] == {"type": "text", "text": "What is it?"}


def test_concurrent_requests_share_one_engine_call(fake_vllm: types.ModuleType) -> None:
    llm = FakeLLM()
    backend = VLLMBackend(llm=llm, max_batch=8, batch_wait_s=0.05)

    async def go() -> list[str | BackendError]:
        try:
            return await backend.generate_many(
                [GenerationRequest(prompt=f"p{i}") for i in range(20)]
            )
        finally:
            await backend.aclose()

    answers = asyncio.run(go())
    assert answers == [f"text:p{i}" for i in range(20)]
    assert backend.batch_sizes == [8, 8, 4]  # batched, never above max_batch
    assert llm.calls[0][2]["use_tqdm"] is False


def test_one_bad_input_fails_alone(fake_vllm: types.ModuleType) -> None:
    llm = FakeLLM(explode_on="bad")
    backend = VLLMBackend(llm=llm, batch_wait_s=0.05)
    prompts = ["ok1", "bad", "ok2"]

    async def go() -> list[str | BackendError]:
        try:
            return await backend.generate_many([GenerationRequest(prompt=p) for p in prompts])
        finally:
            await backend.aclose()

    answers = asyncio.run(go())
    assert answers[0] == "text:ok1" and answers[2] == "text:ok2"
    error = answers[1]
    assert isinstance(error, BackendError) and error.reason == "engine_error"
    assert "image could not be processed" in str(error)


def test_schema_answers_are_checked_as_json(fake_vllm: types.ModuleType) -> None:
    def answer(conversation: list[Any], params: Any) -> str:
        return '```json\n{"ok": 1}\n```' if _prompt(conversation) == "good" else '{"cut": '

    backend = VLLMBackend(llm=FakeLLM(answer))
    schema = {"type": "object"}

    async def go() -> list[str | BackendError]:
        try:
            return await backend.generate_many(
                [
                    GenerationRequest(prompt="good", json_schema=schema),
                    GenerationRequest(prompt="cut", json_schema=schema, template_id="verify@v1"),
                ]
            )
        finally:
            await backend.aclose()

    good, cut = asyncio.run(go())
    assert good == '{"ok": 1}'
    assert isinstance(cut, BackendError) and cut.reason == "malformed_json"
    assert str(cut).startswith("verify@v1: expected JSON")
