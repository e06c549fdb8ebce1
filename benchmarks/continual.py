"""Continual learning (the paper's Figure 4b): a trained policy goes on learning a behaviour it was not trained on.

    python benchmarks/continual.py run --root ~/continual                        # LLaRP from zoo/llarp-il; resumable
    python benchmarks/continual.py run --root ~/continual --from RUN/checkpoint --name lstm-llm-final-il
    python benchmarks/continual.py run --root ~/continual --by bc --from zoo/llarp-il-instruction --name llarp-il-bc
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

``run --by bc`` learns the new behaviour by imitation instead: a behaviour-cloned checkpoint goes on cloning
the exploring expert's demonstrations of ``multiple_rearrangements_train`` (instruction order, as the zoo's
clones; written once into ``ROOT/demos``) through ``agents.imitation.train --continue-from``, with the
checkpoint's own model and optimiser options. The policy is evaluated on the held-out dataset after each number
of cloned demonstrations in ``--eval-at`` (0: the checkpoint as it came), then on ``train``; the same
command resumes at the first evaluation missing.

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

from learning import episode_stats, rate_with_interval, read_evals  # benchmarks/learning.py, beside this script

from agents.results import wilson_interval
from gym_langrearrange.datasets import DATASET_SIZES, generate_episode, save_episodes
from gym_langrearrange.files import atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
TRAIN_SPLIT, HELDOUT_DATASET = "multiple_rearrangements_train", "multiple_rearrangements"
#: the final evaluation's datasets: the behaviour learnt, and the training set (what was kept of it)
FINAL_DATASETS = (HELDOUT_DATASET, "train")
#: what defines a behaviour-cloning run (agents.imitation.train refuses to continue one with others), and its flag
BC_OPTIONS = {"method": "--method", "batch_episodes": "--batch-episodes", "lr": "--lr", "backbone": "--backbone",
              "encoder_model": "--encoder-model", "llm_dtype": "--dtype", "visual_encoder": "--visual-encoder",
              "image_size": "--image-size", "max_tokens": "--max-tokens", "seed": "--seed"}
#: a BC run's record beside its evals.json: where it started, and how many demonstrations its source had cloned
BC_RUN = "bc_run.json"


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


def cloned_source(source: Path) -> dict:
    """The agent.json of a behaviour-cloned checkpoint (what ``--by bc`` continues), or a one-line error."""
    meta = json.loads((source / "agent.json").read_text())
    if "bc" not in meta:
        raise SystemExit(f"error: --by bc --from {source}: a behaviour-cloned checkpoint is needed (agents.imitation.train"
                         f" or its zoo export); its agent.json has no 'bc' record")
    return meta


def demos_folder(root: Path) -> Path:
    """The exploring expert's demonstrations of all of ``multiple_rearrangements_train``, written once."""
    folder = root / "demos"
    if not (folder / "manifest.json").exists():
        subprocess.check_call([sys.executable, "-m", "agents.imitation.demos", "--split", TRAIN_SPLIT, "--episodes",
                               str(DATASET_SIZES[TRAIN_SPLIT]), "--search", "instruction", "--out", str(folder)],
                              cwd=REPO, env={**os.environ, "TQDM_MININTERVAL": "30"})
    return folder


def clone_command(args: argparse.Namespace, demos: Path, cloned: int) -> list[str]:
    """``agents.imitation.train`` continuing the source until it has cloned ``cloned`` demonstrations of the split."""
    source = Path(args.source).resolve()
    meta = cloned_source(source)
    out = Path(args.root).expanduser() / args.name
    cmd = [sys.executable, "-m", "agents.imitation.train", "--demos", str(demos), "--episodes",
           str(meta["bc"]["episodes"] + cloned), "--threads", str(args.threads), "--checkpoint-every", "250",
           "--out", str(out), "--no-progress"]
    for key, flag in BC_OPTIONS.items():
        if meta["options"].get(key) is not None:
            cmd += [flag, str(meta["options"][key])]
    resume = (out / "checkpoint" / "model.zip").exists()
    return cmd + (["--resume"] if resume else ["--continue-from", str(source)])


def evaluation(agent: Path, datasets: tuple[str, ...], folder: Path) -> list[str]:
    """``agents.evaluate`` of ``agent`` on ``datasets`` (100 greedy episodes each, seed 0) into ``folder``."""
    return [sys.executable, "-m", "agents.evaluate", "--agent", str(agent), "--datasets", ",".join(datasets),
            "--episodes", "100", "--seed", "0", "--out", str(folder), "--no-progress"]


