"""Pickling of the frozen dataclasses of the compiled modules, through their constructors.

A frozen dataclass is restored by pickle (and ``copy``) field by field with
``object.__setattr__``; compiled by mypyc (see ``setup.py``) its class refuses that
(``FrozenInstanceError``). Rebuilding it with its constructor works on both paths and
gives an equal object.

Example:
    >>> import pickle
    >>> from grounding_rewards.parsing import FormatIssue
    >>> issue = FormatIssue("empty_label", 3, "the object label is empty")
    >>> pickle.loads(pickle.dumps(issue)) == issue
    True
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["rebuild"]


def rebuild(instance: Any) -> tuple[Any, tuple[Any, ...]]:
    """``__reduce__`` of a frozen dataclass: its class and its fields, in order.

    Args:
        instance: A dataclass instance whose fields are all constructor arguments.

    Returns:
        ``(class, arguments)``.
    """
    return type(instance), tuple(getattr(instance, f.name) for f in dataclasses.fields(instance))
