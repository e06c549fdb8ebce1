"""Expert demonstrations of Language Rearrangement: written once, replayed into observations while training.

    python -m agents.imitation.demos --split train --episodes 150000 --out ~/demos/train
    python -m agents.imitation.demos --split train --episodes 150000 --out ~/demos/train   # again: resumes

The environment is deterministic and renders far faster than a policy trains, so a demonstration is
stored as the episode it was played in and the expert's skills, not as frames: re-running the skills
in the same episode reproduces every observation exactly, at whatever image size and with whatever
tokenizer the learner uses. The format (``FORMAT``):

    OUT/manifest.json      {"format", "split", "hard", "max_steps", "expert", "search", "shard_size", "episodes",
                            "shards": [{"file", "first", "episodes"}], "code_version"}
    OUT/shard-00000.jsonl  one line per episode: {"index", "episode_id", "actions": [skill ids],
                            "success", "steps"}, episodes first .. first + shard_size - 1

A folder of *relabelled* episodes (DAgger, ``python -m agents.imitation.dagger``) has the same layout:
``actions`` are the skills a learner played, each line adds ``"labels"``, the expert's skill in every
state the learner reached, and the manifest names the ``"learner"``. Behaviour cloning re-plays ``actions``
and learns ``labels`` (:attr:`Demo.targets`). ``"search"`` is the expert's order of exploration
(:data:`agents.expert.SEARCH_ORDERS`; a manifest without it was written by the ``"nearest"`` one).

Shards are written atomically, one after the other; a killed run resumes at the first missing shard.
About 130 KB per 1,000 episodes (20 MB for the 150,000 of `train`). :func:`load_demos` checks the manifest and every shard it reads, and
:func:`replay` checks that the episode it re-plays is the one that was demonstrated.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
from tqdm import tqdm

import gym_langrearrange  # noqa: F401  (registers the ids)
from agents.cli import positive_int, run_main
from agents.core.agent import Agent
from agents.expert import SEARCH_ORDERS, ExploringExpert, check_search
from agents.run_folder import code_version
from gym_langrearrange.files import CorruptFileError, atomic_write_json, atomic_write_text, read_json

FORMAT = "gym-langrearrange-demos/1"
PROG = "python -m agents.imitation.demos"


@dataclass(frozen=True)
class Demo:
    """One demonstrated episode: which one, the skills played in it and, when a learner played them, the
    expert's skill in each state it reached."""

    index: int
    episode_id: str
    actions: tuple[int, ...]
    success: bool
    labels: tuple[int, ...] | None = None

    @property
    def targets(self) -> tuple[int, ...]:
        """What behaviour cloning learns at each step: the expert's skills."""
        return self.actions if self.labels is None else self.labels

    def row(self) -> dict[str, Any]:
        row = {"index": self.index, "episode_id": self.episode_id, "actions": list(self.actions),
               "success": self.success, "steps": len(self.actions)}
        if self.labels is not None:
            row["labels"] = list(self.labels)
        return row


def make_env(split: str, hard: bool = False, **kwargs: Any) -> gym.Env:
    return gym.make("LangRearrangeHard-v0" if hard else "LangRearrange-v0", split=split, **kwargs).unwrapped


def demonstrate(env: gym.Env, index: int, learner: Agent | None = None, search: str = "nearest") -> Demo:
    """The exploring expert's episode ``index`` of ``env``'s dataset; with a ``learner``, the learner's episode,
    every state it reaches labelled with the skill of an expert that watched it (DAgger)."""
    obs, info = env.reset(seed=0, options={"episode_index": index})
    world = env.unwrapped
    if learner is not None:
        learner.reset(obs, info)
    expert, actions, labels = ExploringExpert.for_episode(world.episode, world.hard, search), [], []
    while True:
        expert.observe(world.state)
        labels.append(expert.action(world.state))
        actions.append(labels[-1] if learner is None else int(learner.act(obs, info)))
        obs, _, terminated, truncated, info = env.step(actions[-1])
        if terminated or truncated:
            return Demo(index, world.episode.episode_id, tuple(actions), bool(info["success"]),
                        None if learner is None else tuple(labels))


def write_demos(out: Path, split: str, episodes: int, shard_size: int = 10_000, hard: bool = False,
                progress: bool = True, search: str = "nearest") -> dict[str, Any]:
    """Demonstrate episodes 0..episodes-1 of ``split`` into ``out`` (resuming at the first missing shard)."""
    env = make_env(split, hard, render=False)
    if episodes > len(env.source):
        raise ValueError(f"--episodes {episodes}: split {split!r} has {len(env.source)} episodes")
    manifest = {"format": FORMAT, "split": split, "hard": hard, "max_steps": env.max_steps, "expert": "exploring",
                "search": check_search(search), "shard_size": shard_size, "episodes": episodes, "shards": [],
                "code_version": code_version()}
    return write_shards(out, manifest, range(episodes), lambda i: demonstrate(env, i, search=search),
                        "demonstrations", progress)


#: what a folder is written for: resuming into it with any other value is refused
DEFINING_KEYS = ("format", "split", "hard", "max_steps", "search", "shard_size", "first", "learner")


