"""Collection rule for the whole suite: compiled modules' doctests run from their sources' text.

pytest collects a module's doctests by importing the module and checking that it comes
from the ``.py`` file it collects; a module compiled by mypyc (see ``setup.py``) comes
from its extension, and ``doctest`` finds no docstrings in it. Those modules are not
collected here; ``tests/unit/test_module_doctests.py`` runs every example of their
sources against the module as loaded (compiled, or pure with
``GROUNDING_REWARDS_PURE_PYTHON=1``), so no example goes unchecked on either path.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from grounding_rewards import _pure

_ROOT = Path(__file__).resolve().parent


def _module_name(path: Path) -> str | None:
    try:
        parts = path.resolve().relative_to(_ROOT).with_suffix("").parts
    except ValueError:
        return None
    name = ".".join(parts)
    return name if name in _pure.COMPILED_MODULES else None


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """Leave out the ``.py`` file of a module that runs compiled in this process."""
    if collection_path.suffix != ".py":
        return None
    name = _module_name(collection_path)
    if name is None:
        return None
    importlib.import_module(name)
    return True if _pure.running_compiled(name) else None
