"""The Dask side of `biofit.parallel`: a client for a scheduler, tasks streamed through it, and
the thread limits every task runs under.

* `connect(scheduler, workers)`: ``None`` starts a `distributed.LocalCluster` of worker
  *processes* (one per usable core, one thread each: Brian2 and the torch step hold the GIL
  much of the time, so threads would not run fits side by side); a string is the address of a
  running scheduler (``tcp://host:8786``); a `distributed.Client` is used as is.
* `as_finished(client, calls)`: submit the calls, at most twice as many in flight as the cluster
  has threads (so a data set of hundreds of cells is not all held by the scheduler at once), and
  yield each future as it finishes (its ``key`` says which call it was). A worker that dies
  mid-task is Dask's to handle: the scheduler gives the task to another worker (up to
  ``distributed.scheduler.allowed-failures`` deaths, then the future holds a `KilledWorker`
  error); an exception raised by the task is not retried.
* `thread_limits(n)`: torch's intra-op threads and the BLAS pools at ``n`` for one task. With one
  thread per task a cluster whose workers have one thread per core never runs more threads than
  cores, and a fit's bits do not depend on how many workers share a machine.

Brian2 is imported by every worker as it joins (`ImportBrian2`). Its compiled code needs nothing
more: a worker is one long-lived process, so Brian2's in-memory caches last across its tasks, and
the compiled extensions are on disk (``~/.cython/brian_extensions``, guarded by a file lock),
shared by the workers of one machine; biofit's fixed object names make every task of a model hit
the same entry, so a model is compiled once per machine, not once per task or worker.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from distributed.diagnostics.plugin import WorkerPlugin

from biofit.validation import check_positive_int

WAIT_FOR_WORKERS_S = 300.0


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class ImportBrian2(WorkerPlugin):
    """Import Brian2 in a worker's main thread when it joins. Brian2 installs a SIGINT handler as it
    is imported, which Python allows in the main thread only: a task importing it first, in one of
    the worker's threads, would fail (``signal only works in main thread``)."""

    idempotent = True
    name = "biofit-import-brian2"

    def setup(self, worker) -> None:
        import brian2  # noqa: F401


@contextmanager
def connect(scheduler=None, workers: int | None = None):
    """A `distributed.Client` for `scheduler` (module docstring), closed on exit when made here.

    `workers`: with ``scheduler=None`` the number of worker processes of the local cluster
    (default: `usable_cores`); with an address or a client, wait (up to `WAIT_FOR_WORKERS_S`) until
    that many workers have joined before going on.
    """
    from distributed import Client, LocalCluster

    if workers is not None:
        workers = check_positive_int(workers, "workers")
    if scheduler is None:
        with LocalCluster(n_workers=workers or usable_cores(), threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.register_plugin(ImportBrian2())
            yield client
        return
    if isinstance(scheduler, Client):
        scheduler.register_plugin(ImportBrian2())
        _wait_for(scheduler, workers)
        yield scheduler
        return
    if not isinstance(scheduler, str):
        raise TypeError("scheduler must be None (a local cluster), an address such as "
                        f"'tcp://host:8786' or a distributed.Client; got {type(scheduler).__name__}")
    try:
        client = Client(scheduler)
    except OSError as exc:
        raise ConnectionError(f"no Dask scheduler answers at {scheduler!r}: {exc}") from exc
    with client:
        client.register_plugin(ImportBrian2())
        _wait_for(client, workers)
        yield client


def _wait_for(client, workers: int | None) -> None:
    if workers is None:
        return
    try:
        client.wait_for_workers(workers, timeout=WAIT_FOR_WORKERS_S)
    except TimeoutError as exc:
        raise ConnectionError(f"{len(client.nthreads())} of the {workers} workers asked for joined "
                              f"the scheduler within {WAIT_FOR_WORKERS_S:g} s") from exc


def as_finished(client, calls: Iterable[tuple[str, object, tuple]]) -> Iterator:
    """Submit ``function(*args)`` under the unique ``key`` for each ``(key, function, args)`` of
    `calls` (read lazily, so a call's arguments are only built when it is submitted) and yield
    each future as it finishes or fails; at most twice the cluster's threads (at least 2) in flight.
    """
    from distributed import as_completed

    calls = iter(calls)
    running = as_completed()

    def top_up() -> None:
        window = max(2, 2 * sum(client.nthreads().values()))
        while running.count() < window:
            call = next(calls, None)
            if call is None:
                return
            key, function, args = call
            running.add(client.submit(function, *args, key=key, pure=False))

    top_up()
    for future in running:
        top_up()
        yield future


@contextmanager
def thread_limits(threads: int):
    """Run the block with torch's intra-op threads and the BLAS/OpenMP pools at `threads`, then
    restore them."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = check_positive_int(threads, "torch_threads")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)
