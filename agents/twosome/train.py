"""Train TWOSOME, or its plain-PPO baseline, on one of TWOSOME's four tasks; or score the zero-shot policy.

    python -m agents.twosome.train --task food-preparation --out runs/twosome/fp-word            # TWOSOME, word norm.
    python -m agents.twosome.train --task food-preparation --normalisation token --out runs/twosome/fp-token
    python -m agents.twosome.train --task food-preparation --method ppo --out runs/twosome/fp-ppo  # the MLP baseline
    python -m agents.twosome.train --task food-preparation --method zero-shot --out runs/twosome/fp-zs
    python -m agents.twosome.train --task food-preparation --method random --out runs/twosome/fp-random  # uniform
    python -m agents.twosome.train --task food-preparation --resume --out runs/twosome/fp-word     # continue

    python -m agents.twosome.train --task langrearrange --split train --out runs/twosome/lr   # Language Rearrangement
    python -m agents.evaluate --agent runs/twosome/lr/checkpoint --datasets all              # ... evaluated as any agent

Tasks: tomato-salad, tomato-lettuce-salad, food-preparation, entertainment, langrearrange. Learning rates, gamma,
the budget and the seed default to the task's script in the original (``agents.twosome.recipes``);
TWOSOME runs 4 envs x 32 decisions per update, the baseline 4 x 128. Writes ``OUT/checkpoint/``,
``OUT/curve.json`` (the discounted return of recent training episodes, as the envs report it, by
step), ``OUT/tb/`` and, at the end, ``OUT/scores.json``: success rate, discounted return and length
over ``--eval-episodes`` episodes of the final policy (actions sampled, as the original evaluates).
"""
from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

import gym_langrearrange  # noqa: F401  (registers the ids)
from agents.callbacks import SUCCESS, EpisodeMetric
from agents.cli import nonnegative_int, run_main
from agents.core.registry import load_model
from agents.nn.backbone import add_dtype_argument, resolve_llm_dtype, tiny_llama_config
from agents.nn.llm import load_tokenizer
from agents.training import pick_device, pick_threads, run_arguments, run_training
from agents.twosome.algorithm import TWOSOME
from agents.twosome.baseline import UniformValidActions, baseline_algorithm, baseline_env_kwargs, make_baseline
from agents.twosome.policy import NORMALISATIONS, TwosomePolicy
from agents.twosome.prompts import TokenizedActions
from agents.twosome.rearrange import read_rearrange
from agents.twosome.recipes import RECIPES, TaskRecipe, recipe_of
from gym_langrearrange.files import atomic_write_json

PROG = "python -m agents.twosome.train"
METHODS = ("twosome", "ppo", "zero-shot", "random")
#: the discounted return the env reports at an episode's end (0.99 per primitive step, or 0.95 per step)
RETURN = EpisodeMetric("return", lambda info: float(info["episode"]["r"]) if "episode" in info else None,
                       "rollout/return")


def arguments():
    p = run_arguments(PROG, __doc__, out="runs/twosome", n_minibatches=32, envs=4)
    p.set_defaults(steps=None, lr=None, seed=None, checkpoint_every=2048)
    p.add_argument("--task", required=True, help=f"one of {', '.join(RECIPES)}")
    p.add_argument("--split", default="train", help="--task langrearrange: the dataset it trains on")
    p.add_argument("--episodes-file", dest="episodes", default=None, metavar="FILE",
                   help="--task langrearrange: train on the episodes of this JSON file instead of --split "
                   "(e.g. a subset of benchmarks/subsets.py)")
    p.add_argument("--method", default="twosome", choices=METHODS)
    p.add_argument("--normalisation", default="word", choices=NORMALISATIONS)
    p.add_argument("--model", default="smollm2-135m", help="smollm2-135m, gemma3-270m, a .gguf file, an HF folder, "
                   "or tiny-llama (random, tests)")
    add_dtype_argument(p, dest="llm_dtype")
    p.add_argument("--value-lr", type=float, default=None, help="TWOSOME's critic learning rate (default: the task's)")
    p.add_argument("--eval-episodes", type=nonnegative_int, default=100, help="episodes of the final policy")
    return p


def task_env(recipe: TaskRecipe, tokenizer: Any | None, split: str = "train", episodes: str | None = None,
             **kwargs: Any) -> gym.Env:
    """One env of the task: tokenized prompts for TWOSOME (``tokenizer``), the vector for the baseline;
    on Language Rearrangement, the episodes of ``split`` or of the file ``episodes``."""
    if recipe.rearrange:
        source = {"episodes": episodes} if episodes else {"split": split}
        env = gym.make(recipe.env_id, **source, render=False, obs_mode="text", **kwargs)
        return TokenizedActions(env, tokenizer, read=read_rearrange)
    if tokenizer is None:
        return gym.make(recipe.env_id, **kwargs).unwrapped
    return TokenizedActions(gym.make(recipe.env_id, obs_mode="text", **kwargs).unwrapped, tokenizer)


