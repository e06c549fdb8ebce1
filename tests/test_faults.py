"""Fault injection: kills at random moments, failing writes at every write point, truncated and garbled
files, concurrent runs. After each fault the same command is run again, and nothing finished may be
lost: every evaluation ends with each episode exactly once (and equal to an uninterrupted run's), every
training run with one complete checkpoint at the target step count.

Each injected fault is counted (``FAULTS``); the suite prints the totals at the end.
"""
import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

import agents.evaluate as evaluate_module
import gym_langrearrange.files as files
from agents.checkpoints import recover_checkpoint, save_checkpoint
from agents.evaluate import EvalConfig, evaluate

ROOT = Path(__file__).resolve().parents[1]
FAULTS: Counter = Counter()  # kind of fault -> how many were injected (read by conftest's summary)
EVAL = [sys.executable, "-m", "agents.evaluate", "--agent", "random-masked", "--datasets", "train", "--no-progress"]
TRAIN = [sys.executable, "-m", "agents.llarp.train", "--backbone", "tiny-llama", "--llm-dtype", "float32",
         "--envs", "2", "--n-steps", "16", "--n-minibatches", "2", "--image-size", "32", "--checkpoint-every", "32",
         "--eval-episodes", "0", "--threads", "1"]


def _records(out):
    return [json.loads(line) for line in (Path(out) / "episodes.jsonl").read_text().splitlines()]


def _readable_records(out):
    """The records a reader can parse now (a half-written last line is not one)."""
    path = Path(out) / "episodes.jsonl"
    kept = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            kept.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return kept


def _by_episode(records):
    return sorted(records, key=lambda r: (r["dataset"], r["index"]))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted evaluation of 6000 episodes: what every interrupted one must end up equal to."""
    out = tmp_path_factory.mktemp("reference")
    subprocess.run(EVAL + ["--episodes", "6000", "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
    return _by_episode(_records(out))


def test_evaluation_killed_at_random_moments_loses_nothing(tmp_path, reference):
    out, rng = tmp_path / "killed", random.Random(19)
    cmd = EVAL + ["--episodes", "6000", "--out", str(out)]
    counts = []
    for _ in range(6):
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.8, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            FAULTS["kill -9 of an evaluation"] += 1
        proc.wait()
        counts.append(len(_records(out)) if (out / "episodes.jsonl").exists() else 0)
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    records = _records(out)
    assert counts == sorted(counts), f"finished episodes were lost between runs: {counts}"
    assert _by_episode(records) == reference  # each episode once, as if never interrupted
    assert json.loads((out / "summary.json").read_text())["episodes"] == 6000


class _FailingWrites:
    """Makes the ``n``-th write point fail with ENOSPC (disk full): a record line is half written,
    an fsync or a rename (every atomic write, config to plot) raises."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def hit(self) -> bool:
        self.calls += 1
        return self.calls == self.n

    def full(self):
        return OSError(errno.ENOSPC, "No space left on device (injected)")


