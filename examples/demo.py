"""The demo of `make demo`: the oracle and a random agent on every dataset, and a GIF of one episode.

    python examples/demo.py [--episodes 10] [--out demo_out]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import gym_langrearrange  # noqa: F401  (registers LangRearrange-v0)
from gym_langrearrange.datasets import DATASETS
from gym_langrearrange.planner import Oracle
from gym_langrearrange.render import render_topdown, side_by_side
from gym_langrearrange.render.video import annotate, save_gif


def run(env: gym.Env, policy: str, episodes: int, seed: int) -> tuple[float, float]:
    """Success rate and efficiency (1 - steps/32, 0 for failures) over the first ``episodes`` episodes."""
    rng = np.random.default_rng(seed)
    oracle = Oracle(env)
    wins, eff = 0, 0.0
    for i in range(episodes):
        _, info = env.reset(seed=seed, options={"episode_index": i})
        steps, done = 0, False
        while not done:
            if policy == "oracle":
                action = oracle.act()
            elif policy == "random (masked)":
                action = int(rng.choice(np.flatnonzero(info["action_mask"])))
            else:
                action = int(rng.integers(70))
            _, _, term, trunc, info = env.step(action)
            steps += 1
            done = term or trunc
        wins += info["success"]
        eff += (1 - steps / 32) if info["success"] else 0.0
    return wins / episodes, eff / episodes


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=10, help="episodes per dataset and agent")
    parser.add_argument("--out", default="demo_out")
    args = parser.parse_args()
    policies = ("oracle", "random", "random (masked)")
    rows = []
    for dataset in tqdm(DATASETS, desc="datasets"):
        env = gym.make("LangRearrange-v0", split=dataset, render=False)
        rows.append((dataset, [run(env, p, args.episodes, seed=0) for p in policies]))
    print(f"\nSuccess rate (efficiency) over the first {args.episodes} episodes of each dataset:\n")
    print("| dataset | " + " | ".join(policies) + " |")
    print("|---|" + "---:|" * len(policies))
    for dataset, results in rows:
        print(f"| {dataset} | " + " | ".join(f"{s:.0%} ({e:.2f})" for s, e in results) + " |")
    gif = oracle_gif(Path(args.out) / "oracle_episode.gif")
    print(f"\nGIF of one oracle episode: {gif}")


if __name__ == "__main__":
    main()
