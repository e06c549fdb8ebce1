"""Learning benchmark: LLaRP, LLaRP-Scratch and the LSTM baselines on one small subset, same budget.

    python benchmarks/learning.py run --methods llarp,llarp-scratch --budget 10800 --parallel 2
    python benchmarks/learning.py run --methods lstm-llm-resampler,lstm-llm-final --budget 10800 --parallel 2
    python benchmarks/learning.py report            # one PNG + one markdown table of every method run so far

Every method trains with its own entry point (``python -m agents.llarp.train`` /
``python -m agents.lstm.train``) on one subset (``--subset``, ``benchmarks/subsets.py``; default
``single-move``: 1,000 training episodes, 100 held-out ones) for ``--budget`` seconds of *training* time
(held-out evaluations are not counted), with ``--parallel`` methods at a time, each
limited to ``--threads`` torch threads, so methods run side by side share the machine
evenly. ``--ranks 2`` trains a LLaRP method with DD-PPO in 2 processes (``torchrun``; the
time budget is rank 0's clock). LLaRP's frozen LLM dtype is ``--dtype`` (default ``auto``: bf16 where the
CPU has bf16 units, AMX or AVX512-BF16, and on CUDA; fp32 on CPUs without, where bf16 is slower); LLaRP-Scratch always
trains its LLM in fp32, since AdamW steps on bf16 weights round away. Every ``--eval-every`` steps the checkpoint is evaluated greedily on the
held-out episodes through ``agents.evaluate``. Runs are resumable: run the same command
again after an interruption (checkpoints every ``--checkpoint-every`` steps, curves up to
the last checkpoint are kept). ``report`` also evaluates the random agents on the same
held-out episodes (10 seeds: one seed of 100 episodes usually measures 0) and writes
``OUT/learning.png`` and ``OUT/learning.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from subsets import SUBSETS  # benchmarks/subsets.py, beside this script

from agents.results import wilson_interval
from gym_langrearrange.files import atomic_write, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
METHODS = {
    "llarp": ["-m", "agents.llarp.train"],
    "llarp-scratch": ["-m", "agents.llarp.train", "--scratch"],
    "lstm-llm-resampler": ["-m", "agents.lstm.train", "--encoder", "llm-resampler"],
    "lstm-llm-final": ["-m", "agents.lstm.train", "--encoder", "llm-final"],
    "lstm-t5": ["-m", "agents.lstm.train", "--encoder", "t5"],  # needs --t5-model (a local Flan-T5 folder)
}
LABELS = {
    "llarp": "LLaRP (SmolLM2-135M, frozen)",
    "llarp-scratch": "LLaRP-Scratch",
    "lstm-llm-resampler": "LSTM + frozen SmolLM2 + resampler (LSTM-LLaMA)",
    "lstm-llm-final": "LSTM + fine-tuned SmolLM2 final token (Flan stand-in)",
    "lstm-t5": "LSTM + fine-tuned T5 (LSTM-Flan)",
}


def subset_files(out: Path, subset: str) -> tuple[Path, Path]:
    folder = out / "subset"
    train, heldout = folder / f"{subset}-train.json", folder / f"{subset}-heldout.json"
    if not (train.exists() and heldout.exists()):
        subprocess.run([sys.executable, "benchmarks/subsets.py", "--name", subset, "--out", str(folder)],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return train, heldout


def command(method: str, args: argparse.Namespace, train: Path, heldout: Path) -> list[str]:
    launcher = [sys.executable]
    if args.ranks > 1:  # DD-PPO: one process per rank, each with --envs envs and --threads threads
        if not method.startswith("llarp"):
            raise SystemExit(f"error: --ranks {args.ranks} needs DD-PPO, which only LLaRP has; "
                             f"run {method} with --ranks 1")
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(args.ranks)]
    cmd = [*launcher, *METHODS[method], "--episodes-file", str(train), "--heldout", str(heldout),
           "--eval-every", str(args.eval_every), "--time-budget", str(args.budget), "--steps", str(10**9),
           "--envs", str(args.envs), "--eval-episodes", "0", "--checkpoint-every", str(args.checkpoint_every),
           "--seed", str(args.seed), "--ent-coef", str(args.ent_coef), "--threads", str(args.threads),
           "--out", str(args.out / method)]
    if (args.out / method / "checkpoint" / "model.zip").exists():  # the same command resumes
        cmd.append("--resume")
    if method.startswith("llarp"):
        cmd += ["--dtype", "float32" if method == "llarp-scratch" else args.dtype]
        cmd += ["--action-mask"] if args.action_mask else []
    elif args.action_mask:
        raise SystemExit(f"error: --action-mask is for LLaRP methods only; {method} cannot mask")
    if method == "lstm-t5":
        if not args.t5_model:
            raise SystemExit("error: lstm-t5 needs --t5-model PATH (a local Flan-T5 folder)")
        cmd += ["--encoder-model", args.t5_model]
    return cmd


def episode_stats(records: Path) -> dict:
    """What the greedy held-out episodes did, from an ``agents.evaluate`` results file (empty if none):
    mean return, how many collected a +5 subgoal (return > 4), and how many distinct 3-action openings
    there are (1 means the policy ignores the instruction)."""
    from agents.evaluate import read_records

    episodes = read_records(records)
    if not episodes:
        return {}
    returns = [r["reward"] for r in episodes]
    return {"heldout_episodes": len(episodes), "heldout_return": sum(returns) / len(returns),
            "heldout_subgoal": sum(ret > 4 for ret in returns),
            "heldout_openings": len({tuple(r["actions"][:3]) for r in episodes})}


def rate_with_interval(rate: float, n: int | None) -> str:
    """"21.0% [14.2%, 30.0%]" for a success rate over n episodes (no interval when n is unknown)."""
    return f"{rate:.1%}" + (" [{:.1%}, {:.1%}]".format(*wilson_interval(rate * n, n)) if n else "")


def read_evals(folder: Path) -> list[dict]:
    """Held-out evaluations of one method, each with its episode statistics added (while success is 0,
    the return from subgoal rewards shows whether a method learns at all)."""
    path = folder / "evals.json"
    evals = json.loads(path.read_text()) if path.exists() else []
    for e in evals:
        e.update(episode_stats(folder / "heldout" / f"step{e['steps']:09d}" / "episodes.jsonl"))
    return evals


def label(out: Path, method: str) -> str:
    """The method's name in plots and tables, marked when its checkpoint was trained with action masks."""
    meta = out / method / "checkpoint" / "agent.json"
    masked = meta.exists() and json.loads(meta.read_text()).get("options", {}).get("action_mask", False)
    return LABELS[method] + (" + action mask" if masked else "")


