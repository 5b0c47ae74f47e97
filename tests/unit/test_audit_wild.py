"""The audit points at rewards as the field writes them: every contract, dialect and task.

Each hole seen in public grounding rewards is written here as a small reward that has
it; the audit must flag it, and our reward (in every dialect) must pass.
"""

import json
import math
import re
import sys
import types

import pytest
import torch

import grounding_rewards as gr
from grounding_rewards.audit import audit
from grounding_rewards.dialects import dialects

FAST = {"fuzz": 10}
_JSON_BOX = re.compile(r'"bbox_2d":\s*\[([^\]]*)\]')
_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")


def check(report, name):
    return next(c for c in report.checks if c.name == name)


def failures(report):
    return {c.name: c.verdict for c in report.failures}


def iou(a, b):
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
        0.0, min(a[3], b[3]) - max(a[1], b[1])
    )
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def first_json_box(text):
    match = _JSON_BOX.search(text)
    if match is None:
        return None
    values = [float(v) for v in match.group(1).split(",")]
    return values if len(values) == 4 else None


def solution_box(solution):
    return [float(v) for v in _NUMBERS.findall(solution)][:4]


def rec_reward(completion, solution):
    """A correct single-target REC reward: IoU of the first JSON box in the answer."""
    answer = re.search(r"<answer>(.*?)</answer>", completion, re.DOTALL)
    if answer is None:
        return 0.0
    try:
        box = first_json_box(answer.group(1))
    except ValueError:
        return 0.0
    if box is None or not all(math.isfinite(v) for v in box):
        return 0.0
    if box[2] <= box[0] or box[3] <= box[1]:
        return 0.0
    return iou(box, solution_box(solution))


REC = {
    "task": "rec",
    "components": ["bbox"],
    "settings": None,
    "solution_format": "answer-box",
}


def rec_settings(**changes):
    from grounding_rewards.audit import AuditSettings

    return AuditSettings(**{"dialect": "json", "box_region": "answer", **changes})


# -- contracts of the field ---------------------------------------------------------


def test_a_correct_rec_reward_passes_with_task_rec():
    report = audit(
        rec_reward,
        task="rec",
        components=["bbox"],
        settings=rec_settings(),
        solution_format="answer-box",
        **FAST,
    )
    assert report.passed, report.table()
    assert "span_order" in {c.name for c in report.checks}
    assert check(report, "span_order").verdict == "n/a"  # one target: nothing to permute


def test_positional_and_batch_plain_functions_are_detected():
    def positional(predict, ground_truth):
        return rec_reward(predict, ground_truth)

    def batch(predicts, ground_truths):
        return [rec_reward(p, g) for p, g in zip(predicts, ground_truths, strict=True)]

    for fn in (positional, batch):
        report = audit(
            fn,
            task="rec",
            components=["bbox"],
            settings=rec_settings(),
            solution_format="answer-box",
            **FAST,
        )
        assert report.passed, (fn.__name__, report.table())
    assert check(report, "batch_consistency").verdict == "ok"


def test_trl_reward_with_a_solution_column():
    def accuracy_reward(completions, solution, **kwargs):
        assert "trainer_state" in kwargs
        return [rec_reward(c, s) for c, s in zip(completions, solution, strict=True)]

    report = audit(
        accuracy_reward,
        contract="trl",
        task="rec",
        components=["bbox"],
        settings=rec_settings(),
        solution_format="answer-box",
        **FAST,
    )
    assert report.passed, report.table()


def test_verl_passes_exactly_verls_arguments():
    seen = {}

    def compute_score(data_source, solution_str, ground_truth, extra_info=None, scale=1.0):
        seen.update(data_source=data_source, keys=sorted(extra_info), scale=scale)
        return {"score": scale * rec_reward(solution_str, ground_truth), "acc": 1.0}

    report = audit(
        compute_score,
        contract="verl",
        task="rec",
        components=["bbox"],
        settings=rec_settings(),
        solution_format="answer-box",
        reward_kwargs={"scale": 1.0},
        **FAST,
    )
    assert report.passed, report.table()
    assert seen["data_source"] == "grounding" and "image_size" in seen["keys"]


