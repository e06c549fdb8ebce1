"""Speed benchmark: environment steps per second under three action regimes, beside reference envs.

    python -m gym_langrearrange.benchmark [--steps 20000] [--runs 3] [--split train] [--no-reference]

Action regimes, each through ``gym.make`` in one process:

* ``uniform-70``: uniform over all 70 skills (three quarters are invalid here and change nothing);
* ``uniform-valid``: uniform over the skills valid now (``info["action_mask"]``);
* ``oracle``: the planner's shortest plan (what a trained agent does: every skill changes the world).

Observations: RGB 256x256, RGB 64x64 (LLaRP's size) and ``render=False``. Batched rows: ``gym.make_vec``
with 8 envs in one process, Gymnasium's ``sync`` mode against our ``vector_entry_point``, valid actions,
in env steps per second. Reference columns measured
in the same run, where installed (``pip install minigrid``; ale-py comes with the agents): BabyAI
GoToLocal with its symbolic and 56x56 RGB observations, and ALE Pong-v5 (210x160 RGB), with uniform
actions. Every configuration runs in a fresh process after a warm-up run of ``--warmup`` steps (the
split's episode index built, the camera backgrounds drawn, the sprite sizes in use cut: the steady
state of a long training run); the table gives the median of ``--runs`` runs, its min and max.
"""
from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import gymnasium as gym
import numpy as np

import gym_langrearrange  # noqa: F401  (registers the ids)
from gym_langrearrange.datasets.cache import build_index, load_index

REGIMES = ("uniform-70", "uniform-valid", "oracle")
OBSERVATIONS = {"RGB 256x256": dict(image_size=256), "RGB 64x64": dict(image_size=64),
                "render=False": dict(render=False)}


def _random_valid(mask: np.ndarray, rng: np.random.Generator) -> int:
    """A uniformly random valid skill (cheaper than ``rng.choice``, which would dominate a bare step)."""
    valid = np.flatnonzero(mask)
    return int(valid[rng.integers(valid.size)])


def _chooser(regime: str, env: gym.Env, rng: np.random.Generator) -> Callable[[dict], int]:
    if regime == "uniform-70":
        return lambda info: int(rng.integers(70))
    if regime == "uniform-valid":
        return lambda info: _random_valid(info["action_mask"], rng)
    if regime == "oracle":
        from gym_langrearrange.planner import Oracle

        oracle = Oracle(env)
        return lambda info: oracle.act()
    raise ValueError(f"unknown regime {regime!r}; allowed: {', '.join(REGIMES)}")


def steps_per_second(env: gym.Env, steps: int, seed: int, regime: str = "uniform-70") -> float:
    """Steps/s of ``steps`` steps in ``regime`` (resets included, as an agent would see them)."""
    choose = _chooser(regime, env, np.random.default_rng(seed))
    _, info = env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, info = env.step(choose(info))
        if term or trunc:
            _, info = env.reset()
    return steps / (time.perf_counter() - start)


def _langrearrange(split: str, observation: str) -> gym.Env:
    env = gym.make("LangRearrange-v0", split=split, **OBSERVATIONS[observation])
    env.unwrapped.warm_up()
    return env


def _reference(name: str) -> gym.Env:
    if name.startswith("BabyAI"):
        import minigrid  # noqa: F401  (registers the ids)
        from minigrid.wrappers import ImgObsWrapper, RGBImgPartialObsWrapper

        env = gym.make("BabyAI-GoToLocal-v0")
        return ImgObsWrapper(RGBImgPartialObsWrapper(env, tile_size=8)) if "RGB" in name else env
    import ale_py

    gym.register_envs(ale_py)
    return gym.make("ALE/Pong-v5")


def _uniform_steps_per_second(env: gym.Env, steps: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, env.action_space.n, size=steps)
    env.reset(seed=seed)
    start = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(int(a))
        if term or trunc:
            env.reset()
    return steps / (time.perf_counter() - start)


VECTOR_ENVS = 8


