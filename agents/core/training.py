"""What every training script shares: env construction, progress, atomic checkpoints, resume, DD-PPO setup."""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
import torch.distributed as dist
from stable_baselines3.common.callbacks import BaseCallback

import gym_langrearrange  # noqa: F401  (registers the ids)
from agents.cli import comma_list, nonnegative_float, nonnegative_int, positive_float, positive_int
from agents.run_folder import code_version, file_digest, lock
from agents.core.registry import load_model, read_checkpoint_spec
from gym_langrearrange.files import atomic_write, atomic_write_json, read_json
from gym_langrearrange.wrappers import ActionMaskObservation, TokenizeInstruction


def init_distributed(device: str) -> tuple[int, int]:
    """(rank, world size). Under torchrun, joins the process group: nccl on CUDA, gloo on CPU."""
    if "RANK" not in os.environ or dist.is_initialized():
        return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(backend)
    if device.startswith("cuda"):
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
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
        raise SystemExit(f"error: --device {requested} but CUDA is not available; use --device cpu or auto")
    return requested


def env_factory(tokenizer: Any, max_tokens: int, split: str | None = None, episodes: str | None = None,
                image_size: int = 64, seed: int = 0, hard: bool = False,
                action_mask: bool = False) -> Callable[[], gym.Env]:
    """A picklable-enough env constructor for DummyVecEnv/SubprocVecEnv (tokenized instruction;
    ``action_mask`` adds the valid-skill mask to the observation, for policies that mask)."""

    def make() -> gym.Env:
        source = {"episodes": episodes} if episodes else {"split": split or "train"}
        env = gym.make("LangRearrangeHard-v0" if hard else "LangRearrange-v0", image_size=image_size, **source)
        env.reset(seed=seed)
        env = TokenizeInstruction(env, tokenizer, max_tokens)
        return ActionMaskObservation(env) if action_mask else env

    return make


