"""The POLARA and QIF reproductions (`biofit reproduce polara|qif`): the QIF map against its closed
form, the ablation's switches against the paper's Table 2, tiny end-to-end runs whose outputs are
checked against counts derived from the `Config` and against scipy's t interval, bad input, the CLI."""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from biofit.cli import main
from biofit.experiments import polara_vs_lif, qif_vs_lif
from biofit.experiments.qif_map import derived_window, fixed_points, qif_map, rheobase, to_units
from biofit.experiments.qif_networks import KAPPA, hidden_layer, qif_parameters
from biofit.experiments.registry import reproduction
from biofit.experiments.snn_protocol import TensorTask
from biofit.neurons import Polara

pytestmark = pytest.mark.usefixtures("one_torch_thread")

A, U1, U2, THETA = 0.25, 0.0, 0.5, 1.0  # the paper's figure; the threshold is ours (qif_map docstring)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def t_interval(values):
    """Mean and 95 % t interval, straight from scipy (NaN edges for a constant sample)."""
    x = np.asarray(values, dtype=float)
    if np.ptp(x) == 0:
        return x.mean(), x.mean(), x.mean()
    low, high = stats.t.interval(0.95, df=len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    return x.mean(), low, high


def check_interval(row, values):
    mean, low, high = (float(row[k]) for k in ("mean", "low", "high"))
    assert low <= mean <= high
    assert (mean, low, high) == pytest.approx(t_interval(values), abs=1e-12)


# --- (a) the QIF map of 2510.05168 in the paper's units -------------------------------------------


def test_qif_map_fixed_points_are_roots_with_closed_form_multipliers():
    """F(u) = u + a(u - u1)(u - u2): fixed points u1 = 0 and u2 = 0.5; F' = 1 + a(2u - u1 - u2)
    gives 0.875 (stable) and 1.125 (unstable), here by central differences of the map itself."""
    stable, unstable = fixed_points(A, U1, U2)
    assert (stable, unstable) == pytest.approx((0.0, 0.5), abs=1e-15)
    h = 1e-6
    for u, expected in ((0.0, 1 + A * (2 * 0.0 - U1 - U2)), (0.5, 1 + A * (2 * 0.5 - U1 - U2))):
        assert float(qif_map(u, A, U1, U2)) == pytest.approx(u, abs=1e-15)
        slope = (float(qif_map(u + h, A, U1, U2)) - float(qif_map(u - h, A, U1, U2))) / (2 * h)
        assert slope == pytest.approx(expected, abs=1e-9)
    assert 1 + A * (0.0 - 0.5) == 0.875 and 1 + A * (1.0 - 0.5) == 1.125


def test_qif_map_with_input_has_the_closed_form_fixed_points_up_to_the_rheobase():
    # I = 0.01: (u2 - u1)^2 / 4 - I / a = 0.0625 - 0.04 = 0.0225, so u = 0.25 -+ 0.15
    assert fixed_points(A, U1, U2, current=0.01) == pytest.approx((0.1, 0.4), abs=1e-12)
    assert rheobase(A, U1, U2) == pytest.approx(0.25 * 0.25 / 4)
    with pytest.raises(ValueError, match="above the rheobase"):
        fixed_points(A, U1, U2, current=0.25 * 0.25 / 4 + 1e-6)


def test_derived_window_is_u2_to_the_image_of_the_threshold():
    # F(1) = 1 + 0.25 * 1 * 0.5 = 1.125; no state in [u2, threshold] maps higher in one step
    assert derived_window(A, U1, U2, threshold=THETA) == pytest.approx((0.5, 1.125), abs=1e-15)
    grid = np.linspace(U2, THETA, 1001)
    assert qif_map(grid, A, U1, U2).max() == pytest.approx(1.125, abs=1e-15)
    with pytest.raises(ValueError, match="threshold 0.4"):
        derived_window(A, U1, U2, threshold=0.4)


def test_biofit_qif_layer_steps_as_the_paper_map_in_map_units():
    """The correspondence of `qif_map.biofit_parameters`: one Euler step of the experiment's QIF
    layer from v = v_rest + kappa u, with input I_t (map units), is v_rest + kappa (F(u) + I_t);
    its derived window, read back in map units, is [0.5, 1.125]."""
    layer = hidden_layer("qif", 4)
    p = qif_parameters()
    u0 = torch.tensor([[-0.3, 0.2, 0.6, 0.9]], dtype=torch.float64)  # all stay below the threshold
    i_t = torch.tensor([0.0, 0.01, -0.02, 0.005], dtype=torch.float64)
    v0 = p["v_rest"] + KAPPA * u0
    state = layer.State(v0, torch.zeros_like(v0))
    current = (i_t * p["current_per_unit"]).view(1, 1, 4)
    spikes, traces = layer.simulate(current, state=state)
    expected = qif_map(u0.numpy(), A, U1, U2) + i_t.numpy()
    assert spikes.sum() == 0
    np.testing.assert_allclose(to_units(traces["v"][0].numpy(), p["v_rest"], KAPPA, U1), expected, atol=1e-9)
    lower, upper = layer.window()
    np.testing.assert_allclose(to_units(lower.numpy(), p["v_rest"], KAPPA, U1), 0.5, atol=1e-9)
    np.testing.assert_allclose(to_units(upper.numpy(), p["v_rest"], KAPPA, U1), 1.125, atol=1e-9)


# --- the ablation: each Table 2 row removes what the paper removes --------------------------------

TABLE2_OFF = {  # the paper's Table 2 rows (component removed or replaced) -> the Polara switches off
    "polara": set(),
    "static_leak": {"decay", "amplification"},  # "Membrane Decay and Stochastic Amplification"
    "step_surrogate": {"activation"},  # "Spike Activation and Gradient Control"
    "no_refractory": {"refractory"},  # "Refractory Suppression"
    "fixed_threshold": {"adaptive_threshold"},  # "Adaptive Thresholding"
}


def tiny_task(n_inputs=5, n_bins=12, n=20, n_classes=2):
    g = torch.Generator().manual_seed(0)
    x = lambda: (torch.rand(n_bins, n, n_inputs, generator=g) < 0.3).float()  # noqa: E731
    y = torch.arange(n) % n_classes
    return TensorTask("tiny", x(), y, x(), y, x(), y, 1e-3)


@pytest.mark.parametrize("variant", list(TABLE2_OFF))
def test_each_table2_variant_switches_off_exactly_the_papers_components_in_every_layer(variant):
    assert set(polara_vs_lif.VARIANTS) == set(TABLE2_OFF)
    config = polara_vs_lif.SMALL
    net = polara_vs_lif.build("polara", variant, 2, tiny_task(), config, seed=0)
    layers = list(net[0].layers)
    assert len(layers) == 2 and all(isinstance(layer, Polara) for layer in layers)
    for layer in layers:
        off = {name for name, on in vars(layer.components).items() if not on}
        assert off == TABLE2_OFF[variant]
        assert layer.window == 6  # the paper's window, kept in every row
        assert layer.gradient_mask is None  # eq. 17's control is the paper's CIFAR setting, not MNIST's


def test_step_surrogate_row_passes_the_surrogate_gradient_where_the_shaped_spike_passes_none():
    """Below threshold the shaped spike (eq. 10, 1[Delta > 0] sigma(...)) has gradient exactly 0;
    the step of Table 2's second row passes the fast sigmoid 1 / (2w (1 + |Delta|/w)^2), w = 0.5,
    and its forward is the step 0/1."""
    theta0, w = 1.0, 0.5
    x = torch.tensor([0.8, 0.95, 1.3], dtype=torch.float64).view(1, 1, 3)  # one step from rest: u_pre = x
    for activation in (True, False):
        xi = x.clone().requires_grad_(True)
        spikes = Polara(3, theta0=theta0, amplification=False, activation=activation)(xi)
        spikes.sum().backward()
        over = x.flatten() - theta0
        if activation:
            assert torch.all(xi.grad.flatten()[over < 0] == 0) and spikes.flatten()[2] > 0.5
        else:
            assert spikes.flatten().tolist() == [0.0, 0.0, 1.0]
            expected = 1.0 / (2 * w * (1 + over.abs() / w) ** 2)
            torch.testing.assert_close(xi.grad.flatten(), expected)


def test_decay_is_a_constant_factor_so_the_static_leak_row_changes_its_value_only():
    """Eq. 7 (our reading, polara.py ambiguity 5): lambda = 1 - sum_i A e^{-alpha i} + eps is a
    constant; with the static leak set to that value, decay=False is the full model exactly.
    Table 2's first row therefore differs from POLARA by lambda (0.884 -> 0.9) and by the
    amplification it also removes."""
    a, alpha, eps = 0.2, 1.0, 1e-6  # biofit.models.polara defaults
    lam = 1.0 - sum(a * math.exp(-alpha * i) for i in range(1, 7)) + eps
    x = torch.rand(150, 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    full = Polara(3)(x)
    assert full.sum() > 10
    torch.testing.assert_close(Polara(3, decay=False, static_leak=lam)(x), full, rtol=0, atol=1e-12)
    assert not torch.equal(Polara(3, decay=False)(x), full)


# --- (b) the POLARA reproduction end to end at a tiny size ----------------------------------------

POLARA_TINY = polara_vs_lif.Config(n_per_class=10, n_bins=16, n_hidden=8, n_epochs=1, batch_size=32, seeds=2,
                                   learning_rates=(0.1, 0.03), depths=(1, 2, 4), gradient_epochs=1)


@pytest.fixture(scope="module")
def polara_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("polara")
    polara_vs_lif.run(out=out, config=POLARA_TINY)
    return out


def test_polara_run_writes_every_output(polara_out):
    for name in ("runs.csv", "summary.csv", "grad_norms.csv", "polara.md", "meta.json"):
        assert (polara_out / name).stat().st_size > 0, name
    for name in ("polara.png", "polara_gradients.png"):
        assert (polara_out / name).read_bytes()[:8] == PNG_MAGIC, name
    meta = json.loads((polara_out / "meta.json").read_text())
    assert meta["config"]["seeds"] == 2 and meta["learning_rate"] == 0.1
    assert (meta["n_train"], meta["n_test"]) == (60, 20)  # 10 classes x 10 images, split 60/20/20


def test_polara_runs_csv_has_one_row_per_fit_of_the_config(polara_out):
    c, n_variants = POLARA_TINY, 5  # Table 2's five rows
    rows = read_csv(polara_out / "runs.csv")
    by_phase = {phase: [r for r in rows if r["phase"] == phase] for phase in ("tuning", "seed", "tuned", "gradients")}
    assert len(by_phase["tuning"]) == 2 * len(c.learning_rates)  # POLARA and LIF, seed 0, each rate
    assert len(by_phase["seed"]) == c.seeds * (n_variants + 1)  # every variant and the LIF, every seed
    assert len(by_phase["tuned"]) == 2 * c.seeds
    assert len(by_phase["gradients"]) == 2 * len(c.depths)
    assert len(rows) == sum(map(len, by_phase.values()))
    assert {float(r["learning_rate"]) for r in by_phase["seed"]} == {0.1}
    assert sorted((r["model"], r["variant"], int(r["seed"])) for r in by_phase["seed"]) == sorted(
        [("polara", v, s) for v in TABLE2_OFF for s in range(c.seeds)] + [("lif", "-", s) for s in range(c.seeds)])
    assert all(0.0 <= float(r["test_accuracy"]) <= 1.0 for r in rows)


def test_polara_summary_intervals_are_scipys_t_intervals_over_seeds(polara_out):
    rows = read_csv(polara_out / "runs.csv")
    summary = [r for r in read_csv(polara_out / "summary.csv") if r.get("phase") == "seed"]
    assert len(summary) == 6
    for row in summary:
        accuracies = [float(r["test_accuracy"]) for r in rows
                      if r["phase"] == "seed" and (r["model"], r["variant"]) == (row["model"], row["variant"])]
        assert int(row["n"]) == POLARA_TINY.seeds == len(accuracies)
        check_interval(row, accuracies)
    text = (polara_out / "polara.md").read_text()
    for paper in ("97.49", "96.39", "45.18", "96.80", "94.24", "94.25"):  # Tables 1 and 2 of the paper
        assert paper in text


def test_polara_grad_norms_cover_depths_1_2_4_with_one_series_per_layer(polara_out):
    norms = read_csv(polara_out / "grad_norms.csv")
    steps = POLARA_TINY.gradient_epochs * math.ceil(60 / POLARA_TINY.batch_size)  # 60 training images
    for model in ("polara", "lif"):
        for depth in (1, 2, 4):
            mine = [n for n in norms if n["model"] == model and int(n["depth"]) == depth]
            hidden = sorted({n["parameter"] for n in mine if n["parameter"].startswith("0.weights.")})
            assert hidden == [f"0.weights.{l}" for l in range(depth)]
            for parameter in hidden:
                series = [n for n in mine if n["parameter"] == parameter]
                assert [int(n["step"]) for n in series] == list(range(steps))
                assert all(math.isfinite(float(n["norm"])) and float(n["norm"]) >= 0 for n in series)


# --- (c) the QIF reproduction end to end at a tiny size -------------------------------------------

QIF_TINY = qif_vs_lif.Config(digits=(10, 16), sources=(10, 2, 30, 0.5), n_hidden=8, n_epochs=1, batch_size=32,
                             learning_rate=0.01, seeds=2)


@pytest.fixture(scope="module")
def qif_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("qif")
    qif_vs_lif.run(out=out, config=QIF_TINY)
    return out


def test_qif_run_writes_every_output_with_a_row_per_task_variant_and_seed(qif_out):
    for name in ("runs.csv", "summary.csv", "map.csv", "qif.md", "meta.json"):
        assert (qif_out / name).stat().st_size > 0, name
    for name in ("qif.png", "qif_map.png"):
        assert (qif_out / name).read_bytes()[:8] == PNG_MAGIC, name
    rows = read_csv(qif_out / "runs.csv")
    variants = {("lif", "hand"), ("qif", "derived"), ("qif", "hand")}  # LIF: the rectangle only
    expected = sorted((task, neuron, window, tdbn, str(seed)) for task in ("digits", "sources")
                      for neuron, window in variants for tdbn in ("False", "True") for seed in range(QIF_TINY.seeds))
    assert sorted((r["task"], r["neuron"], r["window"], r["tdbn"], r["seed"]) for r in rows) == expected
    meta = json.loads((qif_out / "meta.json").read_text())
    assert meta["sizes"] == {"digits": [60, 20, 20], "sources": [18, 6, 6]}  # 100 and 3 x 10 samples, 60/20/20
    assert meta["map"]["window_lower"] == 0.5 and meta["map"]["window_upper"] == pytest.approx(1.125)


def test_qif_summary_intervals_are_scipys_and_the_map_csv_is_the_map(qif_out):
    rows = read_csv(qif_out / "runs.csv")
    summary = read_csv(qif_out / "summary.csv")
    per_variant = [r for r in summary if r.get("neuron")]
    assert len(per_variant) == 2 * 6
    variant = lambda r: (r["task"], r["neuron"], r["window"], r["tdbn"])  # noqa: E731
    for row in per_variant:
        accuracies = [float(r["test_accuracy"]) for r in rows if variant(r) == variant(row)]
        assert int(row["n"]) == QIF_TINY.seeds == len(accuracies)
        check_interval(row, accuracies)
    contrasts = [r for r in summary if r.get("contrast")]
    assert len(contrasts) == 2 * 6
    acc = {(r["task"], r["neuron"], r["window"], r["tdbn"], r["seed"]): float(r["test_accuracy"]) for r in rows}
    row = next(r for r in contrasts if r["task"] == "digits" and r["contrast"] == "QIF - LIF (no tdBN)")
    gains = [acc[("digits", "qif", "derived", "False", s)] - acc[("digits", "lif", "hand", "False", s)] for s in "01"]
    check_interval(row, gains)
    points = read_csv(qif_out / "map.csv")
    u, F = (np.array([float(p[k]) for p in points]) for k in ("u", "F"))
    np.testing.assert_allclose(F, u + A * (u - U1) * (u - U2), rtol=0, atol=1e-12)


# --- (d) bad input, (e) the command line ----------------------------------------------------------


@pytest.mark.parametrize("module", [polara_vs_lif, qif_vs_lif], ids=["polara", "qif"])
def test_run_rejects_one_seed_and_data_files(module, tmp_path):
    with pytest.raises(ValueError, match="seeds must be >= 2 .* got 1"):
        module.run(tmp_path, small=True, seeds=1)
    with pytest.raises(ValueError, match=r"reads no data files.*got data=\[.mnist.csv.\]"):
        module.run(tmp_path, small=True, data=["mnist.csv"])
    assert not any(tmp_path.iterdir())


def test_polara_rejects_a_learning_rate_grid_without_the_papers_rate(tmp_path):
    config = dataclasses.replace(polara_vs_lif.SMALL, learning_rates=(0.03, 0.01))
    with pytest.raises(ValueError, match=r"\(0\.03, 0\.01\) must contain the stated 0\.1"):
        polara_vs_lif.run(tmp_path, config=config)


@pytest.mark.parametrize("name", ["polara", "qif"])
def test_reproduce_help_lists_both_reproductions(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["reproduce", name, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "polara" in text and "qif" in text and "Lai & Cao" in text and "2510.05168" in text


@pytest.mark.parametrize("name, module", [("polara", polara_vs_lif), ("qif", qif_vs_lif)])
def test_cli_reproduce_calls_the_registered_run(name, module, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(module, "run", lambda **kw: calls.append(kw) or tmp_path / "table.md")
    assert main(["reproduce", name, "--small", "--out", str(tmp_path), "--seeds", "3"]) == 0
    assert calls == [dict(out=str(tmp_path), small=True, device="cpu", seeds=3, data=None)]
    assert reproduction(name) is module.run
