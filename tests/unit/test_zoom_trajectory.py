"""Reading trajectories and following chains of crops, for each syntax."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable

import pytest

from grounding_rewards import RewardConfig
from grounding_rewards.boxes import qwen25vl_resize
from grounding_rewards.zoom import ZoomConfig, parse_trajectory, resolve_crops, zoom_reward
from grounding_rewards.zoom.views import View, view_size


def deepeyes_call(box: list[float], source: str | None = None) -> str:
    arguments: dict[str, object] = {"bbox_2d": box}
    if source:
        arguments["source"] = source
    return (
        "<tool_call>"
        + json.dumps({"name": "image_zoom_in_tool", "arguments": arguments})
        + "</tool_call>"
    )


def grounding(box: list[float], source: str = "original_image") -> str:
    return "<grounding>" + json.dumps({"bbox_2d": box, "source": source}) + "</grounding>"


TOOL_TURN = (
    "<|im_end|>\n<|im_start|>user\n<tool_response><|vision_start|><|image_pad|><|vision_end|>"
    "</tool_response><|im_end|>\n<|im_start|>assistant\n"
)
ZOOM = '<tool_call>{"name": "image_zoom_in_tool", "arguments": '


def crops_of(trajectory: object, size: tuple[int, int], **kw: object) -> list[object]:
    config = kw.pop("config", None)
    zoom = kw.pop("zoom", None)
    t = parse_trajectory(trajectory, config, zoom)  # type: ignore[arg-type]
    return [c.box for c in resolve_crops(t, size, config, zoom)]  # type: ignore[arg-type]


def test_deepeyes_chain_in_view_pixels() -> None:
    # crop (200, 100, 400, 300) is 200 x 200; the tool enlarges it to 448 x 448 (>= 200704 px)
    assert view_size(200, 200) == (448, 448)
    text = (
        deepeyes_call([200, 100, 400, 300])
        + TOOL_TURN
        + deepeyes_call([0, 0, 224, 224], "observation_1")  # the top-left quarter of the view
        + TOOL_TURN
        + "<answer>A</answer>"
    )
    assert crops_of(text, (1000, 800)) == [(200, 100, 400, 300), (200, 100, 300, 200)]
    assert parse_trajectory(text).answer == "A"


def test_mini_o3_chain_in_unit_coordinates() -> None:
    text = (
        grounding([0.5, 0.5, 1, 1])
        + TOOL_TURN
        + grounding([0, 0, 0.5, 0.5], "observation_1")
        + TOOL_TURN
        + grounding([0.5, 0.5, 1.0, 1.0], "observation_2")  # a chain of three
        + TOOL_TURN
        + grounding([0, 0, 1, 1], "original_image")
        + "<answer>C</answer>"
    )
    assert crops_of(text, (800, 600)) == [
        (400, 300, 800, 600),
        (400, 300, 600, 450),
        (500, 375, 600, 450),
        (0, 0, 800, 600),
    ]


def test_function_calling_chain_with_json_string_and_dict_arguments() -> None:
    def call(arguments: object) -> dict[str, object]:
        return {
            "role": "assistant",
            "content": "<think>zoom</think>",
            "tool_calls": [
                {
                    "id": "c",
                    "type": "function",
                    "function": {"name": "image_zoom_in_tool", "arguments": arguments},
                }
            ],
        }

    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
        call(json.dumps({"bbox_2d": [250, 250, 750, 750]})),
        {"role": "tool", "content": [{"type": "image"}]},
        call({"bbox_2d": [0, 0, 500, 500], "source": "observation_1"}),
        {"role": "tool", "content": [{"type": "image"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "<answer>B</answer>"}]},
    ]
    config = RewardConfig(coords="norm1000")
    # norm1000 of 1000 x 800: (250, 200, 750, 600); its top-left quarter: (250, 200, 500, 400)
    assert crops_of(messages, (1000, 800), config=config) == [
        (250, 200, 750, 600),
        (250, 200, 500, 400),
    ]
    assert parse_trajectory(messages).answer == "B"
    # the last assistant message calls a tool: no final answer yet
    assert parse_trajectory(messages[:4]).answer is None


def test_qwen25vl_space_on_the_original_and_on_a_view() -> None:
    resized = qwen25vl_resize((1000, 800))  # (1008, 812)
    config = RewardConfig(coords="qwen25vl")
    box = [0, 0, resized[0] / 2, resized[1] / 2]
    text = deepeyes_call(box) + TOOL_TURN + deepeyes_call([0, 0, 224, 224], "observation_1")
    first, second = crops_of(text, (1000, 800), config=config)
    assert first == pytest.approx((0, 0, 500, 400))
    # the 500 x 400 crop is shown at view_size(500, 400); Qwen2.5-VL writes pixels of that
    # view after its own smart-resize, so 224 of those map to 224 / resized * 500 originals
    rw, rh = qwen25vl_resize(view_size(500, 400))
    assert second == pytest.approx((0, 0, 224 / rw * 500, 224 / rh * 400))


def test_observation_numbering_counts_only_crops_that_happened() -> None:
    text = (
        grounding([2, 2, 3, 3])  # entirely outside: no crop, no observation
        + grounding([0, 0, 0.5, 0.5])  # observation_1
        + grounding([0, 0, 1, 1], "observation_2")  # does not exist
        + grounding([0, 0, 1, 1], "observation_1")
    )
    t = parse_trajectory(text)
    crops = resolve_crops(t, (100, 100))
    assert [c.box for c in crops] == [None, (0, 0, 50, 50), None, (0, 0, 50, 50)]
    assert [c.observation for c in crops] == [None, 1, None, 2]
    assert "unknown view 'observation_2'" in crops[2].reason
    base0 = ZoomConfig(observation_base=0)
    assert resolve_crops(
        parse_trajectory(grounding([0, 0, 0.5, 0.5]) + grounding([0, 0, 1, 1], "observation_0")),
        (100, 100),
        zoom=base0,
    )[1].box == (0, 0, 50, 50)


def test_drift_outside_the_view_is_clipped_or_invalid() -> None:
    view = View.original((100, 100)).crop_of((0, 0, 50, 50))
    assert view is not None
    assert view.to_original((0.5, 0.5, 2.0, 2.0), "norm1") == (
        25,
        25,
        50,
        50,
    )  # clipped to the view
    assert view.to_original((1.5, 1.5, 2.0, 2.0), "norm1") is None


def test_other_tools_and_malformed_calls() -> None:
    text = (
        '<tool_call>{"name": "search", "arguments": {"bbox_2d": [1, 2, 3, 4]}}</tool_call>'
        + ZOOM
        + '{"bbox_2d": [1, 2, "x", 4]}}</tool_call>'
        + ZOOM
        + '{"bbox_2d": [NaN, 2, 3, 4]}}</tool_call>'
        + ZOOM
        + '"{\\"bbox_2d\\": [1, 2, 30, 40]}"}</tool_call>'
        + ZOOM
        + '{"bbox_2d": [1, 2'
    )
    t = parse_trajectory(text)
    assert [c.box for c in t.calls] == [None, None, (1, 2, 30, 40)]
    assert "truncated_call" in t.issues
    assert parse_trajectory([{"role": "assistant", "tool_calls": "junk"}, 5, None]).calls == ()
    assert (
        parse_trajectory({"role": "assistant", "content": grounding([0, 0, 1, 1])}).calls[0].syntax
        == "mini-o3"
    )
    assert parse_trajectory(None).issues == ("not_text",)
    assert parse_trajectory(b"bytes").issues == ("not_text",)


GARBAGE = [
    "[" * 100_000,
    "<tool_call>" * 20_000,
    "<grounding>{" * 10_000 + "</grounding>",
    '<tool_call>{"name": "zoom", "arguments": {"bbox_2d": [' + "1," * 50_000 + "]}}</tool_call>",
    "<tool_call>"
    + '{"name": "zoom", "arguments": {"bbox_2d": [1, 1, 9, 9]}}'
    + "</tool_call>" * 5000,
    "".join(random.Random(0).choice('<>{}[]",:0123456789 ._abgindorult/') for _ in range(50_000)),
]


@pytest.mark.parametrize("text", GARBAGE, ids=range(len(GARBAGE)))
def test_untrusted_input_never_raises_and_stays_in_range(text: str) -> None:
    start = time.process_time()
    value = zoom_reward(text, [[10, 10, 20, 20]], image_size=(100, 100))
    assert value is not None and 0.0 <= value <= 1.0 and math.isfinite(value)
    value = zoom_reward(
        [{"role": "assistant", "content": text}], [[10, 10, 20, 20]], image_size=(100, 100)
    )
    assert value is not None and 0.0 <= value <= 1.0
    assert time.process_time() - start < 5.0  # CPU seconds: a generous per-call bound


def _best_cpu(function: Callable[[str], object], text: str) -> float:
    best = math.inf
    for _ in range(3):
        start = time.process_time()
        function(text)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize(
    "unit",
    ['<tool_call>{"name": "x"}</tool_call>', "<tool_call>", "<grounding>{}</grounding> ", "[1, "],
)
def test_reading_time_grows_linearly(unit: str) -> None:
    config = RewardConfig(max_chars=2_000_000)
    zoom = ZoomConfig(max_calls=10**6)

    def read(text: str) -> object:
        return parse_trajectory(text, config, zoom)

    small, large = unit * (50_000 // len(unit)), unit * (200_000 // len(unit))
    for _ in range(3):
        t_small, t_large = _best_cpu(read, small), _best_cpu(read, large)
        if t_large < 8 * t_small + 0.003:
            return
    pytest.fail(f"4x the input took {t_large / max(t_small, 1e-9):.1f}x the CPU time")