def _easyr1_module(reward_type):
    module = types.ModuleType(f"_easyr1_user_{reward_type}")
    module.REWARD_TYPE = reward_type
    code = (
        "def compute_score(reward_inputs):\n"
        "    return [{'overall': rec(x['response'], x['ground_truth']), 'iou': 0.0}\n"
        "            for x in reward_inputs]\n"
        if reward_type == "batch"
        else "def compute_score(reward_input):\n"
        "    return {'overall': rec(reward_input['response'], reward_input['ground_truth'])}\n"
    )
    module.rec = rec_reward
    exec(code, module.__dict__)
    sys.modules[module.__name__] = module
    return module.compute_score


@pytest.mark.parametrize("reward_type", ["batch", "sequential"])
def test_easyr1_batch_and_sequential_told_apart_by_reward_type(reward_type):
    fn = _easyr1_module(reward_type)
    report = audit(
        fn,
        contract="easyr1",
        task="rec",
        components=["bbox"],
        settings=rec_settings(),
        solution_format="answer-box",
        **FAST,
    )
    assert report.passed, report.table()
    assert ("batch_consistency" in {c.name for c in report.checks}) == (reward_type == "batch")


def test_swift_orm_class_and_openrlhf_tensors():
    class BoxORM:
        def __init__(self, args=None):
            self.args = args

        def __call__(self, completions, solution, **kwargs):
            assert "messages" in kwargs and "trainer_state" in kwargs
            return [rec_reward(c, s) for c, s in zip(completions, solution, strict=True)]

    report = audit(
        BoxORM,
        contract="swift",
        task="rec",
        components=["bbox"],
        settings=rec_settings(),
        solution_format="answer-box",
        **FAST,
    )
    assert report.passed, report.table()

    def reward_func(queries, prompts, labels):
        responses = [
            q[len(p) :].removesuffix("<|im_end|>") for q, p in zip(queries, prompts, strict=True)
        ]
        values = [rec_reward(r, s) for r, s in zip(responses, labels, strict=True)]
        return {"rewards": torch.tensor(values), "scores": torch.tensor(values)}

    report = audit(
        reward_func,
        contract="openrlhf",
        task="rec",
        components=["bbox"],
        settings=rec_settings(),
        solution_format="answer-box",
        **FAST,
    )
    assert report.passed, report.table()


def test_our_trainer_adapters_pass_under_their_contracts():
    from grounding_rewards import easyr1, openrlhf, swift

    for fn, contract in (
        (easyr1.compute_score, "easyr1"),
        (openrlhf.reward_func, "openrlhf"),
        (swift.GroundingORM, "swift"),
    ):
        report = audit(fn, contract=contract, **FAST)
        assert report.passed, (contract, report.table())


# -- ours, in every dialect and task ------------------------------------------------


def _cases():
    for d in dialects():
        for task in ("grounded-qa", "rec", "detection", "points"):
            geometry = "points" if task == "points" else "boxes"
            if d.renderer is not None and geometry in d.writes:
                yield d.name, d.coords if d.name != "tags" else "pixel", task


@pytest.mark.parametrize(("dialect", "coords", "task"), list(_cases()))
def test_ours_passes_the_whole_battery_in_every_dialect(dialect, coords, task):
    region = "answer" if task in ("rec", "detection") else "think"
    fields = {"dialect": dialect, "coords": coords, "box_region": region}
    if task == "points":
        fields["weights"] = {"point": 1.0, "bbox": 0.0}
    config = gr.RewardConfig(**fields)
    report = audit(gr.grounding_reward, config=config, task=task, **FAST)
    assert report.passed, report.table()


def test_point_reward_is_audited_through_the_registry():
    report = audit(gr.point_reward, task="points", components=["point"], **FAST)
    assert report.passed, report.table()
    names = {c.name for c in report.checks}
    assert {"responds_to_points", "point_spam", "points_outside", "duplicate_points"} <= names


