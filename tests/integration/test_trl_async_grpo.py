"""TRL's experimental ``AsyncGRPOTrainer`` path: our reward functions in its spawned worker.

``trl.experimental.async_grpo`` (TRL 1.16) scores rollouts in a child process made by
``multiprocessing.get_context("spawn")``: the reward functions are pickled into it, and
its ``_score_group`` calls each one as ``f(completions=..., prompts=...,
completion_ids=..., **dataset_columns)``, synchronous ones through
``asyncio.to_thread`` and all of them concurrently, with no ``trainer_state``,
``log_extra`` or ``log_metric``; completions are message lists made by the tokenizer's
``parse_response``, which for Qwen templates moves ``<think>...</think>`` into
``reasoning_content``. The rewards are summed with weight 1 (no ``reward_weights``).

What runs for real here: ``AsyncRolloutWorker.start`` (its pickle check and the spawned
``_child_main``), the child's ``_AsyncRolloutLoop`` with its generate and score loops,
Qwen2.5's chat template and response parsing, and the rollout buffer back to the
parent. What is replaced: the one HTTP request to vLLM's ``/v1/completions``
(``_generate_one_turn``), which returns a scripted completion's tokens. vLLM needs CUDA
and a newer torch than the CPU build pinned here, and ``AsyncRolloutWorker`` refuses to
start without it, so the check is patched in the parent. A full ``AsyncGRPOTrainer``
run is not possible here: generation and weight sync go to a vLLM server.
"""

from __future__ import annotations

import math
import pickle
import queue
from typing import Any

import pytest
from _tiny_qwen import tiny_qwen
from trl.chat_template_utils import qwen2_5_chat_template
from trl.experimental.async_grpo import async_rollout_worker as worker_module
from trl.trainer.utils import get_callable_name, is_async_callable

from grounding_rewards import RewardConfig
from grounding_rewards.trl import composite_reward_func, reward_funcs

CONFIG = RewardConfig(coords="norm1000")
ROWS = [
    {
        "id": "cat",
        "question": "What sits on the sofa?",
        "answer": "B",
        "choices": ["a dog", "a cat"],
        "gt_boxes": [[64.0, 48.0, 320.0, 240.0]],
        "gt_labels": ["cat"],
        "image_size": [640, 480],
    },
    {
        "id": "cups",
        "question": "How many cups stand on the table?",
        "answer": "A",
        "choices": ["two", "three"],
        "gt_boxes": [[0.0, 0.0, 100.0, 100.0], [100.0, 100.0, 200.0, 300.0]],
        "gt_labels": ["cup", "cup"],
        "image_size": [500, 400],  # boxes land on whole numbers in norm1000
    },
]


def _norm(row: dict[str, Any]) -> list[str]:
    width, height = row["image_size"]
    return [
        f"[{x1 / width * 1000:.0f}, {y1 / height * 1000:.0f}, "
        f"{x2 / width * 1000:.0f}, {y2 / height * 1000:.0f}]"
        for x1, y1, x2, y2 in row["gt_boxes"]
    ]


def _variants(row: dict[str, Any]) -> dict[str, tuple[str, dict[str, float]]]:
    """Scripted completions and the rewards each must get: ``{name: (text, rewards)}``."""
    boxes = " and ".join(
        f"the <obj>{label}</obj><bbox>{box}</bbox>"
        for label, box in zip(row["gt_labels"], _norm(row), strict=True)
    )
    wrong = "A" if row["answer"] == "B" else "B"
    return {
        "perfect": (
            f"<think>I see {boxes}.</think><answer>{row['answer']}</answer>",
            {"format_reward": 1.0, "option_reward": 1.0, "bbox_reward": 1.0},
        ),
        "wrong": (
            f"<think>I see {boxes}.</think><answer>{wrong}</answer>",
            {"format_reward": 1.0, "option_reward": 0.0, "bbox_reward": 1.0},
        ),
        "blind": (
            f"<answer>{row['answer']}</answer>",
            {"format_reward": 0.0, "option_reward": 1.0, "bbox_reward": 0.0},
        ),
    }


VARIANTS = ("perfect", "wrong", "blind")


class ScriptedLoop(worker_module._AsyncRolloutLoop):
    """The child's real rollout loop; only the vLLM request is scripted.

    Each group's generations cycle through :data:`VARIANTS` for the row whose question
    the prompt holds. Module level, so the spawned child can unpickle it.
    """

    async def _generate_one_turn(self, prompt_ids: list[int]) -> tuple[list[int], list[float]]:
        prompt = self.tokenizer.decode(prompt_ids)
        [row] = [row for row in ROWS if row["question"] in prompt]
        count = getattr(self, "_scripted", 0)
        self._scripted = count + 1
        text, _ = _variants(row)[VARIANTS[count % len(VARIANTS)]]
        ids = self.tokenizer.encode(text + "<|im_end|>", add_special_tokens=False)
        return ids, [0.0] * len(ids)


class ScriptedWorker(worker_module.AsyncRolloutWorker):
    _loop_cls = ScriptedLoop


