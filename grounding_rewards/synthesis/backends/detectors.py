"""Object detectors: the protocol, a real offline one, and the VLM grounding itself.

A detector looks at an RGB image and returns pixel boxes *in that image*. The
detect stage gives it a downscaled view and maps the boxes back to the original.

- :class:`FaceCascadeDetector`: scikit-image's LBP frontal-face cascade, a real
  detector on real pixels that needs no download (its model ships with
  scikit-image), for tests and demos.
- :class:`VLMGroundingDetector`: asks the captioning VLM to ground the labels of
  its own caption (Qwen-VL style), in any coordinate space the core converts.
- ``transformers_local.ZeroShotDetector``: OWLv2 or Grounding DINO (lazy import).

Example:
    >>> from skimage import data
    >>> from PIL import Image
    >>> import asyncio
    >>> faces = asyncio.run(FaceCascadeDetector().detect(Image.fromarray(data.astronaut()), []))
    >>> [(d.label, d.detector) for d in faces]
    [('face', 'face-cascade')]
    >>> x1, y1, x2, y2 = faces[0].box
    >>> 150 < x1 < 200 and 50 < y1 < 100 and 70 < x2 - x1 < 110
    True
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from grounding_rewards._optional import require
from grounding_rewards.errors import ConfigError

if TYPE_CHECKING:
    from PIL import Image

    from grounding_rewards.synthesis.stages.common import StageContext

__all__ = [
    "Detection",
    "Detector",
    "FaceCascadeDetector",
    "VLMGroundingDetector",
    "make_detectors",
    "nms",
    "run_detector_in_thread",
]


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected box.

    Attributes:
        label: What it is.
        box: ``(x1, y1, x2, y2)`` pixels of the image the detector was given.
        score: Confidence in ``[0, 1]``.
        detector: The detector's name.
    """

    label: str
    box: tuple[float, float, float, float]
    score: float
    detector: str


@runtime_checkable
class Detector(Protocol):
    """Finds objects in an image; ``labels`` are hints that open-vocabulary detectors use."""

    name: str

    async def detect(self, image: Image.Image, labels: Sequence[str]) -> list[Detection]:
        """Boxes in ``image``'s pixels."""
        ...


async def run_detector_in_thread(name: str, function: Any, *args: Any) -> list[Detection]:
    """Run a blocking detector in a worker thread; its failure becomes a :class:`BackendError`.

    Converting inside the thread matters: some exceptions (``StopIteration``) cannot
    cross into an asyncio future and would hang the caller instead.
    """
    from grounding_rewards.synthesis.backends.base import BackendError

    def guarded() -> list[Detection] | BackendError:
        try:
            result: list[Detection] = function(*args)
            return result
        except Exception as exc:
            return BackendError(f"{name}: {type(exc).__name__}: {exc}", reason="detector_error")

    outcome = await asyncio.to_thread(guarded)
    if isinstance(outcome, BackendError):
        raise outcome
    return outcome


def nms(detections: Sequence[Detection], iou_threshold: float) -> list[Detection]:
    """Greedy non-maximum suppression per label; a kept box's score grows with its support.

    Overlapping hits of one object (a cascade fires at several scales and offsets)
    become one detection whose score is ``max(score, 1 - 0.5 ** support)``.

    Example:
        >>> hits = [Detection("face", (0, 0, 10, 10), 0.5, "d"),
        ...         Detection("face", (1, 1, 11, 11), 0.5, "d"),
        ...         Detection("face", (50, 50, 60, 60), 0.5, "d")]
        >>> [(d.box, d.score) for d in nms(hits, 0.5)]
        [((0, 0, 10, 10), 0.75), ((50, 50, 60, 60), 0.5)]
    """
    from grounding_rewards.iou import box_iou

    ordered = sorted(detections, key=lambda d: (-d.score, d.label, d.box))
    if not ordered:
        return []
    boxes = np.array([d.box for d in ordered], dtype=np.float64)
    iou = box_iou(boxes, boxes)
    taken = np.zeros(len(ordered), dtype=bool)
    kept: list[Detection] = []
    for i, detection in enumerate(ordered):
        if taken[i]:
            continue
        group = [
            j
            for j in range(i, len(ordered))
            if not taken[j] and ordered[j].label == detection.label and iou[i, j] > iou_threshold
        ]
        taken[group] = True
        score = max(detection.score, 1.0 - 0.5 ** len(group))
        kept.append(Detection(detection.label, detection.box, round(score, 4), detection.detector))
    return kept


