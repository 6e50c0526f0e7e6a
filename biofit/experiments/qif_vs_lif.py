r"""``biofit reproduce qif``: the discrete QIF map of 2510.05168 (Jahns et al.) and its derived
surrogate window; QIF (with and without tdBN) vs LIF, derived vs hand-tuned window, at CPU size.

1. The map (`biofit.experiments.qif_map`) for null input with the paper's a = 0.25, u1 = 0,
   u2 = 0.5 (threshold 1, ours): fixed points, their multipliers, the window; the same numbers
   from biofit's QIF layer under the correspondence (its ``window()`` read back in map units).
2. Accuracy: `VARIANTS` (neuron, surrogate window, tdBN) on two tasks, over ``Config.seeds``
   network seeds (data fixed; `biofit.experiments.snn_protocol`): scikit-learn's digits,
   rate-coded (as the POLARA reproduction: 100 Hz x intensity, 1-ms bins), and the spike-source
   task (`biofit.datasets.source_tasks`: Bernoulli / bursty Markov / dead-time Poisson trains at
   one rate, so only the temporal structure tells the classes apart: a task where dynamics
   matter). Networks: `biofit.experiments.qif_networks` (one hidden layer, spike-count readout);
   Adam (the paper trains CIFAR-size networks; its optimiser settings do not carry over), the
   epoch of lowest validation loss kept, the test split scored once. Paired differences by seed:
   QIF - LIF, derived - hand-tuned window, tdBN - none.

Outputs (``out``, atomically; `biofit.experiments.qif_report`): ``runs.csv``, ``summary.csv``,
``map.csv``, ``qif.md``, ``qif.png`` (accuracies), ``qif_map.png`` (the map figure), ``meta.json``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from tqdm.auto import tqdm

from biofit.experiments.qif_networks import model
from biofit.experiments.qif_report import write_outputs
from biofit.experiments.snn_protocol import digits_task, single_threaded, sources_task, train_and_score

VARIANTS = (  # (neuron, window, tdBN); the LIF uses the hand-tuned rectangle
    ("lif", "hand", False), ("lif", "hand", True),
    ("qif", "derived", False), ("qif", "hand", False),
    ("qif", "derived", True), ("qif", "hand", True),
)
MAX_RATE_HZ = 100.0


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes: digits (images per class or None, bins), sources (per class, channels, bins,
    difficulty), network, training, seeds."""

    digits: tuple
    sources: tuple
    n_hidden: int
    n_epochs: int
    batch_size: int
    learning_rate: float
    seeds: int


FULL = Config(digits=(None, 128), sources=(100, 8, 300, 0.5), n_hidden=100, n_epochs=20, batch_size=64,
              learning_rate=0.01, seeds=5)
SMALL = Config(digits=(20, 64), sources=(20, 4, 100, 0.5), n_hidden=32, n_epochs=2, batch_size=32,
               learning_rate=0.01, seeds=2)


def tasks(config: Config) -> list:
    """The digits and sources tasks at the sizes of ``config``."""
    n_per_class, n_bins = config.digits
    return [digits_task(n_bins, n_per_class, MAX_RATE_HZ), sources_task(*config.sources)]


def run_all(task_list, config: Config, device, bar) -> list[dict]:
    """Every variant, task and seed: the rows of ``runs.csv``."""
    rows = []
    for task in task_list:
        for seed in range(config.seeds):
            for neuron, window, tdbn in VARIANTS:
                net = model(neuron, window, tdbn, task.X_train.shape[2], config.n_hidden, task.n_classes, seed,
                            task.X_train[:, :256])
                row, _ = train_and_score(net, task, n_epochs=config.n_epochs, batch_size=config.batch_size,
                                         learning_rate=config.learning_rate, seed=seed, device=device, progress=False)
                rows.append(dict(task=task.name, neuron=neuron, window=window, tdbn=tdbn, seed=seed) | row)
                bar.update(1)
    return rows


def run(out="results/qif", small: bool = False, device="cpu", seeds: int | None = None, data=None,
        config: Config | None = None) -> Path:
    """Run the reproduction and write its outputs under ``out``; returns the Markdown table's path.

    ``small``: the CI size (`SMALL`); ``seeds``: override the number of seeds (>= 2); ``data``:
    not used (a value raises); ``config``: a `Config` of one's own.
    """
    if data:
        raise ValueError(f"the qif reproduction reads no data files (its tasks are generated), "
                         f"got data={list(data)!r}")
    config = config or (SMALL if small else FULL)
    if seeds is not None:
        if seeds < 2:
            raise ValueError(f"seeds must be >= 2 for a confidence interval, got {seeds}")
        config = dataclasses.replace(config, seeds=int(seeds))
    task_list = tasks(config)
    start = time.perf_counter()
    with single_threaded(), tqdm(total=len(task_list) * config.seeds * len(VARIANTS), desc="qif") as bar:
        rows = run_all(task_list, config, device, bar)
    meta = dict(small=small, device=str(device), wall_time_s=time.perf_counter() - start,
                config=dataclasses.asdict(config), max_rate_hz=MAX_RATE_HZ,
                sizes={t.name: [int(t.y_train.numel()), int(t.y_val.numel()), int(t.y_test.numel())]
                       for t in task_list})
    table = write_outputs(Path(out), rows, meta)
    print(table.read_text())
    return table
