from __future__ import annotations

import asyncio
import random

import pytest
from PIL import Image

from grounding_rewards import grounding_reward, parse_trace
from grounding_rewards.synthesis.backends import BaseBackend, GenerationRequest
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.records import ImageInfo, ObjectRecord, Record
from grounding_rewards.synthesis.stages import (
    apply_verdicts,
    build_statements,
    check_statements,
    crop_and_zoom,
    dedupe,
    generate_qa,
    link_mentions,
    snap_box,
    spatial_relations,
    validate_qa,
)
from grounding_rewards.synthesis.stages.common import (
    BranchAnswer,
    MainCaptionAnswer,
    StageContext,
    StageFailedError,
    VerdictItem,
    ask_many,
    clean_label,
    parse_answer,
)
from grounding_rewards.synthesis.stages.merge import noun_key, resolve_mention
from grounding_rewards.synthesis.stages.qa import plural

INFO = ImageInfo(id="i", source="s", width=200, height=100, sha256="0" * 64)


def obj(id: str, label: str, box, score=0.9, detector="d", **more) -> ObjectRecord:
    return ObjectRecord(id=id, label=label, box=box, score=score, detector=detector, **more)


# --- crop & zoom -----------------------------------------------------------------------------


def test_crop_adds_margin_clamps_and_upscales() -> None:
    image = Image.new("RGB", (200, 100))
    # Box 40x20 with margin 0.25: 10 px and 5 px on each side -> (30, 25, 80, 50).
    crop = crop_and_zoom(
        image, (40, 30, 80, 45), margin=0.25, min_side=100, max_side=1000, min_box_side=4
    )
    assert crop is not None and crop.crop_box == (30, 26, 90, 49)
    # Shorter side 23 -> enlarged by 100 / 23 = 4.348 to 261 x 100.
    assert crop.image.size == (261, 100) and crop.scale == pytest.approx(4.348, abs=1e-3)
    edge = crop_and_zoom(
        image, (0, 0, 30, 30), margin=0.5, min_side=10, max_side=1000, min_box_side=4
    )
    assert edge.crop_box == (0, 0, 45, 45) and edge.scale == 1.0  # clamped; big enough already


def test_crop_respects_max_side_and_skips_tiny_boxes() -> None:
    image = Image.new("RGB", (400, 100))
    long = crop_and_zoom(
        image, (0, 40, 400, 50), margin=0.0, min_side=224, max_side=800, min_box_side=4
    )
    assert long.image.size == (800, 20)  # upscale stopped by the long side
    assert (
        crop_and_zoom(
            image, (10, 10, 13, 90), margin=0.1, min_side=224, max_side=800, min_box_side=4
        )
        is None
    )


def test_snap_box_rounds_outward_and_refuses_empty_or_nan() -> None:
    assert snap_box((0.4, 0.6, 9.1, 9.9), (100, 100)) == (0, 0, 10, 10)
    assert snap_box((-5, -5, 500, 500), (100, 50)) == (0, 0, 100, 50)
    assert snap_box((float("nan"), 0, 5, 5), (10, 10)) is None
    assert snap_box((150, 0, 180, 10), (100, 100)) is None


# --- merge --------------------------------------------------------------------------------------


def test_dedupe_keeps_best_of_each_same_label_group_only() -> None:
    objects = [
        obj("o1", "face", (10, 10, 50, 50), 0.6, "face-cascade"),
        obj("o2", "face", (11, 10, 51, 50), 0.9, "vlm"),
        obj("o3", "flag", (11, 10, 51, 50), 0.9, "vlm"),  # same box, other label: kept
        obj("o4", "faces", (100, 10, 140, 50), 0.5, "vlm"),  # same label, elsewhere: kept
    ]
    kept = dedupe(objects, iou_threshold=0.6)
    assert [(o.id, o.merged_from) for o in kept] == [
        ("o2", ["o1:face-cascade"]),
        ("o3", []),
        ("o4", []),
    ]


def test_spatial_relations_are_true_of_the_boxes() -> None:
    a, b, c = (
        obj("o1", "a", (0, 0, 10, 10)),
        obj("o2", "b", (20, 20, 40, 40)),
        obj("o3", "c", (22, 22, 30, 30)),
    )
    relations = {(r.subject, r.predicate, r.object) for r in spatial_relations([a, b, c])}
    assert {
        ("o1", "left of", "o2"),
        ("o1", "above", "o2"),
        ("o2", "right of", "o1"),
        ("o2", "below", "o1"),
        ("o3", "inside", "o2"),
    } <= relations
    assert ("o3", "left of", "o2") not in relations  # overlapping boxes: neither left nor right
    assert len(spatial_relations([a, b, c], limit=2)) == 2


