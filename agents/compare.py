"""One table (and chart) for several evaluation runs.

    python -m agents.compare results/oracle results/zs-llama results/random [--out docs/results/]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.cli import run_main
from agents.results import bar_chart, load_run, markdown_table
from gym_langrearrange.files import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="folders written by agents.evaluate")
    parser.add_argument("--out", default=None, help="also write table.md and success.png into this folder")
    args = parser.parse_args(argv)
    runs = {}
    for folder in args.runs:
        try:
            name, summary = load_run(Path(folder))
        except FileNotFoundError as e:
            parser.error(str(e))
        while name in runs:
            name += "'"
        runs[name] = summary
    table = markdown_table(runs)
    print(table)
    if args.out:
        out = Path(args.out)
        atomic_write_text(out / "table.md", table)
        bar_chart(runs, out / "success.png")
        print(f"wrote {out / 'table.md'} and {out / 'success.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog="python -m agents.compare"))
