"""grounding_rewards.trl: TRL's call, the core's numbers, one warning, parse once."""

from __future__ import annotations

import pickle
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import grounding_rewards.trl as trl_adapter
from grounding_rewards import (
    ConfigError,
    RewardConfig,
    bbox_reward,
    format_reward,
    grounding_reward,
    option_reward,
)
from grounding_rewards._warn_once import GroundTruthWarning
from grounding_rewards.parsing import ISSUE_CODES
from grounding_rewards.trl import (
    BboxRewardFunc,
    Columns,
    composite_reward_func,
    reward_funcs,
    reward_weights,
)

GOOD = (
    "<think>The <obj>man</obj><bbox>[10, 10, 50, 90]</bbox> wears a "
    "<obj>helmet</obj><bbox>[20, 10, 40, 25]</bbox>.</think><answer>B</answer>"
)
COMPLETIONS = [
    GOOD,
    "<think>The <obj>man</obj><bbox>[10, 10, 50, 90]</bbox>.</think><answer>(B) white</answer>",
    "<think>no boxes at all</think><answer>A</answer>",
    "<think><obj>x</obj><bbox>[5, 5, 1, 1]</bbox><obj>y</obj><bbox>oops</bbox></think>",
    "<answer>B</answer>",
    "",
    "<think><obj>a</obj><bbox>[0, 0, 200, 200]</bbox></think><answer>B or C</answer>",
]
TRUTH = {
    "answer": "B",
    "choices": ["black", "white", "red"],
    "gt_boxes": [[10, 10, 50, 90], [20, 10, 40, 30]],
    "gt_labels": ["man", "helmet"],
    "image_size": [100, 100],
}
NAMES = ["format_reward", "option_reward", "bbox_reward"]


class FakeImage:
    """Quacks like a PIL image: ``.size`` is ``(width, height)``."""

    def __init__(self, width: int, height: int) -> None:
        self.size = (width, height)


def batch(completions: list[Any], **overrides: Any) -> dict[str, Any]:
    n = len(completions)
    columns = {key: [value] * n for key, value in TRUTH.items()}
    columns.update(overrides)
    return {
        "prompts": ["p"] * n,
        "completions": completions,
        "completion_ids": [[1]] * n,
        **columns,
    }


def core(text: str, truth: dict[str, Any], config: RewardConfig) -> list[float | None]:
    size = truth.get("image_size")
    return [
        format_reward(text, image_size=size, config=config),
        option_reward(text, truth["answer"], choices=truth["choices"], config=config),
        bbox_reward(
            text, truth["gt_boxes"], gt_labels=truth["gt_labels"], image_size=size, config=config
        ),
    ]


def test_three_named_picklable_callables() -> None:
    funcs = reward_funcs()
    assert [f.__name__ for f in funcs] == NAMES
    assert [type(f) for f in pickle.loads(pickle.dumps(funcs))] == [type(f) for f in funcs]
    restored = pickle.loads(pickle.dumps(funcs))
    assert [f(**batch([GOOD])) for f in restored] == [f(**batch([GOOD])) for f in funcs]
    assert composite_reward_func().__name__ == "grounding_reward"
    assert reward_weights(RewardConfig(weights=(1, 2, 3))) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "config",
    [
        RewardConfig(),
        RewardConfig(format_mode="graded", similarity="giou", length_penalty=2.0),
        RewardConfig(coords="norm1000", label_matching="exact", box_region="anywhere"),
        RewardConfig(coords="qwen25vl", min_spans=2, weights=(0.5, 1, 2)),
    ],
)
def test_same_numbers_as_the_core(config: RewardConfig) -> None:
    funcs = reward_funcs(config)
    got = [f(**batch(COMPLETIONS)) for f in funcs]
    composite = composite_reward_func(config)(**batch(COMPLETIONS))
    for index, text in enumerate(COMPLETIONS):
        expected = core(text, TRUTH, config)
        assert [got[k][index] for k in range(3)] == pytest.approx(expected)
        total = grounding_reward(text, config=config, **TRUTH).total
        assert composite[index] == pytest.approx(total)


