"""TWOSOME's experiments: word, token and no normalisation against plain PPO and the zero-shot policy.

    python benchmarks/twosome_learning.py run --tasks food-preparation --root ~/twosome-runs      # all methods
    python benchmarks/twosome_learning.py run --tasks all --methods ppo,zero-shot --root ~/twosome-runs
    python benchmarks/twosome_learning.py report --root ~/twosome-runs --to docs/results/twosome

``run`` trains each (task, method) with ``python -m agents.twosome.train`` into ``ROOT/TASK/METHOD``, one
after the other (``zero-shot`` and ``random`` are only scored), for the task's budget (``--steps`` to cut
it, said in the report) or ``--time-budget`` seconds each; run it again after an interruption and every
run resumes from its checkpoint (a finished one is skipped). ``report`` first copies each run's
``scores.json``, ``curve.json`` and retention figures into ``TO/runs/TASK/METHOD/`` (results outlive the
machine: a report without ``--root`` redraws from them alone), then writes ``curves.png`` (discounted
return of recent training episodes against decisions, per task), ``table.md`` (per task and method: the
final policy's success and return over its evaluation episodes, the decisions until the training curve
first reached the optimal return, the budget) and what LoRA training left of the LLM's language abilities
(``agents.twosome.retention``: NLL of a held-out passage and multiple-choice answers, adapters on and off).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agents.results import wilson_interval  # noqa: E402
from agents.twosome.recipes import RECIPES  # noqa: E402
from agents.twosome.retention import QUESTIONS  # noqa: E402
from gym_langrearrange.files import atomic_write_json  # noqa: E402

TASKS = tuple(t for t, r in RECIPES.items() if not r.rearrange)
METHODS = {"word": ["--normalisation", "word"], "token": ["--normalisation", "token"],
           "none": ["--normalisation", "none"], "ppo": ["--method", "ppo"], "zero-shot": ["--method", "zero-shot"],
           "random": ["--method", "random"], "word-compressed": ["--normalisation", "word"]}
#: methods on a compressed schedule: the task's budget cut to this many decisions, both learning rates
#: multiplied by budget / decisions, so that the linearly annealed rates add up to the full schedule's sum
SCHEDULES = {"word-compressed": 16_384}
LABELS = {"word": "TWOSOME, word norm.", "token": "TWOSOME, token norm.", "none": "TWOSOME, no norm.",
          "word-compressed": f"TWOSOME, word norm., {SCHEDULES['word-compressed']:,}-decision schedule",
          "ppo": "PPO (MLP)", "zero-shot": "zero-shot (TWOSOME untrained)", "random": "uniform over valid actions"}
TWOSOME_METHODS = tuple(m for m, flags in METHODS.items() if flags[0] == "--normalisation")
#: what a run keeps of itself in the results folder (TO/runs/TASK/METHOD/): small, JSON
RESULT_FILES = ("scores.json", "curve.json")
#: the methods without a training curve, drawn as flat lines at their evaluation return
FLAT_STYLE = {"zero-shot": dict(ls="--", color="grey"), "random": dict(ls="-.", color="tab:brown")}
#: the optimal episodes' discounted returns (shared/spec/twosome.md: 6/28, 10/45, 6 and 11 steps)
OPTIMAL_RETURN = {"tomato-salad": 0.9205, "tomato-lettuce-salad": 0.9477, "food-preparation": 0.95 ** 5,
                  "entertainment": 0.95 ** 10}


def names(text: str, allowed, what: str) -> list[str]:
    items = list(allowed) if text == "all" else [t.strip() for t in text.split(",") if t.strip()]
    for item in items:
        if item not in allowed:
            raise SystemExit(f"error: unknown {what} {item!r}; allowed: {', '.join(allowed)}, or all")
    return items


def method_flags(task: str, method: str) -> list[str]:
    """The ``agents.twosome.train`` flags of ``method`` on ``task``."""
    flags = list(METHODS[method])
    if method in SCHEDULES:
        recipe, decisions = RECIPES[task], SCHEDULES[method]
        scale = recipe.steps / decisions
        flags += ["--steps", str(decisions), "--lr", f"{recipe.policy_lr * scale:.3g}",
                  "--value-lr", f"{recipe.value_lr * scale:.3g}"]
    return flags


def run(args) -> None:
    root = Path(args.root).expanduser()
    for task in names(args.tasks, TASKS, "task"):
        for method in names(args.methods, METHODS, "method"):
            out = root / task / method
            if (out / "scores.json").exists():
                print(f"{task} {method}: finished ({out / 'scores.json'})")
                continue
            command = [sys.executable, "-m", "agents.twosome.train", "--task", task, *method_flags(task, method),
                       "--out", str(out), "--threads", str(args.threads), "--eval-episodes", str(args.eval_episodes)]
            if args.steps and method not in SCHEDULES:  # a schedule's budget is part of the method
                command += ["--steps", str(args.steps)]
            if args.time_budget:
                command += ["--time-budget", str(args.time_budget)]
            if (out / "checkpoint" / "model.zip").exists() or (out / "train.log").exists():
                command.append("--resume")
            out.mkdir(parents=True, exist_ok=True)
            print(f"{task} {method}: {' '.join(command[1:])}", flush=True)
            with open(out / "train.log", "a") as log:
                code = subprocess.call(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            print(f"{task} {method}: " + ("done" if code == 0 else f"FAILED (exit {code}, see {out / 'train.log'})"))


def budget(task: str, method: str) -> int | None:
    """The decisions ``method`` is meant to train on ``task`` (None for the untrained ones)."""
    if method in ("zero-shot", "random"):
        return None
    return SCHEDULES.get(method, RECIPES[task].steps)


def success_cell(scores: dict | None) -> str:
    """Success rate with its 95% Wilson interval over the scored episodes."""
    if not scores:
        return "-"
    low, high = wilson_interval(scores["success"] * scores["episodes"], scores["episodes"])
    return f"{scores['success']:.2f} [{low:.2f}, {high:.2f}]"


def first_reaching(curve: list, target: float) -> int | None:
    """Decisions until the training curve (mean return of recent episodes) first reached ``target``."""
    return next((int(step) for step, value in curve if value >= target - 1e-3), None)


def retention(checkpoint: Path) -> dict | None:
    """``agents.twosome.retention`` of a TWOSOME checkpoint: held-out NLL and multiple-choice accuracy, with
    the LoRA adapters on and off."""
    from dataclasses import asdict

    from agents.twosome import TWOSOME
    from agents.twosome.retention import measure

    if not (checkpoint / "model.zip").exists():
        return None
    trained, base = measure(TWOSOME.load(str(checkpoint / "model.zip"), device="cpu").policy)
    return {"with_lora": asdict(trained), "base": asdict(base)}


def keep_results(root: Path, kept: Path, with_retention: bool) -> None:
    """Copy each run's small result files (``RESULT_FILES``) from ``root`` into ``kept``/TASK/METHOD, and
    its retention NLLs as ``retention.json``, so that results outlive the machine that trained them. A
    run in ``root`` replaces the kept one, except an unfinished run never replaces a finished one."""
    for task in TASKS:
        for method in METHODS:
            src, dst = root / task / method, kept / task / method
            if not any((src / name).exists() for name in RESULT_FILES):
                continue
            if (dst / "scores.json").exists() and not (src / "scores.json").exists():
                print(f"{task} {method}: kept the finished result in {dst}; {src} has not finished")
                continue
            dst.mkdir(parents=True, exist_ok=True)
            for name in (*RESULT_FILES, "retention.json"):
                (dst / name).unlink(missing_ok=True)
            for name in RESULT_FILES:
                if (src / name).exists():
                    atomic_write_json(dst / name, json.loads((src / name).read_text()))
            kept_retention = retention(src / "checkpoint") if with_retention and method in TWOSOME_METHODS else None
            if kept_retention:
                atomic_write_json(dst / "retention.json", kept_retention)


def retention_cells(path: Path) -> str:
    """The retention row's figures from a kept ``retention.json``."""
    kept = json.loads(path.read_text())
    on, off = kept["with_lora"], kept["base"]
    right = len(QUESTIONS)
    return (f"{on['nll']:.3f} | {off['nll']:.3f} | {round(on['choice_accuracy'] * right)}/{right} | "
            f"{round(off['choice_accuracy'] * right)}/{right}")


