"""The synthesis pipeline end to end on real images, with a real detector, through the CLI.

Images ship with scikit-image; the face detector is scikit-image's LBP cascade on
real pixels; the model is the deterministic offline backend (no weights, no network).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from grounding_rewards import grounding_reward, parse_ground_truth, parse_trace
from grounding_rewards.iou import box_iou
from grounding_rewards.synthesis.backends.offline import OfflineBackend
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.pipeline import Pipeline
from grounding_rewards.synthesis.runner import iter_image_paths, run_synthesis_sync
from grounding_rewards.synthesis.store import iter_records, scan

SAMPLES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "hubble_deep_field",
    "immunohistochemistry",
    "coins",
)
FACE = (175, 65, 270, 165)  # the astronaut's face, read off the image by hand
ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "grounding_rewards.cli", "synth", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    for name in SAMPLES:
        Image.fromarray(getattr(data, name)()).save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="module")
def synthesized(sample_dir, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("out")
    summary = run_synthesis_sync(
        iter_image_paths([sample_dir]),
        out,
        Pipeline(OfflineBackend(), detectors=["face-cascade", "vlm"]),
        progress=False,
    )
    return out, summary.as_dict()


def test_every_sample_image_becomes_a_verified_record(synthesized) -> None:
    out, summary = synthesized
    assert (summary["written"], summary["failed"]) == (len(SAMPLES), 0)
    records = {Path(r.image.source).stem: r for r in iter_records(out)}
    assert set(records) == set(SAMPLES)
    for record in records.values():
        assert record.status == "ok" and record.main_caption
        assert all(o.verdict in ("keep", "rewrite", "drop") for o in record.objects)
        assert (
            record.provenance.config_fingerprint
            == json.loads((out / "manifest.json").read_text())["fingerprint"]
        )
    faces = [o for o in records["astronaut"].objects if o.detector == "face-cascade"]
    assert len(faces) == 1 and faces[0].verdict == "keep"
    assert box_iou([faces[0].box], [FACE])[0, 0] > 0.6
    assert summary["qa_items"] >= 3 * len(SAMPLES)


def test_generated_qa_round_trips_through_the_core_rewards(synthesized) -> None:
    out, _ = synthesized
    checked = 0
    for record in iter_records(out):
        size = (record.image.width, record.image.height)
        boxes = {o.id: o.box for o in record.kept_objects()}
        for item in record.qa:
            trace = parse_trace(item.rationale)
            assert not trace.issues
            assert [tuple(s.box) for s in trace.spans] == [boxes[i] for i in item.object_ids]
            truth = parse_ground_truth(
                answer=item.answer,
                gt_boxes=item.gt_boxes,
                gt_labels=item.gt_labels,
                choices=item.choices,
                image_size=size,
            )
            assert truth is not None
            result = grounding_reward(
                item.rationale,
                answer=item.answer,
                gt_boxes=item.gt_boxes,
                gt_labels=item.gt_labels,
                choices=item.choices,
                image_size=size,
            )
            assert (result.format, result.accuracy, result.bbox) == (1.0, 1.0, 1.0)
            # The reward is not trivially 1: another option scores 0 on accuracy.
            wrong = next(c for c in "ABCDEF" if c != item.answer)
            assert (
                grounding_reward(
                    item.rationale.replace(
                        f"<answer>{item.answer}</answer>", f"<answer>{wrong}</answer>"
                    ),
                    answer=item.answer,
                    gt_boxes=item.gt_boxes,
                    choices=item.choices,
                    image_size=size,
                ).accuracy
                == 0.0
            )
            checked += 1
    assert checked >= 20


def test_injected_hallucinations_are_caught_end_to_end(sample_dir, tmp_path) -> None:
    sources = [sample_dir / f"{n}.png" for n in ("astronaut", "coffee", "rocket")]
    caught = run_synthesis_sync(
        sources,
        tmp_path / "verified",
        Pipeline(
            OfflineBackend(hallucinate=("mention", "attribute")), detectors=["face-cascade", "vlm"]
        ),
        progress=False,
    )
    kept_objects = 0
    for record in iter_records(tmp_path / "verified"):
        for obj in record.kept_objects():
            kept_objects += 1
            assert "wall" not in obj.branch_caption and "green" not in obj.branch_caption
            assert obj.attributes.get("color") != "green" or _really_green(record, obj)
            assert obj.verdict == "rewrite"
        assert not any("wall" in q.rationale for q in record.qa)
    assert caught.hallucinations_caught >= 3 * kept_objects > 0
    blind = run_synthesis_sync(
        sources,
        tmp_path / "unverified",
        Pipeline(
            OfflineBackend(hallucinate=("mention", "attribute")),
            detectors=["face-cascade", "vlm"],
            config=SynthesisConfig(verify=False),
        ),
        progress=False,
    )
    assert blind.hallucinations_caught == 0
    walls = sum(
        "wall" in (o.branch_caption or "")
        for r in iter_records(tmp_path / "unverified")
        for o in r.objects
    )
    assert walls == kept_objects  # without the verifier every injected wall stays


def _really_green(record, obj) -> bool:  # the offline model never injects a colour present
    return False


def _write_tiles(folder: Path, n: int) -> list[Path]:
    base = Image.fromarray(data.astronaut())
    paths = []
    for k in range(n):
        x, y = (k * 41) % 400, (k * 67) % 400
        path = folder / f"tile{k:02d}.png"
        base.crop((x, y, x + 96, y + 96)).save(path)
        paths.append(path)
    return paths


def _lines(out: Path) -> list[bytes]:
    lines = []
    for shard in sorted((out / "records").glob("*.jsonl")):
        lines += [line for line in shard.read_bytes().split(b"\n") if line]
    return lines


def _wait_for_lines(out: Path, at_least: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(_lines(out)) >= at_least:
            return
        if process.poll() is not None:
            pytest.fail(f"run ended before the kill: {process.stderr.read()}")
        time.sleep(0.02)
    pytest.fail("no progress within 60 s")


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path) -> None:
    images = tmp_path / "tiles"
    images.mkdir()
    paths = _write_tiles(images, 16)
    out = tmp_path / "out"
    args = [
        str(images),
        "--out",
        str(out),
        "--backend-option",
        "delay_s=0.03",
        "--concurrency",
        "3",
        "--shard-size",
        "4",
        "--no-progress",
    ]
    expected = {
        Pipeline(OfflineBackend()).record_id(hashlib.sha256(p.read_bytes()).hexdigest())
        for p in paths
    }
    survived: list[bytes] = []
    for kill_after in (3, 8):  # two kills at different points
        process = cli(*args)
        _wait_for_lines(out, kill_after, process)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL
        before = _lines(out)
        # Everything written before is still there, byte for byte.
        assert [line for line in before if line in survived] == survived
        survived = [line for line in before if line.endswith(b"}")]
    # A kill inside write(2) leaves a torn last line; make one, as the worst case.
    last_shard = sorted((out / "records").glob("*.jsonl"))[-1]
    with open(last_shard, "ab") as handle:
        handle.write(b'{"id": "torn-record", "status": "ok", "ima')
    process = cli(*args, "--json")
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["repaired_bytes"] > 0
    assert summary["skipped_done"] >= 8
    assert summary["skipped_done"] + summary["written"] == 16
    final = _lines(out)
    ids = [json.loads(line)["id"] for line in final]
    assert len(ids) == len(set(ids)) == 16  # nothing duplicated
    assert set(ids) == expected  # nothing lost, nothing foreign (no torn record)
    assert all(line in final for line in survived)
    assert scan(out).corrupt_lines == 0


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_odd_images_are_handled_and_the_run_goes_on(tmp_path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    astronaut = Image.fromarray(data.astronaut())
    whole = io.BytesIO()
    astronaut.save(whole, "JPEG")
    (folder / "truncated.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    astronaut.convert("CMYK").save(folder / "cmyk.jpg")
    rgba = astronaut.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    rgba.save(folder / "rgba.png")
    deep = np.asarray(astronaut.convert("L"), dtype=np.uint16) * 257
    Image.fromarray(deep).save(folder / "sixteen_bit.png")
    rotated = astronaut.crop((0, 0, 512, 384))
    exif = rotated.getexif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise: portrait
    rotated.save(folder / "exif_rotated.jpg", exif=exif.tobytes())
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "one_pixel.png")
    (folder / "huge.png").write_bytes(_png_header_only(12000, 9000))
    astronaut.resize((3000, 3000)).save(folder / "large.jpg", quality=92)
    (folder / "not_an_image.png").write_bytes(b"hello")

    out = tmp_path / "out"
    process = cli(
        str(folder), "--out", str(out), "--detector", "face-cascade,vlm", "--no-progress", "--json"
    )
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["failures_by_reason"] == {
        "image_truncated": 1,
        "image_too_small": 1,
        "image_too_large": 1,
        "image_unreadable": 1,
    }
    assert summary["written"] == 5
    records = {Path(r.image.source).stem: r for r in iter_records(out)}
    assert set(records) == {"cmyk", "rgba", "sixteen_bit", "exif_rotated", "large"}
    assert (records["exif_rotated"].image.width, records["exif_rotated"].image.height) == (384, 512)
    large_face = next(o for o in records["large"].objects if o.detector == "face-cascade")
    scaled = [v * 3000 / 512 for v in FACE]
    assert box_iou([large_face.box], [scaled])[0, 0] > 0.5  # found downscaled, stored full-size
    for stem in ("cmyk", "sixteen_bit"):
        assert any(o.detector == "face-cascade" for o in records[stem].objects), stem
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert {Path(f["image"]["source"]).stem for f in failures} == {
        "truncated",
        "one_pixel",
        "huge",
        "not_an_image",
    }
    assert all(f["errors"][0]["message"] for f in failures)
