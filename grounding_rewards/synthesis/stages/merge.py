"""Merge: one object per thing, mentions linked to boxes, spatial relations from boxes.

Detectors overlap (a face found by the cascade and by the VLM, a person found
twice at two scales); the merge keeps the most confident box of each
same-label group and records what it absorbed. Relations are computed from the
boxes, so every relation in a record is true by construction.

Example:
    >>> from grounding_rewards.synthesis.records import ObjectRecord
    >>> a = ObjectRecord(id="o1", label="face", box=(10, 10, 50, 50), score=0.9, detector="vlm")
    >>> b = ObjectRecord(id="o2", label="face", box=(12, 11, 52, 50), score=0.7,
    ...                  detector="face-cascade")
    >>> c = ObjectRecord(id="o3", label="flag", box=(60, 10, 90, 40), score=0.8, detector="vlm")
    >>> kept = dedupe([a, b, c], iou_threshold=0.6)
    >>> [(o.id, o.merged_from) for o in kept]
    [('o1', ['o2:face-cascade']), ('o3', [])]
    >>> [(r.subject, r.predicate, r.object) for r in spatial_relations(kept)]
    [('o1', 'left of', 'o3'), ('o3', 'right of', 'o1')]
    >>> [(m.text, m.object_ids) for m in link_mentions("A face next to two flags.", kept)]
    [('face', ['o1']), ('flags', ['o3'])]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from grounding_rewards.iou import box_iou
from grounding_rewards.synthesis.records import MentionLink, ObjectRecord, Relation

__all__ = [
    "dedupe",
    "link_mentions",
    "noun_key",
    "resolve_mention",
    "spatial_relations",
]


@lru_cache(maxsize=4096)
def noun_key(text: str) -> str:
    """A comparison key for a noun phrase: lowercase, no article, naive singular.

    Example:
        >>> noun_key("The Boxes"), noun_key("glasses"), noun_key("faces"), noun_key("bus")
        ('box', 'glass', 'face', 'bus')
    """
    words = re.sub(r"[^a-z0-9 \-]+", " ", text.lower()).split()
    while words and words[0] in ("a", "an", "the", "two", "three", "some", "several"):
        words = words[1:]
    if not words:
        return ""
    last = words[-1]
    if last.endswith(("sses", "shes", "ches", "xes", "zes")):
        last = last[:-2]
    elif last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")) and len(last) > 3:
        last = last[:-1]
    return " ".join([*words[:-1], last])


def resolve_mention(noun: str, labels: Iterable[str]) -> bool:
    """Whether ``noun`` names one of ``labels`` (equal keys, or equal head nouns).

    Example:
        >>> resolve_mention("faces", ["face"]), resolve_mention("wall", ["face", "mirror"])
        (True, False)
        >>> resolve_mention("helmet", ["white helmet"])
        True
    """
    key = noun_key(noun)
    if not key:
        return True
    head = key.split()[-1]
    for label in labels:
        other = noun_key(label)
        if other and (other == key or other.split()[-1] == head):
            return True
    return False


def dedupe(objects: Sequence[ObjectRecord], *, iou_threshold: float) -> list[ObjectRecord]:
    """Merge same-label objects whose boxes overlap more than ``iou_threshold``.

    The kept object of a group is the one with the highest score (then the one
    with a branch caption, then the lowest id); ``merged_from`` lists the others
    as ``"<id>:<detector>"``. Order of the kept objects follows their ids.
    """
    if not objects:
        return []
    boxes = np.array([o.box for o in objects], dtype=np.float64)
    iou = box_iou(boxes, boxes)
    keys = [noun_key(o.label) for o in objects]
    order = sorted(
        range(len(objects)),
        key=lambda i: (-objects[i].score, objects[i].branch_caption is None, _id_key(objects[i])),
    )
    absorbed: set[int] = set()
    kept: list[ObjectRecord] = []
    for i in order:
        if i in absorbed:
            continue
        group = [
            j
            for j in order
            if j != i and j not in absorbed and keys[j] == keys[i] and iou[i, j] > iou_threshold
        ]
        absorbed.update(group)
        absorbed.add(i)
        merged = [*objects[i].merged_from]
        merged += [f"{objects[j].id}:{objects[j].detector}" for j in group]
        kept.append(objects[i].model_copy(update={"merged_from": merged}))
    return sorted(kept, key=_id_key)


def _id_key(obj: ObjectRecord) -> tuple[int, str]:
    digits = obj.id.lstrip("o")
    return (int(digits), obj.id) if digits.isdigit() else (1 << 30, obj.id)


def spatial_relations(objects: Sequence[ObjectRecord], limit: int = 24) -> list[Relation]:
    """Relations that hold strictly between boxes: left of, right of, above, below, inside.

    ``A left of B`` means A ends before B starts horizontally (no overlap); ``A
    inside B`` means A's box lies within B's and is smaller.
    """
    relations: list[Relation] = []
    for a in objects:
        for b in objects:
            if a.id == b.id:
                continue
            ax1, ay1, ax2, ay2 = a.box
            bx1, by1, bx2, by2 = b.box
            if ax2 <= bx1:
                relations.append(Relation(subject=a.id, predicate="left of", object=b.id))
            if ax1 >= bx2:
                relations.append(Relation(subject=a.id, predicate="right of", object=b.id))
            if ay2 <= by1:
                relations.append(Relation(subject=a.id, predicate="above", object=b.id))
            if ay1 >= by2:
                relations.append(Relation(subject=a.id, predicate="below", object=b.id))
            inside = bx1 <= ax1 and by1 <= ay1 and ax2 <= bx2 and ay2 <= by2
            if inside and a.box != b.box:
                relations.append(Relation(subject=a.id, predicate="inside", object=b.id))
            if len(relations) >= limit:
                return relations
    return relations


def link_mentions(caption: str, objects: Sequence[ObjectRecord]) -> list[MentionLink]:
    """Spans of ``caption`` that name an object's label (or its plural), linked to ids.

    A label that several objects share links to all of them.
    """
    by_key: dict[str, list[str]] = {}
    for obj in objects:
        by_key.setdefault(noun_key(obj.label), []).append(obj.id)
    links: list[MentionLink] = []
    taken = [False] * len(caption)
    # Longer labels first, so "red car" wins over "car".
    for key in sorted(by_key, key=lambda k: (-len(k), k)):
        if not key:
            continue
        pattern = re.compile(
            r"\b" + r"\s+".join(re.escape(w) for w in key.split()) + r"(?:e?s)?\b", re.I
        )
        for match in pattern.finditer(caption):
            if any(taken[match.start() : match.end()]):
                continue
            if noun_key(match.group(0)) != key:
                continue
            taken[match.start() : match.end()] = [True] * (match.end() - match.start())
            links.append(
                MentionLink(
                    start=match.start(),
                    end=match.end(),
                    text=match.group(0),
                    object_ids=list(by_key[key]),
                )
            )
    return sorted(links, key=lambda link: link.start)
