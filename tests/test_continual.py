"""benchmarks/continual.py (Figure 4b): the training command it builds, and its report's kept results."""
import argparse
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import continual  # noqa: E402


def checkpoint(folder: Path, algorithm: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "agent.json").write_text(json.dumps({"algorithm": algorithm}))
    return folder


def run_args(tmp_path, source, **over):
    args = argparse.Namespace(
        root=str(tmp_path / "runs"), source=str(source), name="llarp-il", steps=500_000, time_budget=None,
        eval_every=25_000, value_warmup=10, envs=8, threads=1, checkpoint_every=5_000, seed=0, by="rl",
        eval_at=[0, 250])
    for k, v in over.items():
        setattr(args, k, v)
    return args


def test_the_run_continues_ppo_from_the_checkpoint_on_the_training_scene_split(tmp_path):
    source = checkpoint(tmp_path / "zoo", "agents.llarp:LLaRP")
    heldout = tmp_path / "heldout.json"
    cmd = continual.command(run_args(tmp_path, source), heldout)
    flag = lambda name: cmd[cmd.index(name) + 1]  # noqa: E731
    assert cmd[1:3] == ["-m", "agents.llarp.train"]
    assert flag("--init-from") == str(source.resolve()) and flag("--value-warmup") == "10"
    assert flag("--split") == "multiple_rearrangements_train" and flag("--heldout") == str(heldout)
    assert flag("--eval-episodes") == "0" and "--resume" not in cmd  # the final evaluation is the benchmark's
    out = tmp_path / "runs" / "llarp-il" / "checkpoint"
    out.mkdir(parents=True)
    (out / "model.zip").write_bytes(b"")
    assert "--resume" in continual.command(run_args(tmp_path, source, time_budget=600.0), heldout)
    # each checkpoint gets its own final evaluation, once
    (out / "agent.json").write_text(json.dumps({"num_timesteps": 120_000}))
    final = continual.final_evaluation(out.parent)
    assert final[final.index("--out") + 1] == str(out.parent / "final-000120000")
    assert final[final.index("--datasets") + 1] == "multiple_rearrangements,train"
    (out.parent / "final-000120000").mkdir()
    (out.parent / "final-000120000" / "summary.json").write_text("{}")
    assert continual.final_evaluation(out.parent) is None


def test_an_lstm_checkpoint_continues_with_its_encoder_and_anything_else_is_refused_by_name(tmp_path):
    source = checkpoint(tmp_path / "lstm", "sb3_contrib:RecurrentPPO")
    meta = {"algorithm": "sb3_contrib:RecurrentPPO", "options": {"method": "lstm-llm-final", "encoder_model": None}}
    (source / "agent.json").write_text(json.dumps(meta))
    cmd = continual.command(run_args(tmp_path, source), tmp_path / "heldout.json")
    assert cmd[1:5] == ["-m", "agents.lstm.train", "--encoder", "llm-final"] and "--value-warmup" not in cmd
    other = checkpoint(tmp_path / "atari", "agents.atari:Something")
    with pytest.raises(SystemExit, match="'agents.atari:Something'"):
        continual.command(run_args(tmp_path, other), tmp_path / "heldout.json")


def test_report_keeps_evaluations_and_never_replaces_a_longer_record(tmp_path, capsys):
    root, to = tmp_path / "runs", tmp_path / "results"
    (root / "llarp-il").mkdir(parents=True)
    (root / "llarp-il" / "evals.json").write_text(json.dumps(
        [{"steps": 256, "seconds": 1.0, "heldout_success": 0.0}, {"steps": 25_000, "seconds": 900.0,
                                                                   "heldout_success": 0.1}]))
    continual.main(["report", "--root", str(root), "--to", str(to)])
    kept = json.loads((to / "runs" / "llarp-il" / "evals.json").read_text())
    assert [e["steps"] for e in kept] == [256, 25_000]
    assert "| llarp-il | 25,000 | 10.0% |" in (to / "table.md").read_text() and (to / "continual.png").exists()
    # a fresh machine restarted the run: one evaluation so far, so the kept record of two stays
    (root / "llarp-il" / "evals.json").write_text(json.dumps([{"steps": 256, "seconds": 1.0, "heldout_success": 0.0}]))
    kept[1]["heldout_episodes"] = 100  # episode counts give the table its interval
    (to / "runs" / "llarp-il" / "evals.json").write_text(json.dumps(kept))
    continual.main(["report", "--root", str(root), "--to", str(to)])
    assert "kept" in capsys.readouterr().out
    assert "| llarp-il | 25,000 | 10.0% [5.5%, 17.4%] |" in (to / "table.md").read_text()
    # a final evaluation joins the table with what was learnt and what was kept
    final = root / "llarp-il" / "final-000025000"
    final.mkdir()
    (final / "summary.json").write_text(json.dumps({"summary": {
        "multiple_rearrangements": {"success": 0.1, "episodes": 100}, "train": {"success": 0.2, "episodes": 100}}}))
    continual.main(["report", "--root", str(root), "--to", str(to)])
    assert "| llarp-il | 25,000 steps | 10.0% [5.5%, 17.4%] | 20.0% [13.3%, 28.9%] |" in (to / "table.md").read_text()