# -- the holes seen in the wild ------------------------------------------------------


def unvalidated_giou(completion, gt_boxes, **_):
    """GIoU of the first tagged box, no corner check (the whole-image inversion pays)."""
    match = re.search(r"<bbox>\[([^\]]*)\]</bbox>", completion)
    if match is None:
        return 0.0
    try:
        a = [float(v) for v in match.group(1).split(",")]
    except ValueError:
        return 0.0
    if len(a) != 4:
        return 0.0
    b = gt_boxes[0]
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
        0.0, min(a[3], b[3]) - max(a[1], b[1])
    )
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    giou = inter / union - (hull - union) / hull
    return (giou + 1) / 2


def test_inverted_whole_image_box_and_one_axis_inversion_are_flagged():
    report = audit(
        unvalidated_giou,
        components=["bbox"],
        task="rec",
        settings=__import__("grounding_rewards.audit", fromlist=["AuditSettings"]).AuditSettings(),
        **FAST,
    )
    assert check(report, "finite_and_in_range").verdict == "BROKEN"
    assert check(report, "whole_image_box").verdict == "GAINS"
    # a one-axis inversion of the exact box makes the union 0
    assert check(report, "degenerate_boxes").verdict == "CRASH"
    assert "ZeroDivisionError" in check(report, "degenerate_boxes").details["error"]


def test_a_corner_sorting_reward_is_not_reported_as_gaining():
    def sorted_corners(completion, gt_boxes, **_):
        boxes = []
        for content in re.findall(r"<bbox>\[([^\]]*)\]</bbox>", completion):
            try:
                v = [float(x) for x in content.split(",")]
            except ValueError:
                continue
            if len(v) == 4 and all(math.isfinite(x) for x in v):
                x1, x2 = sorted((v[0], v[2]))
                y1, y2 = sorted((v[1], v[3]))
                if x2 > x1 and y2 > y1:
                    boxes.append([x1, y1, x2, y2])
        bbox = gr.bbox_reward(
            "<think>"
            + " ".join(f"<obj>x</obj><bbox>{b}</bbox>" for b in boxes)
            + "</think><answer>A</answer>",
            gt_boxes,
        )
        return bbox or 0.0

    report = audit(sorted_corners, components=["bbox"], **FAST)
    row = check(report, "degenerate_boxes")
    assert row.verdict != "GAINS", report.table()
    assert "inverted" not in row.variant  # (it drops zero-area boxes: not penalized)
    inverted = [c for c in row.details["cases"] if "inverted" in c["variant"]]
    assert len(inverted) == 9 and all(c["reference"] == "perfect" for c in inverted)
    assert all(c["gain"] <= 1e-9 for c in inverted)


def visual_rft_style(completion, answer=None, gt_boxes=None, **_):
    """The answer check runs on the whole text: any ground-truth number pays."""
    numbers = {str(int(v)) for box in gt_boxes for v in box}
    found = _NUMBERS.findall(completion)
    return 1.0 if found and found[-1] in numbers else 0.0


def test_a_completion_that_is_only_a_number_is_flagged():
    report = audit(
        visual_rft_style,
        components=["bbox"],
        task="rec",
        settings=rec_settings(dialect="tags"),
        **FAST,
    )
    assert check(report, "numbers_only").verdict in ("GAINS", "NOT PENALIZED")
    assert check(report, "numbers_only").verdict == "GAINS"


def soft_f1(completion, gt_boxes, **_):
    """Soft F1 without one-to-one matching: duplicates are free."""
    preds = []
    for content in re.findall(r"<bbox>\[([^\]]*)\]</bbox>", completion):
        try:
            v = [float(x) for x in content.split(",")]
        except ValueError:
            continue
        if len(v) == 4 and v[2] > v[0] and v[3] > v[1]:
            preds.append(v)
    if not preds:
        return 0.0
    p = sum(max(iou(a, g) for g in gt_boxes) for a in preds) / len(preds)
    r = sum(max(iou(a, g) for a in preds) for g in gt_boxes) / len(gt_boxes)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def test_duplicates_under_a_soft_f1_are_flagged():
    report = audit(
        soft_f1,
        components=["bbox"],
        task="detection",
        settings=__import__("grounding_rewards.audit", fromlist=["AuditSettings"]).AuditSettings(),
        **FAST,
    )
    assert check(report, "spam_bound").verdict == "BROKEN"
    assert check(report, "repeated_box").verdict == "NOT PENALIZED"


