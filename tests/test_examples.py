"""The short scripts in examples/ run as their docstrings say."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, expected", [("examples/llarp_quickstart.py", "successes:"),
                                              ("examples/atari_quickstart.py", "raw scores of 2 episodes:")])
def test_quickstart_runs(script, expected):
    run = subprocess.run([sys.executable, script, "--tiny", "--steps", "64"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert expected in run.stdout
