"""Every docstring example of the compiled modules, run against the module as loaded.

pytest's own doctest collection cannot read a module compiled by mypyc (``conftest.py``
leaves those out when they run compiled); here the examples are read from the
``.py`` sources and run in the namespace of the imported module, so they check the
compiled code in a default install and the sources with
``GROUNDING_REWARDS_PURE_PYTHON=1``.
"""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

from grounding_rewards import _pure

PACKAGE_PARENT = Path(_pure.__file__).resolve().parent.parent
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def docstrings(source: str) -> list[tuple[str, str, int]]:
    """``(qualified name, docstring, line)`` of the module, its classes and functions."""
    tree = ast.parse(source)
    found = []
    module_doc = ast.get_docstring(tree, clean=False)
    if module_doc:
        found.append(("", module_doc, 1))

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                doc = ast.get_docstring(child, clean=False)
                if doc:
                    found.append((name, doc, child.lineno))
                if isinstance(child, ast.ClassDef):
                    visit(child, name + ".")

    visit(tree, "")
    return found


@pytest.mark.parametrize("name", _pure.COMPILED_MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    path = (PACKAGE_PARENT / Path(*name.split("."))).with_suffix(".py")
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    examples = 0
    for qualname, doc, line in docstrings(path.read_text(encoding="utf-8")):
        test = parser.get_doctest(
            doc, dict(module.__dict__), f"{name}.{qualname}".rstrip("."), str(path), line
        )
        examples += len(test.examples)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
    assert examples == result.attempted
