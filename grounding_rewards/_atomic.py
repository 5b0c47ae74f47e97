r"""Atomic, lossless file output: an error or a kill never leaves a half-written file.

Every file the project writes goes through here. The new content is written to a
temporary file in the *same folder* (so the final rename stays on one file
system), flushed and ``fsync``-ed, then moved over the target with
:func:`os.replace`, which is atomic on POSIX and Windows: a reader sees the old
file or the new one, never a mix, and a failure at any point before the rename
leaves the old file untouched (the temporary file is removed).

Text is encoded so that *any* Python string can be written: lone surrogates (valid
``\ud800`` JSON escapes that models emit decode to them) are written as the
visible escape ``\ud800`` (``errors="backslashreplace"``) instead of crashing
UTF-8 encoding; NUL and characters beyond the BMP are plain UTF-8.

Example:
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> _ = write_text_atomic(target, "old")
    >>> _ = write_text_atomic(target, "lone \ud800, NUL \x00, emoji \U0001f600")
    >>> target.read_bytes()
    b'lone \\ud800, NUL \x00, emoji \xf0\x9f\x98\x80'
    >>> with atomic_path(target) as temporary:
    ...     _ = temporary.write_text("half")
    ...     raise RuntimeError("the writer fails")
    Traceback (most recent call last):
    ...
    RuntimeError: the writer fails
    >>> target.read_bytes()[:6], sorted(p.name for p in target.parent.iterdir())
    (b'lone \\', ['report.html'])
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from grounding_rewards.errors import InputError

__all__ = [
    "atomic_dir",
    "atomic_open",
    "atomic_path",
    "encode_text",
    "write_bytes_atomic",
    "write_text_atomic",
]

StrPath = str | os.PathLike[str]


def encode_text(text: str, *, errors: str = "backslashreplace") -> bytes:
    r"""UTF-8 bytes of any Python string; lone surrogates become a visible ``\udXXX``.

    Args:
        text: The text.
        errors: The codec error handler for what UTF-8 cannot encode (lone surrogates
            only): ``backslashreplace`` (visible, the default), ``replace`` (``?``) or
            ``surrogatepass`` (bytes that round-trip through ``surrogatepass`` but are
            not valid UTF-8).

    Example:
        >>> encode_text("a\ud800b\x00\U0001f600")
        b'a\\ud800b\x00\xf0\x9f\x98\x80'
    """
    return text.encode("utf-8", errors)


def _fsync_dir(folder: Path) -> None:
    # Make the rename itself durable; not every platform lets a folder be opened.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temporary_name(target: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(name)


def _publish(temporary: Path, target: Path, mode: int | None) -> None:
    if mode is not None:
        os.chmod(temporary, mode)
    os.replace(temporary, target)
    _fsync_dir(target.parent)


def _mode_for(target: Path) -> int:
    # mkstemp makes files 0600; keep the old file's mode, or the umask's default.
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: StrPath) -> Iterator[Path]:
    """A temporary path next to ``path``; on success it is ``fsync``-ed and renamed onto it.

    For writers that take a file name (Pillow, pyarrow). On an exception the
    temporary file is removed and ``path`` is left as it was.

    Args:
        path: The file to (re)place. Its folder must exist.

    Yields:
        The temporary path to write.
    """
    target = Path(path)
    mode = _mode_for(target)
    temporary = _temporary_name(target)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        _publish(temporary, target, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: StrPath, mode: str = "w", *, errors: str | None = None) -> Iterator[IO[Any]]:
    r"""Open a temporary file next to ``path`` for writing; rename it onto ``path`` on success.

    Text modes write UTF-8 with ``errors="backslashreplace"`` unless told otherwise,
    so any string can be written (see :func:`encode_text`).

    Args:
        path: The file to (re)place.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        errors: The text encoding's error handler.

    Yields:
        The open file.

    Example:
        >>> import pathlib, tempfile
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.json"
        >>> with atomic_open(target) as handle:
        ...     _ = handle.write('{"a": "\ud800"}')
        >>> target.read_text()
        '{"a": "\\ud800"}'
    """
    if mode not in ("w", "wb"):
        raise InputError(f"mode: expected 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as temporary:
        if mode == "wb":
            with open(temporary, "wb") as binary:
                yield binary
        else:
            with open(
                temporary, "w", encoding="utf-8", errors=errors or "backslashreplace", newline=""
            ) as text:
                yield text


def write_bytes_atomic(path: StrPath, data: bytes) -> Path:
    r"""Write ``data`` to ``path`` atomically; return the path.

    Example:
        >>> import pathlib, tempfile
        >>> write_bytes_atomic(pathlib.Path(tempfile.mkdtemp()) / "a.bin", b"\x00").read_bytes()
        b'\x00'
    """
    target = Path(path)
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)
    return target


def write_text_atomic(path: StrPath, text: str, *, errors: str = "backslashreplace") -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically; any string can be written.

    Args:
        path: The file to (re)place.
        text: The text (lone surrogates are written as visible escapes).
        errors: See :func:`encode_text`.

    Returns:
        The path.
    """
    return write_bytes_atomic(path, encode_text(text, errors=errors))


@contextlib.contextmanager
def atomic_dir(path: StrPath) -> Iterator[Path]:
    """A temporary folder next to ``path`` that replaces the folder ``path`` on success.

    For writers that produce a folder (``datasets.Dataset.save_to_disk``). Two
    renames swap it in (the old folder is moved aside, the new one in, the old one
    deleted), so at every moment the old or the new folder is complete under one
    of the two names, and an error before the swap leaves ``path`` untouched.

    Args:
        path: The folder to (re)place. A *file* there is refused.

    Yields:
        The temporary folder to fill (it exists and is empty).

    Raises:
        FileExistsError: When ``path`` is a file.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target}: expected a folder (or nothing), got a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield temporary
        for root, _dirs, files in os.walk(temporary):
            for name in files:
                with open(os.path.join(root, name), "rb") as handle:
                    os.fsync(handle.fileno())
        aside: Path | None = None
        if target.exists():
            aside = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, aside / "previous")
        try:
            os.replace(temporary, target)
        except BaseException:
            if aside is not None:  # put the old folder back where it was
                os.replace(aside / "previous", target)
                aside.rmdir()
            raise
        _fsync_dir(target.parent)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
