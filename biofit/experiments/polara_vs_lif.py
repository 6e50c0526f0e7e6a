r"""``biofit reproduce polara``: POLARA vs LIF, the ablation and the gradient norms of Lai & Cao
(``../shared/papers/polara-polarization-neuron.txt``), at CPU size.

The paper's Table 1 setting, on scikit-learn's digits instead of MNIST (which cannot be
downloaded here): one hidden layer of 100 neurons, T = 128 steps, POLARA's window 6, plain SGD
at learning rate 0.1 with a step schedule of step size 2 (the paper's "step size 2 scheduler";
its factor is not given, ours is 0.9 per 2 epochs), 40 epochs. Departures, each a choice the
paper leaves open or that the CPU forces:

* data: the 1797 8x8 digits, rate-coded: pixel intensity x in [0, 1] -> a Poisson train at
  ``100 x`` Hz in 1-ms bins, 128 bins (`biofit.datasets.digits`; the paper names no coding);
  split 60/20/20 stratified, drawn once;
* mini-batches of 64 (not stated; 17 SGD steps per epoch on our 1078 training images);
* the epoch with the lowest validation loss is kept (the paper does not say which epoch it
  reports); the test split is scored once per run;
* networks, readout and initialisation: `biofit.experiments.polara_networks` (SpyTorch's
  readout for both; POLARA's constants: `biofit.models.polara`, the paper gives none).

Comparisons (each over ``Config.seeds`` seeds of the network, data fixed):

1. Table 1: POLARA vs LIF at the stated learning rate; and each at its own learning rate chosen
   on the validation split (seed 0, grid ``Config.learning_rates``), so that a baseline hurt by a
   rate chosen for the other model shows.
2. Table 2: POLARA with one component removed or replaced (`VARIANTS`; `biofit.neurons.Polara`'s
   switches), stated learning rate.
3. Gradient health: POLARA and LIF with 1, 2 and 4 hidden layers (``Config.depths``), seed 0,
   the L2 norm of each layer's weight gradient at every SGD step (`biofit.learning.bptt.fit`,
   ``record_grad_norms``).

Outputs (``out``, atomically; `biofit.experiments.polara_report`): ``runs.csv``, ``summary.csv``,
``grad_norms.csv``, ``polara.md``, ``polara.png``, ``polara_gradients.png``, ``meta.json``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from tqdm.auto import tqdm

from biofit.experiments.polara_networks import lif_model, polara_model
from biofit.experiments.polara_report import write_outputs
from biofit.experiments.snn_protocol import TensorTask, digits_task, single_threaded, train_and_score

LEARNING_RATE = 0.1  # the paper's
LR_STEP = (2, 0.9)  # step size 2 (the paper's), factor ours
MAX_RATE_HZ = 100.0
BALANCE_SAMPLES = 256  # training samples on which deeper layers are balanced (polara_networks.balance_depth)
VARIANTS = {  # Table 2's rows: name -> Polara switches
    "polara": {},
    "static_leak": dict(decay=False, amplification=False),
    "step_surrogate": dict(activation=False),
    "no_refractory": dict(refractory=False),
    "fixed_threshold": dict(adaptive_threshold=False),
}


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes of a run: data, network, training, seeds, the learning-rate grid, gradient runs."""

    n_per_class: int | None
    n_bins: int
    n_hidden: int
    n_epochs: int
    batch_size: int
    seeds: int
    learning_rates: tuple
    depths: tuple
    gradient_epochs: int


FULL = Config(n_per_class=None, n_bins=128, n_hidden=100, n_epochs=40, batch_size=64, seeds=5,
              learning_rates=(0.1, 0.03, 0.01), depths=(1, 2, 4), gradient_epochs=10)
SMALL = Config(n_per_class=20, n_bins=64, n_hidden=32, n_epochs=2, batch_size=32, seeds=2,
               learning_rates=(0.1, 0.03), depths=(1, 2, 4), gradient_epochs=1)


def build(model: str, variant: str, depth: int, task: TensorTask, config: Config, seed: int):
    """The network of ``model`` ("polara" or "lif") and ``variant`` (a key of `VARIANTS`; "-" for LIF)."""
    n_inputs, x = task.X_train.shape[2], task.X_train[:, :BALANCE_SAMPLES]
    if model == "lif":
        return lif_model(n_inputs, config.n_hidden, depth, task.n_classes, seed, x)
    return polara_model(n_inputs, config.n_hidden, depth, task.n_classes, seed, x, **VARIANTS[variant])


