"""Every dialect reads into the same Trace; hand-checked values; hostile input never raises."""

from __future__ import annotations

import math

import pytest

from grounding_rewards import (
    ConfigError,
    RewardConfig,
    bbox_reward,
    format_reward,
    grounding_reward,
    parse_trace,
    point_reward,
    render_marks,
)
from grounding_rewards.dialects import BoxMark, Reading, dialect_names, register_dialect

JSON = RewardConfig(dialect="json")


def boxes(text: str, config: RewardConfig) -> list[tuple[str, tuple[float, ...], bool]]:
    return [(s.label, s.box, s.valid) for s in parse_trace(text, config=config).spans]


def codes(text: str, config: RewardConfig) -> list[str]:
    return [issue.code for issue in parse_trace(text, config=config).issues]


# --- json -----------------------------------------------------------------------------

QWEN25_ANSWER = """```json
[
    {"bbox_2d": [135, 114, 1016, 672], "label": "chocolate cake"},
    {"bbox_2d": [1076, 119, 1493, 671], "label": "fork"}
]
```"""


def test_json_reads_qwen25vl_fenced_list() -> None:
    assert boxes(QWEN25_ANSWER, JSON) == [
        ("chocolate cake", (135.0, 114.0, 1016.0, 672.0), True),
        ("fork", (1076.0, 119.0, 1493.0, 671.0), True),
    ]
    trace = parse_trace(QWEN25_ANSWER, config=JSON)
    assert trace.blockless and trace.issues == ()


def test_json_tolerates_what_models_emit() -> None:
    # single quotes, a trailing comma, label before the box, nested one-box list
    text = "[{'label': 'cat', 'bbox_2d': [1, 2, 3, 4],}, {\"bbox_2d\": [[5, 6, 7, 8]]}]"
    assert boxes(text, JSON) == [("cat", (1, 2, 3, 4), True), ("", (5, 6, 7, 8), True)]
    assert codes(text, JSON) == []


def test_json_one_object_bare_in_prose() -> None:
    text = 'The cat is at {"bbox_2d": [10, 20, 30, 40], "label": "cat"} on the left.'
    assert boxes(text, JSON) == [("cat", (10, 20, 30, 40), True)]


def test_json_truncated_list_keeps_complete_objects() -> None:
    text = '[{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6, 7'
    assert boxes(text, JSON) == [("a", (1, 2, 3, 4), True)]
    assert codes(text, JSON) == ["truncated_json"]
    # The format reward fails a cut-off answer; the box reward scores what was complete.
    assert format_reward(text, config=JSON) == 0.0
    assert bbox_reward(text, [[1, 2, 3, 4]], config=JSON) == 1.0


@pytest.mark.parametrize(
    "value",
    ["null", '"1,2,3,4"', "[NaN, NaN, NaN, NaN]", "[1, 2, 3]", "[1, 2, 3, 4, 5]", "{}"],
)
def test_json_unreadable_box_counts_as_one_invalid_box(value: str) -> None:
    text = f'[{{"bbox_2d": {value}, "label": "a"}}, {{"bbox_2d": [0, 0, 10, 10], "label": "b"}}]'
    spans = parse_trace(text, config=JSON).spans
    assert [s.valid for s in spans] == [False, True]
    assert "malformed_json" in codes(text, JSON)
    # n = 2 (the unreadable box counts), m = 1, IoU 1: R_bbox = 1 / max(2, 1) = 0.5
    assert bbox_reward(text, [[0, 0, 10, 10]], config=JSON) == 0.5


def test_json_without_label_is_read_with_an_empty_label() -> None:
    assert boxes('{"bbox_2d": [1, 2, 3, 4]}', JSON) == [("", (1, 2, 3, 4), True)]


def test_json_escaped_label_is_decoded() -> None:
    text = r'{"bbox_2d": [1, 2, 3, 4], "label": "the \"big\" cat \u00e9"}'
    assert boxes(text, JSON)[0][0] == 'the "big" cat é'


