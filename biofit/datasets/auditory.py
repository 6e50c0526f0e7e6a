r"""Loader of the auditory-cortex spike data (Szabó & Barthó 2021) into labelled rasters.

File layout (CSV with a header): one row per trial; the bin columns hold, for each bin of
``dt`` = 1 ms, the id of the unit that spiked in it, or ``empty`` (0) for a bin without a spike;
a label column (``sound_ID``: the stimulus) and a split column (``role``: ``train`` / ``val`` /
``test``) are found by their header names, since their positions differ between files of the
data set. Every other column is a bin; their headers must be integers, in increasing order (the
bin's index).

Output: ``raster[trial, unit, bin]`` (bool) with one channel per distinct unit id of the whole
file (``unit_ids``, sorted; channel c is unit ``unit_ids[c]``), the labels and the file's own
split, in a `LabelledRaster`.

Example
-------
>>> import io
>>> text = "0,1,2,role,sound_ID\n3,0,3,train,7\n0,5,0,test,2\n"
>>> data = load_auditory_cortex(io.StringIO(text))
>>> data.raster.shape, data.unit_ids.tolist(), data.split("train")[1].tolist()
((2, 2, 3), [3, 5], [7])
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import os

import numpy as np

from biofit.validation import check_dt

ROLES = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class LabelledRaster:
    """``raster: bool[n_trials, n_units, n_bins]``, ``labels: int[n_trials]``, ``roles:
    str[n_trials]`` (train/val/test), ``unit_ids: int[n_units]``, ``dt`` (s)."""

    raster: np.ndarray
    labels: np.ndarray
    roles: np.ndarray
    unit_ids: np.ndarray
    dt: float

    def split(self, role: str) -> tuple[np.ndarray, np.ndarray]:
        """``(raster, labels)`` of the trials whose role is ``role`` (one of `ROLES`)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
        keep = self.roles == role
        return self.raster[keep], self.labels[keep]


def _column(header: list[str], name: str, what: str) -> int:
    hits = [i for i, h in enumerate(header) if h.strip() == name]
    if len(hits) != 1:
        raise ValueError(f"the header must name exactly one {what} column {name!r}; found {len(hits)} "
                         f"(header starts {header[:5]}, ends {header[-5:]})")
    return hits[0]


def _integers(cells: np.ndarray, what: str) -> np.ndarray:
    try:
        values = cells.astype(np.float64)
    except ValueError as err:
        raise ValueError(f"{what} must hold integers: {err}") from None
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        row, col = (int(i) for i in np.argwhere(np.atleast_2d(bad))[0])
        raise ValueError(f"{what} must hold integers; {int(bad.sum())} do not (first: "
                         f"{np.atleast_2d(cells)[row, col]!r} in data row {row})")
    return values.astype(np.int64)


def load_auditory_cortex(path, label_column="sound_ID", role_column="role", dt=1e-3, empty=0) -> LabelledRaster:
    """Read a file of the data set (a path or a text stream) into a `LabelledRaster`.

    ValueError naming the problem for: a missing or repeated label/role column, a bin header that
    is not an integer or out of order, rows of another length, a label or unit id that is not an
    integer (NaN included), a role outside `ROLES`, a file without trials.
    """
    dt = check_dt(dt)
    with (open(path, newline="") if isinstance(path, (str, os.PathLike)) else contextlib.nullcontext(path)) as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise ValueError(f"{path!r}: needs a header and at least one trial row, got {len(rows)} rows")
    header, body = rows[0], rows[1:]
    lengths = {len(r) for r in body}
    if lengths != {len(header)}:
        raise ValueError(f"rows have {sorted(lengths)} cells, the header {len(header)}")
    label_at, role_at = _column(header, label_column, "label"), _column(header, role_column, "role")
    bins = [i for i in range(len(header)) if i not in (label_at, role_at)]
    names = [header[i].strip() for i in bins]
    if not all(n.lstrip("-").isdigit() for n in names) or [int(n) for n in names] != sorted(int(n) for n in names):
        raise ValueError(f"bin columns must have increasing integer headers; got {names[:5]} ... {names[-5:]}")
    cells = np.asarray(body, dtype=object)
    roles = np.array([str(r).strip() for r in cells[:, role_at]])
    unknown = sorted(set(roles.tolist()) - set(ROLES))
    if unknown:
        raise ValueError(f"column {role_column!r} has roles {unknown}; expected only {ROLES}")
    labels = _integers(cells[:, label_at], f"label column {label_column!r}")
    ids = _integers(cells[:, bins], "bin columns (unit ids)")
    unit_ids = np.unique(ids[ids != empty])
    raster = np.zeros((len(body), unit_ids.size, len(bins)), dtype=bool)
    trial, t = np.nonzero(ids != empty)
    raster[trial, np.searchsorted(unit_ids, ids[trial, t]), t] = True
    return LabelledRaster(raster, labels, roles, unit_ids, dt)