def one_run(task: TensorTask, config: Config, model: str, variant: str, seed: int, learning_rate: float,
            device, depth: int = 1, record: bool = False):
    """Train and score one network; returns ``(row, history)`` (a row of ``runs.csv``)."""
    net = build(model, variant, depth, task, config, seed)
    row, history = train_and_score(
        net, task, n_epochs=config.n_epochs if not record else config.gradient_epochs,
        batch_size=config.batch_size, learning_rate=learning_rate, optimizer="sgd", lr_step=LR_STEP, seed=seed,
        device=device, progress=False, record_grad_norms=record)
    return dict(model=model, variant=variant, depth=depth, seed=seed, learning_rate=learning_rate) | row, history


BASE = {"polara": "polara", "lif": "-"}  # the unablated variant of each model


def run_all(task: TensorTask, config: Config, device, bar) -> tuple[list[dict], list[dict]]:
    """Every run of the module docstring; returns (rows of ``runs.csv``, rows of ``grad_norms.csv``).

    Phases: ``tuning`` (seed 0, each learning rate of the grid), ``seed`` (every variant at the
    stated rate), ``tuned`` (POLARA and LIF at their chosen rate), ``gradients``. A fit already
    made with the same settings is reused, not repeated."""
    def fit_row(**kwargs) -> dict:
        row, history = one_run(task, config, device=device, **kwargs)
        bar.update(1)
        return row if not kwargs.get("record") else (row, history)

    rows, norms = [], []
    tuning = {model: {lr: fit_row(model=model, variant=BASE[model], seed=0, learning_rate=lr)
                      for lr in config.learning_rates} for model in BASE}
    rows += [r | {"phase": "tuning"} for by_rate in tuning.values() for r in by_rate.values()]
    chosen = {model: max(by_rate.values(), key=lambda r: r["val_accuracy"])["learning_rate"]
              for model, by_rate in tuning.items()}
    for seed in range(config.seeds):
        for model, variant in [("polara", v) for v in VARIANTS] + [("lif", "-")]:
            if seed == 0 and variant == BASE[model]:
                row = tuning[model][LEARNING_RATE]
            else:
                row = fit_row(model=model, variant=variant, seed=seed, learning_rate=LEARNING_RATE)
            rows.append(row | {"phase": "seed"})
            if variant == BASE[model]:
                if chosen[model] == LEARNING_RATE:
                    tuned = row
                elif seed == 0:
                    tuned = tuning[model][chosen[model]]
                else:
                    tuned = fit_row(model=model, variant=variant, seed=seed, learning_rate=chosen[model])
                rows.append(tuned | {"phase": "tuned"})
    for model in BASE:
        for depth in config.depths:
            row, history = fit_row(model=model, variant=BASE[model], seed=0, learning_rate=LEARNING_RATE,
                                   depth=depth, record=True)
            rows.append(row | {"phase": "gradients"})
            for name, values in history.grad_norms.items():
                norms += [dict(model=model, depth=depth, parameter=name, step=i, norm=v) for i, v in enumerate(values)]
    return rows, norms


def n_runs(config: Config) -> int:
    """The most fits `run_all` makes (the progress bar's total)."""
    return (2 * len(config.learning_rates) + config.seeds * (len(VARIANTS) + 1) - 2
            + 2 * (config.seeds - 1) + 2 * len(config.depths))


def run(out="results/polara", small: bool = False, device="cpu", seeds: int | None = None, data=None,
        config: Config | None = None) -> Path:
    """Run the reproduction and write its outputs under ``out``; returns the Markdown table's path.

    ``small``: the CI size (`SMALL`); ``seeds``: override the number of seeds (>= 2); ``data``:
    not used (the digits ship with scikit-learn; a value raises); ``config``: a `Config` of one's own.
    """
    if data:
        raise ValueError(f"the polara reproduction reads no data files (it uses scikit-learn's digits), "
                         f"got data={list(data)!r}")
    config = config or (SMALL if small else FULL)
    if LEARNING_RATE not in config.learning_rates:
        raise ValueError(f"the learning-rate grid {config.learning_rates} must contain the stated {LEARNING_RATE}")
    if seeds is not None:
        if seeds < 2:
            raise ValueError(f"seeds must be >= 2 for a confidence interval, got {seeds}")
        config = dataclasses.replace(config, seeds=int(seeds))
    task = digits_task(config.n_bins, config.n_per_class, MAX_RATE_HZ)
    start = time.perf_counter()
    with single_threaded(), tqdm(total=n_runs(config), desc="polara") as bar:
        rows, norms = run_all(task, config, device, bar)
    meta = dict(small=small, device=str(device), wall_time_s=time.perf_counter() - start,
                config=dataclasses.asdict(config), learning_rate=LEARNING_RATE, lr_step=LR_STEP,
                max_rate_hz=MAX_RATE_HZ, n_train=int(task.y_train.numel()), n_test=int(task.y_test.numel()))
    table = write_outputs(Path(out), rows, norms, meta)
    print(table.read_text())
    return table
