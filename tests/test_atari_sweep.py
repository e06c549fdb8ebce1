"""The Atari sweep: presets, job folders, the executors (local, Ray, submitit's local one), kill and resume."""
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from agents.atari.evaluation import SCORES_FILE, RunScores
from agents.atari.executors import EXECUTORS
from agents.atari.jobs import Job, JobResult
from agents.atari.presets import PRESETS, Preset, load_preset
from agents.atari.sweep import collect_scores, main, parse_shard, run_sweep
from agents.cli import run_main
from gym_langrearrange.files import atomic_write_json

TINY_OPTIONS = ["--backbone", "tiny-llama", "--n-steps", "8", "--n-minibatches", "2", "--image-size", "32",
                "--max-tokens", "16"]


def tiny_preset(tmp_path: Path, file: str = "preset.json", **changes) -> Path:
    """Breakout: a random policy's episodes end within a few hundred steps."""
    fields = dict(name="t", games=["breakout"], methods=["llarp", "llarp-scratch"], seeds=[0], steps=16,
                  envs=2, eval_episodes=1, checkpoint_every=16, train_options=TINY_OPTIONS)
    fields.update(changes)
    path = tmp_path / file
    path.write_text(json.dumps(fields))
    return path


def finished_scores(root: Path) -> dict[str, RunScores]:
    return {str(p.parent.relative_to(root)): RunScores.read(p) for p in sorted(root.glob("*/*/seed*/scores.json"))}


def test_presets_and_their_jobs():
    paper = PRESETS["paper"]
    assert len(paper.games) == 55 and len(paper.jobs()) == 55 * 2 * 2 and paper.steps == 100_000_000
    assert Job("pong", "llarp", 1) in paper.jobs()
    assert len(PRESETS["cpu"].jobs()) == len(PRESETS["cpu"].games) * 2 * 2
    with pytest.raises(ValueError, match="unknown preset 'papr'; allowed: paper, "):
        load_preset("papr")
    with pytest.raises(ValueError, match="unknown Atari game 'pongg'"):
        Preset("x", ("pongg",))
    with pytest.raises(ValueError, match="unknown method 'dqn'; allowed: llarp, llarp-scratch"):
        Preset("x", ("pong",), methods=("dqn",))
    assert parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "a/b", "1", "-1/3", "1/0"):
        with pytest.raises(Exception, match="expected i/N with 0 <= i < N"):
            parse_shard(bad)


