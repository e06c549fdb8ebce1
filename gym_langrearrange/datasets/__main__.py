"""Dataset tools.

    python -m gym_langrearrange.datasets build [--splits train ...] [--workers N]
    python -m gym_langrearrange.datasets export --split rephrasing --out rephrasing.json [--count 100]
    python -m gym_langrearrange.datasets show --split context --count 5
"""
from __future__ import annotations

import argparse
import sys
import time

from gym_langrearrange.datasets.cache import build_index
from gym_langrearrange.datasets.episode import save_episodes
from gym_langrearrange.datasets.generator import DATASET_SIZES, DATASETS, SPLITS, check_dataset, generate_episode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gym_langrearrange.datasets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="solve every episode once and cache the plans (makes reset fast)")
    b.add_argument("--splits", nargs="+", default=list(DATASETS), choices=SPLITS)
    b.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    e = sub.add_parser("export", help="write episodes to a JSON file (spec §9)")
    e.add_argument("--split", required=True, choices=SPLITS)
    e.add_argument("--out", required=True)
    e.add_argument("--start", type=int, default=0)
    e.add_argument("--count", type=int, default=None, help="default: the whole split (100 for eval splits)")
    s = sub.add_parser("show", help="print a few episodes: instruction, goal, subgoals, optimal plan")
    s.add_argument("--split", required=True, choices=SPLITS)
    s.add_argument("--start", type=int, default=0)
    s.add_argument("--count", type=int, default=5)
    args = parser.parse_args(argv)

    if args.command == "build":
        for split in args.splits:
            t0 = time.perf_counter()
            path = build_index(split, workers=args.workers)
            print(f"{split}: {DATASET_SIZES[split]} episodes solved in {time.perf_counter() - t0:.1f} s -> {path}")
        return 0
    split = check_dataset(args.split)
    size = DATASET_SIZES[split]
    count = args.count if args.count is not None else size
    if not 0 <= args.start < size or count < 1 or args.start + count > size:
        parser.error(f"--start/--count must select episodes within 0..{size - 1} of {split}")
    episodes = [generate_episode(split, i) for i in range(args.start, args.start + count)]
    if args.command == "export":
        save_episodes([spec for spec, _ in episodes], args.out)
        print(f"wrote {count} {split} episodes to {args.out}")
        return 0
    from gym_langrearrange.skills import SKILL_CATALOG

    for spec, plan in episodes:
        print(f"[{spec.episode_id}] scene {spec.scene} template {spec.template}\n  {spec.instruction}")
        print(f"  goal: {spec.goal_expr}\n  subgoals: {list(spec.subgoals)}")
        print(f"  optimal plan ({len(plan)}): {', '.join(SKILL_CATALOG.text(a) for a in plan)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
