import pickle
import random

import numpy as np
import pytest

from grounding_rewards.metrics import (
    GroundingAccumulator,
    ReasoningAccumulator,
    Rollout,
    RolloutEvaluator,
    grounding_metrics,
    reasoning_metrics,
)

LABELS = ["cat", "dog", "man", "car"]


def _boxes(rng, n):
    xy = rng.uniform(0, 200, size=(n, 2))
    return np.concatenate([xy, xy + rng.uniform(1, 80, size=(n, 2))], axis=1)


def _grounding_data(seed, n=300):
    rng = np.random.default_rng(seed)
    preds, target = [], []
    for _ in range(n):
        gt = _boxes(rng, int(rng.integers(0, 4)))
        found = gt[rng.random(len(gt)) < 0.7]
        found = found + rng.normal(0, 4, size=found.shape)
        preds.append(np.concatenate([found, _boxes(rng, int(rng.integers(0, 2)))]))
        target.append(gt)
    return preds, target


def _completion(rng, gt, labels):
    spans = []
    for box, label in zip(gt, labels, strict=False):
        if rng.random() < 0.7:
            b = [round(v + rng.normal(0, 3), 1) for v in box]
            spans.append(
                f"<obj>{label if rng.random() < 0.8 else rng.choice(LABELS)}</obj><bbox>{b}</bbox>"
            )
    if rng.random() < 0.3:
        spans.append(f"<obj>{rng.choice(LABELS)}</obj><bbox>[5, 5, 1, 1]</bbox>")
    answer = rng.choice(["A", "B", "A or B", ""])
    text = f"<think>{' '.join(spans)}</think><answer>{answer}</answer>"
    return text if rng.random() < 0.9 else text[: int(rng.integers(0, len(text)))]


def _rollouts(seed, n=200):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        gt = _boxes(rng, int(rng.integers(0, 4))).round(1).tolist()
        labels = [str(rng.choice(LABELS)) for _ in gt]
        target = {"answer": "A", "gt_boxes": gt, "gt_labels": labels, "image_size": [300, 300]}
        out.append(Rollout(_completion(rng, gt, labels), target, id=str(i), source=f"gen:{i + 1}"))
    return out


def _splits(n, parts, seed):
    cuts = sorted(random.Random(seed).sample(range(1, n), parts - 1))
    return [slice(a, b) for a, b in zip([0, *cuts], [*cuts, n], strict=False)]


@pytest.mark.parametrize("seed", [0, 1])
def test_grounding_accumulator_equals_one_shot_and_merged_partials(seed):
    preds, target = _grounding_data(seed)
    one_shot = grounding_metrics(preds, target)

    streamed = GroundingAccumulator()
    for part in _splits(len(preds), 7, seed):
        streamed.update(preds[part], target[part])

    partials = []
    for part in _splits(len(preds), 4, seed + 100):
        acc = GroundingAccumulator()
        acc.update(preds[part], target[part])
        partials.append(pickle.loads(pickle.dumps(acc)))  # as if sent from another process
    merged = partials[0]
    for acc in partials[1:]:
        merged.merge(acc)

    assert streamed.compute() == one_shot  # bit for bit: counts and an exact IoU sum
    assert merged.compute() == one_shot
    assert one_shot.samples > 200 and 0 < one_shot.miou < 1


def test_grounding_accumulator_coco_matches_functional():
    from grounding_rewards.metrics import coco_ap

    preds, target = _grounding_data(3, n=80)
    a, b = GroundingAccumulator(keep_boxes=True), GroundingAccumulator(keep_boxes=True)
    a.update(preds[:30], target[:30])
    b.update(preds[30:], target[30:])
    a.merge(b)
    with_gt = [i for i, t in enumerate(target) if len(t)]
    expected = coco_ap([preds[i] for i in with_gt], [target[i] for i in with_gt])
    assert a.coco() == expected
    with pytest.raises(ValueError, match="keep_boxes=True"):
        GroundingAccumulator().coco()


def test_merge_refuses_other_thresholds():
    with pytest.raises(ValueError, match="same thresholds"):
        GroundingAccumulator([0.5]).merge(GroundingAccumulator([0.75]))
    with pytest.raises(ValueError, match="same threshold"):
        ReasoningAccumulator(threshold=0.5).merge(ReasoningAccumulator(threshold=0.7))


def test_reasoning_accumulator_equals_one_shot_and_merged():
    rollouts = _rollouts(5)
    preds = [r.completion for r in rollouts]
    target = [r.target for r in rollouts]
    one_shot = reasoning_metrics(preds, target)
    streamed = ReasoningAccumulator()
    merged = ReasoningAccumulator()
    for part in _splits(len(preds), 5, 9):
        streamed.update(preds[part], target[part])
        acc = ReasoningAccumulator()
        acc.update(preds[part], target[part])
        merged.merge(pickle.loads(pickle.dumps(acc)))
    assert streamed.compute() == one_shot
    assert merged.compute() == one_shot
    assert one_shot.chair_mention is not None and one_shot.issue_rates


def test_evaluator_merge_equals_single_pass_including_gallery():
    rollouts = _rollouts(11, n=240)
    single = RolloutEvaluator(gallery_size=15)
    single.update(rollouts)
    merged = None
    for part in _splits(len(rollouts), 3, 4):
        ev = RolloutEvaluator(gallery_size=15, index_offset=part.start)
        ev.update(rollouts[part])
        ev = pickle.loads(pickle.dumps(ev))
        if merged is None:
            merged = ev
        else:
            merged.merge(ev)
    assert merged is not None
    a, b = single.compute(), merged.compute()
    assert a.as_dict() == b.as_dict()
    assert a.coco is not None and a.coco.ap is not None
    assert [v.index for v in single.gallery()] == [v.index for v in merged.gallery()]
    totals = [v.rewards["total"] for v in single.gallery()]
    assert totals == sorted(totals)  # worst first
    all_totals = sorted(r.total for r in (ev_sample(r) for r in rollouts))
    assert totals == all_totals[:15]
    assert sum(a.histograms["total"].counts) == len(rollouts)


def ev_sample(rollout):
    from grounding_rewards.metrics import analyze_sample

    return analyze_sample(rollout.completion, rollout.target).rewards


def test_evaluator_reports_bad_ground_truth_with_its_source():
    from grounding_rewards.metrics import RolloutFormatError

    ev = RolloutEvaluator(coco=False)
    with pytest.raises(RolloutFormatError, match=r"^data.jsonl:7: gt_boxes\[0\]"):
        ev.add(Rollout("x", {"gt_boxes": [[5, 5, 1, 1]]}, source="data.jsonl:7"))


def test_merging_evaluators_with_overlapping_indices_does_not_fail():
    rollouts = _rollouts(13, n=20)
    a, b = (
        RolloutEvaluator(gallery_size=5, coco=False),
        RolloutEvaluator(gallery_size=5, coco=False),
    )
    a.update(rollouts)
    b.update(rollouts)  # same indices 0..19 in both
    a.merge(b)
    assert len(a.gallery()) == 5 and a.compute().rollouts == 40
