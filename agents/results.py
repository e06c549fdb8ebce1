"""Metrics of spec §10 and the ways results are shown: summaries, Table-5-style tables, bar charts.

Shared by ``agents.evaluate`` (one run) and ``agents.compare`` (several runs).
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Iterable

from gym_langrearrange.datasets.generator import DATASETS, GROUPS
from gym_langrearrange.files import atomic_write, atomic_write_text, read_json

#: column order of the paper's Table 5 (aggregates first), with short headers
TABLE_COLUMNS: list[tuple[str, str]] = [
    ("Total", "Total"), ("BG", "BG"), ("PR", "PR"), ("train", "Train"), ("new_scenes", "New Scenes"),
    ("rephrasing", "Rephrasing"), ("referring_expressions", "Referring Expr."),
    ("spatial_relationships", "Spatial"), ("context", "Context"), ("irrelevant_text", "Irrelevant Text"),
    ("multiple_rearrangements", "Multiple Rearr."), ("novel_objects", "Novel Objects"),
    ("multiple_objects", "Multiple Objects"), ("conditional_instructions", "Conditional"),
]
METRICS = ("success", "efficiency", "invalid_rate")


def episode_metrics(success: bool, steps: int, invalid: int, max_steps: int = 32) -> dict[str, float]:
    """Efficiency is 1 - n/32 with n = steps used, 32 for a failure (paper, appendix D)."""
    return {"success": float(success), "efficiency": 1.0 - (steps if success else max_steps) / max_steps,
            "invalid_rate": invalid / max(steps, 1)}


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per-dataset means, plus PR, BG and Total (mean of the 9 PR+BG datasets) when all are present."""
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_dataset.setdefault(r["dataset"], []).append(r)
    out: dict[str, dict[str, float]] = {}
    for name, rows in by_dataset.items():
        out[name] = {m: sum(r[m] for r in rows) / len(rows) for m in METRICS}
        out[name]["episodes"] = len(rows)
    for group, members in GROUPS.items():
        if all(m in out for m in members):
            out[group] = {m: sum(out[d][m] for d in members) / len(members) for m in METRICS}
    members = GROUPS["PR"] + GROUPS["BG"]
    if all(m in out for m in members):
        out["Total"] = {m: sum(out[d][m] for d in members) / len(members) for m in METRICS}
    return out


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a success rate: honest at 0-10% successes in 100 episodes, where the
    normal approximation would reach below 0."""
    p = successes / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # clamped: at 0 (or n) successes rounding can put a bound a hair outside [0, 1], which prints as "-0.0"
    return max(0.0, (centre - half) / (1 + z * z / n)), min(1.0, (centre + half) / (1 + z * z / n))


def pooled_success(summary: dict[str, dict[str, float]], key: str) -> tuple[float, int] | None:
    """(successes, episodes) behind a column: a dataset's own, or a group's datasets pooled (PR, BG, Total:
    with equal episodes per dataset the pooled rate is the column's mean of rates)."""
    members = GROUPS["PR"] + GROUPS["BG"] if key == "Total" else GROUPS.get(key, [key])
    if not all(m in summary and "episodes" in summary[m] for m in members):
        return None
    return (sum(summary[m]["success"] * summary[m]["episodes"] for m in members),
            int(sum(summary[m]["episodes"] for m in members)))


INTERVAL_COLUMNS = ("Total", "PR", "BG", "train", "new_scenes")


def interval_table(runs: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """Success (%) with 95% Wilson intervals over the episodes, for the aggregates and the training scenes."""
    short = dict(TABLE_COLUMNS)
    lines = ["**Success rate (%) with 95% intervals** (Wilson, over the episodes; groups pooled)", "",
             "| Method | " + " | ".join(short[k] for k in INTERVAL_COLUMNS) + " |", "|---|" + "---:|" * len(INTERVAL_COLUMNS)]
    for name, summary in runs.items():
        cells = []
        for key in INTERVAL_COLUMNS:
            pooled = pooled_success(summary, key)
            if pooled is None:
                cells.append("–")
                continue
            k, n = pooled
            lo, hi = wilson_interval(k, n)
            cells.append(f"{100 * k / n:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def ordered_columns(summaries: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """Table-5 columns that any summary has, then any other dataset (e.g. a custom episode file)."""
    keys = set().union(*[set(s) for s in summaries])
    cols = [(k, h) for k, h in TABLE_COLUMNS if k in keys]
    cols += [(k, k) for k in sorted(keys) if k not in dict(TABLE_COLUMNS)]
    return cols


def markdown_table(runs: dict[str, dict[str, dict[str, float]]]) -> str:
    """Success (%) and efficiency tables, one row per run, in the layout of the paper's Table 5."""
    cols = ordered_columns(runs.values())
    lines = []
    for metric, fmt, title in (("success", lambda v: f"{100 * v:.0f}", "Success rate (%)"),
                               ("efficiency", lambda v: f"{v:.2f}", "Efficiency (1 - steps/32; 0 for failures)")):
        lines += [f"**{title}**", "", "| Method | " + " | ".join(h for _, h in cols) + " |",
                  "|---|" + "---:|" * len(cols)]
        for name, summary in runs.items():
            cells = [fmt(summary[k][metric]) if k in summary else "–" for k, _ in cols]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += interval_table(runs)
    lines += [table_note(runs), ""]
    return "\n".join(lines)


def table_note(runs: dict[str, dict[str, dict[str, float]]]) -> str:
    """What the aggregate columns average, and how many episodes each rate is of ("–": not evaluated)."""
    short = dict(TABLE_COLUMNS)
    groups = "; ".join(f"{g} = {', '.join(short[d] for d in members)}" for g, members in GROUPS.items())
    counts = sorted({int(row["episodes"]) for summary in runs.values() for row in summary.values() if "episodes" in row})
    per = (f"{counts[0]} episodes per dataset" if len(counts) == 1 else
           f"{counts[0]}-{counts[-1]} episodes per dataset (see each run's summary.csv)") if counts else ""
    note = (f"PR and BG are the means of their datasets' rates ({groups}); Total is the mean of those "
            f"{sum(len(m) for m in GROUPS.values())} datasets (Train and New Scenes are not in it).")
    return note + (f" {per}." if per else "") + ' "–": not evaluated.'



def write_csv(summary: dict[str, dict[str, float]], path: Path) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["dataset", *METRICS, "episodes"])
    for key, _ in ordered_columns([summary]):
        row = summary[key]
        writer.writerow([key, *(f"{row[m]:.4f}" for m in METRICS), int(row.get("episodes", 0))])
    atomic_write_text(path, text.getvalue())


def success_bars(summary: dict[str, dict[str, float]], cols: list[tuple[str, str]]) -> list[float]:
    """Success (%) per column; NaN where the run has no result (drawn as no bar and "n/a", never as 0)."""
    return [100 * summary[k]["success"] if k in summary else float("nan") for k, _ in cols]


def bar_chart(runs: dict[str, dict[str, dict[str, float]]], path: Path, title: str = "") -> Path:
    """Success per dataset and aggregate, one bar per run (like the paper's Figure 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = [c for c in reversed(ordered_columns(runs.values()))]
    cols = [c for c in cols if c[0] not in ("Total", "BG", "PR")] + [c for c in cols if c[0] in ("PR", "BG", "Total")]
    x = np.arange(len(cols))
    width = 0.8 / max(len(runs), 1)
    fig, ax = plt.subplots(figsize=(max(8, 0.75 * len(cols) + 2), 4.2))
    for i, (name, summary) in enumerate(runs.items()):
        values = success_bars(summary, cols)
        offset = x + (i - (len(runs) - 1) / 2) * width
        bars = ax.bar(offset, values, width, label=name)
        if len(runs) <= 3:
            ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.0f}" for v in values], fontsize=7, padding=1)
        for position, value in zip(offset, values):
            if np.isnan(value):
                ax.text(position, 1, "n/a", rotation=90, ha="center", va="bottom", fontsize=6, color="0.4")
    ax.set_xticks(x, [h for _, h in cols], rotation=35, ha="right")
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 105)
    for i, (k, _) in enumerate(cols):
        if k in ("PR", "BG", "Total"):
            ax.axvspan(i - 0.5, i + 0.5, color="0.92", zorder=0)
    ax.set_title(title or "Language Rearrangement: success per dataset")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, dpi=120, format="png"))
    plt.close(fig)
    return path


def load_run(folder: Path) -> tuple[str, dict[str, dict[str, float]]]:
    """(run name, summary) of an evaluation folder."""
    folder = Path(folder)
    summary_path = folder / "summary.json"
    if not summary_path.exists():
        raise FileNotFoundError(f"{folder} has no summary.json: is it an agents.evaluate output folder?")
    data = read_json(summary_path, "evaluation summary")
    return data["name"], data["summary"]


__all__ = ["DATASETS", "TABLE_COLUMNS", "episode_metrics", "summarize", "markdown_table", "wilson_interval",
           "write_csv", "bar_chart", "load_run"]
