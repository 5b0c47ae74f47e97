"""``GROUNDING_REWARDS_PURE_PYTHON=1`` selects the ``.py`` modules even where compiled ones exist.

A default install compiles ``grounding_rewards._pure.COMPILED_MODULES`` with mypyc
(``setup.py``). Each test runs a fresh interpreter, because the choice is made at import.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

from grounding_rewards import _pure

PACKAGE_PARENT = Path(_pure.__file__).resolve().parent.parent


def files_in(environment: dict[str, str]) -> dict[str, str]:
    """``{module: __file__}`` of every compiled-list module in a fresh interpreter."""
    script = (
        "import json, sys, grounding_rewards, grounding_rewards._pure as p\n"
        "import importlib\n"
        "for name in p.COMPILED_MODULES: importlib.import_module(name)\n"
        "print(json.dumps({n: sys.modules[n].__file__ for n in p.COMPILED_MODULES}))"
    )
    env = {k: v for k, v in os.environ.items() if k != _pure.VARIABLE} | environment
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    ).stdout
    return dict(json.loads(out.splitlines()[-1]))


def installed_extensions() -> dict[str, bool]:
    """Whether each module of the list has a compiled extension beside its source."""
    return {
        name: any(
            (PACKAGE_PARENT / Path(*name.split("."))).with_suffix(suffix).exists()
            for suffix in importlib.machinery.EXTENSION_SUFFIXES
        )
        for name in _pure.COMPILED_MODULES
    }


def test_variable_selects_the_sources() -> None:
    files = files_in({_pure.VARIABLE: "1"})
    assert all(file.endswith(".py") for file in files.values()), files


def test_without_variable_compiled_modules_run_when_installed() -> None:
    files = files_in({})
    compiled = installed_extensions()
    # every module or none: mypyc builds them as one group (setup.py)
    assert len(set(compiled.values())) == 1, compiled
    stale = _pure.stale_sources()
    for name, file in files.items():
        expected_compiled = compiled[name] and not stale
        assert file.endswith(".py") != expected_compiled, (name, file, stale)


def test_zero_means_not_set() -> None:
    files = files_in({_pure.VARIABLE: "0"})
    if installed_extensions()["grounding_rewards.parsing"] and not _pure.stale_sources():
        assert not any(file.endswith(".py") for file in files.values()), files
    else:
        assert all(file.endswith(".py") for file in files.values()), files


def test_every_listed_module_exists_as_source() -> None:
    for name in _pure.COMPILED_MODULES:
        assert (PACKAGE_PARENT / Path(*name.split("."))).with_suffix(".py").is_file(), name


def test_both_paths_give_the_same_rewards() -> None:
    script = (
        "import json, grounding_rewards as gr\n"
        "text = ('<think>A <obj>man</obj><bbox>[10, 10, 50, 90]</bbox> and <obj>dogs</obj>'\n"
        "        '<bbox>[[0, 0, 5, 5], [60, 60, 70, 75]]</bbox> <obj></obj>'\n"
        "        '<bbox>[1, 2, 3]</bbox></think>\\n<answer>(B)</answer>')\n"
        "r = gr.grounding_reward(text, answer='B', gt_boxes=[[10, 10, 50, 80], [0, 0, 6, 6],\n"
        "    [59, 61, 70, 75]], choices=['a', 'b'], image_size=(100, 100))\n"
        "print(json.dumps([repr(r), r.as_dict()]))"
    )
    outputs = []
    for environment in ({}, {_pure.VARIABLE: "1"}):
        env = {k: v for k, v in os.environ.items() if k != _pure.VARIABLE} | environment
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
        ).stdout
        outputs.append(out.splitlines()[-1])
    assert outputs[0] == outputs[1]


def test_frozen_results_pickle_and_copy_on_this_path() -> None:
    import copy
    import pickle

    import grounding_rewards as gr
    from grounding_rewards.rewards.bbox import score_boxes
    from grounding_rewards.rewards.format import check_format

    text = "<think><obj>a</obj><bbox>[0, 0, 4, 4]</bbox><obj></obj></think><answer>A</answer>"
    truth = gr.parse_ground_truth(answer="A", gt_boxes=[[0, 0, 4, 2]], image_size=(8, 8))
    trace = gr.parse_trace(text)
    values = [
        trace,
        trace.issues[0],
        truth,
        gr.grounding_reward(text, answer="A", gt_boxes=[[0, 0, 4, 2]]),
        score_boxes(trace, truth, gr.DEFAULT_CONFIG),
        check_format(text),
        gr.match_boxes([[0, 0, 1, 1]], [[0, 0, 1, 1]]),
    ]
    for value in values:
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value
        assert copy.copy(value) == value


def test_extensions_without_their_runtime_are_not_run(monkeypatch) -> None:
    # Another environment's build in this tree (no mypyc runtime module here): the sources
    # must run, or importing the package would fail.
    has_extensions = any(installed_extensions().values())
    monkeypatch.setattr(_pure.importlib.util, "find_spec", lambda name, *args: None)
    assert _pure.runtime_missing() is has_extensions
