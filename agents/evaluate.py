"""Evaluate any agent on the Language Rearrangement datasets, with resumable, parallel runs.

    python -m agents.evaluate --agent oracle --datasets all --episodes 100 --seed 0 --out results/oracle/
    python -m agents.evaluate --agent zs-llama --opt model=smollm2-135m --workers 2 --video 2
    python -m agents.evaluate --agent runs/llarp/checkpoint --datasets train,context
    python -m agents.evaluate --agent random --episodes-file my_episodes.json

Writes into ``--out``: ``episodes.jsonl`` (one line per finished episode: instruction,
skills, feedback, success, steps, invalid count, the agent's own log), ``summary.json``,
``summary.csv``, ``table.md`` (the paper's Table 5 layout: 11 datasets + PR, BG, Total,
success and efficiency), ``success.png`` (bar chart like the paper's Figure 3) and, with
``--video K``, ``videos/<dataset>-<index>.gif`` for the first K episodes per dataset.
Re-running the same command resumes: finished episodes are never redone or duplicated.

A results folder belongs to one evaluation: ``config.json`` records its settings and the
digests of what defines its results (the episode file's bytes, a checkpoint's files, the
code), and a resume that differs in any of them is refused, naming it. One process writes
into a folder at a time (a lock; a second command stops at once). Episodes the agent could
not play for reasons outside the policy (an API endpoint down: ``InfrastructureError``) go
to ``errors.jsonl``, are left out of every rate and are retried by the next run;
``--stop-after-errors`` of them in a row stop the run with the cause.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

import gym_langrearrange  # noqa: F401  (registers the env ids)
from agents.cli import comma_list, nonnegative_int, positive_int, run_main
from agents.core import AGENTS, Agent, InfrastructureError, load_agent
from agents.core.registry import SEEDED_AGENTS, check_agent_spec
from agents.results import bar_chart, episode_metrics, markdown_table, summarize, write_csv
from agents.run_folder import ResumeMismatch, code_version, file_digest, lock
from gym_langrearrange.datasets import DATASET_SIZES, DATASETS, load_episodes
from gym_langrearrange.files import atomic_write_json, atomic_write_text, read_json

RECORDS = "episodes.jsonl"
REJECTED = "episodes.rejected.jsonl"
ERRORS = "errors.jsonl"
#: settings that must not change when a run is resumed into the same folder (the inputs' digests are checked too)
RESUME_KEYS = ("agent", "options", "seed", "hard", "episodes_file", "image_size")


def agent_env(agent: Agent, hard: bool = False, image_size: int = 256, **source: Any) -> gym.Env:
    """The environment ``agent`` plays in, bound to it: its own image size (else ``image_size``), no camera for a
    blind agent, text observations for one that reads text. ``source``: ``split=`` or ``episodes=``."""
    text = {"obs_mode": "text"} if getattr(agent, "needs_text", False) else {}
    env = gym.make("LangRearrangeHard-v0" if hard else "LangRearrange-v0", render=agent.needs_rgb,
                   image_size=agent.image_size or image_size, **text, **source)
    agent.bind(env)
    return env


@dataclass
class EvalConfig:
    agent: str
    options: dict[str, str] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=lambda: list(DATASETS))
    episodes: int = 100
    seed: int = 0
    hard: bool = False
    image_size: int = 256
    episodes_file: str | None = None
    video: int = 0
    name: str = ""


class Runner:
    """One agent and its environments; plays single episodes and returns their records."""

    def __init__(self, cfg: EvalConfig, agent: Agent | None = None) -> None:
        self.cfg = cfg
        options = dict(cfg.options)
        if cfg.agent in SEEDED_AGENTS:  # --seed seeds the random agents' draws too (an explicit --opt seed= wins)
            options.setdefault("seed", str(cfg.seed))
        self.agent: Agent = agent if agent is not None else load_agent(cfg.agent, **options)
        self.envs: dict[str, gym.Env] = {}

    def env(self, dataset: str) -> gym.Env:
        if dataset not in self.envs:
            source = {"episodes": self.cfg.episodes_file} if self.cfg.episodes_file else {"split": dataset}
            self.envs[dataset] = agent_env(self.agent, hard=self.cfg.hard, image_size=self.cfg.image_size, **source)
        return self.envs[dataset]

    def play(self, dataset: str, index: int, video_dir: Path | None = None) -> dict[str, Any]:
        """The episode's record, or ``{"dataset", "index", "error"}`` if the agent could not play it."""
        try:
            return self._play(dataset, index, video_dir)
        except InfrastructureError as e:
            return {"dataset": dataset, "index": index, "error": str(e)}

    def _play(self, dataset: str, index: int, video_dir: Path | None) -> dict[str, Any]:
        env = self.env(dataset)
        obs, info = env.reset(seed=self.cfg.seed, options={"episode_index": index})
        self.agent.reset(obs, info)
        frames = [self._frame(env, obs, "start")] if video_dir else []
        actions, feedback, total, invalid = [], [], 0.0, 0
        done = False
        while not done:
            action = self.agent.act(obs, info)
            obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            actions.append(info["action_name"])
            feedback.append(info["feedback"])
            total += float(reward)
            invalid += bool(info["invalid"])
            if video_dir:
                frames.append(self._frame(env, obs, f"{info['action_name']}: {info['feedback']}"))
        episode = env.unwrapped.episode
        record = {"dataset": dataset, "index": index, "episode_id": episode.episode_id,
                  "instruction": episode.instruction, "actions": actions, "feedback": feedback,
                  **episode_metrics(bool(info["success"]), len(actions), invalid),
                  "success": bool(info["success"]), "steps": len(actions), "invalid": invalid, "reward": round(total, 4),
                  "agent": self.agent.episode_log()}
        if video_dir:
            from gym_langrearrange.render.video import save_gif

            save_gif(frames + frames[-1:], video_dir / f"{dataset}-{index}.gif")
        return record

    @staticmethod
    def _frame(env: gym.Env, obs: dict[str, Any], caption: str):
        from gym_langrearrange.render import render_topdown, side_by_side
        from gym_langrearrange.render.video import annotate

        camera = obs["rgb"] if "rgb" in obs else env.unwrapped.camera()
        view = side_by_side(camera, render_topdown(env.unwrapped.state, size=camera.shape[0] * 3 // 2))
        return annotate(view, [f"Instruction: {obs['instruction']}", caption])

    def close(self) -> None:
        self.agent.close()
        for env in self.envs.values():
            env.close()


# --- worker processes ---------------------------------------------------------------------

_RUNNER: Runner | None = None


def _init_worker(cfg: EvalConfig, parent: int) -> None:
    global _RUNNER
    _exit_with_parent(parent)
    _RUNNER = Runner(cfg)


def _exit_with_parent(parent: int) -> None:
    """A worker whose evaluation process died (even by ``kill -9``) exits too, instead of running on.

    Linux delivers SIGKILL at once (``PR_SET_PDEATHSIG``); elsewhere a thread notices the new parent.
    """
    try:
        import ctypes
        import signal

        armed = ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        armed = False
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if armed:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _play_in_worker(dataset: str, index: int, video_dir: str | None) -> dict[str, Any]:
    assert _RUNNER is not None
    return _RUNNER.play(dataset, index, Path(video_dir) if video_dir else None)


# --- the results folder ---------------------------------------------------------------------

REQUIRED_FIELDS = {"dataset": str, "index": int, "success": (bool, float, int), "efficiency": (float, int),
                   "invalid_rate": (float, int)}


def _parse_record(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or any(not isinstance(record.get(k), t) for k, t in REQUIRED_FIELDS.items()):
        return None
    return record


def read_records(path: Path) -> list[dict[str, Any]]:
    """Finished episodes, each (dataset, index) once; the file is repaired so that it holds just those.

    A torn last line (the run was killed mid-write) is cut off. Any other line that is not a
    finished-episode record, or repeats an episode already read, is moved to
    ``episodes.rejected.jsonl`` beside it (with a warning), never silently dropped; blank lines
    are removed. Every record after a bad line is kept.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    records, seen, rejected, blank = [], set(), [], 0
    for number, raw in enumerate(lines + ([torn] if torn else [])):
        record = _parse_record(raw) if raw.strip() else None
        if record is not None and (record["dataset"], record["index"]) not in seen:
            records.append(record)
            seen.add((record["dataset"], record["index"]))
        elif number == len(lines) and record is None:
            pass  # half of a line: the episode was not finished
        elif raw.strip():
            rejected.append(raw)
        else:
            blank += 1
    if rejected or blank or torn:
        if rejected:
            side = path.with_name(REJECTED)
            with open(side, "ab") as f:
                f.write(b"".join(r + b"\n" for r in rejected))
                f.flush()
                os.fsync(f.fileno())
            warnings.warn(f"{path}: {len(rejected)} line(s) that are not finished-episode records (or repeat one) "
                          f"were moved to {side}; {len(records)} records kept", stacklevel=2)
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
    return records


def _fingerprint(cfg: EvalConfig) -> dict[str, str]:
    """Digests of the inputs that define the results beyond the settings: the episode file's bytes,
    a checkpoint's files, the package's code."""
    prints = {"code": code_version()}
    if cfg.episodes_file:
        prints["episodes_file"] = file_digest(cfg.episodes_file)
    agent = Path(cfg.agent)
    if cfg.agent not in AGENTS and agent.exists():
        folder = agent if agent.is_dir() else agent.parent
        prints["checkpoint"] = file_digest(*sorted(p for p in folder.iterdir() if p.is_file()))
    return prints


def _check_resume(out: Path, cfg: EvalConfig, fingerprint: dict[str, str], has_results: bool) -> None:
    """Refuse to add episodes to results made with other settings or inputs, naming what differs.

    A folder with no finished episode (e.g. after a failed start) takes the new settings."""
    saved = out / "config.json"
    if has_results and saved.exists():
        before = read_json(saved, "evaluation config")
        current = {**{k: getattr(cfg, k) for k in RESUME_KEYS},
                   **{f"fingerprint.{k}": v for k, v in fingerprint.items()}}
        recorded = {**{k: before.get(k) for k in RESUME_KEYS},
                    **{f"fingerprint.{k}": before.get("fingerprint", {}).get(k) for k in fingerprint}}
        differ = [f"{k}={recorded[k]!r}, but this run has {k}={current[k]!r}"
                  for k in current if recorded[k] != current[k]]
        if differ:
            raise ResumeMismatch(f"{out} holds results made with {'; '.join(differ)} (the episode file, the "
                                 f"checkpoint or the code changed if a fingerprint differs); use another --out, "
                                 f"or delete the folder to start again")
    atomic_write_json(saved, {**asdict(cfg), "fingerprint": fingerprint})


def _tasks(cfg: EvalConfig, indices: dict[str, list[int]], done: set[tuple[str, int]]) -> list[tuple[str, int, bool]]:
    return [(dataset, i, n < cfg.video) for dataset in cfg.datasets for n, i in enumerate(indices[dataset])
            if (dataset, i) not in done]


def _dataset_indices(cfg: EvalConfig) -> dict[str, list[int]]:
    """Per dataset column, the episode indices to play (the first ``cfg.episodes``): of the dataset, or of the
    episode file's episodes that column holds (``custom:SPLIT``, one column per split the file names)."""
    if cfg.episodes_file:
        episodes = load_episodes(cfg.episodes_file, check_solvable=False)
        columns = custom_dataset_names(episodes)
        return {d: [i for i, c in enumerate(columns) if c == d][:cfg.episodes] for d in cfg.datasets}
    return {d: list(range(min(cfg.episodes, DATASET_SIZES[d]))) for d in cfg.datasets}


def evaluate(cfg: EvalConfig, out: Path, workers: int = 1, progress: bool = True, agent: Agent | None = None,
             stop_after_errors: int = 5) -> dict[str, Any]:
    """Run (or resume) an evaluation into ``out`` and write every report; returns the report.

    ``agent``: an already built agent (e.g. a model being trained) instead of ``cfg.agent``; one process.
    Episodes the agent could not play (``InfrastructureError``) go to ``errors.jsonl``, count in no
    rate and are retried by the next run; ``stop_after_errors`` of them in a row stop the run.
    Only one process writes into ``out`` at a time (``RunFolderBusy`` otherwise).
    """
    if agent is not None and workers > 1:
        raise ValueError("an agent object can only be evaluated with workers=1")
    if not cfg.datasets:
        raise ValueError("datasets must name at least one dataset")
    out = Path(out)
    if agent is None:
        check_agent_spec(cfg.agent)  # an unknown agent fails here, before anything is written
    with lock(out, "evaluation"):
        return _evaluate_locked(cfg, out, workers, progress, agent, stop_after_errors)


def _evaluate_locked(cfg: EvalConfig, out: Path, workers: int, progress: bool, agent: Agent | None,
                     stop_after_errors: int) -> dict[str, Any]:
    from tqdm.auto import tqdm

    path = out / RECORDS
    records = read_records(path)
    fingerprint = _fingerprint(cfg)
    _check_resume(out, cfg, fingerprint, has_results=bool(records))
    indices = _dataset_indices(cfg)
    tasks = _tasks(cfg, indices, {(r["dataset"], r["index"]) for r in records})
    wanted = {(d, i) for d in cfg.datasets for i in indices[d]}
    video_dir = out / "videos"
    done = sum((r["dataset"], r["index"]) in wanted for r in records)
    bar = tqdm(total=len(tasks) + done, initial=done, desc=f"evaluating {cfg.name}", unit="ep",
               disable=not progress, dynamic_ncols=True)
    wins = sum(r["success"] for r in records)
    errors_in_a_row, stopped = 0, None
    with open(path, "a") as sink, open(out / ERRORS, "a") as error_log:
        def keep(record: dict[str, Any]) -> bool:
            """Store one result; False when the run must stop (too many errors in a row)."""
            nonlocal wins, errors_in_a_row, stopped
            if "error" in record:
                error_log.write(json.dumps({**record, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
                error_log.flush()
                errors_in_a_row += 1
                if errors_in_a_row >= stop_after_errors:
                    stopped = record["error"]
                    return False
                return True
            errors_in_a_row = 0
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            records.append(record)
            wins += record["success"]
            bar.update(1)
            bar.set_postfix_str(f"{record['dataset']} success {wins / len(records):.0%}")
            return True

        if workers <= 1:
            runner = Runner(cfg, agent)
            try:
                for dataset, index, video in tasks:
                    if not keep(runner.play(dataset, index, video_dir if video else None)):
                        break
            finally:
                if agent is None:
                    runner.close()
                else:
                    for env in runner.envs.values():
                        env.close()
        else:
            import multiprocessing

            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker, initargs=(cfg, os.getpid()))
            try:
                futures = [pool.submit(_play_in_worker, d, i, str(video_dir) if v else None) for d, i, v in tasks]
                for future in as_completed(futures):
                    if not keep(future.result()):
                        break
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    bar.close()
    report = _write_reports(cfg, out, records, wanted, fingerprint)
    if stopped is not None:
        raise InfrastructureError(f"stopped after {stop_after_errors} episodes in a row that {cfg.name} could not "
                                  f"play; the last error: {stopped}. The {report['episodes']} finished episodes are "
                                  f"kept in {out}; fix the cause and rerun the same command to play the rest")
    return report


def _write_reports(cfg: EvalConfig, out: Path, records: list[dict[str, Any]], wanted: set[tuple[str, int]],
                   fingerprint: dict[str, str]) -> dict[str, Any]:
    finished = [r for r in records if (r["dataset"], r["index"]) in wanted]
    summary = summarize(finished)
    report = {"name": cfg.name, "config": asdict(cfg), "fingerprint": fingerprint, "summary": summary,
              "episodes": len(finished), "missing": len(wanted) - len(finished)}
    atomic_write_json(out / "summary.json", report)
    write_csv(summary, out / "summary.csv")
    atomic_write_text(out / "table.md", markdown_table({cfg.name: summary}))
    bar_chart({cfg.name: summary}, out / "success.png", title=f"{cfg.name}: success per dataset")
    return report


def _parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--opt expects key=value, got {pair!r}")
        options[key] = value
    return options


def custom_dataset_names(episodes: list[Any]) -> list[str]:
    """The column of each episode of an episode file: ``custom:SPLIT`` by the split it names, so a file
    mixing splits is reported per dataset, and never under an official dataset's name alone (a custom
    file is not mistaken for, or merged with, the official dataset its episodes say they come from)."""
    return [f"custom:{e.split}" for e in episodes]


def run_name(agent: str) -> str:
    """The name of an agent in tables: a registered agent's, or a checkpoint's ``name`` in its agent.json."""
    if agent in AGENTS:
        return agent
    _, _, meta = check_agent_spec(agent)
    return str((meta or {}).get("name") or Path(agent).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", required=True, help=f"one of {', '.join(AGENTS)}, or a checkpoint path")
    parser.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                        help="agent option, repeatable (e.g. model=smollm2-135m, base_url=http://127.0.0.1:8000/v1)")
    parser.add_argument("--datasets", default=list(DATASETS), type=comma_list(list(DATASETS)),
                        help="'all' (default) or a comma-separated list of dataset names")
    parser.add_argument("--episodes", type=positive_int, default=100,
                        help="first N episodes of each dataset (default 100)")
    parser.add_argument("--episodes-file", default=None, help="evaluate on a custom episode JSON file instead")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="seeds the episode resets and the random agents' draws (default 0)")
    parser.add_argument("--hard", action="store_true", help="LangRearrangeHard-v0 (invalid ends, stop required)")
    parser.add_argument("--image-size", type=positive_int, default=256)
    parser.add_argument("--video", type=nonnegative_int, default=0, metavar="K",
                        help="save GIFs of the first K episodes")
    parser.add_argument("--workers", type=positive_int, default=1, help="parallel processes")
    parser.add_argument("--stop-after-errors", type=positive_int, default=5, metavar="N",
                        help="stop after N episodes in a row that the agent could not play (an API down; default 5)")
    parser.add_argument("--name", default=None, help="run name in tables (default: the agent)")
    parser.add_argument("--out", default=None, help="results folder (default: results/<name>)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    datasets = args.datasets
    if args.episodes_file:
        episodes = load_episodes(args.episodes_file)  # validates now, with a clear error
        datasets = list(dict.fromkeys(sorted(custom_dataset_names(episodes))))
    name = args.name or run_name(args.agent)
    cfg = EvalConfig(agent=args.agent, options=_parse_options(args.opt), datasets=datasets, episodes=args.episodes,
                     seed=args.seed, hard=args.hard, image_size=args.image_size, video=args.video, name=name,
                     episodes_file=str(Path(args.episodes_file).resolve()) if args.episodes_file else None)
    out = Path(args.out or Path("results") / name)
    report = evaluate(cfg, out, workers=args.workers, progress=not args.no_progress,
                      stop_after_errors=args.stop_after_errors)
    print(markdown_table({name: report["summary"]}))
    if report["missing"]:
        print(f"{report['missing']} of {report['episodes'] + report['missing']} episodes are not finished")
    print(f"results in {out}/ (episodes.jsonl, summary.json, summary.csv, table.md, success.png)")
    return 0


def console_main() -> int:
    """The ``langrearrange-evaluate`` console script."""
    return run_main(main, prog="langrearrange-evaluate")


if __name__ == "__main__":
    sys.exit(run_main(main, prog="python -m agents.evaluate"))