def test_link_mentions_handles_plurals_and_longest_label_first() -> None:
    objects = [
        obj("o1", "car", (0, 0, 5, 5)),
        obj("o2", "red car", (6, 0, 9, 5)),
        obj("o3", "box", (0, 6, 5, 9)),
        obj("o4", "box", (6, 6, 9, 9)),
    ]
    links = link_mentions("A red car passes two boxes and a car.", objects)
    assert [(m.text, m.object_ids) for m in links] == [
        ("red car", ["o2"]),
        ("boxes", ["o3", "o4"]),
        ("car", ["o1"]),
    ]
    caption = "A red car passes two boxes and a car."
    assert all(caption[m.start : m.end] == m.text for m in links)


def test_noun_keys_and_mention_resolution() -> None:
    assert [noun_key(w) for w in ("Dresses", "cherries", "the glass", "two dogs", "")] == [
        "dress",
        "cherry",
        "glass",
        "dog",
        "",
    ]
    assert resolve_mention("dogs", ["brown dog"]) and not resolve_mention("wall", ["mirror"])
    assert plural("cherry") == "cherries" and plural("key") == "keys"


# --- verify ------------------------------------------------------------------------------------


def branch_fixture():
    face = obj("o1", "face", (10, 10, 50, 50))
    flag = obj("o2", "flag", (60, 10, 90, 40))
    branches = {
        "o1": (
            face,
            BranchAnswer(
                caption="The face is pink. A wall is behind the face.",
                attributes={"color": "pink", "Mood!": "very happy today ok"},
                mentions=["face", "wall"],
            ),
        ),
        "o2": (
            flag,
            BranchAnswer(
                caption="The flag is red.", attributes={"color": "red"}, mentions=["flag"]
            ),
        ),
    }
    return face, flag, branches


def test_statements_and_programmatic_flags() -> None:
    _, _, branches = branch_fixture()
    statements = check_statements(
        build_statements("A face and a dog.", ["face", "dog"], branches), ["face", "flag"]
    )
    by_id = {s.id: s for s in statements}
    assert by_id["image.s1"].flags == ["unresolved_mention:dog"]
    assert by_id["o1.s3"].text == "A wall is behind the face."
    assert by_id["o1.s3"].flags == ["unresolved_mention:wall"]
    assert by_id["o1.s4"].attribute == ("color", "pink") and not by_id["o1.s4"].flags
    assert "malformed_attribute" in by_id["o1.s5"].flags
    assert [s.kind for s in statements if s.subject == "o2"] == [
        "existence",
        "caption",
        "attribute",
    ]


def test_apply_verdicts_rewrites_drops_and_sets_object_verdicts() -> None:
    face, flag, branches = branch_fixture()
    statements = check_statements(build_statements("", [], branches), ["face", "flag"])
    verdicts = {
        "o1.s1": VerdictItem(id="o1.s1", verdict="keep"),
        "o1.s2": VerdictItem(
            id="o1.s2", verdict="rewrite", text="The face is brown.", note="brown, not pink"
        ),
        "o1.s3": VerdictItem(id="o1.s3", verdict="drop", note="no wall in the crop"),
        "o1.s4": VerdictItem(id="o1.s4", verdict="rewrite", text="color: brown"),
        # o1.s5 missing: unverified, so dropped
        "o2.s1": VerdictItem(id="o2.s1", verdict="drop", note="that is a towel"),
        "o2.s2": VerdictItem(id="o2.s2", verdict="keep"),
        "o2.s3": VerdictItem(id="o2.s3", verdict="keep"),
    }
    result = apply_verdicts(statements, [face, flag], verdicts)
    face2, flag2 = result.objects
    assert face2.verdict == "rewrite"
    assert face2.branch_caption == "The face is brown."
    assert face2.attributes == {"color": "brown"}
    assert "no wall" in face2.note
    assert flag2.verdict == "drop" and "towel" in flag2.note
    by_id = {s.id: s for s in result.statements}
    assert by_id["o1.s2"].original == "The face is pink." and by_id["o1.s5"].verdict == "drop"
    assert result.caught == 4  # o1.s2, o1.s3, o1.s4, o2.s1


