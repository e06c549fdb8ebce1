"""The Atari comparison as a sweep: game x method x seed training runs, on one machine or a cluster.

    python -m agents.atari.sweep list --preset paper                     # the jobs and their cost
    python -m agents.atari.sweep run --preset cpu --out ~/atari-cpu      # local worker processes
    python -m agents.atari.sweep run --preset paper --out /shared/atari --shard 3/8
    python -m agents.atari.sweep run --preset paper --out /shared/atari --executor submitit   # SLURM array
    python -m agents.atari.sweep run --preset paper --out /shared/atari --executor ray --ray-address HOST:6379
    python -m agents.atari.sweep report --out ~/atari-cpu                # scores.csv, table.md, figures

Each job is the run folder ``OUT/GAME/METHOD/seedS`` of ``python -m agents.atari.train``. A job
whose ``scores.json`` exists is finished and skipped; one with a checkpoint resumes from it; a
job that fails is reported (its log is ``OUT/GAME/METHOD/seedS/train.log``) and the others go
on. ``OUT/sweep.json`` records the preset: a later command on the same folder must name the
same one. A preset is a name of :data:`PRESETS` or a JSON file with the fields of :class:`Preset`.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from agents.atari.evaluation import SCORES_FILE, RunScores
from agents.atari.scores import ATARI_55, check_game
from agents.atari.train import METHODS
from agents.cli import positive_int, run_main
from gym_langrearrange.files import atomic_write_json, atomic_write_text, read_json


@dataclass(frozen=True)
class Preset:
    """A sweep: every game x method x seed, each trained for ``steps`` with these options."""

    name: str
    games: tuple[str, ...]
    methods: tuple[str, ...] = METHODS
    seeds: tuple[int, ...] = (0, 1)
    steps: int = 100_000_000
    envs: int = 64
    eval_episodes: int = 8
    checkpoint_every: int = 1_000_000  # steps between checkpoints: what a killed job can lose
    train_options: tuple[str, ...] = ()  # more options for agents.atari.train, e.g. ("--backbone", "tiny-llama")
    description: str = ""

    def __post_init__(self) -> None:
        for game in self.games:
            check_game(game)
        for method in self.methods:
            if method not in METHODS:
                raise ValueError(f"preset {self.name!r}: unknown method {method!r}; allowed: {', '.join(METHODS)}")
        if not self.games or not self.methods or not self.seeds:
            raise ValueError(f"preset {self.name!r} has no jobs (games, methods and seeds must be non-empty)")
        for key in ("steps", "envs", "checkpoint_every"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ValueError(f"preset {self.name!r}: {key} must be an integer >= 1, got {getattr(self, key)!r}")

    @classmethod
    def from_json(cls, path: Path) -> "Preset":
        data = read_json(path, "sweep preset")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown preset field(s) {', '.join(sorted(unknown))}; allowed: "
                             f"{', '.join(cls.__dataclass_fields__)}")
        data.setdefault("name", Path(path).stem)
        for key in ("games", "methods", "seeds", "train_options"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    def jobs(self) -> list["Job"]:
        """Game by game, seed by seed, both methods side by side (a sweep cut short has pairs to compare)."""
        return [Job(g, m, s) for g in self.games for s in self.seeds for m in self.methods]


#: games where a short CPU budget can show learning: frequent rewards from the first episodes, low
#: random scores, and gains within ~10^5 steps in the Atari-100k literature (docs/results/atari/README.md)
CPU_GAMES = ("breakout", "boxing")

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("paper", ATARI_55, steps=100_000_000,
           description="the paper's Figure 7: 55 games x 2 methods x 2 seeds x 100M steps"),
    Preset("atari100k", ATARI_55, steps=100_000,
           description="every game at a 100k-step budget (the Atari-100k setting, for comparison)"),
    Preset("cpu", CPU_GAMES, steps=100_000, envs=16, checkpoint_every=4096,
           description="a 2-core CPU over a few hours: 2 games x 2 methods x 2 seeds x 100k steps, 16 envs"),
    Preset("tiny", ("breakout", "asterix"), seeds=(0,), steps=32, envs=2, eval_episodes=1, checkpoint_every=16,
           train_options=("--backbone", "tiny-llama", "--n-steps", "8", "--n-minibatches", "2", "--image-size", "32"),
           description="tests: a random tiny LLM, 32 steps"),
)}


def load_preset(name_or_file: str) -> Preset:
    if name_or_file in PRESETS:
        return PRESETS[name_or_file]
    if name_or_file.endswith(".json") and Path(name_or_file).is_file():
        return Preset.from_json(Path(name_or_file))
    raise ValueError(f"unknown preset {name_or_file!r}; allowed: {', '.join(PRESETS)}, or a .json file")


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


# --- executors: each runs a list of jobs and yields their results ------------------------------------------

def run_local(jobs: list[Job], root: Path, preset: Preset, workers: int, **_: Any):
    """``workers`` jobs at a time, each a child process with an equal share of this machine's cores."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // workers)
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(run_job, job, str(root), preset, threads) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


