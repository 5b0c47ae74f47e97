"""The synthesis record: one image's verified, grounded annotations and QA.

A :class:`Record` is what the pipeline writes, one JSON line per image. Boxes are
always pixel ``xyxy`` of the original image (after EXIF orientation), integers,
so that a rationale rendered with :func:`~grounding_rewards.format_span` parses
back to exactly the same box. :func:`record_json_schema` exports the JSON Schema
shipped as ``grounding_rewards/synthesis/schema/record.schema.json`` for tools
outside Python.

Example:
    >>> from grounding_rewards.synthesis.records import ImageInfo, ObjectRecord, Record
    >>> image = ImageInfo(id="img", source="a.png", width=64, height=48, sha256="0" * 64)
    >>> face = ObjectRecord(id="o1", label="face", box=(10, 5, 30, 25), score=0.9,
    ...                     detector="face-cascade")
    >>> record = Record(id="r" * 32, image=image, objects=[face])
    >>> Record.model_validate_json(record.model_dump_json()) == record
    True
    >>> ObjectRecord(id="o2", label="x", box=(5, 5, 2, 9), score=1.0, detector="d")
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for ObjectRecord
    box
      Value error, expected x1 < x2 and y1 < y2 (pixel xyxy), got (5, 5, 2, 9) ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grounding_rewards._atomic import write_text_atomic
from grounding_rewards.errors import InputError

__all__ = [
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "Box",
    "ImageInfo",
    "MentionLink",
    "ObjectRecord",
    "Provenance",
    "QAItem",
    "QAKind",
    "Record",
    "RecordStats",
    "Relation",
    "StageError",
    "Statement",
    "Verdict",
    "record_json_schema",
    "write_json_schema",
]

SCHEMA_VERSION = "1"
"""Bumped whenever a field changes meaning or is removed (adding optional fields does not)."""

SCHEMA_PATH = Path(__file__).parent / "schema" / "record.schema.json"
"""Where the exported JSON Schema ships inside the package."""

Box: TypeAlias = tuple[int, int, int, int]
"""A pixel ``(x1, y1, x2, y2)`` box in the original image, ``x1 < x2``, ``y1 < y2``."""

Verdict: TypeAlias = Literal["keep", "rewrite", "drop"]
QAKind: TypeAlias = Literal["attribute", "relation", "counting"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=False)


def _check_box(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    if not (x1 < x2 and y1 < y2) or min(box) < 0:
        raise InputError(f"expected x1 < x2 and y1 < y2 (pixel xyxy), got {box}")
    return box


class ImageInfo(_Model):
    """The source image.

    Attributes:
        id: Stable image id: the first 16 hex digits of ``sha256`` (the same bytes
            give the same id wherever they are stored).
        source: Where the image came from (a path or URL, as given to the runner).
        width: Width in pixels after EXIF orientation was applied (0 only in a
            failed record whose image could not be decoded).
        height: Height in pixels after EXIF orientation was applied (0 likewise).
        sha256: SHA-256 of the encoded file bytes.
    """

    id: str
    source: str
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Statement(_Model):
    """One checkable claim about the image or an object, with its verification.

    Attributes:
        id: ``"<subject>.s<k>"``, unique in the record.
        subject: ``"image"`` for the main caption, else an object id.
        kind: ``existence`` ("the crop shows a <label>"), ``caption`` (a caption
            sentence) or ``attribute`` (``key: value``).
        text: The statement after verification (the rewrite when rewritten).
        original: The statement as the captioner wrote it, when it was rewritten.
        attribute: ``(key, value)`` for attribute statements.
        mentions: Object nouns the statement names.
        flags: Findings of the programmatic checks (e.g. ``unresolved_mention:wall``).
        verdict: The verifier's verdict; ``None`` when verification was skipped.
        note: The verifier's reason.
    """

    id: str
    subject: str
    kind: Literal["existence", "caption", "attribute"]
    text: str
    original: str | None = None
    attribute: tuple[str, str] | None = None
    mentions: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    verdict: Verdict | None = None
    note: str = ""


class ObjectRecord(_Model):
    """A detected, cropped, captioned and verified object.

    Attributes:
        id: ``"o<k>"``, unique in the record.
        label: Short noun phrase, e.g. ``"face"``.
        box: Pixel ``xyxy`` box in the original image (integers).
        score: Detector confidence in ``[0, 1]``.
        detector: Which detector found it (``"face-cascade"``, ``"vlm"``, ``"owlv2"``...).
        merged_from: Detectors of duplicates merged into this object.
        crop_box: The zoomed crop (box plus margin, clamped), or ``None`` when skipped.
        crop_scale: Upscaling factor applied to the crop.
        branch_caption: The level-2 caption after verification.
        attributes: Verified attributes, e.g. ``{"color": "white"}``.
        verdict: ``keep`` (all statements kept), ``rewrite`` (some statements
            rewritten or dropped), ``drop`` (the object itself is not trusted).
        note: Why, in a few words.
    """

    id: str
    label: str = Field(min_length=1)
    box: Box
    score: float = Field(ge=0.0, le=1.0)
    detector: str
    merged_from: list[str] = Field(default_factory=list)
    crop_box: Box | None = None
    crop_scale: float | None = None
    branch_caption: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    verdict: Verdict | None = None
    note: str = ""

    @field_validator("box", "crop_box")
    @classmethod
    def _valid_box(cls, value: Box | None) -> Box | None:
        return None if value is None else _check_box(value)


class Relation(_Model):
    """A spatial relation between two kept objects, computed from their boxes.

    Attributes:
        subject: Object id.
        predicate: ``left of``, ``right of``, ``above``, ``below`` or ``inside``.
        object: Object id.
    """

    subject: str
    predicate: Literal["left of", "right of", "above", "below", "inside"]
    object: str


class MentionLink(_Model):
    """A span of the main caption that names kept objects.

    Attributes:
        start: Character offset in ``Record.main_caption``.
        end: End offset (exclusive).
        text: ``main_caption[start:end]``.
        object_ids: The objects it refers to (several for an ambiguous label).
    """

    start: int
    end: int
    text: str
    object_ids: list[str]


class QAItem(_Model):
    """A multiple-choice question whose rationale is a grounded trace.

    Attributes:
        id: ``"q<k>"``.
        kind: ``attribute``, ``relation`` or ``counting``.
        question: The question text (without the choices).
        choices: Option texts, in the order shown (option ``A`` first).
        answer: The correct option letter.
        rationale: ``<think>...</think><answer>X</answer>`` with every referenced
            object written as ``<obj>label</obj><bbox>[x1, y1, x2, y2]</bbox>``
            (pixel coordinates of the original image).
        object_ids: Objects the rationale grounds, in order.
        gt_boxes: Their boxes (the ``bbox_reward`` ground truth).
        gt_labels: Their labels.
    """

    id: str
    kind: QAKind
    question: str
    choices: list[str] = Field(min_length=2, max_length=26)
    answer: str = Field(pattern=r"^[A-Z]$")
    rationale: str
    object_ids: list[str]
    gt_boxes: list[Box]
    gt_labels: list[str]


class StageError(_Model):
    """A failure inside one stage; the pipeline recorded it and went on.

    Attributes:
        stage: ``load``, ``main_caption``, ``detect``, ``crop``, ``branch_caption``,
            ``merge``, ``verify``, ``qa`` or ``validate``.
        reason: Short code, e.g. ``timeout``, ``http_500``, ``malformed_json``,
            ``image_truncated``, ``rationale_mismatch``.
        message: Human-readable detail.
        subject: The object or QA item concerned, if any.
    """

    stage: str
    reason: str
    message: str = ""
    subject: str | None = None


class Provenance(_Model):
    """What produced the record, enough to reproduce it.

    Attributes:
        pipeline_version: The package version.
        schema_version: :data:`SCHEMA_VERSION`.
        config_fingerprint: SHA-256 of the canonical configuration, templates,
            backends and detectors (part of the record id).
        config: The synthesis configuration as JSON.
        models: Role -> model (``captioner``, ``verifier``, ``detectors``).
        templates: Template id (``"main_caption@v1"``) -> SHA-256 of its text.
        seed: The base seed (generation seeds and option shuffles derive from it).
    """

    pipeline_version: str
    schema_version: str = SCHEMA_VERSION
    config_fingerprint: str
    config: dict[str, Any]
    models: dict[str, str]
    templates: dict[str, str]
    seed: int


class RecordStats(_Model):
    """Per-record counts that the run summary adds up."""

    objects_detected: int = 0
    objects_kept: int = 0
    objects_rewritten: int = 0
    objects_dropped: int = 0
    statements_flagged: int = 0
    hallucinations_caught: int = 0
    qa_generated: int = 0
    qa_dropped: int = 0


class Record(_Model):
    """One image's synthesized annotations.

    Attributes:
        id: Deterministic: SHA-256 of the image bytes and the configuration
            fingerprint (32 hex digits). A rerun with the same inputs gives the same id.
        status: ``ok``, or ``failed`` when a stage that the whole record needs failed
            (then ``errors`` says why and the content fields are empty).
        image: The source image.
        main_caption: The level-1 caption after verification.
        mentions: Spans of ``main_caption`` linked to objects.
        objects: Every detected object, including dropped ones (their ``verdict``
            is ``drop``) so that audits can see what was removed.
        relations: Spatial relations between kept objects.
        statements: Every checked statement and its verdict.
        qa: Validated QA items (each scores 1 on every reward component).
        provenance: Models, templates, seeds, configuration.
        errors: Per-stage errors (the pipeline went on past them).
        stats: Counts for the run summary.
    """

    id: str
    status: Literal["ok", "failed"] = "ok"
    image: ImageInfo
    main_caption: str = ""
    mentions: list[MentionLink] = Field(default_factory=list)
    objects: list[ObjectRecord] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list)
    qa: list[QAItem] = Field(default_factory=list)
    provenance: Provenance | None = None
    errors: list[StageError] = Field(default_factory=list)
    stats: RecordStats = Field(default_factory=RecordStats)

    @model_validator(mode="after")
    def _sized_when_ok(self) -> Record:
        if self.status == "ok" and min(self.image.width, self.image.height) < 1:
            raise InputError(
                f"expected a decoded image size in an ok record, got "
                f"{self.image.width}x{self.image.height}"
            )
        return self

    def kept_objects(self) -> list[ObjectRecord]:
        """Objects whose verdict is not ``drop``."""
        return [obj for obj in self.objects if obj.verdict != "drop"]

    def object(self, object_id: str) -> ObjectRecord:
        """The object with id ``object_id`` (``KeyError`` when absent)."""
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(object_id)


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`Record` (draft 2020-12, as pydantic emits it).

    Example:
        >>> schema = record_json_schema()
        >>> schema["title"], "objects" in schema["properties"]
        ('Record', True)
    """
    schema = Record.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://grounding-rewards/synthesis/record-v{SCHEMA_VERSION}.schema.json"
    return schema


def write_json_schema(path: str | Path = SCHEMA_PATH) -> Path:
    """Write :func:`record_json_schema` to ``path`` (regenerates the shipped file).

    Run ``python -m grounding_rewards.synthesis.schema`` after changing a model.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record_json_schema(), indent=2, sort_keys=True) + "\n"
    return write_text_atomic(target, text)
