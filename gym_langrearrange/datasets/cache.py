"""An on-disk index of solved episodes, so that ``reset`` never has to run the planner.

Generating an episode = drawing it (cheap) + planning it (the expensive part). The cache
stores, per episode, which draw attempt was solvable and its optimal plan: 34 bytes an
episode, 5 MB for all 150,000 training episodes. Episodes are still rebuilt from
``(dataset, index, attempt)``, so the cache can never disagree with the generator
silently: a stale plan fails the replay check in ``generate_episode``.
"""
from __future__ import annotations

import os
import warnings
from functools import lru_cache
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gym_langrearrange.datasets.generator import DATASET_SIZES, GENERATOR_VERSION, check_dataset, solve_index
from gym_langrearrange.files import atomic_write

ROW = 34  # attempt, plan length, 32 skill ids


@lru_cache(maxsize=None)
def _fingerprint() -> str:
    """Hash of the code and data episodes are made from: any change to them starts a new cache."""
    import hashlib

    import gym_langrearrange

    root = Path(gym_langrearrange.__file__).parent
    digest = hashlib.sha1()
    for rel in ("catalog.py", "rng.py", "skills.py", "planner.py", "plan_bound.py", "world/scene.py",
                "datasets/generator.py", "datasets/episode.py", "datasets/phrasings.py"):
        digest.update((root / rel).read_bytes())
    return digest.hexdigest()[:12]


def cache_dir() -> Path:
    root = os.environ.get("GYM_LANGREARRANGE_CACHE") or Path.home() / ".cache" / "gym_langrearrange"
    return Path(root) / f"v{GENERATOR_VERSION}-{_fingerprint()}"


def cache_path(dataset: str) -> Path:
    return cache_dir() / f"{check_dataset(dataset)}.npy"


def load_index(dataset: str) -> np.ndarray | None:
    """The solved-episode index of a dataset, or None if it was never built or cannot be used.

    A file that cannot be read (garbled, truncated, not a .npy) or holds the wrong shape, dtype
    or values is not fatal: it is reported once with a warning, deleted so that the next
    ``build_index`` (``python -m gym_langrearrange.datasets``, the benchmark) writes it afresh,
    and None is returned, so episodes are solved on the fly until then.
    """
    path = cache_path(dataset)
    try:
        seen = path.stat()
    except FileNotFoundError:
        return None
    except OSError as e:
        return _unusable(path, None, f"cannot be read ({e})")
    expected = (DATASET_SIZES[dataset], ROW)
    data_bytes = expected[0] * expected[1]
    if not data_bytes < seen.st_size <= data_bytes + 65536:  # the .npy header is 128 bytes or so
        return _unusable(path, seen, f"is {seen.st_size:,} bytes, expected {data_bytes:,} + a header "
                                     f"(truncated or not this dataset's index)")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        return _unusable(path, seen, f"cannot be read ({e})")
    if magic != b"\x93NUMPY":
        return _unusable(path, seen, f"is not an .npy file (it starts with {magic!r}: garbled?)")
    try:
        table = np.load(path, allow_pickle=False)  # 5 MB for train: read it whole, row access must be cheap
    except Exception as e:  # noqa: BLE001 - whatever a broken file makes numpy raise
        return _unusable(path, seen, f"cannot be read as an .npy array ({type(e).__name__}: {e})")
    if table.shape != expected or table.dtype != np.int8:
        return _unusable(path, seen, f"holds an array of {table.dtype}, shape {table.shape}; expected int8, {expected}")
    problem = _bad_rows(table)
    if problem:
        return _unusable(path, seen, problem)
    return table


#: files already reported (path, size, mtime): one warning per broken file and process
_REPORTED: set[tuple[str, int, int]] = set()


def _unusable(path: Path, seen: os.stat_result | None, why: str) -> None:
    key = (str(path), seen.st_size if seen else -1, seen.st_mtime_ns if seen else -1)
    if key not in _REPORTED:
        _REPORTED.add(key)
        warnings.warn(f"episode index cache {path} {why}; ignoring it: episodes are solved on the fly, and the "
                      f"file is deleted so that it is rebuilt (python -m gym_langrearrange.datasets)",
                      RuntimeWarning, stacklevel=3)
    try:
        now = path.stat()
        if seen is not None and (now.st_ino, now.st_size, now.st_mtime_ns) == (seen.st_ino, seen.st_size,
                                                                               seen.st_mtime_ns):
            path.unlink()  # only the file that was read, not one another process has just rebuilt in its place
    except OSError:
        pass  # gone already, or a read-only cache: it stays ignored
    return None


def _bad_rows(table: np.ndarray) -> str | None:
    """What is wrong with the index's values, if anything (cheap: a few ms for the 150,000 training rows)."""
    from gym_langrearrange.datasets.generator import MAX_ATTEMPTS
    from gym_langrearrange.skills import NUM_SKILLS

    attempt, length, plans = table[:, 0], table[:, 1], table[:, 2:]
    in_plan = np.arange(plans.shape[1])[None] < length[:, None]
    bad = ((attempt < 0) | (attempt >= MAX_ATTEMPTS) | (length < 1) | (length > plans.shape[1])
           | (in_plan & ((plans < 0) | (plans >= NUM_SKILLS))).any(axis=1))
    if bad.any():
        return f"has {int(bad.sum())} rows that are not (attempt, plan length, skill ids), e.g. row {int(bad.argmax())}"
    return None


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
    return atomic_write(cache_path(dataset), lambda f: np.save(f, table))
