"""DAgger relabelling: a learner plays episodes, the exploring expert names the right skill in every state it reaches.

    python -m agents.imitation.dagger --agent runs/llarp-il/checkpoint --split train --first 50000 \
        --episodes 2000 --out ~/demos/dagger-1
    python -m agents.imitation.train --continue-from runs/llarp-il/checkpoint \
        --demos ~/demos/train,~/demos/dagger-1 --demo-count 2000 ... --out runs/llarp-il-dagger-1

Behaviour cloning only ever sees the states the expert visits; a cloned policy that strays from them has
never been told what to do there, and its errors compound (Ross et al., 2011). DAgger closes the gap: the
learner acts (greedily, as it is evaluated), and each state it reaches is labelled with the expert's skill,
the expert having observed the whole of that episode's history (:class:`agents.expert.ExploringExpert`
is defined for any state any policy reaches). The result is a demonstration folder in the format of
:mod:`agents.imitation.demos` (``actions`` the learner's, ``labels`` the expert's), which
``agents.imitation.train --demos`` takes beside the expert's own demonstrations.

Use episodes the cloned policy has not trained on (``--first`` past its ``--demo-count``). Shards are
written atomically; a killed run resumes at the first missing shard; a folder holds one learner's episodes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import gym_langrearrange  # noqa: F401  (registers the ids)
from agents.cli import nonnegative_int, positive_int, run_main
from agents.core.registry import check_agent_spec, load_agent
from agents.evaluate import agent_env
from agents.expert import check_search
from agents.imitation.demos import FORMAT, add_search_argument, demonstrate, write_shards
from agents.run_folder import code_version
from agents.training import pick_threads

PROG = "python -m agents.imitation.dagger"


def write_relabelled(out: Path, agent_spec: str, split: str, first: int, episodes: int, shard_size: int = 500,
                     hard: bool = False, progress: bool = True, search: str = "nearest") -> dict[str, Any]:
    """Relabel episodes ``first .. first + episodes - 1`` of ``split`` played by the agent ``agent_spec``."""
    path, _, meta = check_agent_spec(agent_spec)  # a bad path fails here, before anything is loaded or written
    learner = str(path.resolve()) if meta is not None else agent_spec  # a checkpoint, or a registered agent's name
    agent = load_agent(agent_spec)  # a checkpoint acts greedily
    env = agent_env(agent, hard=hard, split=split)  # as agents.evaluate plays it
    size = len(env.unwrapped.source)
    if first + episodes > size:
        raise ValueError(f"--first {first} --episodes {episodes}: split {split!r} has {size} episodes")
    manifest = {"format": FORMAT, "split": split, "hard": hard, "max_steps": env.unwrapped.max_steps,
                "expert": "exploring (relabelling)", "search": check_search(search), "learner": learner,
                "shard_size": shard_size, "first": first, "episodes": episodes, "shards": [],
                "code_version": code_version()}
    return write_shards(out, manifest, range(first, first + episodes), lambda i: demonstrate(env, i, agent, search),
                        "relabelling", progress)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agent", required=True, help="the learner: a checkpoint folder (or a registered agent name)")
    p.add_argument("--split", default="train")
    p.add_argument("--first", type=nonnegative_int, default=0, help="the first episode index of the split to play")
    p.add_argument("--episodes", type=positive_int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--shard-size", type=positive_int, default=500)
    p.add_argument("--hard", action="store_true", help="the Hard variant (the expert ends with stop)")
    add_search_argument(p)
    p.add_argument("--threads", default="auto")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(pick_threads(args.threads))
    manifest = write_relabelled(Path(args.out), args.agent, args.split, args.first, args.episodes, args.shard_size,
                                args.hard, args.progress, args.search)
    demos = sum(s["episodes"] for s in manifest["shards"])
    print(f"{demos} relabelled episodes of {args.split} in {args.out}")


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
