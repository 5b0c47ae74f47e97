"""Hand-checkable cases for grounding_rewards.matching (assignment, label gates, match_boxes)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from grounding_rewards import Matching, RewardConfig, match_boxes
from grounding_rewards.iou import pair_similarity_function
from grounding_rewards.matching import assign, labels_agree, similarity_matrix

# --- assign ---------------------------------------------------------------------------------


def total(scores: list[list[float]], pairs: list[tuple[int, int]]) -> float:
    return sum(scores[i][j] for i, j in pairs)


def test_assign_empty() -> None:
    assert assign([]) == []
    assert assign([[], []]) == []


def test_assign_single_row_and_column_take_the_best_cell() -> None:
    assert assign([[0.1, 0.7, 0.3]]) == [(0, 1)]
    assert assign([[0.1], [0.7], [0.3]]) == [(1, 0)]


def test_assign_two_by_two_both_ways() -> None:
    # 0.9 + 0.1 = 1.0 < 0.8 + 0.85 = 1.65: the crossing wins although 0.9 is the best cell.
    assert assign([[0.9, 0.8], [0.85, 0.1]]) == [(0, 1), (1, 0)]
    # 0.9 + 0.7 = 1.6 > 0.2 + 0.3 = 0.5: the diagonal wins.
    assert assign([[0.9, 0.2], [0.3, 0.7]]) == [(0, 0), (1, 1)]


def test_assign_three_by_three_by_hand() -> None:
    scores = [
        [0.9, 0.8, 0.0],
        [0.8, 0.0, 0.0],
        [0.0, 0.7, 0.6],
    ]
    # Greedy takes 0.9 (0,0), then 0.7 (2,1), then row 1 has only column 2 left (0.0): 1.6.
    # The optimum is (0,1) 0.8 + (1,0) 0.8 + (2,2) 0.6 = 2.2.
    pairs = assign(scores)
    assert pairs == [(0, 1), (1, 0), (2, 2)]
    assert total(scores, pairs) == pytest.approx(2.2)


@pytest.mark.parametrize(("n", "m"), [(3, 2), (2, 3), (4, 6), (6, 4), (5, 5)])
def test_assign_returns_min_n_m_pairs_sorted_and_one_to_one(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 10 + m)
    scores = rng.uniform(0, 1, (n, m))
    scores[scores < 0.5] = 0.0  # many zeros: blocks and leftovers
    pairs = assign(scores.tolist())
    assert len(pairs) == min(n, m)
    assert pairs == sorted(pairs)
    assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs)


def test_assign_all_zero_still_gives_min_n_m_pairs() -> None:
    pairs = assign([[0.0] * 3 for _ in range(4)])
    assert len(pairs) == 3
    assert len({j for _, j in pairs}) == 3


# --- labels_agree -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pred", "gt", "exact", "fuzzy"),
    [
        ("red car", "red car", 1.0, 1.0),
        ("Red  Car", "red car", 1.0, 1.0),  # case and repeated whitespace
        ("cars", "car", 0.0, 1.0),  # plural
        ("the dog", "dog", 0.0, 1.0),  # article
        ("white helmets", "helmet", 0.0, 1.0),  # subset of words
        ("boxes", "box", 0.0, 1.0),  # -es plural
        ("puppies", "puppy", 0.0, 1.0),  # -ies plural
        ("car", "cat", 0.0, 0.0),
        ("", "car", 0.0, 0.0),  # an empty label never agrees under fuzzy
        ("man", "men", 0.0, 0.0),  # irregular plurals are not guessed
    ],
)
def test_labels_agree_exact_and_fuzzy(pred: str, gt: str, exact: float, fuzzy: float) -> None:
    assert labels_agree(pred, gt, "exact") == exact
    assert labels_agree(pred, gt, "fuzzy") == fuzzy
    assert labels_agree(pred, gt, "ignore") == 1.0


@pytest.mark.parametrize(
    ("value", "expected"), [(0.5, 0.5), (2.0, 1.0), (-1.0, 0.0), (math.nan, 0.0), (0, 0.0)]
)
def test_labels_agree_callable_is_clipped(value: float, expected: float) -> None:
    assert labels_agree("a", "b", lambda p, g: value) == expected


def test_labels_agree_callable_receives_pred_then_gt() -> None:
    seen = []

    def gate(pred: str, gt: str) -> float:
        seen.append((pred, gt))
        return 1.0

    labels_agree("predicted", "truth", gate)
    assert seen == [("predicted", "truth")]


# --- similarity_matrix ------------------------------------------------------------------------


def test_similarity_matrix_by_hand() -> None:
    # IoU of [0,0,2,2] with itself (1) and with [0,0,1,2] (2 / 4 = 0.5); the inverted box is 0.
    rows = similarity_matrix([(0, 0, 2, 2), (2, 2, 0, 0)], [(0, 0, 2, 2), (0, 0, 1, 2)])
    assert rows == [[1.0, 0.5], [0.0, 0.0]]


def test_similarity_matrix_respects_valid_flags() -> None:
    rows = similarity_matrix([(0, 0, 2, 2)], [(0, 0, 2, 2)], valid1=[False], valid2=[True])
    assert rows == [[0.0]]


@pytest.mark.parametrize("kind", ["iou", "giou", "diou", "ciou"])
def test_large_matrices_agree_with_the_scalar_path(kind: str) -> None:
    # 20 x 20 = 400 pairs takes the vectorized path; compare with the scalar function.
    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 100, (40, 2))
    boxes = [tuple(b) for b in np.hstack([xy, xy + rng.uniform(1, 60, (40, 2))]).tolist()]
    boxes[3] = (5.0, 5.0, 1.0, 1.0)  # one invalid box scores 0 in its row
    pred, gt = boxes[:20], boxes[20:]
    rows = similarity_matrix(pred, gt, similarity=kind)  # type: ignore[arg-type]
    pair = pair_similarity_function(kind)  # type: ignore[arg-type]
    expected = [[pair(a, b) if a != boxes[3] else 0.0 for b in gt] for a in pred]
    np.testing.assert_allclose(rows, expected, rtol=1e-9, atol=1e-12)
    assert rows[3] == [0.0] * 20


def test_similarity_matrix_gating_needs_labels() -> None:
    with pytest.raises(ValueError, match="label_matching='exact' needs one label per box"):
        similarity_matrix([(0, 0, 1, 1)], [(0, 0, 1, 1)], label_matching="exact")
    with pytest.raises(ValueError, match="expected 1 predicted and 1 ground-truth labels"):
        similarity_matrix(
            [(0, 0, 1, 1)],
            [(0, 0, 1, 1)],
            labels1=["a", "b"],
            labels2=["a"],
            label_matching="exact",
        )


# --- match_boxes ----------------------------------------------------------------------------


def test_match_boxes_beats_greedy_by_hand() -> None:
    gt = [[0, 0, 10, 10], [1, 0, 11, 10]]
    pred = [[0.4, 0, 10.4, 10], [-5, 0, 5, 10]]
    # pred0-gt0: overlap 9.6x10 = 96 / (200 - 96) = 0.923; pred0-gt1: 9.4x10 = 94 / 106 = 0.887
    # pred1-gt0: 5x10 = 50 / 150 = 0.333;               pred1-gt1: 4x10 = 40 / 160 = 0.25
    # Greedy: 0.923 + 0.25 = 1.173. Optimum (crossing): 0.887 + 0.333 = 1.220.
    matching = match_boxes(pred, gt)
    assert matching.pairs == ((0, 1), (1, 0))
    assert matching.scores == pytest.approx((94 / 106, 50 / 150))
    assert matching.total == pytest.approx(94 / 106 + 1 / 3)


@pytest.mark.parametrize(("n", "m"), [(3, 2), (2, 3), (1, 4), (4, 1)])
def test_match_boxes_gives_exactly_min_n_m_pairs(n: int, m: int) -> None:
    pred = [[10 * i, 0, 10 * i + 5, 5] for i in range(n)]
    gt = [[10 * j + 1, 0, 10 * j + 6, 5] for j in range(m)]
    matching = match_boxes(pred, gt)
    assert len(matching.pairs) == min(n, m)
    assert len(matching.scores) == min(n, m)


def test_match_boxes_keeps_zero_score_pairs() -> None:
    # Disjoint boxes still pair up (scipy semantics): the score is 0.
    matching = match_boxes([[0, 0, 1, 1]], [[5, 5, 6, 6]])
    assert (matching.pairs, matching.scores, matching.total) == (((0, 0),), (0.0,), 0.0)


def test_match_boxes_empty_inputs() -> None:
    assert match_boxes([], [[0, 0, 1, 1]]) == Matching((), (), 0.0)
    assert match_boxes([[0, 0, 1, 1]], []) == Matching((), (), 0.0)


def test_match_boxes_invalid_boxes_score_zero() -> None:
    matching = match_boxes([[1, 1, 0, 0], [0, 0, math.nan, 1]], [[0, 0, 1, 1], [0, 0, 2, 2]])
    assert matching.scores == (0.0, 0.0)


def test_match_boxes_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        match_boxes([[0, 0, 1]], [[0, 0, 1, 1]])


@pytest.mark.parametrize("similarity", ["iou", "giou", "diou", "ciou"])
def test_match_boxes_similarity_from_config(similarity: str) -> None:
    config = RewardConfig(similarity=similarity)
    perfect = match_boxes([[1, 2, 30, 40]], [[1, 2, 30, 40]], config=config)
    assert perfect.scores == pytest.approx((1.0,))
    # Disjoint unit boxes: IoU 0; GIoU -1/3 -> 1/3; DIoU -0.4 -> 0.3; CIoU = DIoU here
    # (same aspect ratio) -> 0.3.
    near = match_boxes([[0, 0, 1, 1]], [[2, 0, 3, 1]], config=config).scores[0]
    expected = {"iou": 0.0, "giou": 1 / 3, "diou": 0.3, "ciou": 0.3}[similarity]
    assert near == pytest.approx(expected)


def test_label_gating_overrides_geometry() -> None:
    # pred0 "dog" sits exactly on gt1 ("cat"); pred1 "cat" sits exactly on gt0 ("dog").
    # With labels ignored each matches the box it sits on; with exact labels the
    # geometric matches score 0 and the label-consistent (disjoint) pairs score 0 too.
    pred = [[0, 0, 10, 10], [20, 0, 30, 10]]
    gt = [[20, 0, 30, 10], [0, 0, 10, 10]]
    labels_pred, labels_gt = ["dog", "cat"], ["dog", "cat"]
    ignore = match_boxes(pred, gt, labels1=labels_pred, labels2=labels_gt)
    assert ignore.total == pytest.approx(2.0)
    exact = match_boxes(
        pred,
        gt,
        labels1=labels_pred,
        labels2=labels_gt,
        config=RewardConfig(label_matching="exact"),
    )
    assert exact.total == 0.0


def test_label_gating_picks_the_labelled_box() -> None:
    # Two GT boxes overlap the prediction equally (IoU 1/3 each); the label decides.
    pred = [[5, 0, 15, 10]]
    gt = [[0, 0, 10, 10], [10, 0, 20, 10]]
    matching = match_boxes(
        pred,
        gt,
        labels1=["the cats"],
        labels2=["dog", "cat"],
        config=RewardConfig(label_matching="fuzzy"),
    )
    # Overlap 5x10 = 50 / (100 + 100 - 50) = 1/3 with gt1 ("cat" ~ "the cats").
    assert matching.pairs == ((0, 1),)
    assert matching.scores == pytest.approx((1 / 3,))


def half_gate(pred: str, gt: str) -> float:
    return 0.5 if pred != gt else 1.0


def test_callable_gate_multiplies_similarity() -> None:
    config = RewardConfig(label_matching=half_gate)
    matching = match_boxes(
        [[0, 0, 10, 10]], [[0, 0, 10, 10]], labels1=["a"], labels2=["b"], config=config
    )
    assert matching.scores == (0.5,)


def test_matching_is_frozen_and_picklable() -> None:
    matching = match_boxes([[0, 0, 1, 1]], [[0, 0, 1, 1]])
    with pytest.raises(AttributeError):
        matching.total = 0.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(matching)) == matching
