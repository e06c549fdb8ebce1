"""One table (and chart) for several evaluation runs.

    python -m agents.compare results/oracle results/zs-llama results/random [--out docs/results/]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.results import bar_chart, load_run, markdown_table


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
        out.mkdir(parents=True, exist_ok=True)
        (out / "table.md").write_text(table)
        bar_chart(runs, out / "success.png")
        print(f"wrote {out / 'table.md'} and {out / 'success.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
