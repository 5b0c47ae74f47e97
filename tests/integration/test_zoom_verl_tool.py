"""The zoom tool through veRL 0.9.1's own tool interface, on CPU.

The tool is loaded from ``integrations/verl/zoom_tool_config.yaml`` by veRL's
``initialize_tools_from_config`` and called the way ``ToolAgentLoop._call_tool`` dispatches a
``BaseTool`` (``json.loads`` of the arguments, then create -> execute(agent_data=...) ->
release), for a chain of two zooms; the rollout is then scored by ``zoom_reward``, which must
replay the same regions. ``ToolAgentLoop`` itself is not imported: its module pulls in veRL's
rollout server stack (``cachetools``, ``uvicorn``, ``fastapi``), which the ``verl`` extra does
not install; the agent data is a stand-in with ``AgentData``'s two fields the tool reads.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from grounding_rewards import RewardConfig
from grounding_rewards.zoom import parse_trajectory, resolve_crops, zoom_reward

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "integrations" / "verl" / "zoom_tool_config.yaml"
SIZE = (1000, 800)


@pytest.fixture(scope="module")
def loop() -> Any:
    from verl.tools.tool_registry import initialize_tools_from_config

    [tool] = initialize_tools_from_config(str(CONFIG))
    return SimpleNamespace(tools={tool.name: tool})


def agent_data(image: Image.Image) -> Any:
    return SimpleNamespace(image_data=[image], extra_fields={})


async def _dispatch(tool: Any, arguments: str, data: Any) -> tuple[Any, float, dict[str, Any]]:
    # ToolAgentLoop._call_tool's BaseTool branch (veRL 0.9.1), verbatim in substance
    tool_args = json.loads(arguments)
    instance_id, _ = await tool.create(create_kwargs={})
    try:
        result: tuple[Any, float, dict[str, Any]] = await tool.execute(
            instance_id, tool_args, agent_data=data
        )
    finally:
        await tool.release(instance_id)
    return result


def call(loop: Any, data: Any, arguments: dict[str, Any]) -> tuple[Any, float, dict[str, Any]]:
    tool = loop.tools["image_zoom_in_tool"]
    return asyncio.run(_dispatch(tool, json.dumps(arguments), data))


def test_schema_and_config_come_through_verl(loop: Any) -> None:
    tool = loop.tools["image_zoom_in_tool"]
    assert tool.get_openai_tool_schema().function.parameters.required == ["bbox_2d"]
    assert tool.reward_config.coords == "qwen25vl"


def test_a_chain_of_zooms_and_its_reward(loop: Any) -> None:
    image = Image.new("RGB", SIZE, "white")
    data = agent_data(image)
    config = RewardConfig(coords="qwen25vl")
    # Qwen2.5-VL sees 1000 x 800 as 1008 x 812: x 302.4..705.6 -> 300..700 originals
    first = call(loop, data, {"bbox_2d": [302.4, 203, 705.6, 507.5]})
    response, reward, metrics = first
    assert response.image[0].size == (532, 392) and "observation_1" in response.text
    assert reward == 0.0 and metrics["zoom_area_fraction"] == pytest.approx(
        400 * 300 / 800_000, rel=1e-3
    )
    second = call(loop, data, {"bbox_2d": [133, 98, 320, 255], "source": "observation_1"})
    assert second[0].image and "observation_2" in second[0].text
    assert len(data.extra_fields["zoom_views"]) == 2
    error = call(loop, data, {"bbox_2d": [0, 0, 10, 10], "source": "observation_7"})
    assert error[0].image is None and "expected one of" in error[0].text

    # The rollout as veRL's solution_str shows it, scored by zoom_reward.
    def tool_call(arguments: dict[str, Any]) -> str:
        body = json.dumps({"name": "image_zoom_in_tool", "arguments": arguments})
        return f"<tool_call>\n{body}\n</tool_call>\n<tool_response>\n</tool_response>\n"

    text = (
        tool_call({"bbox_2d": [302.4, 203, 705.6, 507.5]})
        + tool_call({"bbox_2d": [133, 98, 320, 255], "source": "observation_1"})
        + "<answer>A</answer>"
    )
    crops = resolve_crops(parse_trajectory(text, config), SIZE, config)
    stored = data.extra_fields["zoom_views"]
    for crop, view in zip(crops, stored, strict=True):
        assert crop.box == pytest.approx(tuple(view[:4]))
    assert zoom_reward(text, [[420, 300, 520, 380]], image_size=SIZE, config=config) == 1.0
