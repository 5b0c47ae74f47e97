r"""What the stages share: the context, stage failures, seeds and model answers as JSON.

Model output is untrusted: every answer is parsed into a small pydantic model
(:class:`MainCaptionAnswer`, :class:`GroundAnswer`, :class:`BranchAnswer`,
:class:`VerifyAnswer`); malformed JSON is retried with a new seed and then
becomes a :class:`StageFailedError` with reason ``malformed_json``.

Example:
    >>> parse_answer('Sure: ```json\n{"caption": "A cat.", "objects": ["cat"]}\n```',
    ...              MainCaptionAnswer).objects
    ['cat']
    >>> parse_answer("no json here", MainCaptionAnswer)
    Traceback (most recent call last):
    ...
    grounding_rewards.errors.StageFailedError: malformed_json: expected a JSON ...
    >>> seed = derive_seed(0, "record", "branch_caption", "o1")
    >>> seed == derive_seed(0, "record", "branch_caption", "o1") != derive_seed(1, "record")
    True
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grounding_rewards.errors import StageFailedError
from grounding_rewards.synthesis.backends.base import Backend, BackendError, GenerationRequest
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.prompts import Template, load_template

__all__ = [
    "BranchAnswer",
    "GroundAnswer",
    "GroundItem",
    "MainCaptionAnswer",
    "StageContext",
    "StageFailedError",
    "VerdictItem",
    "VerifyAnswer",
    "ask",
    "ask_many",
    "clean_label",
    "clean_text",
    "derive_seed",
    "parse_answer",
]

AnswerT = TypeVar("AnswerT", bound=BaseModel)

_LABEL_JUNK = re.compile(r"[^a-z0-9 '\-]+")
_SPACES = re.compile(r"\s+")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_SURROGATE = re.compile("[\\ud800-\\udfff]")


def clean_label(text: str) -> str:
    """Normalize a model-written object label: lowercase, plain words, at most 40 characters.

    Labels end up inside ``<obj>`` tags, so anything that could open a tag goes.

    Example:
        >>> clean_label("  The <b>Red</b> Car!! ")
        'red car'
    """
    text = _LABEL_JUNK.sub(" ", re.sub(r"<[^>]*>", " ", text.lower()))
    words = _SPACES.sub(" ", text).strip().split(" ")
    while words and words[0] in ("a", "an", "the"):
        words = words[1:]
    return " ".join(words)[:40].strip()


def clean_text(text: str, limit: int = 600) -> str:
    r"""Normalize free text from a model: no angle brackets (they would read as tags), one line.

    Example:
        >>> clean_text("A <obj>cat</obj>\n sits.")
        'A cat sits.'
    """
    text = re.sub(r"<[^>]*>", "", text).replace("<", " ").replace(">", " ")
    return _SPACES.sub(" ", text).strip()[:limit]


def derive_seed(base: int, *parts: str) -> int:
    """A 31-bit seed from the base seed and names (record id, stage, subject).

    Every request and shuffle gets its own seed, stable across runs and machines.
    """
    digest = hashlib.sha256(":".join([str(base), *parts]).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MainCaptionAnswer(_Answer):
    """The level-1 caption and the object nouns it names."""

    caption: str = Field(min_length=1)
    objects: list[str] = Field(default_factory=list)


class GroundItem(_Answer):
    """One box the VLM grounded itself."""

    label: str
    box: tuple[float, float, float, float]


class GroundAnswer(_Answer):
    """The VLM's own grounding of the labels it was given."""

    objects: list[GroundItem] = Field(default_factory=list)


