"""Verify: split captions into statements, check them in code, then ask the verifier.

1. :func:`build_statements` turns the main caption and each object's branch
   caption and attributes into small checkable statements.
2. :func:`check_statements` runs the programmatic checks: an object noun that no
   detector found (``unresolved_mention:wall``) and a malformed attribute are
   flagged; the verifier sees the flags.
3. :func:`verify_statements` asks the verifier for a ``keep`` / ``rewrite`` /
   ``drop`` verdict on every statement (one request per subject, batched).
4. :func:`apply_verdicts` rebuilds the captions and attributes from what was kept
   and gives each object its verdict: ``drop`` when its existence is not
   confirmed, ``rewrite`` when some statement was rewritten or dropped.

A statement the verifier did not answer counts as dropped: unverified text must
not reach training data.

Example:
    >>> from grounding_rewards.synthesis.records import ObjectRecord
    >>> from grounding_rewards.synthesis.stages.common import BranchAnswer
    >>> face = ObjectRecord(id="o1", label="face", box=(0, 0, 9, 9), score=1, detector="d")
    >>> branch = BranchAnswer(caption="The face is pink. A wall is behind it.",
    ...                       attributes={"color": "pink"}, mentions=["face", "wall"])
    >>> statements = build_statements("", [], {"o1": (face, branch)})
    >>> [s.text for s in statements]
    ['The crop shows a face.', 'The face is pink.', 'A wall is behind it.',
     'The face has color pink.']
    >>> [s.flags for s in check_statements(statements, ["face"])]
    [[], [], ['unresolved_mention:wall'], []]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence

from grounding_rewards.synthesis.records import ObjectRecord, Statement
from grounding_rewards.synthesis.stages.common import (
    BranchAnswer,
    StageContext,
    StageFailedError,
    VerdictItem,
    VerifyAnswer,
    ask_many,
    clean_label,
    clean_text,
)
from grounding_rewards.synthesis.stages.merge import noun_key, resolve_mention

__all__ = [
    "VerificationResult",
    "apply_verdicts",
    "build_statements",
    "check_statements",
    "split_sentences",
    "verify_statements",
]

_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z _-]{0,23}$")


def split_sentences(text: str) -> list[str]:
    """Split text into trimmed sentences.

    Example:
        >>> split_sentences("A cat. It sleeps!  On a mat")
        ['A cat.', 'It sleeps!', 'On a mat']
    """
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _mentions_in(sentence: str, nouns: Iterable[str]) -> list[str]:
    found = []
    lowered = sentence.lower()
    for noun in nouns:
        key = noun_key(noun)
        if key and re.search(r"\b" + re.escape(key) + r"(?:e?s)?\b", lowered):
            found.append(clean_label(noun))
    return sorted(set(found))


def build_statements(
    main_caption: str,
    caption_objects: Sequence[str],
    branches: Mapping[str, tuple[ObjectRecord, BranchAnswer]],
) -> list[Statement]:
    """The statements to verify, in order.

    First the main caption's sentences, then per object its existence, its
    branch-caption sentences and its attributes.
    """
    statements: list[Statement] = []
    for k, sentence in enumerate(split_sentences(main_caption), start=1):
        statements.append(
            Statement(
                id=f"image.s{k}",
                subject="image",
                kind="caption",
                text=sentence,
                mentions=_mentions_in(sentence, caption_objects),
            )
        )
    for object_id, (obj, branch) in branches.items():
        label = obj.label
        items = [
            Statement(
                id=f"{object_id}.s1",
                subject=object_id,
                kind="existence",
                text=f"The crop shows a {label}.",
                mentions=[label],
            )
        ]
        nouns = [label, *branch.mentions]
        for sentence in split_sentences(clean_text(branch.caption)):
            items.append(
                Statement(
                    id=f"{object_id}.s{len(items) + 1}",
                    subject=object_id,
                    kind="caption",
                    text=sentence,
                    mentions=_mentions_in(sentence, nouns),
                )
            )
        cleaned = {
            clean_label(k).replace("-", " "): clean_text(v, 40)
            for k, v in branch.attributes.items()
        }
        for key, value in sorted(cleaned.items()):
            items.append(
                Statement(
                    id=f"{object_id}.s{len(items) + 1}",
                    subject=object_id,
                    kind="attribute",
                    text=f"The {label} has {key} {value}.",
                    attribute=(key, value),
                )
            )
        statements.extend(items)
    return statements


def check_statements(
    statements: Sequence[Statement], detected_labels: Iterable[str]
) -> list[Statement]:
    """Programmatic checks; returns the statements with ``flags`` filled.

    - ``unresolved_mention:<noun>``: the statement names an object no detector found.
    - ``malformed_attribute``: an attribute key or value that is not a short word or two.
    """
    labels = list(detected_labels)
    checked = []
    for statement in statements:
        flags = [
            f"unresolved_mention:{noun}"
            for noun in statement.mentions
            if not resolve_mention(noun, labels)
        ]
        if statement.attribute is not None:
            key, value = statement.attribute
            if not _ATTRIBUTE_KEY.match(key) or not value or len(value.split()) > 3:
                flags.append("malformed_attribute")
        checked.append(statement.model_copy(update={"flags": flags}))
    return checked


async def verify_statements(
    context: StageContext,
    statements: Sequence[Statement],
    evidence: Mapping[str, bytes | None],
    subjects: Mapping[str, str],
) -> tuple[dict[str, VerdictItem], list[StageFailedError]]:
    """Ask the verifier about every subject's statements, in one batch.

    Args:
        context: The stage context.
        statements: Checked statements.
        evidence: Subject -> encoded image the verifier may look at (``None``: none).
        subjects: Subject -> how the prompt names it ("the whole image", "the face").

    Returns:
        ``(verdicts by statement id, failures)``; a failed subject has no verdicts.
    """
    by_subject: dict[str, list[Statement]] = {}
    for statement in statements:
        by_subject.setdefault(statement.subject, []).append(statement)
    requests = []
    for subject, items in by_subject.items():
        image = evidence.get(subject) if context.config.verifier_sees_images else None
        payload = [
            {
                "id": s.id,
                "kind": s.kind,
                "text": s.text,
                "attribute": list(s.attribute) if s.attribute else None,
                "flags": s.flags,
            }
            for s in items
        ]
        requests.append(
            context.request(
                "verify",
                {
                    "evidence": "The attached image shows exactly what the statements are about."
                    if image is not None
                    else "No image is attached: judge from the statements and the flags.",
                    "subject": subjects.get(subject, subject),
                    "statements": json.dumps(payload, indent=1),
                },
                [image] if image is not None else [],
                VerifyAnswer,
                subject=subject,
            )
        )
    answers = await ask_many(
        context.verifier, requests, VerifyAnswer, retries=context.config.json_retries
    )
    verdicts: dict[str, VerdictItem] = {}
    failures: list[StageFailedError] = []
    for subject, answer in zip(by_subject, answers, strict=True):
        if isinstance(answer, StageFailedError):
            answer.stage, answer.subject = "verify", subject
            failures.append(answer)
            continue
        known = {s.id for s in by_subject[subject]}
        for item in answer.verdicts:
            if item.id in known:
                verdicts.setdefault(item.id, item)
    return verdicts, failures


class VerificationResult:
    """What :func:`apply_verdicts` returns.

    Attributes:
        statements: Every statement with its verdict, note and (for rewrites) original.
        objects: The objects with verdict, note, branch caption and attributes set.
        main_caption: The main caption rebuilt from kept statements.
        caught: Statements the verifier rewrote or dropped (hallucinations caught).
    """

    __slots__ = ("caught", "main_caption", "objects", "statements")

    def __init__(
        self,
        statements: list[Statement],
        objects: list[ObjectRecord],
        main_caption: str,
        caught: int,
    ) -> None:
        self.statements = statements
        self.objects = objects
        self.main_caption = main_caption
        self.caught = caught


def _parse_attribute_rewrite(text: str, key: str) -> str | None:
    # Accept "color: white" or "The face has color white."
    text = text.strip().rstrip(".")
    if ":" in text:
        head, value = text.split(":", 1)
        if clean_label(head) == key:
            return clean_text(value, 40) or None
    match = re.search(rf"\bhas {re.escape(key)} (.+)$", text)
    if match is None:
        return None
    return clean_text(match.group(1), 40) or None


def apply_verdicts(
    statements: Sequence[Statement],
    objects: Sequence[ObjectRecord],
    verdicts: Mapping[str, VerdictItem] | None,
) -> VerificationResult:
    """Apply verdicts (``None``: verification was skipped, everything is kept unverified)."""
    updated: list[Statement] = []
    caught = 0
    for statement in statements:
        if verdicts is None:
            updated.append(statement)
            continue
        item = verdicts.get(statement.id)
        if item is None:
            updated.append(
                statement.model_copy(update={"verdict": "drop", "note": "no verdict returned"})
            )
            continue
        change: dict[str, object] = {"verdict": item.verdict, "note": clean_text(item.note, 200)}
        if item.verdict == "rewrite":
            new_text = clean_text(item.text)
            if statement.kind == "attribute" and statement.attribute is not None:
                value = _parse_attribute_rewrite(item.text, statement.attribute[0])
                if value is None:
                    change["verdict"] = "drop"
                    change["note"] = f"unusable rewrite {item.text!r}; {change['note']}"
                else:
                    key = statement.attribute[0]
                    change["attribute"] = (key, value)
                    label = statement.text.split(" has ", 1)[0]
                    new_text = f"{label} has {key} {value}."
            if change["verdict"] == "rewrite":
                if not new_text:
                    change["verdict"] = "drop"
                else:
                    change["original"], change["text"] = statement.text, new_text
        if item.verdict in ("rewrite", "drop"):
            caught += 1
        updated.append(statement.model_copy(update=change))

    by_subject: dict[str, list[Statement]] = {}
    for statement in updated:
        by_subject.setdefault(statement.subject, []).append(statement)

    new_objects: list[ObjectRecord] = []
    for obj in objects:
        items = by_subject.get(obj.id)
        if obj.verdict == "drop" or items is None:
            new_objects.append(obj)
            continue
        kept = [s for s in items if s.verdict != "drop"]
        caption = " ".join(s.text for s in kept if s.kind == "caption")
        attributes = {s.attribute[0]: s.attribute[1] for s in kept if s.attribute is not None}
        update: dict[str, object] = {"branch_caption": caption, "attributes": attributes}
        if verdicts is not None:
            existence = next((s for s in items if s.kind == "existence"), None)
            changed = [s for s in items if s.verdict in ("rewrite", "drop")]
            if existence is not None and existence.verdict != "keep":
                update["verdict"] = "drop"
                update["note"] = f"existence not confirmed: {existence.note}"
            elif changed:
                update["verdict"] = "rewrite"
                update["note"] = "; ".join(f"{s.id} {s.verdict}: {s.note}" for s in changed)
            else:
                update["verdict"] = "keep"
                update["note"] = "all statements confirmed"
        new_objects.append(obj.model_copy(update=update))
    main = [s for s in by_subject.get("image", []) if s.verdict != "drop"]
    return VerificationResult(updated, new_objects, " ".join(s.text for s in main), caught)
