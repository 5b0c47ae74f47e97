"""One-to-one matching of predicted to ground-truth boxes (Hungarian, maximizing similarity).

``S[i, j]`` is the similarity of predicted box ``i`` and ground-truth box ``j``
(IoU by default, or GIoU/DIoU/CIoU mapped to ``[0, 1]``), optionally multiplied by a
label gate. :func:`match_boxes` returns the assignment maximizing ``Σ S`` with exactly
``min(N, M)`` pairs, as scipy's ``linear_sum_assignment`` does; a pair may have score 0.

Example:
    >>> m = match_boxes([[0, 0, 10, 10], [20, 20, 30, 30]], [[21, 21, 30, 30], [0, 0, 10, 10]])
    >>> m.pairs, [round(s, 2) for s in m.scores]
    (((0, 1), (1, 0)), [1.0, 0.81])
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from grounding_rewards._frozen import rebuild
from grounding_rewards.boxes import as_boxes
from grounding_rewards.config import DEFAULT_CONFIG, LabelMatching, RewardConfig, Similarity
from grounding_rewards.errors import InputError
from grounding_rewards.iou import box_similarity, iou_rows

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["Matching", "assign", "iou_rows", "labels_agree", "match_boxes", "similarity_matrix"]

BoxTuple = tuple[float, ...]
_ARTICLES = frozenset({"a", "an", "the"})
_NON_WORD = re.compile(r"[^\w\s]+")
_NUMPY_ABOVE = 256  # pairs beyond which one vectorized numpy call beats plain Python
# Cells up to which the plain-Python port of scipy's solver runs instead of scipy: compiled
# by mypyc (see setup.py) it beats scipy's per-call overhead on the small matrices of a
# completion; interpreted it does not, and scipy takes anything larger than 2 x 2.
_PORT_CELLS = 4 if __file__.endswith(".py") else 100


@dataclass(frozen=True, slots=True)
class Matching:
    """A one-to-one assignment.

    Attributes:
        pairs: ``(i, j)`` pairs (predicted ``i``, ground truth ``j``), sorted by ``i``;
            exactly ``min(N, M)`` of them.
        scores: Similarity of each pair, in ``[0, 1]``.
        total: ``sum(scores)``, the maximum over all one-to-one assignments.
    """

    pairs: tuple[tuple[int, int], ...]
    scores: tuple[float, ...]
    total: float

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle through the constructor (works compiled too, see ``_frozen``)."""
        return rebuild(self)


@lru_cache(maxsize=8192)
def _exact_key(label: str) -> str:
    return " ".join(label.lower().split())


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=8192)
def _fuzzy_key(label: str) -> frozenset[str]:
    words = _NON_WORD.sub(" ", label.lower()).split()
    return frozenset(_singular(w) for w in words if w not in _ARTICLES)


def labels_agree(predicted: str, ground_truth: str, mode: LabelMatching = "exact") -> float:
    """Label gate in ``[0, 1]`` that multiplies a pair's box similarity.

    - ``ignore``: always 1.
    - ``exact``: 1 when the labels are equal ignoring case and repeated whitespace.
    - ``fuzzy``: 1 when, ignoring case, punctuation, articles and plural ``-s``,
      the words of one label are a subset of the other's ("the men" ~ "man" does
      not hold, "white helmets" ~ "helmet" does).
    - a callable ``(predicted, ground_truth) -> float``: its value clipped to ``[0, 1]``
      (NaN counts as 0).

    Args:
        predicted: Label the model wrote.
        ground_truth: Ground-truth label.
        mode: One of the above.

    Returns:
        The gate value.

    Example:
        >>> labels_agree("Red Car", "red  car"), labels_agree("cars", "a red car", "fuzzy")
        (1.0, 1.0)
        >>> labels_agree("car", "cat", "fuzzy")
        0.0
    """
    if mode == "ignore":
        return 1.0
    if mode == "exact":
        return 1.0 if _exact_key(predicted) == _exact_key(ground_truth) else 0.0
    if mode == "fuzzy":
        a, b = _fuzzy_key(predicted), _fuzzy_key(ground_truth)
        return 1.0 if a and b and (a <= b or b <= a) else 0.0
    value = float(mode(predicted, ground_truth))
    return min(1.0, value) if value > 0.0 else 0.0  # NaN fails "> 0"


