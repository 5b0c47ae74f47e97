"""Every ```python block of the dialect pages runs as written (the docs cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "dialects"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PAGES = sorted(DOCS.glob("*.md"))


def test_every_dialect_page_has_a_runnable_example() -> None:
    assert {p.name for p in PAGES} >= {
        "qwen.md",
        "internvl.md",
        "rec.md",
        "points.md",
        "florence.md",
        "custom.md",
    }
    for page in PAGES:
        if page.name != "index.md":
            assert BLOCK.search(page.read_text(encoding="utf-8")), page.name


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_examples_run(page: Path) -> None:
    for number, block in enumerate(BLOCK.findall(page.read_text(encoding="utf-8"))):
        exec(compile(block, f"{page.name}[{number}]", "exec"), {})
