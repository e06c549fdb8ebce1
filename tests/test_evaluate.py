import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.compare import main as compare_main
from agents.evaluate import EvalConfig, ResumeMismatch, evaluate, main as evaluate_main
from agents.results import summarize

ROOT = Path(__file__).resolve().parents[1]


def _lines(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_oracle_run_writes_every_report(tmp_path):
    out = tmp_path / "oracle"
    assert evaluate_main(["--agent", "oracle", "--datasets", "train,multiple_objects", "--episodes", "5",
                          "--video", "1", "--out", str(out), "--no-progress"]) == 0
    records = _lines(out / "episodes.jsonl")
    assert len(records) == 10 and all(r["success"] for r in records)
    assert {"instruction", "actions", "feedback", "steps", "invalid", "efficiency"} <= set(records[0])
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert summary["train"]["success"] == 1.0 and summary["train"]["episodes"] == 5
    table = (out / "table.md").read_text()
    assert "| oracle | 100 | 100 |" in table and "Multiple Objects" in table
    assert (out / "summary.csv").read_text().startswith("dataset,success,efficiency,invalid_rate,episodes")
    assert (out / "success.png").stat().st_size > 5000
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["multiple_objects-0.gif", "train-0.gif"]


def test_aggregates_follow_the_spec():
    records = [{"dataset": d, "index": 0, "success": float(d == "context"), "efficiency": 0.5, "invalid_rate": 0.0}
               for d in ["train", "new_scenes", "rephrasing", "referring_expressions", "spatial_relationships",
                         "context", "irrelevant_text", "multiple_rearrangements", "novel_objects",
                         "multiple_objects", "conditional_instructions"]]
    s = summarize(records)
    assert s["PR"]["success"] == pytest.approx(1 / 5) and s["BG"]["success"] == 0
    assert s["Total"]["success"] == pytest.approx(1 / 9)


def test_parallel_workers_give_the_same_results(tmp_path):
    cfg = EvalConfig(agent="random-masked", datasets=["train", "context"], episodes=6, name="rm")
    one = evaluate(cfg, tmp_path / "one", workers=1, progress=False)
    two = evaluate(cfg, tmp_path / "two", workers=2, progress=False)
    assert one["summary"] == two["summary"]
    key = lambda r: (r["dataset"], r["index"])  # noqa: E731
    assert sorted(_lines(tmp_path / "one" / "episodes.jsonl"), key=key) == sorted(
        _lines(tmp_path / "two" / "episodes.jsonl"), key=key)


def test_seed_changes_the_random_agents_draws(tmp_path):
    """--seed must reach the random agents: "10 seeds" of a random baseline are 10 different runs."""
    runs = {}
    for seed in (0, 1):
        out = tmp_path / f"seed{seed}"
        assert evaluate_main(["--agent", "random-masked", "--datasets", "train", "--episodes", "4", "--seed",
                              str(seed), "--out", str(out), "--no-progress"]) == 0
        runs[seed] = [r["actions"] for r in _lines(out / "episodes.jsonl")]
    assert runs[0] != runs[1]
    again = tmp_path / "again"
    evaluate_main(["--agent", "random-masked", "--datasets", "train", "--episodes", "4", "--seed", "1",
                   "--out", str(again), "--no-progress"])
    assert [r["actions"] for r in _lines(again / "episodes.jsonl")] == runs[1]  # and stay reproducible


SLOW_RUN = """
import sys, time
from agents.core import RandomAgent, register_agent
from agents.evaluate import main

class Slow(RandomAgent):
    def act(self, obs, info):
        time.sleep(0.01)
        return super().act(obs, info)

register_agent("slow", lambda **kw: Slow(masked=True))
main(sys.argv[1:])
"""


def test_killed_run_resumes_without_redoing_or_duplicating(tmp_path):
    out = tmp_path / "slow"
    args = [sys.executable, "-c", SLOW_RUN, "--agent", "slow", "--datasets", "rephrasing", "--episodes", "30",
            "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = out / "episodes.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not path.exists() or len(path.read_text().splitlines()) < 5):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _lines(path)
    assert 5 <= len(before) < 30, "the run should have been killed midway"
    subprocess.run(args, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = _lines(path)
    indices = [r["index"] for r in after]
    assert sorted(indices) == list(range(30))  # every episode exactly once
    assert after[: len(before)] == before  # finished episodes were kept, not redone
    assert json.loads((out / "summary.json").read_text())["summary"]["rephrasing"]["episodes"] == 30


def test_torn_last_line_is_dropped_on_resume(tmp_path):
    cfg = EvalConfig(agent="oracle", datasets=["context"], episodes=3, name="o")
    evaluate(cfg, tmp_path, progress=False)
    path = tmp_path / "episodes.jsonl"
    text = path.read_text()
    path.write_text(text + text.splitlines()[0][:40])  # a half-written line, as after a crash
    evaluate(EvalConfig(agent="oracle", datasets=["context"], episodes=4, name="o"), tmp_path, progress=False)
    assert [r["index"] for r in _lines(path)] == [0, 1, 2, 3]


def test_resuming_with_other_settings_is_refused(tmp_path):
    evaluate(EvalConfig(agent="oracle", datasets=["context"], episodes=1, name="o"), tmp_path, progress=False)
    with pytest.raises(ResumeMismatch, match="seed=0, but this run has seed=5"):
        evaluate(EvalConfig(agent="oracle", datasets=["context"], episodes=1, seed=5, name="o"), tmp_path,
                 progress=False)


def test_bad_arguments_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        evaluate_main(["--agent", "oracle", "--datasets", "train,bogus", "--out", str(tmp_path)])
    assert "unknown name(s) bogus" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown agent 'nobody'"):
        evaluate_main(["--agent", "nobody", "--datasets", "train", "--episodes", "1", "--out", str(tmp_path / "x"),
                       "--no-progress"])


def test_custom_episode_file_and_compare(tmp_path, capsys):
    from gym_langrearrange.datasets import generate_episode, save_episodes

    episodes = tmp_path / "mine.json"
    save_episodes([generate_episode("context", i)[0] for i in range(3)], episodes)
    evaluate_main(["--agent", "oracle", "--episodes-file", str(episodes), "--out", str(tmp_path / "a"),
                   "--no-progress"])
    evaluate_main(["--agent", "random", "--episodes-file", str(episodes), "--out", str(tmp_path / "b"),
                   "--no-progress"])
    capsys.readouterr()
    compare_main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "cmp")])
    printed = capsys.readouterr().out
    assert "| oracle | 100 |" in printed and "| random |" in printed
    assert (tmp_path / "cmp" / "success.png").exists()