def similarity_matrix(
    boxes1: Sequence[BoxTuple],
    boxes2: Sequence[BoxTuple],
    *,
    valid1: Sequence[bool] | None = None,
    valid2: Sequence[bool] | None = None,
    labels1: Sequence[str] | None = None,
    labels2: Sequence[str] | None = None,
    similarity: Similarity = "iou",
    label_matching: LabelMatching = "ignore",
) -> list[list[float]]:
    """Similarity of every pair as nested lists, the input of :func:`assign`.

    Args:
        boxes1: ``N`` predicted ``xyxy`` pixel boxes.
        boxes2: ``M`` ground-truth ``xyxy`` pixel boxes.
        valid1: Which predicted boxes are valid; invalid ones score 0 everywhere.
            ``None`` checks each box.
        valid2: The same for ground-truth boxes.
        labels1: Predicted labels (needed unless ``label_matching='ignore'``).
        labels2: Ground-truth labels (needed unless ``label_matching='ignore'``).
        similarity: ``iou``, ``giou``, ``diou`` or ``ciou`` (mapped to ``[0, 1]``).
        label_matching: Label gate, see :func:`labels_agree`.

    Returns:
        ``N`` rows of ``M`` similarities in ``[0, 1]``.

    Raises:
        InputError: When labels are needed but missing or of the wrong length.

    Example:
        >>> similarity_matrix([(0, 0, 2, 2)], [(0, 0, 2, 2), (0, 0, 1, 2)])
        [[1.0, 0.5]]
    """
    n, m = len(boxes1), len(boxes2)
    if valid1 is None:
        valid1 = [_valid(box) for box in boxes1]
    if valid2 is None:
        valid2 = [_valid(box) for box in boxes2]
    gated = label_matching != "ignore"
    if gated and (labels1 is None or labels2 is None or len(labels1) != n or len(labels2) != m):
        raise InputError(
            f"label_matching={label_matching!r} needs one label per box: expected {n} predicted "
            f"and {m} ground-truth labels, got "
            f"{None if labels1 is None else len(labels1)} and "
            f"{None if labels2 is None else len(labels2)}"
        )
    if n * m > _NUMPY_ABOVE:
        rows: list[list[float]] = box_similarity(boxes1, boxes2, similarity).tolist()
        for i, row in enumerate(rows):
            for j in range(m):
                if not (valid1[i] and valid2[j]):
                    row[j] = 0.0
    else:
        rows = iou_rows(boxes1, valid1, boxes2, similarity)
        if not all(valid2):
            for row in rows:
                for j in range(m):
                    if not valid2[j]:
                        row[j] = 0.0
    if gated:
        assert labels1 is not None and labels2 is not None  # checked above
        for i, row in enumerate(rows):
            for j in range(m):
                if row[j] > 0.0:
                    row[j] *= labels_agree(labels1[i], labels2[j], label_matching)
    return rows


def assign(scores: list[list[float]]) -> list[tuple[int, int]]:
    """One-to-one assignment maximizing the total score: ``min(N, M)`` pairs sorted by row.

    With one row or one column the best cell is taken directly (the optimum), a
    2 x 2 matrix compares its two assignments, and anything larger goes to scipy's
    ``linear_sum_assignment``, or, compiled, up to 100 cells to
    :func:`_shortest_augmenting_path` (scipy's solver written in plain Python: the same
    steps on the same doubles give the same pairs, with no array to build).

    Args:
        scores: ``N`` rows of ``M`` finite scores.

    Returns:
        The ``(row, column)`` pairs.

    Example:
        >>> assign([[0.9, 0.8], [0.85, 0.1]])
        [(0, 1), (1, 0)]
    """
    n = len(scores)
    m = len(scores[0]) if n else 0
    if n == 0 or m == 0:
        return []
    if n == 1:
        row = scores[0]
        return [(0, row.index(max(row)))]
    if m == 1:
        column = [row[0] for row in scores]
        return [(column.index(max(column)), 0)]
    if n == 2 and m == 2:
        (a, b), (c, d) = scores
        return [(0, 0), (1, 1)] if a + d >= b + c else [(0, 1), (1, 0)]
    clear = _clear_optimum(scores, n, m)
    if clear is not None:
        return clear
    if n * m <= _PORT_CELLS:
        return _shortest_augmenting_path(scores)
    return _hungarian()(scores)