def json_labels_required(completion, gt_boxes, **_):
    """Reads every JSON object's label with no default (UnboundLocalError style)."""
    total = 0.0
    for obj in re.findall(r"\{[^{}]*\}", completion):
        data = json.loads(obj)
        assert isinstance(data["label"], str)
        box = data["bbox_2d"]
        total += iou([float(v) for v in box], gt_boxes[0]) if box[2] > box[0] else 0.0
    return min(1.0, total)


def test_a_json_box_without_a_label_crashing_the_reward_is_flagged():
    report = audit(
        json_labels_required, components=["bbox"], task="detection", settings=rec_settings(), **FAST
    )
    assert check(report, "missing_keys").verdict == "CRASH"


def ap_style(completion, gt_boxes, **_):
    """AP-like: a prediction counts as a miss only when `iou < 0.5` (NaN is not less)."""
    preds = [
        [float(v) for v in content.split(",")]
        for content in re.findall(r"<bbox>\[([^\]]*)\]</bbox>", completion)
        if len(content.split(",")) == 4
        and all(
            _NUMBERS.fullmatch(v.strip()) or v.strip().lower() == "nan" for v in content.split(",")
        )
    ]
    if not preds:
        return 0.0
    hits = 0
    for p in preds:
        best = (
            max(iou(p, g) if p[2] > p[0] else 0.0 for g in gt_boxes)
            if not any(map(math.isnan, p))
            else math.nan
        )
        if not best < 0.5:
            hits += 1
    return hits / max(len(preds), len(gt_boxes))


def test_nan_boxes_against_an_ap_style_reward_are_flagged():
    report = audit(ap_style, components=["bbox"], **FAST)
    assert check(report, "nonfinite_coords").verdict == "GAINS"


def test_box_size_drift_is_flagged_and_the_curve_reported():
    def likes_big_boxes(completion, gt_boxes, **_):
        value = (
            gr.bbox_reward(completion, gt_boxes, config=gr.RewardConfig(similarity="iou")) or 0.0
        )
        boxes = re.findall(r"<bbox>\[([^\]]*)\]</bbox>", completion)
        area = 0.0
        for content in boxes[:1]:
            try:
                v = [float(x) for x in content.split(",")]
                area = (v[2] - v[0]) * (v[3] - v[1])
            except (ValueError, IndexError):
                pass
        g = gt_boxes[0]
        return value * (1.0 + 0.5 * (area > 1.1 * (g[2] - g[0]) * (g[3] - g[1])))

    report = audit(likes_big_boxes, components=["bbox"], reward_range=(0.0, 2.0), **FAST)
    row = check(report, "box_scale")
    assert row.verdict == "BROKEN"
    assert set(row.details["curve"]) >= {"0.5", "1", "2"}


def test_eval_of_model_output_is_unsafe():
    def evaluating(completion, gt_boxes, **_):
        match = re.search(r"<bbox>(.*?)</bbox>", completion)
        if match is None:
            return 0.0
        try:
            box = eval(match.group(1), {"__builtins__": __builtins__})  # the hole
            return (
                gr.bbox_reward(
                    f"<think><obj>x</obj><bbox>{list(box)}</bbox></think><answer>A</answer>",
                    gt_boxes,
                )
                or 0.0
            )
        except Exception:
            return 0.0

    report = audit(evaluating, components=["bbox"], **FAST)
    assert check(report, "eval_injection").verdict == "UNSAFE"
    assert "_grounding_rewards_audit_eval_canary" not in sys.modules


