"""The meta-vs-LIF reproduction: statistics, summary, outputs, the `biofit reproduce` command."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from biofit.cli import main
from biofit.experiments import meta_vs_lif
from biofit.experiments.meta_vs_lif import Config, run_task
from biofit.experiments.meta_vs_lif_report import read_runs, summarize, write_outputs
from biofit.experiments.meta_vs_lif_tasks import Task, auditory_task
from biofit.experiments.registry import REPRODUCTIONS, reproduction
from biofit.experiments.stats import mean_ci, paired_gain

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_mean_ci_is_scipys_t_interval():
    x = np.array([0.71, 0.8, 0.77, 0.9, 0.84])
    low, high = stats.t.interval(0.95, df=4, loc=x.mean(), scale=stats.sem(x))
    assert mean_ci(x) == pytest.approx((x.mean(), low, high))
    assert paired_gain([0.5, 0.6, 0.7], [0.6, 0.8, 0.7]) == pytest.approx(mean_ci([0.1, 0.2, 0.0]))
    mean, low, high = mean_ci([0.3])
    assert mean == 0.3 and math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError, match="finite"):
        mean_ci([0.1, float("nan")])


def _rows():
    rows = []
    for seed, (fixed, learned) in enumerate([(0.6, 0.7), (0.5, 0.8), (0.7, 0.75)]):
        for intrinsic, acc in (("fixed", fixed), ("learned", learned)):
            rows.append(dict(task="t", method="snn", neuron="lif", training="stdp", intrinsic=intrinsic, seed=seed,
                             n_hidden=8, learning_rate=0.01, test_accuracy=acc, test_accuracy_readout=acc / 2,
                             val_accuracy=acc, spikes_per_sample=10.0 * (seed + 1), wall_time_s=1.0, phase="seed"))
    rows.append(dict(task="t", method="rate", val_accuracy=0.5, test_accuracy=0.55, params="{}"))
    return rows


def test_summary_gives_the_paired_gain_over_seeds(tmp_path):
    (row,) = summarize(_rows())
    assert row["lzc_fixed_mean"] == pytest.approx(0.6)
    gain = mean_ci([0.1, 0.3, 0.05])
    assert (row["lzc_gain_mean"], row["lzc_gain_low"], row["lzc_gain_high"]) == pytest.approx(gain)
    assert row["readout_learned_mean"] == pytest.approx(np.mean([0.35, 0.4, 0.375]))
    assert row["spikes_fixed"] == pytest.approx(20.0)
    table = write_outputs(tmp_path, _rows(), dict(small=True, device="cpu", seeds=3, wall_time_s=6.0))
    text = table.read_text()
    assert "| lif | stdp | 8 | 0.01 | 60.0 [" in text and "rate 55.0" in text
    with open(tmp_path / "summary.csv") as f:
        assert next(csv.DictReader(f))["lzc_gain_mean"] == str(row["lzc_gain_mean"])
    assert (tmp_path / "meta_vs_lif.png").stat().st_size > 1000
    assert read_runs(tmp_path / "runs.csv") == _rows()


def test_run_task_tunes_the_fixed_network_then_runs_every_seed(monkeypatch):
    monkeypatch.setattr(meta_vs_lif, "NEURONS", ("lif", "meta"))
    monkeypatch.setattr(meta_vs_lif, "TRAININGS", ("tempotron",))  # the fastest path; the loop is the same
    rng = np.random.default_rng(0)
    y = np.arange(24) % 2
    X = rng.random((24, 3, 30)) < np.where(y[:, None, None] == 1, 0.2, 0.05)
    task = Task("tiny", X[:12], y[:12], X[12:18], y[12:18], X[18:], y[18:], 1e-3)
    config = Config(n_epochs=1, batch_size=16, sizes=(3, 4), rate_factors=(1.0,), seeds=2, patience=None)

    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    rows = run_task(task, config, "cpu", bar)
    snn = [r for r in rows if r["method"] == "snn"]
    assert {r["method"] for r in rows} == {"snn", "rate", "psth", "input_lzc"}
    assert bar.n == 2 * (2 + 2 * 2 - 1)  # per neuron and training: 2 tuning fits + 3 new seed fits
    for neuron in ("lif", "meta"):
        for training in ("tempotron",):
            group = [r for r in snn if r["neuron"] == neuron and r["training"] == training]
            tuning = [r for r in group if r["phase"] == "tuning"]
            seeds = [r for r in group if r["phase"] == "seed"]
            best = max(tuning, key=lambda r: r["val_accuracy"])
            assert {r["n_hidden"] for r in seeds} == {best["n_hidden"]}
            assert sorted((r["seed"], r["intrinsic"]) for r in seeds) == [
                (0, "fixed"), (0, "learned"), (1, "fixed"), (1, "learned")]


@pytest.mark.realdata
def test_auditory_task_pools_bins_and_keeps_the_file_split(shared_data):
    task = auditory_task(shared_data / "auditory_cortex" / "D_A_I.csv", small=True)
    assert task.dt == pytest.approx(10e-3) and task.X_train.shape[2] == 50
    assert set(task.y_train.tolist()) == set(task.y_test.tolist()) == {1, 2, 3, 4}
    assert task.X_train.shape[0] == 4 * 80 and task.X_val.shape[0] == task.X_test.shape[0] == 4 * 10


def test_cli_reproduce_calls_the_registered_function(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(meta_vs_lif, "run", lambda **kw: calls.append(kw) or tmp_path / "table.md")
    assert main(["reproduce", "meta-vs-lif", "--small", "--device", "cuda", "--seeds", "4"]) == 0
    assert calls == [dict(out="results/meta-vs-lif", small=True, device="cuda", seeds=4, data=None)]
    assert "meta-vs-lif" in REPRODUCTIONS and reproduction("meta-vs-lif") is meta_vs_lif.run
    with pytest.raises(ValueError, match="unknown reproduction 'nope'"):
        reproduction("nope")
    with pytest.raises(SystemExit):
        main(["reproduce", "nope"])


def test_run_rejects_unknown_tasks_and_too_few_seeds(tmp_path):
    with pytest.raises(ValueError, match="seeds must be >= 2"):
        meta_vs_lif.run(tmp_path, small=True, seeds=1)
    with pytest.raises(ValueError, match=r"unknown tasks \['mnist'\]"):
        meta_vs_lif.run(tmp_path, small=True, tasks=["mnist"])


def test_reproduce_small_runs_from_the_command_line_and_writes_every_output(tmp_path):
    # `biofit reproduce meta-vs-lif --small` as CI runs it: every task at the small size (~1 min)
    subprocess.run([sys.executable, "-m", "biofit.cli", "reproduce", "meta-vs-lif", "--small", "--out",
                    str(tmp_path)], check=True, capture_output=True)
    for name in ("runs.csv", "summary.csv", "meta_vs_lif.md", "meta_vs_lif.png", "meta.json"):
        assert (tmp_path / name).is_file(), name
