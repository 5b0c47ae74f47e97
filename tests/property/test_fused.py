"""Invariant: the clean-completion path gives exactly the full path's reward.

``grounding_reward`` and ``bbox_reward`` score a clean completion without building its
trace (``rewards/_fused.py``), and ``grounding_reward_batch`` does so for a whole batch;
``score_trace`` on the parsed trace is the full path. Every field must be equal, bit for
bit, for every configuration the clean path accepts and for those it hands back.
"""

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import grounding_rewards as gr
from grounding_rewards.ground_truth import parse_ground_truth
from grounding_rewards.rewards._fused import clean_scores, fused_weights
from grounding_rewards.rewards.batch import grounding_reward_batch
from grounding_rewards.rewards.bbox import _box_parts
from grounding_rewards.rewards.composite import score_trace
from grounding_rewards.testing import completions, ground_truths, well_formed_completions

from .test_fast_parse import _NUMBERS, canonical_like, json_blocks

CONFIGS = [
    gr.DEFAULT_CONFIG,
    gr.RewardConfig(think_tag="reasoning", answer_tag="final", obj_tag="ref", bbox_tag="box"),
    gr.RewardConfig(max_boxes=2, min_spans=0),
    gr.RewardConfig(coords="norm1000", format_mode="graded", length_penalty=2.0),
    gr.RewardConfig(coords="qwen25vl", box_region="anywhere"),
    gr.RewardConfig(weights={"bbox": 2.0, "format": 0.5, "accuracy": 0.25}),
    gr.RewardConfig(weights={"format": 1.0, "accuracy": 1.0}),
    gr.RewardConfig(weights={"bbox": 1.0}),
    gr.RewardConfig(dialect="json"),
    gr.RewardConfig(dialect="json", coords="norm1000", box_region="anywhere", min_spans=2),
    # handed back to the full path whole: not fusable
    gr.RewardConfig(similarity="giou"),
    gr.RewardConfig(label_matching="exact"),
    gr.RewardConfig(box_region="answer"),
    gr.RewardConfig(weights={"format": 1, "accuracy": 1, "bbox": 1, "point": 1}),
    gr.RewardConfig(dialect="qwen2-tokens"),
]


@st.composite
def _json_completions(draw: st.DrawFn) -> str:
    """Reasoning with Qwen-style JSON objects (valid or not), in or out of the blocks."""
    objects = []
    for _ in range(draw(st.integers(0, 4))):
        numbers = ", ".join(draw(st.lists(_NUMBERS, min_size=3, max_size=5)))
        label = draw(st.sampled_from(["man", "", "a b"]))
        objects.append(f'{{"bbox_2d": [{numbers}], "label": "{label}"}}')
    prose = draw(st.sampled_from([" the ", "\n", " x < y ", ""]))
    answer = draw(st.sampled_from(["B", " (A) ", "", '{"bbox_2d": [1, 2, 3, 4]}']))
    tail = draw(st.sampled_from(["", " ", "more"]))
    return f"<think>{prose.join(objects)}</think><answer>{answer}</answer>{tail}"


def _texts(config: gr.RewardConfig) -> st.SearchStrategy[str]:
    if config.dialect != "tags":
        return st.one_of(_json_completions(), json_blocks(config), completions())
    return st.one_of(
        canonical_like(config),
        well_formed_completions(config=config, min_spans=0, max_spans=4),
        completions(),
    )


def _full(text: str, gt: dict, config: gr.RewardConfig) -> gr.RewardBreakdown:
    truth = parse_ground_truth(**gt)
    return score_trace(gr.parse_trace(text, config=config), truth, config)


def _check(text: str, gt: dict, config: gr.RewardConfig) -> None:
    full = _full(text, gt, config)
    ours = gr.grounding_reward(text, **gt, config=config)
    assert repr(ours) == repr(full)  # repr: every field, and floats bit for bit
    truth = parse_ground_truth(**gt)
    expected = _box_parts(gr.parse_trace(text, config=config), truth, config)[0]
    kwargs = {k: gt[k] for k in ("gt_labels", "image_size")}
    assert repr(gr.bbox_reward(text, gt["gt_boxes"], **kwargs, config=config)) == repr(expected)


@pytest.mark.parametrize("config", CONFIGS, ids=range(len(CONFIGS)))
@given(data=st.data())
def test_clean_path_equals_full_path(config, data):
    gt = data.draw(ground_truths(max_objects=4))
    if data.draw(st.booleans()):
        gt["answer"] = None
    if data.draw(st.integers(0, 4)) == 0:
        gt["gt_boxes"], gt["gt_labels"] = [], []
    _check(data.draw(_texts(config)), gt, config)


@given(data=st.data())
def test_batch_equals_one_call_each(data):
    config = data.draw(st.sampled_from(CONFIGS))
    shared = data.draw(ground_truths(max_objects=3))
    rows = []
    for _ in range(data.draw(st.integers(0, 6))):
        gt = shared if data.draw(st.booleans()) else data.draw(ground_truths(max_objects=3))
        rows.append((data.draw(_texts(config)), gt))
    batch = grounding_reward_batch(
        [text for text, _ in rows],
        answers=[gt["answer"] for _, gt in rows],
        gt_boxes=[gt["gt_boxes"] for _, gt in rows],
        gt_labels=[gt["gt_labels"] for _, gt in rows],
        choices=[gt["choices"] for _, gt in rows],
        image_sizes=[gt["image_size"] for _, gt in rows],
        config=config,
    )
    singles = [gr.grounding_reward(text, **gt, config=config) for text, gt in rows]
    assert len(batch) == len(rows)
    assert repr(batch.rows()) == repr([single.as_dict() for single in singles])