def _tokenizer() -> Any:
    corpus = [text for row in ROWS for text, _ in _variants(row).values()]
    tokenizer = tiny_qwen.build_tokenizer(vocab_size=400, extra_corpus=corpus)
    tokenizer.chat_template = qwen2_5_chat_template  # add_response_schema knows it
    return tokenizer


def _dataset() -> Any:
    import datasets

    rows = [
        {"prompt": [{"role": "user", "content": row["question"]}]}
        | {key: value for key, value in row.items() if key != "question"}
        for row in ROWS
    ]
    return datasets.Dataset.from_list(rows)


def _text(completion: list[dict[str, Any]]) -> str:
    [message] = completion
    reasoning = message.get("reasoning_content")
    think = f"<think>{reasoning}</think>" if reasoning else ""
    return think + message["content"]


@pytest.fixture(scope="module")
def samples() -> list[Any]:
    tokenizer = _tokenizer()
    funcs = [*reward_funcs(CONFIG), composite_reward_func(CONFIG)]
    original = worker_module.is_vllm_available
    worker_module.is_vllm_available = lambda: True  # checked in the parent's __init__ only
    try:
        worker = ScriptedWorker(
            model_name="tiny-qwen",
            dataset=_dataset(),
            reward_funcs=funcs,
            processing_class=tokenizer,
            eos_token_ids=[tokenizer.convert_tokens_to_ids("<|im_end|>")],
            num_generations=len(VARIANTS),
            max_inflight_tasks=len(VARIANTS),
            max_tokens=256,
            child_ready_timeout=120,
        )
    finally:
        worker_module.is_vllm_available = original
    from accelerate.state import PartialState

    PartialState()  # the trainer's Accelerator does this; the worker's logger needs it
    try:
        worker.start()
        got = []
        for _ in range(len(ROWS) * len(VARIANTS)):
            try:
                got.append(worker.rollout_buffer.get(timeout=120))
            except queue.Empty:
                worker.check_health(stale_after_s=1e9)  # raises the child's error, if any
                raise
    finally:
        worker.stop()
    return got


def test_rewards_scored_in_the_spawned_worker(samples: list[Any]) -> None:
    seen = set()
    for sample in samples:
        [row] = [row for row in ROWS if row["question"] in sample.prompt[-1]["content"]]
        text = _text(sample.completion)
        [(name, expected)] = [
            (name, rewards) for name, (script, rewards) in _variants(row).items() if script == text
        ]
        seen.add((row["id"], name))
        got = {key.removeprefix("rewards/"): value for key, value in sample.metrics.items()}
        for func, value in expected.items():
            assert got[func] == pytest.approx(value), (row["id"], name, func)
        assert got["grounding_reward"] == pytest.approx(sum(expected.values()))
        # AsyncGRPO sums every function with weight 1: the per-component ones and the total.
        assert sample.metrics["reward"] == pytest.approx(2 * sum(expected.values()))
    assert len(seen) == len(ROWS) * len(VARIANTS)


def test_qwen_parsing_moves_the_reasoning_out_of_content(samples: list[Any]) -> None:
    # Why the adapters read reasoning_content: the boxes live there, not in content.
    perfect = [s for s in samples if s.metrics["rewards/bbox_reward"] == 1.0]
    assert perfect
    for sample in perfect:
        [message] = sample.completion
        assert "<bbox>" in message["reasoning_content"]
        assert "<think>" not in message["content"]


def test_called_concurrently_without_trainer_arguments_after_a_pickle_round_trip() -> None:
    # _score_group's call, exactly: every function at once, sync ones via asyncio.to_thread,
    # keyword arguments only, no trainer_state / log_extra / log_metric.
    import asyncio

    funcs = pickle.loads(pickle.dumps([*reward_funcs(CONFIG), composite_reward_func(CONFIG)]))
    row = ROWS[1]
    variants = list(_variants(row).values())
    kwargs = {
        "completions": [[{"role": "assistant", "content": text}] for text, _ in variants],
        "prompts": [[{"role": "user", "content": row["question"]}]] * len(variants),
        "completion_ids": [[1, 2, 3]] * len(variants),
        **{key: [value] * len(variants) for key, value in row.items() if key != "question"},
    }

    async def score() -> list[Any]:
        return await asyncio.gather(*[asyncio.to_thread(f, **kwargs) for f in funcs])

    got = asyncio.run(score())
    for values, name in zip(
        got[:3], ("format_reward", "option_reward", "bbox_reward"), strict=True
    ):
        assert values == pytest.approx([rewards[name] for _, rewards in variants]), name
    assert got[3] == pytest.approx([sum(rewards.values()) for _, rewards in variants])
    assert all(math.isfinite(value) for column in got for value in column)


def test_names_and_sync_form_as_async_grpo_reads_them() -> None:
    # The worker logs rewards/<get_callable_name(f)> and runs sync functions in threads.
    funcs = [*reward_funcs(CONFIG), composite_reward_func(CONFIG)]
    assert [get_callable_name(f) for f in funcs] == [
        "format_reward",
        "option_reward",
        "bbox_reward",
        "grounding_reward",
    ]
    assert not any(is_async_callable(f) for f in funcs)
