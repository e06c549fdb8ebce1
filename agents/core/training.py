"""What every training script shares: env construction, progress, atomic checkpoints, resume, DD-PPO setup."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
import torch.distributed as dist
from stable_baselines3.common.callbacks import BaseCallback

import gym_langrearrange  # noqa: F401  (registers the ids)
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
    """model.zip + agent.json (what agents.evaluate needs), written to a temp folder then swapped in."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.zip")
    (tmp / "agent.json").write_text(json.dumps({**meta, "model": "model.zip",
                                                "num_timesteps": int(model.num_timesteps)}, indent=1))
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


class TrainingProgress(BaseCallback):
    """tqdm bar with steps/s and recent success; periodic atomic checkpoints (rank 0 only).

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
                 time_offset: float = 0.0, curve: list | None = None, evals: list | None = None) -> None:
        super().__init__()
        self.total, self.checkpoint_dir, self.meta, self.every = total, Path(checkpoint_dir), meta, every
        self.rank, self.world = rank, world
        self.time_budget, self.eval_every, self.evaluator = time_budget, eval_every, evaluator
        self.log_dir, self.time_offset = (Path(log_dir) if log_dir else None), time_offset
        self._next_eval = 0
        self.evals: list[dict[str, float]] = list(evals or [])
        self._next_save = every
        self._bar = None
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
            if done:
                self._successes.append(float(info.get("success", False)))
        self._successes = self._successes[-200:]
        if self._bar is not None:
            rate = (self.model.num_timesteps - self._s0) * self.world / max(self.elapsed() - self.time_offset, 1e-9)
            success = np.mean(self._successes) if self._successes else float("nan")
            self._bar.set_postfix_str(f"{rate:.0f} steps/s, success {success:.1%}", refresh=False)
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
        if self._successes:
            self.logger.record("rollout/success_rate", float(np.mean(self._successes)))
            self.curve.append((self.model.num_timesteps * self.world, float(np.mean(self._successes))))
        steps = self.model.num_timesteps * self.world
        if self.rank == 0 and steps >= self._next_save:
            self.save()
            self._next_save = (steps // self.every + 1) * self.every
        if self.rank == 0 and self.evaluator is not None and self.eval_every and steps >= self._next_eval:
            self.run_evaluation()
            self._next_eval = steps + self.eval_every

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

def training_arguments(description: str, out: str, n_minibatches: int) -> argparse.ArgumentParser:
    """The options every training script has (data, budget, envs, checkpoints, evaluation)."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", default="train", help="dataset to train on (default train)")
    p.add_argument("--episodes", default=None, help="train on an episode JSON file instead of --split")
    p.add_argument("--steps", type=int, default=100_000, help="environment steps in total (all ranks)")
    p.add_argument("--envs", type=int, default=8, help="environments per process/rank")
    p.add_argument("--subproc", action="store_true", help="SubprocVecEnv instead of DummyVecEnv")
    p.add_argument("--n-steps", type=int, default=32, help="rollout steps per env between updates")
    p.add_argument("--n-minibatches", type=int, default=n_minibatches)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--ent-coef", type=float, default=0.01, help="entropy bonus (paper, Table 3: 0.01)")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--max-tokens", type=int, default=48, help="instruction length in tokens")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=out)
    p.add_argument("--checkpoint-every", type=int, default=10_000)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    p.add_argument("--time-budget", type=float, default=None, help="stop training after this many seconds")
    p.add_argument("--heldout", default=None, help="episode file evaluated every --eval-every steps (learning curve)")
    p.add_argument("--eval-every", type=int, default=0)
    p.add_argument("--eval-episodes", type=int, default=20, help="final evaluation episodes per dataset (0: none)")
    p.add_argument("--eval-datasets", default="train,new_scenes,rephrasing")
    return p


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
                 tokenizer: Any, device: str, rank: int = 0, world: int = 1,
                 on_ready: Callable[[Any], None] | None = None) -> Any:
    """Build (or resume) a model, train it with progress/checkpoints/held-out evals, save, evaluate.

    ``build(venv, tensorboard_log)`` makes a fresh model; ``algorithm.load`` resumes one. Writes
    ``OUT/checkpoint/``, ``OUT/tb/``, ``OUT/curve.json``, ``OUT/evals.json`` (with
    ``--heldout``) and ``OUT/eval/`` (final ``agents.evaluate`` run). Returns the model.
    """
    out = Path(args.out)
    checkpoint = out / "checkpoint"
    name = meta["name"]
    venv = make_vec_env(args, tokenizer, rank)
    tb = str(out / "tb") if rank == 0 else None
    time_offset, curve, evals = 0.0, [], []
    options = run_options(args, world)
    meta = {**meta, "options": options}
    if args.resume and (checkpoint / "model.zip").exists():
        saved = json.loads((checkpoint / "agent.json").read_text())
        check_resume_options(saved.get("options"), options, checkpoint)
        model = algorithm.load(checkpoint / "model.zip", env=venv, device=device, tensorboard_log=tb)
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
    evaluator = (heldout_evaluator(args.heldout, tokenizer, args.max_tokens, out, name)
                 if args.heldout and rank == 0 else None)
    progress = TrainingProgress(args.steps, checkpoint, meta, args.checkpoint_every, rank, world,
                                time_budget=args.time_budget, eval_every=args.eval_every, evaluator=evaluator,
                                log_dir=out, time_offset=time_offset, curve=curve, evals=evals)
    model.learn(per_rank, callback=progress, reset_num_timesteps=False)
    if rank == 0:
        if evaluator is not None and (not progress.evals or progress.evals[-1]["steps"] < model.num_timesteps * world):
            progress.run_evaluation()
        progress.save()
        print(f"saved {checkpoint} ({model.num_timesteps * world} steps)")
        if args.eval_episodes > 0:
            from agents.evaluate import main as evaluate

            evaluate(["--agent", str(checkpoint), "--name", name, "--datasets", args.eval_datasets, "--episodes",
                      str(args.eval_episodes), "--out", str(out / "eval"), "--no-progress"])
    venv.close()
    return model


# Options a resumed run may change (how long, where, on what hardware, what to report at the end);
# every other option defines the run, so a resume must repeat it.
RESUMABLE_OPTIONS = frozenset({"steps", "time_budget", "resume", "out", "device", "subproc", "checkpoint_every",
                               "eval_episodes", "eval_datasets"})


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
    return json.loads(path.read_text()) if path.exists() else []


def _write_json(path: Path, items: list[Any]) -> None:
    """Atomically: a reader (or a kill) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(list(items), indent=1))
    os.replace(tmp, path)


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