def _corpus():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from corpus import make_corpus

    return make_corpus(600)


@pytest.mark.parametrize("dialect", ["tags", "json"])
def test_clean_path_equals_full_path_on_the_benchmark_corpus(dialect):
    config = gr.RewardConfig(dialect=dialect)
    clean = 0
    for sample in _corpus():
        gt = {
            "answer": sample.answer,
            "gt_boxes": sample.gt_boxes,
            "gt_labels": sample.gt_labels,
            "choices": sample.choices,
            "image_size": sample.image_size,
        }
        text = sample.completion if dialect == "tags" else sample.json_completion
        _check(text, gt, config)
        truth = parse_ground_truth(**gt)
        clean += clean_scores(text, truth, config, True) is not None
    assert clean >= 540  # the clean path is the common one, so the test above is not vacuous


def test_what_the_clean_path_hands_back():
    truth = parse_ground_truth(answer="A", gt_boxes=[[0, 0, 10, 10]], image_size=(20, 20))
    good = "<think><obj>a</obj><bbox>[0, 0, 10, 10]</bbox></think><answer>A</answer>"
    assert clean_scores(good, truth, gr.DEFAULT_CONFIG, True)[2:4] == (1.0, ())
    plural = good.replace("[0, 0, 10, 10]", "[[0, 0, 10, 10], [0, 0, 5, 5]]")
    assert clean_scores(plural, truth, gr.DEFAULT_CONFIG, True)[1] == 2
    # format issues the clean path reports itself, at the full path's offsets
    outside = good.replace("[0, 0, 10, 10]", "[0, 0, 30, 10]")
    assert [i.code for i in clean_scores(outside, truth, gr.DEFAULT_CONFIG, True)[3]] == [
        "box_out_of_image"
    ]
    no_box = "<think>no box</think><answer>A</answer>"
    assert clean_scores(no_box, truth, gr.DEFAULT_CONFIG, True)[3][0].code == "too_few_spans"
    for text in (
        good.replace("<obj>a</obj>", "<obj> </obj>"),  # empty label
        good.replace("[0, 0, 10, 10]", "[[0, 0, 10, 10], [0, 0, 1]]"),  # an unreadable box
        good.replace("[0, 0, 10, 10]", "[10, 0, 0, 10]"),  # degenerate
        good.replace("</think>", "x < y</think>"),  # a stray "<"
        good.replace(">A<", "> <"),  # empty answer
        "Sure. " + good,
    ):
        assert clean_scores(text, truth, gr.DEFAULT_CONFIG, True) is None, text
    assert fused_weights(gr.RewardConfig(dialect="qwen2-tokens")) is None


def test_batch_checks_its_columns_and_names_the_bad_item():
    with pytest.raises(gr.InputError, match="answers: expected 2 values"):
        grounding_reward_batch(["a", "b"], answers=["A"])
    with pytest.raises(gr.GroundTruthError, match="item 1: gt_boxes"):
        grounding_reward_batch(["a", "b"], gt_boxes=[[[0, 0, 1, 1]], [[5, 5, 1, 1]]])


def test_a_built_in_registered_again_is_seen_at_once():
    from grounding_rewards.components import _REGISTRY, register_component
    from grounding_rewards.dialects.registry import get_dialect, register_dialect

    text = "<think><obj>a</obj><bbox>[0, 0, 10, 10]</bbox></think><answer>A</answer>"
    gt = {"answer": "A", "gt_boxes": [[0, 0, 10, 10]]}
    assert gr.grounding_reward(text, **gt).bbox == 1.0  # fused and cached
    bbox = _REGISTRY["bbox"]
    try:
        register_component(
            "bbox", lambda trace, truth, config: 0.25, reads=bbox.reads, replace=True
        )
        assert gr.grounding_reward(text, **gt).scores["bbox"] == 0.25
    finally:
        register_component(
            "bbox",
            bbox.scorer,
            reads=bbox.reads,
            value_range=bbox.value_range,
            default_weight=bbox.default_weight,
            reward_name=bbox.reward_name,
            description=bbox.description,
            replace=True,
        )
    assert gr.grounding_reward(text, **gt).bbox == 1.0
    json = gr.RewardConfig(dialect="json")
    json_text = '<think>{"bbox_2d": [0, 0, 10, 10], "label": "a"}</think><answer>A</answer>'
    assert gr.bbox_reward(json_text, gt["gt_boxes"], config=json) == 1.0
    builtin = get_dialect("json")
    try:
        register_dialect("json", lambda text, config: gr.dialects.Reading(), replace=True)
        assert gr.bbox_reward(json_text, gt["gt_boxes"], config=json) == 0.0
    finally:
        register_dialect(
            "json",
            builtin.reader,
            renderer=builtin.renderer,
            coords=builtin.coords,
            writes=builtin.writes,
            description=builtin.description,
            replace=True,
        )
    assert gr.bbox_reward(json_text, gt["gt_boxes"], config=json) == 1.0
