import pytest

from grounding_rewards import RewardConfig, parse_ground_truth, parse_trace
from grounding_rewards.metrics import (
    analyze_sample,
    canonical_label,
    object_hallucination,
    reasoning_metrics,
)


def trace(*spans, answer="A"):
    body = " ".join(f"<obj>{label}</obj><bbox>{box}</bbox>" for label, box in spans)
    return f"<think>{body}</think><answer>{answer}</answer>"


GT = {"answer": "A", "gt_boxes": [[0, 0, 10, 10], [20, 20, 40, 40]], "gt_labels": ["cat", "dog"]}


def test_answer_accuracy_counts_only_completions_with_an_answer():
    preds = [
        trace(("cat", "[0,0,10,10]"), answer="A"),
        trace(("cat", "[0,0,10,10]"), answer="B"),
        trace(("cat", "[0,0,10,10]")),
    ]
    target = [GT, GT, {"gt_boxes": [[0, 0, 10, 10]]}]
    r = reasoning_metrics(preds, target)
    assert r.answer_accuracy == 0.5 and r.counts.answers == 2


def test_format_validity_and_issue_rates():
    preds = [
        trace(("cat", "[0,0,10,10]")),
        "<think>no box</think><answer>A</answer>",
        "plain text",
        42,
    ]
    r = reasoning_metrics(preds, [GT] * 4)
    assert r.format_validity == 0.25
    # completion 2 has too_few_spans; 3 misses both blocks; 4 is not text
    assert r.issue_rates["too_few_spans"] == 0.5
    assert r.issue_rates["missing_think"] == 0.25
    assert r.issue_rates["not_text"] == 0.25
    assert "unclosed_tag" not in r.issue_rates


def test_spans_per_completion_counts_the_counted_region_only():
    text = (
        "<think><obj>cat</obj><bbox>[0,0,10,10]</bbox> <obj>dogs</obj>"
        "<bbox>[20,20,40,40],[0,0,1,1]</bbox></think>"
        "<answer><obj>cat</obj><bbox>[0,0,10,10]</bbox></answer>"
    )
    assert reasoning_metrics([text], [GT]).spans_per_completion == 3
    anywhere = RewardConfig(box_region="anywhere")
    assert reasoning_metrics([text], [GT], config=anywhere).spans_per_completion == 4


def test_box_precision_recall_and_hallucinated_boxes():
    # a hit on the cat, a duplicate of it (not hallucinated, but a false positive)
    # and a box on empty background (hallucinated); the dog is missed
    text = trace(("cat", "[0,0,10,10]"), ("cat", "[0,0,10,9]"), ("bird", "[60,60,80,80]"))
    r = reasoning_metrics([text], [GT])
    assert (r.box_precision, r.box_recall) == (1 / 3, 1 / 2)
    assert r.hallucinated_box_rate == 1 / 3
    assert r.counts.valid_boxes == 3


def test_invalid_boxes_are_not_hallucinations_but_count_against_precision():
    text = trace(("cat", "[0,0,10,10]"), ("dog", "[5,5,1,1]"))
    r = reasoning_metrics([text], [GT])
    assert r.hallucinated_box_rate == 0.0 and r.counts.valid_boxes == 1
    assert r.box_precision == 0.5


def test_label_agreement_with_synonyms():
    text = trace(("kitten", "[0,0,10,10]"), ("white dogs", "[20,20,40,40]"))
    plain = reasoning_metrics([text], [GT])
    assert plain.label_agreement == 0.5  # "white dogs" ~ "dog" (fuzzy); "kitten" != "cat"
    mapped = reasoning_metrics([text], [GT], synonyms={"kitten": "cat"})
    assert mapped.label_agreement == 1.0
    assert mapped.counts.label_pairs == 2


def test_chair_counts_mentions_and_completions():
    preds = [
        trace(("cat", "[0,0,10,10]"), ("unicorn", "[60,60,80,80]")),  # 1 of 2 hallucinated
        trace(("cats", "[0,0,10,10]")),  # clean
        "<think><obj>dragons</obj><bbox>[0,0,5,5],[6,6,9,9]</bbox></think><answer>A</answer>",
    ]
    r = reasoning_metrics(preds, [GT] * 3)
    # the plural <obj> with two boxes is one mention: 4 mentions, 2 hallucinated
    assert (r.counts.mentions, r.counts.hallucinated_mentions) == (4, 2)
    assert r.chair_mention == 0.5
    assert r.chair_completion == pytest.approx(2 / 3)


def test_chair_needs_labelled_ground_truth():
    r = reasoning_metrics([trace(("cat", "[0,0,10,10]"))], [{"gt_boxes": [[0, 0, 10, 10]]}])
    assert r.chair_mention is None and r.chair_completion is None and r.label_agreement is None
    assert r.box_precision == 1.0


def test_synonym_map_forms():
    assert canonical_label(" Young  Man ", {"young man": "person"}) == "person"
    assert canonical_label("Cat") == "cat"
    assert canonical_label("man", lambda label: "person") == "person"
    texts = [trace(("man", "[0,0,10,10]")), trace(("woman", "[0,0,10,10]"))]
    truth = [{"gt_boxes": [[0, 0, 10, 10]], "gt_labels": ["person"]}] * 2
    assert object_hallucination(texts, truth) == (1.0, 1.0)
    assert object_hallucination(texts, truth, synonyms={"man": "person"}) == (0.5, 0.5)
    assert object_hallucination(texts, truth, synonyms=lambda label: "person") == (0.0, 0.0)


def test_normalized_coordinates_are_converted_before_matching():
    config = RewardConfig(coords="norm1000")
    text = trace(("cat", "[0,0,500,500]"))
    truth = {"gt_boxes": [[0, 0, 320, 240]], "gt_labels": ["cat"], "image_size": [640, 480]}
    sample = analyze_sample(text, truth, config=config)
    assert sample.pred_boxes == ((0.0, 0.0, 320.0, 240.0),)
    assert sample.match is not None and sample.match.ious == (1.0,)
    with pytest.raises(ValueError, match="image_size"):
        analyze_sample(text, {"gt_boxes": [[0, 0, 1, 1]]}, config=config)


def test_accepts_traces_and_ground_truth_objects_and_checks_lengths():
    text = trace(("cat", "[0,0,10,10]"))
    r = reasoning_metrics([parse_trace(text)], [parse_ground_truth(**GT)])
    assert r.box_recall == 0.5
    with pytest.raises(ValueError, match="expected one entry per completion"):
        reasoning_metrics([text], [])
    flat = r.as_dict()
    assert flat["box_precision@0.5"] == 1.0 and "issue_rates" in flat


def test_untrusted_output_never_raises():
    junk = ["<think><obj>" * 500, "<bbox>[1e308, -1e308, nan, 3]</bbox>", "\x00" * 10, None, []]
    r = reasoning_metrics(junk, [GT] * len(junk))
    assert r.completions == 5 and r.format_validity == 0.0
