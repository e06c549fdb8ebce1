"""Continual learning (the paper's Figure 4b): a trained policy goes on learning a behaviour it was not trained on.

    python benchmarks/continual.py run --root ~/continual                        # LLaRP from zoo/llarp-il; resumable
    python benchmarks/continual.py run --root ~/continual --from RUN/checkpoint --name lstm-llm-final-il
    python benchmarks/continual.py report --root ~/continual --to docs/results/continual

``run`` continues PPO from a checkpoint (``python -m agents.llarp.train --init-from CHECKPOINT``, the value
head trained alone for the first ``--value-warmup`` updates, since a behaviour-cloned checkpoint has never
trained it; for an LSTM checkpoint ``agents.lstm.train --init-from``, without warm-up) on the
``multiple_rearrangements_train`` split: 10,000 episodes of the multiple-rearrangement behaviour (three
objects; training has at most two) in the *training* scenes. Every ``--eval-every`` steps the policy is
evaluated greedily on the held-out ``multiple_rearrangements`` dataset (its 100 episodes, in new scenes),
through ``agents.evaluate``'s harness; after training, the checkpoint is evaluated on ``multiple_rearrangements``
and ``train`` (100 episodes each: what was learnt, and what was kept) into ``ROOT/NAME/final-STEPS``. Run the
same command again after an interruption: the run resumes from its checkpoint and its evaluation schedule;
with a larger ``--time-budget`` or ``--steps`` it trains on and gets a final evaluation of its own.

``report`` copies each run's ``evals.json`` (with the held-out episodes' mean return) into
``TO/runs/NAME/`` (results outlive the machine: a report without ``--root`` redraws from them), then writes
``TO/continual.png`` (held-out success against steps, 95% Wilson intervals) and ``TO/table.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from learning import rate_with_interval, read_evals  # benchmarks/learning.py, beside this script

from agents.results import wilson_interval
from gym_langrearrange.datasets import DATASET_SIZES, generate_episode, save_episodes
from gym_langrearrange.files import atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
TRAIN_SPLIT, HELDOUT_DATASET = "multiple_rearrangements_train", "multiple_rearrangements"
#: the final evaluation's datasets: the behaviour learnt, and the training set (what was kept of it)
FINAL_DATASETS = (HELDOUT_DATASET, "train")


def heldout_file(root: Path) -> Path:
    """The held-out dataset's 100 episodes as an episode file (what ``--heldout`` takes)."""
    path = root / f"{HELDOUT_DATASET}.json"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        save_episodes([generate_episode(HELDOUT_DATASET, i)[0] for i in range(DATASET_SIZES[HELDOUT_DATASET])], path)
    return path


def entry_point(source: Path) -> list[str]:
    """The training entry point (and architecture flags) that continues the checkpoint in ``source``."""
    meta = json.loads((source / "agent.json").read_text())
    options = meta.get("options", {})
    if meta.get("algorithm") == "agents.llarp:LLaRP":
        return ["-m", "agents.llarp.train"]
    if meta.get("algorithm") == "sb3_contrib:RecurrentPPO":  # an RL run records its encoder, a cloned one its method
        encoder = meta.get("encoder") or str(options.get("method", "")).removeprefix("lstm-")
        model = meta.get("encoder_model") or options.get("encoder_model")
        return ["-m", "agents.lstm.train", "--encoder", encoder, *(["--encoder-model", model] if model else []),
                "--visual-encoder", options.get("visual_encoder", "cnn")]
    raise SystemExit(f"error: --from {source}: a LLaRP or LSTM (RecurrentPPO) checkpoint is needed; its agent.json "
                     f"names {meta.get('algorithm')!r}")


def command(args: argparse.Namespace, heldout: Path) -> list[str]:
    source = Path(args.source).resolve()
    entry = entry_point(source)
    out = Path(args.root).expanduser() / args.name
    # LLaRP's value head is trained alone first (a cloned one never was); RecurrentPPO has no such warm-up
    warmup = ["--value-warmup", str(args.value_warmup)] if entry[1] == "agents.llarp.train" else []
    cmd = [sys.executable, *entry, "--init-from", str(source), *warmup, "--split", TRAIN_SPLIT, "--heldout",
           str(heldout), "--eval-every", str(args.eval_every), "--steps", str(args.steps), "--envs", str(args.envs),
           "--threads", str(args.threads), "--checkpoint-every", str(args.checkpoint_every), "--seed", str(args.seed),
           "--eval-episodes", "0", "--out", str(out)]
    if args.time_budget:
        cmd += ["--time-budget", str(args.time_budget)]
    if (out / "checkpoint" / "model.zip").exists():
        cmd.append("--resume")
    return cmd


def final_evaluation(out: Path) -> list[str] | None:
    """``agents.evaluate`` of the run's checkpoint on what it learnt and what it kept (FINAL_DATASETS, 100
    episodes each) into ``OUT/final-STEPS``: one folder per checkpoint, so a run extended later gets its
    own; None when this checkpoint's is already there."""
    steps = json.loads((out / "checkpoint" / "agent.json").read_text())["num_timesteps"]
    folder = out / f"final-{steps:09d}"
    if (folder / "summary.json").exists():
        return None
    return [sys.executable, "-m", "agents.evaluate", "--agent", str(out / "checkpoint"), "--datasets",
            ",".join(FINAL_DATASETS), "--episodes", "100", "--seed", "0", "--out", str(folder), "--no-progress"]