def test_a_constant_reward_is_a_warning_only():
    report = audit(lambda completion, **_: 1.0, components=["format"], **FAST)
    row = check(report, "group_signal")
    assert row.verdict == "WARN" and row.passed
    assert "warning (group_signal)" in report.table()


def test_the_targets_output_goes_to_the_report_not_the_table(capsys):
    def chatty(completion, gt_boxes, **_):
        print("DEBUG iou computed")
        return gr.bbox_reward(completion, gt_boxes)

    report = audit(chatty, components=["bbox"], **FAST)
    assert capsys.readouterr().out == ""
    assert report.output and "DEBUG iou computed" in report.output[0]
    assert "DEBUG" not in report.table() and "printed or warned" in report.table()
    assert "DEBUG iou computed" in report.to_dict()["output"][0]


def test_single_target_rewards_get_no_multi_object_scenarios():
    report = audit(
        rec_reward,
        task="rec",
        components=["bbox"],
        settings=rec_settings(),
        solution_format="answer-box",
        **FAST,
    )
    assert {c.scenario for c in report.checks if c.scenario} <= {
        "rec-dog",
        "rec-helmet",
        "rec-cup-portrait",
    }
    assert check(report, "ground_truth_order").verdict == "n/a"


def test_format_hint_names_the_dialect_the_reward_reads():
    def json_format(completion, **_):
        return 1.0 if re.search(r"<answer>.*\"bbox_2d\".*</answer>", completion, re.DOTALL) else 0.0

    report = audit(json_format, components=["format"], task="rec", **FAST)
    row = check(report, "responds_to_format")
    assert row.verdict == "NO SIGNAL"
    assert "--dialect json" in row.details["hint"]


# -- the gallery falls to what docs/audit.md says -----------------------------------

GALLERY = "grounding_rewards.audit.gallery"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            [
                "rec_iou",
                "--contract",
                "trl",
                "--task",
                "rec",
                "--dialect",
                "json",
                "--coords",
                "pixel",
                "--solution-format",
                "answer-box",
            ],
            {"degenerate_boxes": "CRASH"},
        ),
        (
            [
                "rec_answer_check",
                "--contract",
                "trl",
                "--task",
                "rec",
                "--dialect",
                "bare",
                "--solution-format",
                "answer-box",
            ],
            {"numbers_only": "GAINS"},
        ),
        (
            [
                "giou_reward",
                "--task",
                "rec",
                "--dialect",
                "bare",
                "--solution-format",
                "answer-box",
                "--range",
                "0",
                "2",
            ],
            {"whole_image_box": "GAINS"},
        ),
        (
            [
                "soft_f1",
                "--contract",
                "easyr1",
                "--task",
                "detection",
                "--dialect",
                "json",
                "--coords",
                "pixel",
                "--solution-format",
                "json",
            ],
            {"spam_bound": "BROKEN"},
        ),
        (
            ["ap_reward", "--contract", "verl", "--task", "detection", "--dialect", "qwen2-tokens"],
            {"nonfinite_coords": "GAINS"},
        ),
        (
            [
                "DetectionORM",
                "--contract",
                "swift",
                "--task",
                "detection",
                "--dialect",
                "json",
                "--coords",
                "pixel",
                "--solution-format",
                "json",
            ],
            {"missing_keys": "CRASH"},
        ),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else "",
)
def test_each_gallery_design_is_audited_with_flags_alone(argv, expected, capsys):
    import argparse

    from grounding_rewards.cli.audit import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "audit",
            f"{GALLERY}:{argv[0]}",
            *argv[1:],
            "--components",
            "bbox",
            "--fuzz",
            "10",
            "--json",
            "-",
            "--quiet",
        ]
    )
    assert args.handler(args) == 1
    report = json.loads(capsys.readouterr().out)
    verdicts = {c["name"]: c["verdict"] for c in report["checks"]}
    for name, verdict in expected.items():
        assert verdicts[name] == verdict, (name, verdicts)
