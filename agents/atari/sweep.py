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
same one. A preset is a name of :data:`agents.atari.presets.PRESETS` or a JSON file with the fields of :class:`Preset`.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agents.atari.evaluation import SCORES_FILE, RunScores
from agents.atari.executors import EXECUTORS
from agents.atari.jobs import JobResult, is_finished
from agents.atari.presets import Preset, load_preset
from agents.atari.train import METHODS
from agents.cli import positive_int, run_main
from gym_langrearrange.files import atomic_write_json, atomic_write_text, read_json


def parse_shard(text: str) -> tuple[int, int]:
    """``--shard i/N``: this machine runs jobs i, i+N, i+2N, ... (0 <= i < N)."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit()) or int(count) < 1 or int(index) >= int(count):
        raise argparse.ArgumentTypeError(f"expected i/N with 0 <= i < N (e.g. 0/4), got {text!r}")
    return int(index), int(count)


def claim_folder(root: Path, preset: Preset) -> None:
    """Record the preset in ``OUT/sweep.json``; refuse a folder that holds another sweep (one that differs in
    what its jobs are: its name and description may change)."""
    path = root / "sweep.json"
    mine = json.loads(json.dumps(asdict(preset)))
    if path.exists():
        theirs = read_json(path, "sweep record")
        differ = sorted(k for k in mine if k not in ("name", "description") and mine.get(k) != theirs.get(k))
        if differ:
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