def run_submitit(jobs: list[Job], root: Path, preset: Preset, cluster: str, slurm: dict[str, Any], **_: Any):
    """One SLURM job array (``cluster="slurm"``), or submitit's local executor (``"local"``, for tests)."""
    import submitit

    executor = submitit.AutoExecutor(folder=str(root / "submitit"), cluster=cluster)
    executor.update_parameters(**slurm)
    array = executor.map_array(run_job, jobs, [str(root)] * len(jobs), [preset] * len(jobs))
    for job, handle in zip(jobs, array):
        try:
            yield handle.result()
        except Exception as e:  # the job's process died (preempted, out of memory, ...): report, go on
            yield JobResult(job, "failed", detail=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")


def run_ray(jobs: list[Job], root: Path, preset: Preset, address: str | None, cpus_per_job: int, **_: Any):
    """One Ray task per job, on the cluster at ``address`` (a local Ray when None)."""
    import ray

    if address:
        check_answers(address)
    ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
             **({} if address else {"num_cpus": max(cpus_per_job, os.cpu_count() or 1)}))
    try:
        task = ray.remote(num_cpus=cpus_per_job)(run_job)
        pending = {task.remote(job, str(root), preset, cpus_per_job): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done[0])
            try:
                yield ray.get(done[0])
            except Exception as e:
                yield JobResult(job, "failed", detail=f"{type(e).__name__}: {e}")
    finally:
        ray.shutdown()


def check_answers(address: str, timeout: float = 5.0) -> None:
    """Fail at once, naming the address, when nothing listens there (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ray-address must be HOST:PORT (e.g. 10.0.0.5:6379), got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConnectionError(f"--ray-address {address} does not answer ({e.strerror or e}); start the cluster "
                              f"with 'ray start --head', or leave --ray-address out for a local Ray") from None


EXECUTORS: dict[str, Callable[..., Any]] = {"local": run_local, "submitit": run_submitit, "ray": run_ray}


# --- the command line ---------------------------------------------------------------------------------------

def parse_shard(text: str) -> tuple[int, int]:
    """``--shard i/N``: this machine runs jobs i, i+N, i+2N, ... (0 <= i < N)."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit()) or int(count) < 1 or int(index) >= int(count):
        raise argparse.ArgumentTypeError(f"expected i/N with 0 <= i < N (e.g. 0/4), got {text!r}")
    return int(index), int(count)


def claim_folder(root: Path, preset: Preset) -> None:
    """Record the preset in ``OUT/sweep.json``; refuse a folder that holds another sweep."""
    path = root / "sweep.json"
    mine = json.loads(json.dumps(asdict(preset)))
    if path.exists():
        theirs = read_json(path, "sweep record")
        if theirs != mine:
            differ = sorted(k for k in mine if mine.get(k) != theirs.get(k))
            raise ValueError(f"{root} holds the sweep {theirs.get('name')!r}, which differs in {', '.join(differ)}; "
                             f"use the same preset or another --out")
        return
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, mine)


def run_sweep(preset: Preset, root: Path, executor: str = "local", shard: tuple[int, int] = (0, 1),
              workers: int = 1, **options: Any) -> list[JobResult]:
    root = Path(root).expanduser().resolve()
    claim_folder(root, preset)
    jobs = preset.jobs()[shard[0]::shard[1]]
    todo = [j for j in jobs if not is_finished(j, root, preset)]
    print(f"sweep {preset.name}: {len(jobs)} jobs{f' (shard {shard[0]}/{shard[1]})' if shard[1] > 1 else ''}, "
          f"{len(jobs) - len(todo)} finished, {len(todo)} to run ({executor})", flush=True)
    results = [JobResult(j, "skipped") for j in jobs if j not in todo]
    if todo:
        for n, result in enumerate(EXECUTORS[executor](todo, root, preset, workers=workers, **options), start=1):
            results.append(result)
            print(f"[{n}/{len(todo)}] {result.job}: {result.status} ({result.seconds:.0f} s) {result.detail}",
                  flush=True)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        print(f"{len(failed)} job(s) failed: {'; '.join(str(r.job) for r in failed)}", flush=True)
    return results


