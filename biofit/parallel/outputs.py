"""The output folder of many fits: one folder a fit, written atomically, and ``summary.csv``.

* `install(files, folder)`: the files a worker sent back go into a temporary folder beside
  `folder` and are moved in, ``fit.json`` last, as `FitResult.save` does: a folder holding
  ``fit.json`` holds a complete fit, and nothing else counts as done.
* `finished(folder, model)`: the `FitResult` of a complete fit already there (reused instead of
  recomputed; a fit of another model there is an error rather than a silent reuse).
* `summary_row(name, source, outcome)`: one row a task: the recording's name and source, model,
  status (``fitted``, ``reused``, ``failed``), error, worker, the fit's wall time and the whole
  task's, method, loss, the parameters (``param.<name>``, SI) and the mean train and test scores
  (``train.<score>``, ``test.<score>``); `write_csv` writes a table atomically.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from biofit.fitting import FitResult, load_result
from biofit.io import write_atomic
from biofit.io.atomic import staged_folder
from biofit.parallel.tasks import FitFailure


def install(files: dict, folder: Path) -> Path:
    """Write `files` (name -> bytes) into `folder` atomically (module docstring); returns it."""
    bad = [name for name in files if Path(name).name != name or name.startswith(".")]
    if bad or "fit.json" not in files:
        raise ValueError(f"a fit's files must be plain names including fit.json; got {sorted(files)}")
    folder = Path(folder)
    with staged_folder(folder, last="fit.json") as tmp:  # fit.json, the marker of a complete fit, last
        for name, data in files.items():
            (tmp / name).write_bytes(data)
    return folder


def finished(folder: Path, model: str) -> FitResult | None:
    """The fit saved in `folder` if it is complete (has ``fit.json``), else None."""
    path = Path(folder) / "fit.json"
    if not path.is_file():
        return None
    try:
        stored = load_result(path)
        names = {f.name for f in dataclasses.fields(FitResult)}
        result = FitResult(**{k: v for k, v in stored.items() if k in names})
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not a fit biofit can read ({exc}); remove it or recompute "
                         f"with force=True (--force)") from exc
    if result.model != model:
        raise ValueError(f"{folder} holds a fit of {result.model!r}, not {model!r}: choose another "
                         f"output folder or recompute with force=True (--force)")
    result.fitted = tuple(result.fitted)
    return result


def summary_row(name: str, source: str, outcome, reused: bool = False) -> dict:
    """The summary row of one task (module docstring); `outcome` a `FitResult` or `FitFailure`."""
    if isinstance(outcome, FitFailure):
        return {"name": name, "source": source, "model": outcome.model, "status": "failed",
                "error": outcome.error, "worker": outcome.worker}
    run = outcome.extra.get("run", {})
    row = {"name": name, "source": source, "model": outcome.model,
           "status": "reused" if reused else "fitted", "error": "", "worker": run.get("worker", ""),
           "wall_time_s": outcome.wall_time_s, "task_time_s": run.get("task_time_s"),
           "method": outcome.method, "loss": outcome.loss}
    row.update({f"param.{k}": v for k, v in outcome.parameters.items()})
    for part in ("train", "test"):
        scores = (getattr(outcome, part) or {}).get("mean", {})
        row.update({f"{part}.{k}": v for k, v in scores.items()})
    return row


def write_csv(table, path) -> Path:
    """Write a `pandas.DataFrame` to `path` as CSV (no index), atomically."""
    text = table.to_csv(index=False).encode()
    return write_atomic(path, lambda f: f.write(text))
