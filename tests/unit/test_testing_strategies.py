"""The hypothesis strategies of grounding_rewards.testing generate what they promise."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import grounding_rewards as gr
from grounding_rewards.testing import (
    MALFORMATIONS,
    adversarial_completions,
    boxes,
    completions,
    coord_spaces,
    degenerate_boxes,
    ground_truths,
    grounded_spans,
    grounded_traces,
    image_sizes,
    labels,
    malformed_traces,
    out_of_bounds_boxes,
    perfect_completions,
    register_profiles,
    render_completion,
    reward_configs,
    space_extent,
    valid_boxes,
    well_formed_completions,
)

ROOT = Path(__file__).resolve().parents[2]
FEW = settings(max_examples=40, deadline=None)


@FEW
@given(image_sizes())
def test_image_sizes_respect_bounds_and_aspect_ratio(size):
    width, height = size
    assert 16 <= width <= 4096 and 16 <= height <= 4096
    assert max(width, height) / min(width, height) <= 50


def test_image_sizes_rejects_bad_bounds():
    with pytest.raises(ValueError, match="min_side <= max_side"):
        image_sizes(10, 5)


@FEW
@given(image_sizes(), coord_spaces(), st.data())
def test_valid_boxes_are_valid_and_inside_the_space(size, space, data):
    box = data.draw(valid_boxes(size, space))
    width, height = space_extent(space, size)
    assert 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height
    if space in ("norm1000", "qwen25vl"):
        assert all(float(v).is_integer() for v in box)
    # The library reads them as valid, inside the image, in that space.
    text = render_completion([("x", box)], "A")
    config = gr.RewardConfig(coords=space)
    assert gr.format_reward(text, image_size=size, config=config) == 1.0


@FEW
@given(valid_boxes((640, 480), "pixel", min_size=50.0))
def test_valid_boxes_min_size(box):
    assert box[2] - box[0] >= 50 and box[3] - box[1] >= 50


@FEW
@given(degenerate_boxes((640, 480)))
def test_degenerate_boxes_are_invalid_or_absurdly_large(box):
    finite_ordered = all(math.isfinite(v) for v in box) and box[0] < box[2] and box[1] < box[3]
    if finite_ordered:
        assert max(abs(v) for v in box) >= 1e30
    else:
        span = gr.parse_trace(render_completion([("x", box)], "A")).spans[0]
        assert not span.valid


@FEW
@given(out_of_bounds_boxes((640, 480)))
def test_out_of_bounds_boxes_fail_the_inside_the_image_check(box):
    assert box[0] < box[2] and box[1] < box[3]
    text = render_completion([("x", box)], "A")
    result = gr.rewards.check_format(text, image_size=(640, 480))
    assert ("boxes_in_image", False) in result.checks


def test_boxes_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="expected kinds"):
        boxes((10, 10), kinds=("valid", "weird"))


@FEW
@given(boxes((100, 50), kinds=("valid",)))
def test_boxes_with_one_kind(box):
    assert 0 <= box[0] < box[2] <= 100


@FEW
@given(labels())
def test_clean_labels_are_stripped_words_without_tags(label):
    assert label and label == label.strip() and "<" not in label and ">" not in label


def _collect(strategy, n=200):
    """Draw n examples deterministically (a derandomized run), without shrinking."""
    seen = []

    @settings(max_examples=n, deadline=None, derandomize=True, database=None)
    @given(strategy)
    def collect(value):
        seen.append(value)

    collect()
    return seen


def test_adversarial_labels_include_empty_and_tag_text():
    drawn = _collect(labels(adversarial=True))
    assert "" in drawn
    assert any("<" in label for label in drawn)


@FEW
@given(grounded_spans((320, 240), "norm1", min_size=2, max_size=4))
def test_grounded_spans_sizes_and_space(spans):
    assert 2 <= len(spans) <= 4
    assert all(0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1 for _, b in spans)


@FEW
@given(grounded_traces(space=None, min_spans=0, max_spans=3))
def test_grounded_traces_are_clean_and_carry_their_parts(trace):
    parsed = gr.parse_trace(trace.text)
    assert [i.code for i in parsed.issues] == []
    assert parsed.answer == trace.answer
    assert len(parsed.spans) == len(trace.spans) <= 3


@FEW
@given(well_formed_completions((64, 64)))
def test_well_formed_completions_pass_strict_format(text):
    assert gr.format_reward(text, image_size=(64, 64)) == 1.0


@FEW
@given(ground_truths(max_objects=4))
def test_ground_truths_are_accepted_by_the_library(gt):
    truth = gr.parse_ground_truth(**gt)
    assert truth.answer == gt["answer"]
    assert len(truth.boxes) == len(gt["gt_labels"]) == len(gt["gt_boxes"])
    assert gt["answer"] in "ABCDEF"[: len(gt["choices"])]
    width, height = gt["image_size"]
    assert all(0 <= b[0] < b[2] <= width and 0 <= b[1] < b[3] <= height for b in gt["gt_boxes"])
    assert all(b[2] - b[0] >= 1 and b[3] - b[1] >= 1 for b in gt["gt_boxes"])


def test_ground_truths_with_a_fixed_image_size():
    drawn = _collect(ground_truths((300, 200), min_objects=2, max_objects=2), n=20)
    assert all(gt["image_size"] == (300, 200) and len(gt["gt_boxes"]) == 2 for gt in drawn)


@FEW
@given(
    ground_truths(max_objects=3).flatmap(
        lambda gt: st.tuples(st.just(gt), perfect_completions(gt, "qwen25vl"))
    )
)
def test_perfect_completions_score_full_marks(case):
    gt, text = case
    r = gr.grounding_reward(text, **gt, config=gr.RewardConfig(coords="qwen25vl"))
    assert r.total == pytest.approx(3.0, abs=1e-9)


def test_malformations_name_real_issue_codes():
    assert set(MALFORMATIONS.values()) <= set(gr.ISSUE_CODES)


@settings(max_examples=100, deadline=None)
@given(malformed_traces())
def test_malformed_traces_each_carry_their_issue(case):
    text, code = case
    assert gr.parse_trace(text).has_issue(code)


@pytest.mark.parametrize("defect", sorted(MALFORMATIONS))
def test_every_malformation_causes_its_issue_and_fails_strict_format(defect):
    from grounding_rewards.testing import GeneratedTrace, _malform

    spans = (("dog", (1.0, 2.0, 30.0, 40.0)), ("cat", (5.0, 5.0, 9.0, 9.5)))
    trace = GeneratedTrace(render_completion(spans, "B"), spans, "B")
    text = _malform(trace, defect, gr.DEFAULT_CONFIG)
    assert gr.parse_trace(text).has_issue(MALFORMATIONS[defect]), text
    assert gr.format_reward(text) == 0.0


def test_adversarial_completions_reach_a_megabyte_nest_deep_and_hold_nonfinite_numbers():
    drawn = _collect(adversarial_completions(), n=300)
    assert max(len(text) for text in drawn) >= 200_000
    assert max(text.count("<think>") for text in drawn) >= 50
    assert any("nan" in text.lower() for text in drawn)
    assert any("1e309" in text or "9" * 400 in text for text in drawn)


@settings(max_examples=60, deadline=None)
@given(completions(config=gr.RewardConfig(think_tag="why", answer_tag="so")))
def test_completions_are_strings(text):
    assert isinstance(text, str)


@FEW
@given(reward_configs())
def test_reward_configs_are_valid_and_keep_alpha_at_least_one(config):
    assert isinstance(config, gr.RewardConfig)
    assert 1.0 <= config.length_penalty <= 3.0


def test_render_completion_checks_prose_length():
    with pytest.raises(ValueError, match="expected 2 prose pieces"):
        render_completion([("x", (0, 0, 1, 1))], "A", prose=["only one"])


def test_render_completion_default_prose_and_custom_tags():
    config = gr.RewardConfig(think_tag="why", answer_tag="so", obj_tag="o", bbox_tag="b")
    text = render_completion([("cat", (1, 2, 3, 4))], "B", config=config)
    assert text == "<why>I see <o>cat</o><b>[1, 2, 3, 4]</b> .</why>\n<so>B</so>"
    assert gr.parse_trace(text, config=config).issues == ()


def test_register_profiles(monkeypatch):
    register_profiles(load=False)
    assert settings.get_profile("ci").max_examples == 200
    assert settings.get_profile("ci").derandomize is True
    assert settings.get_profile("dev").max_examples == 50
    assert settings.get_profile("thorough").max_examples == 2000
    previous = os.environ.get("HYPOTHESIS_PROFILE")
    try:
        monkeypatch.setenv("HYPOTHESIS_PROFILE", "dev")
        register_profiles()
        assert settings().max_examples == 50
        monkeypatch.setenv("HYPOTHESIS_PROFILE", "nope")
        with pytest.raises(ValueError, match="expected ci, dev or thorough"):
            register_profiles()
    finally:
        monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
        if previous is not None:
            monkeypatch.setenv("HYPOTHESIS_PROFILE", previous)
        register_profiles(default="ci")  # what tests/property/conftest.py loads


def _run(code):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )


def test_importing_the_library_never_imports_hypothesis():
    result = _run(
        "import sys, grounding_rewards, grounding_rewards.audit, grounding_rewards.cli.audit\n"
        "assert 'hypothesis' not in sys.modules, 'hypothesis was imported'\n"
    )
    assert result.returncode == 0, result.stderr


def test_testing_module_names_the_extra_when_hypothesis_is_missing():
    result = _run(
        "import sys\nsys.modules['hypothesis'] = None\n"
        "from grounding_rewards.errors import MissingDependencyError\n"
        "try:\n    import grounding_rewards.testing\n"
        "except MissingDependencyError as e:\n    print(e)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "grounding-rewards[testing]" in result.stdout


@pytest.mark.parametrize(
    ("u", "v", "extent", "min_size"),
    [
        (1e-13, 0.0, 1000.0, 1.0),
        (5e-324, 0.0, 4096.0, 1.0),
        (1.0, 1.0, 16.0, 16.0),
        (1.0 - 1e-16, 0.0, 1.0, 0.0),
        (0.0, 1e-300, 640.0, 50.0),
    ],
)
def test_box_sides_are_valid_at_the_edges_of_the_unit_draws(u, v, extent, min_size):
    # Regression: rounding repair once stepped by ulp(a) and hung for tiny a.
    from grounding_rewards.testing import _side

    a, b = _side(u, v, extent, False, min_size)
    assert 0.0 <= a < b <= extent
    assert b - a >= min(max(min_size, extent * 1e-9), extent)
