"""Shared fixtures: scikit-image pictures with hand-drawn boxes, written as export input."""

from __future__ import annotations

from pathlib import Path

import pytest
from _tiny_qwen import tiny_qwen

from grounding_rewards.export_schema import GroundedExample, read_examples


@pytest.fixture(scope="session")
def grounded_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simple-schema JSONL file (and its PNG images) for the four tiny_qwen samples."""
    return tiny_qwen.write_samples(tmp_path_factory.mktemp("grounded"))


@pytest.fixture(scope="session")
def examples(grounded_jsonl: Path) -> list[GroundedExample]:
    return list(read_examples(grounded_jsonl))