def run(args: argparse.Namespace) -> None:
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"error: unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    train, heldout = subset_files(args.out, args.subset)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TQDM_MININTERVAL": "30"}
    waiting, running = list(args.methods), {}
    while waiting or running:
        while waiting and len(running) < args.parallel:
            method = waiting.pop(0)
            (args.out / method).mkdir(parents=True, exist_ok=True)
            log = open(args.out / method / "train.log", "a")
            running[method] = (subprocess.Popen(command(method, args, train, heldout), cwd=REPO, env=env,
                                                stdout=log, stderr=subprocess.STDOUT), log)
            print(f"started {method} (log: {args.out / method / 'train.log'})", flush=True)
        time.sleep(args.status_every)
        for method, (proc, log) in list(running.items()):
            evals = read_evals(args.out / method)
            last = evals[-1] if evals else None
            state = "running" if proc.poll() is None else f"exited {proc.returncode}"
            shown = (f"{last['steps']} steps, {last['seconds'] / 3600:.2f} h, held-out success "
                     f"{last['heldout_success']:.1%}") if last else "no evaluation yet"
            print(f"[{time.strftime('%H:%M:%S')}] {method}: {state}; {shown}", flush=True)
            if proc.poll() is not None:
                log.close()
                del running[method]
                if proc.returncode != 0:
                    print(f"{method} failed: see {args.out / method / 'train.log'}", flush=True)


