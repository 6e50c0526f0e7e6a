r"""``biofit reproduce meta-vs-lif``: learned vs fixed intrinsic parameters, LIF vs meta neuron.

The comparison of 2508.11674 (Rudnicka, Szczepański & Pręgowska): for each task of
`biofit.experiments.meta_vs_lif_tasks`, every neuron {lif, meta} x training {backprop, stdp,
tempotron} x intrinsic {fixed, learned} `biofit.classify.SNNLZCClassifier` (LZC decision).

Protocol, as the paper's baseline is tuned: for each task, neuron and training, the *fixed*
network's size (``n_hidden``) and learning rate are chosen on the validation split (grid
`Config.sizes` x `Config.rate_factors` times the path's default rate, seed 0, best validation
accuracy, ties to the first); the fixed and the learned variant then both run with that choice
for `Config.seeds` seeds (the network's seed; the data stay fixed). Per run: test accuracy of the
LZC rule and, from the same trained network, of the LZC+rate readout
(`biofit.classify.decision`), spikes per test sample of all layers (the paper's energy proxy),
wall time of the fit. Baselines (`biofit.classify.baselines`), their ``C`` (and PSTH window)
tuned on the validation split, give one test accuracy each (they are deterministic).

Outputs (``out``, atomically): ``runs.csv`` (every fit, tuning included), ``summary.csv`` and
``meta_vs_lif.md`` (mean and 95 % t interval over seeds, the paired gain learned - fixed with its
interval, baselines), ``meta_vs_lif.png``. See `biofit.experiments.meta_vs_lif_report`.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from biofit.classify import SNNLZCClassifier
from biofit.classify.baselines import InputLZCLogistic, PSTHLogistic, RateLogistic
from biofit.classify.decision import decision_inputs, make_decision, train_features
from biofit.classify.paths import DEFAULT_LEARNING_RATE
from biofit.experiments.meta_vs_lif_report import write_outputs
from biofit.experiments.meta_vs_lif_tasks import Task, all_tasks

NEURONS = ("lif", "meta")
TRAININGS = ("backprop", "stdp", "tempotron")


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes of a run: epochs, mini-batch, the tuning grid, seeds, early-stopping patience."""

    n_epochs: int
    batch_size: int
    sizes: tuple
    rate_factors: tuple
    seeds: int
    patience: int | None


FULL = Config(n_epochs=20, batch_size=32, sizes=(32, 64), rate_factors=(1 / 3, 1.0, 3.0), seeds=5, patience=5)
SMALL = Config(n_epochs=3, batch_size=32, sizes=(16,), rate_factors=(1.0, 3.0), seeds=3, patience=None)
BASELINE_C = (0.01, 0.1, 1.0, 10.0)
PSTH_WIDTHS = (5, 10, 25)


def run_snn(task: Task, neuron: str, training: str, learn: bool, n_hidden: int, learning_rate: float,
            seed: int, config: Config, device) -> dict:
    """One fit and its scores: a row of ``runs.csv``."""
    clf = SNNLZCClassifier(neuron=neuron, training=training, learn_intrinsic=learn, decision="lzc",
                           n_hidden=n_hidden, dt=task.dt, learning_rate=learning_rate, n_epochs=config.n_epochs,
                           batch_size=config.batch_size, patience=config.patience, seed=seed, device=device)
    start = time.perf_counter()
    clf.fit(task.X_train, task.y_train)
    wall = time.perf_counter() - start
    readout = make_decision("readout").fit(_readout_inputs(clf, task.X_train), task.y_train)
    return dict(task=task.name, method="snn", neuron=neuron, training=training,
                intrinsic="learned" if learn else "fixed", seed=seed, n_hidden=n_hidden, learning_rate=learning_rate,
                val_accuracy=clf.score(task.X_val, task.y_val), test_accuracy=clf.score(task.X_test, task.y_test),
                test_accuracy_readout=readout.score(_readout_inputs(clf, task.X_test), task.y_test),
                spikes_per_sample=float(clf.spike_counts(task.X_test).mean()), wall_time_s=wall)


def _readout_inputs(clf: SNNLZCClassifier, X):
    return decision_inputs("readout", *train_features(clf.output_trains(X), clf.variant))


