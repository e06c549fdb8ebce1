"""benchmarks/rl_vs_il.py's report: finished stage evaluations only, RL placed at its fewest possible episodes."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import rl_vs_il  # noqa: E402


def stage(root: Path, episodes: int, success: float, missing: int = 0) -> None:
    folder = rl_vs_il.stage_eval(root, episodes)
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"summary": {"custom:train": {"success": success, "episodes": 100}},
                                                     "missing": missing}))


def test_report_reads_finished_stages_and_puts_rl_at_steps_over_32(tmp_path):
    root = tmp_path / "runs"
    stage(root, 300, 0.0)
    stage(root, 1000, 0.05)
    stage(root, 3000, 0.5, missing=40)  # an evaluation cut short: not a point of the curve
    rl = tmp_path / "evals.json"
    rl.write_text(json.dumps([{"steps": 320_000, "seconds": 1.0, "heldout_success": 0.02}]))
    rl_vs_il.main(["report", "--root", str(root), "--rl", str(rl), "--to", str(tmp_path / "out")])
    table = (tmp_path / "out" / "rl_vs_il.md").read_text()
    assert "| LLaRP-IL | 1,000 | 5.0% [" in table and "3,000" not in table
    assert "| LLaRP RL | ≥ 10,000 (320,000 steps) | 2.0% [" in table
    assert (tmp_path / "out" / "rl_vs_il.png").stat().st_size > 0


def test_stages_must_increase():
    assert rl_vs_il.stages("300,1000") == [300, 1000]
    with pytest.raises(Exception, match="increasing positive"):
        rl_vs_il.stages("1000,300")