def cloned_checkpoint(folder: Path) -> Path:
    options = {"method": "llarp", "demo_count": 50_000, "batch_episodes": 8, "lr": 3e-4, "backbone": "smollm2-135m",
               "encoder_model": None, "llm_dtype": "bfloat16", "visual_encoder": "cnn", "image_size": 64,
               "max_tokens": 48, "seed": 0, "only_episodes_digest": None}
    folder.mkdir(parents=True)
    (folder / "agent.json").write_text(json.dumps({"algorithm": "agents.llarp:LLaRP", "options": options,
                                                   "bc": {"episodes": 45_112, "seconds": 1.0}}))
    return folder


def test_learning_by_imitation_continues_the_clone_with_its_own_options_then_resumes(tmp_path):
    source = cloned_checkpoint(tmp_path / "zoo")
    args = run_args(tmp_path, source, by="bc", name="llarp-il-bc")
    cmd = continual.clone_command(args, tmp_path / "demos", 250)
    flag = lambda name: cmd[cmd.index(name) + 1]  # noqa: E731
    assert cmd[1:3] == ["-m", "agents.imitation.train"] and flag("--demos") == str(tmp_path / "demos")
    # the target counts the source's own demonstrations: 250 more of the new behaviour
    assert flag("--episodes") == str(45_112 + 250) and flag("--continue-from") == str(source.resolve())
    # the options that define the run are the source's (agents.imitation.train refuses others); unset ones stay out
    assert flag("--dtype") == "bfloat16" and flag("--batch-episodes") == "8" and flag("--seed") == "0"
    assert "--encoder-model" not in cmd and "--demo-count" not in cmd
    out = tmp_path / "runs" / "llarp-il-bc" / "checkpoint"
    out.mkdir(parents=True)
    (out / "model.zip").write_bytes(b"")
    again = continual.clone_command(args, tmp_path / "demos", 500)
    assert "--resume" in again and "--continue-from" not in again
    # an RL checkpoint has no demonstrations to go on from
    rl = checkpoint(tmp_path / "rl", "agents.llarp:LLaRP")
    with pytest.raises(SystemExit, match="behaviour-cloned checkpoint"):
        continual.clone_command(run_args(tmp_path, rl, by="bc"), tmp_path / "demos", 250)


def test_eval_at_is_a_list_of_counts_and_refuses_anything_else():
    assert continual.counts("1000,0,250") == [0, 250, 1000]
    for bad in ("", "a,b", "-5"):
        with pytest.raises(argparse.ArgumentTypeError, match="demonstration counts"):
            continual.counts(bad)


def test_report_puts_imitation_runs_against_demonstrations_with_their_final_row(tmp_path):
    root, to = tmp_path / "runs", tmp_path / "results"
    run = root / "llarp-il-bc"
    run.mkdir(parents=True)
    (run / continual.BC_RUN).write_text(json.dumps({"from": "zoo/llarp-il-instruction", "base_episodes": 45_112}))
    (run / "evals.json").write_text(json.dumps([
        {"episodes": 0, "heldout_success": 0.0, "heldout_episodes": 100, "heldout_return": 12.5},
        {"episodes": 1000, "heldout_success": 0.3, "heldout_episodes": 100, "heldout_return": 14.0}]))
    final = run / "final-000046112"
    final.mkdir()
    (final / "summary.json").write_text(json.dumps({"summary": {"train": {"success": 0.4, "episodes": 100}}}))
    continual.main(["report", "--root", str(root), "--to", str(to)])
    table = (to / "table.md").read_text()
    assert "| run | demonstrations cloned |" in table and "| llarp-il-bc | 1,000 | 30.0% [21.9%, 39.6%] | 14.00 |" in table
    # the held-out figure of the final row is the last evaluation's; train comes from the final evaluation
    assert "| llarp-il-bc | 1,000 demonstrations | 30.0% [21.9%, 39.6%] | 40.0% [30.9%, 49.8%] |" in table
    assert (to / "runs" / "llarp-il-bc" / continual.BC_RUN).exists() and (to / "continual.png").exists()
