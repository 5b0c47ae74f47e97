"""Build: the reward's hot modules compiled with mypyc when possible, pure Python otherwise.

As black and mypy ship: the modules listed in ``grounding_rewards/_pure.py``
(``COMPILED_MODULES``) are compiled to C extensions by mypyc (``mypy`` is a build
requirement in ``pyproject.toml``, at the version the code is checked with) and installed
beside their ``.py`` sources. When they cannot be compiled (no C compiler or no Python
headers, mypy missing, a mypyc error, or ``GROUNDING_REWARDS_COMPILE=0`` at build time),
the build warns and installs the pure-Python package, which gives the same results. At
run time ``GROUNDING_REWARDS_PURE_PYTHON=1`` selects the pure-Python modules even where
the compiled ones are installed.

Everything else (metadata, dependencies, package data) lives in ``pyproject.toml``.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def compiled_modules() -> list[str]:
    """``COMPILED_MODULES`` of ``grounding_rewards/_pure.py``, read without importing it."""
    tree = ast.parse((ROOT / "grounding_rewards" / "_pure.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "COMPILED_MODULES"
            and node.value is not None
        ):
            return list(ast.literal_eval(node.value))
    raise SystemExit("setup.py: COMPILED_MODULES not found in grounding_rewards/_pure.py")


def _warn(message: str) -> None:
    print(f"grounding-rewards: {message}; installing the pure-Python modules", file=sys.stderr)


# pip asks setup.py for metadata (egg_info, dist_info) before it builds; those commands
# need no extensions, and mypyc's type check would run once more for each.
_METADATA_ONLY = {"egg_info", "dist_info", "sdist", "--name", "--version"}


def ext_modules() -> list:  # type: ignore[type-arg]
    """The mypyc extensions, or none when they cannot be built."""
    commands = {argument for argument in sys.argv[1:] if not argument.startswith("-")}
    if commands and commands <= _METADATA_ONLY:
        return []
    if os.environ.get("GROUNDING_REWARDS_COMPILE", "1").strip() in ("0", ""):
        _warn("GROUNDING_REWARDS_COMPILE=0")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _warn("mypyc is not installed")
        return []
    paths = [str(Path(*name.split("."))) + ".py" for name in compiled_modules()]
    try:
        # mypy checks the modules as it compiles them. The runtime dependencies need not be
        # installed in the build environment: their imports are read as Any, which the
        # strict checks (run on the whole package by `./dev lint`) would refuse here.
        # Errors in the modules the compiled ones import but that are not compiled (the
        # synthesis package, say, without pydantic in a fresh venv) must not stop the build:
        # those are read silently.
        relaxed = [
            "--follow-imports=silent",
            "--ignore-missing-imports",
            "--allow-subclassing-any",
            "--allow-untyped-decorators",
            "--allow-untyped-calls",
            "--no-warn-return-any",
            "--no-warn-unused-ignores",
        ]
        return list(
            mypycify(
                [*paths, *relaxed],
                opt_level="3",
                debug_level="0",
                group_name="grounding_rewards",
            )
        )
    except BaseException as error:  # mypyc reports type errors with SystemExit
        _warn(f"mypyc failed ({error!r})")
        return []


class OptionalBuildExt(build_ext):
    """Build every extension or none: a partial set would import a missing shared library."""

    def run(self) -> None:
        """Compile, or warn and leave the package pure Python."""
        try:
            super().run()
        except Exception as error:  # no compiler, no Python headers, a compile error
            for extension in self.extensions:
                path = self.get_ext_fullpath(extension.name)
                if os.path.exists(path):
                    os.remove(path)
            self.extensions = []
            _warn(f"the C extensions could not be built ({error})")

    def get_outputs(self) -> list[str]:
        """The built files (none when the build gave up)."""
        return super().get_outputs() if self.extensions else []


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
