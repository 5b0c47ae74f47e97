"""The audit finds the holes in the naive designs, none in ours, and says why."""

import functools
import itertools
import math
import time

import pytest

import grounding_rewards as gr
from grounding_rewards import trl as gr_trl
from grounding_rewards import verl as gr_verl
from grounding_rewards.audit import (
    EXPLOITS,
    SCENARIOS,
    AuditError,
    AuditOptions,
    AuditSettings,
    TraceWriter,
    audit,
    make_adapter,
    naive,
    run_audit,
)
from grounding_rewards.audit.scenarios import box_iou_1

FAST = {"fuzz": 30}


def failures(report):
    return {c.name: c.verdict for c in report.failures}


def check(report, name):
    return next(c for c in report.checks if c.name == name)


# -- the honest side is genuinely good ---------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_honest_completions_are_genuinely_good(scenario):
    writer = TraceWriter(scenario)
    gt = scenario.ground_truth()
    assert gr.grounding_reward(writer.perfect(), **gt).total == 3.0
    honest = gr.grounding_reward(writer.honest(), **gt)
    assert (honest.format, honest.accuracy) == (1.0, 1.0)
    assert 0.65 <= honest.bbox <= 0.8  # roughly right: room for a trick to gain
    wrong = gr.grounding_reward(writer.honest(answer=scenario.wrong_answer), **gt)
    assert (wrong.format, wrong.accuracy, wrong.bbox) == (1.0, 0.0, honest.bbox)
    far = gr.grounding_reward(writer.far(), **gt)
    assert (far.format, far.bbox) == (1.0, 0.0)
    for box in writer.far_boxes():
        assert all(box_iou_1(box, g) == 0.0 for g in scenario.boxes)


def test_scenarios_leave_no_room_for_a_whole_image_box_to_be_right():
    for scenario in SCENARIOS:
        width, height = scenario.image_size
        for box in scenario.boxes:
            assert box_iou_1(box, (0, 0, width, height)) < 0.2


@pytest.mark.parametrize("space", ["pixel", "norm1000", "norm1", "qwen25vl"])
def test_honest_boxes_are_written_in_the_expected_space(space):
    settings = AuditSettings(coords=space, max_pixels=256 * 28 * 28)
    config = gr.RewardConfig(coords=space, max_pixels=256 * 28 * 28)
    for scenario in SCENARIOS:
        text = TraceWriter(scenario, settings).perfect()
        r = gr.grounding_reward(text, **scenario.ground_truth(), config=config)
        assert r.total == pytest.approx(3.0, abs=0.03)  # integer rounding in the space


def test_every_exploit_has_variants_for_every_scenario():
    import random

    for exploit in EXPLOITS:
        writers = [TraceWriter(s) for s in SCENARIOS]
        if exploit.first_scenario_only:
            writers = writers[:1]
        for w in writers:
            variants = exploit.build(w, random.Random(0))
            assert variants, (exploit.name, w.scenario.name)
            assert len({v.name for v in variants}) == len(variants)


def test_megabyte_variants_are_a_megabyte():
    import random

    exploit = next(e for e in EXPLOITS if e.name == "megabyte_completion")
    variants = exploit.build(TraceWriter(SCENARIOS[0]), random.Random(0))
    assert all(len(v.completion) >= 1_000_000 for v in variants)


def test_outside_reasoning_check_does_not_apply_when_boxes_count_anywhere():
    config = gr.RewardConfig(box_region="anywhere")
    report = audit(gr.grounding_reward, config=config, **FAST)
    assert report.passed
    assert check(report, "boxes_outside_region").verdict == "n/a"


# -- ours pass ---------------------------------------------------------------------

_TRL = gr_trl.reward_funcs()
CASES = [
    ("plain", gr.grounding_reward, ("format", "accuracy", "bbox")),
    ("plain", gr.format_reward, ("format",)),
    ("plain", gr.option_reward, ("accuracy",)),
    ("plain", gr.bbox_reward, ("bbox",)),
    ("trl", _TRL[0], ("format",)),
    ("trl", _TRL[1], ("accuracy",)),
    ("trl", _TRL[2], ("bbox",)),
    ("trl", gr_trl.composite_reward_func(), ("format", "accuracy", "bbox")),
    ("verl", gr_verl.compute_score, ("format", "accuracy", "bbox")),
]


