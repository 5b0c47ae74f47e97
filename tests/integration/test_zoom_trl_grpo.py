"""The zoom tool as a TRL environment inside a real ``GRPOTrainer`` (2 steps, tiny model, CPU).

``GRPOTrainer(environment_factory=ZoomEnvironment, reward_funcs=[ZoomReward(...)])`` on the
randomly initialised Qwen2.5-VL of the TRL smoke test. Three things make tool calling run:

- the chat template is TRL's own Qwen3-VL template (``trl/chat_templates/qwen3_vl.jinja``,
  same special tokens as Qwen2.5-VL), which renders tools and tool turns and which TRL's
  ``add_response_schema`` recognises, so it parses ``<tool_call>`` JSON (with ``jmespath``
  on transformers < 5.13);
- a short warm start on the first turn of a zoom trajectory (the ``<tool_call>`` on the
  evidence crop, prompted exactly as GRPO prompts: with the tool's schema in the system
  turn), because a random model never writes a tool call;
- each call runs our real tool: TRL resets one ``ZoomEnvironment`` per rollout with the
  row's image, calls ``image_zoom_in_tool``, feeds the zoomed view back as an image, and
  ``ZoomReward`` scores the whole conversational completion.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from _tiny_qwen import ROOT, load_module, tiny_qwen

from grounding_rewards import RewardConfig
from grounding_rewards.zoom.config import ZoomConfig
from grounding_rewards.zoom.sft import call_box, evidence_crop
from grounding_rewards.zoom.tool import ZoomSession
from grounding_rewards.zoom.trl_env import ZoomEnvironment, ZoomReward

MAX_STEPS = 2


def _call(sample: Any) -> str:
    # The first turn of a zoom trajectory: one call on the crop around the first evidence box
    # (all sample images are 512 x 512 or smaller; the tool clips to the image).
    box = call_box(evidence_crop(sample.boxes[0], (512, 512)), (512, 512), "pixel")
    arguments = {"name": "image_zoom_in_tool", "arguments": {"bbox_2d": box}}
    return f"<tool_call>\n{json.dumps(arguments)}\n</tool_call>"


class _WithTools:
    """The processor, rendering prompts with the tool schema as GRPO renders them."""

    def __init__(self, processor: Any, tools: list[Any]) -> None:
        self.processor, self.tools, self.tokenizer = processor, tools, processor.tokenizer

    def apply_chat_template(self, *args: Any, **kwargs: Any) -> Any:
        return self.processor.apply_chat_template(*args, tools=self.tools, **kwargs)


@pytest.fixture(scope="module")
def run() -> Any:
    import torch
    import trl
    from trl import GRPOTrainer

    recipe = load_module("grpo_qwen25vl", ROOT / "integrations" / "trl" / "grpo_qwen25vl.py")
    args = recipe.parse_args(["--smoke"])
    workdir = Path(tempfile.mkdtemp(prefix="zoom-grpo-"))
    reward = RewardConfig()  # the tiny model writes boxes in original pixels
    dataset = recipe.smoke_dataset(workdir, reward)
    samples = {sample.image: sample for sample in tiny_qwen.SAMPLES}
    template = (Path(trl.__file__).parent / "chat_templates" / "qwen3_vl.jinja").read_text()
    tokenizer = tiny_qwen.build_tokenizer(extra_corpus=[_call(s) for s in tiny_qwen.SAMPLES])
    tokenizer.chat_template = template
    processor = tiny_qwen.build_processor(tokenizer)
    processor.chat_template = template
    model = tiny_qwen.build_model(tokenizer)
    targets = [(row["prompt"], row["image"], _call(samples[row["id"]])) for row in dataset]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small runs fastest on one thread
    calls: list[tuple[list[float], tuple[float, ...]]] = []
    real_zoom = ZoomSession.zoom

    def recording(self: ZoomSession, bbox_2d: Any, *a: Any, **k: Any) -> Any:
        result = real_zoom(self, bbox_2d, *a, **k)
        calls.append((list(bbox_2d), result.view.box))
        return result

    try:
        with_tools = _WithTools(processor, [ZoomEnvironment().image_zoom_in_tool])
        losses = tiny_qwen.warm_start(model, with_tools, targets, steps=80, lr=5e-3)
        config = recipe.grpo_config(
            args,
            reward,
            output_dir=str(workdir / "out"),
            per_device_train_batch_size=4,
            num_generations=2,
            gradient_accumulation_steps=1,
            max_completion_length=96,
            max_steps=MAX_STEPS,
            learning_rate=1e-5,
            temperature=0.7,
            use_cpu=True,
            save_strategy="no",
            use_vllm=False,
            reward_weights=None,
            max_tool_calling_iterations=1,
        )
        trainer = GRPOTrainer(
            model=model,
            processing_class=processor,
            # require_answer=False: the warm start teaches the call only, so crops carry signal
            reward_funcs=[ZoomReward(reward, ZoomConfig(require_answer=False))],
            args=config,
            train_dataset=dataset,
            environment_factory=ZoomEnvironment,
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ZoomSession, "zoom", recording)
            trainer.train()
    finally:
        torch.set_num_threads(threads)
    steps = [e for e in trainer.state.log_history if "rewards/zoom_reward/mean" in e]
    return {"trainer": trainer, "steps": steps, "calls": calls, "losses": losses}


def test_the_zoom_tool_is_offered(run: dict[str, Any]) -> None:
    assert [tool.__name__ for tool in run["trainer"].tools] == ["image_zoom_in_tool"]
    assert run["losses"][-1] < 0.2 * run["losses"][0]


def test_the_policy_called_the_tool_and_saw_views(run: dict[str, Any]) -> None:
    steps = run["steps"]
    assert len(steps) == MAX_STEPS
    assert sum(e["tools/call_frequency"] for e in steps) > 0
    assert all(e["tools/failure_frequency"] == 0 for e in steps)
    # each call went through our ZoomSession on the row's image and produced a view
    assert run["calls"] and all(x2 > x1 and y2 > y1 for _, (x1, y1, x2, y2) in run["calls"])


def test_rewards_are_finite_and_scored_the_crops(run: dict[str, Any]) -> None:
    for entry in run["steps"]:
        assert math.isfinite(entry["reward"])
        assert 0.0 <= entry["rewards/zoom_reward/mean"] <= 1.0
    # ZoomReward read the calls out of the conversational completions: crops on the
    # evidence earn reward (a reward blind to tool_calls would give 0 everywhere)
    assert max(e["rewards/zoom_reward/mean"] for e in run["steps"]) > 0