# --- reliability (issue 19): nothing lost, nothing silently mixed ------------------------------

def _run(out, *extra, episodes="30"):
    return evaluate_main(["--agent", "random-masked", "--datasets", "train", "--episodes", episodes,
                          "--out", str(out), "--no-progress", *extra])


def test_a_bad_line_keeps_every_record_after_it(tmp_path):
    """A blank or garbled line in episodes.jsonl used to delete every record after it."""
    _run(tmp_path)
    path = tmp_path / "episodes.jsonl"
    lines = path.read_text().splitlines()
    lines[5:5] = [""]  # sed -i '5a\\' episodes.jsonl
    lines[12:12] = ['{"dataset": "train", "ind']  # garbled
    lines[20:20] = [lines[3]]  # a duplicate of an episode already there
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="2 line"):
        _run(tmp_path, episodes="20")
    after = _lines(path)
    assert len(after) == 30 and sorted(r["index"] for r in after) == list(range(30))
    assert len((tmp_path / "episodes.rejected.jsonl").read_text().splitlines()) == 2  # kept for inspection
    path.write_text(path.read_text().replace("\n", "\n\n", 1))  # a blank line alone: the issue's own case
    _run(tmp_path, episodes="20")
    assert len(path.read_text().splitlines()) == 30 and len(_lines(path)) == 30


def test_a_second_evaluation_into_a_busy_folder_stops_at_once(tmp_path):
    from agents.run_folder import RunFolderBusy, lock

    with lock(tmp_path, "evaluation"):
        busy = f"another evaluation is writing into {tmp_path} .process {os.getpid()}"
        with pytest.raises(RunFolderBusy, match=busy):
            _run(tmp_path)
    assert not (tmp_path / "episodes.jsonl").exists()
    assert _run(tmp_path) == 0  # released


def test_an_edited_episode_file_is_not_mixed_into_old_results(tmp_path):
    from gym_langrearrange.datasets import generate_episode, save_episodes

    file = tmp_path / "mine.json"
    episodes = [generate_episode("context", i)[0] for i in range(3)]
    save_episodes(episodes, file)
    args = ["--agent", "oracle", "--episodes-file", str(file), "--out", str(tmp_path / "r"), "--no-progress"]
    evaluate_main(args)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())["summary"]
    assert "custom:context" in summary and "context" not in summary  # never filed under the official dataset
    save_episodes([generate_episode("context", i)[0] for i in (0, 1, 5)], file)  # same path, other episodes
    with pytest.raises(ResumeMismatch, match="fingerprint.episodes_file"):
        evaluate_main(args)


def test_a_failed_start_does_not_lock_the_folder(tmp_path):
    with pytest.raises(ValueError, match="unknown agent 'nosuch'"):
        evaluate_main(["--agent", "nosuch", "--datasets", "train", "--episodes", "1", "--out", str(tmp_path),
                       "--no-progress"])
    assert _run(tmp_path, episodes="2") == 0


class _FlakyAgent:
    """random-masked, but the endpoint is "down" for the episodes in ``down``."""

    def __init__(self, down):
        from agents.core import RandomAgent

        self.inner, self.down = RandomAgent(masked=True), down

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def reset(self, obs, info):
        self.inner.reset(obs, info)
        self.index = int(info["episode_id"].rsplit("-", 1)[-1])

    def act(self, obs, info):
        from agents.core import InfrastructureError

        if self.index in self.down:
            raise InfrastructureError("endpoint http://127.0.0.1:9/v1 unreachable")
        return self.inner.act(obs, info)


