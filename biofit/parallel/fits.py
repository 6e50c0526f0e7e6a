"""`fit_many` (on a Dask cluster) and `fit_each` (one after another, in this process): one fit per
recording and model, the same tasks, outputs and summary either way.

The plan: every recording (a path, a `Recording`, or a mapping folder name -> either) times every
model is one task; a task's folder is ``out_dir/<name>`` (``out_dir/<name>/<model>`` with several
models, ``out_dir/<model>`` with one recording and several models, ``out_dir`` itself for a single
task, as ``biofit fit`` always did); names default to the file stems (or the cell) and two tasks
may not share a folder. A folder already holding a complete fit of that model is reused, not
recomputed, unless ``force=True``. Bad options fail here, before any cluster starts; a recording
that cannot be read or fitted becomes a `FitFailure` (and a ``failed`` summary row) while the
others go on. With `out_dir`, ``out_dir/summary.csv`` gets one row a task
(`biofit.parallel.outputs.summary_row`).

``send="data"`` (default): the client reads each recording and sends it as compressed NPZ bytes;
``send="path"``: a worker reads it from its (absolute) path, which every worker must see. Equal
options and seeds give the fits of `biofit.fitting.fit` with torch at ``torch_threads``, bit for
bit, on any cluster.
"""

from __future__ import annotations

import inspect
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from biofit.fitting import METHODS, SearchSpace, fit
from biofit.io import Recording, load_recording, recording_to_bytes
from biofit.models import NeuronModel
from biofit.parallel.cluster import as_finished, connect, usable_cores
from biofit.parallel.outputs import finished, install, summary_row, write_csv
from biofit.parallel.tasks import FitFailure, FitTask, TaskOutput, run_fit_task
from biofit.validation import check_positive_int

FIT_OPTIONS = tuple(k for k in inspect.signature(fit).parameters
                    if k not in ("recordings", "model", "progress", "out_dir"))
SENDS = ("data", "path")


@dataclass(frozen=True)
class Job:
    """A planned task before its recording is read: the recording's name, its source, the model,
    the recording (a `Recording`, or a path) and the task's output folder (None without `out_dir`)."""

    name: str
    source: str
    model: object
    recording: object
    folder: Path | None

    @property
    def model_name(self) -> str:
        return self.model if isinstance(self.model, str) else self.model.name

    def task(self, send: str, format: str | None) -> FitTask:
        """The task a worker runs; with ``send="data"`` this reads the recording here."""
        rec = self.recording
        if send == "path" and not isinstance(rec, Recording):
            return FitTask(self.name, self.source, self.model, path=self.source, format=format)
        if not isinstance(rec, Recording):
            rec = load_recording(rec, format=format)
        return FitTask(self.name, self.source, self.model, data=recording_to_bytes(rec))


def _named(recordings) -> list[tuple[str, object]]:
    if isinstance(recordings, Mapping):
        items = list(recordings.items())
    else:
        if isinstance(recordings, (str, os.PathLike, Recording)):
            recordings = [recordings]
        items = [(_default_name(r, k), r) for k, r in enumerate(recordings)]
    if not items:
        raise ValueError("recordings is empty: give paths, Recordings or a mapping name -> either")
    for name, rec in items:
        if not isinstance(rec, (str, os.PathLike, Recording)):
            raise TypeError(f"recording {name!r} must be a path or a Recording, got {type(rec).__name__}")
        if not isinstance(name, str) or not name or name in (".", "..") or name.startswith(".") \
                or "/" in name or "\\" in name:
            raise ValueError(f"{name!r} is not a folder name for the outputs of a recording")
    return items


def _default_name(rec, k: int) -> str:
    if isinstance(rec, Recording):
        return rec.info.cell or (Path(rec.info.source).stem if rec.info.source else f"recording_{k}")
    return Path(rec).stem if isinstance(rec, (str, os.PathLike)) else f"recording_{k}"


def plan(recordings, model, out_dir) -> list[Job]:
    """The tasks of the module docstring, recording-major."""
    items = _named(recordings)
    models = [model] if isinstance(model, (str, NeuronModel)) else list(model)
    if not models:
        raise ValueError("model is empty: give a model name, a NeuronModel or a list of them")
    jobs, seen = [], {}
    for name, rec in items:
        source = str(Path(rec).resolve()) if not isinstance(rec, Recording) else \
            (rec.info.source or rec.info.cell or name)
        for m in models:
            model_name = m if isinstance(m, str) else getattr(m, "name", None)
            if not isinstance(model_name, str):
                raise TypeError(f"model must be a name or a NeuronModel, got {type(m).__name__}")
            parts = ([name] if len(items) > 1 else []) + ([model_name] if len(models) > 1 else [])
            relative = "/".join(parts)
            if relative in seen:
                raise ValueError(f"{seen[relative]} and {source} would both write to the folder "
                                 f"{relative!r}: pass a mapping of distinct names -> recordings")
            seen[relative] = source
            folder = None if out_dir is None else Path(out_dir, *parts)
            jobs.append(Job(name, source, m, rec, folder))
    return jobs


