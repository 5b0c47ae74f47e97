import numpy as np
import pytest
import skimage.data
from PIL import Image

from grounding_rewards.report import (
    GT_COLOR,
    PRED_COLOR,
    box_caption,
    draw_overlay,
    load_image,
    save_overlay,
)


@pytest.fixture
def astronaut():
    return Image.fromarray(skimage.data.astronaut())  # 512 x 512 RGB


def edge_pixels(image, box, inset=1):
    """Pixels at the middle of three edges of a box: inside the edge, or outside for inset < 0."""
    x1, y1, x2, y2 = box
    xm, ym = (x1 + x2) // 2, (y1 + y2) // 2
    return [image.getpixel(p) for p in ((x1 + inset, ym), (x2 - inset, ym), (xm, y2 - inset))]


def test_boxes_are_drawn_in_their_colours_at_the_edges(astronaut):
    gt, pred = (140, 20, 330, 230), (160, 60, 320, 260)
    overlay = draw_overlay(
        astronaut,
        gt_boxes=[gt],
        gt_labels=["face"],
        pred_boxes=[pred],
        pred_labels=["head"],
        pred_ious=[0.7],
        line_width=4,
    )
    assert overlay.size == astronaut.size and overlay is not astronaut
    assert all(p == GT_COLOR for p in edge_pixels(overlay, gt, inset=-1))  # outside its edge
    assert all(p == PRED_COLOR for p in edge_pixels(overlay, pred))  # inside its edge
    # the middle of the box keeps the photo, and the input image is left untouched
    assert overlay.getpixel((240, 150)) == astronaut.getpixel((240, 150))
    assert astronaut.getpixel((141, 125)) != GT_COLOR


def test_prediction_on_the_ground_truth_box_leaves_both_visible(astronaut):
    box = (100, 100, 300, 300)
    overlay = draw_overlay(astronaut, gt_boxes=[box], pred_boxes=[box], line_width=3)
    assert all(p == GT_COLOR for p in edge_pixels(overlay, box, inset=-2))
    assert all(p == PRED_COLOR for p in edge_pixels(overlay, box, inset=1))


def test_png_round_trip_keeps_exact_colours(astronaut, tmp_path):
    box = (20, 300, 120, 420)
    path = save_overlay(tmp_path / "o.png", draw_overlay(astronaut, pred_boxes=[box], line_width=3))
    reloaded = load_image(path)
    assert all(p == PRED_COLOR for p in edge_pixels(reloaded, box))
    assert Image.open(path).format == "PNG"


def test_blank_canvas_and_unusable_boxes():
    overlay = draw_overlay(
        None,
        image_size=(200, 100),
        gt_boxes=[(10, 10, 90, 90)],
        pred_boxes=[(float("nan"),) * 4, (50, 50, 40, 40), (100, 20, 190, 80)],
    )
    assert overlay.size == (200, 100)
    assert overlay.getpixel((150, 79)) == PRED_COLOR  # bottom edge of the valid box
    assert overlay.getpixel((50, 91)) == GT_COLOR
    assert overlay.getpixel((45, 45)) == (236, 236, 236)  # the degenerate box drew nothing
    assert np.array(overlay).shape == (100, 200, 3)
    with pytest.raises(ValueError, match="expected an image or image_size"):
        draw_overlay(None)


def test_captions_carry_label_and_iou(astronaut):
    assert box_caption("cat", 0.5, predicted=True) == "cat IoU 0.50"
    assert box_caption("cat", None, predicted=True) == "cat no match"
    assert box_caption("cat", 0.5, predicted=False) == "cat"
    unlabelled = draw_overlay(astronaut, pred_boxes=[(100, 100, 300, 300)], line_width=2)
    labelled = draw_overlay(
        astronaut,
        pred_boxes=[(100, 100, 300, 300)],
        pred_labels=["cat"],
        pred_ious=[0.5],
        line_width=2,
    )
    # the caption is a label box filled in the box colour with white text, above the box
    strip = np.array(labelled)[75:99, 100:220].reshape(-1, 3).tolist()
    assert list(PRED_COLOR) in strip and [255, 255, 255] in strip
    assert not np.array_equal(np.array(labelled)[75:99], np.array(unlabelled)[75:99])