def run_baselines(task: Task) -> list[dict]:
    """The three baselines, each with its hyper-parameters chosen on the validation split."""
    grids = {"rate": [RateLogistic(C=c) for c in BASELINE_C],
             "psth": [PSTHLogistic(bin_width=w, C=c) for w in PSTH_WIDTHS for c in BASELINE_C
                      if w < task.X_train.shape[2]],
             "input_lzc": [InputLZCLogistic(C=c) for c in BASELINE_C]}
    rows = []
    for name, candidates in grids.items():
        scored = [(est.fit(task.X_train, task.y_train).score(task.X_val, task.y_val), i, est)
                  for i, est in enumerate(candidates)]
        val, _, best = max(scored, key=lambda s: (s[0], -s[1]))
        rows.append(dict(task=task.name, method=name, val_accuracy=val,
                         test_accuracy=best.score(task.X_test, task.y_test), params=str(best.get_params())))
    return rows


def run_task(task: Task, config: Config, device, bar) -> list[dict]:
    """Tuning, then the seeds, for every neuron and training of one task; rows of ``runs.csv``."""
    rows = run_baselines(task)
    for neuron, training in itertools.product(NEURONS, TRAININGS):
        tuning = []
        for n_hidden, factor in itertools.product(config.sizes, config.rate_factors):
            lr = DEFAULT_LEARNING_RATE[training] * factor
            tuning.append(run_snn(task, neuron, training, False, n_hidden, lr, 0, config, device) | {"phase": "tuning"})
            bar.update(1)
        best = max(enumerate(tuning), key=lambda it: (it[1]["val_accuracy"], -it[0]))[1]
        rows += tuning
        for seed, learn in itertools.product(range(config.seeds), (False, True)):
            if seed == 0 and not learn:
                row = dict(best)  # the tuning run of the chosen setting is the seed-0 fixed run
            else:
                row = run_snn(task, neuron, training, learn, best["n_hidden"], best["learning_rate"], seed,
                              config, device)
                bar.update(1)
            rows.append(row | {"phase": "seed"})
    return rows


def run(out="results/meta-vs-lif", small: bool = False, device="cpu", seeds: int | None = None, data=None,
        tasks=None, config: Config | None = None) -> Path:
    """Run the whole comparison and write its outputs under ``out``; returns the table's path.

    ``small``: the CI size (`SMALL`, small tasks); ``seeds``: override the number of seeds;
    ``data``: auditory-cortex files, one task each (default: the shared ``D_A_I.csv``, skipped
    with a note if absent); ``tasks``: names of the tasks to run (default: all); ``config``: a
    `Config` of one's own (the tasks keep the size ``small`` gives them).
    """
    config = config or (SMALL if small else FULL)
    if seeds is not None:
        if seeds < 2:
            raise ValueError(f"seeds must be >= 2 for a confidence interval, got {seeds}")
        config = dataclasses.replace(config, seeds=int(seeds))
    names, (tasks, notes) = tasks, all_tasks(small, data)
    if names is not None:
        unknown = sorted(set(names) - {t.name for t in tasks})
        if unknown:
            raise ValueError(f"unknown tasks {unknown}; available: {[t.name for t in tasks]}")
        tasks = [t for t in tasks if t.name in names]
    for note in notes:
        print(note)
    per_group = len(config.sizes) * len(config.rate_factors) + 2 * config.seeds - 1
    start = time.perf_counter()
    rows = []
    # BLAS at one thread: on these small logistic regressions a multi-threaded BLAS on a loaded
    # 2-core machine was ~50x slower (110 s instead of 2 s for one readout of the auditory task).
    # Torch likewise at one intra-op thread (restored after): the tensors are small, and extra
    # threads only add contention (tests/conftest.py, one_torch_thread).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"), \
                tqdm(total=len(tasks) * len(NEURONS) * len(TRAININGS) * per_group, desc="meta-vs-lif") as bar:
            for task in tasks:
                bar.set_postfix(task=task.name)
                rows += run_task(task, config, device, bar)
    finally:
        torch.set_num_threads(threads)
    wall = time.perf_counter() - start
    table = write_outputs(Path(out), rows, dict(small=small, device=str(device), seeds=config.seeds,
                                                wall_time_s=wall, config=dataclasses.asdict(config), notes=notes))
    print(table.read_text())
    return table
