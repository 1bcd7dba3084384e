"""Dask clusters: parse ``--cluster``, connect, and run tasks with retries and a progress bar.

screenfit does not schedule anything itself: a local cluster is Dask's ``LocalCluster``, a
SLURM one is ``dask_jobqueue.SLURMCluster`` configured from a YAML file, and an existing
cluster is reached by its scheduler address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import dask
from distributed import Client, LocalCluster, as_completed
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from screenfit.errors import ScreenfitInputError
from screenfit.inference.memory import worker_environment

T = TypeVar("T")
R = TypeVar("R")

#: Times a task is re-run after it raised (a worker that dies mid-task is handled by Dask's
#: scheduler, which reschedules the task elsewhere up to ``distributed.scheduler.allowed-failures``).
TASK_RETRIES = 2


@dataclass(frozen=True)
class ClusterSpec:
    """Where stage-2 chunks run: ``local:N`` workers, ``tcp://HOST:PORT`` or ``slurm:CONFIG.yaml``."""

    kind: Literal["local", "address", "slurm"]
    workers: int = 0
    address: str | None = None
    config: Path | None = None

    def __str__(self) -> str:
        if self.kind == "local":
            return f"local:{self.workers}"
        if self.kind == "slurm":
            return f"slurm:{self.config}"
        return str(self.address)


def parse_cluster(text: str) -> ClusterSpec:
    """Parse the ``--cluster`` value; a clear error names the accepted forms."""
    forms = "local:N (N worker processes here), tcp://HOST:PORT (a running Dask scheduler) or slurm:CONFIG.yaml"
    if text.startswith("local:"):
        n = text.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise ScreenfitInputError(f"--cluster {text}: N must be a positive integer.", fix=f"use {forms}.")
        return ClusterSpec("local", workers=int(n))
    if text.startswith(("tcp://", "tls://", "ucx://")):
        return ClusterSpec("address", address=text)
    if text.startswith("slurm:"):
        path = Path(text.split(":", 1)[1])
        if not path.is_file():
            raise ScreenfitInputError(
                "SLURM cluster configuration not found.", file=str(path),
                fix="write a YAML file with dask_jobqueue.SLURMCluster arguments (see docs/distributed.md).",
            )  # fmt: skip
        return ClusterSpec("slurm", config=path)
    raise ScreenfitInputError(f"unknown --cluster '{text}'.", fix=f"use {forms}.")


def slurm_cluster(config: Path) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` from a YAML file of its keyword arguments (plus ``jobs``)."""
    import yaml

    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as err:
        raise ScreenfitInputError(
            "--cluster slurm:… needs dask-jobqueue.", fix="pip install 'screenfit[slurm]'."
        ) from err
    settings = yaml.safe_load(config.read_text()) or {}
    if not isinstance(settings, dict):
        raise ScreenfitInputError("the SLURM configuration must be a mapping.", file=str(config), fix="see docs.")
    jobs = int(settings.pop("jobs", 1))
    try:
        cluster = SLURMCluster(**settings)
    except (TypeError, ValueError) as err:
        raise ScreenfitInputError(
            f"invalid SLURM configuration: {err}", file=str(config),
            fix="use dask_jobqueue.SLURMCluster's arguments (cores, memory, queue, walltime, …).",
        ) from err  # fmt: skip
    cluster.scale(jobs=jobs)
    return cluster


@contextmanager
def connect(spec: ClusterSpec | Client) -> Iterator[Client]:
    """A Dask client for ``spec``; clusters started here are shut down on exit. A client passes through."""
    if isinstance(spec, Client):
        yield spec
        return
    if spec.kind == "address":
        try:
            client = Client(spec.address, timeout="30s")
        except OSError as err:
            raise ScreenfitInputError(
                f"cannot reach the Dask scheduler at {spec.address}: {err}", fix="check the address and that it runs."
            ) from err
        with client:
            yield client
        return
    if spec.kind == "local":
        # The workers get the command's allocator settings (inference/memory.py) in the environment
        # they are spawned with (glibc reads its arena limit when a process starts), unless the
        # user's environment or Dask configuration already sets them.
        key = "distributed.nanny.pre-spawn-environ"
        with dask.config.set({key: {**worker_environment(), **dask.config.get(key, default={})}}):
            cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    else:
        assert spec.config is not None
        cluster = slurm_cluster(spec.config)
    with cluster, Client(cluster) as client:
        yield client


def worker_memory(client: Client) -> tuple[int, int]:
    """(number of workers, smallest worker memory limit in bytes; 0 when unlimited)."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [int(w.get("memory_limit") or 0) for w in workers]
    return len(limits), min(limits) if limits else 0


def map_tasks(
    client: Client, fn: Callable[[T], R], tasks: Sequence[T], names: Sequence[str], progress: bool = True
) -> list[R]:
    """Run ``fn`` over ``tasks`` on the cluster, in order of ``tasks``, with a progress bar and ETA.

    A task that raises is retried :data:`TASK_RETRIES` times; one whose worker dies is
    rescheduled by Dask. The first task that still fails raises here.
    """
    futures = client.map(fn, tasks, key=list(names), retries=TASK_RETRIES, pure=False)
    position = {f.key: i for i, f in enumerate(futures)}
    results: list[R | None] = [None] * len(futures)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, disable=not progress, transient=False) as bar:
        job = bar.add_task("stage 2: gene chunks", total=len(futures))
        for future, result in as_completed(futures, with_results=True):
            results[position[future.key]] = result
            bar.advance(job)
    return results  # type: ignore[return-value]