def test_conversational_completions_score_like_strings() -> None:
    as_messages = [
        [{"role": "assistant", "content": GOOD}],
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": GOOD[:30]},
                    {"type": "text", "text": GOOD[30:]},
                ],
            }
        ],
        # a tool round trip: the final assistant turn is scored
        [
            {"role": "assistant", "content": "calling a tool"},
            {"role": "tool", "content": "42"},
            {"role": "assistant", "content": GOOD},
        ],
    ]
    for func in reward_funcs():
        expected = func(**batch([GOOD]))[0]
        assert func(**batch(as_messages)) == [expected] * 3


def test_non_text_completions_score_zero_without_raising() -> None:
    weird = [None, 42, [], [{"role": "assistant"}], {"content": None}]
    for func in reward_funcs():
        assert func(**batch(weird)) == [0.0] * 5  # bbox: n = 0 < m gives 0


def test_unknown_kwargs_are_ignored() -> None:
    for func in [*reward_funcs(), composite_reward_func()]:
        plain = func(**batch(COMPLETIONS))
        extra = func(
            **batch(COMPLETIONS),
            trainer_state=object(),
            environments=[None] * 7,
            some_column=list(range(7)),
            image=[None] * 7,
        )
        assert extra == plain


def test_image_size_from_the_image_column() -> None:
    config = RewardConfig(coords="norm1000")
    text = "<think><obj>man</obj><bbox>[100, 100, 500, 900]</bbox></think><answer>B</answer>"
    bbox = reward_funcs(config)[2]
    no_size = {"image_size": [None]}
    from_image = bbox(**batch([text], image=[FakeImage(100, 100)], **no_size))
    from_images = bbox(**batch([text], images=[[FakeImage(100, 100), FakeImage(9, 9)]], **no_size))
    from_array = bbox(**batch([text], image=[np.zeros((100, 100, 3))], **no_size))
    explicit = bbox(**batch([text]))
    assert from_image == from_images == from_array == explicit
    assert explicit[0] == pytest.approx(
        bbox_reward(text, TRUTH["gt_boxes"], image_size=(100, 100), config=config)
    )
    # The column wins over the image when both are there.
    assert bbox(**batch([text], image=[FakeImage(10, 10)])) == explicit


