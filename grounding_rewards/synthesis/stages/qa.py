"""Grounded multiple-choice QA from a verified record.

Three kinds, each built only from verified facts so the answer is right by
construction: **attribute** ("What color is the face?"), **relation** ("Which
object is left of the flag?", from box geometry) and **counting** ("How many
faces are there?"). Options are shuffled with a seed derived from the record id,
and the rationale is a grounded trace in the exact format the rewards parse,
every box written with :func:`grounding_rewards.format_span`.

Example:
    >>> from grounding_rewards.synthesis.records import ImageInfo, ObjectRecord, Record
    >>> face = ObjectRecord(id="o1", label="face", box=(10, 10, 40, 40), score=1.0,
    ...                     detector="d", attributes={"color": "pink"}, verdict="keep")
    >>> record = Record(id="r1", image=ImageInfo(id="i", source="s", width=100, height=80,
    ...                 sha256="0" * 64), objects=[face])
    >>> items = generate_qa(record, kinds=("attribute",), n_choices=4, seed=0)
    >>> items[0].question, items[0].choices[ord(items[0].answer) - 65]
    ('What color is the face?', 'pink')
    >>> items[0].rationale.split("</think>")[0]
    '<think>The <obj>face</obj><bbox>[10, 10, 40, 40]</bbox> is pink.'
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from typing import Any

from grounding_rewards.parsing import format_span
from grounding_rewards.synthesis.prompts import load_template
from grounding_rewards.synthesis.records import ObjectRecord, QAItem, QAKind, Record
from grounding_rewards.synthesis.stages.common import derive_seed
from grounding_rewards.synthesis.stages.merge import noun_key

__all__ = ["generate_qa", "plural"]

_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")
_PREDICATE_TEXT = {
    "left of": "to the left of",
    "right of": "to the right of",
    "above": "above",
    "below": "below",
    "inside": "inside",
}
_KNOWN_VALUES = {"brightness": ["dark", "medium", "bright"]}


def plural(noun: str) -> str:
    """Naive English plural of a noun phrase's last word.

    Example:
        >>> plural("face"), plural("box"), plural("red berry"), plural("glass")
        ('faces', 'boxes', 'red berries', 'glasses')
    """
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _references(objects: Sequence[ObjectRecord]) -> dict[str, str]:
    """Object id -> an unambiguous referring phrase ("face", "second patch from the left")."""
    groups: dict[str, list[ObjectRecord]] = {}
    for obj in objects:
        groups.setdefault(noun_key(obj.label), []).append(obj)
    refs: dict[str, str] = {}
    for group in groups.values():
        if len(group) == 1:
            refs[group[0].id] = group[0].label
            continue
        centers = [(o.box[0] + o.box[2]) / 2 for o in group]
        if len(set(centers)) < len(centers) or len(group) > len(_ORDINALS):
            continue  # no unambiguous left-to-right order: leave them unreferenced
        for rank, obj in enumerate(sorted(group, key=lambda o: (o.box[0] + o.box[2]) / 2)):
            refs[obj.id] = f"{_ORDINALS[rank]} {obj.label} from the left"
    return refs


def _choices(
    correct: str, distractors: Sequence[str], n_choices: int, rng: random.Random
) -> tuple[list[str], str] | None:
    pool = sorted({d for d in distractors if d != correct})
    if not pool:
        return None
    picked = rng.sample(pool, min(n_choices - 1, len(pool)))
    options = [correct, *picked]
    rng.shuffle(options)
    return options, string.ascii_uppercase[options.index(correct)]


def _trace(think: str, letter: str) -> str:
    return f"<think>{think}</think><answer>{letter}</answer>"


def generate_qa(
    record: Record,
    *,
    kinds: Sequence[QAKind] = ("attribute", "relation", "counting"),
    n_choices: int = 4,
    max_per_kind: int = 3,
    seed: int = 0,
    phrasing: dict[str, Any] | None = None,
) -> list[QAItem]:
    """Questions about the record's kept objects (verdict not ``drop``).

    Args:
        record: A verified record.
        kinds: Which kinds to generate.
        n_choices: Options per question (fewer when too few distractors exist).
        max_per_kind: At most this many of each kind.
        seed: Base seed; each question's shuffle derives from it and the record id.
        phrasing: The QA phrasing template (``qa@v1`` by default).

    Returns:
        The QA items, ids ``q1``, ``q2``... in generation order.
    """
    words = phrasing or load_template("qa", 1).data()
    objects = record.kept_objects()
    refs = _references(objects)
    by_id = {o.id: o for o in objects}
    items: list[QAItem] = []

    def add(
        kind: QAKind,
        question: str,
        correct: str,
        distractors: Sequence[str],
        think: str,
        grounded: Sequence[ObjectRecord],
    ) -> None:
        rng = random.Random(derive_seed(seed, record.id, "qa", kind, str(len(items))))
        made = _choices(correct, distractors, n_choices, rng)
        if made is None:
            return
        options, letter = made
        items.append(
            QAItem(
                id=f"q{len(items) + 1}",
                kind=kind,
                question=question,
                choices=options,
                answer=letter,
                rationale=_trace(think, letter),
                object_ids=[o.id for o in grounded],
                gt_boxes=[o.box for o in grounded],
                gt_labels=[o.label for o in grounded],
            )
        )

    def span(obj: ObjectRecord) -> str:
        return format_span(obj.label, obj.box)

    def described(obj: ObjectRecord) -> str:
        ref = refs[obj.id]
        return span(obj) if ref == obj.label else f"{span(obj)} (the {ref})"

    if "attribute" in kinds:
        count = 0
        for obj in objects:
            if obj.id not in refs:
                continue
            for key, value in sorted(obj.attributes.items()):
                if count >= max_per_kind:
                    break
                if key == "color":
                    question = string.Template(words["attribute_color"]).substitute(
                        ref=refs[obj.id]
                    )
                    pool = list(words["colors"])
                else:
                    question = string.Template(words["attribute"]).substitute(
                        key=key, ref=refs[obj.id]
                    )
                    pool = [o.attributes[key] for o in objects if key in o.attributes]
                    pool += _KNOWN_VALUES.get(key, [])
                think = string.Template(words["attribute_rationale"]).substitute(
                    span=described(obj), value=value
                )
                before = len(items)
                add("attribute", question, value, pool, think, [obj])
                count += len(items) - before

    if "relation" in kinds:
        count = 0
        asked: set[tuple[str, str]] = set()
        for relation in record.relations:
            if count >= max_per_kind:
                break
            subject, target = by_id.get(relation.subject), by_id.get(relation.object)
            if subject is None or target is None or target.id not in refs:
                continue
            if (relation.predicate, target.id) in asked:
                continue  # one question per (predicate, object): the same text, one answer
            holds = {
                noun_key(by_id[r.subject].label)
                for r in record.relations
                if r.object == target.id
                and r.predicate == relation.predicate
                and r.subject in by_id
            }
            if noun_key(subject.label) == noun_key(target.label):
                continue  # "which object is left of the face? a face" reads badly
            labels = {o.label for o in objects}
            distractors = [
                label
                for label in labels
                if noun_key(label) not in holds and noun_key(label) != noun_key(target.label)
            ] + [
                n
                for n in words["distractor_nouns"]
                if noun_key(n) not in {noun_key(label) for label in labels}
            ]
            predicate = _PREDICATE_TEXT[relation.predicate]
            question = string.Template(words["relation"]).substitute(
                predicate=predicate, ref=refs[target.id]
            )
            think = string.Template(words["relation_rationale"]).substitute(
                span=span(subject), predicate=predicate, ref_span=described(target)
            )
            before = len(items)
            add("relation", question, subject.label, distractors, think, [subject, target])
            if len(items) > before:
                count += 1
                asked.add((relation.predicate, target.id))

    if "counting" in kinds:
        groups: dict[str, list[ObjectRecord]] = {}
        for obj in objects:
            groups.setdefault(obj.label, []).append(obj)
        for label, group in sorted(groups.items())[:max_per_kind]:
            n = len(group)
            numbers = [str(k) for k in range(max(0, n - 3), n + 4) if k != n]
            question = string.Template(words["counting"]).substitute(plural=plural(label))
            think = string.Template(words["counting_rationale"]).substitute(
                count=n,
                noun=label if n == 1 else plural(label),
                spans=", ".join(span(o) for o in group),
            )
            add("counting", question, str(n), numbers, think, group)
    return items
