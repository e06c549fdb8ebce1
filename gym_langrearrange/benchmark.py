"""Speed benchmark: environment steps per second (median of several runs).

    python -m gym_langrearrange.benchmark [--steps 20000] [--runs 5] [--split train]

Measures a random agent (uniform over all 70 skills, so resets happen every 32 steps)
through ``gym.make``: one process with 256x256 RGB, one process with ``render=False``,
and ``AsyncVectorEnv`` with 2 workers. Before measuring it builds the split's episode
index if missing (that is how long producing every episode takes) and warms up the
renderer's per-scene backgrounds, so the figures are steady-state speeds.
"""
from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np

import gym_langrearrange  # noqa: F401  (registers the ids)
from gym_langrearrange.datasets.cache import build_index, load_index


def steps_per_second(env: gym.Env, steps: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 70, size=steps)
    env.reset(seed=seed)
    start = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(int(a))
        if term or trunc:
            env.reset()
    return steps / (time.perf_counter() - start)


def vector_steps_per_second(venv: gym.vector.VectorEnv, steps: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    n = venv.num_envs
    actions = rng.integers(0, 70, size=(steps // n, n))
    venv.reset(seed=seed)
    start = time.perf_counter()
    for a in actions:
        venv.step(a)  # autoreset: the vector env resets finished episodes itself
    return actions.size / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000, help="steps per run")
    parser.add_argument("--runs", type=int, default=7, help="runs per configuration (the median is reported)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--image-size", type=int, default=256)
    args = parser.parse_args(argv)

    if load_index(args.split) is None:
        t0 = time.perf_counter()
        build_index(args.split)
        print(f"built the {args.split} episode index (every episode generated and solved) "
              f"in {time.perf_counter() - t0:.1f} s")
    configs = {
        f"1 process, RGB {args.image_size}x{args.image_size}":
            lambda: gym.make("LangRearrange-v0", split=args.split, image_size=args.image_size),
        "1 process, render=False": lambda: gym.make("LangRearrange-v0", split=args.split, render=False),
    }
    rows = []
    for name, make in configs.items():
        env = make()
        t0 = time.perf_counter()
        views = env.unwrapped.warm_up()
        if views:
            print(f"drew {views} camera backgrounds of the {args.split} scenes in {time.perf_counter() - t0:.1f} s "
                  f"(one-time cost per process)")
        steps_per_second(env, args.steps, seed=999)
        runs = [steps_per_second(env, args.steps, seed=r) for r in range(args.runs)]
        rows.append((name, runs))
        env.close()
    # shared_memory=False: Gymnasium's shared memory cannot carry Text observations (see README)
    def warmed_env() -> gym.Env:
        env = gym.make("LangRearrange-v0", split=args.split, image_size=args.image_size)
        env.unwrapped.warm_up()
        return env

    venv = gym.vector.AsyncVectorEnv([warmed_env] * 2, shared_memory=False)
    vector_steps_per_second(venv, args.steps, seed=999)
    rows.append((f"AsyncVectorEnv x2, RGB {args.image_size}x{args.image_size}",
                 [vector_steps_per_second(venv, args.steps, seed=r) for r in range(args.runs)]))
    venv.close()
    print(f"\n| configuration | median steps/s | min | max | runs |\n|---|---:|---:|---:|---:|")
    for name, runs in rows:
        print(f"| {name} | {statistics.median(runs):,.0f} | {min(runs):,.0f} | {max(runs):,.0f} | {len(runs)} |")


if __name__ == "__main__":
    main()
