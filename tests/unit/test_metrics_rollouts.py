import json

import pytest

from grounding_rewards.errors import MissingDependencyError
from grounding_rewards.metrics import RolloutFormatError, read_rollouts
from grounding_rewards.metrics.rollouts import completion_text, detect_format, rollout_from_record

TEXT = "<think><obj>cat</obj><bbox>[0, 0, 10, 10]</bbox></think><answer>A</answer>"


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_our_format(tmp_path):
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [
            {
                "id": 1,
                "completion": TEXT,
                "answer": "A",
                "gt_boxes": [[0, 0, 10, 10]],
                "gt_labels": ["cat"],
                "image_size": [64, 48],
                "choices": ["x", "y"],
                "image": "img/a.png",
                "step": 3,
            },
        ],
    )
    (rollout,) = read_rollouts(path)
    assert rollout.completion == TEXT and rollout.id == "1" and rollout.image == "img/a.png"
    assert rollout.target == {
        "answer": "A",
        "gt_boxes": [[0, 0, 10, 10]],
        "gt_labels": ["cat"],
        "image_size": [64, 48],
        "choices": ["x", "y"],
    }
    assert rollout.logged == {"step": 3} and rollout.source == f"{path}:1"


def test_verl_dump_as_verl_writes_it(tmp_path):
    # veRL 0.9 (RayPPOTrainer._write_generations): input, output, gts, score, step + extra keys
    records = [
        {
            "input": "user: Q",
            "output": TEXT,
            "gts": {"answer": "A", "gt_boxes": [[0, 0, 10, 10]]},
            "score": 2.0,
            "step": 5,
            "format": 1.0,
            "request_id": "r-1",
        },
        {
            "input": "Q",
            "output": TEXT,
            "gts": json.dumps({"answer": "B", "image_size": [9, 9]}),
            "score": 0.0,
            "step": 5,
        },
        {"input": "Q", "output": TEXT, "gts": "C", "score": 0.0, "step": 5},
        {"input": "Q", "output": TEXT, "gts": None, "score": 0.0, "step": 5},
    ]
    path = write_jsonl(tmp_path / "5.jsonl", records)
    rollouts = list(read_rollouts(path))
    assert [r.target.get("answer") for r in rollouts] == ["A", "B", "C", None]
    assert rollouts[0].id == "r-1" and rollouts[0].logged["format"] == 1.0
    assert rollouts[1].target["image_size"] == [9, 9]
    assert detect_format(path) == "verl"


def test_trl_parquet_log(tmp_path):
    import pyarrow as pa  # the [parquet] extra
    import pyarrow.parquet as pq

    # TRL 1.x GRPOTrainer.log: step, prompt, completion, <reward names>, <log_extra>, advantage
    table = pa.table(
        {
            "step": [10, 10],
            "prompt": [[{"role": "user", "content": "Q"}]] * 2,
            "completion": [
                [{"role": "assistant", "content": TEXT}],
                [{"role": "assistant", "content": "<answer>B</answer>"}],
            ],
            "format_reward": [1.0, 0.0],
            "answer": ["A", "A"],
            "gt_boxes": ["[[0, 0, 10, 10]]", "[[0, 0, 10, 10]]"],
            "advantage": [0.5, -0.5],
        }
    )
    log_dir = tmp_path / "completions"
    log_dir.mkdir()
    pq.write_table(table, log_dir / "completions_00010.parquet")
    pq.write_table(table.slice(0, 1), log_dir / "completions_00002.parquet")
    rollouts = list(read_rollouts(log_dir))
    assert [r.logged["step"] for r in rollouts] == [10, 10, 10]  # natural order: 00002 first
    assert rollouts[0].source.endswith("completions_00002.parquet:row 1")
    assert rollouts[2].completion == "<answer>B</answer>"
    assert rollouts[1].target == {"answer": "A", "gt_boxes": "[[0, 0, 10, 10]]"}
    assert rollouts[1].logged["format_reward"] == 1.0


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    import sys

    path = tmp_path / "completions_00001.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingDependencyError, match=r"grounding-rewards\[parquet\]"):
        list(read_rollouts(path))


def test_wandb_table_json(tmp_path):
    path = tmp_path / "completions_3_abc.table.json"
    path.write_text(
        json.dumps(
            {
                "columns": ["step", "prompt", "completion", "bbox_reward"],
                "data": [[3, "Q", TEXT, 1.0]],
            }
        )
    )
    (rollout,) = read_rollouts(path)
    assert rollout.completion == TEXT and rollout.logged == {"step": 3, "bbox_reward": 1.0}
    path.write_text(json.dumps({"columns": ["completion"], "data": [["a", "b"]]}))
    with pytest.raises(RolloutFormatError, match=r"row 1: expected 1 values, got 2"):
        list(read_rollouts(path))


def test_directory_is_read_in_natural_order(tmp_path):
    for step in (10, 2, 1):
        write_jsonl(tmp_path / f"{step}.jsonl", [{"output": f"s{step}", "gts": "A", "step": step}])
    assert [r.completion for r in read_rollouts(tmp_path)] == ["s1", "s2", "s10"]


def test_errors_point_at_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"completion": "x"}) + "\n\n{not json\n")
    with pytest.raises(
        RolloutFormatError, match=r"r.jsonl:3: expected a JSON object, got invalid JSON"
    ):
        list(read_rollouts(path))
    path.write_text(json.dumps({"completion": "x"}) + "\n" + json.dumps({"text": "x"}) + "\n")
    with pytest.raises(RolloutFormatError, match=r"r.jsonl:2: expected a 'completion' key"):
        list(read_rollouts(path, format="rollouts"))
    path.write_text(json.dumps({"text": "x"}) + "\n")
    with pytest.raises(RolloutFormatError, match=r"r.jsonl:1: expected a rollout"):
        list(read_rollouts(path))
    path.write_text(json.dumps({"output": "x", "gts": [1, 2]}) + "\n")
    with pytest.raises(RolloutFormatError, match=r"gts: expected a dict"):
        list(read_rollouts(path))
    with pytest.raises(FileNotFoundError):
        list(read_rollouts(tmp_path / "absent.jsonl"))
    with pytest.raises(RolloutFormatError, match="expected a JSON object, got list"):
        rollout_from_record([1], format="rollouts")


def test_completion_text_keeps_what_it_does_not_know():
    assert completion_text("x") == "x"
    assert completion_text(None) is None
    assert (
        completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
        == "a"
    )
    assert completion_text([1, 2]) == [1, 2]
    blocks = [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "<answer>B"},
                {"type": "image"},
                {"type": "text", "text": "</answer>"},
            ],
        }
    ]
    assert completion_text(blocks) == "<answer>B</answer>"