def test_json_points_and_regions_in_blocks() -> None:
    text = (
        '<think>Look: {"point_2d": [50, 60], "label": "cup"}</think>'
        '<answer>{"bbox_2d": [0, 0, 5, 5], "label": "cup"}</answer>'
    )
    trace = parse_trace(text, config=JSON)
    assert not trace.blockless
    assert [(p.label, p.point, p.region) for p in trace.points] == [("cup", (50.0, 60.0), "think")]
    assert [s.region for s in trace.spans] == ["answer"]
    # Boxes count in <think> by default: the one in <answer> does not.
    assert bbox_reward(text, [[0, 0, 5, 5]], config=JSON) == 0.0
    assert bbox_reward(text, [[0, 0, 5, 5]], config=JSON.replace(box_region="answer")) == 1.0


def test_json_blockless_format_checks_grounding_only() -> None:
    assert format_reward(QWEN25_ANSWER, config=JSON) == 1.0
    # With require_blocks the plain answer must follow the template.
    assert format_reward(QWEN25_ANSWER, config=JSON.replace(require_blocks=True)) == 0.0
    # Half a template (blocks in use) is checked like any other completion.
    assert format_reward("<think>x</think>" + QWEN25_ANSWER, config=JSON) == 0.0


def test_json_qwen25vl_coordinates_end_to_end() -> None:
    # A 1000x500 image is resized by Qwen2.5-VL to 1008x504 (multiples of 28): the model's
    # box (504, 0, 1008, 504) is the right half of the original image.
    config = RewardConfig(dialect="json", coords="qwen25vl")
    text = '{"bbox_2d": [504, 0, 1008, 504], "label": "dog"}'
    r = bbox_reward(text, [[500, 0, 1000, 500]], image_size=(1000, 500), config=config)
    assert r == pytest.approx(1.0)


# --- qwen2-tokens, ref-box ----------------------------------------------------------

QWEN2 = RewardConfig(dialect="qwen2-tokens", coords="norm1000")
REF_BOX = RewardConfig(dialect="ref-box", coords="norm1000")


def test_qwen2_tokens() -> None:
    text = (
        "<|object_ref_start|>the cat<|object_ref_end|><|box_start|>(100,200),(300,400)<|box_end|>"
        " and <|object_ref_start|>dogs<|object_ref_end|><|box_start|>(0,0),(10,10)<|box_end|>"
        "<|box_start|>(20,20),(30,30)<|box_end|>"
    )
    assert boxes(text, QWEN2) == [
        ("the cat", (100, 200, 300, 400), True),
        ("dogs", (0, 0, 10, 10), True),
        ("dogs", (20, 20, 30, 30), True),
    ]
    assert codes(text, QWEN2) == []
    # 0-1000 on a 640x480 image: (100, 200, 300, 400) is (64, 96, 192, 192) in pixels.
    gt = [[64, 96, 192, 192], [0, 0, 6.4, 4.8], [12.8, 9.6, 19.2, 14.4]]
    assert bbox_reward(text, gt, image_size=(640, 480), config=QWEN2) == pytest.approx(1.0)


def test_qwen2_tokens_rex_omni_bins_and_points() -> None:
    text = "<|object_ref_start|>person<|object_ref_end|><|box_start|><0><35><980><987><|box_end|>"
    assert boxes(text, QWEN2) == [("person", (0, 35, 980, 987), True)]
    point = "<|object_ref_start|>cup<|object_ref_end|><|box_start|>(500,500)<|box_end|>"
    trace = parse_trace(point, config=QWEN2)
    assert [(p.label, p.point) for p in trace.points] == [("cup", (500.0, 500.0))]


def test_qwen2_tokens_malformed() -> None:
    assert "unclosed_tag" in codes("<|box_start|>(1,2),(3,4)", QWEN2)
    assert "obj_without_bbox" in codes("<|object_ref_start|>a<|object_ref_end|> alone", QWEN2)
    assert "bbox_without_obj" in codes("<|box_start|>(1,2),(3,4)<|box_end|>", QWEN2)
    unparsable = "<|object_ref_start|>a<|object_ref_end|><|box_start|>(1,2)(3)<|box_end|>"
    assert "unparsable_bbox" in codes(unparsable, QWEN2)
    assert [s.valid for s in parse_trace(unparsable, config=QWEN2).spans] == [False]


