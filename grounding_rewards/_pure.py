"""Choose between the compiled hot modules and their pure-Python sources, at import time.

A default install compiles the reward's hot modules with mypyc (see ``setup.py``; the
list is :data:`COMPILED_MODULES`), as black and mypy ship, and keeps their ``.py``
sources beside the extensions. ``GROUNDING_REWARDS_PURE_PYTHON=1`` makes every
``grounding_rewards`` module load from its ``.py`` source even so: a finder placed first
on ``sys.meta_path`` by ``grounding_rewards/__init__.py`` (before any other module of the
package is imported) returns the source file's spec. Both paths give the same results;
the test suite runs on both.

The same finder guards editable installs: when a source is newer than the compiled
extensions (a module edited after ``pip install -e .``), the compiled modules would run
stale code, so the sources are loaded instead (listed in :data:`STALE`; rebuild with
``pip install -e .``).

Example:
    >>> import grounding_rewards.parsing as parsing
    >>> running_compiled("grounding_rewards.parsing") == (
    ...     not parsing.__file__.endswith(".py"))
    True
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = [
    "COMPILED_MODULES",
    "PURE_PYTHON",
    "STALE",
    "VARIABLE",
    "install",
    "running_compiled",
    "runtime_missing",
    "stale_sources",
]

VARIABLE = "GROUNDING_REWARDS_PURE_PYTHON"
"""The environment variable that selects the pure-Python modules (any value but ``""``/``0``)."""

COMPILED_MODULES: tuple[str, ...] = (
    "grounding_rewards.dialects._numbers",
    "grounding_rewards.dialects.json_objects",
    "grounding_rewards.dialects.marks",
    "grounding_rewards.ground_truth",
    "grounding_rewards.iou",
    "grounding_rewards.matching",
    "grounding_rewards.options",
    "grounding_rewards.parsing",
    "grounding_rewards.rewards._bbox_value",
    "grounding_rewards.rewards._fused",
    "grounding_rewards.rewards._trace",
    "grounding_rewards.rewards.batch",
    "grounding_rewards.rewards.bbox",
    "grounding_rewards.rewards.composite",
    "grounding_rewards.rewards.format",
    "grounding_rewards.rewards.option",
)
"""The modules ``setup.py`` compiles with mypyc when it can (it reads this tuple).

Left out on purpose: ``components`` (``Weights`` derives from the ``Mapping`` ABC; compiled,
it shares ``Mapping``'s ABC caches, and ``isinstance(some_dict, Mapping)`` goes wrong) and
everything off the reward's hot path."""

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def stale_sources() -> list[str]:
    """The compiled modules of this source checkout that must not run.

    A module is stale when its ``.py`` source is newer than its extension (edited after
    ``pip install -e .``), missing, or no longer in :data:`COMPILED_MODULES`. Only a source
    checkout (an editable install, whose tree holds ``setup.py``) is checked: files
    unpacked from a wheel carry no meaningful modification times.

    Returns:
        Module names; empty when nothing is compiled or everything is up to date.
    """
    root = os.path.dirname(_PACKAGE)
    if not os.path.exists(os.path.join(root, "setup.py")):
        return []
    listed = set(COMPILED_MODULES)
    stale = []
    # The folders that hold compiled modules (listed, or from an older list).
    folders = {os.path.join(root, *name.split(".")[:-1]) for name in COMPILED_MODULES}
    for folder in sorted(folders | {_PACKAGE}):
        try:
            files = os.listdir(folder)
        except OSError:
            continue
        for file in files:
            suffix = next((s for s in _SUFFIXES if file.endswith(s)), None)
            if suffix is None:
                continue
            stem = file[: -len(suffix)]
            module = ".".join([*os.path.relpath(folder, root).split(os.sep), stem])
            source = os.path.join(folder, stem + ".py")
            try:
                fresh = os.path.getmtime(source) <= os.path.getmtime(os.path.join(folder, file))
            except OSError:
                fresh = False
            if module not in listed or not fresh:
                stale.append(module)
    return sorted(stale)


_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


class _SourceFinder:
    """Finds every ``grounding_rewards`` submodule as its ``.py`` source file."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("grounding_rewards.") or path is None:
            return None
        name = fullname.rpartition(".")[2]
        for folder in path:
            source = os.path.join(folder, name + ".py")
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(fullname, source)
        return None  # a subpackage: the default finders load its __init__.py


_RUNTIME = "grounding_rewards__mypyc"  # mypyc's shared module of the group (setup.py)


def runtime_missing() -> bool:
    """Whether compiled modules are here but mypyc's shared runtime module is not importable.

    That happens when another environment's build left its extensions in this source
    tree (an editable install into a second virtual environment, built without mypyc):
    the extensions would fail to import, so the sources run instead.

    Returns:
        True when the extensions cannot run here.
    """
    if not any(os.path.exists(os.path.join(_PACKAGE, "parsing" + suffix)) for suffix in _SUFFIXES):
        return False
    return importlib.util.find_spec(_RUNTIME) is None


def _wanted() -> bool:
    return os.environ.get(VARIABLE, "").strip() not in ("", "0")


PURE_PYTHON = False
"""Whether this process runs the pure-Python modules (set by :func:`install`)."""


STALE: tuple[str, ...] = ()
"""The compiled modules found stale by :func:`install` (then the sources run)."""


def install() -> bool:
    """Put the source finder first on ``sys.meta_path`` when the pure path is wanted.

    Wanted: ``GROUNDING_REWARDS_PURE_PYTHON`` is set (not ``0``), a compiled module
    of this source checkout is stale (:func:`stale_sources`; listed in :data:`STALE`), or
    the extensions cannot load here (:func:`runtime_missing`; all listed in :data:`STALE`).
    The fallback is silent: both paths give the same results, and a warning on every
    import would reach every subprocess and log of a checkout being edited. The
    benchmark prints which path ran. Called once, when ``grounding_rewards`` is imported,
    before any other module of the package.

    Returns:
        Whether the pure-Python modules are used.
    """
    global PURE_PYTHON, STALE
    STALE = () if _wanted() else tuple(stale_sources())
    if not _wanted() and not STALE and runtime_missing():
        STALE = COMPILED_MODULES
    if (_wanted() or STALE) and not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder())
    PURE_PYTHON = any(isinstance(f, _SourceFinder) for f in sys.meta_path)
    return PURE_PYTHON


def running_compiled(module: str) -> bool:
    """Whether ``module`` (imported) runs from a compiled extension.

    Args:
        module: A module name, e.g. ``"grounding_rewards.parsing"``.

    Returns:
        True for a compiled extension, False for a ``.py`` source.
    """
    file = getattr(sys.modules[module], "__file__", None) or ""
    return not file.endswith((".py", ".pyc"))


install()
