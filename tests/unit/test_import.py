"""``import grounding_rewards`` stays light: heavy dependencies load only when used.

Not a timing test (the import time is measured by ``benchmarks/bench_import.py``): it
checks which modules a fresh interpreter has loaded after the import.
"""

from __future__ import annotations

import json
import subprocess
import sys

LAZY = ("numpy", "scipy", "scipy.optimize", "shapely")


def modules_after(code: str) -> set[str]:
    """Names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_does_not_load_numpy_scipy_or_shapely() -> None:
    loaded = modules_after("import grounding_rewards")
    assert "grounding_rewards.rewards" in loaded
    assert not loaded & set(LAZY), sorted(loaded & set(LAZY))


def test_common_rewards_do_not_load_them_either() -> None:
    # One predicted box, or a 2 x 2 matrix, is scored in plain Python, under every option.
    loaded = modules_after(
        "import grounding_rewards as gr\n"
        "text = ('<think><obj>a</obj><bbox>[0, 0, 10, 10]</bbox><obj>b</obj>'\n"
        "        '<bbox>[20, 20, 30, 30]</bbox></think><answer>A</answer>')\n"
        "r = gr.grounding_reward(text, answer='A', gt_boxes=[[0, 0, 10, 10], [20, 20, 31, 31]])\n"
        "assert r.total > 2.5, r\n"
        "config = gr.RewardConfig(coords='qwen25vl', similarity='ciou', label_matching='fuzzy')\n"
        "r = gr.grounding_reward(text, answer='A', gt_boxes=[[0, 0, 10, 10], [20, 20, 31, 31]],\n"
        "                        gt_labels=['a', 'b'], image_size=(640, 480), config=config)\n"
        "assert r.total > 2.0, r\n"
        "import grounding_rewards.trl, grounding_rewards.verl"
    )
    assert not loaded & set(LAZY), sorted(loaded & set(LAZY))


def test_the_lazy_dependencies_load_when_used() -> None:
    loaded = modules_after(
        "import grounding_rewards as gr\n"
        "square = [(0, 0), (1, 0), (1, 1), (0, 1)]\n"
        "assert gr.polygon_iou([square], [square]).tolist() == [[1.0]]\n"
        # more than 100 cells, all tied: scipy's solver (smaller matrices use its
        # plain-Python port, a unique evident optimum none)
        "boxes = [[0, 0, 1, 1]] * 11\n"
        "pairs = gr.match_boxes(boxes, boxes).pairs\n"
        "assert pairs == tuple((i, i) for i in range(11)), pairs"
    )
    assert set(LAZY) <= loaded
