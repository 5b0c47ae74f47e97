"""OpenRLHF's own single-turn executor loads and calls ``integrations/openrlhf/reward_func.py``.

openrlhf 0.11.2 is installed without its dependencies (they need CUDA builds:
flash-attn, deepspeed); its executor module needs none of them. The test runs
``SingleTurnAgentExecutor(remote_rm_url=<file>)`` (OpenRLHF imports the file by path)
and its ``execute`` with a real tokenizer and a stand-in engine that returns fixed
tokens: the query reaching the reward is OpenRLHF's own decode of prompt + response,
special tokens and expanded image pads included.
"""

from __future__ import annotations

import asyncio
import json
import types
from typing import Any

import pytest
import torch
from _tiny_qwen import ROOT, tiny_qwen

from grounding_rewards.openrlhf import response_text, reward_func

REWARD_FILE = ROOT / "integrations" / "openrlhf" / "reward_func.py"
GT = {
    "answer": "B",
    "choices": ["dog", "cat"],
    "gt_boxes": [[0, 0, 32, 32]],
    "image_size": [64, 64],
}
PERFECT = "<think>The <obj>cat</obj><bbox>[0, 0, 32, 32]</bbox> sits.</think><answer>B</answer>"


class FixedEngine:
    """Stands in for OpenRLHF's vLLM actor: returns the token ids of a fixed response."""

    def __init__(self, token_ids: list[int]) -> None:
        self.token_ids = token_ids

    async def generate(
        self, prompt_token_ids: list[int], params: Any, multi_modal_data: Any = None
    ) -> Any:
        output = types.SimpleNamespace(
            token_ids=self.token_ids, finish_reason="stop", logprobs=None
        )
        return types.SimpleNamespace(outputs=[output])


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return tiny_qwen.build_tokenizer(extra_corpus=[PERFECT])


def run_executor(tokenizer: Any, prompt: str, response: str, label: str) -> dict[str, Any]:
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    executor = SingleTurnAgentExecutor(remote_rm_url=str(REWARD_FILE))
    ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    ids.append(tokenizer.convert_tokens_to_ids("<|im_end|>"))
    params = types.SimpleNamespace(max_tokens=256, logprobs=None)
    coroutine = executor.execute(prompt, label, params, 2048, tokenizer, FixedEngine(ids))
    return asyncio.run(coroutine)


def test_single_turn_executor_scores_only_the_response(tokenizer: Any) -> None:
    prompt = (
        "<|im_start|>user\nAnswer inside <think> </think> then <answer> </answer>: "
        "<obj>dog</obj><bbox>[0, 0, 64, 64]</bbox>?<|im_end|>\n<|im_start|>assistant\n"
    )
    out = run_executor(tokenizer, prompt, PERFECT, json.dumps(GT))
    assert out["reward"].tolist() == [3.0]  # the prompt's box and tags are not scored
    assert out["scores"].tolist() == [3.0]
    assert {k: v.tolist() for k, v in out["extra_logs"].items()} == {
        "format": [1.0],
        "accuracy": [1.0],
        "bbox": [1.0],
        "gt_error": [0.0],
    }


def test_response_found_after_the_assistant_marker_when_pads_expand() -> None:
    prompt = (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Which?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    query = prompt.replace("<|image_pad|>", "<|image_pad|>" * 16) + PERFECT + "<|im_end|>"
    assert prompt not in query
    assert response_text(query, prompt) == PERFECT
    out = reward_func([query], [prompt], [json.dumps(GT)])
    assert out["rewards"].dtype == torch.float32 and out["rewards"].tolist() == [3.0]


def test_batch_labels_and_malformed_ground_truth() -> None:
    queries = [PERFECT, "<think>x</think><answer>A</answer>", PERFECT]
    labels = [
        GT,
        json.dumps({"answer": "B"}),
        json.dumps({"answer": "B", "gt_boxes": [[5, 5, 1, 1]]}),
    ]
    with pytest.warns(UserWarning, match="gt_boxes"):
        out = reward_func(queries, [None] * 3, labels)
    assert out["extra_logs"]["gt_error"].tolist() == [0.0, 0.0, 1.0]
    assert out["extra_logs"]["accuracy"].tolist()[:2] == [1.0, 0.0]
    with pytest.raises(ValueError, match="labels: expected 3"):
        reward_func(queries, None, labels[:2])
