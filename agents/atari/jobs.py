"""One job of a sweep: the run folder ``OUT/GAME/METHOD/seedS`` of ``python -m agents.atari.train``,
trained (or resumed) in a child process. :func:`run_job` is what every executor runs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agents.atari.evaluation import SCORES_FILE, RunScores

if TYPE_CHECKING:
    from agents.atari.presets import Preset


@dataclass(frozen=True)
class Job:
    game: str
    method: str
    seed: int

    def folder(self, root: Path) -> Path:
        return Path(root) / self.game / self.method / f"seed{self.seed}"

    def __str__(self) -> str:
        return f"{self.game} {self.method} seed {self.seed}"


@dataclass
class JobResult:
    job: Job
    status: str  # "finished" (scores written), "failed", or "skipped" (already finished)
    seconds: float = 0.0
    detail: str = ""  # the score, or what failed


def is_finished(job: Job, root: Path, preset: Preset) -> bool:
    path = job.folder(root) / SCORES_FILE
    return path.exists() and RunScores.read(path).steps >= preset.steps


def train_command(job: Job, root: Path, preset: Preset, threads: int | str) -> list[str]:
    folder = job.folder(root)
    command = [sys.executable, "-m", "agents.atari.train", "--game", job.game, "--method", job.method,
               "--seed", str(job.seed), "--steps", str(preset.steps), "--envs", str(preset.envs),
               "--eval-episodes", str(preset.eval_episodes), "--checkpoint-every", str(preset.checkpoint_every),
               "--threads", str(threads), "--out", str(folder), *preset.train_options]
    if (folder / "checkpoint" / "model.zip").exists():
        command.append("--resume")
    return command


def clear_unresumable(folder: Path) -> list[str]:
    """A job killed before its first checkpoint left logs of a run that cannot be resumed; remove them,
    so the job starts again instead of failing on 'already holds a training run'."""
    if (folder / "checkpoint").exists() or (folder / ".checkpoint.tmp").exists() or (folder / ".checkpoint.old").exists():
        return []
    cleared = []
    for name in ("tb", "curve.json", "evals.json"):
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        cleared.append(name)
    return cleared


def run_job(job: Job, root: str, preset: Preset, threads: int | str = "auto") -> JobResult:
    """Train (or resume) one job in a child process, its output in ``train.log``; never raises for a
    failed job. The same function runs under every executor."""
    root_path = Path(root)
    if is_finished(job, root_path, preset):
        return JobResult(job, "skipped")
    folder = job.folder(root_path)
    folder.mkdir(parents=True, exist_ok=True)
    cleared = clear_unresumable(folder)
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                         os.environ.get("PYTHONPATH", "")])}
    with open(folder / "train.log", "a") as log:
        if cleared:
            log.write(f"\n# no checkpoint to resume: removed {', '.join(cleared)} and started again\n")
        log.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(train_command(job, root_path, preset, threads))}\n")
        log.flush()
        code = subprocess.call(train_command(job, root_path, preset, threads), stdout=log, stderr=subprocess.STDOUT,
                               env=env)
    seconds = time.perf_counter() - t0
    if code == 0 and (folder / SCORES_FILE).exists():
        return JobResult(job, "finished", seconds, f"score {RunScores.read(folder / SCORES_FILE).mean:.1f}")
    return JobResult(job, "failed", seconds, f"exit code {code}; see {folder / 'train.log'}")
