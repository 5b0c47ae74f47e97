"""Lazy imports of optional dependencies, with an error that names the extra.

Example:
    >>> from grounding_rewards._optional import require
    >>> require("json", extra="core").__name__
    'json'
    >>> require("surely_not_a_module", extra="demo")
    Traceback (most recent call last):
    ...
    grounding_rewards.errors.MissingDependencyError: ... pip install 'grounding-rewards[demo]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from grounding_rewards.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``extra``.

    Args:
        module: Dotted module name, e.g. ``"trl"``.
        extra: The ``grounding-rewards`` extra that installs it, e.g. ``"trl"``.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: When the module cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # the module exists but one of *its* imports failed: show that
        raise MissingDependencyError(
            f"{module} is needed here but is not installed: "
            f"pip install 'grounding-rewards[{extra}]'"
        ) from exc