def test_bad_input_is_one_line_naming_the_value(tmp_path, capsys):
    root = tmp_path / "sweep"
    # the real command line once: exit status 2, one line, no traceback
    proc = subprocess.run([sys.executable, "-m", "agents.atari.sweep", "run", "--preset", "nope", "--out", str(root)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip() == ("python -m agents.atari.sweep: error: unknown preset 'nope'; allowed: "
                                   f"{', '.join(PRESETS)}, or a .json file"), proc.stderr
    # the rest in this process, through the same entry point (each a fresh interpreter would cost ~5 s)
    for argv, message in [
        (["run", "--preset", "tiny", "--out", str(root), "--executor", "dask"], "invalid choice: 'dask'"),
        (["run", "--preset", "tiny", "--out", str(root), "--shard", "3/2"], "expected i/N with 0 <= i < N"),
        (["run", "--preset", str(tiny_preset(tmp_path, "game.json", games=["pongg"])), "--out", str(root)], "unknown Atari game 'pongg'"),
        (["run", "--preset", str(tiny_preset(tmp_path, "method.json", methods=["dqn"])), "--out", str(root)],
         "unknown method 'dqn'"),
        (["run", "--preset", "tiny", "--out", str(root), "--executor", "ray", "--ray-address", "127.0.0.1:9"],
         "--ray-address 127.0.0.1:9 does not answer"),
    ]:
        capsys.readouterr()
        try:
            code = run_main(main, argv, prog="python -m agents.atari.sweep")
        except SystemExit as exit_:  # argparse's own errors
            code = exit_.code
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert message in err.strip().splitlines()[-1] and "Traceback" not in err, (argv, err)  # argparse: usage, then the line
    assert not (root / "breakout").exists()  # nothing was started


def run_and_check(tmp_path: Path, executor: str, methods=("llarp", "llarp-scratch"), **options) -> Path:
    root = tmp_path / executor
    preset = Preset.from_json(tiny_preset(tmp_path, methods=list(methods)))
    results = run_sweep(preset, root, executor, **options)
    assert [r.status for r in results] == ["finished"] * len(methods), [(str(r.job), r.detail) for r in results]
    scores = finished_scores(root)
    assert sorted(scores) == sorted(f"breakout/{m}/seed0" for m in methods)
    assert all(s.steps >= 16 and len(s.episodes) == 1 for s in scores.values())
    rows = collect_scores(root).splitlines()
    assert rows[0] == "method,game,seed,score" and len(rows) == 1 + len(methods)
    return root


def test_local_executor_runs_every_job_and_a_second_run_does_nothing(tmp_path, capsys):
    root = run_and_check(tmp_path, "local", workers=2)
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    results = run_sweep(Preset.from_json(tmp_path / "preset.json"), root, "local")
    assert [r.status for r in results] == ["skipped"] * 2
    assert "2 finished, 0 to run" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps  # nothing was touched
    # the report step: scores.csv, table.md and figures
    assert main(["report", "--out", str(root), "--reps", "500"]) == 0
    assert {"scores.csv", "table.md", "per_game.png", "aggregates.png", "curves.png"} <= {p.name for p in root.iterdir()}
    # another preset into the same folder is refused
    with pytest.raises(ValueError, match="holds the sweep 't', which differs in steps"):
        run_sweep(Preset.from_json(tiny_preset(tmp_path, "longer.json", steps=32)), root, "local")


def test_shards_split_the_jobs(tmp_path, monkeypatch):
    """Which jobs each shard dispatches; running them is the executors' tests (a job costs ~20 s here)."""
    preset = Preset.from_json(tiny_preset(tmp_path, methods=["llarp", "llarp-scratch"], seeds=[0, 1, 2]))
    dispatched: list[list[str]] = []

    def record(jobs, root, preset, **_):
        dispatched.append([str(j) for j in jobs])
        for job in jobs:  # what a finished job leaves: its scores
            job.folder(root).mkdir(parents=True)
            scores = RunScores(job.game, job.method, job.seed, preset.steps, [0.0], 0.0, True)
            atomic_write_json(job.folder(root) / SCORES_FILE, asdict(scores))
            yield JobResult(job, "finished")

    monkeypatch.setitem(EXECUTORS, "local", record)
    first = run_sweep(preset, tmp_path / "s", "local", shard=(0, 2))
    second = run_sweep(preset, tmp_path / "s", "local", shard=(1, 2))
    assert [str(r.job) for r in first] == dispatched[0] == [str(j) for j in preset.jobs()[0::2]]
    assert [str(r.job) for r in second] == dispatched[1] == [str(j) for j in preset.jobs()[1::2]]
    assert sorted(dispatched[0] + dispatched[1]) == sorted(str(j) for j in preset.jobs())  # each job once
    assert len(finished_scores(tmp_path / "s")) == 6
    again = run_sweep(preset, tmp_path / "s", "local", shard=(1, 2))  # a shard that is done runs nothing
    assert len(dispatched) == 2 and [r.status for r in again] == ["skipped"] * 3


# one job each: both methods and two workers at once are the local executor's test; these check the dispatch
def test_ray_executor_on_this_machine(tmp_path):
    run_and_check(tmp_path, "ray", methods=("llarp-scratch",), address=None, cpus_per_job=1)


def test_submitit_local_executor(tmp_path):
    run_and_check(tmp_path, "submitit", methods=("llarp",), cluster="local", slurm={"timeout_min": 20})


def test_a_failed_job_is_reported_and_the_others_finish(tmp_path):
    preset = Preset.from_json(tiny_preset(tmp_path, games=["breakout", "asterix"], methods=["llarp"]))
    root = tmp_path / "f"
    bad = Job("breakout", "llarp", 0).folder(root.resolve())
    bad.mkdir(parents=True)
    (bad / "checkpoint").mkdir()
    (bad / "checkpoint" / "model.zip").write_text("not a zip")  # a damaged checkpoint: resuming it fails
    results = {str(r.job): r for r in run_sweep(preset, root, "local")}
    assert results["breakout llarp seed 0"].status == "failed"
    assert "train.log" in results["breakout llarp seed 0"].detail
    assert results["asterix llarp seed 0"].status == "finished"
    assert "error:" in (bad / "train.log").read_text() and "agent.json" in (bad / "train.log").read_text()


def test_a_job_killed_before_its_first_checkpoint_starts_again(tmp_path):
    preset = Preset.from_json(tiny_preset(tmp_path, methods=["llarp"]))
    root = tmp_path / "c"
    folder = Job("breakout", "llarp", 0).folder(root.resolve())
    (folder / "tb").mkdir(parents=True)  # what a run killed before its first checkpoint leaves
    (folder / "curve.json").write_text("[]")
    assert [r.status for r in run_sweep(preset, root, "local")] == ["finished"]
    assert "holds no checkpoint, only curve.json, tb of a run stopped before its first one: removed them" in (
        folder / "train.log").read_text()


def test_a_killed_job_resumes_from_its_last_checkpoint(tmp_path):
    """Kill the whole sweep once a job has checkpointed; the next run resumes that job, not restarts it."""
    preset = tiny_preset(tmp_path, methods=["llarp"], steps=96, eval_episodes=1)  # 6 rollouts of 16 steps
    root = tmp_path / "k"
    argv = [sys.executable, "-m", "agents.atari.sweep", "run", "--preset", str(preset), "--out", str(root),
            "--no-report"]
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agent_json = root / "breakout" / "llarp" / "seed0" / "checkpoint" / "agent.json"
    deadline = time.time() + 240
    while not agent_json.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert agent_json.exists(), "no checkpoint appeared"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(agent_json.read_text())["num_timesteps"]
    assert 0 < killed_at < 96
    assert subprocess.run(argv, capture_output=True, timeout=300).returncode == 0
    log = (root / "breakout" / "llarp" / "seed0" / "train.log").read_text()
    assert f"resumed from {agent_json.parent} at {killed_at} steps" in log
    assert RunScores.read(root / "breakout" / "llarp" / "seed0" / "scores.json").steps >= 96