def collect_scores(root: Path) -> str:
    """``scores.csv`` text (method,game,seed,score) from every finished job under ``root``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["method", "game", "seed", "score"])
    for path in sorted(Path(root).glob(f"*/*/seed*/{SCORES_FILE}")):
        s = RunScores.read(path)
        writer.writerow([s.method, s.game, s.seed, f"{s.mean:.3f}"])
    return out.getvalue()


def curves_figure(root: Path, path: Path) -> Path:
    """Per game, the mean raw score of recent training episodes by step, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gym_langrearrange.files import atomic_write

    runs = sorted(Path(root).glob("*/*/seed*/curve.json"))
    games = sorted({p.parts[-4] for p in runs})
    fig, axes = plt.subplots(1, max(len(games), 1), figsize=(3.2 * max(len(games), 1), 2.6), squeeze=False)
    colours = {m: c for m, c in zip(METHODS, ("tab:blue", "tab:gray"))}
    for ax, game in zip(axes[0], games):
        for p in [r for r in runs if r.parts[-4] == game]:
            curve = read_json(p, "training curve")
            if curve:
                steps, scores = zip(*curve)
                ax.plot(steps, scores, color=colours.get(p.parts[-3], "tab:red"), lw=1,
                        label=f"{p.parts[-3]} {p.parts[-2]}")
        ax.set_title(game)
        ax.set_xlabel("environment steps")
        if ax.get_lines():
            ax.legend(fontsize=6)
    axes[0][0].set_ylabel("raw score (recent training episodes)")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, dpi=120, format="png"))
    plt.close(fig)
    return path


def report(root: Path, out: Path | None = None, reps: int = 50_000) -> Path:
    """``scores.csv`` and ``curves.png`` in ``out`` (default ``root``), then ``agents.atari.report``'s table
    and figures when both methods have scores."""
    from agents.atari.report import main as report_main

    root = Path(root).expanduser().resolve()
    out = Path(out or root)
    csv_path = out / "scores.csv"
    atomic_write_text(csv_path, collect_scores(root))
    curves_figure(root, out / "curves.png")
    report_main([str(csv_path), "--methods", ",".join(METHODS), "--out", str(out), "--reps", str(reps)])
    return out


def cost_lines(preset: Preset, steps_per_second: float, what: str) -> list[str]:
    jobs = preset.jobs()
    total = len(jobs) * preset.steps
    hours = total / steps_per_second / 3600
    return [f"{len(jobs)} jobs x {preset.steps:,} steps = {total:,} environment steps",
            f"at {steps_per_second:,.0f} steps/s per {what}: {hours:,.0f} {what}-hours ({hours / 24:,.1f} {what}-days)"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agents.atari.sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="the jobs of a preset and what they cost")
    listing.add_argument("--preset", required=True)
    listing.add_argument("--steps-per-second", type=float, default=None,
                         help="measured end-to-end throughput of one job (benchmarks/llarp_throughput.py --task atari)")
    listing.add_argument("--per", default="device", help="what one job runs on, for the cost line (GPU, CPU, ...)")
    run = sub.add_parser("run", help="run (or continue) a sweep")
    run.add_argument("--preset", required=True)
    run.add_argument("--out", required=True, help="the sweep's folder (outside the checkout: runs outlive it)")
    run.add_argument("--executor", default="local", choices=list(EXECUTORS))
    run.add_argument("--workers", type=positive_int, default=1, help="local: jobs at a time")
    run.add_argument("--shard", type=parse_shard, default=(0, 1), metavar="i/N", help="run every N-th job from i")
    run.add_argument("--ray-address", default=None, help="ray: HOST:PORT of a running cluster (default: a local Ray)")
    run.add_argument("--cpus-per-job", type=positive_int, default=2, help="ray: CPUs each job asks for")
    run.add_argument("--submitit-cluster", default="slurm", choices=["slurm", "local", "debug"],
                     help="submitit: slurm (default), or submitit's local executor")
    run.add_argument("--slurm", default="{}", type=json.loads,
                     help='submitit parameters as JSON, e.g. \'{"timeout_min": 2880, "gpus_per_node": 1, '
                          '"slurm_partition": "gpu", "slurm_array_parallelism": 64}\'')
    run.add_argument("--no-report", action="store_true", help="skip writing scores.csv, table.md and figures")
    rep = sub.add_parser("report", help="scores.csv, table.md and figures from a sweep's folder")
    rep.add_argument("--out", required=True, help="the sweep's folder")
    rep.add_argument("--to", default=None, help="write the report here instead (e.g. docs/results/atari)")
    rep.add_argument("--reps", type=positive_int, default=50_000, help="bootstrap resamples (default 50,000)")
    args = p.parse_args(argv)

    if args.command == "list":
        preset = load_preset(args.preset)
        print(f"{preset.name}: {preset.description}")
        for job in preset.jobs():
            print(f"  {job}")
        if args.steps_per_second:
            print("\n".join(cost_lines(preset, args.steps_per_second, args.per)))
        return 0
    if args.command == "report":
        report(Path(args.out), Path(args.to) if args.to else None, args.reps)
        return 0
    preset = load_preset(args.preset)
    results = run_sweep(preset, Path(args.out), args.executor, args.shard, args.workers,
                        address=args.ray_address, cpus_per_job=args.cpus_per_job, cluster=args.submitit_cluster,
                        slurm=args.slurm)
    finished = [r for r in results if r.status != "failed"]
    if not args.no_report and args.shard == (0, 1) and len(finished) == len(results):
        report(Path(args.out))
    return 1 if len(finished) < len(results) else 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog="python -m agents.atari.sweep"))