def save_checkpoint(model: Any, folder: Path, meta: dict[str, Any]) -> Path:
    """model.zip + agent.json (what agents.evaluate needs), written whole to ``.NAME.tmp`` and swapped in.

    The swap is two renames (``NAME`` -> ``.NAME.old``, ``.NAME.tmp`` -> ``NAME``); a kill between them
    leaves no ``NAME``, which ``recover_checkpoint`` repairs before anything else touches the folder,
    so there is always one complete checkpoint on disk.
    """
    folder = Path(folder)
    recover_checkpoint(folder)
    tmp, old = _tmp_and_old(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    atomic_write(tmp / "model.zip", lambda f: model.save(f))
    atomic_write_json(tmp / "agent.json", {**meta, "model": "model.zip", "num_timesteps": int(model.num_timesteps)})
    _fsync_dir(tmp)
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    _fsync_dir(folder.parent)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def recover_checkpoint(folder: Path) -> None:
    """Repair what a kill during ``save_checkpoint`` left: a missing ``NAME`` is restored from the
    finished ``.NAME.tmp`` (the newer one; agent.json is written last) or else from ``.NAME.old``."""
    folder = Path(folder)
    tmp, old = _tmp_and_old(folder)
    if not folder.exists():
        for candidate in (tmp, old):
            if (candidate / "agent.json").exists() and (candidate / "model.zip").exists():
                os.replace(candidate, folder)
                _fsync_dir(folder.parent)
                print(f"note: restored the checkpoint {folder} from {candidate.name} (a save was interrupted)")
                break
    if folder.exists():
        for leftover in (tmp, old):
            shutil.rmtree(leftover, ignore_errors=True)


def _tmp_and_old(folder: Path) -> tuple[Path, Path]:
    return folder.with_name(f".{folder.name}.tmp"), folder.with_name(f".{folder.name}.old")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class EpisodeMetric:
    """What the progress bar and ``curve.json`` follow: a number read from the ``info`` of an episode's
    last step (None: the info holds none)."""

    name: str
    read: Callable[[dict[str, Any]], float | None]
    log_key: str  # the TensorBoard tag
    percent: bool = False


#: Language Rearrangement: the share of recent episodes that succeeded
SUCCESS = EpisodeMetric("success", lambda info: float(info.get("success", False)), "rollout/success_rate",
                        percent=True)


class TrainingProgress(BaseCallback):
    """tqdm bar with steps/s and the recent episodes' metric (default success); periodic atomic
    checkpoints (rank 0 only).

    Optionally stops after ``time_budget`` seconds of training (checked as each rollout starts;
    counted across resumes: checkpoints record ``train_seconds``), and every ``eval_every``
    steps calls ``evaluator(model) -> held-out success``. ``curve`` (training success by step) and
    ``evals`` (held-out success by step and training seconds) start from ``curve`` /
    ``evals`` of earlier runs and are written to ``log_dir`` as they grow, so a killed run
    keeps them up to its last checkpoint.
    """

    def __init__(self, total: int, checkpoint_dir: Path, meta: dict[str, Any], every: int, rank: int = 0,
                 world: int = 1, time_budget: float | None = None, eval_every: int = 0,
                 evaluator: Callable[[Any], float] | None = None, log_dir: Path | None = None,
                 time_offset: float = 0.0, curve: list | None = None, evals: list | None = None,
                 metric: EpisodeMetric = SUCCESS) -> None:
        super().__init__()
        self.metric = metric
        self.total, self.checkpoint_dir, self.meta, self.every = total, Path(checkpoint_dir), meta, every
        self.rank, self.world = rank, world
        self.time_budget, self.eval_every, self.evaluator = time_budget, eval_every, evaluator
        self.log_dir, self.time_offset = (Path(log_dir) if log_dir else None), time_offset
        self._next_eval = 0
        self.evals: list[dict[str, float]] = list(evals or [])
        self._next_save = every
        self._bar = None
        self._t0, self._s0, self._eval_time = time.perf_counter(), 0, 0.0
        self._rollout_clock: tuple[float, int] | None = None  # (training seconds, steps) at the last rollout end
        self._best_rate = 0.0
        self._successes: list[float] = []
        self.curve: list[tuple[int, float]] = [tuple(c) for c in curve or []]

    def _on_training_start(self) -> None:
        if self.rank == 0:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, initial=self.model.num_timesteps * self.world, unit="step",
                             dynamic_ncols=True, desc="training")
        self._t0, self._s0 = time.perf_counter(), self.model.num_timesteps
        self._eval_time = 0.0
        self._out_of_time = False
        # a resumed run continues the evaluation schedule (no extra evaluation right after resuming)
        self._next_eval = self.evals[-1]["steps"] + self.eval_every if self.evals else 0

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            value = self.metric.read(info) if done else None
            if value is not None:
                self._successes.append(value)
        self._successes = self._successes[-200:]
        if self._bar is not None:
            rate = (self.model.num_timesteps - self._s0) * self.world / max(self.elapsed() - self.time_offset, 1e-9)
            value = np.mean(self._successes) if self._successes else float("nan")
            shown = f"{value:.1%}" if self.metric.percent else f"{value:.1f}"
            self._bar.set_postfix_str(f"{rate:.0f} steps/s, {self.metric.name} {shown}", refresh=False)
            self._bar.update(self.model.num_timesteps * self.world - self._bar.n)  # redraws at most every 0.1 s
        return not self._out_of_time

    def _on_rollout_start(self) -> None:
        self._out_of_time = self._budget_spent()

    def _budget_spent(self) -> bool:
        """Whether ``time_budget`` is used up, by rank 0's clock on every rank.

        Checked once per rollout on all ranks, so DD-PPO ranks stop after the same update: a rank
        that stopped alone would leave the others waiting in the gradient all-reduce. Rank 0's clock
        because only rank 0 runs (and discounts) the held-out evaluations.
        """
        if self.time_budget is None:
            return False
        spent = torch.tensor([float(self.elapsed() > self.time_budget)])
        if self.world > 1:
            if dist.get_backend() == "nccl":
                spent = spent.cuda()
            dist.broadcast(spent, src=0)
        return bool(spent.item())

    def elapsed(self) -> float:
        """Training wall time so far (earlier runs included), without held-out evaluations."""
        return self.time_offset + time.perf_counter() - self._t0 - self._eval_time

    def _on_rollout_end(self) -> None:
        self._watch_rate()
        if self._successes:
            self.logger.record(self.metric.log_key, float(np.mean(self._successes)))
            self.curve.append((self.model.num_timesteps * self.world, float(np.mean(self._successes))))
        steps = self.model.num_timesteps * self.world
        if self.rank == 0 and steps >= self._next_save:
            self.save()
            self._next_save = (steps // self.every + 1) * self.every
        if self.rank == 0 and self.evaluator is not None and self.eval_every and steps >= self._next_eval:
            self.run_evaluation()
            self._next_eval = steps + self.eval_every

    def _watch_rate(self) -> None:
        """Say so in the bar when a rollout + update ran at under a third of the run's best rate: the
        usual cause is another process on the same cores (see the README, 'CPU threads')."""
        now, steps = self.elapsed(), self.model.num_timesteps * self.world
        if self._rollout_clock is not None and now > self._rollout_clock[0]:
            rate = (steps - self._rollout_clock[1]) / (now - self._rollout_clock[0])
            self._best_rate = max(self._best_rate, rate)
            if self._bar is not None and rate < self._best_rate / 3:
                self._bar.set_description_str(f"training (slow: {rate:.0f} steps/s, best {self._best_rate:.0f}; "
                                              f"CPU contention? try --threads 1)", refresh=False)
            elif self._bar is not None:
                self._bar.set_description_str("training", refresh=False)
        self._rollout_clock = (now, steps)

    def save(self) -> None:
        """Checkpoint (with the training seconds so far), then the curves up to it."""
        save_checkpoint(self.model, self.checkpoint_dir, {**self.meta, "train_seconds": round(self.elapsed(), 1)})
        if self.log_dir is not None:
            _write_json(self.log_dir / "curve.json", self.curve)
            _write_json(self.log_dir / "evals.json", self.evals)

    def run_evaluation(self) -> None:
        t0 = time.perf_counter()
        success = self.evaluator(self.model)
        self._eval_time += time.perf_counter() - t0
        self.evals.append({"steps": self.model.num_timesteps * self.world, "seconds": round(self.elapsed(), 1),
                           "heldout_success": success})
        self.logger.record("eval/heldout_success", success)
        if self.log_dir is not None:
            _write_json(self.log_dir / "evals.json", self.evals)

    def _on_training_end(self) -> None:
        if self._bar is not None:
            self._bar.close()


# --- the training scripts' shared command line and loop ---------------------------------------

def run_arguments(description: str, out: str, n_minibatches: int, envs: int = 8) -> argparse.ArgumentParser:
    """The options of every training run, whatever the task (budget, envs, PPO, checkpoints, resume);
    numbers are range-checked as they parse, so ``--envs 0`` fails at once, naming the option and value."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
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


def training_arguments(description: str, out: str, n_minibatches: int) -> argparse.ArgumentParser:
    """``run_arguments`` plus Language Rearrangement's data, observation and evaluation options."""
    from gym_langrearrange.datasets import DATASETS

    p = run_arguments(description, out, n_minibatches)
    p.add_argument("--split", default="train", choices=list(DATASETS), help="dataset to train on (default train)")
    p.add_argument("--episodes", default=None, help="train on an episode JSON file instead of --split")
    p.add_argument("--image-size", type=positive_int, default=64)
    p.add_argument("--max-tokens", type=positive_int, default=48, help="instruction length in tokens")
    p.add_argument("--heldout", default=None, help="episode file evaluated every --eval-every steps (learning curve)")
    p.add_argument("--eval-every", type=nonnegative_int, default=0, metavar="STEPS")
    p.add_argument("--eval-episodes", type=nonnegative_int, default=20,
                   help="final evaluation episodes per dataset (0: none)")
    p.add_argument("--eval-datasets", type=comma_list(list(DATASETS)), default="train,new_scenes,rephrasing")
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


def make_vec_env(args: Any, tokenizer: Any, rank: int = 0):
    """``--envs`` tokenized envs for this rank (Dummy or Subproc), seeded apart across ranks.

    ``VecMonitor`` makes SB3 log ``rollout/ep_rew_mean`` and ``ep_len_mean``: while success is
    still 0, the return (subgoal rewards) is what shows whether an agent is learning.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    fns = [env_factory(tokenizer, args.max_tokens, args.split, args.episodes, args.image_size,
                       seed=args.seed + 1000 * rank + i,
                       action_mask=getattr(args, "action_mask", False))  # only train_llarp.py has --action-mask
           for i in range(args.envs)]
    return VecMonitor(SubprocVecEnv(fns) if args.subproc else DummyVecEnv(fns))


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
    with lock(out, "training run") if rank == 0 else contextlib.nullcontext():
        checkpoint = out / "checkpoint"
        if rank == 0:  # (other ranks trust rank 0's checks: by the time they look, rank 0 has begun writing)
            recover_checkpoint(checkpoint)
            _check_run_folder(out, checkpoint, args.resume)
        torch.set_num_threads(pick_threads(args.threads))
        time_offset, curve, evals = 0.0, [], []
        options = {**run_options(args, world), **input_digests(args)}
        meta = {**meta, "options": options, "code_version": code_version()}
        saved = read_checkpoint_spec(checkpoint / "agent.json") if args.resume else None
        if saved is not None:
            check_resume_options(saved.get("options"), options, checkpoint)
            if saved.get("code_version") not in (None, meta["code_version"]) and rank == 0:
                print(f"note: the code changed since this checkpoint ({saved['code_version']} -> "
                      f"{meta['code_version']})")
        finished = saved is not None and _nothing_left(args, saved, world)
        if finished and rank == 0:
            print(f"{checkpoint} is finished ({saved['num_timesteps'] * world} of {args.steps} steps, "
                  f"{saved.get('train_seconds', 0):.0f} s of training, budget {args.time_budget} s): nothing to train")
        if rank == 0:
            print(f"torch threads: {torch.get_num_threads()} (--threads {args.threads})")
        venv = make_venv(rank)
        tb = str(out / "tb") if rank == 0 else None
        if saved is not None:
            model = load_model(algorithm, checkpoint / "model.zip", checkpoint / "agent.json", env=venv,
                               device=device, tensorboard_log=tb)
            steps = model.num_timesteps * world
            time_offset = float(saved.get("train_seconds", 0.0))
            curve = [c for c in _read_json(out / "curve.json") if c[0] <= steps]  # drop what came after the checkpoint
            evals = [e for e in _read_json(out / "evals.json") if e["steps"] <= steps]
            if rank == 0:
                print(f"resumed from {checkpoint} at {steps} steps, {time_offset:.0f} s of training")
        else:
            model = build(venv, tb)
        broadcast_parameters(model.policy)
        if on_ready is not None:
            on_ready(model)
        per_rank = max(args.steps // world - model.num_timesteps, 0)
        evaluator = evaluator if rank == 0 else None
        progress = TrainingProgress(args.steps, checkpoint, meta, args.checkpoint_every, rank, world,
                                    time_budget=args.time_budget, eval_every=getattr(args, "eval_every", 0),
                                    evaluator=evaluator, log_dir=out, time_offset=time_offset, curve=curve,
                                    evals=evals, metric=metric)
        if not finished:  # (a spent budget would still collect a few steps before the callback stops it)
            model.learn(per_rank, callback=progress, reset_num_timesteps=False)
        if rank == 0:
            if evaluator is not None and (not progress.evals
                                          or progress.evals[-1]["steps"] < model.num_timesteps * world):
                progress.run_evaluation()
            if not finished:
                progress.save()
                print(f"saved {checkpoint} ({model.num_timesteps * world} steps)")
            if final is not None:
                final(checkpoint)
        venv.close()
        return model


def dataset_evaluation(args: Any, name: str) -> Callable[[Path], None] | None:
    """``final`` for Language Rearrangement runs: ``agents.evaluate`` on ``--eval-datasets`` into ``OUT/eval``."""
    if args.eval_episodes <= 0:
        return None

    def run(checkpoint: Path) -> None:
        from agents.evaluate import main as evaluate

        evaluate(["--agent", str(checkpoint), "--name", name, "--datasets", ",".join(args.eval_datasets),
                  "--episodes", str(args.eval_episodes), "--out", str(Path(args.out) / "eval"), "--no-progress"])

    return run


def _check_run_folder(out: Path, checkpoint: Path, resume: bool) -> None:
    """Refuse to start a new run over an earlier one, and to resume nothing."""
    has_checkpoint = (checkpoint / "model.zip").exists()
    if resume and not has_checkpoint:
        raise FileNotFoundError(f"--resume: {out} holds no checkpoint ({checkpoint / 'model.zip'} does not exist); "
                                f"check --out, or drop --resume to start a new run there")
    earlier = [p.name for p in (checkpoint, out / "curve.json", out / "evals.json", out / "tb") if p.exists()]
    if not resume and earlier:
        raise RunExists(f"{out} already holds a training run ({', '.join(earlier)}); add --resume to continue it, "
                        f"or use another --out (or delete the folder to start again)")


class RunExists(ValueError):
    """A new run was asked for in a folder that holds one."""


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
        raise SystemExit(f"error: resuming {checkpoint} with options that differ from the checkpoint's: "
                         f"{', '.join(differ)}; repeat the checkpoint's values or use a new --out")


def _read_json(path: Path) -> list[Any]:
    return read_json(path, "training log") if path.exists() else []


def _write_json(path: Path, items: list[Any]) -> None:
    atomic_write_json(path, list(items))


def heldout_evaluator(episodes: str, tokenizer: Any, max_tokens: int, out: Path, name: str) -> Callable[[Any], float]:
    """model -> greedy success on a held-out episode file, through the standard evaluation harness."""
    from agents.core.agent import SB3Agent
    from agents.evaluate import EvalConfig, evaluate
    from gym_langrearrange.wrappers import InstructionTokenizer

    transform = InstructionTokenizer(tokenizer, max_tokens).transform

    def run(model: Any) -> float:
        agent = SB3Agent(model, name=name, obs_transform=transform)
        cfg = EvalConfig(agent=name, datasets=["heldout"], episodes=10**6, episodes_file=str(Path(episodes).resolve()),
                         name=name)
        folder = out / "heldout" / f"step{model.num_timesteps:09d}"
        report = evaluate(cfg, folder, progress=False, agent=agent)
        return float(next(iter(report["summary"].values()))["success"])

    return run