@pytest.mark.parametrize(
    ("contract", "fn", "components"), CASES, ids=[f"{c}-{f.__name__}" for c, f, _ in CASES]
)
def test_our_rewards_pass_every_check(contract, fn, components):
    report = audit(fn, contract=contract, components=components, **FAST)
    assert report.passed, report.table()
    assert not any(c.verdict == "n/a" for c in report.checks if c.name != "batch_consistency")
    assert all(c.gain is None or c.gain <= 1e-6 for c in report.checks)


@pytest.mark.parametrize(
    "config",
    [
        gr.RewardConfig(coords="norm1000"),
        gr.RewardConfig(coords="norm1"),
        gr.RewardConfig(coords="qwen25vl", max_pixels=256 * 28 * 28),
        gr.RewardConfig(similarity="giou", format_mode="graded"),
        gr.RewardConfig(similarity="ciou", label_matching="exact", length_penalty=2.0),
        gr.RewardConfig(think_tag="reasoning", answer_tag="final", obj_tag="ref", bbox_tag="box"),
    ],
    ids=["norm1000", "norm1", "qwen25vl-small", "giou-graded", "ciou-exact-alpha2", "custom-tags"],
)
def test_our_reward_passes_under_other_configurations(config):
    report = audit(gr.grounding_reward, config=config, **FAST)
    assert report.passed, report.table()


def test_verl_reward_with_configuration_in_reward_kwargs():
    report = audit(
        gr_verl.compute_score,
        contract="verl",
        settings=AuditSettings(coords="norm1000"),
        reward_kwargs={"coords": "norm1000"},
        **FAST,
    )
    assert report.passed, report.table()


def test_a_weak_length_penalty_is_reported_as_unbounded_spam():
    report = audit(gr.grounding_reward, config=gr.RewardConfig(length_penalty=0.5), **FAST)
    assert failures(report) == {"spam_bound": "BROKEN"}
    spam = check(report, "spam_bound")
    assert spam.gain > 0.1 and spam.exploit > spam.honest


# -- the naive designs are caught ----------------------------------------------------

NAIVE = {
    "first_box_iou": (
        ("bbox",),
        {
            "whole_image_box": "NOT PENALIZED",
            "repeated_box": "NOT PENALIZED",
            "random_boxes": "NOT PENALIZED",
            "degenerate_boxes": "NOT PENALIZED",
            "nonfinite_coords": "NOT PENALIZED",
            "boxes_outside_region": "GAINS",
            "span_order": "BROKEN",
            "ground_truth_order": "BROKEN",
            "spam_bound": "BROKEN",
        },
    ),
    "max_iou_precision": (
        ("bbox",),
        {"repeated_box": "GAINS", "boxes_outside_region": "GAINS", "spam_bound": "BROKEN"},
    ),
    "max_iou_recall": (
        ("bbox",),
        {
            "whole_image_box": "NOT PENALIZED",
            "repeated_box": "NOT PENALIZED",
            "random_boxes": "NOT PENALIZED",
            "degenerate_boxes": "NOT PENALIZED",
            "nonfinite_coords": "NOT PENALIZED",
            "boxes_outside_region": "GAINS",
            "spam_bound": "BROKEN",
        },
    ),
    "substring_answer": (
        ("accuracy",),
        {"empty_answer": "GAINS", "every_option": "GAINS", "answer_in_prompt": "GAINS"},
    ),
    "lenient_format": (
        ("format",),
        {
            name: "NOT PENALIZED"
            for name in (
                "degenerate_boxes",
                "nonfinite_coords",
                "huge_coords",
                "boxes_outside_region",
                "nested_tags",
                "unclosed_tags",
                "miscased_tags",
                "broken_template",
            )
        },
    ),
    "prompt_answer": (("accuracy",), {"answer_in_prompt": "GAINS"}),
}