def call(cmd: list[str], out: Path, name: str, threads: int) -> None:
    """Run one step of a continual run, its output appended to ``OUT/train.log``; stop on failure."""
    print(f"{name}: {' '.join(cmd[1:])}", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TQDM_MININTERVAL": "30"}
    with open(out / "train.log", "a") as log:
        code = subprocess.call(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if code:
        sys.exit(f"{name}: FAILED (exit {code}, see {out / 'train.log'})")


def run(args: argparse.Namespace) -> None:
    root = Path(args.root).expanduser()
    out = root / args.name
    cmd = command(args, heldout_file(root))
    out.mkdir(parents=True, exist_ok=True)
    call(cmd, out, args.name, args.threads)
    final = final_evaluation(out)
    if final is not None:
        call(final, out, args.name, args.threads)
    print(f"{args.name}: done")


def keep_results(root: Path, kept: Path) -> None:
    """Each run's evaluations (with their episode statistics) into ``kept``/NAME/evals.json, and its final
    evaluations' summaries as ``final-STEPS.json``; a run with fewer evaluations than the kept copy never
    replaces its evals.json."""
    for folder in sorted(p for p in root.iterdir() if (p / "evals.json").exists()):
        dst = kept / folder.name
        dst.mkdir(parents=True, exist_ok=True)
        for summary in folder.glob("final-*/summary.json"):
            atomic_write_json(dst / f"{summary.parent.name}.json", json.loads(summary.read_text()))
        evals = read_evals(folder)
        if (dst / "evals.json").exists() and len(json.loads((dst / "evals.json").read_text())) > len(evals):
            print(f"{folder.name}: kept {dst / 'evals.json'} (more evaluations than {folder})")
            continue
        atomic_write_json(dst / "evals.json", evals)


def report(args: argparse.Namespace) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    to = Path(args.to)
    to.mkdir(parents=True, exist_ok=True)
    kept = to / "runs"
    if args.root:
        keep_results(Path(args.root).expanduser(), kept)
    runs = {p.name: json.loads((p / "evals.json").read_text()) for p in sorted(kept.glob("*")) if (p / "evals.json").exists()}
    if not runs:
        raise SystemExit(f"error: no evaluations in {kept}" + (f" or {args.root}" if args.root else ""))
    rows = [f"| run | steps | held-out success ({HELDOUT_DATASET}) | mean return |", "|---|---:|---:|---:|"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, evals in runs.items():
        steps = [e["steps"] for e in evals]
        rates = [e["heldout_success"] for e in evals]
        bounds = [wilson_interval(e["heldout_success"] * e["heldout_episodes"], e["heldout_episodes"])
                  if e.get("heldout_episodes") else (e["heldout_success"],) * 2 for e in evals]
        ax.plot(steps, rates, marker="o", label=name)
        ax.fill_between(steps, [b[0] for b in bounds], [b[1] for b in bounds], alpha=0.2)
        for e in evals:
            ret = f"{e['heldout_return']:.2f}" if "heldout_return" in e else "-"
            rows.append(f"| {name} | {e['steps']:,} | {rate_with_interval(e['heldout_success'], e.get('heldout_episodes'))} "
                        f"| {ret} |")
    finals = []
    for path in sorted(kept.glob("*/final-*.json")):
        summary = json.loads(path.read_text())["summary"]
        rates = [rate_with_interval(summary[d]["success"], summary[d]["episodes"]) if d in summary else "-"
                 for d in FINAL_DATASETS]
        finals.append(f"| {path.parent.name} | {int(path.stem.removeprefix('final-')):,} | {' | '.join(rates)} |")
    if finals:
        rows += ["", "After training (`agents.evaluate`, 100 episodes per dataset, seed 0):", "",
                 "| run | steps | " + " | ".join(FINAL_DATASETS) + " |", "|---|---:|" + "---:|" * len(FINAL_DATASETS),
                 *finals]
    ax.set_xlabel(f"environment steps on {TRAIN_SPLIT}")
    ax.set_ylabel(f"greedy success, {HELDOUT_DATASET}")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(to / "continual.png", dpi=120)
    text = "\n".join(rows) + "\n"
    atomic_write_text(to / "table.md", text)
    print(text)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--root", required=True, help="runs folder (outside the checkout)")
    r.add_argument("--from", dest="source", default=str(REPO / "zoo" / "llarp-il"),
                   help="the LLaRP or LSTM checkpoint to continue from (default: zoo/llarp-il)")
    r.add_argument("--name", default="llarp-il", help="the run's folder under --root, and its name in the report")
    r.add_argument("--steps", type=int, default=500_000, help="environment steps (the paper: ~500k for LLaRP)")
    r.add_argument("--time-budget", type=float, default=None, help="training seconds (grows on resume)")
    r.add_argument("--eval-every", type=int, default=25_000)
    r.add_argument("--value-warmup", type=int, default=10, help="first updates that train the value head alone")
    r.add_argument("--envs", type=int, default=8)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--checkpoint-every", type=int, default=5_000)
    r.add_argument("--seed", type=int, default=0)
    q = sub.add_parser("report")
    q.add_argument("--root", default=None, help="runs folder whose evaluations join those kept in TO/runs")
    q.add_argument("--to", default="docs/results/continual")
    args = p.parse_args(argv)
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
