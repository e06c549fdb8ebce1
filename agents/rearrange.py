"""Language Rearrangement for the learned agents' training: tokenized envs, the data options of the
training scripts, the held-out evaluator of learning curves and the final evaluation on datasets."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym

import gym_langrearrange  # noqa: F401  (registers the ids)
from agents.cli import comma_list, nonnegative_int, positive_int
from agents.training import run_arguments
from gym_langrearrange.wrappers import ActionMaskObservation, TokenizeInstruction


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


def training_arguments(prog: str, description: str, out: str, n_minibatches: int) -> argparse.ArgumentParser:
    """``run_arguments`` plus Language Rearrangement's data, observation and evaluation options."""
    from gym_langrearrange.datasets import DATASETS, SPLITS

    p = run_arguments(prog, description, out, n_minibatches)
    p.add_argument("--split", default="train", choices=list(SPLITS), help="dataset to train on (default train)")
    # (dest "episodes": the name checkpoints record; --episodes, its old spelling, is a count elsewhere)
    p.add_argument("--episodes-file", dest="episodes", default=None, metavar="FILE",
                   help="train on an episode JSON file instead of --split")
    p.add_argument("--episodes", dest="episodes", help=argparse.SUPPRESS)
    p.add_argument("--image-size", type=positive_int, default=64)
    p.add_argument("--max-tokens", type=positive_int, default=48, help="instruction length in tokens")
    p.add_argument("--heldout", default=None, help="episode file evaluated every --eval-every steps (learning curve)")
    p.add_argument("--eval-every", type=nonnegative_int, default=0, metavar="STEPS")
    p.add_argument("--eval-episodes", type=nonnegative_int, default=20,
                   help="final evaluation episodes per dataset (0: none)")
    p.add_argument("--eval-datasets", type=comma_list(list(DATASETS)), default="train,new_scenes,rephrasing")
    return p


def make_vec_env(args: Any, tokenizer: Any, rank: int = 0):
    """``--envs`` tokenized envs for this rank (Dummy or Subproc), seeded apart across ranks.

    ``VecMonitor`` makes SB3 log ``rollout/ep_rew_mean`` and ``ep_len_mean``: while success is
    still 0, the return (subgoal rewards) is what shows whether an agent is learning.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    fns = [env_factory(tokenizer, args.max_tokens, args.split, args.episodes, args.image_size,
                       seed=args.seed + 1000 * rank + i,
                       action_mask=getattr(args, "action_mask", False))  # only agents.llarp.train has --action-mask
           for i in range(args.envs)]
    return VecMonitor(SubprocVecEnv(fns) if args.subproc else DummyVecEnv(fns))


def dataset_evaluation(args: Any, name: str) -> Callable[[Path], None] | None:
    """``final`` for Language Rearrangement runs: the checkpoint evaluated on ``--eval-datasets`` into
    ``OUT/eval`` (the harness of ``agents.evaluate``)."""
    if args.eval_episodes <= 0:
        return None

    def run(checkpoint: Path) -> None:
        from agents.evaluate import EvalConfig, evaluate
        from agents.results import markdown_table

        cfg = EvalConfig(agent=str(checkpoint), datasets=list(args.eval_datasets), episodes=args.eval_episodes,
                         name=name)
        report = evaluate(cfg, Path(args.out) / "eval", progress=False)
        print(markdown_table({name: report["summary"]}))

    return run


def heldout_evaluator(episodes: str, tokenizer: Any, max_tokens: int, out: Path, name: str) -> Callable[[Any], float]:
    """model -> greedy success on a held-out episode file, through the standard evaluation harness."""
    from agents.core.agent import SB3Agent
    from agents.evaluate import EvalConfig, custom_dataset_names, evaluate
    from gym_langrearrange.datasets import load_episodes
    from gym_langrearrange.wrappers import InstructionTokenizer

    transform = InstructionTokenizer(tokenizer, max_tokens).transform
    columns = sorted(set(custom_dataset_names(load_episodes(episodes, check_solvable=False))))  # custom:SPLIT

    def run(model: Any) -> float:
        agent = SB3Agent(model, name=name, obs_transform=transform)
        cfg = EvalConfig(agent=name, datasets=columns, episodes=10**6, episodes_file=str(Path(episodes).resolve()),
                         name=name)
        folder = out / "heldout" / f"step{model.num_timesteps:09d}"
        summary = evaluate(cfg, folder, progress=False, agent=agent)["summary"]
        played = sum(summary[c]["episodes"] for c in columns)
        return sum(summary[c]["success"] * summary[c]["episodes"] for c in columns) / played  # over every episode

    return run
