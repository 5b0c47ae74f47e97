"""Detect: run every detector on the model view and map boxes to original pixels.

Example:
    >>> import asyncio
    >>> from PIL import Image
    >>> from grounding_rewards.synthesis.backends.detectors import Detection
    >>> class Fixed:
    ...     name = "fixed"
    ...     async def detect(self, image, labels):
    ...         return [Detection("cat", (10, 10, 20, 20), 0.9, "fixed")]
    >>> found, errors = asyncio.run(detect([Fixed()], Image.new("RGB", (50, 50)), 2.0, ["cat"],
    ...                                    size=(100, 100), nms_iou=0.5, max_objects=5))
    >>> [(d.label, d.box) for d in found], errors
    ([('cat', (20.0, 20.0, 40.0, 40.0))], [])
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from grounding_rewards.synthesis.backends.base import BackendError
from grounding_rewards.synthesis.backends.detectors import Detection, Detector, nms
from grounding_rewards.synthesis.records import StageError
from grounding_rewards.synthesis.stages.common import StageFailedError, clean_label

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["detect"]


async def detect(
    detectors: Sequence[Detector],
    view: Image.Image,
    scale: float,
    labels: Sequence[str],
    *,
    size: tuple[int, int],
    nms_iou: float,
    max_objects: int,
) -> tuple[list[Detection], list[StageError]]:
    """Detections in original pixels (view pixels × ``scale``), per-detector NMS, top by score.

    A failing detector is recorded and the others' results are used.

    Raises:
        StageFailedError: When every detector failed (the record is retried on a rerun).
    """
    results = await asyncio.gather(
        *(d.detect(view, labels) for d in detectors), return_exceptions=True
    )
    found: list[Detection] = []
    errors: list[StageError] = []
    width, height = size
    for detector, result in zip(detectors, results, strict=True):
        if isinstance(result, StageFailedError | BackendError):
            errors.append(
                StageError(
                    stage="detect", reason=result.reason, message=str(result), subject=detector.name
                )
            )
            continue
        if isinstance(result, BaseException):
            raise result
        mapped = []
        for d in result:
            x1, y1, x2, y2 = (v * scale for v in d.box)
            box = (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
            label = clean_label(d.label)
            if label and box[0] < box[2] and box[1] < box[3]:
                mapped.append(Detection(label, box, min(1.0, max(0.0, d.score)), d.detector))
        found.extend(nms(mapped, nms_iou))
    if detectors and len(errors) == len(detectors):
        first = errors[0]
        raise StageFailedError("detect", first.reason, f"every detector failed: {first.message}")
    found.sort(key=lambda d: (-d.score, d.detector, d.label, d.box))
    return found[:max_objects], errors