@pytest.mark.parametrize("name", sorted(NAIVE))
def test_the_audit_finds_the_holes_of_each_naive_design(name):
    components, expected = NAIVE[name]
    report = audit(getattr(naive, name), components=components, **FAST)
    assert failures(report) == expected, report.table()
    for row in report.checks:
        if row.verdict == "GAINS":
            assert row.gain > 1e-6 and row.exploit > row.honest


def test_gains_of_the_naive_designs_are_the_expected_amounts():
    sub = audit(naive.substring_answer, components=["accuracy"], **FAST)
    assert check(sub, "empty_answer").gain == 1.0  # "" is in every string: 1 vs 0
    mip = audit(naive.max_iou_precision, components=["bbox"], **FAST)
    repeated = check(mip, "repeated_box")
    # best honest box (IoU 0.774) repeated vs the honest mean (0.774 + 0.656 + 0.677) / 3
    assert repeated.scenario == "three-objects"
    assert repeated.gain == pytest.approx(0.0718, abs=1e-3)
    fb = audit(naive.first_box_iou, components=["bbox"], **FAST)
    spam = check(fb, "spam_bound")
    assert spam.exploit == 1.0 and spam.honest <= 0.5


def test_max_iou_recall_pays_for_sprayed_guesses():
    truth = [[20, 20, 48, 48]]
    one = "<think><obj>a</obj><bbox>[34, 20, 62, 48]</bbox></think><answer>A</answer>"
    spray = one.replace(
        "</think>", "<bbox>[6, 20, 34, 48]</bbox><bbox>[20, 20, 48, 48]</bbox></think>"
    )
    assert naive.max_iou_recall(one, gt_boxes=truth) == pytest.approx(1 / 3)
    assert naive.max_iou_recall(spray, gt_boxes=truth) == 1.0  # a guess hit: the misses cost 0
    assert naive.max_iou_recall(spray, gt_boxes=truth) > naive.max_iou_precision(
        spray, gt_boxes=truth
    )
    assert naive.max_iou_recall("<answer>A</answer>", gt_boxes=truth) == 0.0


def test_naive_designs_with_all_components_claimed_fail_more():
    narrow = audit(naive.max_iou_precision, components=["bbox"], **FAST)
    broad = audit(naive.max_iou_precision, **FAST)
    assert set(failures(narrow)) < set(failures(broad))
    assert failures(broad)["responds_to_answer"] == "NO SIGNAL"


# -- each verdict, from small hand-made rewards -------------------------------------


def test_a_reward_that_crashes_on_nan_is_reported_as_crash():
    def fragile(completion, gt_boxes, image_size):
        if "nan" in completion.lower():
            raise ValueError("cannot convert NaN")
        return gr.bbox_reward(completion, gt_boxes, image_size=image_size)

    report = audit(fragile, components=["bbox"], **FAST)
    row = check(report, "nonfinite_coords")
    assert row.verdict == "CRASH"
    assert "ValueError: cannot convert NaN" in row.details["error"]
    assert not report.passed


def test_a_nan_reward_breaks_finiteness():
    def nan_on_overflow(completion, gt_boxes):
        return math.nan if "1e309" in completion else gr.bbox_reward(completion, gt_boxes)

    report = audit(nan_on_overflow, components=["bbox"], **FAST)
    assert check(report, "finite_and_in_range").verdict == "BROKEN"
    assert math.isnan(check(report, "finite_and_in_range").exploit)
    assert check(report, "nonfinite_coords").verdict == "BROKEN"


def test_a_reward_above_its_range_is_reported():
    def generous(completion, **gt):
        return 5.0 if completion.startswith("<") and "</answer>" not in completion else 1.0

    report = audit(generous, components=["format"], reward_range=(0.0, 1.0), **FAST)
    assert check(report, "finite_and_in_range").verdict == "BROKEN"
    assert check(report, "finite_and_in_range").exploit == 5.0
    # The template is not rewarded over untagged words (NO SIGNAL), so the format
    # exploits' comparisons are vacuous: reported as skipped, not failed.
    assert check(report, "responds_to_format").verdict == "NO SIGNAL"
    row = check(report, "broken_template")
    assert row.verdict == "SKIPPED" and row.details["would_be"] == "GAINS"


