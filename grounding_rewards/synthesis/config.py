"""The synthesis configuration: one validated, frozen object, part of every record id.

Example:
    >>> from grounding_rewards.synthesis.config import SynthesisConfig
    >>> config = SynthesisConfig(crop_margin=0.2)
    >>> config.min_crop_side, config.qa_kinds
    (224, ('attribute', 'relation', 'counting'))
    >>> SynthesisConfig(crop_margin=-1)
    Traceback (most recent call last):
    ...
    grounding_rewards.errors.ConfigError: SynthesisConfig.crop_margin: expected a number >= 0, ...
    >>> config.fingerprint() == SynthesisConfig(crop_margin=0.2).fingerprint()
    True
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grounding_rewards.config import CoordSpace, describe_validation_error
from grounding_rewards.errors import ConfigError

__all__ = ["CoordSpace", "SynthesisConfig"]


class SynthesisConfig(BaseModel):
    """Every knob of the pipeline; bad values raise :class:`ConfigError`.

    Attributes:
        seed: Base seed: generation seeds and option shuffles derive from it.
        max_image_pixels: Images with more pixels are refused before decoding
            (``image_too_large``), a guard against decompression bombs.
        min_image_side: Images with a smaller side are refused (``image_too_small``).
        max_model_side: The full image is downscaled to this longest side before
            it is sent to a model; boxes come back in original pixels.
        image_format: Encoding of images sent to models.
        crop_margin: Margin added around a box before cropping, as a fraction of
            the box's width and height.
        min_box_side: Boxes with a smaller side (pixels) are not cropped (too tiny
            to caption reliably) and are dropped.
        min_crop_side: Crops are upscaled so that their shorter side is at least this.
        max_crop_side: ...but their longer side never exceeds this.
        max_objects: At most this many detections (by score) go on to captioning.
        nms_iou: Within one detector, boxes overlapping more than this are one detection.
        dedupe_iou: Across detectors, boxes overlapping more than this are merged.
        grounding_coords: The space the VLM writes boxes in when it grounds labels
            itself (``pixel``, ``norm1000``, ``norm1``, ``qwen25vl``).
        verify: Run the verifier (turn off only to measure what it catches).
        verifier_sees_images: Send the crop to the verifier (off for a text-only LLM).
        json_retries: Extra attempts (with a new seed) when a model's JSON is malformed.
        qa_kinds: Which question kinds to generate.
        max_qa_per_kind: At most this many questions of each kind per image.
        n_choices: Options per question (2-6).
        max_relations: At most this many relations are kept per image.
        max_tokens: Generation budget per model call.
        temperature: Sampling temperature for every model call.
        template_versions: Prompt template name -> version to use.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    max_image_pixels: int = Field(default=64_000_000, ge=1)
    min_image_side: int = Field(default=16, ge=1)
    max_model_side: int = Field(default=1024, ge=32)
    image_format: Literal["PNG", "JPEG"] = "PNG"
    crop_margin: float = Field(default=0.15, ge=0.0)
    min_box_side: int = Field(default=8, ge=1)
    min_crop_side: int = Field(default=224, ge=1)
    max_crop_side: int = Field(default=768, ge=1)
    max_objects: int = Field(default=12, ge=0)
    nms_iou: float = Field(default=0.5, gt=0.0, le=1.0)
    dedupe_iou: float = Field(default=0.6, gt=0.0, le=1.0)
    grounding_coords: CoordSpace = "pixel"
    verify: bool = True
    verifier_sees_images: bool = True
    json_retries: int = Field(default=1, ge=0)
    qa_kinds: tuple[Literal["attribute", "relation", "counting"], ...] = (
        "attribute",
        "relation",
        "counting",
    )
    max_qa_per_kind: int = Field(default=3, ge=0)
    n_choices: int = Field(default=4, ge=2, le=6)
    max_relations: int = Field(default=24, ge=0)
    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    template_versions: dict[str, int] = Field(
        default_factory=lambda: {
            "main_caption": 1,
            "ground": 1,
            "branch_caption": 1,
            "verify": 1,
            "qa": 1,
        }
    )

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, "SynthesisConfig")) from None

    @model_validator(mode="after")
    def _consistent(self) -> SynthesisConfig:
        if self.max_crop_side < self.min_crop_side:
            raise ConfigError(
                f"expected max_crop_side >= min_crop_side ({self.min_crop_side}), "
                f"got {self.max_crop_side}"
            )
        return self

    def __hash__(self) -> int:
        return hash(self.canonical_json())

    def replace(self, **changes: Any) -> SynthesisConfig:
        """A copy with ``changes`` applied and validated."""
        return SynthesisConfig(**{**self.model_dump(), **changes})

    def canonical_json(self) -> str:
        """The configuration as sorted, compact JSON (the input of :meth:`fingerprint`)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def fingerprint(self, *extra: str) -> str:
        """SHA-256 of the configuration plus ``extra`` strings (templates, models...)."""
        digest = hashlib.sha256(self.canonical_json().encode())
        for item in extra:
            digest.update(b"\0" + item.encode())
        return digest.hexdigest()
