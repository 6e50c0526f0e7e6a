"""One fit as a task: what travels to a worker, what the worker does, and what comes back.

A `FitTask` carries its recording either as data, the compressed NPZ bytes of
`biofit.io.recording_to_bytes` (the worker needs no file system shared with the client), or as a
path that every worker can read; besides it the model and the names the summary uses.
`run_fit_task` runs on a worker: it reads the recording, fits it (`biofit.fitting.fit`, progress
off, torch and BLAS at `torch_threads`) and, when the outputs are wanted, lets `FitResult.save`
write them into a scratch folder of the worker's own (Dask's local directory of the worker,
which Dask clears when the worker dies) and sends their bytes back. Only the client writes into
the output folder (`biofit.parallel.outputs`), so a worker killed mid-task leaves nothing there.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from biofit.fitting import FitResult, fit
from biofit.io import Recording, load_recording, recording_from_bytes
from biofit.parallel.cluster import thread_limits


@dataclass(frozen=True)
class FitTask:
    """One recording and one model to fit.

    `name`: the recording's name (its folder's, with several recordings); `source`: the recording
    as the summary names it (its path, or its cell or source); `model`: a model name or a
    `NeuronModel`; the recording as `data` (NPZ bytes) or as a `path` the worker reads with
    `format` (default: from the suffix).
    """

    name: str
    source: str
    model: object
    data: bytes | None = field(default=None, repr=False)
    path: str | None = None
    format: str | None = None

    @property
    def model_name(self) -> str:
        return self.model if isinstance(self.model, str) else self.model.name

    def recording(self) -> Recording:
        """The recording, decoded from `data` or read from `path`."""
        if self.data is not None:
            return recording_from_bytes(self.data, self.source)
        return load_recording(self.path, format=self.format)


@dataclass(frozen=True)
class FitFailure:
    """A task that produced no fit: its `name`, `source` and `model`, the `error` (``"Type:
    message"``) and the `worker` it failed on (``""``: it failed before reaching one)."""

    name: str
    source: str
    model: str
    error: str
    worker: str = ""

    @classmethod
    def of(cls, task_name: str, source: str, model: str, exc: BaseException, worker: str = "") -> FitFailure:
        return cls(task_name, source, model, f"{type(exc).__name__}: {exc}", worker)


@dataclass(frozen=True)
class TaskOutput:
    """What a worker sends back: the `FitResult` (``extra["run"]``: ``worker`` address and
    ``task_time_s``, reading and saving included) and the files of its folder, name -> bytes
    (empty when no output folder was asked for)."""

    result: FitResult
    files: dict = field(repr=False)


def worker_address() -> tuple[str, Path | None]:
    """The Dask worker running this task and its local directory, or ``("in-process", None)``."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return "in-process", None
    return worker.address, Path(worker.local_directory)


def run_fit_task(task: FitTask, options: dict, torch_threads: int, save: bool) -> TaskOutput | FitFailure:
    """Fit `task` with the `biofit.fitting.fit` keywords `options` (module docstring). An error
    of the recording or of the fit comes back as a `FitFailure` naming this worker, so one bad
    cell does not stop the others."""
    start = time.perf_counter()
    worker, scratch = worker_address()
    files: dict[str, bytes] = {}
    try:
        with thread_limits(torch_threads):
            recording = task.recording()
            if save:
                with tempfile.TemporaryDirectory(prefix="biofit-fit-", dir=scratch) as tmp:
                    folder = Path(tmp) / "fit"
                    result = fit(recording, task.model, progress=False, out_dir=folder, **options)
                    files = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
            else:
                result = fit(recording, task.model, progress=False, **options)
    except Exception as exc:  # noqa: BLE001 -- reported in the summary, the other fits go on
        return FitFailure.of(task.name, task.source, task.model_name, exc, worker)
    result.extra["run"] = {"worker": worker, "task_time_s": time.perf_counter() - start}
    if save:  # the saved fit.json, with where and how long it ran
        files["fit.json"] = json.dumps(result.to_dict(), indent=2).encode()
    return TaskOutput(result, files)