def test_apply_verdicts_without_verification_keeps_everything_unverified() -> None:
    face, flag, branches = branch_fixture()
    statements = build_statements("A face.", ["face"], branches)
    result = apply_verdicts(statements, [face, flag], None)
    assert [o.verdict for o in result.objects] == [None, None]
    assert "wall" in result.objects[0].branch_caption
    assert result.main_caption == "A face." and result.caught == 0


def test_unusable_attribute_rewrite_drops_the_attribute() -> None:
    face, _, branches = branch_fixture()
    statements = build_statements("", [], {"o1": branches["o1"]})
    verdicts = {s.id: VerdictItem(id=s.id, verdict="keep") for s in statements}
    verdicts["o1.s4"] = VerdictItem(id="o1.s4", verdict="rewrite", text="it is fine")
    result = apply_verdicts(statements, [face], verdicts)
    assert "color" not in result.objects[0].attributes


# --- QA and validation -------------------------------------------------------------------------


def qa_record() -> Record:
    objects = [
        obj("o1", "face", (10, 10, 50, 50), attributes={"color": "pink"}, verdict="keep"),
        obj(
            "o2",
            "flag",
            (60, 10, 90, 40),
            attributes={"color": "red", "state": "waving"},
            verdict="rewrite",
        ),
        obj("o3", "star", (100, 60, 110, 70), verdict="keep"),
        obj("o4", "star", (150, 60, 160, 70), verdict="keep"),
        obj("o5", "ghost", (0, 0, 5, 5), verdict="drop", attributes={"color": "white"}),
    ]
    kept = [o for o in objects if o.verdict != "drop"]
    return Record(id="rec", image=INFO, objects=objects, relations=spatial_relations(kept))


def test_generated_qa_is_correct_by_construction_and_scores_1() -> None:
    record = qa_record()
    items = generate_qa(record, n_choices=4, max_per_kind=5, seed=1)
    kinds = {item.kind for item in items}
    assert kinds == {"attribute", "relation", "counting"}
    for item in items:
        assert "ghost" not in item.rationale and "o5" not in item.object_ids  # dropped object
        assert len(set(item.choices)) == len(item.choices)
        result = grounding_reward(
            item.rationale,
            answer=item.answer,
            gt_boxes=item.gt_boxes,
            gt_labels=item.gt_labels,
            choices=item.choices,
            image_size=(200, 100),
        )
        assert (result.format, result.accuracy, result.bbox) == (1.0, 1.0, 1.0), item
    star_count = next(i for i in items if i.question == "How many stars are there in the image?")
    assert star_count.choices[ord(star_count.answer) - 65] == "2"
    assert len(star_count.gt_boxes) == 2
    flag_color = next(i for i in items if i.question == "What color is the flag?")
    assert flag_color.choices[ord(flag_color.answer) - 65] == "red"
    star_attr = [i for i in items if "star from the left" in i.question]
    assert all("(the " in i.rationale for i in star_attr)


def test_relation_distractors_never_satisfy_the_relation() -> None:
    record = qa_record()
    for item in generate_qa(record, kinds=("relation",), max_per_kind=10, seed=3):
        correct = item.choices[ord(item.answer) - 65]
        target_id = item.object_ids[1]
        predicate = next(
            p
            for p in ("to the left of", "to the right of", "above", "below", "inside")
            if p in item.question
        )
        short = predicate.removeprefix("to the ").removesuffix(" of")
        short = {"left": "left of", "right": "right of"}.get(short, short)
        holders = {
            record.object(r.subject).label
            for r in record.relations
            if r.object == target_id and r.predicate == short
        }
        assert correct in holders
        assert not (set(item.choices) - {correct}) & holders


def test_option_shuffle_is_seeded() -> None:
    record = qa_record()
    first = generate_qa(record, seed=5)
    assert [i.choices for i in first] == [i.choices for i in generate_qa(record, seed=5)]
    orders = {tuple(i.answer for i in generate_qa(record, seed=s)) for s in range(12)}
    assert len(orders) > 1
    letters = [i.answer for s in range(12) for i in generate_qa(record, seed=s)]
    assert len(set(letters)) >= 3  # the answer is not always in one position


