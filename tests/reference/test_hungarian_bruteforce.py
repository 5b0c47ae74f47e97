"""The assignment against brute force over every injective assignment, and against greedy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from grounding_rewards import RewardConfig, match_boxes
from grounding_rewards.matching import assign, similarity_matrix

SHAPES = [(n, m) for n in range(1, 7) for m in range(1, 7)]


def brute_force(scores: list[list[float]]) -> float:
    """Best total over all one-to-one assignments with min(n, m) pairs."""
    n, m = len(scores), len(scores[0])
    if n <= m:
        return max(
            sum(scores[i][j] for i, j in enumerate(columns))
            for columns in itertools.permutations(range(m), n)
        )
    return max(
        sum(scores[i][j] for j, i in enumerate(rows))
        for rows in itertools.permutations(range(n), m)
    )


def greedy(scores: list[list[float]]) -> float:
    """Take the best remaining cell until a side runs out (the common public baseline)."""
    cells = sorted(
        ((value, i, j) for i, row in enumerate(scores) for j, value in enumerate(row)),
        reverse=True,
    )
    used_rows: set[int] = set()
    used_columns: set[int] = set()
    result = 0.0
    for value, i, j in cells:
        if i not in used_rows and j not in used_columns:
            used_rows.add(i)
            used_columns.add(j)
            result += value
    return result


def random_matrix(rng: np.random.Generator, n: int, m: int, style: str) -> list[list[float]]:
    values = rng.uniform(0, 1, (n, m))
    if style == "sparse":  # many zeros, as with real boxes: independent blocks
        values[rng.uniform(0, 1, (n, m)) < 0.6] = 0.0
    elif style == "ties":  # few distinct values: many optimal assignments
        values = np.round(values * 4) / 4
    elif style == "signed":  # assign() is public: any finite scores, negatives included
        values = rng.uniform(-1, 1, (n, m))
    elif style == "zero_rows":
        values[rng.integers(0, n)] = 0.0
        values[:, rng.integers(0, m)] = 0.0
    matrix: list[list[float]] = values.tolist()
    return matrix


def check(scores: list[list[float]]) -> None:
    n, m = len(scores), len(scores[0])
    pairs = assign(scores)
    assert len(pairs) == min(n, m)
    assert len({i for i, _ in pairs}) == len(pairs), "a row is used twice"
    assert len({j for _, j in pairs}) == len(pairs), "a column is used twice"
    assert all(0 <= i < n and 0 <= j < m for i, j in pairs)
    got = sum(scores[i][j] for i, j in pairs)
    assert got == pytest.approx(brute_force(scores), abs=1e-12)
    assert got >= greedy(scores) - 1e-12


@pytest.mark.parametrize("style", ["dense", "sparse", "ties", "zero_rows", "signed"])
@pytest.mark.parametrize(("n", "m"), SHAPES)
def test_assign_equals_brute_force(n: int, m: int, style: str) -> None:
    rng = np.random.default_rng([n, m, len(style)])
    for _ in range(6):
        check(random_matrix(rng, n, m, style))


def test_greedy_is_strictly_worse_somewhere() -> None:
    # The comparison is not vacuous: on random sparse matrices greedy loses sometimes.
    rng = np.random.default_rng(7)
    losses = 0
    for _ in range(300):
        scores = random_matrix(rng, 4, 4, "dense")
        losses += sum(scores[i][j] for i, j in assign(scores)) > greedy(scores) + 1e-9
    assert losses > 0


def random_boxes(rng: np.random.Generator, count: int) -> np.ndarray:
    xy = rng.uniform(0, 60, (count, 2))
    return np.hstack([xy, xy + rng.uniform(5, 40, (count, 2))])


@pytest.mark.parametrize("similarity", ["iou", "giou", "diou", "ciou"])
def test_match_boxes_equals_brute_force_on_random_boxes(similarity: str) -> None:
    rng = np.random.default_rng(11)
    config = RewardConfig(similarity=similarity)
    for _ in range(40):
        n, m = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        pred, gt = random_boxes(rng, n), random_boxes(rng, m)
        matching = match_boxes(pred, gt, config=config)
        scores = similarity_matrix(
            [tuple(b) for b in pred.tolist()],
            [tuple(b) for b in gt.tolist()],
            similarity=similarity,  # type: ignore[arg-type]
        )
        assert len(matching.pairs) == min(n, m)
        assert matching.total == pytest.approx(brute_force(scores), abs=1e-12)
        assert matching.total >= greedy(scores) - 1e-12


def test_match_boxes_with_labels_equals_brute_force() -> None:
    rng = np.random.default_rng(12)
    config = RewardConfig(label_matching="exact")
    names = ["cat", "dog", "car"]
    for _ in range(40):
        n, m = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        pred, gt = random_boxes(rng, n), random_boxes(rng, m)
        labels1 = [names[k] for k in rng.integers(0, 3, n)]
        labels2 = [names[k] for k in rng.integers(0, 3, m)]
        matching = match_boxes(pred, gt, labels1=labels1, labels2=labels2, config=config)
        scores = [
            [
                value if labels1[i] == labels2[j] else 0.0
                for j, value in enumerate(
                    similarity_matrix([tuple(pred[i])], [tuple(b) for b in gt.tolist()])[0]
                )
            ]
            for i in range(n)
        ]
        assert matching.total == pytest.approx(brute_force(scores), abs=1e-12)


def test_assign_with_negative_scores_by_hand() -> None:
    # Found by this suite: negatives used to be paired in index order (total -10).
    # The crossing -1 + -1 = -2 beats the diagonal -5 + -5 = -10.
    assert assign([[-5.0, -1.0], [-1.0, -5.0]]) == [(0, 1), (1, 0)]
