"""Load ``integrations/trl/tiny_qwen.py`` (a recipe helper, not a package) for the tests.

The recipes, the GPU check and these tests build the tiny Qwen2.5-VL from one place.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
TINY_QWEN_PATH = ROOT / "integrations" / "trl" / "tiny_qwen.py"


def load_module(name: str, path: Path) -> ModuleType:
    """Import a file by path under ``name`` (cached in ``sys.modules``)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tiny_qwen = load_module("tiny_qwen", TINY_QWEN_PATH)