def evaluate_episodes(model: Any, make_env: Callable[[], gym.Env], episodes: int, masked: bool) -> dict[str, Any]:
    """Success rate, discounted return and length of ``episodes`` episodes with sampled actions."""
    env, rows = make_env(), []
    for _ in range(episodes):
        obs, info = env.reset()
        total, length = 0.0, 0
        while True:
            extra = {"action_masks": env.action_masks()} if masked else {}
            action, _ = model.predict(obs, deterministic=False, **extra)
            obs, reward, terminated, truncated, info = env.step(int(action))
            total, length = total + float(reward), length + 1
            if terminated or truncated:  # (LangRearrange reports no discounted return: its plain sum then)
                episode = info.get("episode", {"r": total, "l": length})
                rows.append((float(info.get("success", terminated)), float(episode["r"]), int(episode["l"])))
                break
    success, ret, length = (np.array(c) for c in zip(*rows)) if rows else (np.zeros(0),) * 3
    return {"episodes": episodes, "success": float(success.mean()) if rows else None,
            "return": float(ret.mean()) if rows else None, "return_std": float(ret.std()) if rows else None,
            "length": float(length.mean()) if rows else None}


def main(argv: list[str] | None = None) -> None:
    args = arguments().parse_args(argv)
    recipe = recipe_of(args.task)
    if recipe.rearrange and args.method in ("ppo", "random"):
        raise ValueError(f"--method {args.method} is a reference on TWOSOME's own tasks; on langrearrange train "
                         "agents.lstm.train or agents.llarp.train, or evaluate --agent random-masked, instead")
    if args.episodes and not recipe.rearrange:
        raise ValueError(f"--episodes-file is for --task langrearrange, not {args.task!r}")
    device = pick_device(args.device)
    args.steps = args.steps or recipe.steps
    args.seed = recipe.seed if args.seed is None else args.seed
    args.lr = args.lr or (recipe.ppo_lr if args.method == "ppo" else recipe.policy_lr)
    value_lr = args.value_lr or recipe.value_lr
    args.llm_dtype = resolve_llm_dtype(args.llm_dtype, device)
    if args.method == "ppo":
        args.n_steps = 128  # the baseline's rollouts (4 envs x 128)
    torch.manual_seed(args.seed)
    tiny = args.model == "tiny-llama"
    tokenizer = None if args.method in ("ppo", "random") else load_tokenizer("smollm2-135m" if tiny else args.model)
    env_kwargs = baseline_env_kwargs(recipe) if args.method == "ppo" else {}
    eval_kwargs = {k: v for k, v in env_kwargs.items() if k != "rewards"}  # scored with the task's own rewards
    policy_kwargs = {"normalisation": args.normalisation, "llm_dtype": args.llm_dtype,
                     **({"model_config": tiny_llama_config()} if tiny else {"model": args.model})}
    out = Path(args.out)

    def build(venv, tensorboard_log):
        if args.method == "ppo":
            return make_baseline(recipe, venv, args.seed, device, tensorboard_log)
        return TWOSOME("TwosomePolicy", venv, learning_rate=args.lr, value_learning_rate=value_lr,
                       n_steps=args.n_steps, gamma=recipe.gamma, ent_coef=args.ent_coef, seed=args.seed,
                       device=device, policy_kwargs=policy_kwargs, tensorboard_log=tensorboard_log)

    def write_scores(model) -> None:
        masked = args.method == "random" or (args.method == "ppo" and not recipe.overcooked)
        policy = getattr(model, "policy", None)  # (the uniform reference has none)
        fixed = policy.fixed_weights() if isinstance(policy, TwosomePolicy) else nullcontext()
        with fixed:  # the final policy: each distinct decision scored once
            scores = evaluate_episodes(model, lambda: task_env(recipe, tokenizer, args.split, args.episodes,
                                                                **eval_kwargs), args.eval_episodes, masked=masked)
        scores.update(task=recipe.env_id, method=args.method, normalisation=args.normalisation,
                      steps=int(model.num_timesteps), seed=args.seed)
        atomic_write_json(out / "scores.json", scores)
        print(f"{recipe.env_id} {args.method}: success {scores['success']}, return {scores['return']} over "
              f"{args.eval_episodes} episodes")

    if args.method in ("zero-shot", "random"):  # nothing to train: score the policy as it is
        if (out / "scores.json").exists():
            print(f"{out / 'scores.json'} exists: nothing to do")
            return
        torch.set_num_threads(pick_threads(args.threads))
        out.mkdir(parents=True, exist_ok=True)
        write_scores(UniformValidActions(args.seed) if args.method == "random"
                     else build(DummyVecEnv([lambda: task_env(recipe, tokenizer, args.split, args.episodes)]), None))
        return

    def final(checkpoint: Path) -> None:
        if args.eval_episodes and not (out / "scores.json").exists():
            write_scores(load_model(algorithm, checkpoint / "model.zip", checkpoint / "agent.json", device=device))

    def make_venv(rank: int):
        return DummyVecEnv([lambda: task_env(recipe, tokenizer, args.split, args.episodes, **env_kwargs)] * args.envs)

    algorithm = TWOSOME if args.method == "twosome" else baseline_algorithm(recipe)
    meta = {"algorithm": f"{algorithm.__module__}:{algorithm.__name__}", "task": recipe.env_id,
            "name": f"twosome-{args.normalisation}" if args.method == "twosome" else "ppo",
            "llm": args.model if args.method == "twosome" else None}
    if recipe.rearrange:  # agents.evaluate plays it through TwosomeAgent, which builds the prompts
        meta.update(agent="agents.twosome.agent:TwosomeAgent", split=args.split,
                    episodes=str(Path(args.episodes).resolve()) if args.episodes else None)
    run_training(args, algorithm=algorithm, build=build, meta=meta, make_venv=make_venv, device=device,
                 final=final, metric=SUCCESS if recipe.rearrange else RETURN)


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
