from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image
from skimage import data

from grounding_rewards.synthesis.backends import BackendError, BaseBackend, GenerationRequest
from grounding_rewards.synthesis.backends.detectors import Detection, FaceCascadeDetector
from grounding_rewards.synthesis.backends.offline import OfflineBackend
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.pipeline import Pipeline, encode_array, process_record

ASTRONAUT = encode_array(data.astronaut())
COFFEE = encode_array(data.coffee())


def run(pipeline: Pipeline, image: bytes = ASTRONAUT):
    return asyncio.run(pipeline.process_bytes(image, source="img.png"))


def test_astronaut_record_has_the_face_verified_and_grounded_qa() -> None:
    record = run(Pipeline(OfflineBackend(), detectors=["face-cascade", "vlm"]))
    assert record.status == "ok" and not record.errors
    face = next(o for o in record.objects if o.label == "face")
    assert face.detector == "face-cascade" and face.verdict == "keep"
    assert face.crop_box is not None and face.crop_scale >= 1.0
    assert face.attributes["color"] in ("pink", "brown", "orange", "white")
    assert face.branch_caption.startswith("The face is mostly")
    assert record.qa and record.stats.qa_dropped == 0
    assert any(q.object_ids == [face.id] for q in record.qa)
    assert record.provenance.templates.keys() >= {
        "main_caption@v1",
        "ground@v1",
        "branch_caption@v1",
        "verify@v1",
        "qa@v1",
    }
    assert record.provenance.models["detectors"] == "face-cascade,vlm"
    assert record.image.width == 512 and record.image.sha256


def test_record_id_is_deterministic_and_depends_on_bytes_and_configuration() -> None:
    pipeline = Pipeline(OfflineBackend())
    assert run(pipeline).id == run(Pipeline(OfflineBackend())).id
    assert run(pipeline, COFFEE).id != run(pipeline).id
    assert run(Pipeline(OfflineBackend(), config=SynthesisConfig(seed=1))).id != run(pipeline).id
    assert run(Pipeline(OfflineBackend(model="other"))).id != run(pipeline).id
    assert run(Pipeline(OfflineBackend(), detectors=["vlm", "face-cascade"])).id != run(pipeline).id
    # The whole record is reproducible, not just its id.
    assert run(pipeline).model_dump() == run(pipeline).model_dump()


def test_injected_hallucinations_are_caught_and_survive_without_the_verifier() -> None:
    hallucinating = OfflineBackend(hallucinate=("mention", "attribute"))
    checked = run(Pipeline(hallucinating, detectors=["face-cascade"]))
    face = checked.objects[0]
    assert face.verdict == "rewrite"
    assert "wall" not in face.branch_caption and "green" not in face.branch_caption
    assert face.attributes["color"] != "green"
    verdicts = {s.text: (s.verdict, s.flags) for s in checked.statements}
    assert verdicts["A wall is visible behind the face."] == (
        "drop",
        ["unresolved_mention:wall"],
    )  # flagged in code: no detector found a wall
    assert verdicts["The face is mostly pink."][0] == "rewrite"  # was "green": the pixels say no
    assert verdicts["The face has color pink."][0] == "rewrite"
    # The main caption's "four patches" is dropped too: only the face cascade ran, so no
    # detector found a patch.
    assert verdicts["It shows four patches."] == ("drop", ["unresolved_mention:patch"])
    assert checked.stats.hallucinations_caught == 4
    assert checked.stats.statements_flagged == 2
    assert "patches" not in checked.main_caption
    assert all("green" not in q.rationale and "wall" not in q.rationale for q in checked.qa)
    unchecked = run(
        Pipeline(
            OfflineBackend(hallucinate=("mention", "attribute")),
            config=SynthesisConfig(verify=False),
            detectors=["face-cascade"],
        )
    )
    assert "wall" in unchecked.objects[0].branch_caption
    assert unchecked.objects[0].attributes["color"] == "green"
    assert unchecked.stats.hallucinations_caught == 0


