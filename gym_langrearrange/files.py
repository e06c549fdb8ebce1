"""Writing files so that a kill, a full disk or a concurrent reader never sees half of one.

Every file the package replaces (episode indexes, checkpoints, run configs, summaries,
curves) goes through these helpers: the data is written to a temporary file in the same
folder, flushed to disk, then renamed over the target in one ``os.replace``. A failure at
any point leaves the old file as it was and no temporary file behind.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, IO


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(f)`` on a temporary binary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any, indent: int | None = 1) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=indent))


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """``json.load`` whose error names the file, what it is and how to recover."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptFileError(f"{what} {path} is not valid JSON ({e}); restore it or delete it") from e


class CorruptFileError(ValueError):
    """A file the package wrote (or expects) cannot be read; the message names the file."""


__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_write_json", "read_json",
           "CorruptFileError"]
