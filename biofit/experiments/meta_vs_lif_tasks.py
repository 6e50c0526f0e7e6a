"""The four tasks of the meta-vs-LIF reproduction (2508.11674), full size and ``small`` (CI).

Each task is a `Task`: train / validation / test rasters ``bool[n, channels, bins]`` and labels,
and the bin width ``dt``. The synthetic tasks are drawn once (data seed 0) and split 60/20/20,
stratified; the runs' seeds vary the networks, not the data. The auditory-cortex task keeps the
file's own train/val/test split (`biofit.datasets.auditory`), its 1-ms bins OR-pooled to
``AUDITORY_BIN`` (`biofit.encoding.lzc.coarse_grain`) so that a full run fits in hours on a CPU.

=============  ==========================================================  =====================
task           full                                                        small
=============  ==========================================================  =====================
sources        3 kinds, 100/class, 8 ch x 300 bins, 50 Hz, lambda 0.8,     20/class, 4 ch x 100
               15 dead bins (`biofit.datasets.source_tasks`)
patterns       3 templates, 100/class, 20 ch x 200 bins, 10 Hz, 50-bin     20/class, 10 ch x 100
               window, 2 ms jitter (`biofit.datasets.patterns`)
digits         10 digits, 100/class, rate code 100 Hz, 100 bins            digits 0/1, 30/class,
               (`biofit.datasets.digits`)                                  50 bins
auditory       every trial of the file, 18 sounds, 5-ms bins (100)         sounds 1-4, 10-ms bins
=============  ==========================================================  =====================
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.model_selection import train_test_split

from biofit.datasets.auditory import load_auditory_cortex
from biofit.datasets.digits import coded_digits
from biofit.datasets.patterns import embedded_patterns
from biofit.datasets.source_tasks import source_task
from biofit.encoding.lzc import coarse_grain

DT = 1e-3  # bin width of the synthetic tasks, s
AUDITORY_BIN = {False: 5, True: 10}  # 1-ms bins pooled per bin, full / small
AUDITORY_FILE = Path("auditory_cortex") / "D_A_I.csv"


class Task(NamedTuple):
    """One classification task: rasters ``[n, channels, bins]``, labels, splits and ``dt`` (s)."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    dt: float


def _split(name: str, X: np.ndarray, y: np.ndarray, dt: float) -> Task:
    X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.4, stratify=y, random_state=0)
    X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0)
    return Task(name, X_train, y_train, X_val, y_val, X_test, y_test, dt)


def synthetic_tasks(small: bool) -> list[Task]:
    """The sources, patterns and digits tasks of the module table."""
    if small:
        sources = source_task(20, 4, 100, DT, 50.0, max_correlation=0.8, max_dead_bins=15, seed=0)
        patterns = embedded_patterns(20, 3, 10, 100, DT, 10.0, pattern_bins=30, jitter=2e-3, seed=0)
        digits = coded_digits("rate", classes=(0, 1), n_per_class=30, n_bins=50, dt=DT, seed=0)
    else:
        sources = source_task(100, 8, 300, DT, 50.0, max_correlation=0.8, max_dead_bins=15, seed=0)
        patterns = embedded_patterns(100, 3, 20, 200, DT, 10.0, pattern_bins=50, jitter=2e-3, seed=0)
        digits = coded_digits("rate", classes=None, n_per_class=100, n_bins=100, dt=DT, seed=0)
    return [_split(name, X, y, DT) for name, (X, y) in
            (("sources", sources), ("patterns", patterns), ("digits", digits))]


def auditory_task(path, small: bool, name: str = "auditory") -> Task:
    """The file's split, bins OR-pooled by `AUDITORY_BIN`; ``small``: sounds 1-4 only."""
    data = load_auditory_cortex(path)
    width = AUDITORY_BIN[small]
    parts = []
    for role in ("train", "val", "test"):
        X, y = data.split(role)
        if small:
            keep = np.isin(y, np.unique(data.labels)[:4])
            X, y = X[keep], y[keep]
        n, c, t = X.shape
        parts += [coarse_grain(X.reshape(n * c, t), width).reshape(n, c, -1), y]
    return Task(name, *parts, data.dt * width)


def shared_data_dir() -> Path:
    """``$BIOFIT_SHARED_DATA``, or ``../shared/data`` beside the repository (where CI has it)."""
    default = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return Path(os.environ.get("BIOFIT_SHARED_DATA", default))


def all_tasks(small: bool, auditory_files=None) -> tuple[list[Task], list[str]]:
    """The synthetic tasks and one auditory task per file (default: the shared D_A_I.csv if it
    exists); returns the tasks and notes on the files that were skipped."""
    tasks, notes = synthetic_tasks(small), []
    files = [shared_data_dir() / AUDITORY_FILE] if auditory_files is None else [Path(f) for f in auditory_files]
    for i, path in enumerate(files):
        if not path.is_file():
            notes.append(f"auditory task skipped: {path} not found (set BIOFIT_SHARED_DATA or pass --auditory)")
            continue
        tasks.append(auditory_task(path, small, "auditory" if len(files) == 1 else f"auditory:{path.stem}"))
    return tasks, notes
