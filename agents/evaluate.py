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
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

import gym_langrearrange  # noqa: F401  (registers the env ids)
from agents.core import AGENTS, Agent, load_agent
from agents.core.registry import SEEDED_AGENTS
from agents.results import bar_chart, episode_metrics, markdown_table, summarize, write_csv
from gym_langrearrange.datasets import DATASET_SIZES, DATASETS, load_episodes

RECORDS = "episodes.jsonl"
#: settings that must not change when a run is resumed into the same folder
RESUME_KEYS = ("agent", "options", "seed", "hard", "episodes_file", "image_size")


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
            env_id = "LangRearrangeHard-v0" if self.cfg.hard else "LangRearrange-v0"
            source = {"episodes": self.cfg.episodes_file} if self.cfg.episodes_file else {"split": dataset}
            size = self.agent.image_size or self.cfg.image_size
            env = gym.make(env_id, render=self.agent.needs_rgb, image_size=size, **source)
            self.agent.bind(env)
            self.envs[dataset] = env
        return self.envs[dataset]

    def play(self, dataset: str, index: int, video_dir: Path | None = None) -> dict[str, Any]:
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


def _init_worker(cfg: EvalConfig) -> None:
    global _RUNNER
    _RUNNER = Runner(cfg)


def _play_in_worker(dataset: str, index: int, video_dir: str | None) -> dict[str, Any]:
    assert _RUNNER is not None
    return _RUNNER.play(dataset, index, Path(video_dir) if video_dir else None)


# --- the results folder ---------------------------------------------------------------------

