"""Loading targets and calling rewards under the plain, trl and verl contracts."""

import math
import textwrap

import numpy as np
import pytest

import grounding_rewards as gr
from grounding_rewards.audit import AuditError, Sample, load_target, make_adapter, to_reward_value

GT = {
    "answer": "B",
    "gt_boxes": [[0, 0, 10, 10]],
    "gt_labels": ["cat"],
    "choices": ["x", "y"],
    "image_size": [64, 48],
}
TEXT = "<think>The <obj>cat</obj><bbox>[0, 0, 10, 10]</bbox>.</think><answer>B</answer>"


# -- values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (1, 1.0),
        (0.5, 0.5),
        (True, 1.0),
        (np.float32(0.25), 0.25),
        (None, None),
        ({"score": 2, "acc": 1}, 2.0),
        ({"score": None}, None),
    ],
)
def test_to_reward_value_reads_numbers_dicts_and_none(result, expected):
    assert to_reward_value(result) == expected


def test_to_reward_value_reads_a_breakdown_and_keeps_nan():
    assert to_reward_value(gr.grounding_reward(TEXT, **GT)) == 3.0
    assert math.isnan(to_reward_value(float("nan")))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("1.0", "expected a number, got str"),
        ({"acc": 1}, "'score', 'overall' or 'rewards' key"),
        ([1.0], "expected a number"),
    ],
)
def test_to_reward_value_rejects_other_things(bad, message):
    with pytest.raises(TypeError, match=message):
        to_reward_value(bad)


# -- loading -----------------------------------------------------------------------


def test_load_module_function_dotted_attribute_and_factory():
    assert load_target("grounding_rewards:bbox_reward") is gr.bbox_reward
    assert load_target("grounding_rewards.audit.naive:first_box_iou").__name__ == "first_box_iou"
    assert load_target("grounding_rewards.config:RewardConfig.replace") is gr.RewardConfig.replace
    assert (
        load_target("grounding_rewards.trl:composite_reward_func()").__name__ == "grounding_reward"
    )


