"""The learning benchmark's report: its success intervals (benchmarks/learning.py is a script, not a module)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from learning import wilson_interval  # noqa: E402


def test_wilson_interval_matches_published_values_and_stays_in_range():
    low, high = wilson_interval(8, 100)  # the textbook 95% Wilson interval of 8/100 is [4.11%, 15.0%]
    assert low == pytest.approx(0.0411, abs=5e-4) and high == pytest.approx(0.1502, abs=5e-4)
    low, high = wilson_interval(0, 1000)  # no successes: from exactly 0 to z^2 / (n + z^2)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(1.96 ** 2 / (1000 + 1.96 ** 2))
    low, high = wilson_interval(100, 100)
    assert high == pytest.approx(1.0) and 0.95 < low < 1.0