def run_bc(args: argparse.Namespace) -> None:
    """Clone the split's demonstrations in stages, the held-out dataset evaluated after each (see the docstring)."""
    root = Path(args.root).expanduser()
    out = root / args.name
    source = Path(args.source).resolve()
    base = cloned_source(source)["bc"]["episodes"]
    out.mkdir(parents=True, exist_ok=True)
    record = out / BC_RUN
    if record.exists() and json.loads(record.read_text())["from"] != str(source):
        raise SystemExit(f"error: {out} continues {json.loads(record.read_text())['from']}, not --from {source}")
    atomic_write_json(record, {"from": str(source), "base_episodes": base})
    demos = demos_folder(root)
    evals = json.loads((out / "evals.json").read_text()) if (out / "evals.json").exists() else []
    for cloned in sorted(set(args.eval_at) - {e["episodes"] for e in evals}):
        agent = source
        if cloned:
            call(clone_command(args, demos, cloned), out, args.name, args.threads)
            agent = out / "checkpoint"
            reached = json.loads((agent / "agent.json").read_text())["bc"]["episodes"] - base
            if reached != cloned:
                raise SystemExit(f"error: {agent} has cloned {reached} demonstrations of {TRAIN_SPLIT}, not {cloned}: "
                                 f"its evaluation would be mislabelled; start a new --name")
        folder = out / "heldout" / f"episodes{cloned:09d}"
        call(evaluation(agent, (HELDOUT_DATASET,), folder), out, args.name, args.threads)
        summary = json.loads((folder / "summary.json").read_text())["summary"][HELDOUT_DATASET]
        evals.append({"episodes": cloned, "heldout_success": summary["success"],
                      **episode_stats(folder / "episodes.jsonl")})
        evals.sort(key=lambda e: e["episodes"])
        atomic_write_json(out / "evals.json", evals)
    if (out / "checkpoint" / "agent.json").exists():  # the held-out dataset's figure is the last evaluation's
        final = final_evaluation(out, datasets=("train",))
        if final is not None:
            call(final, out, args.name, args.threads)
    print(f"{args.name}: done")


def final_evaluation(out: Path, datasets: tuple[str, ...] = FINAL_DATASETS) -> list[str] | None:
    """``agents.evaluate`` of the run's checkpoint on what it learnt and what it kept (``datasets``, 100
    episodes each) into ``OUT/final-STEPS``: one folder per checkpoint, so a run extended later gets its
    own; None when this checkpoint's is already there."""
    steps = json.loads((out / "checkpoint" / "agent.json").read_text())["num_timesteps"]
    folder = out / f"final-{steps:09d}"
    if (folder / "summary.json").exists():
        return None
    return evaluation(out / "checkpoint", datasets, folder)


