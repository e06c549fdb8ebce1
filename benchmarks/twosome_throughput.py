"""TWOSOME throughput on this machine: decisions per second, with and without prompt key/value reuse.

    python benchmarks/twosome_throughput.py [--model smollm2-135m] [--envs 4] [--rounds 5] [--dtype auto]

A decision = scoring every valid action of one env's prompt and sampling one (what a rollout
does per env step); the critic's features are kept per distinct prompt, so they are computed once
here and excluded. Per task, 4 envs walk a random valid path for a few steps to get varied prompts;
each round times one batched decision for all envs, in both modes, alternating; medians of the
rounds, and the ratio measured in the same run. Also the PPO actor pass (forward + backward of the
scores of an accumulation window of 32 samples, the update's unit: 4 per rollout of 128 decisions),
and end to end, ``TWOSOME.learn`` for ``--learn`` decisions from the untrained policy (rollouts, where
each distinct decision is scored once, and updates): what a training run gets per second.
"""
from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

import gym_langrearrange  # noqa: F401  (registers the ids)
from agents.nn.backbone import add_dtype_argument
from agents.twosome import TWOSOME, TokenizedActions, TwosomePolicy
from agents.nn.llm import load_tokenizer
from gym_langrearrange.twosome import TASKS


def batch_of_states(env_id: str, tokenizer, envs: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    rows = []
    for i in range(envs):
        env = TokenizedActions(gym.make(env_id, obs_mode="text"), tokenizer)
        obs, _ = env.reset()
        for _ in range(i * 2):  # env i is 2i random valid steps in
            obs, _, terminated, truncated, _ = env.step(int(rng.choice(np.flatnonzero(obs["valid"]))))
            if terminated or truncated:
                obs, _ = env.reset()
        rows.append(obs)
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def timed(fn, rounds: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--envs", type=int, default=4)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--learn", type=int, default=512, help="decisions of TWOSOME.learn timed per task (0: none)")
    add_dtype_argument(p)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer = load_tokenizer(args.model)
    rng = np.random.default_rng(0)
    print(f"TWOSOME decisions/s, {args.model}, {args.envs} envs, LLM dtype {args.dtype}, "
          f"{torch.get_num_threads()} threads; medians of {args.rounds} rounds")
    print(f"{'task':<32}{'prompt tok':>11}{'cands':>7}{'reuse':>9}{'no reuse':>10}{'ratio':>7}{'actor f+b s':>13}"
          f"{'learn dec/s':>13}")
    policy = None
    for env_id in TASKS:
        batch = batch_of_states(env_id, tokenizer, args.envs, rng)
        env = TokenizedActions(gym.make(env_id, obs_mode="text"), tokenizer)
        if policy is None or policy.action_space.n != env.action_space.n:
            policy = TwosomePolicy(env.observation_space, env.action_space, lambda _: 1e-6, model=args.model,
                                   llm_dtype=args.dtype)
        obs, _ = policy.obs_to_tensor(batch)
        policy.predict_values(obs)  # the critic's features, kept per prompt

        def decide(reuse: bool):
            def run():
                policy.prompt_reuse = reuse
                with torch.no_grad():
                    policy(obs)
            return run

        seconds = {True: [], False: []}
        for _ in range(args.rounds):
            for reuse in (True, False):
                seconds[reuse].append(timed(decide(reuse), 1))
        with_reuse, without = statistics.median(seconds[True]), statistics.median(seconds[False])
        policy.prompt_reuse = True
        window = {k: np.concatenate([v] * (32 // args.envs + 1))[:32] for k, v in batch.items()}  # 32 samples
        window_obs, _ = policy.obs_to_tensor(window)
        actions = torch.as_tensor(window["valid"].argmax(1))

        def actor_pass():
            _, log_prob, entropy = policy.evaluate_actions(window_obs, actions)
            (-(log_prob.mean() + 0.01 * entropy.mean())).backward()
            policy.optimizer.zero_grad()

        backward = timed(actor_pass, max(2, args.rounds // 2))
        print(f"{env_id:<32}{batch['prompt_mask'].sum(1).mean():>11.0f}{batch['valid'].sum():>7d}"
              f"{args.envs / with_reuse:>9.1f}{args.envs / without:>10.1f}{without / with_reuse:>6.1f}x"
              f"{backward:>13.2f}{learn_rate(env_id, tokenizer, args) if args.learn else float('nan'):>13.1f}",
              flush=True)


def learn_rate(env_id: str, tokenizer, args) -> float:
    """Decisions per second of ``TWOSOME.learn(args.learn)`` on ``args.envs`` envs, from the untrained policy."""
    venv = DummyVecEnv([lambda: TokenizedActions(gym.make(env_id, obs_mode="text"), tokenizer)] * args.envs)
    model = TWOSOME("TwosomePolicy", venv, learning_rate=1e-6, value_learning_rate=5e-5, seed=0,
                    policy_kwargs={"model": args.model, "llm_dtype": args.dtype})
    start = time.perf_counter()
    model.learn(args.learn)
    return args.learn / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
