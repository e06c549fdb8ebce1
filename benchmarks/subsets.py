"""Small, documented training subsets for learning benchmarks on a CPU.

    python benchmarks/subsets.py --name single-move --out runs/subsets

``single-move``: training episodes of the template "move an object from a named source
receptacle to a target" (``move_from_to``) in the first 6 training scenes (0-5). The
first 1,000 such episodes of ``train`` are the training set; the next 100 (disjoint
indices, new object placements) are the held-out evaluation set.

``single-move-easy``: the same template and scenes, restricted to episodes that need no
opening (no drawer or fridge on the way: the plan is navigate, pick, navigate, place) and
whose object is one of six categories (the six most frequent such moves in ``train``).
300 training episodes, 100 held-out ones: all such episodes of the 150,000. It keeps what
makes the task a language task (which receptacle to go to, which object to pick, where to
take it, all named only in the instruction) and shrinks what RL must explore on a CPU
budget: one of 6 pick skills instead of 33, and no `open` first.

Both are written as episode JSON files, so ``python -m agents.llarp.train --episodes`` and
``agents.evaluate --episodes-file`` use them directly.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from gym_langrearrange.datasets import generate_episode, save_episodes
from gym_langrearrange.datasets.generator import DATASET_SIZES

SUBSETS = {
    "single-move": {"templates": {"move_from_to"}, "scenes": {0, 1, 2, 3, 4, 5}, "train": 1000, "heldout": 100},
    "single-move-easy": {"templates": {"move_from_to"}, "scenes": {0, 1, 2, 3, 4, 5}, "train": 300, "heldout": 100,
                         "no_opening": True,
                         "objects": {"spatula", "drill", "knife", "cleanser", "strawberry", "lego"}},
}


def _wanted(episode, spec: dict) -> bool:
    if episode.template not in spec["templates"] or episode.scene not in spec["scenes"]:
        return False
    if spec.get("no_opening") and any(s.startswith("opened(") for s in episode.subgoals):
        return False
    held = [s[len("holding("):-1] for s in episode.subgoals if s.startswith("holding(")]
    return "objects" not in spec or (len(held) == 1 and held[0] in spec["objects"])


def build(name: str, out: Path) -> tuple[Path, Path]:
    spec = SUBSETS[name]
    picked = []
    for i in range(DATASET_SIZES["train"]):
        episode, _ = generate_episode("train", i)
        if _wanted(episode, spec):
            picked.append(episode)
            if len(picked) == spec["train"] + spec["heldout"]:
                break
    if len(picked) < spec["train"] + spec["heldout"]:
        raise RuntimeError(f"subset {name!r}: only {len(picked)} episodes of 'train' match, "
                           f"{spec['train'] + spec['heldout']} needed")
    out.mkdir(parents=True, exist_ok=True)
    train, heldout = out / f"{name}-train.json", out / f"{name}-heldout.json"
    save_episodes(picked[: spec["train"]], train)
    save_episodes(picked[spec["train"]:], heldout)
    return train, heldout


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="single-move", choices=sorted(SUBSETS))
    p.add_argument("--out", default="runs/subsets")
    args = p.parse_args()
    for path in build(args.name, Path(args.out)):
        print(path)


if __name__ == "__main__":
    main()
