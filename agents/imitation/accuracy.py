"""How often a cloned policy (LLaRP, or an LSTM baseline) names the expert's skill, by kind of skill, on demonstrations it did not train on.

    python -m agents.imitation.accuracy --agent RUN/checkpoint --demos ~/demos/train --first 140000 --episodes 400

Behaviour cloning draws from the first ``--demo-count`` demonstrations of a folder, so episodes past that are
unseen. For each kind of the expert's skill (navigate, pick, place, open, close, stop) it prints how many
steps there are, how often the policy's argmax is the expert's skill, how often it is a skill of the same
kind, and how often the expert's skill is the argmax among the skills of that kind: the *when* and the
*what* of a step apart (a clone that picks at the right time but the wrong object scores high on the first
and low on the second). Through the same episode pass as training and the PPO update (LLaRP's masked pass,
RecurrentPPO's sequence pass).
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from itertools import islice
from typing import Any

import numpy as np
import torch

from agents.cli import nonnegative_int, positive_int, run_main
from agents.core.registry import check_agent_spec, load_agent
from agents.imitation.bc import episode_batch, recurrent_logits
from agents.imitation.demos import load_demos
from agents.nn.llm import load_tokenizer
from agents.rearrange import env_factory
from gym_langrearrange.skills import SKILL_CATALOG, SkillKind

PROG = "python -m agents.imitation.accuracy"
CLONED_ALGORITHMS = ("agents.llarp:LLaRP", "sb3_contrib:RecurrentPPO")
KIND = np.array([int(SKILL_CATALOG[i].kind) for i in range(len(SKILL_CATALOG))])  # skill id -> SkillKind


def accuracy_by_kind(model: Any, env: Any, demos: list, batch_episodes: int = 8) -> dict[str, dict[str, float]]:
    """{kind: {"steps", "skill", "kind", "within_kind"}} over every step of ``demos`` (see the module's doc)."""
    policy, kind = model.policy, torch.as_tensor(KIND)
    counts: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(4))
    policy.set_training_mode(False)
    for start in range(0, len(demos), batch_episodes):
        batch = episode_batch(env, demos[start:start + batch_episodes], model.device, model.observation_space)
        with torch.no_grad():
            if hasattr(policy, "evaluate_sequences"):  # LLaRP
                logits, _ = policy.evaluate_sequences(batch.instruction, batch.instruction_mask, batch.steps,
                                                      batch.step_mask)
            else:  # an sb3-contrib recurrent policy
                logits = recurrent_logits(policy, batch)
        logits, target = logits[batch.step_mask].float().cpu(), batch.actions[batch.step_mask].cpu()  # (n, A), (n,)
        same_kind = kind[None, :] == kind[target][:, None]  # (n, A): the skills of the target's kind
        within = logits.masked_fill(~same_kind, float("-inf")).argmax(-1)
        argmax = logits.argmax(-1)
        for k in SkillKind:
            rows = kind[target] == int(k)
            right, same_kind_argmax = argmax[rows] == target[rows], kind[argmax[rows]] == int(k)
            counts[k.name.lower()] += [int(rows.sum()), int(right.sum()), int(same_kind_argmax.sum()),
                                       int((within[rows] == target[rows]).sum())]
    return {k: {"steps": int(c[0]), "skill": c[1] / c[0], "kind": c[2] / c[0], "within_kind": c[3] / c[0]}
            for k, c in counts.items() if c[0]}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agent", required=True, help="a LLaRP or LSTM-baseline checkpoint folder (a behaviour-cloning run's, a zoo export)")
    p.add_argument("--demos", required=True, help="a demonstration folder (agents.imitation.demos)")
    p.add_argument("--first", type=nonnegative_int, default=0, help="skip the folder's first N demonstrations")
    p.add_argument("--episodes", type=positive_int, default=400)
    p.add_argument("--threads", type=positive_int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    _, _, meta = check_agent_spec(args.agent)
    if meta is None or meta.get("algorithm") not in CLONED_ALGORITHMS:
        raise ValueError(f"--agent {args.agent}: a LLaRP or LSTM-baseline checkpoint is needed (its agent.json's "
                         f"algorithm is one of {', '.join(CLONED_ALGORITHMS)})")
    manifest, demos = load_demos(args.demos, split=meta.get("split"))
    demos = list(islice(demos, args.first, args.first + args.episodes))
    if not demos:
        raise ValueError(f"--first {args.first}: {args.demos} has no demonstrations past it")
    agent = load_agent(args.agent)
    env = env_factory(load_tokenizer(meta["tokenizer"]), int(meta["max_tokens"]), split=manifest["split"],
                      image_size=int(meta.get("options", {}).get("image_size", 64)), hard=manifest["hard"])()
    table = accuracy_by_kind(agent.model, env, demos)
    print(f"{args.agent} on {len(demos)} demonstrations of {args.demos} from {args.first}:")
    print("| expert's skill | steps | argmax = expert | argmax of the same kind | expert = argmax within its kind |")
    print("|---|---:|---:|---:|---:|")
    for k, row in table.items():
        print(f"| {k} | {row['steps']} | {row['skill']:.2f} | {row['kind']:.2f} | {row['within_kind']:.2f} |")


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