def report(args) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    to = Path(args.to)
    to.mkdir(parents=True, exist_ok=True)
    kept = to / "runs"
    if args.root:
        keep_results(Path(args.root).expanduser(), kept, args.retention)
    rows = ["| task | method | decisions trained | budget | success [95% interval] | return | optimal return | "
            "first reached at |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    kept_retention = ["| task | method | NLL, LoRA on | NLL, base LLM | right answers, LoRA on | "
                      "right answers, base LLM |", "|---|---|---:|---:|---:|---:|"]
    tasks = [t for t in TASKS if (kept / t).is_dir()]
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(4.5 * max(len(tasks), 1), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for method in METHODS:
            out = kept / task / method
            scores = json.loads((out / "scores.json").read_text()) if (out / "scores.json").exists() else None
            curve = json.loads((out / "curve.json").read_text()) if (out / "curve.json").exists() else []
            if scores is None and not curve:
                continue
            if curve:
                ax.plot([c[0] for c in curve], [c[1] for c in curve], label=LABELS[method])
            elif scores is not None:
                ax.axhline(scores["return"], label=LABELS[method], **FLAT_STYLE.get(method, {}))
            reached = first_reaching(curve, OPTIMAL_RETURN[task]) if curve else None
            fmt = (lambda v: "-" if v is None else f"{v:.2f}")
            steps = scores["steps"] if scores else (curve[-1][0] if curve else 0)
            planned = budget(task, method)
            # a run stopped by its time budget (or --steps) before its schedule's end is scored, and marked
            status = " (running)" if not scores else (" (cut)" if planned and steps < planned else "")
            # a running run has no final evaluation yet: its return is that of its recent training episodes
            shown_return = fmt(scores["return"]) if scores else (f"{curve[-1][1]:.2f} (training)" if curve else "-")
            shown_budget = "-" if planned is None else f"{planned:,}"
            rows.append(f"| {task} | {LABELS[method]}{status} | {steps:,} | {shown_budget} | {success_cell(scores)} | "
                        f"{shown_return} | {OPTIMAL_RETURN[task]:.3f} | "
                        f"{'-' if reached is None else f'{reached:,}'} |")
            if (out / "retention.json").exists():
                kept_retention.append(f"| {task} | {LABELS[method]} | {retention_cells(out / 'retention.json')} |")
        ax.axhline(OPTIMAL_RETURN[task], color="black", lw=0.8, ls=":", label="optimal")
        ax.set_title(task)
        ax.set_xscale("log")  # runs cut at a few thousand decisions sit beside PPO's 500,000
        ax.set_xlabel("decisions (log scale)")
        ax.set_ylabel("discounted return")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(to / "curves.png", dpi=120)
    text = "\n".join(rows) + "\n"
    if len(kept_retention) > 2:
        text += (f"\nRetention (`agents/twosome/retention.py`): mean token NLL of a held-out passage (lower is better) "
                 f"and right answers of {len(QUESTIONS)} four-way questions, with the LoRA adapters on and off:\n\n"
                 + "\n".join(kept_retention) + "\n")
    (to / "table.md").write_text(text)
    print(text)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--tasks", default="all", help=f"comma-separated: {', '.join(TASKS)}, or all")
    r.add_argument("--methods", default="all", help=f"comma-separated: {', '.join(METHODS)}, or all")
    r.add_argument("--root", required=True, help="runs folder (outside the checkout)")
    r.add_argument("--steps", type=int, default=None, help="cut every budget to this many decisions")
    r.add_argument("--time-budget", type=float, default=None, help="seconds of training per run")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--eval-episodes", type=int, default=100)
    q = sub.add_parser("report")
    q.add_argument("--root", default=None, help="runs folder whose results join those kept in TO/runs "
                   "(without it: redraw from TO/runs alone)")
    q.add_argument("--to", default="docs/results/twosome")
    q.add_argument("--no-retention", dest="retention", action="store_false")
    args = p.parse_args(argv)
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
