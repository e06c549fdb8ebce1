"""Where a sweep's jobs run: local worker processes, a SLURM job array (submitit), or a Ray cluster.
Each executor takes the jobs and yields a :class:`JobResult` per job as it finishes."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Callable

from agents.atari.jobs import Job, JobResult, run_job
from agents.atari.presets import Preset


def run_local(jobs: list[Job], root: Path, preset: Preset, workers: int, **_: Any):
    """``workers`` jobs at a time, each a child process with an equal share of this machine's cores."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // workers)
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(run_job, job, str(root), preset, threads) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


def run_submitit(jobs: list[Job], root: Path, preset: Preset, cluster: str, slurm: dict[str, Any], **_: Any):
    """One SLURM job array (``cluster="slurm"``), or submitit's local executor (``"local"``, for tests)."""
    import submitit

    executor = submitit.AutoExecutor(folder=str(root / "submitit"), cluster=cluster)
    executor.update_parameters(**slurm)
    array = executor.map_array(run_job, jobs, [str(root)] * len(jobs), [preset] * len(jobs))
    for job, handle in zip(jobs, array):
        try:
            yield handle.result()
        except Exception as e:  # the job's process died (preempted, out of memory, ...): report, go on
            yield JobResult(job, "failed", detail=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")


def run_ray(jobs: list[Job], root: Path, preset: Preset, address: str | None, cpus_per_job: int, **_: Any):
    """One Ray task per job, on the cluster at ``address`` (a local Ray when None)."""
    import ray

    if address:
        check_answers(address)
    ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
             **({} if address else {"num_cpus": max(cpus_per_job, os.cpu_count() or 1)}))
    try:
        task = ray.remote(num_cpus=cpus_per_job)(run_job)
        pending = {task.remote(job, str(root), preset, cpus_per_job): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done[0])
            try:
                yield ray.get(done[0])
            except Exception as e:
                yield JobResult(job, "failed", detail=f"{type(e).__name__}: {e}")
    finally:
        ray.shutdown()


def check_answers(address: str, timeout: float = 5.0) -> None:
    """Fail at once, naming the address, when nothing listens there (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ray-address must be HOST:PORT (e.g. 10.0.0.5:6379), got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConnectionError(f"--ray-address {address} does not answer ({e.strerror or e}); start the cluster "
                              f"with 'ray start --head', or leave --ray-address out for a local Ray") from None


EXECUTORS: dict[str, Callable[..., Any]] = {"local": run_local, "submitit": run_submitit, "ray": run_ray}