def vector_steps_per_second(envs: gym.vector.VectorEnv, steps: int, seed: int) -> float:
    """Env steps/s of a vector env taking ``steps`` env steps with uniformly random valid skills."""
    rng = np.random.default_rng(seed)
    _, info = envs.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps // envs.num_envs):
        actions = [_random_valid(mask, rng) for mask in info["action_mask"]]
        _, _, _, _, info = envs.step(np.array(actions))
    return steps // envs.num_envs * envs.num_envs / (time.perf_counter() - start)


def _measure(kind: str, name: str, regime: str, split: str, steps: int, runs: int, warmup: int) -> list[float]:
    """Steps/s of ``runs`` runs after one warm-up run of ``warmup`` steps, in this (fresh) process."""
    if kind == "vector":
        _langrearrange(split, name).close()  # draws the split's backgrounds into the caches all envs share
        envs = gym.make_vec("LangRearrange-v0", num_envs=VECTOR_ENVS, vectorization_mode=regime, split=split,
                            **OBSERVATIONS[name])
        vector_steps_per_second(envs, warmup, seed=999)
        return [vector_steps_per_second(envs, steps, seed=r) for r in range(runs)]
    if kind == "reference":
        env = _reference(name)
        _uniform_steps_per_second(env, min(warmup, steps), seed=999)
        return [_uniform_steps_per_second(env, steps, seed=r) for r in range(runs)]
    env = _langrearrange(split, name)
    steps_per_second(env, warmup, seed=999, regime=regime)
    return [steps_per_second(env, steps, seed=r, regime=regime) for r in range(runs)]


def references_available() -> list[str]:
    names = []
    if importlib.util.find_spec("minigrid") is not None:
        names += ["BabyAI GoToLocal, symbolic", "BabyAI GoToLocal, RGB 56x56"]
    if importlib.util.find_spec("ale_py") is not None:
        names.append("ALE Pong-v5, RGB 210x160")
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000, help="steps per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration (the median is reported)")
    parser.add_argument("--warmup", type=int, default=50_000,
                        help="steps of the untimed warm-up run of each configuration (sprites are cut on first use)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--regimes", default=",".join(REGIMES), help=f"comma-separated: {', '.join(REGIMES)}")
    parser.add_argument("--no-vector", dest="vector", action="store_false",
                        help=f"skip the gym.make_vec rows ({VECTOR_ENVS} envs, sync and vector_entry_point)")
    parser.add_argument("--no-reference", dest="reference", action="store_false",
                        help="skip the MiniGrid/BabyAI and ALE columns")
    args = parser.parse_args(argv)
    regimes = [r for r in args.regimes.split(",") if r]
    for regime in regimes:
        if regime not in REGIMES:
            parser.error(f"--regimes: unknown regime {regime!r}; allowed: {', '.join(REGIMES)}")
    if load_index(args.split) is None:
        t0 = time.perf_counter()
        build_index(args.split)
        print(f"built the {args.split} episode index in {time.perf_counter() - t0:.1f} s")
    jobs = [("langrearrange", obs, regime) for obs in OBSERVATIONS for regime in regimes]
    if args.vector:
        jobs += [("vector", obs, mode) for obs in ("RGB 64x64", "render=False") for mode in ("sync", "vector_entry_point")]
    jobs += [("reference", name, "uniform") for name in (references_available() if args.reference else [])]
    rows = []
    for kind, name, regime in jobs:  # each in a fresh process: one's caches cannot help or slow another
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = pool.submit(_measure, kind, name, regime, args.split, args.steps, args.runs, args.warmup).result()
        label = {"langrearrange": f"LangRearrange, {name}",
                 "vector": f"LangRearrange, {name}, make_vec x{VECTOR_ENVS}, env steps/s"}.get(kind, name)
        regime = f"uniform-valid, {regime}" if kind == "vector" else regime
        rows.append((label, regime, runs))
        print(f"{label}, {regime}: {statistics.median(runs):,.0f} steps/s", flush=True)
    print("\n| env | actions | median steps/s | min | max | runs |\n|---|---|---:|---:|---:|---:|")
    for label, regime, runs in rows:
        print(f"| {label} | {regime} | {statistics.median(runs):,.0f} | {min(runs):,.0f} | {max(runs):,.0f} | "
              f"{len(runs)} |")


if __name__ == "__main__":
    main()