def read_records(path: Path) -> list[dict[str, Any]]:
    """Finished episodes; a torn last line (the run was killed mid-write) is dropped from the file."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines(keepends=True)
    good, records = [], []
    for line in lines:
        try:
            records.append(json.loads(line))
            good.append(line if line.endswith("\n") else line + "\n")
        except json.JSONDecodeError:
            break
    if len(good) != len(lines) or (lines and not lines[-1].endswith("\n")):
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(good))
        os.replace(tmp, path)
    return records


def _check_resume(out: Path, cfg: EvalConfig) -> None:
    saved = out / "config.json"
    current = {k: getattr(cfg, k) for k in RESUME_KEYS}
    if saved.exists():
        before = json.loads(saved.read_text())
        for key in RESUME_KEYS:
            if before.get(key) != current[key]:
                raise SystemExit(f"error: {out} holds results made with {key}={before.get(key)!r}, but this run has "
                                 f"{key}={current[key]!r}; use another --out or delete the folder")
    out.mkdir(parents=True, exist_ok=True)
    tmp = saved.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(cfg), indent=1))
    os.replace(tmp, saved)


def _tasks(cfg: EvalConfig, done: set[tuple[str, int]]) -> list[tuple[str, int, bool]]:
    out = []
    for dataset in cfg.datasets:
        size = _dataset_size(cfg, dataset)
        for i in range(min(cfg.episodes, size)):
            if (dataset, i) not in done:
                out.append((dataset, i, i < cfg.video))
    return out


def _dataset_size(cfg: EvalConfig, dataset: str) -> int:
    if cfg.episodes_file:
        return len(load_episodes(cfg.episodes_file, check_solvable=False))
    return DATASET_SIZES[dataset]


def evaluate(cfg: EvalConfig, out: Path, workers: int = 1, progress: bool = True, agent: Agent | None = None
             ) -> dict[str, Any]:
    """Run (or resume) an evaluation into ``out`` and write every report; returns the summary.

    ``agent``: an already built agent (e.g. a model being trained) instead of ``cfg.agent``; one process.
    """
    if agent is not None and workers > 1:
        raise ValueError("an agent object can only be evaluated with workers=1")
    from tqdm.auto import tqdm

    _check_resume(out, cfg)
    path = out / RECORDS
    records = read_records(path)
    done = {(r["dataset"], r["index"]) for r in records}
    tasks = _tasks(cfg, done)
    video_dir = out / "videos"
    bar = tqdm(total=len(tasks) + len(done), initial=len(done), desc=f"evaluating {cfg.name}", unit="ep",
               disable=not progress, dynamic_ncols=True)
    wins = sum(r["success"] for r in records)
    with open(path, "a") as sink:
        def keep(record: dict[str, Any]) -> None:
            nonlocal wins
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            records.append(record)
            wins += record["success"]
            bar.update(1)
            bar.set_postfix_str(f"{record['dataset']} success {wins / len(records):.0%}")

        if workers <= 1:
            runner = Runner(cfg, agent)
            try:
                for dataset, index, video in tasks:
                    keep(runner.play(dataset, index, video_dir if video else None))
            finally:
                if agent is None:
                    runner.close()
                else:
                    for env in runner.envs.values():
                        env.close()
        else:
            import multiprocessing

            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_init_worker, initargs=(cfg,)) as pool:
                futures = [pool.submit(_play_in_worker, d, i, str(video_dir) if v else None) for d, i, v in tasks]
                for future in as_completed(futures):
                    keep(future.result())
    bar.close()
    wanted = {(d, i) for d in cfg.datasets for i in range(min(cfg.episodes, _dataset_size(cfg, d)))}
    summary = summarize(r for r in records if (r["dataset"], r["index"]) in wanted)
    report = {"name": cfg.name, "config": asdict(cfg), "summary": summary}
    (out / "summary.json").write_text(json.dumps(report, indent=1))
    write_csv(summary, out / "summary.csv")
    (out / "table.md").write_text(markdown_table({cfg.name: summary}))
    bar_chart({cfg.name: summary}, out / "success.png", title=f"{cfg.name}: success per dataset")
    return report


def _parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --opt expects key=value, got {pair!r}")
        options[key] = value
    return options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", required=True, help=f"one of {', '.join(AGENTS)}, or a checkpoint path")
    parser.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                        help="agent option, repeatable (e.g. model=smollm2-135m, base_url=http://127.0.0.1:8000/v1)")
    parser.add_argument("--datasets", default="all", help="'all' or a comma-separated list of dataset names")
    parser.add_argument("--episodes", type=int, default=100, help="first N episodes of each dataset (default 100)")
    parser.add_argument("--episodes-file", default=None, help="evaluate on a custom episode JSON file instead")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the episode resets and the random agents' draws (default 0)")
    parser.add_argument("--hard", action="store_true", help="LangRearrangeHard-v0 (invalid ends, stop required)")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--video", type=int, default=0, metavar="K", help="save GIFs of the first K episodes")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes")
    parser.add_argument("--name", default=None, help="run name in tables (default: the agent)")
    parser.add_argument("--out", default=None, help="results folder (default: results/<name>)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    if args.episodes_file:
        episodes = load_episodes(args.episodes_file)  # validates now, with a clear error
        datasets = [episodes[0].split if len({e.split for e in episodes}) == 1 else "custom"]
    elif args.datasets == "all":
        datasets = list(DATASETS)
    else:
        datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
        unknown = [d for d in datasets if d not in DATASETS]
        if unknown:
            parser.error(f"unknown dataset(s) {', '.join(unknown)}; allowed: all, {', '.join(DATASETS)}")
    name = args.name or (Path(args.agent).name if os.sep in args.agent else args.agent)
    cfg = EvalConfig(agent=args.agent, options=_parse_options(args.opt), datasets=datasets, episodes=args.episodes,
                     seed=args.seed, hard=args.hard, image_size=args.image_size, video=args.video, name=name,
                     episodes_file=str(Path(args.episodes_file).resolve()) if args.episodes_file else None)
    out = Path(args.out or Path("results") / name)
    report = evaluate(cfg, out, workers=args.workers, progress=not args.no_progress)
    print(markdown_table({name: report["summary"]}))
    print(f"results in {out}/ (episodes.jsonl, summary.json, summary.csv, table.md, success.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