def call(cmd: list[str], out: Path, name: str, threads: int) -> None:
    """Run one step of a continual run, its output appended to ``OUT/train.log``; stop on failure."""
    print(f"{name}: {' '.join(cmd[1:])}", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TQDM_MININTERVAL": "30"}
    with open(out / "train.log", "a") as log:
        code = subprocess.call(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if code:
        sys.exit(f"{name}: FAILED (exit {code}, see {out / 'train.log'})")


def run(args: argparse.Namespace) -> None:
    if args.by == "bc":
        return run_bc(args)
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
    """Each run's evaluations (with their episode statistics) into ``kept``/NAME/evals.json, its final
    evaluations' summaries as ``final-STEPS.json`` and a BC run's record; a run with fewer evaluations than
    the kept copy never replaces its evals.json."""
    for folder in sorted(p for p in root.iterdir() if (p / "evals.json").exists()):
        dst = kept / folder.name
        dst.mkdir(parents=True, exist_ok=True)
        for summary in folder.glob("final-*/summary.json"):
            atomic_write_json(dst / f"{summary.parent.name}.json", json.loads(summary.read_text()))
        cloned = (folder / BC_RUN).exists()
        if cloned:
            atomic_write_json(dst / BC_RUN, json.loads((folder / BC_RUN).read_text()))
        evals = json.loads((folder / "evals.json").read_text()) if cloned else read_evals(folder)
        if (dst / "evals.json").exists() and len(json.loads((dst / "evals.json").read_text())) > len(evals):
            print(f"{folder.name}: kept {dst / 'evals.json'} (more evaluations than {folder})")
            continue
        atomic_write_json(dst / "evals.json", evals)


def plot_runs(ax, runs: dict[str, list[dict]], x: str) -> None:
    """Held-out success against ``x`` (steps or episodes), with 95% Wilson bands where episode counts are known."""
    for name, evals in runs.items():
        xs, rates = [e[x] for e in evals], [e["heldout_success"] for e in evals]
        bounds = [wilson_interval(e["heldout_success"] * e["heldout_episodes"], e["heldout_episodes"])
                  if e.get("heldout_episodes") else (e["heldout_success"],) * 2 for e in evals]
        ax.plot(xs, rates, marker="o", label=name)
        ax.fill_between(xs, [b[0] for b in bounds], [b[1] for b in bounds], alpha=0.2)
    ax.set_ylabel(f"greedy success, {HELDOUT_DATASET}")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)


def eval_rows(runs: dict[str, list[dict]], x: str, heading: str) -> list[str]:
    rows = [f"| run | {heading} | held-out success ({HELDOUT_DATASET}) | mean return |", "|---|---:|---:|---:|"]
    for name, evals in runs.items():
        for e in evals:
            ret = f"{e['heldout_return']:.2f}" if "heldout_return" in e else "-"
            rows.append(f"| {name} | {e[x]:,} | {rate_with_interval(e['heldout_success'], e.get('heldout_episodes'))} "
                        f"| {ret} |")
    return rows


def final_rows(kept: Path, runs: dict[str, list[dict]]) -> list[str]:
    """What each trained checkpoint learnt and kept; a BC run's held-out figure is its last evaluation's."""
    rows = []
    for path in sorted(kept.glob("*/final-*.json")):
        name, steps = path.parent.name, int(path.stem.removeprefix("final-"))
        summary = dict(json.loads(path.read_text())["summary"])
        if (path.parent / BC_RUN).exists():
            cloned = steps - json.loads((path.parent / BC_RUN).read_text())["base_episodes"]
            trained = f"{cloned:,} demonstrations"
            last = [e for e in runs.get(name, []) if e["episodes"] == cloned]
            if last and HELDOUT_DATASET not in summary:
                summary[HELDOUT_DATASET] = {"success": last[0]["heldout_success"],
                                            "episodes": last[0].get("heldout_episodes")}
        else:
            trained = f"{steps:,} steps"
        rates = [rate_with_interval(summary[d]["success"], summary[d]["episodes"]) if d in summary else "-"
                 for d in FINAL_DATASETS]
        rows.append(f"| {name} | {trained} | {' | '.join(rates)} |")
    if not rows:
        return []
    return ["", "After training (`agents.evaluate`, 100 episodes per dataset, seed 0):", "",
            "| run | trained on the split | " + " | ".join(FINAL_DATASETS) + " |",
            "|---|---:|" + "---:|" * len(FINAL_DATASETS), *rows]


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
    by_rl = {name: evals for name, evals in runs.items() if not (kept / name / BC_RUN).exists()}
    by_bc = {name: evals for name, evals in runs.items() if (kept / name / BC_RUN).exists()}
    panels = [(by_rl, "steps", f"environment steps on {TRAIN_SPLIT} (PPO)"),
              (by_bc, "episodes", f"demonstrations of {TRAIN_SPLIT} cloned")]
    panels = [panel for panel in panels if panel[0]]
    # success on top; below, the held-out mean return (subgoals reached), which moves while success is still 0
    fig, axes = plt.subplots(2, len(panels), figsize=(5.5 * len(panels), 6.4), squeeze=False)
    rows = []
    for column, (these, x, xlabel) in enumerate(panels):
        plot_runs(axes[0][column], these, x)
        for name, evals in these.items():
            points = [(e[x], e["heldout_return"]) for e in evals if "heldout_return" in e]
            if points:
                axes[1][column].plot(*zip(*points), marker="o", label=name)
        axes[1][column].set_ylabel(f"mean return, {HELDOUT_DATASET}")
        axes[1][column].set_xlabel(xlabel)
        rows += ([""] if rows else []) + eval_rows(these, x, "steps" if x == "steps" else "demonstrations cloned")
    rows += final_rows(kept, runs)
    fig.tight_layout()
    fig.savefig(to / "continual.png", dpi=120)
    text = "\n".join(rows) + "\n"
    atomic_write_text(to / "table.md", text)
    print(text)


def counts(text: str) -> list[int]:
    """``--eval-at``: "0,250,1000" -> [0, 250, 1000]."""
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        values = []
    if not values or values[0] < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a comma-separated list of demonstration counts >= 0 is needed")
    return values


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--root", required=True, help="runs folder (outside the checkout)")
    r.add_argument("--from", dest="source", default=str(REPO / "zoo" / "llarp-il"),
                   help="the LLaRP or LSTM checkpoint to continue from (default: zoo/llarp-il)")
    r.add_argument("--name", default="llarp-il", help="the run's folder under --root, and its name in the report")
    r.add_argument("--by", default="rl", choices=["rl", "bc"],
                   help="rl: PPO on the split's rewards (the paper's); bc: cloning the expert's demonstrations of it")
    r.add_argument("--eval-at", type=counts, default=[0, 250, 500, 1000, 2000, 4000], metavar="N,N,...",
                   help="bc: cloned demonstrations after which the held-out dataset is evaluated")
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
