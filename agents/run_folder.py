"""The folder a training run or an evaluation writes into: one writer at a time, and the inputs
that define its result recorded, so that a resume never mixes two different runs.

- ``lock(folder)``: an advisory lock (``filelock``, i.e. ``flock``) held for the whole run. A second
  command on the same folder stops at once with a message; a killed process releases it.
- ``file_digest`` / ``code_version``: fingerprints of the inputs that define a result (an
  episode file's bytes, a checkpoint's files, the package's source code). Runs record them and
  compare them on resume.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = ".lock"


class RunFolderBusy(RuntimeError):
    """Another process is writing into the same run folder."""


class ResumeMismatch(ValueError):
    """A run folder was made with other settings or inputs than the command that would resume it."""


def lock(folder: str | os.PathLike, what: str) -> FileLock:
    """Take ``folder``'s lock (creating the folder), or raise ``RunFolderBusy`` at once.

    ``what`` says what the folder holds ("evaluation", "training run"), for the message. The
    process id of the holder is written beside the lock, so the message can name it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    file_lock = FileLock(folder / LOCK_NAME, timeout=0, is_singleton=False)
    holder = folder / f"{LOCK_NAME}.pid"
    try:
        file_lock.acquire()
    except Timeout:
        pid = holder.read_text().strip() if holder.exists() else "?"
        raise RunFolderBusy(f"another {what} is writing into {folder} (process {pid}); wait for it to finish, "
                            f"or use another --out") from None
    holder.write_text(f"{os.getpid()}\n")
    return file_lock


def file_digest(*paths: str | os.PathLike) -> str:
    """sha256 of the files' bytes, in the given order (16 hex digits)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


@lru_cache(maxsize=None)
def code_version() -> str:
    """The package version and a hash of every source file of ``gym_langrearrange`` and ``agents``:
    any edit to the code that makes results gives another value."""
    import agents
    import gym_langrearrange

    digest = hashlib.sha256()
    for package in (gym_langrearrange, agents):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return f"{gym_langrearrange.__version__}+{digest.hexdigest()[:12]}"


__all__ = ["lock", "RunFolderBusy", "file_digest", "code_version", "LOCK_NAME"]