def test_ref_box_internvl() -> None:
    text = "<ref>two cats</ref><box>[[10, 20, 30, 40], [50, 60, 70, 80]]</box>"
    assert boxes(text, REF_BOX) == [
        ("two cats", (10, 20, 30, 40), True),
        ("two cats", (50, 60, 70, 80), True),
    ]


# --- bare, molmo, florence2 --------------------------------------------------------------

BARE = RewardConfig(dialect="bare", box_region="answer")


def test_bare_rec_answer() -> None:
    text = "<think>The man on the left.</think><answer>[12, 30, 210, 400]</answer>"
    assert boxes(text, BARE) == [("", (12, 30, 210, 400), True)]
    # IoU of (12, 30, 210, 400) with (12, 30, 210, 215): 198*185 / (198*370) = 0.5
    assert bbox_reward(text, [[12, 30, 210, 215]], config=BARE) == pytest.approx(0.5)
    # Lists of other lengths are prose, not boxes.
    assert boxes("<answer>[1, 2, 3] and [1, 2, 3, 4, 5]</answer>", BARE) == []


def test_molmo_points() -> None:
    config = RewardConfig(dialect="molmo", coords="norm100")
    text = (
        '<point x="61.5" y="40.2" alt="cat">cat</point> and '
        '<points x1="10" y1="10" x2="90.5" y2="80" alt="dogs">dogs</points>'
    )
    trace = parse_trace(text, config=config)
    assert [(p.label, p.point) for p in trace.points] == [
        ("cat", (61.5, 40.2)),
        ("dogs", (10.0, 10.0)),
        ("dogs", (90.5, 80.0)),
    ]
    # Percent of a 200x100 image: (61.5, 40.2) -> (123, 40.2) lies in the first box;
    # (10, 10) -> (20, 10) in the second; (90.5, 80) -> (181, 80) in none.
    # 2 of m = 2 targets matched by n = 3 points: (2 / 2) * min(1, 2 / 3) = 2/3.
    gt = [[100, 0, 200, 50], [0, 0, 50, 50]]
    assert point_reward(text, gt, image_size=(200, 100), config=config) == pytest.approx(2 / 3)
    assert "unparsable_point" in codes('<point x="a" y="1">c</point>', config)


def test_florence2_locations() -> None:
    config = RewardConfig(dialect="florence2", coords="norm1000")
    text = "car<loc_52><loc_333><loc_932><loc_774>door handle<loc_10><loc_20><loc_30><loc_40>"
    assert boxes(text, config) == [
        ("car", (52, 333, 932, 774), True),
        ("door handle", (10, 20, 30, 40), True),
    ]


# --- the same boxes in every dialect ---------------------------------------------------

ITEMS = [("cat", (10.0, 20.0, 110.0, 220.0)), ("dog", (300.0, 40.0, 420.0, 200.0))]


@pytest.mark.parametrize(
    "dialect", ["tags", "json", "qwen2-tokens", "ref-box", "bare", "florence2"]
)
def test_rendered_boxes_read_back_and_score_the_same(dialect: str) -> None:
    config = RewardConfig(dialect=dialect)
    text = f"<think>{render_marks(ITEMS, dialect)}</think><answer>B</answer>"
    trace = parse_trace(text, config=config)
    assert [s.box for s in trace.spans] == [box for _, box in ITEMS]
    labels = [s.label for s in trace.spans]
    assert labels == (["", ""] if dialect == "bare" else ["cat", "dog"])
    r = grounding_reward(
        text, answer="B", gt_boxes=[[10, 20, 110, 200], [300, 40, 420, 200]], config=config
    )
    # IoU 1 and 180/200 = 0.9: R_bbox = 1.9 / 2 = 0.95
    assert (r.format, r.accuracy, r.bbox) == (1.0, 1.0, pytest.approx(0.95))


