"""The training harness every learned agent shares: one Stable-Baselines3 run in one folder.

``run_training`` builds (or resumes) a model, trains it with the callbacks of ``agents.callbacks``
(episode curve, time budget, checkpoints, held-out evaluation, progress bar), saves it and runs
the task's final step. The task comes in as functions: its envs (``make_venv``), the held-out
evaluator, the final step. ``run_arguments`` holds the options of every run; a task adds its own
(``agents.rearrange.training_arguments``, ``agents.atari.train``). DD-PPO: under ``torchrun``
every rank trains, rank 0 writes.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from stable_baselines3.common.callbacks import CallbackList

from agents.callbacks import (SUCCESS, Checkpointing, EpisodeCurve, EpisodeMetric, HeldOutEvaluation, ProgressBar,
                              TimeBudget, TrainingClock)
from agents.checkpoints import recover_checkpoint
from agents.cli import nonnegative_float, nonnegative_int, positive_float, positive_int
from agents.core.registry import load_model, read_checkpoint_spec
from agents.run_folder import ResumeMismatch, code_version, file_digest, lock
from gym_langrearrange.files import read_json


def init_distributed(device: str) -> tuple[int, int]:
    """(rank, world size). Under torchrun, joins the process group: nccl on CUDA, gloo on CPU."""
    if "RANK" not in os.environ or dist.is_initialized():
        return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    cuda = device.startswith("cuda")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    gpus = torch.cuda.device_count() if cuda else 0
    if cuda and local_rank >= gpus:
        raise ValueError(f"LOCAL_RANK {local_rank} would drive GPU {local_rank}, but this machine has {gpus} GPU(s): "
                         f"start at most {gpus} process(es) per machine (torchrun --nproc_per_node {gpus}), "
                         "or pass --device cpu")
    dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(local_rank)
    return dist.get_rank(), dist.get_world_size()


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Every rank starts from rank 0's weights."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        for p in module.parameters():
            dist.broadcast(p.data, src=0)


def pick_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {requested} but CUDA is not available; use --device cpu or auto")
    return requested


def run_arguments(prog: str, description: str, out: str, n_minibatches: int, envs: int = 8) -> argparse.ArgumentParser:
    """The options of every training run, whatever the task (budget, envs, PPO, checkpoints, resume);
    numbers are range-checked as they parse, so ``--envs 0`` fails at once, naming the option and value."""
    p = argparse.ArgumentParser(prog=prog, description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=positive_int, default=100_000, help="environment steps in total (all ranks)")
    p.add_argument("--envs", type=positive_int, default=envs, help="environments per process/rank")
    p.add_argument("--subproc", action="store_true", help="SubprocVecEnv instead of DummyVecEnv")
    p.add_argument("--n-steps", type=positive_int, default=32, help="rollout steps per env between updates")
    p.add_argument("--n-minibatches", type=positive_int, default=n_minibatches)
    p.add_argument("--lr", type=positive_float, default=3e-4)
    p.add_argument("--ent-coef", type=nonnegative_float, default=0.01, help="entropy bonus (paper, Table 3: 0.01)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=thread_count, default="auto",
                   help="torch threads: 'auto' (default: the idle cores, see README 'CPU threads') or N")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--out", default=out)
    p.add_argument("--checkpoint-every", type=positive_int, default=10_000, metavar="STEPS")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    p.add_argument("--time-budget", type=positive_float, default=None, metavar="SECONDS",
                   help="stop training after this many seconds of training (counted across resumes)")
    return p


def thread_count(text: str) -> str | int:
    """``--threads``: ``auto`` or an integer >= 1."""
    return text if text == "auto" else positive_int(text)


def pick_threads(requested: str | int) -> int:
    """Torch threads for a run: N as asked, or for ``auto`` the cores that other processes leave idle.

    OpenMP with as many threads as cores, on cores that another process keeps busy, waits at every
    parallel region for a preempted thread: a run then goes ten times slower, not twice. ``auto``
    takes ``$OMP_NUM_THREADS`` when set, else the cores available to this process less the 1-minute
    load average (at least 1).
    """
    if requested != "auto":
        return int(requested)
    if os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        return int(os.environ["OMP_NUM_THREADS"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, round(cores - busy)))


def run_training(args: Any, *, algorithm: Any, build: Callable[[Any, str | None], Any], meta: dict[str, Any],
                 make_venv: Callable[[int], Any], device: str, rank: int = 0, world: int = 1,
                 on_ready: Callable[[Any], None] | None = None, evaluator: Callable[[Any], float] | None = None,
                 final: Callable[[Path], None] | None = None, metric: EpisodeMetric = SUCCESS) -> Any:
    """Build (or resume) a model, train it with progress/checkpoints/held-out evals, save, evaluate.

    ``make_venv(rank)`` makes this rank's envs; ``build(venv, tensorboard_log)`` a fresh model;
    ``algorithm.load`` resumes one. ``evaluator(model)`` (rank 0, every ``--eval-every`` steps)
    gives the held-out success of the learning curve; ``final(checkpoint)`` runs on rank 0 once the
    last checkpoint is saved. Writes ``OUT/checkpoint/``, ``OUT/tb/``, ``OUT/curve.json`` (``metric``
    of recent episodes by step) and ``OUT/evals.json``. Returns the model.

    ``OUT`` holds one run: a new run (no ``--resume``) refuses a folder that already holds one,
    ``--resume`` refuses a folder without a checkpoint, and only one process trains into it at a
    time (rank 0 holds its lock).
    """
    out = Path(args.out)
    checkpoint = out / "checkpoint"
    with lock(out, "training run") if rank == 0 else contextlib.nullcontext():
        if rank == 0:  # (other ranks trust rank 0's checks: by the time they look, rank 0 has begun writing)
            recover_checkpoint(checkpoint)
            _check_run_folder(out, checkpoint, args.resume)
        torch.set_num_threads(pick_threads(args.threads))
        options = {**run_options(args, world), **input_digests(args)}
        meta = {**meta, "options": options, "code_version": code_version()}
        resuming = args.resume and (checkpoint / "model.zip").exists()
        saved = read_checkpoint_spec(checkpoint / "agent.json") if resuming else None
        if saved is not None:
            check_resume_options(saved.get("options"), options, checkpoint)
            if saved.get("code_version") not in (None, meta["code_version"]) and rank == 0:
                print(f"note: the code changed since this checkpoint ({saved['code_version']} -> "
                      f"{meta['code_version']})")
        finished = saved is not None and _nothing_left(args, saved, world)
        if rank == 0:
            if finished:
                print(f"{checkpoint} is finished ({saved['num_timesteps'] * world} of {args.steps} steps, "
                      f"{saved.get('train_seconds', 0):.0f} s of training, budget {args.time_budget} s): "
                      f"nothing to train")
            print(f"torch threads: {torch.get_num_threads()} (--threads {args.threads})")
        venv = make_venv(rank)
        tb = str(out / "tb") if rank == 0 else None
        clock, curve, evals = TrainingClock(), [], []
        if saved is not None:
            model = load_model(algorithm, checkpoint / "model.zip", checkpoint / "agent.json", env=venv,
                               device=device, tensorboard_log=tb)
            steps = model.num_timesteps * world
            clock.offset = float(saved.get("train_seconds", 0.0))
            curve = [c for c in _read_json(out / "curve.json") if c[0] <= steps]  # drop what came after the checkpoint
            evals = [e for e in _read_json(out / "evals.json") if e["steps"] <= steps]
            if rank == 0:
                print(f"resumed from {checkpoint} at {steps} steps, {clock.offset:.0f} s of training")
        else:
            model = build(venv, tb)
        broadcast_parameters(model.policy)
        if on_ready is not None:
            on_ready(model)
        episodes = EpisodeCurve(metric, curve, world)
        callbacks = [episodes, TimeBudget(args.time_budget, clock, world)]
        heldout = (HeldOutEvaluation(evaluator, getattr(args, "eval_every", 0), clock, evals, world, out)
                   if evaluator is not None and rank == 0 else None)
        checkpointing = Checkpointing(checkpoint, meta, args.checkpoint_every, clock, world=world, log_dir=out,
                                      logs=lambda: {"curve.json": episodes.curve,
                                                    "evals.json": heldout.evals if heldout else evals})
        if rank == 0:
            callbacks += [checkpointing, *([heldout] if heldout else []), ProgressBar(args.steps, clock, episodes, world)]
        if not finished:  # (a spent budget would still collect a few steps before the callback stops it)
            clock.start()
            model.learn(max(args.steps // world - model.num_timesteps, 0), callback=CallbackList(callbacks),
                        reset_num_timesteps=False)
            if rank == 0:
                if heldout is not None and not heldout.is_current:
                    heldout.run()
                checkpointing.save()
                print(f"saved {checkpoint} ({model.num_timesteps * world} steps)")
        if rank == 0 and final is not None:
            final(checkpoint)
        venv.close()
        return model


def _check_run_folder(out: Path, checkpoint: Path, resume: bool) -> None:
    """Refuse to start a new run over an earlier one, and to resume nothing. ``--resume`` of a run that
    was stopped before its first checkpoint starts it again (its logs cover no saved training)."""
    has_checkpoint = (checkpoint / "model.zip").exists()
    logs = [out / "curve.json", out / "evals.json", out / "tb"]
    if resume and not has_checkpoint:
        left = [p for p in logs if p.exists()]
        if not left:
            raise FileNotFoundError(f"--resume: {out} holds no checkpoint ({checkpoint / 'model.zip'} does not "
                                    f"exist); check --out, or drop --resume to start a new run there")
        for p in left:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        print(f"note: {out} holds no checkpoint, only {', '.join(p.name for p in left)} of a run stopped before "
              f"its first one: removed them and started again")
        return
    earlier = [p.name for p in (checkpoint, *logs) if p.exists()]
    if not resume and earlier:
        raise RunExists(f"{out} already holds a training run ({', '.join(earlier)}); add --resume to continue it, "
                        f"or use another --out (or delete the folder to start again)")


class RunExists(ValueError):
    """A new run was asked for in a folder that holds one."""


def init_policy_from(model: Any, algorithm: Any, folder: str | Path, device: str) -> None:
    """Copy the policy weights of the checkpoint in ``folder`` (``--init-from``: IL->RL, continual learning)
    into ``model``, whose policy must have the same parameters; the optimizer starts afresh."""
    folder = Path(folder)
    source = load_model(algorithm, folder / "model.zip", folder / "agent.json", device=device)
    weights = source.policy.state_dict()
    if getattr(source.policy, "lstm_critic", True) is None and getattr(model.policy, "lstm_critic", None) is not None:
        # a compact zoo export (agents.zoo --compact) has no critic LSTM: this run's starts fresh
        weights = {k: v for k, v in weights.items() if not k.startswith("critic.")}
        weights.update({k: v for k, v in model.policy.state_dict().items() if k.startswith("lstm_critic.")})
    try:
        model.policy.load_state_dict(weights)
    except RuntimeError as e:
        raise ValueError(f"--init-from {folder}: its policy does not fit this run's options "
                        f"({str(e).splitlines()[0]} ...); repeat the options it was trained with") from None


def _nothing_left(args: Any, saved: dict[str, Any], world: int) -> bool:
    steps_done = int(saved.get("num_timesteps", 0)) * world
    out_of_time = args.time_budget is not None and float(saved.get("train_seconds", 0.0)) >= args.time_budget
    return steps_done >= args.steps or out_of_time


def input_digests(args: Any) -> dict[str, str]:
    """Digests of the episode files a run reads: an edited file at the same path is another run."""
    return {f"{key}_digest": file_digest(getattr(args, key)) for key in ("episodes", "heldout")
            if getattr(args, key, None)}


# Options a resumed run may change (how long, where, on what hardware, what to report at the end);
# every other option defines the run, so a resume must repeat it.
RESUMABLE_OPTIONS = frozenset({"steps", "time_budget", "resume", "out", "device", "subproc", "checkpoint_every",
                               "eval_episodes", "eval_datasets", "threads"})


def run_options(args: Any, world: int) -> dict[str, Any]:
    """The options that define a run (recorded in ``agent.json``), with the DD-PPO world size."""
    return {**{k: v for k, v in sorted(vars(args).items()) if k not in RESUMABLE_OPTIONS}, "nproc_per_node": world}


def check_resume_options(saved: dict[str, Any] | None, current: dict[str, Any], checkpoint: Path) -> None:
    """Refuse to resume with options that differ from the checkpoint's, naming each one: they would
    otherwise be silently replaced by the checkpoint's hyperparameters, or mix two runs in one curve."""
    if saved is None:
        print(f"note: {checkpoint} records no options (written before they were recorded); not checked")
        return
    differ = [f"--{k.replace('_', '-')} {current.get(k)} (checkpoint: {v})"
              for k, v in saved.items() if current.get(k) != v]
    if differ:
        raise ResumeMismatch(f"resuming {checkpoint} with options that differ from the checkpoint's: "
                             f"{', '.join(differ)}; repeat the checkpoint's values or use a new --out")


def _read_json(path: Path) -> list[Any]:
    return read_json(path, "training log") if path.exists() else []
