"""The package's command line: datasets, speed, and playing an episode by hand.

    python -m gym_langrearrange show --split context --count 5      # episodes: instruction, goal, plan
    python -m gym_langrearrange export --split rephrasing --out rephrasing.json
    python -m gym_langrearrange build [--splits train ...]          # solve and cache every episode
    python -m gym_langrearrange benchmark [--steps 20000]           # steps per second
    python -m gym_langrearrange play [--split S] [--episode I]      # type skills, watch the robot

(``gym-langrearrange`` is the same command once the package is installed.)
"""
from __future__ import annotations

import argparse
import sys

from gym_langrearrange.datasets.generator import SPLITS


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ("show", "export", "build", "benchmark", "play")
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__.strip())
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nerror: unknown command {argv[0]!r}; allowed: {', '.join(commands)}", file=sys.stderr)
            return 2
        return 0
    command, rest = argv[0], argv[1:]
    if command in ("show", "export", "build"):
        from gym_langrearrange.datasets.__main__ import main as datasets_main

        return datasets_main([command, *rest])
    if command == "benchmark":
        from gym_langrearrange.benchmark import main as benchmark_main

        benchmark_main(rest)
        return 0
    p = argparse.ArgumentParser(prog="python -m gym_langrearrange play",
                                description="Play an episode by hand (see gym_langrearrange.play).")
    p.add_argument("--split", default="train", choices=SPLITS)
    p.add_argument("--episode", type=int, default=0, help="episode index in the split")
    p.add_argument("--png", default=None, help="write the view to this PNG instead of a window")
    args = p.parse_args(rest)
    from gym_langrearrange.play import play

    play(args.split, args.episode, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