class BranchAnswer(_Answer):
    """The level-2 caption of one crop."""

    caption: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)
    mentions: list[str] = Field(default_factory=list)

    @field_validator("attributes", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        # Models write {"count": 2} or {"color": null}; keep scalars, drop the rest.
        if isinstance(value, dict):
            return {
                str(k): str(v)
                for k, v in value.items()
                if isinstance(v, str | int | float) and not isinstance(v, bool)
            }
        return value


class VerdictItem(_Answer):
    """The verifier's verdict on one statement."""

    id: str
    verdict: Literal["keep", "rewrite", "drop"]
    text: str = ""
    note: str = ""

    @field_validator("verdict", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class VerifyAnswer(_Answer):
    """The verifier's verdicts, one per statement id."""

    verdicts: list[VerdictItem]


def _json_candidates(text: str) -> list[str]:
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    return candidates


def _without_surrogates(value: Any) -> Any:
    # A "\ud800" escape decodes to a lone surrogate, which no UTF-8 file can hold:
    # it becomes U+FFFD, visibly, before the text reaches a record.
    text = json.dumps(value, ensure_ascii=False)
    return json.loads(_SURROGATE.sub("\ufffd", text)) if _SURROGATE.search(text) else value


def parse_answer(text: str, model: type[AnswerT], *, stage: str = "") -> AnswerT:
    r"""Parse a model's answer into ``model``; accepts code fences and chatter around the JSON.

    Lone surrogates (``"\ud800"`` escapes) in the answer's strings become U+FFFD.

    Raises:
        StageFailedError: ``malformed_json`` when no candidate validates.

    Example:
        >>> answer = parse_answer('{"caption": "A \\ud800 cat."}', MainCaptionAnswer)
        >>> answer.caption == "A \ufffd cat."
        True
    """
    problem = f"expected a JSON object, got {text[:60]!r}"
    for candidate in _json_candidates(text):
        try:
            value = _without_surrogates(json.loads(candidate))
        except json.JSONDecodeError as exc:
            problem = f"invalid JSON ({exc.msg} at {exc.pos})"
            continue
        except RecursionError:
            problem = "JSON nested too deeply to decode"
            continue
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "<root>"
            problem = f"{model.__name__}.{where}: {first['msg']}"
    raise StageFailedError(stage, "malformed_json", problem)


@dataclass
class StageContext:
    """Everything a model stage needs.

    Attributes:
        config: The synthesis configuration.
        captioner: The VLM backend (main caption, grounding, branch captions).
        verifier: The verifier backend (defaults to the captioner).
        record_id: Id of the record being made (seeds derive from it).
        templates_used: Template id -> SHA-256, filled as templates are used.
    """

    config: SynthesisConfig
    captioner: Backend
    verifier: Backend
    record_id: str = ""
    templates_used: dict[str, str] = field(default_factory=dict)

    def template(self, name: str) -> Template:
        """The configured version of template ``name`` (and note it for provenance)."""
        template = load_template(name, self.config.template_versions.get(name, 1))
        self.templates_used[template.id] = template.sha256
        return template

    def request(
        self,
        name: str,
        values: dict[str, Any],
        images: Sequence[bytes],
        schema: type[BaseModel],
        *,
        subject: str = "",
    ) -> GenerationRequest:
        """Render template ``name`` into a request with its own seed and JSON schema."""
        template = self.template(name)
        return GenerationRequest(
            prompt=template.render(**values),
            images=tuple(images),
            max_tokens=self.config.max_tokens,
            temperature=self.config.temperature,
            seed=derive_seed(self.config.seed, self.record_id, name, subject),
            json_schema=_json_schema(schema),
            template_id=template.id,
            metadata={"record_id": self.record_id, "subject": subject},
        )


@cache
def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    # Building a schema costs about a millisecond; it is the same for every request.
    schema: dict[str, Any] = model.model_json_schema()
    return schema


def _reseeded(request: GenerationRequest, attempt: int) -> GenerationRequest:
    return GenerationRequest(
        prompt=request.prompt,
        images=request.images,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        seed=(request.seed + attempt * 7919) & 0x7FFFFFFF,
        json_schema=request.json_schema,
        template_id=request.template_id,
        metadata=request.metadata,
    )


async def ask(
    backend: Backend, request: GenerationRequest, model: type[AnswerT], *, retries: int
) -> AnswerT:
    """Send ``request`` and parse the answer, retrying malformed JSON ``retries`` times.

    Raises:
        StageFailedError: With the backend's reason, or ``malformed_json``.
    """
    (result,) = await ask_many(backend, [request], model, retries=retries)
    if isinstance(result, StageFailedError):
        raise result
    return result


async def ask_many(
    backend: Backend,
    requests: Sequence[GenerationRequest],
    model: type[AnswerT],
    *,
    retries: int,
) -> list[AnswerT | StageFailedError]:
    """Send ``requests`` as one batch; each result is a parsed answer or a failure.

    Transient backend errors are not retried here (the HTTP backend retries them
    itself). A malformed answer is re-asked with a new seed, ``retries`` times, in
    one batch per attempt, whether the backend returned it as text that does not
    parse or reported it as ``BackendError(reason="malformed_json")`` (the HTTP
    backend does when no JSON can be found in the answer).
    """
    results: list[AnswerT | StageFailedError | None] = [None] * len(requests)
    pending = list(range(len(requests)))
    for attempt in range(retries + 1):
        if not pending:
            break
        batch = [_reseeded(requests[i], attempt) if attempt else requests[i] for i in pending]
        answers = await backend.generate_many(batch)
        still: list[int] = []
        for index, answer in zip(pending, answers, strict=True):
            stage = requests[index].stage
            subject = requests[index].metadata.get("subject") or None
            if isinstance(answer, BackendError):
                results[index] = StageFailedError(stage, answer.reason, str(answer), subject)
                if answer.reason == "malformed_json":
                    still.append(index)
                continue
            try:
                results[index] = parse_answer(answer, model, stage=stage)
            except StageFailedError as failure:
                failure.subject = subject
                results[index] = failure
                still.append(index)
        pending = still
    return [r for r in results if r is not None]