# A best cell must beat the next one of its line by more than this to count as clear: far
# above the rounding of a solver's sums of scores in [0, 1], so that no solver can differ.
_CLEAR_MARGIN = 1e-9


def _clear_optimum(scores: list[list[float]], n: int, m: int) -> list[tuple[int, int]] | None:
    """The assignment when it is unique and evident, or ``None``.

    With ``n <= m`` every row is matched, so ``Σ_i max_j S[i, j]`` bounds the total; when
    each row's best cell beats the rest of its row by a clear margin and no two rows
    share their best column, taking those cells reaches the bound, and any other
    assignment falls short of it: the optimum is unique, so any exact solver (scipy's
    included, whatever its tie-breaking) returns these pairs. With ``n > m`` the same
    holds for columns. Most score matrices of a completion are like this (each box
    overlaps one object well), and the check costs one pass over the cells.

    Example:
        >>> _clear_optimum([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.7]], 3, 3)
        [(0, 0), (1, 1), (2, 2)]
        >>> _clear_optimum([[0.9, 0.9, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.7]], 3, 3) is None
        True
    """
    wide = n <= m
    lines = n if wide else m
    taken = [False] * (m if wide else n)
    best_of = [0] * lines
    for line in range(lines):
        best = second = -math.inf
        at = 0
        for other in range(m if wide else n):
            value = scores[line][other] if wide else scores[other][line]
            if value > best:
                second, best, at = best, value, other
            elif value > second:
                second = value
        if best - second <= _CLEAR_MARGIN or taken[at]:
            return None
        taken[at] = True
        best_of[line] = at
    if wide:
        return [(i, best_of[i]) for i in range(n)]
    return sorted([(best_of[j], j) for j in range(m)])


def _shortest_augmenting_path(scores: list[list[float]]) -> list[tuple[int, int]]:
    """Maximum-score assignment, step for step scipy 1.17's ``linear_sum_assignment``.

    A line-by-line port of ``solve`` and ``augmenting_path`` in scipy's
    ``rectangular_lsap.cpp`` (Crouse's shortest augmenting path, with scipy's
    tie-breaking: columns scanned from the last, a free column preferred among equal
    costs) for ``maximize=True``: the costs are the negated scores, a tall matrix is
    transposed, and the doubles go through the same operations in the same order, so
    the pairs are scipy's, ties included (tested against scipy on random matrices
    with ties). Cost O(n²·m); used for small matrices only.

    Args:
        scores: ``N`` rows of ``M`` finite scores, ``N, M >= 1``.

    Returns:
        ``min(N, M)`` pairs sorted by row.

    Example:
        >>> _shortest_augmenting_path([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        [(0, 0), (1, 1), (2, 2)]
    """
    nr = len(scores)
    nc = len(scores[0])
    transpose = nc < nr
    cost: list[list[float]]
    if transpose:
        cost = [[-scores[i][j] for i in range(nr)] for j in range(nc)]
        nr, nc = nc, nr
    else:
        cost = [[-value for value in row] for row in scores]
    inf = math.inf
    u = [0.0] * nr
    v = [0.0] * nc
    shortest = [inf] * nc
    path = [-1] * nc
    col4row = [-1] * nr
    row4col = [-1] * nc
    in_rows = [False] * nr
    in_columns = [False] * nc
    for current in range(nr):
        # augmenting_path: the shortest path from row `current` to a free column
        min_value = 0.0
        remaining = list(range(nc - 1, -1, -1))
        for k in range(nr):
            in_rows[k] = False
        for k in range(nc):
            in_columns[k] = False
            shortest[k] = inf
        i = current
        sink = -1
        while sink == -1:
            index = -1
            lowest = inf
            in_rows[i] = True
            row = cost[i]
            u_i = u[i]
            for it in range(len(remaining)):
                j = remaining[it]
                r = min_value + row[j] - u_i - v[j]
                if r < shortest[j]:
                    path[j] = i
                    shortest[j] = r
                if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                    lowest = shortest[j]
                    index = it
            min_value = lowest
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            in_columns[j] = True
            remaining[index] = remaining[-1]
            remaining.pop()
        # update the dual variables
        u[current] += min_value
        for k in range(nr):
            if in_rows[k] and k != current:
                u[k] += min_value - shortest[col4row[k]]
        for k in range(nc):
            if in_columns[k]:
                v[k] -= min_value - shortest[k]
        # augment the previous solution
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            col4row[i], j = j, col4row[i]
            if i == current:
                break
    if transpose:  # pairs (original row, original column), sorted by original row
        return sorted((col4row[k], k) for k in range(nr))
    return [(k, col4row[k]) for k in range(nr)]


