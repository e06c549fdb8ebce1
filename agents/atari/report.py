"""Final Atari scores of two methods -> ``table.md`` and the figures of the paper's Figure 7.

    python -m agents.atari.report scores.csv --methods llarp,llarp-scratch --out docs/results/atari/

``scores.csv`` has one row per evaluated run: ``method,game,seed,score``, the score being the
raw game score (mean over the run's evaluation episodes). Writes ``table.md`` (per game: raw
and human-normalised score of both methods, then the aggregates with 95% intervals),
``per_game.png`` (per game, the normalised score of ``a`` minus ``b``, like Figure 7) and
``aggregates.png`` (the four aggregates with their intervals).
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from agents.atari.aggregates import METRICS, Comparison, compare
from agents.atari.scores import check_game, human_normalised
from agents.cli import positive_int, run_main
from gym_langrearrange.files import atomic_write, atomic_write_text

#: raw scores: method -> game -> seed -> score
RawScores = dict[str, dict[str, dict[int, float]]]


def read_scores(path: str | Path) -> RawScores:
    """The rows of a scores CSV; a bad row is named with its line number."""
    raw: RawScores = defaultdict(lambda: defaultdict(dict))
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"method", "game", "seed", "score"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                             f"expected the header method,game,seed,score")
        for line, row in enumerate(reader, start=2):
            try:
                game, seed, score = check_game(row["game"]), int(row["seed"]), float(row["score"])
            except ValueError as e:
                raise ValueError(f"{path}, line {line}: {e}") from None
            if seed in raw[row["method"]][game]:
                raise ValueError(f"{path}, line {line}: a second score for {row['method']}, {game}, seed {seed}")
            raw[row["method"]][game][seed] = score
    return raw


def score_matrices(raw: RawScores, a: str, b: str) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """(games both methods have on every seed, {method: normalised (seeds x games) matrix})."""
    for method in (a, b):
        if method not in raw:
            raise ValueError(f"no scores for method {method!r}; the file has {', '.join(sorted(raw))}")
    games = tuple(sorted(set(raw[a]) & set(raw[b])))
    if not games:
        raise ValueError(f"{a} and {b} have no game in common")
    matrices = {}
    for method in (a, b):
        seeds = sorted(set.intersection(*(set(raw[method][g]) for g in games)))
        if not seeds:
            raise ValueError(f"{method} has no seed evaluated on every common game")
        matrices[method] = np.array([[human_normalised(g, raw[method][g][s]) for g in games] for s in seeds])
    return games, matrices


def markdown(raw: RawScores, result: Comparison) -> str:
    a, b = result.a, result.b
    lines = ["**Per game** (mean over seeds; normalised = (score - random) / (human - random))", "",
             f"| game | {a} | {b} | {a} normalised | {b} normalised |", "|---|---:|---:|---:|---:|"]
    for game in result.games:
        means = [float(np.mean(list(raw[m][game].values()))) for m in (a, b)]
        lines.append(f"| {game} | {means[0]:.1f} | {means[1]:.1f} | {human_normalised(game, means[0]):.3f} | "
                     f"{human_normalised(game, means[1]):.3f} |")
    lines += ["", f"**Aggregates over {len(result.games)} games** (human-normalised; 95% stratified bootstrap "
                  f"intervals)", "", "| method | " + " | ".join(METRICS) + " |", "|---|" + "---:|" * len(METRICS)]
    for method, agg in result.aggregates.items():
        cells = [getattr(agg, m) for m in METRICS]
        lines.append(f"| {method} | " + " | ".join(f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}]" for e in cells) + " |")
    p = result.probability_of_improvement
    lines += ["", f"P({a} > {b}) = {p.value:.3f} [{p.low:.3f}, {p.high:.3f}]; {a}'s mean is higher on "
                  f"{result.games_a_higher} of {len(result.games)} games.", ""]
    return "\n".join(lines)


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    atomic_write(path, lambda f: fig.savefig(f, dpi=120, format="png"))
    plt.close(fig)


def per_game_figure(matrices: dict[str, np.ndarray], result: Comparison, path: Path) -> Path:
    """Per game, the normalised score of a minus b (mean over seeds), sorted: Figure 7's left panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    diff = matrices[result.a].mean(axis=0) - matrices[result.b].mean(axis=0)
    order = np.argsort(diff)
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(diff) + 2), 4))
    ax.bar(range(len(diff)), diff[order], color=["tab:blue" if d > 0 else "tab:gray" for d in diff[order]])
    ax.set_xticks(range(len(diff)), [result.games[i] for i in order], rotation=90, fontsize=7)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(f"normalised score: {result.a} - {result.b}")
    ax.set_title(f"{result.a} above {result.b} on {result.games_a_higher} of {len(diff)} games")
    fig.tight_layout()
    _save(fig, path)
    return path


def aggregates_figure(result: Comparison, path: Path) -> Path:
    """The four aggregates of both methods with their 95% intervals: Figure 7's right panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(3 * len(METRICS), 2.2))
    for ax, metric in zip(axes, METRICS):
        for row, (method, agg) in enumerate(result.aggregates.items()):
            e = getattr(agg, metric)
            ax.barh(row, e.high - e.low, left=e.low, height=0.6, alpha=0.7)
            ax.plot([e.value, e.value], [row - 0.3, row + 0.3], color="black")
        ax.set_yticks(range(len(result.aggregates)), list(result.aggregates) if ax is axes[0] else [])
        ax.set_title(metric.replace("_", " "))
    fig.tight_layout()
    _save(fig, path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agents.atari.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scores", help="CSV with method,game,seed,score rows")
    p.add_argument("--methods", default="llarp,llarp-scratch", help="a,b: compare a against b")
    p.add_argument("--reps", type=positive_int, default=50_000, help="bootstrap resamples (default 50,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder for table.md, per_game.png, aggregates.png")
    args = p.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",")]
    if len(methods) != 2 or not all(methods):
        p.error(f"--methods must name two methods as a,b, got {args.methods!r}")
    raw = read_scores(args.scores)
    games, matrices = score_matrices(raw, *methods)
    result = compare(matrices, games, reps=args.reps, seed=args.seed)
    out = Path(args.out)
    table = markdown(raw, result)
    atomic_write_text(out / "table.md", table)
    per_game_figure(matrices, result, out / "per_game.png")
    aggregates_figure(result, out / "aggregates.png")
    print(table)
    print(f"wrote {out}/table.md, per_game.png, aggregates.png")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog="python -m agents.atari.report"))