@pytest.mark.parametrize("dialect", ["tags", "json", "qwen2-tokens", "molmo", "florence2"])
def test_rendered_points_read_back(dialect: str) -> None:
    config = RewardConfig(dialect=dialect)
    text = "<think>" + render_marks([("cup", (50, 60))], dialect) + "</think><answer>A</answer>"
    assert [(p.label, p.point) for p in parse_trace(text, config=config).points] == [
        ("cup", (50.0, 60.0))
    ]


def test_render_refuses_what_a_dialect_cannot_write() -> None:
    with pytest.raises(ConfigError, match="expected \\('points',\\), got boxes"):
        render_marks([("a", (1, 2, 3, 4))], "molmo")
    with pytest.raises(ConfigError, match="dialect"):
        render_marks([("a", (1, 2))], "no-such-dialect")


# --- registration of a user dialect ---------------------------------------------------------


def test_user_dialect_is_read_and_a_crashing_reader_scores_zero() -> None:
    def crashing(text: str, config: RewardConfig) -> Reading:
        raise RuntimeError("boom")

    def constant(text: str, config: RewardConfig) -> Reading:
        return Reading(boxes=[BoxMark("x", (0.0, 0.0, 2.0, 2.0), 0, len(text))])

    register_dialect("test-constant", constant, replace=True)
    register_dialect("test-crash", crashing, replace=True)
    assert {"test-constant", "test-crash"} <= set(dialect_names())
    assert bbox_reward("anything", [[0, 0, 2, 2]], config=RewardConfig(dialect="test-constant"))
    crash = RewardConfig(dialect="test-crash")
    assert bbox_reward("anything", [[0, 0, 2, 2]], config=crash) == 0.0
    assert "unparsable_bbox" in codes("anything", crash)
    with pytest.raises(ConfigError, match="already registered"):
        register_dialect("json", constant)
    with pytest.raises(ConfigError, match="dialect name"):
        register_dialect("Bad Name", constant)


# --- hostile input ----------------------------------------------------------------------

HOSTILE = [
    "[" * 100_000,
    "{" * 100_000,
    '{"bbox_2d": ' + "[" * 100_000 + "1, 2, 3, 4" + "]" * 100_000 + "}",
    '{"bbox_2d": [' + "1, " * 30_000 + "4]}",
    '{"bbox_2d": [1e999, 0, 1, 1]}',
    '{"bbox_2d": [0, 0, 1, 1], "label": "' + "\\" * 5_000 + '"}',
    "<|object_ref_start|>" * 20_000,
    "<|box_start|>" * 20_000 + "<|box_end|>",
    "<ref>" * 20_000 + "</box>" * 20_000,
    "<point " + 'x="1" ' * 10_000 + ">",
    "<loc_1>" * 50_000,
    '{"point_2d": [' + "9" * 5_000 + ", 1]}",
    '\ud800{"bbox_2d": [1, 2, 3, 4], "label": "\x00\ud800"}',
]


@pytest.mark.parametrize(
    "dialect", ["json", "qwen2-tokens", "ref-box", "bare", "molmo", "florence2"]
)
@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_never_raises_and_stays_in_range(dialect: str, text: str) -> None:
    config = RewardConfig(dialect=dialect, weights={"point": 1})
    r = grounding_reward(text, answer="A", gt_boxes=[[0, 0, 10, 10]], config=config)
    assert all(
        value is None or (math.isfinite(value) and 0.0 <= value <= 1.0)
        for value in r.scores.values()
    )
    assert len(parse_trace(text, config=config).spans) <= config.max_boxes + 1


def test_too_many_json_boxes_score_zero() -> None:
    config = RewardConfig(dialect="json", max_boxes=3)
    text = "[" + ", ".join('{"bbox_2d": [0, 0, 10, 10]}' for _ in range(10)) + "]"
    assert len(parse_trace(text, config=config).spans) == 4
    assert "too_many_boxes" in codes(text, config)
    assert bbox_reward(text, [[0, 0, 10, 10]], config=config) == 0.0