_SOLVER: list[Callable[[list[list[float]]], list[tuple[int, int]]]] = []


def _hungarian() -> Callable[[list[list[float]]], list[tuple[int, int]]]:
    """Return a Hungarian solver over nested lists (scipy's), built on first use.

    numpy and ``scipy.optimize`` take ~300 ms to import and most completions never
    need them (one row, one column or 2 x 2); import statements on every call would
    cost ~0.35 us, a third of the solver's own time on a 3 x 3 matrix, hence the cache.
    """
    if not _SOLVER:
        import numpy as np
        from scipy.optimize import linear_sum_assignment

        def solve(scores: list[list[float]]) -> list[tuple[int, int]]:
            rows, columns = linear_sum_assignment(np.array(scores, dtype=np.float64), maximize=True)
            return list(zip(rows.tolist(), columns.tolist(), strict=True))

        _SOLVER.append(solve)
    return _SOLVER[0]


def _valid(box: BoxTuple) -> bool:
    x1, y1, x2, y2 = box
    return math.isfinite(x1 + y1 + x2 + y2) and x1 < x2 and y1 < y2


def match_boxes(
    boxes1: ArrayLike,
    boxes2: ArrayLike,
    *,
    labels1: Sequence[str] | None = None,
    labels2: Sequence[str] | None = None,
    config: RewardConfig | None = None,
) -> Matching:
    """Match predicted to ground-truth boxes one-to-one, maximizing total similarity.

    Args:
        boxes1: ``[N, 4]`` predicted ``xyxy`` boxes, in the same (pixel) space as ``boxes2``.
            Degenerate or non-finite boxes are allowed and score 0.
        boxes2: ``[M, 4]`` ground-truth ``xyxy`` boxes.
        labels1: ``N`` predicted labels, for label gating.
        labels2: ``M`` ground-truth labels, for label gating.
        config: ``similarity`` and ``label_matching`` are read; ``None`` uses the defaults.

    Returns:
        The :class:`Matching`, with exactly ``min(N, M)`` pairs.

    Raises:
        InputError: For arrays not of shape ``[N, 4]``, or missing labels under gating.

    Example:
        >>> cfg = RewardConfig(label_matching="exact")
        >>> match_boxes([[0, 0, 1, 1]], [[0, 0, 1, 1]], labels1=["dog"], labels2=["cat"],
        ...             config=cfg).scores
        (0.0,)
    """
    config = config or DEFAULT_CONFIG
    b1 = [tuple(row) for row in as_boxes(boxes1).tolist()]
    b2 = [tuple(row) for row in as_boxes(boxes2).tolist()]
    scores = similarity_matrix(
        b1,
        b2,
        labels1=labels1,
        labels2=labels2,
        similarity=config.similarity,
        label_matching=config.label_matching,
    )
    pairs = tuple(assign(scores))
    matched = tuple(scores[i][j] for i, j in pairs)
    return Matching(pairs, matched, math.fsum(matched))
