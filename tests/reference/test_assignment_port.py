"""The plain-Python assignment solver against scipy's linear_sum_assignment: same pairs.

``matching._shortest_augmenting_path`` ports scipy's solver step for step, so it must
give scipy's pairs exactly, ties included (score matrices of IoUs are full of zeros).
"""

import random

import numpy as np
from scipy.optimize import linear_sum_assignment

from grounding_rewards.matching import _clear_optimum, _shortest_augmenting_path, assign


def _matrices(count: int, seed: int = 0) -> list[list[list[float]]]:
    rng = random.Random(seed)
    matrices = []
    for index in range(count):
        n, m = rng.randint(1, 10), rng.randint(1, 10)
        if index % 3 == 0:  # many exact ties
            values = [0.0, 0.0, 0.25, 0.5, 1.0]
            matrices.append([[rng.choice(values) for _ in range(m)] for _ in range(n)])
        elif index % 3 == 1:  # sparse, like IoUs of a few boxes
            matrices.append(
                [[rng.random() if rng.random() < 0.3 else 0.0 for _ in range(m)] for _ in range(n)]
            )
        else:
            matrices.append([[rng.random() for _ in range(m)] for _ in range(n)])
    return matrices


def _scipy(scores: list[list[float]]) -> list[tuple[int, int]]:
    rows, columns = linear_sum_assignment(np.array(scores), maximize=True)
    return list(zip(rows.tolist(), columns.tolist(), strict=True))


def test_port_gives_scipys_pairs_ties_included():
    for scores in _matrices(3000):
        assert _shortest_augmenting_path(scores) == _scipy(scores), scores


def test_assign_gives_scipys_pairs_at_every_size():
    for scores in [*_matrices(600, seed=1), [[0.0] * 12] * 11, [[1.0] * 11] * 12]:
        assert assign(scores) == _scipy(scores), scores


def test_constant_matrix_gives_the_identity():
    # scipy scans columns from the last so that a constant matrix gives the identity
    assert _shortest_augmenting_path([[0.5] * 4] * 4) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert _shortest_augmenting_path([[0.5] * 3] * 5) == _scipy([[0.5] * 3] * 5)


def test_a_clear_optimum_is_scipys_and_common():
    rng = random.Random(2)
    clear = 0
    for _ in range(3000):
        n, m = rng.randint(3, 8), rng.randint(3, 8)
        # IoU-like: each box overlaps one object well, a few others a little or not at all
        scores = [
            [rng.random() * 0.3 if rng.random() < 0.3 else 0.0 for _ in range(m)] for _ in range(n)
        ]
        for i in rng.sample(range(n), min(n, m)):
            scores[i][rng.randrange(m)] = 0.5 + rng.random() / 2
        pairs = _clear_optimum(scores, n, m)
        clear += pairs is not None
        assert assign(scores) == _scipy(scores), scores
        if pairs is not None:
            assert pairs == _scipy(scores), scores
    assert clear > 300  # the shortcut is taken, so the equality above tests it


def test_near_ties_are_not_clear():
    assert _clear_optimum([[0.5, 0.5 - 1e-12, 0.0], [0.0, 0.1, 0.9], [0.3, 0.0, 0.0]], 3, 3) is None
    assert _clear_optimum([[0.5, 0.0, 0.0], [0.9, 0.0, 0.0], [0.0, 0.0, 0.9]], 3, 3) is None