class FaceCascadeDetector:
    """Frontal faces with scikit-image's LBP cascade (``skimage.feature.Cascade``).

    Args:
        scale_factor: Scale step of the multi-scale search.
        step_ratio: Sliding-window step (1 = every pixel at the smallest scale).
        min_size_ratio: Smallest face side as a fraction of the image's shorter side.
        max_size_ratio: Largest face side as a fraction of the image's shorter side.
        min_neighbors: Raw hits an object needs to be reported (filters lone false alarms).
    """

    name = "face-cascade"

    def __init__(
        self,
        *,
        scale_factor: float = 1.2,
        step_ratio: float = 1.0,
        min_size_ratio: float = 0.1,
        max_size_ratio: float = 0.6,
        min_neighbors: int = 1,
    ) -> None:
        self.scale_factor = scale_factor
        self.step_ratio = step_ratio
        self.min_size_ratio = min_size_ratio
        self.max_size_ratio = max_size_ratio
        self.min_neighbors = min_neighbors
        self._cascade: Any = None

    def _load(self) -> Any:
        if self._cascade is None:
            feature = require("skimage.feature", extra="synthesis")
            data = require("skimage.data", extra="synthesis")
            self._cascade = feature.Cascade(data.lbp_frontal_face_cascade_filename())
        return self._cascade

    def detect_sync(self, image: Image.Image) -> list[Detection]:
        """Faces in ``image`` (blocking)."""
        width, height = image.size
        shorter = min(width, height)
        smallest = max(16, round(shorter * self.min_size_ratio))
        largest = max(smallest, round(shorter * self.max_size_ratio))
        if shorter < smallest:
            return []
        hits = self._load().detect_multi_scale(
            img=np.asarray(image.convert("RGB")),
            scale_factor=self.scale_factor,
            step_ratio=self.step_ratio,
            min_size=(smallest, smallest),
            max_size=(largest, largest),
        )
        raw = [
            Detection(
                "face",
                (
                    float(h["c"]),
                    float(h["r"]),
                    float(h["c"] + h["width"]),
                    float(h["r"] + h["height"]),
                ),
                0.5,
                self.name,
            )
            for h in hits
        ]
        grouped = nms(raw, 0.3)
        needed = 1.0 - 0.5**self.min_neighbors
        return [d for d in grouped if d.score >= needed - 1e-9]

    async def detect(self, image: Image.Image, labels: Sequence[str]) -> list[Detection]:
        """Faces in ``image``; ``labels`` are ignored (this detector knows one class)."""
        return await run_detector_in_thread(self.name, self.detect_sync, image)


class VLMGroundingDetector:
    """The captioning VLM grounds the labels of its own caption.

    Args:
        context: The stage context (its captioner answers, its config says the
            coordinate space the model writes boxes in).
        image_bytes: The encoded view sent to the model.
    """

    name = "vlm"

    def __init__(self, context: StageContext, image_bytes: bytes) -> None:
        self.context = context
        self.image_bytes = image_bytes

    async def detect(self, image: Image.Image, labels: Sequence[str]) -> list[Detection]:
        """Ask the VLM where ``labels`` are; boxes come back in ``image``'s pixels."""
        from grounding_rewards.boxes import pixel_scale
        from grounding_rewards.synthesis.stages.common import GroundAnswer, ask, clean_label

        if not labels:
            return []
        config = self.context.config
        width, height = image.size
        space = config.grounding_coords
        descriptions = {
            "pixel": "absolute pixels of this image",
            "norm1000": "coordinates normalized to 0-1000",
            "norm1": "coordinates normalized to 0-1 (fractions of the width and height)",
        }
        if space == "qwen25vl":
            from grounding_rewards.boxes import qwen25vl_resize

            rw, rh = qwen25vl_resize((width, height))
            description = f"absolute pixels of the image resized to {rw}x{rh}"
        else:
            description = descriptions[space]
        request = self.context.request(
            "ground",
            {
                "labels": json.dumps(list(labels)),
                "width": width,
                "height": height,
                "coord_desc": description,
            },
            [self.image_bytes],
            GroundAnswer,
            subject="image",
        )
        answer = await ask(
            self.context.captioner, request, GroundAnswer, retries=config.json_retries
        )
        sx, sy = pixel_scale(space, (width, height))
        wanted = {clean_label(label) for label in labels}
        found = []
        for item in answer.objects:
            label = clean_label(item.label)
            x1, y1, x2, y2 = item.box
            box = (x1 * sx, y1 * sy, x2 * sx, y2 * sy)
            if label in wanted and all(np.isfinite(box)):
                found.append(Detection(label, box, 0.5, self.name))
        return found


def make_detectors(spec: str | Sequence[str]) -> list[str]:
    """Validate a detector list (``"vlm,face-cascade"`` or a sequence) and return its names.

    ``owlv2[:model]`` and ``grounding-dino[:model]`` name transformers detectors.

    Example:
        >>> make_detectors("vlm, face-cascade")
        ['vlm', 'face-cascade']
        >>> make_detectors("yolo")
        Traceback (most recent call last):
        ...
        grounding_rewards.errors.ConfigError: detector: expected vlm, ..., got 'yolo'
    """
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = [n for n in names if n]
    for name in names:
        kind = name.split(":", 1)[0]
        if kind not in ("vlm", "face-cascade", "owlv2", "grounding-dino"):
            raise ConfigError(
                "detector: expected vlm, face-cascade, owlv2[:model] or grounding-dino[:model], "
                f"got {name!r}"
            )
    return names