def test_episodes_the_agent_could_not_play_are_errors_not_failures(tmp_path):
    from agents.core import InfrastructureError

    cfg = EvalConfig(agent="random-masked", datasets=["train"], episodes=10, name="rm")
    report = evaluate(cfg, tmp_path, progress=False, agent=_FlakyAgent(down={2, 5}))
    assert report["summary"]["train"]["episodes"] == 8 and report["missing"] == 2
    assert [e["index"] for e in _lines(tmp_path / "errors.jsonl")] == [2, 5]
    assert "unreachable" in _lines(tmp_path / "errors.jsonl")[0]["error"]
    report = evaluate(cfg, tmp_path, progress=False, agent=_FlakyAgent(down=set()))  # the endpoint is back
    assert report["summary"]["train"]["episodes"] == 10 and report["missing"] == 0
    assert sorted(r["index"] for r in _lines(tmp_path / "episodes.jsonl")) == list(range(10))
    # the endpoint is down for good: the run stops with the cause and keeps what it finished
    cfg = EvalConfig(agent="random-masked", datasets=["train"], episodes=20, name="rm")
    with pytest.raises(InfrastructureError, match="3 episodes in a row.*unreachable.*10 finished"):
        evaluate(cfg, tmp_path, progress=False, agent=_FlakyAgent(down=set(range(10, 20))), stop_after_errors=3)
    assert len(_lines(tmp_path / "errors.jsonl")) == 5


def _children(pid):
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killing_a_parallel_evaluation_ends_its_workers(tmp_path):
    out = tmp_path / "slow"
    args = [sys.executable, "-m", "agents.evaluate", "--agent", "random-masked", "--datasets", "train",
            "--episodes", "5000", "--workers", "2", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = out / "episodes.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not path.exists() or len(path.read_text().splitlines()) < 3):
        time.sleep(0.05)
    workers = [p for p in _children(proc.pid) if "spawn" in Path(f"/proc/{p}/cmdline").read_text()]
    assert len(workers) >= 2, "the workers should be running"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers)


@pytest.mark.parametrize("args, message", [
    (["--datasets", ","], "--datasets: unknown name(s) ','"),
    (["--video", "-3"], "--video: expected an integer >= 0, got '-3'"),
    (["--episodes", "0"], "--episodes: expected an integer >= 1, got '0'"),
    (["--workers", "two"], "--workers: expected an integer >= 1, got 'two'"),
])
def test_bad_numbers_and_lists_fail_while_parsing(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        evaluate_main(["--agent", "oracle", "--out", str(tmp_path), *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_the_cli_prints_user_errors_without_a_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "agents.evaluate", "--agent", "nosuch", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert "python -m agents.evaluate: error: unknown agent 'nosuch'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_mixing_splits_is_reported_per_dataset_as_custom(tmp_path, capsys):
    from gym_langrearrange.datasets import generate_episode, save_episodes

    file = tmp_path / "mixed.json"
    save_episodes([generate_episode("context", 0)[0], generate_episode("rephrasing", 1)[0],
                   generate_episode("context", 2)[0]], file)
    evaluate_main(["--agent", "oracle", "--episodes-file", str(file), "--out", str(tmp_path / "r"), "--no-progress"])
    report = json.loads((tmp_path / "r" / "summary.json").read_text())
    summary = report["summary"]
    assert set(summary) == {"custom:context", "custom:rephrasing"}  # one column per split, never the official one
    assert summary["custom:context"]["episodes"] == 2 and summary["custom:rephrasing"]["episodes"] == 1
    rows = [json.loads(line) for line in (tmp_path / "r" / "episodes.jsonl").read_text().splitlines()]
    assert sorted((r["dataset"], r["index"]) for r in rows) == [("custom:context", 0), ("custom:context", 2),
                                                                 ("custom:rephrasing", 1)]
    assert "Total is the mean of those 9 datasets" in (tmp_path / "r" / "table.md").read_text()


def test_missing_results_are_drawn_as_missing_and_checkpoints_named_by_agent_json(tmp_path):
    import math

    from agents.evaluate import run_name
    from agents.results import bar_chart, success_bars

    runs = {"a": {"train": {"success": 0.5, "efficiency": 0.2, "invalid_rate": 0.0, "episodes": 10}},
            "b": {"rephrasing": {"success": 0.0, "efficiency": 0.0, "invalid_rate": 0.0, "episodes": 10}}}
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    path = bar_chart(runs, tmp_path / "chart.png")
    assert path.exists() and set(plt.get_fignums()) == before
    bars = success_bars(runs["b"], [("train", "Train"), ("rephrasing", "Rephrasing")])
    assert math.isnan(bars[0]) and bars[1] == 0.0  # missing is missing, a measured 0 is 0
    folder = tmp_path / "run" / "checkpoint"
    folder.mkdir(parents=True)
    (folder / "agent.json").write_text(json.dumps({"algorithm": "sb3_contrib:RecurrentPPO", "name": "lstm-il"}))
    (folder / "model.zip").write_bytes(b"")
    assert run_name(str(folder)) == "lstm-il" and run_name("oracle") == "oracle"