def test_validation_drops_items_that_do_not_round_trip() -> None:
    record = qa_record()
    items = generate_qa(record, seed=0)
    good = items[0]
    wrong_box = good.model_copy(update={"id": "x1", "gt_boxes": [(11, 10, 50, 50)]})
    wrong_answer = good.model_copy(
        update={"id": "x2", "answer": "A" if good.answer != "A" else "B"}
    )
    broken_label = good.model_copy(
        update={
            "id": "x3",
            "rationale": good.rationale.replace("face", "fa</obj>ce"),
            "gt_labels": ["fa</obj>ce"],
        }
    )
    outside = good.model_copy(
        update={
            "id": "x4",
            "rationale": good.rationale.replace("[10, 10, 50, 50]", "[10, 10, 500, 50]"),
            "gt_boxes": [(10, 10, 500, 50)],
        }
    )
    kept, errors = validate_qa(
        [good, wrong_box, wrong_answer, broken_label, outside], image_size=(200, 100)
    )
    assert [i.id for i in kept] == [good.id]
    reasons = {e.subject: e.reason for e in errors}
    assert reasons == {
        "x1": "rationale_mismatch",
        "x2": "reward_below_1",
        "x3": "rationale_mismatch",
        "x4": "reward_below_1",
    }
    assert parse_trace(good.rationale).answer == good.answer


# --- common ------------------------------------------------------------------------------------


def test_parse_answer_accepts_fences_and_refuses_wrong_shapes() -> None:
    assert parse_answer('```json\n{"caption": "x"}\n```', MainCaptionAnswer).caption == "x"
    assert parse_answer(
        'Here: {"caption": "x", "objects": ["a"], "extra": 1} ok', MainCaptionAnswer
    ).objects == ["a"]
    with pytest.raises(StageFailedError, match=r"MainCaptionAnswer\.caption"):
        parse_answer('{"objects": []}', MainCaptionAnswer)
    with pytest.raises(StageFailedError, match="invalid JSON"):
        parse_answer('{"caption": "x",}', MainCaptionAnswer)
    branch = parse_answer(
        '{"attributes": {"n": 2, "c": "red", "bad": [1], "b": true}}', BranchAnswer
    )
    assert branch.attributes == {"n": "2", "c": "red"}


def test_clean_label_strips_tags_and_articles() -> None:
    assert clean_label("<obj>An  Old-Dog</obj>") == "old-dog"
    assert clean_label("the") == "" and len(clean_label("x" * 99)) == 40


def test_ask_many_retries_malformed_answers_with_a_new_seed() -> None:
    class FlakyJson(BaseBackend):
        name = "flaky"

        def __init__(self) -> None:
            self.seeds: list[int] = []

        async def generate(self, request: GenerationRequest) -> str:
            self.seeds.append(request.seed)
            if len(self.seeds) == 1:
                return "not json"
            return '{"caption": "ok"}'

    backend = FlakyJson()
    context = StageContext(SynthesisConfig(), backend, backend, record_id="r")
    request = context.request("main_caption", {"width": 1, "height": 1}, [], MainCaptionAnswer)
    (answer,) = asyncio.run(ask_many(backend, [request], MainCaptionAnswer, retries=1))
    assert answer.caption == "ok" and backend.seeds[0] != backend.seeds[1]
    backend2 = FlakyJson()
    (failure,) = asyncio.run(ask_many(backend2, [request], MainCaptionAnswer, retries=0))
    assert isinstance(failure, StageFailedError) and failure.reason == "malformed_json"


def test_request_carries_template_id_seed_and_schema() -> None:
    backend = BaseBackend()
    context = StageContext(SynthesisConfig(seed=4), backend, backend, record_id="r1")
    request = context.request(
        "branch_caption", {"label": "cat"}, [b"img"], BranchAnswer, subject="o1"
    )
    again = context.request(
        "branch_caption", {"label": "cat"}, [b"img"], BranchAnswer, subject="o1"
    )
    other = context.request(
        "branch_caption", {"label": "cat"}, [b"img"], BranchAnswer, subject="o2"
    )
    assert request.template_id == "branch_caption@v1" and "detected as: cat." in request.prompt
    assert request.seed == again.seed != other.seed
    assert request.json_schema["title"] == "BranchAnswer"
    assert context.templates_used["branch_caption@v1"]
    random.Random(0)  # keep the import used for readers running single tests