def _install(monkeypatch, fault: _FailingWrites) -> None:
    real_open, real_fsync, real_replace = open, os.fsync, os.replace

    class Sink:
        def __init__(self, f):
            self.f = f

        def write(self, text):
            if fault.hit():
                self.f.write(text[: len(text) // 2])
                self.f.flush()
                raise fault.full()
            return self.f.write(text)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    def fsync(fd):
        if fault.hit():
            raise fault.full()
        return real_fsync(fd)

    def replace(src, dst):
        if fault.hit():
            raise fault.full()
        return real_replace(src, dst)

    monkeypatch.setattr(evaluate_module, "open", lambda *a, **k: Sink(real_open(*a, **k)), raising=False)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)


def test_evaluation_with_a_full_disk_at_every_write_point_loses_nothing(tmp_path, monkeypatch):
    cfg = EvalConfig(agent="oracle", datasets=["context", "multiple_objects"], episodes=4, name="o")
    clean = evaluate(cfg, tmp_path / "clean", progress=False)
    expected = _by_episode(_records(tmp_path / "clean"))
    n = 0
    while True:
        n += 1
        out = tmp_path / f"fault{n}"
        with monkeypatch.context() as patch:
            fault = _FailingWrites(n)
            _install(patch, fault)
            try:
                evaluate(cfg, out, progress=False)
            except OSError as e:
                assert e.errno == errno.ENOSPC
                FAULTS["disk full at an evaluation write point"] += 1
            else:
                break  # n is past the last write point
        kept = _readable_records(out)
        report = evaluate(cfg, out, progress=False)  # the disk has room again: rerun
        assert report["summary"] == clean["summary"]
        assert _by_episode(_records(out)) == expected
        assert all(r in expected for r in kept)  # what was finished before the fault is still there
        assert not list(out.glob(".*.tmp"))  # no temporary file left behind
    assert n > 20, "every record, fsync and report file is a write point"


class _TinyModel:
    """What save_checkpoint needs of an SB3 model: ``save(file)`` and ``num_timesteps``."""

    def __init__(self, steps: int) -> None:
        self.num_timesteps = steps

    def save(self, f) -> None:
        with zipfile.ZipFile(f, "w") as z:
            z.writestr("data", json.dumps({"num_timesteps": self.num_timesteps}))


def _saved_steps(folder: Path) -> int:
    meta = json.loads((folder / "agent.json").read_text())
    with zipfile.ZipFile(folder / "model.zip") as z:
        assert json.loads(z.read("data"))["num_timesteps"] == meta["num_timesteps"]  # a consistent pair
    return meta["num_timesteps"]


def test_checkpoint_save_failing_at_every_write_point_keeps_a_complete_checkpoint(tmp_path, monkeypatch):
    n = 0
    while True:
        n += 1
        folder = tmp_path / f"run{n}" / "checkpoint"
        save_checkpoint(_TinyModel(100), folder, {"name": "tiny"})
        with monkeypatch.context() as patch:
            fault = _FailingWrites(n)
            _install(patch, fault)
            try:
                save_checkpoint(_TinyModel(200), folder, {"name": "tiny"})
            except OSError:
                FAULTS["disk full or crash at a checkpoint write point"] += 1
            else:
                break
        recover_checkpoint(folder)  # what the next run does first
        assert _saved_steps(folder) in (100, 200)  # the old or the new checkpoint, whole
        assert sorted(p.name for p in folder.parent.iterdir()) == ["checkpoint"]  # no leftovers
        save_checkpoint(_TinyModel(300), folder, {"name": "tiny"})  # and the next save works
        assert _saved_steps(folder) == 300
    assert n > 4


def test_a_kill_between_the_two_renames_loses_no_checkpoint(tmp_path):
    folder = tmp_path / "checkpoint"
    save_checkpoint(_TinyModel(100), folder, {})
    os.replace(folder, tmp_path / ".checkpoint.old")  # the state a kill after the first rename leaves
    FAULTS["kill between the checkpoint renames"] += 1
    save_checkpoint(_TinyModel(200), folder, {})  # used to delete .checkpoint.old, the only copy, first
    assert _saved_steps(folder) == 200
    os.replace(folder, tmp_path / ".checkpoint.old")
    recover_checkpoint(folder)
    assert _saved_steps(folder) == 200


def _holds_a_run(out):
    return any((out / name).exists() for name in ("checkpoint", "tb", "curve.json"))


def test_training_killed_at_random_moments_resumes_to_the_target(tmp_path):
    out, rng = tmp_path / "run", random.Random(7)
    cmd = TRAIN + ["--steps", "1536", "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    steps_seen = []
    for attempt in range(4):
        resume = ["--resume"] if _holds_a_run(out) else []  # (one killed before its first checkpoint starts again)
        proc = subprocess.Popen(cmd + resume, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(5, 9))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            FAULTS["kill -9 of a training run"] += 1
        proc.wait()
        if (out / "checkpoint" / "agent.json").exists():
            steps_seen.append(json.loads((out / "checkpoint" / "agent.json").read_text())["num_timesteps"])
    resume = ["--resume"] if _holds_a_run(out) else []
    done = subprocess.run(cmd + resume, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert steps_seen == sorted(steps_seen), "a checkpoint went back in time"
    assert json.loads((out / "checkpoint" / "agent.json").read_text())["num_timesteps"] == 1536
    curve = json.loads((out / "curve.json").read_text())
    assert [c[0] for c in curve] == sorted({c[0] for c in curve})  # each step once, in order
    assert not list(out.glob(".checkpoint.*"))


def test_truncated_and_garbled_files_are_named(tmp_path, capsys):
    import torch

    from agents.cli import run_main
    from agents.llarp.train import PROG
    from agents.llarp.train import main as train_main

    out = tmp_path / "run"
    cmd = TRAIN + ["--steps", "64", "--out", str(out)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    model = out / "checkpoint" / "model.zip"
    good = model.read_bytes()
    cases = {
        "truncated model.zip": (model, good[: len(good) // 2], "model.zip cannot be loaded"),
        "garbled agent.json": (out / "checkpoint" / "agent.json", b'{"name": ', "agent.json is not valid JSON"),
        "garbled curve.json": (out / "curve.json", b"[[1, 0.", "curve.json is not valid JSON"),
    }
    for kind, (path, data, message) in cases.items():
        before = path.read_bytes()
        path.write_bytes(data)
        FAULTS[kind] += 1
        threads = torch.get_num_threads()
        try:  # the command's own entry point, in this process (a fresh interpreter costs ~10 s a case)
            code = run_main(train_main, cmd[3:] + ["--resume", "--steps", "96"], prog=PROG)
        finally:
            torch.set_num_threads(threads)  # --threads 1 must not slow the rest of the suite
        err = capsys.readouterr().err
        assert code == 2, err[-2000:]
        assert message in err and str(path) in err and "Traceback" not in err, err
        assert path.read_bytes() == data  # nothing was overwritten
        path.write_bytes(before)
    subprocess.run(cmd + ["--resume", "--steps", "96"], cwd=ROOT, check=True, capture_output=True)
    assert json.loads((out / "checkpoint" / "agent.json").read_text())["num_timesteps"] == 96


def test_garbled_evaluation_config_is_named_and_reports_are_rebuilt(tmp_path):
    cfg = EvalConfig(agent="oracle", datasets=["context"], episodes=3, name="o")
    evaluate(cfg, tmp_path, progress=False)
    (tmp_path / "summary.json").write_text('{"name": ')  # a derived file: rebuilt
    FAULTS["garbled summary.json"] += 1
    assert evaluate(cfg, tmp_path, progress=False)["summary"]["context"]["episodes"] == 3
    (tmp_path / "config.json").write_text("{")
    FAULTS["garbled config.json"] += 1
    with pytest.raises(files.CorruptFileError, match=f"evaluation config {tmp_path / 'config.json'} is not valid"):
        evaluate(cfg, tmp_path, progress=False)
    assert len(_records(tmp_path)) == 3


def test_concurrent_evaluations_into_one_folder(tmp_path, reference):
    out = tmp_path / "both"
    cmd = EVAL + ["--episodes", "6000", "--out", str(out)]
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while not (out / "episodes.jsonl").exists():
        time.sleep(0.02)
    second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    FAULTS["a second evaluation into a busy folder"] += 1
    assert second.returncode == 2 and f"another evaluation is writing into {out}" in second.stderr
    assert first.wait() == 0
    assert _by_episode(_records(out)) == reference


def test_concurrent_training_runs_into_one_folder(tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(TRAIN + ["--steps", "2048", "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / ".lock.pid").exists():
        time.sleep(0.05)
    second = subprocess.run(TRAIN + ["--steps", "64", "--out", str(out), "--resume"], cwd=ROOT, capture_output=True,
                            text=True)
    FAULTS["a second training run into a busy folder"] += 1
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert second.returncode == 2 and f"another training run is writing into {out}" in second.stderr
