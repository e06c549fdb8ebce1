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
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

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


def _warmed_env(split: str, kwargs: dict) -> gym.Env:
    env = gym.make("LangRearrange-v0", split=split, **kwargs)
    env.unwrapped.warm_up()
    return env


def _measure(split: str, kwargs: dict, vector: bool, steps: int, runs: int) -> tuple[list[float], str]:
    """Steps/s of ``runs`` runs after a warm-up run (and after drawing every camera background)."""
    t0 = time.perf_counter()
    if vector:
        venv = gym.vector.AsyncVectorEnv([partial(_warmed_env, split, kwargs)] * 2)
        note = ""
        vector_steps_per_second(venv, steps, seed=999)
        out = [vector_steps_per_second(venv, steps, seed=r) for r in range(runs)]
        venv.close()
        return out, note
    env = _warmed_env(split, kwargs)
    note = (f"drew the camera backgrounds of the {split} scenes in {time.perf_counter() - t0:.1f} s "
            f"(one-time cost per process)") if kwargs.get("render", True) else ""
    steps_per_second(env, steps, seed=999)
    return [steps_per_second(env, steps, seed=r) for r in range(runs)], note


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
    configs = [
        ("1 process, render=False", dict(render=False), False),
        (f"1 process, RGB {args.image_size}x{args.image_size}", dict(image_size=args.image_size), False),
        (f"AsyncVectorEnv x2, RGB {args.image_size}x{args.image_size}", dict(image_size=args.image_size), True),
    ]
    rows = []
    # each configuration runs in a fresh process, so one's caches cannot help or slow another
    for name, kwargs, vector in configs:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            runs, note = pool.submit(_measure, args.split, kwargs, vector, args.steps, args.runs).result()
        if note:
            print(note)
        rows.append((name, runs))
    print("\n| configuration | median steps/s | min | max | runs |\n|---|---:|---:|---:|---:|")
    for name, runs in rows:
        print(f"| {name} | {statistics.median(runs):,.0f} | {min(runs):,.0f} | {max(runs):,.0f} | {len(runs)} |")


if __name__ == "__main__":
    main()
