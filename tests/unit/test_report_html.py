import base64
import html
import io
import json
import re

import pytest
import skimage.data
from PIL import Image

from grounding_rewards.metrics import Rollout, RolloutEvaluator
from grounding_rewards.report import render_report, write_report

XSS = [
    "<script>document.title='pwned'</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(2)>',
    "</pre></textarea><iframe src=javascript:alert(3)>",
]


@pytest.fixture
def images(tmp_path):
    Image.fromarray(skimage.data.astronaut()).save(tmp_path / "astronaut.png")
    return tmp_path


def _evaluate(rollouts, gallery_size=10):
    ev = RolloutEvaluator(gallery_size=gallery_size)
    ev.update(rollouts)
    return ev.compute(), ev.gallery()


def test_untrusted_text_is_escaped_everywhere(images):
    payload = " ".join(XSS)
    rollouts = [
        Rollout(
            f"<think>{payload} <obj>{XSS[1]}</obj><bbox>[10, 10, 50, 50]</bbox></think>"
            f"<answer>{XSS[0]}</answer>",
            {"gt_boxes": [[10, 10, 50, 50]], "gt_labels": [XSS[2]], "answer": "A"},
            image="astronaut.png",
            id=XSS[3],
            source=XSS[0],
        )
    ]
    result, gallery = _evaluate(rollouts)
    page = render_report(result, gallery, images_dir=images, title=XSS[0], source=XSS[1])
    for attack in XSS:
        assert attack not in page
        assert html.escape(attack) in page
    assert "<script" not in page.lower()
    assert "onerror=" not in page.replace("onerror=alert(1)&gt;", "")  # only escaped copies
    assert not re.search(r"<(iframe|img|textarea)\b", page)
    assert "default-src 'none'" in page  # and a CSP that would block scripts anyway


def test_report_is_self_contained_and_worst_first(images, tmp_path):
    good = "<think><obj>face</obj><bbox>[140, 20, 330, 230]</bbox></think><answer>A</answer>"
    bad = "<think><obj>face</obj><bbox>[0, 300, 100, 400]</bbox></think><answer>B</answer>"
    target = {
        "gt_boxes": [[140, 20, 330, 230]],
        "gt_labels": ["face"],
        "answer": "A",
        "image_size": [512, 512],
    }
    rollouts = [
        Rollout(good, target, image="astronaut.png", id="good"),
        Rollout(bad, target, image="astronaut.png", id="bad"),
        Rollout("nonsense", target, image="missing.png", id="none"),
    ]
    result, gallery = _evaluate(rollouts)
    assert [v.id for v in gallery] == ["none", "bad", "good"]
    path = write_report(tmp_path / "report.html", result, gallery, images_dir=images)
    page = path.read_text(encoding="utf-8")
    assert re.findall(r'id="sample-(\d+)"', page) == ["2", "1", "0"]
    # every resource is inline: no http(s) or file references, images as data URIs
    assert not re.search(r'(src|href)="(?!data:)', page)
    uris = re.findall(r'href="data:image/jpeg;base64,([^"]+)"', page)
    assert len(uris) == 2
    Image.open(io.BytesIO(base64.b64decode(uris[0]))).verify()
    assert "image unavailable: " in page and "missing.png" in page
    # summary, histograms of each component and the overlays are there
    for text in (
        "Acc@0.5",
        "mIoU",
        "AP50",
        "CHAIR_i",
        "R_total",
        "R_format",
        "R_accuracy",
        "R_bbox",
    ):
        assert text in page
    assert page.count('stroke="rgb(0,114,178)"') == 3  # one GT box per sample
    assert page.count('stroke="rgb(230,159,0)"') == 2  # the nonsense completion has no box
    assert "face IoU 1.00" in page


def test_spans_are_highlighted_by_outcome():
    text = (
        "<think><obj>cat</obj><bbox>[0, 0, 10, 10]</bbox> and <obj>bird</obj>"
        "<bbox>[50, 50, 60, 60]</bbox></think><answer><obj>cat</obj><bbox>[0,0,1,1]</bbox></answer>"
    )
    result, gallery = _evaluate(
        [Rollout(text, {"gt_boxes": [[0, 0, 10, 10]], "image_size": [100, 100]})]
    )
    page = render_report(result, gallery)
    marks = re.findall(r'<mark class="span (\w+)" title="([^"]*)">([^<]*)<', page)
    assert [(kind, html.unescape(body)) for kind, _, body in marks] == [
        ("matched", "<obj>cat</obj><bbox>[0, 0, 10, 10]</bbox>"),
        ("unmatched", "<obj>bird</obj><bbox>[50, 50, 60, 60]</bbox>"),
        ("uncounted", "<obj>cat</obj><bbox>[0,0,1,1]</bbox>"),
    ]
    assert "IoU 1.00 with ground truth #0" in marks[0][1]


def test_no_image_draws_boxes_on_a_canvas_of_the_image_size():
    text = "<think><obj>x</obj><bbox>[10, 10, 20, 20]</bbox></think><answer>A</answer>"
    result, gallery = _evaluate(
        [Rollout(text, {"gt_boxes": [[10, 10, 30, 30]], "image_size": [640, 480]})]
    )
    page = render_report(result, gallery)
    assert 'viewBox="0 0 640.00 480.00"' in page and "data:image" not in page


def test_json_summary_is_strict_json():
    result, _ = _evaluate([Rollout("x", {})])
    text = json.dumps(result.as_dict(), allow_nan=False)
    assert json.loads(text)["rollouts"] == 1