def test_main_caption_failure_fails_the_record_with_its_reason() -> None:
    record = run(Pipeline(OfflineBackend(fail={"main_caption": "http_500"})))
    assert record.status == "failed"
    assert [(e.stage, e.reason) for e in record.errors] == [("main_caption", "http_500")]
    assert record.objects == [] and record.qa == []


def test_malformed_main_caption_fails_after_retries() -> None:
    backend = OfflineBackend(malformed=("main_caption",))
    record = run(Pipeline(backend, config=SynthesisConfig(json_retries=2)))
    assert record.errors[0].reason == "malformed_json"
    assert backend.calls["main_caption"] == 3


def test_branch_caption_failure_drops_objects_but_keeps_the_record() -> None:
    record = run(
        Pipeline(OfflineBackend(fail={"branch_caption": "timeout"}), detectors=["face-cascade"])
    )
    assert record.status == "ok"
    assert [o.verdict for o in record.objects] == ["drop"]
    assert "timeout" in record.objects[0].note
    assert {(e.stage, e.reason) for e in record.errors} == {("branch_caption", "timeout")}
    assert record.qa == []


def test_verifier_failure_drops_unverified_objects_and_fails_on_the_main_caption() -> None:
    class ObjectVerifierDown(OfflineBackend):
        async def generate(self, request: GenerationRequest) -> str:
            if request.stage == "verify" and "the whole image" not in request.prompt:
                raise BackendError("down", reason="connection")
            return await super().generate(request)

    record = run(
        Pipeline(OfflineBackend(), verifier=ObjectVerifierDown(), detectors=["face-cascade"])
    )
    assert record.status == "ok"
    assert record.objects[0].verdict == "drop"
    assert record.objects[0].note == "verification failed: connection"
    assert record.provenance.models["verifier"] == "offline:offline-v1"
    down = run(Pipeline(OfflineBackend(), verifier=OfflineBackend(fail={"verify": "http_503"})))
    assert down.status == "failed" and down.errors[0].reason == "http_503"


def test_a_failing_detector_is_recorded_and_the_others_are_used() -> None:
    class Broken:
        name = "broken"

        async def detect(self, image, labels):
            raise BackendError("gpu fell off", reason="detector_error")

    record = run(Pipeline(OfflineBackend(), detectors=[Broken(), "face-cascade"]))
    assert record.status == "ok" and [o.label for o in record.objects] == ["face"]
    assert [(e.stage, e.reason, e.subject) for e in record.errors] == [
        ("detect", "detector_error", "broken")
    ]
    alone = run(Pipeline(OfflineBackend(), detectors=[Broken()]))
    assert alone.status == "failed" and alone.errors[0].stage == "detect"


def test_detector_raising_stop_iteration_in_its_thread_does_not_hang() -> None:
    class Stopper(FaceCascadeDetector):
        def detect_sync(self, image):
            raise StopIteration

    record = run(Pipeline(OfflineBackend(), detectors=[Stopper(), "vlm"]))
    assert record.status == "ok" and record.errors[0].reason == "detector_error"


def test_tiny_and_duplicate_detections() -> None:
    class Fixed:
        name = "fixed"

        async def detect(self, image, labels):
            return [
                Detection("face", (176, 66, 270, 164), 0.9, "fixed"),
                Detection("face", (178, 68, 272, 166), 0.8, "fixed2"),  # NMS'd within "fixed"
                Detection("dot", (10, 10, 13, 13), 0.95, "fixed"),  # too small to crop
            ]

    record = run(
        Pipeline(OfflineBackend(), detectors=[Fixed()], config=SynthesisConfig(min_box_side=8))
    )
    by_label = {o.label: o for o in record.objects}
    assert by_label["dot"].verdict == "drop" and "too small" in by_label["dot"].note
    assert len([o for o in record.objects if o.label == "face"]) == 1
    assert record.stats.objects_detected == 2


