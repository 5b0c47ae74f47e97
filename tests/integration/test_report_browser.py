"""Open the HTML report in real headless Chromium (Debian's ``chromium`` package).

Checks what a user sees: the screenshot shows the image with the ground-truth and
predicted boxes at the right places, in their colours, and an injected script in a
completion neither runs nor turns into markup.
"""

import json
import shutil
import subprocess

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw
from scipy import ndimage

from grounding_rewards.cli import main
from grounding_rewards.report import GT_COLOR, PRED_COLOR

FRAME = (255, 0, 255)  # a magenta frame around the test image locates it in the screenshot
GT_BOX = (60, 60, 200, 220)
PRED_BOX = (300, 280, 450, 470)
TITLE_CANARY = "<script>document.title='pwned'</script>"
IMG_CANARY = "<img src=x onerror=\"document.title='pwned'\">"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--force-color-profile=srgb",
    "--hide-scrollbars",
]


def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is required for this test: apt-get install -y chromium")
    return path


def run_chromium(args, tmp_path, name):
    profile = tmp_path / f"profile-{name}"
    profile.mkdir()
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture
def report(tmp_path):
    image = Image.fromarray(skimage.data.astronaut())  # 512 x 512
    ImageDraw.Draw(image).rectangle((0, 0, 511, 511), outline=FRAME, width=8)
    image.save(tmp_path / "astronaut.png")
    completion = (
        f"<think>{TITLE_CANARY} The <obj>face</obj><bbox>{list(PRED_BOX)}</bbox> "
        f"{IMG_CANARY}</think><answer>A</answer>"
    )
    record = {
        "id": "x1",
        "completion": completion,
        "answer": "B",
        "image": "astronaut.png",
        "image_size": [512, 512],
        "gt_boxes": [list(GT_BOX)],
        "gt_labels": ["flag"],
    }
    rollouts = tmp_path / "rollouts.jsonl"
    rollouts.write_text(json.dumps(record) + "\n")
    out = tmp_path / "report.html"
    assert main(["evaluate", str(rollouts), "--report", str(out), "--json"]) == 0
    return out


def near(pixel, color, tolerance=40):
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(pixel, color, strict=False))


def locate_frame(shot):
    mask = np.all(np.abs(shot.astype(int) - FRAME) <= 60, axis=-1)
    labels, count = ndimage.label(mask)
    assert count >= 1, "the embedded image is not visible in the screenshot"
    sizes = ndimage.sum(mask, labels, range(1, count + 1))
    rows, cols = np.nonzero(labels == 1 + int(np.argmax(sizes)))
    return cols.min(), rows.min(), cols.max(), rows.max()


def colour_near(shot, x, y, color, radius=3):
    patch = shot[int(y) - radius : int(y) + radius + 1, int(x) - radius : int(x) + radius + 1]
    return any(near(p, color) for p in patch.reshape(-1, 3))


def test_screenshot_shows_both_boxes_where_they_belong(report, tmp_path):
    shot_path = tmp_path / "shot.png"
    run_chromium(
        ["--window-size=1200,2600", f"--screenshot={shot_path}", report.as_uri()], tmp_path, "shot"
    )
    shot = np.array(Image.open(shot_path).convert("RGB"))
    left, top, right, bottom = locate_frame(shot)
    scale = (right - left + 1) / 512
    assert 0.5 < scale < 1.5 and abs((bottom - top + 1) / 512 - scale) < 0.02

    def to_screen(x, y):
        return left + x * scale, top + y * scale

    for box, color, other in ((GT_BOX, GT_COLOR, PRED_COLOR), (PRED_BOX, PRED_COLOR, GT_COLOR)):
        x1, y1, x2, y2 = box
        xm, ym = (x1 + x2) / 2, (y1 + y2) / 2
        # the outline is drawn along each edge (GT dashed: probe a stretch of the edge)
        for x, y in ((x1, ym), (x2, ym), (xm, y1), (xm, y2)):
            sx, sy = to_screen(x, y)
            hit = any(
                colour_near(shot, sx + dx * scale, sy + dy * scale, color)
                for dx, dy in ((0, 0), (0, 6), (0, -6), (6, 0), (-6, 0))
            )
            assert hit, f"no {color} outline near ({x}, {y}) of box {box}"
        # hollow, and the other colour is not drawn there
        assert not colour_near(shot, *to_screen(xm, ym), color, radius=2)
        assert not colour_near(shot, *to_screen(x1, ym), other, radius=2)


def test_injected_markup_stays_text(report, tmp_path):
    dom = run_chromium(["--dump-dom", report.as_uri()], tmp_path, "dom").stdout
    assert "<title>grounding-rewards evaluation</title>" in dom  # the script did not run
    assert "<script" not in dom and "<img" not in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