def check_options(jobs: list[Job], send: str, options: dict) -> None:
    """TypeError/ValueError for an unknown fit option, send mode, method or search space."""
    unknown = sorted(set(options) - set(FIT_OPTIONS))
    if unknown:
        raise TypeError(f"unknown fit option(s) {unknown}; fit options: {', '.join(FIT_OPTIONS)}")
    if send not in SENDS:
        raise ValueError(f"send must be one of {SENDS}, got {send!r}")
    method = options.get("method")
    if method is not None and method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    for model in {id(job.model): job.model for job in jobs}.values():
        SearchSpace.build(model, options.get("params"), options.get("priors"), options.get("fixed"))


def _run(recordings, model, out_dir, force, send, format, progress, options, execute) -> list:
    """Plan, reuse finished fits, run the rest through `execute`, install, summarise."""
    jobs = plan(recordings, model, out_dir)
    check_options(jobs, send, options)
    outcomes = [None if force or job.folder is None else finished(job.folder, job.model_name)
                for job in jobs]
    reused = {k for k, outcome in enumerate(outcomes) if outcome is not None}
    todo = [k for k, outcome in enumerate(outcomes) if outcome is None]
    bar = tqdm(total=len(jobs), initial=len(reused), unit="fit", desc="fits", disable=not progress)
    failed = 0
    try:
        if todo:
            for k, outcome in execute([(k, jobs[k]) for k in todo], send, format, out_dir is not None):
                if isinstance(outcome, TaskOutput):
                    if jobs[k].folder is not None:
                        install(outcome.files, jobs[k].folder)
                    outcome = outcome.result
                else:
                    failed += 1
                    bar.set_postfix(failed=failed)
                outcomes[k] = outcome
                bar.update(1)
    finally:
        bar.close()
    if out_dir is not None:
        import pandas as pd

        rows = [summary_row(job.name, job.source, outcome, k in reused)
                for k, (job, outcome) in enumerate(zip(jobs, outcomes))]
        write_csv(pd.DataFrame(rows), Path(out_dir) / "summary.csv")
    return outcomes


def _tasks(items, send, format, failures: list):
    """``(k, FitTask)`` per item; a recording the client cannot read goes to `failures`."""
    for k, job in items:
        try:
            yield k, job.task(send, format)
        except Exception as exc:  # noqa: BLE001 -- a failed row of the summary
            failures.append((k, FitFailure.of(job.name, job.source, job.model_name, exc)))


def fit_each(recordings, *, model="adex", out_dir=None, force: bool = False, send: str = "data",
             format: str | None = None, torch_threads: int = 1, progress: bool = True, **fit_options) -> list:
    """The fits of `fit_many`, one after another in this process (no Dask): ``biofit fit``
    without ``--scheduler``. Same arguments, outputs and return value as `fit_many`."""
    check_positive_int(torch_threads, "torch_threads")
    def execute(items, send, format, save):
        failures: list = []
        for k, task in _tasks(items, send, format, failures):
            yield from failures
            failures.clear()
            yield k, run_fit_task(task, fit_options, torch_threads, save)
        yield from failures

    return _run(recordings, model, out_dir, force, send, format, progress, fit_options, execute)


def fit_many(recordings, *, model="adex", scheduler=None, workers: int | None = None, out_dir=None,
             force: bool = False, send: str = "data", format: str | None = None, torch_threads: int = 1,
             progress: bool = True, **fit_options) -> list:
    """Fit `model` (a name, a `NeuronModel`, or a list: recording x model) to every recording on a
    Dask cluster (module docstring).

    Parameters
    ----------
    recordings: paths, `Recording` objects, or a mapping folder name -> either.
    scheduler: None (a `LocalCluster` of `workers` processes, default one per core, closed at the
        end), a scheduler address (``"tcp://host:8786"``) or a `distributed.Client` (kept open).
    workers: local cluster size; with an address or a client, the workers to wait for.
    out_dir: the output folder (one folder a task, ``summary.csv``); None: results only.
    force: recompute fits already complete in `out_dir`. send: ``"data"`` or ``"path"``.
    format: the recordings' format (default: from the suffix). torch_threads: per task.
    **fit_options: the keywords of `biofit.fitting.fit` (method, params, priors, fixed,
        train_sweeps, test_sweeps, loss, optimizer, dt, seed).

    Returns one entry a task, in plan order: its `FitResult` as it finished (``extra["run"]``:
    worker, task time) or was reused, or a `FitFailure`.
    """
    check_positive_int(torch_threads, "torch_threads")
    def execute(items, send, format, save):
        failures: list = []
        tasks = {}
        size = workers if workers is not None or scheduler is not None else min(usable_cores(), len(items))

        def calls():
            for k, task in _tasks(items, send, format, failures):
                key = f"biofit-fit-{task.name}-{task.model_name}-{uuid.uuid4().hex[:12]}"
                tasks[key] = (k, task)
                yield key, run_fit_task, (task, fit_options, torch_threads, save)

        with connect(scheduler, size) as client:
            for future in as_finished(client, calls()):
                yield from failures
                failures.clear()
                k, task = tasks.pop(future.key)
                if future.status == "finished":
                    yield k, future.result()
                    continue
                # the task killed its workers too often (KilledWorker), or was cancelled
                exc = future.exception() if future.status == "error" else RuntimeError(f"task {future.status}")
                yield k, FitFailure.of(task.name, task.source, task.model_name, exc)
        yield from failures

    return _run(recordings, model, out_dir, force, send, format, progress, fit_options, execute)