def test_load_a_file_path_like_verl_does(tmp_path):
    path = tmp_path / "my_reward.py"
    path.write_text(
        textwrap.dedent("""
        def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kw):
            return {"score": float("<answer>" in solution_str)}
    """)
    )
    fn = load_target(f"{path}:compute_score")
    assert fn("d", "<answer>B</answer>", {}) == {"score": 1.0}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("grounding_rewards.bbox_reward", "expected MODULE:FUNCTION"),
        (":bbox_reward", "expected MODULE:FUNCTION"),
        ("grounding_rewards:", "expected MODULE:FUNCTION"),
        ("surely_no_such_module:f", "cannot import module 'surely_no_such_module'"),
        ("grounding_rewards:no_such_reward", "has no attribute 'no_such_reward'"),
        ("grounding_rewards:DEFAULT_CONFIG", "to be callable, got RewardConfig"),
        ("grounding_rewards:RewardConfig", "got the class"),
        ("grounding_rewards:bbox_reward()", "calling grounding_rewards:bbox_reward() failed"),
        ("/no/such/file.py:f", "expected a Python file"),
    ],
)
def test_load_target_errors_are_clear(spec, message):
    with pytest.raises(AuditError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_target(spec)


def test_load_a_file_that_fails_to_import(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(AuditError, match="RuntimeError: boom"):
        load_target(f"{path}:f")


def test_make_adapter_checks_contract_and_callable():
    with pytest.raises(AuditError, match="expected --contract"):
        make_adapter(gr.bbox_reward, "deepspeed")
    with pytest.raises(AuditError, match="expected a callable"):
        make_adapter(42, "plain")


# -- plain -------------------------------------------------------------------------


def test_plain_passes_only_the_arguments_a_function_declares():
    seen = {}

    def reward(completion, gt_boxes, image_size=None):
        seen.update(gt_boxes=gt_boxes, image_size=image_size)
        return 0.5

    out = make_adapter(reward).score_one(Sample(TEXT, GT, "prompt"))
    assert (out.value, out.error) == (0.5, None)
    assert seen == {"gt_boxes": GT["gt_boxes"], "image_size": GT["image_size"]}


def test_plain_passes_everything_to_var_kwargs_and_config_when_declared():
    seen = {}

    def reward(completion, **kwargs):
        seen.update(kwargs)
        return 1

    config = gr.RewardConfig(coords="norm1000")
    make_adapter(reward, config=config, reward_kwargs={"extra": 7}).score_one(
        Sample(TEXT, GT, "the prompt")
    )
    assert set(seen) == {
        "answer",
        "gt_boxes",
        "gt_labels",
        "choices",
        "image_size",
        "prompt",
        "config",
        "extra",
    }
    assert seen["prompt"] == "the prompt" and seen["config"] is config and seen["extra"] == 7


def test_plain_captures_exceptions_and_nonsense_as_errors():
    def boom(completion):
        raise KeyError("label")

    out = make_adapter(boom).score_one(Sample(TEXT, GT))
    assert out.value is None and out.error == "KeyError: 'label'"
    out = make_adapter(lambda completion: "high").score_one(Sample(TEXT, GT))
    assert out.error.startswith("InputTypeError: expected a number, got str")


def test_plain_on_our_rewards_matches_direct_calls():
    adapter = make_adapter(gr.grounding_reward)
    assert adapter.score_one(Sample(TEXT, GT)).value == gr.grounding_reward(TEXT, **GT).total
    assert make_adapter(gr.option_reward).score_one(Sample(TEXT, GT)).value == 1.0


# -- trl ---------------------------------------------------------------------------


def test_trl_call_has_the_shape_grpo_trainer_uses():
    calls = []

    def reward(**kwargs):
        calls.append(kwargs)
        return [0.25] * len(kwargs["completions"])

    adapter = make_adapter(reward, "trl", columns={"answer": "solution"}, reward_kwargs={"k": 1})
    outs = adapter.score_batch([Sample(TEXT, GT, "p1"), Sample("x", GT, "p2")])
    assert [o.value for o in outs] == [0.25, 0.25]
    call = calls[0]
    assert call["prompts"] == ["p1", "p2"] and call["completions"] == [TEXT, "x"]
    assert call["completion_ids"][1] == [ord("x")]
    assert call["solution"] == ["B", "B"] and "answer" not in call
    assert call["gt_boxes"] == [GT["gt_boxes"]] * 2 and call["image_size"] == [[64, 48]] * 2
    assert call["trainer_state"].global_step == 0
    assert callable(call["log_extra"]) and callable(call["log_metric"]) and call["k"] == 1


def test_trl_conversational_messages():
    calls = []

    def reward(prompts, completions, **kwargs):
        calls.append((prompts, completions))
        return [1.0]

    make_adapter(reward, "trl", conversational=True).score_one(Sample(TEXT, GT, "q"))
    prompts, completions = calls[0]
    assert prompts == [[{"role": "user", "content": "q"}]]
    assert completions == [[{"role": "assistant", "content": TEXT}]]


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ([1.0, 2.0], "expected 1 rewards, got 2"),
        (1.0, "expected a list"),
        ("1", "expected a list"),
    ],
)
def test_trl_result_must_be_one_reward_per_completion(result, message):
    out = make_adapter(lambda **kw: result, "trl").score_one(Sample(TEXT, GT))
    assert out.value is None and message in out.error


def test_trl_on_our_adapter_matches_the_core():
    from grounding_rewards.trl import composite_reward_func

    f = composite_reward_func()
    out = make_adapter(f, "trl").score_one(Sample(TEXT, GT))
    assert out.value == gr.grounding_reward(TEXT, **GT).total


# -- verl --------------------------------------------------------------------------


def test_verl_call_has_the_shape_of_the_reward_loop():
    calls = []

    def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
        calls.append((data_source, solution_str, ground_truth, extra_info, kwargs))
        return {"score": 0.75, "acc": 1.0}

    adapter = make_adapter(
        compute_score, "verl", data_source="geo", reward_kwargs={"coords": "norm1"}
    )
    assert adapter.score_one(Sample(TEXT, GT, "prompt")).value == 0.75
    data_source, solution, truth, extra, kwargs = calls[0]
    assert (data_source, solution) == ("geo", TEXT)
    assert truth == GT and truth is not GT
    assert extra["image_size"] == [64, 48] and extra["prompt"] == "prompt"
    assert kwargs == {"coords": "norm1"}


def test_verl_on_our_compute_score():
    from grounding_rewards.verl import compute_score

    assert make_adapter(compute_score, "verl").score_one(Sample(TEXT, GT)).value == 3.0
