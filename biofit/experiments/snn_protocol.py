r"""What the neuron-comparison reproductions share (`biofit.experiments.polara_vs_lif`,
`biofit.experiments.qif_vs_lif`): tasks as time-major tensors, one training run and its scores,
summaries over seeds with t intervals, CSV.

Tasks are drawn once (data seed 0) and split 60/20/20, stratified (as
`biofit.experiments.meta_vs_lif_tasks`); the runs' seeds vary the network (initial weights,
mini-batch order), not the data. A run trains on the training split with the validation split
for model selection (`biofit.learning.bptt.fit` restores the epoch of lowest validation loss) and
is scored once on the test split.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from typing import NamedTuple

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from biofit.datasets.digits import coded_digits
from biofit.datasets.source_tasks import source_task
from biofit.experiments.stats import mean_ci
from biofit.learning.bptt import batched_outputs, fit

EVAL_BATCH = 256


class TensorTask(NamedTuple):
    """A classification task: spikes ``X_*: float32[T, n, C]`` (time-major), labels ``y_*: int64[n]``,
    the bin width ``dt`` (s)."""

    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    dt: float

    @property
    def n_classes(self) -> int:
        return int(self.y_train.max()) + 1


def split_task(name: str, X: np.ndarray, y: np.ndarray, dt: float) -> TensorTask:
    """Rasters ``bool[n, C, T]`` and labels split 60/20/20 (stratified, seed 0), as time-major tensors."""
    X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.4, stratify=y, random_state=0)
    X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0)
    parts = []
    for X_part, y_part in ((X_train, y_train), (X_val, y_val), (X_test, y_test)):
        parts += [torch.from_numpy(np.ascontiguousarray(X_part.transpose(2, 0, 1))).float(),
                  torch.as_tensor(y_part, dtype=torch.int64)]
    return TensorTask(name, *parts, dt)


def digits_task(n_bins: int, n_per_class: int | None, max_rate_hz: float, dt: float = 1e-3) -> TensorTask:
    """scikit-learn's digits, all ten classes, rate-coded (`biofit.datasets.digits`, data seed 0)."""
    X, y = coded_digits("rate", n_per_class=n_per_class, n_bins=n_bins, dt=dt, max_rate_hz=max_rate_hz, seed=0)
    return split_task("digits", X, y, dt)


def sources_task(n_per_class: int, n_channels: int, n_bins: int, difficulty: float = 0.0,
                 dt: float = 1e-3) -> TensorTask:
    """Bernoulli / Markov / dead-time Poisson sources at one rate (`biofit.datasets.source_tasks`;
    50 Hz, lambda_max 0.8, 15 dead bins at most: the setting of the meta-vs-LIF reproduction)."""
    X, y = source_task(n_per_class, n_channels, n_bins, dt, 50.0, difficulty, max_correlation=0.8, max_dead_bins=15,
                       seed=0)
    return split_task("sources", X, y, dt)


def spikes_per_sample(network: torch.nn.Module, X: torch.Tensor) -> float:
    """Mean spike count (graded spikes summed) per sample over all layers of a
    `biofit.learning.bptt.SpikingNetwork`, eval mode, no gradient."""
    was_training, device = network.training, _device(network)
    network.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, X.shape[1], EVAL_BATCH):
            total += sum(float(s.sum()) for s in network.run(X[:, start:start + EVAL_BATCH].to(device)))
    network.train(was_training)
    return total / X.shape[1]


def accuracy(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of samples whose highest logit is their label (eval mode)."""
    return float((batched_outputs(model, X, EVAL_BATCH, _device(model)).argmax(1) == y).double().mean())


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def train_and_score(model: torch.nn.Sequential, task: TensorTask, **fit_kwargs):
    """Fit ``model`` (a `SpikingNetwork` then a readout) on ``task`` and score it; returns
    ``(row, history)``: ``row`` holds ``val_accuracy``, ``test_accuracy``, ``best_epoch``,
    ``final_train_loss``, ``spikes_per_sample`` (test split) and ``wall_time_s`` (the fit)."""
    start = time.perf_counter()
    history = fit(model, task.X_train, task.y_train, validation=(task.X_val, task.y_val), **fit_kwargs)
    wall = time.perf_counter() - start
    row = dict(val_accuracy=accuracy(model, task.X_val, task.y_val),
               test_accuracy=accuracy(model, task.X_test, task.y_test), best_epoch=history.best_epoch,
               final_train_loss=history.train_loss[-1], spikes_per_sample=spikes_per_sample(model[0], task.X_test),
               wall_time_s=wall)
    return row, history


@contextlib.contextmanager
def single_threaded():
    """Torch and BLAS at one thread (restored after): the tensors are small and the machines shared;
    extra threads only add contention (see `biofit.experiments.meta_vs_lif.run`)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(threads)


def summarize(rows: list[dict], keys: tuple, metric: str = "test_accuracy") -> list[dict]:
    """One row per distinct value of ``keys`` (first-seen order): ``n``, the mean and 95 % t interval
    of ``metric`` (``mean``, ``low``, ``high``), and the means of ``spikes_per_sample`` and
    ``wall_time_s`` where the rows have them."""
    out = []
    for key in dict.fromkeys(tuple(r[k] for k in keys) for r in rows):
        group = [r for r in rows if tuple(r[k] for k in keys) == key]
        mean, low, high = mean_ci([r[metric] for r in group])
        row = dict(zip(keys, key), n=len(group), mean=mean, low=low, high=high)
        for extra in ("spikes_per_sample", "wall_time_s"):
            if all(extra in r for r in group):
                row[extra] = float(np.mean([r[extra] for r in group]))
        out.append(row)
    return out


def ci_text(row: dict, scale: float = 100.0) -> str:
    """``mean [low, high]`` of a `summarize` row, in percent by default."""
    return f"{scale * row['mean']:.1f} [{scale * row['low']:.1f}, {scale * row['high']:.1f}]"


def csv_bytes(rows: list[dict]) -> bytes:
    """The rows as CSV (the union of their keys as columns, first-seen order; missing cells empty)."""
    fields = list(dict.fromkeys(k for row in rows for k in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fields, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()
