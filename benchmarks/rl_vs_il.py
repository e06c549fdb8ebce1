"""RL against imitation at equal numbers of episodes (the paper's Figure 4c), on a small subset.

    python benchmarks/rl_vs_il.py run --demos ~/demos/train --root ~/rl-vs-il              # resumable
    python benchmarks/rl_vs_il.py report --root ~/rl-vs-il --rl docs/results/learning-easy-masked/llarp/evals.json \\
        --to docs/results/rl-vs-il

``run`` clones LLaRP (``python -m agents.imitation.train``, the exploring expert's demonstrations of the
subset's training episodes only: ``--only-episodes``) in stages of ``--stages`` cloned episodes, and after
each stage evaluates the checkpoint greedily on the subset's held-out episodes with ``agents.evaluate``,
the harness the RL runs of ``benchmarks/learning.py`` use for their held-out curve. Run it again after
an interruption: a stage whose evaluation is complete is skipped, a stage cut short resumes.

``report`` puts the imitation curve beside an RL run's held-out evaluations (its ``evals.json``, by
environment steps) on one axis of *episodes*. An RL run logs steps, not episodes; since no episode lasts
more than 32 steps, after S steps it had played at least S / 32 episodes, so RL is drawn at S / 32: as
far left as it can be, the reading most favourable to RL.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from learning import rate_with_interval, subset_files  # benchmarks/learning.py, beside this script
from subsets import SUBSETS

from gym_langrearrange.files import atomic_write, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
MAX_STEPS = 32  # the environment's episode cap


def stage_eval(root: Path, episodes: int) -> Path:
    return root / f"eval-{episodes:06d}"


def heldout_success(folder: Path) -> tuple[float, int] | None:
    """(success, episodes) of a finished held-out evaluation, None if it is missing or partial."""
    path = folder / "summary.json"
    if not path.exists():
        return None
    report = json.loads(path.read_text())
    if report.get("missing"):
        return None
    (row,) = report["summary"].values()
    return float(row["success"]), int(row["episodes"])


def run(args: argparse.Namespace) -> None:
    train_file, heldout_file = subset_files(args.root, args.subset)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(REPO)}
    run_folder = args.root / "llarp-il"
    for episodes in args.stages:
        out = stage_eval(args.root, episodes)
        if heldout_success(out) is not None:
            print(f"{episodes} episodes: evaluated ({out})")
            continue
        train = [sys.executable, "-m", "agents.imitation.train", "--demos", str(args.demos), "--only-episodes",
                 str(train_file), "--episodes", str(episodes), "--batch-episodes", str(args.batch_episodes),
                 "--threads", str(args.threads), "--seed", str(args.seed), "--out", str(run_folder),
                 "--no-progress"]
        if (run_folder / "checkpoint" / "model.zip").exists():
            train.append("--resume")
        print(f"{episodes} episodes: training", flush=True)
        subprocess.run(train, cwd=REPO, env=env, check=True)
        print(f"{episodes} episodes: evaluating on {heldout_file.name}", flush=True)
        subprocess.run([sys.executable, "-m", "agents.evaluate", "--agent", str(run_folder / "checkpoint"),
                        "--episodes-file", str(heldout_file), "--seed", "0", "--out", str(out), "--no-progress"],
                       cwd=REPO, env=env, check=True)


def report(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    il = sorted((int(p.name.removeprefix("eval-")), r) for p in args.root.glob("eval-*")
                if (r := heldout_success(p)) is not None)
    if not il:
        raise SystemExit(f"{args.root}: no finished stage evaluations (eval-*/summary.json): run `run` first")
    rl = json.loads(Path(args.rl).read_text())
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot([n for n, _ in il], [100 * s for _, (s, _) in il], marker="o", label="LLaRP-IL (behaviour cloning)")
    ax.plot([e["steps"] / MAX_STEPS for e in rl], [100 * e["heldout_success"] for e in rl], marker="s",
            label="LLaRP RL (PPO), at steps / 32 episodes")
    ax.set(xscale="log", xlabel="training episodes (log)", ylabel="held-out success (%)",
           title=f"{args.subset}: RL against imitation at equal episodes")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.to.mkdir(parents=True, exist_ok=True)
    atomic_write(args.to / "rl_vs_il.png", lambda f: fig.savefig(f, dpi=120, format="png"))
    rows = ["| method | training episodes | held-out success [95% CI] |", "|---|---:|---:|"]
    rows += [f"| LLaRP-IL | {n:,} | {rate_with_interval(s, k)} |" for n, (s, k) in il]
    rows += [f"| LLaRP RL | ≥ {e['steps'] // MAX_STEPS:,} ({e['steps']:,} steps) | "
             f"{rate_with_interval(e['heldout_success'], 100)} |" for e in rl]
    table = "\n".join(rows)
    atomic_write_text(args.to / "rl_vs_il.md", f"Held-out episodes: {args.subset} (100, greedy).\n\n{table}\n")
    print(table)
    print(f"wrote {args.to / 'rl_vs_il.png'} and {args.to / 'rl_vs_il.md'}")


def stages(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v]
    if not values or any(v <= 0 for v in values) or values != sorted(set(values)):
        raise argparse.ArgumentTypeError(f"--stages {text!r}: give increasing positive episode counts, e.g. 300,1000")
    return values


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["run", "report"])
    p.add_argument("--root", type=lambda s: Path(s).expanduser().resolve(), required=True,
                   help="runs folder (outside the checkout)")
    p.add_argument("--subset", default="single-move-easy", choices=sorted(SUBSETS))
    p.add_argument("--demos", help="run: demonstrations of train (agents.imitation.demos)")
    p.add_argument("--stages", type=stages, default=stages("300,1000,3000,10000"))
    p.add_argument("--batch-episodes", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rl", help="report: an RL run's evals.json (benchmarks/learning.py, same subset)")
    p.add_argument("--to", type=Path, help="report: folder for rl_vs_il.png and rl_vs_il.md")
    args = p.parse_args(argv)
    if args.command == "run":
        if not args.demos:
            p.error("run needs --demos")
        run(args)
    else:
        if not (args.rl and args.to):
            p.error("report needs --rl and --to")
        report(args)


if __name__ == "__main__":
    main()
