from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from grounding_rewards.synthesis.records import (
    SCHEMA_PATH,
    ImageInfo,
    ObjectRecord,
    QAItem,
    Record,
    record_json_schema,
    write_json_schema,
)

SHA = "ab" * 32


def image(width: int = 64, height: int = 48) -> ImageInfo:
    return ImageInfo(id=SHA[:16], source="x.png", width=width, height=height, sha256=SHA)


def test_shipped_json_schema_is_up_to_date() -> None:
    # Regenerate with: python -m grounding_rewards.synthesis.schema
    shipped = json.loads(SCHEMA_PATH.read_text())
    assert shipped == json.loads(json.dumps(record_json_schema(), sort_keys=True))


def test_write_json_schema_writes_the_same_text(tmp_path) -> None:
    target = write_json_schema(tmp_path / "s.json")
    assert target.read_text() == SCHEMA_PATH.read_text()


def test_schema_names_every_part_the_issue_asks_for() -> None:
    schema = record_json_schema()
    props = schema["properties"]
    for name in ("image", "main_caption", "objects", "relations", "qa", "provenance", "errors"):
        assert name in props
    obj = schema["$defs"]["ObjectRecord"]["properties"]
    for name in (
        "id",
        "label",
        "box",
        "score",
        "detector",
        "crop_box",
        "branch_caption",
        "attributes",
        "verdict",
        "note",
    ):
        assert name in obj
    qa = schema["$defs"]["QAItem"]["properties"]
    for name in ("question", "choices", "answer", "rationale"):
        assert name in qa
    prov = schema["$defs"]["Provenance"]["properties"]
    for name in ("models", "templates", "seed"):
        assert name in prov


def test_record_round_trips_through_json() -> None:
    face = ObjectRecord(
        id="o1",
        label="face",
        box=(1, 2, 30, 40),
        score=0.5,
        detector="d",
        attributes={"color": "pink"},
        verdict="keep",
    )
    item = QAItem(
        id="q1",
        kind="counting",
        question="How many faces?",
        choices=["1", "2"],
        answer="A",
        rationale="<think>x</think><answer>A</answer>",
        object_ids=["o1"],
        gt_boxes=[(1, 2, 30, 40)],
        gt_labels=["face"],
    )
    record = Record(id="r", image=image(), objects=[face], qa=[item])
    again = Record.model_validate_json(record.model_dump_json())
    assert again == record
    assert again.objects[0].box == (1, 2, 30, 40)


@pytest.mark.parametrize("box", [(5, 5, 5, 9), (5, 9, 9, 5), (-1, 0, 4, 4)])
def test_invalid_boxes_are_refused(box) -> None:
    with pytest.raises(ValidationError, match="expected x1 < x2"):
        ObjectRecord(id="o1", label="x", box=box, score=1.0, detector="d")


def test_fractional_box_is_refused_not_rounded() -> None:
    with pytest.raises(ValidationError):
        ObjectRecord(id="o1", label="x", box=(1.5, 2, 3, 4), score=1.0, detector="d")


def test_answer_must_be_a_letter_and_extra_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        QAItem(
            id="q",
            kind="counting",
            question="?",
            choices=["1", "2"],
            answer="AB",
            rationale="",
            object_ids=[],
            gt_boxes=[],
            gt_labels=[],
        )
    with pytest.raises(ValidationError, match="Extra inputs"):
        Record(id="r", image=image(), surprise=1)


def test_unknown_size_only_in_failed_records() -> None:
    Record(id="r", status="failed", image=image(0, 0))
    with pytest.raises(ValidationError, match="decoded image size"):
        Record(id="r", status="ok", image=image(0, 0))


def test_kept_objects_and_lookup() -> None:
    keep = ObjectRecord(id="o1", label="a", box=(0, 0, 2, 2), score=1, detector="d", verdict="keep")
    drop = ObjectRecord(id="o2", label="b", box=(0, 0, 2, 2), score=1, detector="d", verdict="drop")
    record = Record(id="r", image=image(), objects=[keep, drop])
    assert [o.id for o in record.kept_objects()] == ["o1"]
    assert record.object("o2") is drop
    with pytest.raises(KeyError):
        record.object("o9")
