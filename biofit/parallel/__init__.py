"""Many fits and parameter sweeps on a Dask cluster (`dask.distributed`).

* `fit_many(recordings, model=..., scheduler=None, out_dir=...)`: one fit per recording (and
  model) on a cluster -- a `LocalCluster` of worker processes by default, any scheduler by its
  address, or a `distributed.Client`; results stream back as they finish (a progress bar), each
  written to its own folder at once, ``summary.csv`` at the end. Finished fits are reused, so a
  run that was stopped resumes where it was. `fit_each`: the same, one after another in this
  process. (`fits`)
* `sweep(function, grid, scheduler=None, out=...)`: a function over a grid of settings, as a table
  saved as CSV. (`sweep`)
* `connect`, `as_finished`, `thread_limits` (`cluster`): the client, the task stream, one torch
  thread per task; `FitTask`, `run_fit_task` (`tasks`): what a worker gets and does; `install`,
  `finished`, `summary_row` (`outputs`): the atomic output folders and the summary.

Faults: a worker that dies mid-task is replaced by the scheduler, which runs the task elsewhere
(a fit's outputs are written by the client alone, from the bytes a finished task returns, so
nothing half-written is left); a recording that cannot be read or fitted is a `FitFailure` and a
``failed`` row of the summary, and the others finish.

Scripts that start a local cluster need the ``if __name__ == "__main__":`` guard (the workers are
spawned processes that import the script).

>>> from biofit.parallel import fit_many, sweep
"""

from biofit.parallel.cluster import as_finished, connect, thread_limits, usable_cores
from biofit.parallel.fits import fit_each, fit_many, plan
from biofit.parallel.outputs import finished, install, summary_row, write_csv
from biofit.parallel.sweep import grid_points, sweep
from biofit.parallel.tasks import FitFailure, FitTask, TaskOutput, run_fit_task

__all__ = [
    "FitFailure", "FitTask", "TaskOutput", "as_finished", "connect", "finished", "fit_each", "fit_many",
    "grid_points", "install", "plan", "run_fit_task", "summary_row", "sweep", "thread_limits",
    "usable_cores", "write_csv",
]