def test_malformed_ground_truth_gives_none_and_one_warning() -> None:
    funcs = reward_funcs()
    columns = batch(
        [GOOD] * 4,
        gt_boxes=[[[5, 5, 1, 1]], "not json", TRUTH["gt_boxes"], None],
        gt_labels=[None, None, TRUTH["gt_labels"], []],
        answer=["B", "Z", None, "B"],
        image_size=[[100, 100], [100, 100], [-1, 5], [100, 100]],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [[f(**columns) for f in funcs] for _ in range(3)]  # three training steps
    assert results[0] == results[1] == results[2]
    form, option, bbox = results[0]
    assert form == [1.0, 1.0, None, 1.0]  # row 2's image size is malformed
    assert option == [1.0, None, None, 1.0]  # "Z" is no option; None is no answer
    assert bbox == [None, None, None, None]  # malformed, malformed, bad size, no boxes
    messages = [str(w.message) for w in caught if issubclass(w.category, GroundTruthWarning)]
    # one warning per reward per problem, over three steps of four rows
    assert len(messages) == len(set(messages))
    # one warning per kind of problem, whatever the row or box index: bbox warns once for
    # its two malformed box columns and once for the size; format for the size; option for "Z"
    assert sum("gt_boxes" in m for m in messages) == 1
    assert len(messages) == 4

    metrics: dict[str, float] = {}
    for func in funcs:
        func(**columns, log_metric=metrics.__setitem__)
    assert metrics["grounding/gt_error/format_reward"] == 0.25
    assert metrics["grounding/gt_error/option_reward"] == 0.25
    assert metrics["grounding/gt_error/bbox_reward"] == 0.75


def test_missing_columns_warn_once_and_skip() -> None:
    funcs = reward_funcs(answer_column="solution", gt_boxes_column="boxes")
    with pytest.warns(GroundTruthWarning) as record:
        for _ in range(3):
            form, option, bbox = (f(completions=[GOOD, GOOD]) for f in funcs)
    assert option == [None, None] and bbox == [None, None]
    assert form == [1.0, 1.0]  # format needs no ground truth
    assert len(record) == 2
    assert "'solution'" in str(record[0].message)


def test_custom_column_names() -> None:
    funcs = reward_funcs(
        answer_column="solution",
        gt_boxes_column="boxes",
        gt_labels_column="names",
        choices_column="options",
        image_size_column="size",
    )
    renamed = {
        "solution": ["B"],
        "boxes": [TRUTH["gt_boxes"]],
        "names": [TRUTH["gt_labels"]],
        "options": [TRUTH["choices"]],
        "size": [TRUTH["image_size"]],
    }
    assert [f(completions=[GOOD], **renamed) for f in funcs] == [
        f(**batch([GOOD])) for f in reward_funcs()
    ]
    assert funcs[0].columns == Columns("solution", "boxes", "names", "options", "size")


def test_log_metric_and_log_extra() -> None:
    metrics: dict[str, list[float]] = {}
    extra: dict[str, list[Any]] = {}

    def log_metric(name: str, value: float) -> None:
        metrics.setdefault(name, []).append(value)

    def log_extra(column: str, values: list[Any]) -> None:
        extra.setdefault(column, []).extend(values)

    columns = batch(COMPLETIONS, log_metric=log_metric, log_extra=log_extra)
    for func in reward_funcs():
        func(**columns)
    n = len(COMPLETIONS)
    assert {f"grounding/issue/{code}" for code in ISSUE_CODES} <= set(metrics)
    assert metrics["grounding/gt_boxes"] == [2.0]
    assert metrics["grounding/bbox_applicable"] == [1.0]
    assert metrics["grounding/pred_boxes"] == [pytest.approx((2 + 1 + 0 + 2 + 0 + 0 + 1) / n)]
    assert metrics["grounding/issue/missing_answer"] == [pytest.approx(2 / n)]
    assert metrics["grounding/option_readable"] == [pytest.approx(4 / n)]
    assert all(len(values) == n for values in extra.values())
    assert extra["n_gt"] == [2] * n
    assert extra["predicted_option"][:3] == ["B", "B", "A"]
    assert extra["format_issues"][0] == ""

    metrics.clear()
    quiet = reward_funcs(log_diagnostics=False)
    for func in quiet:
        func(**columns)
    assert metrics == {}


def test_one_parse_per_completion_between_the_three(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = trl_adapter.parse_trace

    def counting(text: Any, *, config: Any = None) -> Any:
        calls.append(text)
        return real(text, config=config)

    monkeypatch.setattr(trl_adapter, "parse_trace", counting)
    funcs = reward_funcs()
    columns = batch(COMPLETIONS)
    for func in funcs:
        func(**columns)
    assert len(calls) == len(COMPLETIONS)
    for func in funcs:  # a new batch is parsed again
        func(**batch(COMPLETIONS[:2]))
    assert len(calls) == len(COMPLETIONS) + 2


def test_thread_safe() -> None:
    funcs = reward_funcs()
    batches = [batch(COMPLETIONS[i:] + COMPLETIONS[:i]) for i in range(len(COMPLETIONS))]
    serial = [[f(**b) for f in reward_funcs()] for b in batches]
    barrier = threading.Barrier(4)

    def work(index: int) -> list[list[float | None]]:
        barrier.wait()
        out = None
        for _ in range(20):
            out = [f(**batches[index % len(batches)]) for f in funcs]
        assert out is not None
        return out

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(8)))
    for index, result in enumerate(results):
        assert result == serial[index % len(batches)]


def test_bad_setup_raises_clear_errors() -> None:
    with pytest.raises(ConfigError, match="expected a RewardConfig"):
        reward_funcs({"coords": "pixel"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="non-empty strings"):
        reward_funcs(answer_column="")
    with pytest.raises(ValueError, match="one value per completion"):
        reward_funcs()[0](completions=[GOOD, GOOD], image_size=[[1, 1]])
    with pytest.raises(TypeError, match="completions"):
        BboxRewardFunc()(prompts=["p"])
