"""What a LLaRP checkpoint *samples* (not its greedy action) on training episodes.

    python benchmarks/llarp_action_mix.py runs/learning/llarp/checkpoint/model.zip

Prints the mean policy entropy (nats; uniform over 70 skills is 4.25), the mean probability
on the whole `pick` family, how often each skill family was sampled, and what the sampled
episodes achieved: subgoals, a valid `pick` (something held), success. A policy that puts
~1% on `pick` will rarely find the +5 `holding` subgoal, whatever its greedy return says.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import DummyVecEnv
from torch.distributions import Categorical

from agents.nn.llm import load_tokenizer
from agents.rearrange import env_factory
from agents.llarp import LLaRP
from agents.llarp.policy import StepContext
from gym_langrearrange.skills import SKILL_CATALOG


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a LLaRP model.zip (its agent.json beside it names the tokenizer)")
    p.add_argument("--episodes-file", default="runs/learning/subset/single-move-train.json")
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--steps", type=int, default=256, help="vector steps to sample (32 per episode)")
    p.add_argument("--seed", type=int, default=100)
    args = p.parse_args()
    meta = json.loads((Path(args.model).parent / "agent.json").read_text())
    tokenizer = load_tokenizer(meta["tokenizer"])
    policy = LLaRP.load(args.model, device="cpu").policy
    image_size = policy.observation_space["rgb"].shape[-1]  # (3, H, W): the size the checkpoint was trained on
    venv = DummyVecEnv([env_factory(tokenizer, meta["max_tokens"], None, args.episodes_file, image_size,
                                    seed=args.seed + i) for i in range(args.envs)])
    policy.set_training_mode(False)
    families = [SKILL_CATALOG.text(i).split("(")[0] for i in range(venv.action_space.n)]
    pick = torch.tensor([f == "pick" for f in families])
    obs, starts, ctx = venv.reset(), np.ones(args.envs, bool), StepContext.empty(args.envs, torch.device("cpu"))
    entropy, p_pick, sampled = [], [], Counter()
    held, episodes = np.zeros(args.envs, bool), []  # per finished episode: (subgoals done, held something, success)
    torch.manual_seed(args.seed)  # right before sampling, so loading cannot shift the samples
    for _ in range(args.steps):
        with torch.no_grad():
            logits, _, ctx = policy.act(obs_as_tensor(obs, policy.device), ctx, torch.as_tensor(starts))
        dist = Categorical(logits=logits)
        entropy.append(dist.entropy().mean().item())
        p_pick.append(dist.probs[:, pick].sum(1).mean().item())
        actions = dist.sample().numpy()
        sampled.update(families[a] for a in actions)
        obs, _, starts, infos = venv.step(actions)
        held |= np.array([i["action_name"].startswith("pick(") and not i["invalid"] for i in infos])
        for e in np.flatnonzero(starts):
            episodes.append((infos[e]["subgoals_done"], held[e], infos[e]["success"]))
            held[e] = False
    print(f"entropy {np.mean(entropy):.2f} nats (uniform {np.log(venv.action_space.n):.2f}); "
          f"p(pick) {np.mean(p_pick):.1%}; sampled {dict(sampled.most_common())}")
    subgoals, something_held, success = (np.array(c, float) for c in zip(*episodes))
    print(f"{len(episodes)} sampled episodes: subgoals per episode {subgoals.mean():.2f}, "
          f"held an object {something_held.mean():.0%}, success {success.mean():.0%}")


if __name__ == "__main__":
    main()
