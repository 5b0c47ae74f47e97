"""Untrusted model output: every reward returns a finite in-range value, quickly, in linear time.

Every bound here is on the CPU time of this process (``time.process_time``), never on
wall-clock time: other processes busy on the machine delay us but do not add to our CPU
time, so the checks hold on a loaded CI machine. The bounds are deliberately generous
(1 CPU second per call where the slowest input takes about 0.05 s; 8x the CPU time for
4x the input, where quadratic work takes 16x); they exist to catch catastrophic
(quadratic or exponential) behaviour, not to benchmark. Throughput lives in benchmarks/.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pytest

from grounding_rewards import (
    RewardConfig,
    bbox_reward,
    extract_option,
    format_reward,
    grounding_reward,
    match_boxes,
    option_reward,
    parse_trace,
)

SPAN = "<obj>a</obj><bbox>[1, 2, 30, 40]</bbox>"
GT = [[1, 2, 30, 40], [50, 50, 90, 80]]
PER_CALL_CPU_SECONDS = 1.0


ADVERSARIAL: dict[str, object] = {
    # Megabyte strings: refused by max_chars (100,000) before any parsing.
    "megabyte_plain": "a" * 1_000_000,
    "megabyte_tags": "<think>" * 150_000,
    "megabyte_spans": f"<think>{SPAN * 30_000}</think><answer>A</answer>",
    "megabyte_lt": "<" * 1_000_000,
    # Just under max_chars: the parser has to read all of it.
    "many_open_think": "<think>" * 14_000,
    "many_obj": "<obj>" * 19_000,
    "many_bbox_open": "<bbox>" * 16_000,
    "many_spans": f"<think>{SPAN * 2_500}</think><answer>A</answer>",
    "many_plural": "<think><obj>a</obj><bbox>[" + "[1,2,3,4]," * 9_000 + "]</bbox></think>",
    "many_stray_closing": "</think></answer></obj></bbox>" * 3_000,
    "alternating_blocks": "<think>x</think><answer>A</answer>" * 2_800,
    "deeply_nested": "<think>" * 6_000 + "<answer>B</answer>" + "</think>" * 6_000,
    "nested_obj": "<think>" + "<obj>" * 10_000 + "a" + "</obj>" * 10_000 + "</think>",
    "unclosed_everything": "<think><obj>a<bbox>[1,2,3,4]" * 3_000,
    "unclosed_bbox_digits": "<think><obj>a</obj><bbox>" + "1" * 99_000,
    "bbox_of_commas": "<think><obj>a</obj><bbox>[" + "1," * 49_000 + "1]</bbox></think>",
    "lt_only": "<" * 99_000,
    "near_miss_tags": "<thin" * 19_000,
    "mixed_case_tags": "<ThInK><OBJ>a</OBJ><BBOX>[1,2,3,4]</BBOX></ThInK>" * 2_000,
    "long_answer": "<think>x</think><answer>" + "A or B " * 14_000 + "</answer>",
    "long_answer_letters": "<think>x</think><answer>" + "(A) " * 24_000 + "</answer>",
    "long_label": "<think><obj>" + "cats " * 19_000 + "</obj><bbox>[1,2,30,40]</bbox></think>",
    # Coordinates.
    "nan_box": "<think><obj>a</obj><bbox>[nan, nan, nan, nan]</bbox></think><answer>A</answer>",
    "inf_box": "<think><obj>a</obj><bbox>[inf, -inf, inf, inf]</bbox></think><answer>A</answer>",
    "overflow_box": "<think><obj>a</obj><bbox>[1e309, 1e309, -1e309, 1e309]</bbox></think>",
    "overflow_x2": "<think><obj>a</obj><bbox>[0, 0, 1e309, 40]</bbox></think><answer>A</answer>",
    "huge_box": "<think><obj>a</obj><bbox>[1e300, 1e300, 1e301, 1e301]</bbox></think>",
    "huge_span": "<think><obj>a</obj><bbox>[-1e300, -1e300, 1e300, 1e300]</bbox></think>",
    "max_float_span": "<think><obj>a</obj><bbox>[-1.7e308, -1e308, 1.7e308, 1e308]</bbox></think>",
    "tiny_box": "<think><obj>a</obj><bbox>[0, 0, 1e-320, 1e-320]</bbox></think><answer>A</answer>",
    "huge_exponent": "<think><obj>a</obj><bbox>[1e99999, 2, 3, 4]</bbox></think>",
    "long_number": "<think><obj>a</obj><bbox>[" + "9" * 90 + ", 2, 3, 4]</bbox></think>",
    "negative_zero": "<think><obj>a</obj><bbox>[-0, -0, 0, 0]</bbox></think><answer>A</answer>",
    # Fullwidth digits: Python's \d and float() both accept them.
    "unicode_digits": "<think><obj>a</obj><bbox>"
    + "[\uff11, \uff12, \uff13\uff10, \uff14\uff10]</bbox></think>",
    "unicode_junk": "<think>\x00\ud800\U0001f600<obj>\u202e</obj><bbox>[1,2,3,4]</bbox></think>",
    # Empty and blank.
    "empty": "",
    "blank": " \n\t ",
    "empty_tags": "<think></think><answer></answer>",
    "empty_bbox": "<think><obj></obj><bbox></bbox></think><answer></answer>",
    # Not text at all.
    "none": None,
    "bytes": b"<think><obj>a</obj><bbox>[1,2,30,40]</bbox></think><answer>A</answer>",
    "int": 42,
    "float_nan": math.nan,
    "list": ["<think>", "</think>"],
    "chat_message": [{"role": "assistant", "content": "<answer>A</answer>"}],
    "dict": {"completion": "<answer>A</answer>"},
}

CONFIGS = {
    "default": RewardConfig(),
    "giou_fuzzy_anywhere": RewardConfig(
        similarity="giou", label_matching="fuzzy", box_region="anywhere", format_mode="graded"
    ),
    "norm1": RewardConfig(coords="norm1", similarity="ciou", length_penalty=2.0),
    "qwen25vl": RewardConfig(coords="qwen25vl", max_pixels=1003520, label_matching="exact"),
}


def cpu_seconds(function: Callable[[], object]) -> tuple[object, float]:
    """Call ``function``; return its value and the CPU time this process spent on it."""
    start = time.process_time()
    value = function()
    return value, time.process_time() - start


def timed(function: Callable[[], object]) -> object:
    value, elapsed = cpu_seconds(function)
    assert elapsed < PER_CALL_CPU_SECONDS, f"took {elapsed:.3f} CPU seconds"
    return value


def in_unit_interval(value: object) -> bool:
    return isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0


IMAGE_SIZE = (640, 480)
LABELS = ["a", "cats"]


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_every_reward_is_finite_in_range_and_fast(name: str) -> None:
    completion = ADVERSARIAL[name]

    value = timed(lambda: format_reward(completion, image_size=IMAGE_SIZE))  # type: ignore[arg-type]
    assert in_unit_interval(value)

    value = timed(lambda: option_reward(completion, "A", choices=["x", "y"]))  # type: ignore[arg-type]
    assert value in (0.0, 1.0)

    value = timed(lambda: bbox_reward(completion, GT, gt_labels=LABELS, image_size=IMAGE_SIZE))  # type: ignore[arg-type]
    assert in_unit_interval(value)
    value = timed(lambda: bbox_reward(completion, [], image_size=IMAGE_SIZE))  # type: ignore[arg-type]
    assert value is None


def costly(name: str) -> bool:
    """Inputs the parser must read in full (tens of milliseconds each)."""
    value = ADVERSARIAL[name]
    return isinstance(value, str) and 20_000 < len(value) <= 100_000


# The composite runs every component from one parse. Costly inputs run under one
# configuration that turns on every option that could slow scoring down (GIoU, fuzzy
# labels, every region); the cheap ones, where boxes are actually scored, under all.
COMPOSITE_CASES = [
    (name, config_name)
    for name in sorted(ADVERSARIAL)
    for config_name in sorted(CONFIGS)
    if config_name == "giou_fuzzy_anywhere" or not costly(name)
]


@pytest.mark.parametrize(("name", "config_name"), COMPOSITE_CASES)
def test_composite_is_finite_in_range_and_fast_under_every_config(
    name: str, config_name: str
) -> None:
    config = CONFIGS[config_name]
    breakdown = timed(
        lambda: grounding_reward(
            ADVERSARIAL[name],  # type: ignore[arg-type]
            answer="A",
            gt_boxes=GT,
            gt_labels=LABELS,
            choices=["x", "y"],
            image_size=IMAGE_SIZE,
            config=config,
        )
    )
    total = breakdown.total  # type: ignore[attr-defined]
    assert math.isfinite(total) and 0.0 <= total <= sum(config.weights.values())
    parts = (breakdown.format, breakdown.accuracy, breakdown.bbox)  # type: ignore[attr-defined]
    assert all(in_unit_interval(v) for v in parts)


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_parse_trace_never_raises_and_stays_bounded(name: str) -> None:
    trace = timed(lambda: parse_trace(ADVERSARIAL[name]))
    assert len(trace.spans) <= 101  # type: ignore[attr-defined]
    assert len(trace.issues) <= 64  # type: ignore[attr-defined]


def test_megabyte_input_is_refused_as_too_long() -> None:
    trace = timed(lambda: parse_trace(ADVERSARIAL["megabyte_spans"]))
    assert [i.code for i in trace.issues] == ["too_long"]  # type: ignore[attr-defined]
    assert grounding_reward(ADVERSARIAL["megabyte_spans"], answer="A", gt_boxes=GT).total == 0.0  # type: ignore[arg-type]


def test_thousands_of_tags_over_max_boxes_score_zero() -> None:
    text = ADVERSARIAL["many_spans"]
    assert bbox_reward(text, GT) == 0.0  # type: ignore[arg-type]
    assert format_reward(text) == 0.0  # type: ignore[arg-type]


def test_huge_boxes_stay_in_range_and_have_zero_iou() -> None:
    for name in ("huge_box", "huge_span", "max_float_span", "overflow_box", "overflow_x2"):
        for similarity in ("iou", "giou", "diou", "ciou"):
            value = bbox_reward(
                ADVERSARIAL[name],  # type: ignore[arg-type]
                [[1, 2, 30, 40]],
                config=RewardConfig(similarity=similarity),
            )
            assert value is not None and 0.0 <= value <= 1.0, (name, similarity, value)
            if similarity == "iou":
                assert value == 0.0


def test_normalized_huge_boxes_overflowing_after_scaling_stay_in_range() -> None:
    # 1e308 is finite, but 1e308 * 640 overflows to inf when converted to pixels.
    text = "<think><obj>a</obj><bbox>[-1e308, -1e308, 1e308, 1e308]</bbox></think>"
    for similarity in ("iou", "giou", "diou", "ciou"):
        config = RewardConfig(coords="norm1", similarity=similarity)
        value = bbox_reward(text, [[0, 0, 10, 10]], image_size=(640, 480), config=config)
        assert value is not None and 0.0 <= value <= 1.0


@pytest.mark.parametrize("similarity", ["iou", "giou", "diou", "ciou"])
def test_underflowing_area_does_not_crash(similarity: str) -> None:
    # A ground-truth box that passes validation but whose area underflows to 0, and the same
    # predicted box: the union is 0 (found by this suite: it raised ZeroDivisionError).
    tiny = [0, 0, 1e-170, 1e-170]
    text = "<think><obj>a</obj><bbox>[0, 0, 1e-170, 1e-170]</bbox></think><answer>A</answer>"
    config = RewardConfig(similarity=similarity)
    value = bbox_reward(text, [tiny], config=config)
    assert value is not None and 0.0 <= value <= 1.0
    total = grounding_reward(text, answer="A", gt_boxes=[tiny], config=config).total
    assert math.isfinite(total)
    matching = match_boxes([tiny], [tiny], config=config)
    assert all(0.0 <= s <= 1.0 for s in matching.scores)


# --- linear time -------------------------------------------------------------------------------

# Sizes in the steady regime: below ~50k characters the cost per character still steps up
# (allocation and cache effects), which is not a growth in complexity.
SMALL, LARGE_SIZE = 50_000, 200_000
LARGE = RewardConfig(max_chars=2_000_000, max_boxes=100)


def ratio_of_best_times(function: Callable[[str], object], small: str, large: str) -> None:
    """Assert 4x the input costs under 8x the CPU time (plus 3 ms for clock granularity).

    Linear passes with room to spare; quadratic (16x) does not. CPU time of this process
    does not count time spent waiting for other processes; what load still adds (cache
    misses after a context switch) can only make an input look slower, never a quadratic
    one look linear, so each attempt takes the best of 3 interleaved runs and a failed
    attempt is retried twice.
    """
    message = ""
    for _ in range(3):
        t_small = t_large = math.inf
        for _ in range(3):
            t_small = min(t_small, cpu_seconds(lambda: function(small))[1])
            t_large = min(t_large, cpu_seconds(lambda: function(large))[1])
        if t_large < 8 * t_small + 0.003:
            return
        message = f"{t_small * 1e3:.2f} ms -> {t_large * 1e3:.2f} ms of CPU time"
    pytest.fail(f"4x the input took more than 8x the CPU time: {message}")


# Shapes whose parse cost is dominated by the tags in them (so the timings are long enough
# to compare). Each makes an input of about n characters.
SHAPES: dict[str, Callable[[int], str]] = {
    "spans": lambda n: "<think>" + SPAN * (n // len(SPAN)) + "</think><answer>A</answer>",
    "obj": lambda n: "<obj>" * (n // 5),
    "unclosed": lambda n: "<think><obj>a<bbox>[1,2,3,4]" * (n // 28),
    "stray_closing": lambda n: "</think></obj>" * (n // 14),
    "blocks": lambda n: "<think>x</think><answer>A</answer>" * (n // 34),
    "lt": lambda n: "<" * n,
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_parse_time_grows_linearly(shape: str) -> None:
    ratio_of_best_times(
        lambda text: parse_trace(text, config=LARGE),
        SHAPES[shape](SMALL),
        SHAPES[shape](LARGE_SIZE),
    )


@pytest.mark.parametrize("pattern", ["A or B ", "(A) ", "The answer is B. "])
def test_option_extraction_time_grows_linearly(pattern: str) -> None:
    ratio_of_best_times(
        lambda text: extract_option(text, choices=["x", "y"]),
        pattern * (SMALL // len(pattern)),
        pattern * (LARGE_SIZE // len(pattern)),
    )


def test_grounding_reward_time_grows_linearly() -> None:
    config = LARGE.replace(label_matching="fuzzy", similarity="giou")
    ratio_of_best_times(
        lambda text: grounding_reward(
            text,
            answer="A",
            gt_boxes=GT,
            gt_labels=["a", "b"],
            image_size=(640, 480),
            config=config,
        ),
        SHAPES["spans"](SMALL),
        SHAPES["spans"](LARGE_SIZE),
    )


def test_the_linear_time_check_catches_quadratic_work() -> None:
    # Every character compared with every earlier one: 4x the input costs 16x.
    def quadratic(text: str) -> int:
        return sum(1 for i in range(len(text)) for _ in range(i))

    with pytest.raises(pytest.fail.Exception, match="more than 8x"):
        ratio_of_best_times(quadratic, "x" * 500, "x" * 2_000)
