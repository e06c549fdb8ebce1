"""One job of a sweep: the run folder ``OUT/GAME/METHOD/seedS`` of ``python -m agents.atari.train``,
trained (or resumed) in a child process. :func:`run_job` is what every executor runs."""
from __future__ import annotations

import os
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
    if any((folder / name).exists() for name in RUN_FILES):  # the harness resumes, or restarts a run
        command.append("--resume")                            # killed before its first checkpoint
    return command


#: what a training run leaves in its folder (agents.training.run_training)
RUN_FILES = ("checkpoint", ".checkpoint.tmp", ".checkpoint.old", "tb", "curve.json", "evals.json")


def run_job(job: Job, root: str, preset: Preset, threads: int | str = "auto") -> JobResult:
    """Train (or resume) one job in a child process, its output in ``train.log``; never raises for a
    failed job. The same function runs under every executor."""
    root_path = Path(root)
    if is_finished(job, root_path, preset):
        return JobResult(job, "skipped")
    folder = job.folder(root_path)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                         os.environ.get("PYTHONPATH", "")])}
    command = train_command(job, root_path, preset, threads)
    with open(folder / "train.log", "a") as log:
        log.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
        log.flush()
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - t0
    if code == 0 and (folder / SCORES_FILE).exists():
        return JobResult(job, "finished", seconds, f"score {RunScores.read(folder / SCORES_FILE).mean:.1f}")
    return JobResult(job, "failed", seconds, f"exit code {code}; see {folder / 'train.log'}")
