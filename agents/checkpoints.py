"""Checkpoints that survive a kill: written whole beside the old one, then swapped in by two renames."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from gym_langrearrange.files import atomic_write, atomic_write_json


def save_checkpoint(model: Any, folder: Path, meta: dict[str, Any]) -> Path:
    """model.zip + agent.json (what agents.evaluate needs), written whole to ``.NAME.tmp`` and swapped in.

    The swap is two renames (``NAME`` -> ``.NAME.old``, ``.NAME.tmp`` -> ``NAME``); a kill between them
    leaves no ``NAME``, which ``recover_checkpoint`` repairs before anything else touches the folder,
    so there is always one complete checkpoint on disk.
    """
    folder = Path(folder)
    recover_checkpoint(folder)
    tmp, old = _tmp_and_old(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    atomic_write(tmp / "model.zip", lambda f: model.save(f))
    atomic_write_json(tmp / "agent.json", {**meta, "model": "model.zip", "num_timesteps": int(model.num_timesteps)})
    _fsync_dir(tmp)
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    _fsync_dir(folder.parent)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def recover_checkpoint(folder: Path) -> None:
    """Repair what a kill during ``save_checkpoint`` left: a missing ``NAME`` is restored from the
    finished ``.NAME.tmp`` (the newer one; agent.json is written last) or else from ``.NAME.old``."""
    folder = Path(folder)
    tmp, old = _tmp_and_old(folder)
    if not folder.exists():
        for candidate in (tmp, old):
            if (candidate / "agent.json").exists() and (candidate / "model.zip").exists():
                os.replace(candidate, folder)
                _fsync_dir(folder.parent)
                print(f"note: restored the checkpoint {folder} from {candidate.name} (a save was interrupted)")
                break
    if folder.exists():
        for leftover in (tmp, old):
            shutil.rmtree(leftover, ignore_errors=True)


def _tmp_and_old(folder: Path) -> tuple[Path, Path]:
    return folder.with_name(f".{folder.name}.tmp"), folder.with_name(f".{folder.name}.old")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
