import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_two_process_torchrun_keeps_ranks_identical(tmp_path):
    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "examples/train_llarp.py",
           "--backbone", "tiny-llama", "--llm-dtype", "float32", "--steps", "128", "--envs", "2", "--n-steps", "16",
           "--n-minibatches", "2", "--image-size", "32", "--eval-episodes", "0", "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    start = [torch.load(out / f"rank{r}_params_start.pt") for r in (0, 1)]
    end = [torch.load(out / f"rank{r}_params_end.pt") for r in (0, 1)]
    assert torch.equal(start[0], start[1])  # rank 0's weights were broadcast
    assert torch.equal(end[0], end[1])  # averaged gradients keep the ranks in lockstep
    assert not torch.equal(start[0], end[0])  # and training changed them
    assert (out / "checkpoint" / "agent.json").exists()  # one writer: rank 0