def read_manifest(path: Path) -> dict[str, Any]:
    """A folder's manifest; one written before ``"search"`` existed is the nearest-first expert's."""
    manifest = read_json(path, "demonstration manifest")
    if isinstance(manifest, dict):
        manifest.setdefault("search", "nearest")
    return manifest


def write_shards(out: Path, manifest: dict[str, Any], indices: range, episode: Callable[[int], Demo], what: str,
                 progress: bool = True) -> dict[str, Any]:
    """``episode(i)`` (a :class:`Demo`) for every dataset index ``i`` of ``indices`` into ``out``, one shard of
    ``manifest["shard_size"]`` at a time, each written atomically; a killed run resumes at the first missing one."""
    out.mkdir(parents=True, exist_ok=True)
    manifest_path, shard_size = out / "manifest.json", manifest["shard_size"]
    if manifest_path.exists():
        old = read_manifest(manifest_path)
        for key in DEFINING_KEYS:
            if old.get(key) != manifest.get(key):
                raise ValueError(f"{manifest_path}: {key} is {old.get(key)!r}, this run asks for "
                                 f"{manifest.get(key)!r}; use another --out")
        manifest["shards"] = [s for s in old["shards"] if (out / s["file"]).exists()]
    done = {s["first"] for s in manifest["shards"]}
    bar = tqdm(total=len(indices), desc=what, unit="ep", disable=not progress,
               initial=sum(s["episodes"] for s in manifest["shards"] if s["first"] < indices.stop))
    for number, first in enumerate(range(indices.start, indices.stop, shard_size)):
        if first in done:
            continue
        demos = []
        for i in range(first, min(first + shard_size, indices.stop)):
            demos.append(episode(i))
            bar.update(1)
        name = f"shard-{number:05d}.jsonl"
        atomic_write_text(out / name, "".join(json.dumps(d.row()) + "\n" for d in demos))
        manifest["shards"] = sorted([*manifest["shards"], {"file": name, "first": first, "episodes": len(demos)}],
                                    key=lambda s: s["first"])
        atomic_write_json(manifest_path, manifest)
    bar.close()
    return manifest


def load_demos(folder: str | Path, split: str | None = None, hard: bool | None = None) -> tuple[dict, Iterator[Demo]]:
    """(manifest, an iterator over its demonstrations, shard by shard): errors name the file and the mismatch."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"no demonstrations in {folder}: {manifest_path} does not exist "
                                f"(write them with {PROG} --out {folder})")
    manifest = read_manifest(manifest_path)
    if manifest.get("format") != FORMAT:
        raise CorruptFileError(f"{manifest_path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    for key, wanted in (("split", split), ("hard", hard)):
        if wanted is not None and manifest.get(key) != wanted:
            raise ValueError(f"{manifest_path}: demonstrations of {key} {manifest.get(key)!r}, not {wanted!r}")

    def episodes() -> Iterator[Demo]:
        for shard in manifest["shards"]:
            path = folder / shard["file"]
            if not path.exists():
                raise FileNotFoundError(f"{path}: a shard the manifest lists is missing")
            lines = path.read_text().splitlines()
            if len(lines) != shard["episodes"]:
                raise CorruptFileError(f"{path}: {len(lines)} episodes, the manifest says {shard['episodes']} "
                                       f"(truncated?)")
            for number, line in enumerate(lines, 1):
                try:
                    row = json.loads(line)
                    demo = Demo(int(row["index"]), str(row["episode_id"]), tuple(int(a) for a in row["actions"]),
                                bool(row["success"]),
                                tuple(int(a) for a in row["labels"]) if "labels" in row else None)
                    if demo.labels is not None and len(demo.labels) != len(demo.actions):
                        raise ValueError(f"{len(demo.labels)} labels for {len(demo.actions)} actions")
                    yield demo
                except (ValueError, KeyError, TypeError) as e:
                    raise CorruptFileError(f"{path}, line {number}: not a demonstration ({type(e).__name__}: {e})") from None

    return manifest, episodes()


def add_search_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--search", default="nearest", choices=SEARCH_ORDERS,
                   help="the expert's order of exploring unseen receptacles (agents.expert)")


def replay(env: gym.Env, demo: Demo) -> Iterator[tuple[Any, dict, int]]:
    """(observation, info, expert action) at every step of ``demo``, re-played in ``env`` (its dataset's split)."""
    obs, info = env.reset(seed=0, options={"episode_index": demo.index})
    if env.unwrapped.episode.episode_id != demo.episode_id:
        raise ValueError(f"demonstration of episode {demo.episode_id!r} (index {demo.index}), but the dataset has "
                         f"{env.unwrapped.episode.episode_id!r} there: the demonstrations are of other episodes")
    for action in demo.actions:
        yield obs, info, action
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", default="train")
    p.add_argument("--episodes", type=positive_int, required=True, help="episodes 0..N-1 of the split")
    p.add_argument("--out", required=True)
    p.add_argument("--shard-size", type=positive_int, default=10_000)
    p.add_argument("--hard", action="store_true", help="the Hard variant (the expert ends with stop)")
    add_search_argument(p)
    args = p.parse_args(argv)
    manifest = write_demos(Path(args.out), args.split, args.episodes, args.shard_size, args.hard, search=args.search)
    ok = sum(s["episodes"] for s in manifest["shards"])
    print(f"{ok} demonstrations of {args.split} in {args.out}")


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
