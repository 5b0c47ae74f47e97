"""The TRL environment and reward: tool schema as TRL builds it, a chained rollout, its reward."""

from __future__ import annotations

import pickle

from PIL import Image
from transformers.utils import get_json_schema

from grounding_rewards.zoom.trl_env import ZoomEnvironment, ZoomReward


def test_tool_schema_is_what_trl_renders() -> None:
    schema = get_json_schema(ZoomEnvironment().image_zoom_in_tool)
    assert schema["function"]["name"] == "image_zoom_in_tool"
    assert schema["function"]["parameters"]["required"] == ["bbox_2d"]


def test_a_rollout_as_trl_builds_it_is_rewarded() -> None:
    env = ZoomEnvironment()
    image = Image.new("RGB", (1000, 800))
    env.reset(prompt=[{"role": "user", "content": [{"type": "image", "image": image}]}])
    first = env.image_zoom_in_tool([300, 200, 700, 500])
    assert first[0]["image"].size == (532, 392) and "observation_1" in first[1]["text"]
    second = env.image_zoom_in_tool([133, 98, 320, 255], source="observation_1")
    assert second[0]["type"] == "image"
    assert "Error" in env.image_zoom_in_tool([1, 2, 3], source="observation_1")[0]["text"]

    def assistant_call(arguments: dict[str, object]) -> dict[str, object]:
        function = {"name": "image_zoom_in_tool", "arguments": arguments}
        return {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": function}],
        }

    completion = [
        assistant_call({"bbox_2d": [300, 200, 700, 500]}),
        {"role": "tool", "name": "image_zoom_in_tool", "content": first},
        assistant_call({"bbox_2d": [133, 98, 320, 255], "source": "observation_1"}),
        {"role": "tool", "name": "image_zoom_in_tool", "content": second},
        {"role": "assistant", "content": "<answer>A</answer>"},
    ]
    reward = pickle.loads(pickle.dumps(ZoomReward()))
    values = reward(
        prompts=[[]] * 2,
        completions=[completion, completion[:1]],
        gt_boxes=[[[420, 300, 520, 380]], [[420, 300, 520, 380]]],
        image=[image, image],
        trainer_state=None,
    )
    assert values == [1.0, 0.0]  # the second never answered
    env.reset()
    assert "no image" in env.image_zoom_in_tool([0, 0, 1, 1])[0]["text"]
