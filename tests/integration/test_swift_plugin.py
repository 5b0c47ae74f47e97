"""ms-swift's own plugin loading and reward calling run ``integrations/swift/plugin.py``.

ms-swift 4.6 pins ``trl<1.0`` (we use TRL 1.16), so it lives in its own environment,
``.venv-swift`` (made by ``./dev test``: torch 2.13.0 CPU, ms-swift 4.6.0, this
package). The test runs ``integrations/swift/check_plugin.py`` there: ms-swift's
``import_external_file`` (``--external_plugins``), ``resolve_reward_funcs``
(``orms[name](args=...)``) and ``compute_rewards_per_func`` (sync and async rewards,
``None`` to NaN) over ``GRPOSample`` rows built from dataset rows.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from _tiny_qwen import ROOT

from grounding_rewards.swift import ORM_CLASSES, class_name, grounding_orms, row_ground_truth

SWIFT_PYTHON = Path(os.environ.get("GR_SWIFT_PYTHON", ROOT / ".venv-swift" / "bin" / "python"))
PLUGIN = ROOT / "integrations" / "swift" / "plugin.py"
CHECK = ROOT / "integrations" / "swift" / "check_plugin.py"
PERFECT = "<think>The <obj>cat</obj><bbox>[0, 0, 32, 32]</bbox> sits.</think><answer>B</answer>"


def _row(completion: str, **columns: object) -> dict[str, object]:
    messages = [
        {"role": "user", "content": "<image>Which animal? (A) dog (B) cat"},
        {"role": "assistant", "content": completion},
    ]
    return {"messages": messages, **columns}


def test_ms_swift_loads_and_calls_the_plugin(tmp_path: Path) -> None:
    from PIL import Image

    assert SWIFT_PYTHON.exists(), (
        f"expected the ms-swift venv at {SWIFT_PYTHON} (./dev test makes it)"
    )
    image = tmp_path / "cat.png"
    Image.new("RGB", (64, 48)).save(image)
    rows = [
        # our columns, the size from the image file ms-swift passes
        _row(
            PERFECT, images=[str(image)], solution="B", gt_boxes=[[0, 0, 32, 32]], gt_labels=["cat"]
        ),
        # ms-swift's own grounding column and a solution letter
        _row(
            PERFECT,
            images=[str(image)],
            solution="(A)",
            objects={"ref": ["cat"], "bbox": [[0, 0, 32, 64]], "bbox_type": "real"},
        ),
        # no boxes: bbox does not apply (None -> NaN)
        _row("<think>none</think><answer>B</answer>", solution="B"),
    ]
    rows_file = tmp_path / "rows.jsonl"
    rows_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    names = [
        "grounding_format",
        "grounding_accuracy",
        "grounding_bbox",
        "grounding",
        "grounding_bbox_async",
    ]
    result = subprocess.run(
        [str(SWIFT_PYTHON), str(CHECK), str(PLUGIN), str(rows_file), *names],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["torch"].startswith("2.13.0")
    assert out["names"] == ["FormatORM", "OptionORM", "BboxORM", "GroundingORM", "AsyncBboxORM"]
    # 64x48 image; the objects box [0, 0, 32, 64] overflows: IoU with [0,0,32,32] = 1024/2048.
    assert out["rewards"] == [
        [1.0, 1.0, 1.0, 3.0, 1.0],
        [1.0, 0.0, 0.5, 1.5, 0.5],
        [0.0, 1.0, None, 1.0, None],
    ]


def test_classes_follow_the_registry() -> None:
    from grounding_rewards.components import components

    assert set(ORM_CLASSES) == {c.name for c in components()}
    assert {cls.__name__ for cls in ORM_CLASSES.values()} >= {"FormatORM", "OptionORM", "BboxORM"}
    assert class_name("bbox") == "BboxORM"
    orms = grounding_orms({"weights": {"format": 1, "accuracy": 1, "bbox": 1, "point": 1}})
    assert list(orms) == [
        "grounding_format",
        "grounding_accuracy",
        "grounding_bbox",
        "grounding_point",
        "grounding",
    ]
    assert orms["grounding_point"].__name__ == "PointORM"


def test_objects_normalized_by_a_template_are_refused() -> None:
    with pytest.raises(ValueError, match="already normalized"):
        row_ground_truth({"objects": [{"bbox": [[0, 0, 1, 1]], "width": [8], "height": [8]}]}, 0, 1)
