import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_two_process_torchrun_keeps_ranks_identical(tmp_path):
    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "agents.llarp.train",
           "--backbone", "tiny-llama", "--llm-dtype", "float32", "--steps", "1000000", "--time-budget", "8",
           "--envs", "2", "--n-steps", "16",
           "--n-minibatches", "2", "--image-size", "32", "--eval-episodes", "0", "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    start = [torch.load(out / f"rank{r}_params_start.pt") for r in (0, 1)]
    end = [torch.load(out / f"rank{r}_params_end.pt") for r in (0, 1)]
    assert torch.equal(start[0], start[1])  # rank 0's weights were broadcast
    assert torch.equal(end[0], end[1])  # averaged gradients keep the ranks in lockstep
    assert not torch.equal(start[0], end[0])  # and training changed them
    steps = json.loads((out / "checkpoint" / "agent.json").read_text())["num_timesteps"]  # one writer: rank 0
    assert 0 < steps < 1_000_000  # the time budget stopped both ranks together (no rank left in an all-reduce)


def _budget_decisions(rank: int, init_file: str, clocks: dict, out: str) -> None:
    """One rank: join a gloo group, ask TimeBudget whether the budget is spent, with this rank's clock."""
    import torch.distributed as dist

    from agents.callbacks import TimeBudget, TrainingClock

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    clock = TrainingClock()
    budget = TimeBudget(100.0, clock, world=2)
    answers = []
    for rank0_clock, rank1_clock in clocks:
        clock.elapsed = lambda: rank0_clock if rank == 0 else rank1_clock  # noqa: B023
        answers.append(budget.budget_spent())
    torch.save(answers, Path(out) / f"rank{rank}_budget.pt")
    dist.destroy_process_group()


def test_time_budget_stop_is_rank_0s_decision_on_every_rank(tmp_path):
    """Rank 1's clock also counts the time it waits for rank 0's held-out evaluations, so it runs
    ahead. If each rank decided alone, one would stop while the other waited in the all-reduce."""
    clocks = [(50.0, 150.0), (150.0, 50.0), (50.0, 60.0)]
    torch.multiprocessing.spawn(_budget_decisions, args=(str(tmp_path / "init"), clocks, str(tmp_path)), nprocs=2)
    answers = [torch.load(tmp_path / f"rank{r}_budget.pt") for r in (0, 1)]
    assert answers[0] == answers[1] == [False, True, False]