def test_a_nondeterministic_reward_is_reported():
    counter = itertools.count()

    def flaky(completion, gt_boxes):
        return gr.bbox_reward(completion, gt_boxes) + 1e-3 * (next(counter) % 2)

    report = audit(flaky, components=["bbox"], reward_range=(0, 2), **FAST)
    assert check(report, "deterministic").verdict == "BROKEN"


def test_a_trl_reward_reading_only_the_first_row_breaks_batch_consistency():
    def first_row_only(prompts, completions, gt_boxes, **kwargs):
        return [gr.bbox_reward(c, gt_boxes[0]) for c in completions]

    report = audit(first_row_only, contract="trl", components=["bbox"], **FAST)
    assert failures(report) == {"batch_consistency": "BROKEN"}


def test_a_slow_reward_is_reported():
    def slow_on_long(completion, gt_boxes):
        if len(completion) > 500_000:
            time.sleep(0.05)
        return gr.bbox_reward(completion, gt_boxes)

    report = audit(slow_on_long, components=["bbox"], time_limit=0.02, **FAST)
    row = check(report, "megabyte_completion")
    assert row.verdict == "SLOW" and row.details["slowest_seconds"] >= 0.05


def test_a_reward_that_never_scores_gives_no_signal():
    def abstains(completion, **gt):
        return None

    report = audit(abstains, **FAST)
    assert {
        check(report, n).verdict
        for n in ("responds_to_boxes", "responds_to_answer", "responds_to_format")
    } == {"NO SIGNAL"}
    assert check(report, "whole_image_box").verdict == "n/a"
    assert check(report, "finite_and_in_range").verdict == "n/a"


def test_a_coordinate_space_mismatch_shows_as_no_signal():
    # The reward reads pixels; the audit is told it expects 0-1000.
    report = audit(
        gr.bbox_reward, components=["bbox"], settings=AuditSettings(coords="norm1000"), **FAST
    )
    assert check(report, "responds_to_boxes").verdict == "NO SIGNAL"
    # Told the truth, it passes.
    norm1000 = functools.partial(gr.bbox_reward, config=gr.RewardConfig(coords="norm1000"))
    fixed = audit(norm1000, components=["bbox"], settings=AuditSettings(coords="norm1000"), **FAST)
    assert fixed.passed, fixed.table()


def test_tolerance_absorbs_tiny_gains():
    def nudged(completion, gt_boxes):
        value = gr.bbox_reward(completion, gt_boxes)
        return value + (1e-9 if completion.count("<bbox>") > 3 else 0.0)

    strict = audit(nudged, components=["bbox"], tolerance=0.0, **FAST)
    lenient = audit(nudged, components=["bbox"], tolerance=1e-6, **FAST)
    assert not strict.passed
    assert lenient.passed, lenient.table()


def test_run_audit_rejects_contract_mismatch_and_bad_options():
    with pytest.raises(AuditError, match="fails on every honest completion"):
        run_audit(make_adapter(gr.bbox_reward, "trl"))
    with pytest.raises(AuditError, match="expected components"):
        run_audit(make_adapter(gr.bbox_reward), AuditOptions(components=frozenset({"boxes"})))
    with pytest.raises(AuditError, match="box-region"):
        run_audit(
            make_adapter(gr.bbox_reward), AuditOptions(settings=AuditSettings(box_region="inside"))
        )
    with pytest.raises(AuditError, match="writes points"):
        run_audit(
            make_adapter(gr.bbox_reward), AuditOptions(settings=AuditSettings(dialect="molmo"))
        )


def test_the_report_is_reproducible_for_a_seed():
    a = audit(naive.max_iou_precision, components=["bbox"], seed=3, fuzz=40)
    b = audit(naive.max_iou_precision, components=["bbox"], seed=3, fuzz=40)
    assert a.to_dict() == {**b.to_dict(), "checks": a.to_dict()["checks"]}
    assert [c.exploit for c in a.checks] == [c.exploit for c in b.checks]
