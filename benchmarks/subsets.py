"""Small, documented training subsets for learning benchmarks on a CPU.

    python benchmarks/subsets.py --name single-move --out runs/subsets

``single-move``: training episodes of the template "move an object from a named source
receptacle to a target" (``move_from_to``) in the first 6 training scenes (0-5). The
first 1,000 such episodes of ``train`` are the training set; the next 100 (disjoint
indices, new object placements) are the held-out evaluation set. Both are written as
episode JSON files, so ``examples/train_llarp.py --episodes`` and
``agents.evaluate --episodes-file`` use them directly.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from gym_langrearrange.datasets import generate_episode, save_episodes
from gym_langrearrange.datasets.generator import DATASET_SIZES

SUBSETS = {
    "single-move": {"templates": {"move_from_to"}, "scenes": {0, 1, 2, 3, 4, 5}, "train": 1000, "heldout": 100},
}


def build(name: str, out: Path) -> tuple[Path, Path]:
    spec = SUBSETS[name]
    picked = []
    for i in range(DATASET_SIZES["train"]):
        episode, _ = generate_episode("train", i)
        if episode.template in spec["templates"] and episode.scene in spec["scenes"]:
            picked.append(episode)
            if len(picked) == spec["train"] + spec["heldout"]:
                break
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
