"""An on-disk index of solved episodes, so that ``reset`` never has to run the planner.

Generating an episode = drawing it (cheap) + planning it (the expensive part). The cache
stores, per episode, which draw attempt was solvable and its optimal plan: 34 bytes an
episode, 5 MB for all 150,000 training episodes. Episodes are still rebuilt from
``(dataset, index, attempt)``, so the cache can never disagree with the generator
silently: a stale plan fails the replay check in ``generate_episode``.
"""
from __future__ import annotations

import os
from functools import lru_cache
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gym_langrearrange.datasets.generator import DATASET_SIZES, GENERATOR_VERSION, check_dataset, solve_index

ROW = 34  # attempt, plan length, 32 skill ids


@lru_cache(maxsize=None)
def _fingerprint() -> str:
    """Hash of the code and data episodes are made from: any change to them starts a new cache."""
    import hashlib

    import gym_langrearrange

    root = Path(gym_langrearrange.__file__).parent
    digest = hashlib.sha1()
    for rel in ("catalog.py", "rng.py", "skills.py", "planner.py", "world/scene.py", "datasets/generator.py",
                "datasets/episode.py", "datasets/phrasings.py"):
        digest.update((root / rel).read_bytes())
    return digest.hexdigest()[:12]


def cache_dir() -> Path:
    root = os.environ.get("GYM_LANGREARRANGE_CACHE") or Path.home() / ".cache" / "gym_langrearrange"
    return Path(root) / f"v{GENERATOR_VERSION}-{_fingerprint()}"


def cache_path(dataset: str) -> Path:
    return cache_dir() / f"{check_dataset(dataset)}.npy"


def load_index(dataset: str) -> np.ndarray | None:
    """The solved-episode index of a dataset, or None if it was never built."""
    path = cache_path(dataset)
    if not path.exists():
        return None
    table = np.load(path)  # 5 MB for train: read it whole, row access must be cheap
    if table.shape != (DATASET_SIZES[dataset], ROW):
        return None  # built by another generator layout: ignore, it will be rebuilt
    return table


def _solve_chunk(args: tuple[str, int, int]) -> np.ndarray:
    dataset, start, stop = args
    out = np.full((stop - start, ROW), -1, dtype=np.int8)
    for i in range(start, stop):
        attempt, plan = solve_index(dataset, i)
        out[i - start, 0], out[i - start, 1] = attempt, len(plan)
        out[i - start, 2:2 + len(plan)] = plan
    return out


def build_index(dataset: str, workers: int | None = None, chunk: int = 500, progress: bool = True) -> Path:
    """Solve every episode of ``dataset`` and write the index atomically (a crash leaves no half file)."""
    from tqdm.auto import tqdm

    size = DATASET_SIZES[check_dataset(dataset)]
    workers = workers or os.cpu_count() or 1
    jobs = [(dataset, s, min(s + chunk, size)) for s in range(0, size, chunk)]
    table = np.empty((size, ROW), dtype=np.int8)
    bar = tqdm(total=size, desc=f"solving {dataset}", unit="ep", disable=not progress)
    if workers == 1:
        results = map(_solve_chunk, jobs)
        pool = None
    else:
        pool = ProcessPoolExecutor(workers)
        results = pool.map(_solve_chunk, jobs)
    try:
        for (_, s, e), rows in zip(jobs, results):
            table[s:e] = rows
            bar.update(e - s)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    path = cache_path(dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, table)
    os.replace(tmp, path)
    return path
