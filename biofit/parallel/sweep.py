"""`sweep`: a function over the Cartesian product of a grid of settings, on a Dask cluster, as a
table (a reference simulation or a training run over a grid of intrinsic parameters, say).

``grid`` maps each setting's name to its values; the points are their Cartesian product in
`itertools.product` order (the last name varies fastest), one task each, called as
``function(**point)`` with torch and BLAS at ``torch_threads``. The function returns a number (the
column ``value``) or a mapping of names to numbers or strings (a column each). A point whose call
raises, or returns anything else, gets its error in the ``error`` column (empty where all went
well) and no values; the other points go on. The table is a `pandas.DataFrame` in grid order: the
grid's columns, the results', ``error``; with `out`, also written to that CSV file atomically.

Example
-------
>>> grid_points({"tau_mem": [0.01, 0.02], "R": [1e8]})
[{'tau_mem': 0.01, 'R': 100000000.0}, {'tau_mem': 0.02, 'R': 100000000.0}]
"""

from __future__ import annotations

import itertools
import numbers
import uuid
from collections.abc import Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from biofit.parallel.cluster import as_finished, connect, thread_limits, usable_cores
from biofit.parallel.outputs import write_csv


def grid_points(grid: Mapping[str, Sequence]) -> list[dict]:
    """The points of `grid` (module docstring); ValueError/TypeError naming a bad entry."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty mapping name -> list of values")
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier() or name in ("value", "error"):
            raise ValueError(f"grid name {name!r} must be a Python identifier other than 'value' and 'error'")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise TypeError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
    return [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]


def as_columns(value, point: Mapping) -> dict:
    """A function's result as the point's result columns plus ``error`` (module docstring)."""
    values = value if isinstance(value, Mapping) else {"value": value}
    row = {}
    for key, item in values.items():
        if not isinstance(key, str) or key in point or key == "error":
            return {"error": f"ValueError: result name {key!r} is not a string or is also a column of "
                             "the grid ('error' is reserved)"}
        item = item.item() if isinstance(item, np.generic) else item
        if not isinstance(item, (numbers.Real, str)):
            return {"error": f"TypeError: result {key!r} is a {type(item).__name__}; return a number, "
                             "a string, or a mapping of names to them"}
        row[key] = item
    return {**row, "error": ""}


def evaluate_point(function, point: dict, torch_threads: int) -> dict:
    """On a worker: ``function(**point)`` as result columns, or its error."""
    with thread_limits(torch_threads):
        try:
            value = function(**point)
        except Exception as exc:  # noqa: BLE001 -- the point's row says why; the others go on
            return {"error": f"{type(exc).__name__}: {exc}"}
    return as_columns(value, point)


def sweep(function, grid: Mapping[str, Sequence], *, scheduler=None, workers: int | None = None,
          out=None, torch_threads: int = 1, progress: bool = True):
    """Evaluate `function` at every point of `grid` on a Dask cluster; the table of the module
    docstring. `scheduler`, `workers`: as in `biofit.parallel.fit_many`; `out`: a CSV path."""
    import pandas as pd

    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    points = grid_points(grid)
    rows: list[dict] = [{} for _ in points]
    token, index = uuid.uuid4().hex[:12], {}

    def calls():
        for k, point in enumerate(points):
            key = f"biofit-sweep-{token}-{k}"
            index[key] = k
            yield key, evaluate_point, (function, point, torch_threads)

    size = workers if workers is not None or scheduler is not None else min(usable_cores(), len(points))
    with connect(scheduler, size) as client, \
            tqdm(total=len(points), unit="point", desc="sweep", disable=not progress) as bar:
        for future in as_finished(client, calls()):
            k = index.pop(future.key)
            if future.status == "finished":
                rows[k] = future.result()
            else:
                exc = future.exception() if future.status == "error" else RuntimeError(f"task {future.status}")
                rows[k] = {"error": f"{type(exc).__name__}: {exc}"}
            bar.update(1)
    table = pd.DataFrame([{**point, **row} for point, row in zip(points, rows)])
    table = table[[c for c in table.columns if c != "error"] + ["error"]]
    if out is not None:
        write_csv(table, out)
    return table
