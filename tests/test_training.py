from types import SimpleNamespace

from stable_baselines3.common.logger import configure

from agents.core.training import TrainingProgress


def test_a_resumed_run_keeps_its_evaluation_schedule(tmp_path):
    """The last held-out evaluation was at 200 steps, every 100: resuming at 250 must not evaluate
    again at once (a 6-minute evaluation on the learning benchmark), but at 300."""
    evaluated = []
    progress = TrainingProgress(10**6, tmp_path / "checkpoint", {}, every=10**9, rank=1, eval_every=100,
                                evaluator=lambda model: evaluated.append(model.num_timesteps) or 0.0,
                                evals=[{"steps": 200, "seconds": 10.0, "heldout_success": 0.0}])
    progress.model = SimpleNamespace(num_timesteps=250, logger=configure(None, []))
    progress._on_training_start()
    progress.rank = 0  # evaluations run on rank 0 (rank 1 above only to skip the progress bar)
    for steps in (250, 280, 300, 350, 400):
        progress.model.num_timesteps = steps
        progress._on_rollout_end()
    assert evaluated == [300, 400]
    assert [e["steps"] for e in progress.evals] == [200, 300, 400]