def test_cross_detector_duplicates_are_merged() -> None:
    class VLMFace:
        name = "vlm-face"

        async def detect(self, image, labels):
            return [Detection("face", (174, 64, 272, 166), 0.95, "vlm-face")]

    record = run(Pipeline(OfflineBackend(), detectors=[VLMFace(), "face-cascade"]))
    faces = [o for o in record.objects if o.label == "face"]
    assert len(faces) == 1 and faces[0].detector == "vlm-face"
    assert faces[0].merged_from and faces[0].merged_from[0].endswith(":face-cascade")


def test_large_image_is_seen_downscaled_but_boxes_are_in_original_pixels() -> None:
    big = Image.fromarray(data.astronaut()).resize((1536, 1536))
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=92)
    record = run(
        Pipeline(
            OfflineBackend(), detectors=["face-cascade"], config=SynthesisConfig(max_model_side=512)
        ),
        buffer.getvalue(),
    )
    face = record.objects[0]
    x1, y1, x2, _ = face.box
    assert (record.image.width, record.image.height) == (1536, 1536)
    # The face at about (175, 65, 270, 165) in 512 px, times 3.
    assert 450 < x1 < 600 and 150 < y1 < 250 and 220 < x2 - x1 < 340


def test_bad_images_become_failed_records() -> None:
    record = run(Pipeline(OfflineBackend()), b"garbage")
    assert record.status == "failed" and record.errors[0].reason == "image_unreadable"
    assert record.image.width == 0 and record.id
    tiny = io.BytesIO()
    Image.new("RGB", (1, 1)).save(tiny, "PNG")
    small = run(Pipeline(OfflineBackend()), tiny.getvalue())
    assert small.errors[0].reason == "image_too_small"


def test_process_record_is_synchronous_and_works_inside_a_running_loop(tmp_path) -> None:
    path = tmp_path / "coffee.png"
    path.write_bytes(COFFEE)
    record = process_record(path, SynthesisConfig(), OfflineBackend(), "vlm")
    assert record.status == "ok" and record.image.source == str(path)

    async def inside() -> str:
        return process_record(COFFEE).id  # blocking call from async code: no nested-loop error

    assert asyncio.run(inside()) == process_record(COFFEE, None, None, None).id
    missing = process_record(tmp_path / "nope.png")
    assert missing.status == "failed" and missing.errors[0].reason == "image_unreadable"


def test_model_output_with_tags_and_junk_never_breaks_the_trace_format() -> None:
    class Nasty(OfflineBackend):
        async def generate(self, request: GenerationRequest) -> str:
            if request.stage == "branch_caption":
                return (
                    '{"caption": "The </think><answer>Z</answer> is <obj>x</obj>.",'
                    ' "attributes": {"color": "<bbox>[1,2,3,4]</bbox>"}, "mentions": []}'
                )
            return await super().generate(request)

    record = run(
        Pipeline(Nasty(), detectors=["face-cascade"], config=SynthesisConfig(verify=False))
    )
    assert record.status == "ok"
    for item in record.qa:
        assert item.rationale.count("<think>") == 1 and "<answer>Z" not in item.rationale
    assert record.stats.qa_dropped == 0


def test_backends_that_are_not_base_backends_work() -> None:
    class Minimal:
        name = "minimal"

        def __init__(self) -> None:
            self.inner = OfflineBackend()

        async def generate(self, request):
            return await self.inner.generate(request)

        async def generate_many(self, requests):
            return await self.inner.generate_many(requests)

        async def aclose(self):
            return None

    assert run(Pipeline(Minimal())).status == "ok"
    assert not isinstance(Minimal(), BaseBackend)


def test_config_errors() -> None:
    from grounding_rewards.errors import ConfigError

    with pytest.raises(ConfigError, match="max_crop_side"):
        SynthesisConfig(min_crop_side=500, max_crop_side=100)
    with pytest.raises(ConfigError, match="unknown option"):
        SynthesisConfig(colour="red")
    with pytest.raises(ConfigError, match="prompt template"):
        Pipeline(OfflineBackend(), config=SynthesisConfig(template_versions={"verify": 9}))
