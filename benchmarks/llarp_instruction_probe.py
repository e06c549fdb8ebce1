"""Is the instruction readable from LLaRP's LLM state? A linear probe, to tell an architecture problem
from slow reinforcement learning when a trained policy seems to ignore its instruction.

    python benchmarks/llarp_instruction_probe.py runs/learning/llarp/checkpoint/model.zip [--episodes N]

For the first N episodes of the training subset: reset, run the policy on the first frame, keep the
LLM's hidden state at the frame position (the action head's input) and the head's trunk output.
A logistic-regression probe trained on the first 2/3 predicts the goal receptacle on the last 1/3.
High accuracy on the LLM state means the information is there and the head has yet to learn to use it.
"""
from __future__ import annotations

import argparse
import json
import re

import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.nn.llm import load_tokenizer
from agents.rearrange import env_factory
from agents.llarp import LLaRP, StepContext


def probe_accuracy(x: torch.Tensor, y: torch.Tensor, n_train: int, n_classes: int) -> float:
    x = (x - x[:n_train].mean(0)) / (x[:n_train].std(0) + 1e-5)
    w = torch.zeros(x.shape[1], n_classes, requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=1e-2)
    for _ in range(300):
        loss = torch.nn.functional.cross_entropy(x[:n_train] @ w + b, y[:n_train]) + 1e-3 * w.pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return ((x[n_train:] @ w + b).argmax(1) == y[n_train:]).float().mean().item()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--episodes-file", default="runs/learning/subset/single-move-train.json")
    p.add_argument("--episodes", type=int, default=300)
    args = p.parse_args()
    torch.set_num_threads(1)
    tokenizer = load_tokenizer("smollm2-135m")
    venv = DummyVecEnv([env_factory(tokenizer, 48, episodes=args.episodes_file, image_size=64, seed=0)])
    policy = LLaRP.load(args.checkpoint, env=venv, device="cpu").policy.eval()
    env = venv.envs[0]
    states, trunk, labels = [], [], []

    def grab(module, inputs, output):
        states.append(inputs[0].detach().clone())
        trunk.append(output.detach().clone())

    hook = policy.trunk.register_forward_hook(grab)
    with torch.no_grad():
        for index in range(args.episodes):
            obs, _ = env.reset(options={"episode_index": index})
            o = {k: torch.as_tensor(v)[None] for k, v in obs.items()}
            policy.act(o, StepContext.empty(1, torch.device("cpu")), torch.tensor([True]))
            goal = json.dumps(env.unwrapped.episode.goal)
            found = re.search(r"\(X, ([^)]*)\)", goal)  # on_top(X, R) / inside(X, R)
            labels.append(found.group(1) if found else "?")
    hook.remove()
    names = sorted(set(labels))
    y = torch.tensor([names.index(label) for label in labels])
    n_train = 2 * args.episodes // 3
    majority = max(labels[n_train:].count(n) for n in names) / (args.episodes - n_train)
    print(f"{args.episodes} episodes, {len(names)} goal receptacles, majority class {majority:.2f} of the test part")
    for name, x in (("LLM state at the frame position", torch.cat(states)), ("action-head trunk output", torch.cat(trunk))):
        print(f"{name}: probe accuracy {probe_accuracy(x, y, n_train, len(names)):.2f}")


if __name__ == "__main__":
    main()
