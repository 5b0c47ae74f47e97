"""Versioned prompt templates, shipped as package data.

Each template is a file ``<name>.v<version>.txt`` (or ``.json`` for the QA
phrasings) rendered with :class:`string.Template` (``$name`` placeholders). A
template's id ``name@v<version>`` and the SHA-256 of its text go into every
record's provenance, so a changed prompt changes the record ids.

Example:
    >>> template = load_template("main_caption", 1)
    >>> template.id, len(template.sha256)
    ('main_caption@v1', 64)
    >>> "640 x 480" in template.render(width=640, height=480)
    True
    >>> load_template("main_caption", 99)
    Traceback (most recent call last):
    ...
    grounding_rewards.errors.ConfigError: prompt template: expected one of main_caption@v1, got ...
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from grounding_rewards.errors import ConfigError

__all__ = ["Template", "available_templates", "load_template"]

_NAME = re.compile(r"^(?P<name>[a-z_]+)\.v(?P<version>\d+)\.(?P<ext>txt|json)$")


@dataclass(frozen=True, slots=True)
class Template:
    """A loaded prompt template.

    Attributes:
        name: E.g. ``"verify"``.
        version: The integer version in the file name.
        text: The raw template text.
        sha256: SHA-256 of ``text`` (UTF-8).
    """

    name: str
    version: int
    text: str
    sha256: str

    @property
    def id(self) -> str:
        """``"<name>@v<version>"``, recorded in provenance and on each request."""
        return f"{self.name}@v{self.version}"

    def render(self, **values: Any) -> str:
        """Substitute ``$placeholders``; a missing value raises :class:`ConfigError`."""
        try:
            return string.Template(self.text).substitute(values)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"prompt template {self.id}: missing value for {exc}") from None

    def data(self) -> dict[str, Any]:
        """The template parsed as JSON (for the ``.json`` templates)."""
        value: dict[str, Any] = json.loads(self.text)
        return value


@cache
def _files() -> dict[tuple[str, int], str]:
    found: dict[tuple[str, int], str] = {}
    for entry in resources.files(__name__).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found[(match["name"], int(match["version"]))] = entry.name
    return found


def available_templates() -> list[str]:
    """Ids of every shipped template, sorted.

    Example:
        >>> "verify@v1" in available_templates()
        True
    """
    return sorted(f"{name}@v{version}" for name, version in _files())


@cache
def load_template(name: str, version: int) -> Template:
    """Load the shipped template ``name`` at ``version``.

    Raises:
        ConfigError: When no such template ships.
    """
    file_name = _files().get((name, version))
    if file_name is None:
        known = ", ".join(t for t in available_templates() if t.startswith(f"{name}@"))
        raise ConfigError(
            f"prompt template: expected one of {known or '(none)'}, got {name}@v{version}"
        )
    text = (resources.files(__name__) / file_name).read_text(encoding="utf-8")
    return Template(name, version, text, hashlib.sha256(text.encode()).hexdigest())
