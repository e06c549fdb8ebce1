"""benchmarks/twosome_learning.py's report: results kept in the results folder outlive the runs folder."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import twosome_learning  # noqa: E402


def write_run(root: Path, task: str, method: str, curve=None, scores=None) -> None:
    folder = root / task / method
    folder.mkdir(parents=True)
    if curve is not None:
        (folder / "curve.json").write_text(json.dumps(curve))
    if scores is not None:
        (folder / "scores.json").write_text(json.dumps(scores))


def scores(success: float, ret: float, steps: int) -> dict:
    return {"episodes": 100, "success": success, "return": ret, "steps": steps}


def test_report_keeps_results_across_runs_folders(tmp_path, capsys):
    to = tmp_path / "results"
    first = tmp_path / "machine-1"
    write_run(first, "food-preparation", "ppo", [[1000, 0.2], [20000, 0.774]], scores(1.0, 0.77, 50176))
    write_run(first, "food-preparation", "word", [[4096, 0.1], [8192, 0.3]], scores(0.5, 0.4, 8192))
    twosome_learning.main(["report", "--root", str(first), "--to", str(to), "--no-retention"])
    # a second machine: the ppo run is gone, word is re-running from scratch, zero-shot is new
    second = tmp_path / "machine-2"
    write_run(second, "food-preparation", "word", [[4096, 0.0]])
    write_run(second, "food-preparation", "zero-shot", scores=scores(0.0, 0.0, 0))
    twosome_learning.main(["report", "--root", str(second), "--to", str(to), "--no-retention"])
    assert "word: kept the finished result" in capsys.readouterr().out
    table = (to / "table.md").read_text()
    assert "| food-preparation | PPO (MLP) | 50,176 | 50,000 | 1.00 [0.96, 1.00] | 0.77 | 0.774 | 20,000 |" in table
    # not the unfinished rerun; stopped at 8,192 of its 50,000 decisions, so marked as cut
    assert "| food-preparation | TWOSOME, word norm. (cut) | 8,192 | 50,000 | 0.50 [0.40, 0.60] | 0.40 |" in table
    assert "| food-preparation | zero-shot (TWOSOME untrained) | 0 | - | 0.00 [0.00, 0.04] | 0.00 |" in table
    # without --root the table is redrawn from the kept files alone, identically
    twosome_learning.main(["report", "--to", str(to), "--no-retention"])
    assert (to / "table.md").read_text() == table and (to / "curves.png").stat().st_size > 0
    # a finished run replaces a kept one, and its stale files go with it
    third = tmp_path / "machine-3"
    write_run(third, "food-preparation", "word", scores=scores(0.9, 0.7, 50000))
    twosome_learning.main(["report", "--root", str(third), "--to", str(to), "--no-retention"])
    assert not (to / "runs" / "food-preparation" / "word" / "curve.json").exists()
    assert "| food-preparation | TWOSOME, word norm. | 50,000 | 50,000 | 0.90 [0.83, 0.94] | 0.70 |" in (
        to / "table.md").read_text()


def test_prior_along_the_optimal_episodes(tmp_path):
    import numpy as np

    import twosome_prior
    from agents.twosome.recipes import RECIPES
    from agents.twosome.train import task_env

    twosome_prior.main(["--model", "tiny-llama", "--dtype", "float32", "--to", str(tmp_path)])
    rows = [r for r in (tmp_path / "prior.md").read_text().splitlines() if r.startswith("| food-preparation")]
    assert [r.split(" | ")[1] for r in rows] == ["word", "token", "none", "uniform"]
    env, uniform = task_env(RECIPES["food-preparation"], None), 1.0
    _, info = env.reset(seed=0)
    for macro in twosome_prior.OPTIMAL_MACROS["food-preparation"]:
        uniform /= info["action_mask"].sum()
        _, _, _, _, info = env.step(macro)
    assert rows[3].split(" | ")[2] == f"{uniform:.2e}"  # 1/5 * 1/5 * 1/5 * 1/7 * 1/7 * 1/5
    for row in rows:
        assert 0 < float(row.split(" | ")[2]) <= 1
