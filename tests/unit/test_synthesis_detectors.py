from __future__ import annotations

import asyncio

import numpy as np
import pytest
from PIL import Image
from skimage import data

from grounding_rewards.errors import ConfigError
from grounding_rewards.iou import box_iou
from grounding_rewards.synthesis.backends.detectors import (
    Detection,
    Detector,
    FaceCascadeDetector,
    VLMGroundingDetector,
    make_detectors,
    nms,
)
from grounding_rewards.synthesis.backends.offline import OfflineBackend
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.images import encode_image
from grounding_rewards.synthesis.stages.common import StageContext

# The astronaut's face, read off the image by hand: about x 175-270, y 65-165.
FACE = (175, 65, 270, 165)


def test_face_cascade_finds_the_astronauts_face_on_real_pixels() -> None:
    detector = FaceCascadeDetector()
    assert isinstance(detector, Detector)
    faces = asyncio.run(detector.detect(Image.fromarray(data.astronaut()), ["ignored"]))
    assert len(faces) == 1
    assert box_iou([faces[0].box], [FACE])[0, 0] > 0.6
    assert faces[0].label == "face" and 0 < faces[0].score <= 1


def test_face_cascade_finds_nothing_on_a_plain_image_and_a_tiny_one() -> None:
    detector = FaceCascadeDetector()
    assert detector.detect_sync(Image.new("RGB", (300, 200), (90, 90, 90))) == []
    assert detector.detect_sync(Image.new("RGB", (5, 5))) == []


def test_face_cascade_on_a_downscaled_view_scales_with_the_image() -> None:
    half = Image.fromarray(data.astronaut()).resize((256, 256))
    faces = FaceCascadeDetector().detect_sync(half)
    assert len(faces) == 1
    doubled = [v * 2 for v in faces[0].box]
    assert box_iou([doubled], [FACE])[0, 0] > 0.5


def test_nms_groups_by_label_and_rewards_support() -> None:
    hits = [
        Detection("face", (0, 0, 10, 10), 0.5, "d"),
        Detection("face", (1, 0, 11, 10), 0.5, "d"),
        Detection("face", (0, 1, 10, 11), 0.5, "d"),
        Detection("hand", (0, 0, 10, 10), 0.9, "d"),
    ]
    kept = nms(hits, 0.5)
    assert [(d.label, d.score) for d in kept] == [("hand", 0.9), ("face", 0.875)]
    assert nms([], 0.5) == []


@pytest.mark.parametrize("space", ["pixel", "norm1000", "norm1", "qwen25vl"])
def test_vlm_grounding_converts_every_coordinate_space_to_the_same_pixels(space: str) -> None:
    image = Image.new("RGB", (300, 200), (235, 235, 235))
    image.paste((40, 80, 200), (30, 40, 120, 160))
    context = StageContext(
        SynthesisConfig(grounding_coords=space), OfflineBackend(), OfflineBackend(), record_id="r"
    )
    detector = VLMGroundingDetector(context, encode_image(image))
    found = asyncio.run(detector.detect(image, ["block", "unicorn"]))
    assert [d.label for d in found] == ["block"]
    # The blue block is at (30, 40, 120, 160); the offline model sees a 64 px thumbnail.
    assert box_iou([found[0].box], [(30, 40, 120, 160)])[0, 0] > 0.9
    assert context.templates_used.keys() == {"ground@v1"}


def test_vlm_grounding_without_labels_asks_nothing() -> None:
    backend = OfflineBackend()
    context = StageContext(SynthesisConfig(), backend, backend, record_id="r")
    assert (
        asyncio.run(VLMGroundingDetector(context, b"").detect(Image.new("RGB", (9, 9)), [])) == []
    )
    assert backend.calls == {}


def test_make_detectors() -> None:
    assert make_detectors("vlm,face-cascade, owlv2:google/x") == [
        "vlm",
        "face-cascade",
        "owlv2:google/x",
    ]
    assert make_detectors(["grounding-dino"]) == ["grounding-dino"]
    with pytest.raises(ConfigError, match="got 'yolo'"):
        make_detectors("vlm,yolo")


def test_detection_boxes_are_plain_floats() -> None:
    faces = FaceCascadeDetector().detect_sync(Image.fromarray(data.astronaut()))
    assert all(isinstance(v, float) for v in faces[0].box)
    assert np.isfinite(faces[0].box).all()