def random_baseline(out: Path, heldout: Path, agent: str, seeds: int = 10) -> tuple[float, float, int]:
    """Mean held-out success and return of a random agent over ``seeds`` seeds, and the episodes behind
    them (random rarely succeeds here: 100 episodes alone would usually measure 0, which makes "3x
    random" meaningless)."""
    successes, returns, episodes = [], [], 0
    for seed in range(seeds):
        folder = out / "baselines" / f"{agent}-seed{seed}"
        if not (folder / "summary.json").exists():
            subprocess.run([sys.executable, "-m", "agents.evaluate", "--agent", agent, "--episodes-file",
                            str(heldout), "--seed", str(seed), "--out", str(folder), "--no-progress"],
                           cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        summary = json.loads((folder / "summary.json").read_text())["summary"]
        successes.append(float(next(iter(summary.values()))["success"]))
        stats = episode_stats(folder / "episodes.jsonl")
        returns.append(stats["heldout_return"])
        episodes += stats["heldout_episodes"]
    return sum(successes) / len(successes), sum(returns) / len(returns), episodes


def report(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, heldout = subset_files(args.out, args.subset)
    baselines = {agent: random_baseline(args.out, heldout, agent) for agent in ("random", "random-masked")}
    runs = {m: evals for m in METHODS if (evals := read_evals(args.out / m))}
    names = {m: label(args.out, m) for m in runs}
    fig, (by_time, by_steps, returns) = plt.subplots(1, 3, figsize=(17, 4.5))
    by_steps.sharey(by_time)  # both success panels, one scale
    for method, evals in runs.items():
        hours = [e["seconds"] / 3600 for e in evals]
        steps = [e["steps"] for e in evals]
        success = [100 * e["heldout_success"] for e in evals]
        by_time.plot(hours, success, marker="o", label=names[method])
        by_steps.plot(steps, success, marker="o", label=names[method])
        shown = [(h, e["heldout_return"]) for h, e in zip(hours, evals) if "heldout_return" in e]
        returns.plot([h for h, _ in shown], [r for _, r in shown], marker="o", label=names[method])
    for agent, (success, ret, _) in baselines.items():
        style = dict(linestyle="--" if agent == "random" else ":", color="grey", label=agent)
        by_time.axhline(100 * success, **style)
        by_steps.axhline(100 * success, **style)
        returns.axhline(ret, **style)
    for axis in (by_time, by_steps, returns):
        axis.grid(alpha=0.3)
    top = max([5.0] + [100 * e["heldout_success"] for evals in runs.values() for e in evals])
    by_time.set_ylim(0, 1.1 * top)
    by_time.set(xlabel="training time (h)", ylabel="held-out success (%)",
                title=f"{args.subset} subset: held-out success")
    by_steps.set(xlabel="environment steps", title="held-out success by steps")
    returns.set(xlabel="training time (h)", ylabel="mean episode return",
                title="held-out return (subgoals +5, success +10)")
    by_steps.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    atomic_write(args.out / "learning.png", lambda f: fig.savefig(f, dpi=120, format="png"))
    rows = ["| method | steps | training h | final held-out success [95% CI] | best | × random / × random-masked "
            "| final held-out return "
            "| episodes with a +5 subgoal | distinct openings |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for method, evals in runs.items():
        final, best = evals[-1]["heldout_success"], max(e["heldout_success"] for e in evals)
        ratio = " / ".join(f"{final / baselines[a][0]:.1f}" if baselines[a][0] > 0 else "n/a (0)"
                           for a in ("random", "random-masked"))
        last = evals[-1]
        ret = f"{last['heldout_return']:.2f}" if "heldout_return" in last else "-"
        shown_final = rate_with_interval(final, last.get("heldout_episodes"))
        rows.append(f"| {names[method]} | {last['steps']:,} | {last['seconds'] / 3600:.2f} | {shown_final} | "
                    f"{best:.1%} | {ratio} | {ret} | {last.get('heldout_subgoal', '-')} | "
                    f"{last.get('heldout_openings', '-')} |")
    for agent, (value, ret, n) in baselines.items():
        rows.append(f"| {agent} (10 seeds) | - | - | {rate_with_interval(value, n)} | - | - | {ret:.2f} | - | - |")
    table = "\n".join(rows)
    note = ("random agents: mean over seeds 0-9 of the same 100 held-out episodes; "
            "[a, b]: 95% Wilson interval of a success rate")
    atomic_write_text(args.out / "learning.md", f"Held-out episodes: {heldout.name} (100); {note}\n\n{table}\n")
    print(table)
    print(f"wrote {args.out / 'learning.png'} and {args.out / 'learning.md'}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["run", "report"])
    p.add_argument("--methods", default="llarp,llarp-scratch", type=lambda s: [m for m in s.split(",") if m])
    p.add_argument("--budget", type=float, default=3 * 3600, help="training seconds per method")
    p.add_argument("--parallel", type=int, default=2, help="methods trained at the same time")
    p.add_argument("--threads", type=int, default=1, help="torch threads per method")
    p.add_argument("--envs", type=int, default=8, help="environments per method (per rank with --ranks)")
    p.add_argument("--ranks", type=int, default=1,
                   help="DD-PPO processes per LLaRP method (torchrun); e.g. --ranks 2 --parallel 1 gives one "
                        "method both cores")
    p.add_argument("--subset", default="single-move", choices=sorted(SUBSETS),
                   help="training/held-out episodes (benchmarks/subsets.py); keep one per --out")
    p.add_argument("--action-mask", action="store_true",
                   help="LLaRP methods mask invalid skills (not in the paper); compare with random-masked")
    p.add_argument("--eval-every", type=int, default=20_000)
    p.add_argument("--checkpoint-every", type=int, default=5_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ent-coef", type=float, default=0.01, help="entropy bonus of every method (paper: 0.01)")
    p.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float32"],
                   help="frozen LLaRP's LLM dtype (LLaRP-Scratch is always fp32); auto (default): bfloat16 on "
                        "CUDA and on CPUs with bf16 units (AMX, AVX512-BF16), float32 on other CPUs, where it is "
                        "~3x faster (benchmarks/llarp_throughput.py); agents.llarp.train resolves it and records the "
                        "result")
    p.add_argument("--llarp-dtype", dest="dtype", choices=["auto", "bfloat16", "float32"], default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # the old spelling, kept so existing commands keep working
    p.add_argument("--t5-model", default=None, help="local Flan-T5 folder for lstm-t5")
    p.add_argument("--status-every", type=float, default=60.0, help="seconds between status lines")
    p.add_argument("--out", type=Path, default=Path("runs/learning"))
    args = p.parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
