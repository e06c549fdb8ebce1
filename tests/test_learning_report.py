"""Success intervals of the reports (the learning benchmark's and the Table-5 tables')."""
import pytest

from agents.results import markdown_table, pooled_success, wilson_interval


def test_wilson_interval_matches_published_values_and_stays_in_range():
    low, high = wilson_interval(8, 100)  # the textbook 95% Wilson interval of 8/100 is [4.11%, 15.0%]
    assert low == pytest.approx(0.0411, abs=5e-4) and high == pytest.approx(0.1502, abs=5e-4)
    low, high = wilson_interval(0, 1000)  # no successes: from exactly 0 to z^2 / (n + z^2)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(1.96 ** 2 / (1000 + 1.96 ** 2))
    low, high = wilson_interval(100, 100)
    assert high == pytest.approx(1.0) and 0.95 < low < 1.0
    for successes, n in [(0, 10), (0, 50), (0, 100), (10, 10), (50, 50)]:  # never outside [0, 1]: no "-0.0"
        low, high = wilson_interval(successes, n)
        assert 0.0 <= low <= high <= 1.0 and f"{100 * low:.1f}" != "-0.0"


def test_table_intervals_pool_a_group_s_episodes():
    from gym_langrearrange.datasets.generator import GROUPS

    summary = {d: {"success": 0.0, "efficiency": 0.0, "invalid_rate": 0.0, "episodes": 100}
               for d in ["train", "new_scenes", *GROUPS["PR"], *GROUPS["BG"]]}
    summary["rephrasing"]["success"] = 0.12  # 12 of the PR group's 500 episodes
    summary["train"]["success"] = 0.21
    assert pooled_success(summary, "PR") == (pytest.approx(12), 500)
    assert pooled_success(summary, "Total") == (pytest.approx(12), 900)
    assert pooled_success({"train": summary["train"]}, "PR") is None  # a group with datasets missing
    low, high = wilson_interval(12, 500)
    table = markdown_table({"m": summary})
    assert f"| m | {100 * 12 / 900:.1f} [" in table and f"2.4 [{100 * low:.1f}, {100 * high:.1f}]" in table
    assert "21.0 [14.2, 30.0]" in table  # 21 of 100: the textbook Wilson interval
