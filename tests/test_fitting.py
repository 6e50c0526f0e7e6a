"""biofit.fitting: the search space, the data layout, the losses, the optimizers on small cells
with known parameters (recovered), the saved files, and bad input before any long computation.

The full recovery on the shipped synthetic recordings (minutes per fit) is in the `slow` tests of
`tests/test_fitting_recovery.py`; the default run fits a noise-free LIF cell simulated here by
Brian2, on two parameters.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from biofit.fitting import CMAES, CountLoss, GammaLoss, Gradient, Prior, SearchSpace, VoltageLoss, WeightedLoss, fit
from biofit.fitting.data import FitData, ou_current, split_sweeps
from biofit.fitting.losses import spike_mask
from biofit.fitting.result import FitResult
from biofit.fitting.simulate import Response, simulate_candidates
from biofit.io import Recording, RecordingInfo, Sweep, load_recording
from biofit.models import get_model
from biofit.neurons import LIF
from biofit.reference import simulate

DT = 1e-4
TRUE_LIF = {"tau_mem": 15e-3, "R": 1.5e8}


@pytest.fixture(scope="module")
def lif_cell() -> Recording:
    """A noise-free LIF cell (Brian2): four 0.6 s sweeps of steps and an OU-like current."""
    rng = np.random.default_rng(3)
    currents = []
    for amplitude in (-50e-12, 160e-12, 220e-12):
        c = np.zeros(6000)
        c[1000:5000] = amplitude
        currents.append(c)
    noise = np.convolve(rng.standard_normal(6000), np.ones(50) / 50, mode="same")
    currents.append(150e-12 + 400e-12 * noise)
    trace = simulate("lif", TRUE_LIF, np.stack(currents, axis=1), DT)
    sweeps = [Sweep(k, DT, currents[k], trace.v[:, k], trace.spike_times[k]) for k in range(4)]
    return Recording(sweeps, RecordingInfo(cell="lif_cell", extra={"true_parameters": TRUE_LIF}))


# -- the search space ------------------------------------------------------------------------
def test_prior_maps_to_the_unit_interval_linear_and_log():
    lin, log = Prior(-0.08, -0.04), Prior(1e-3, 1e-1, log=True)
    assert lin.to_unit(-0.06) == pytest.approx(0.5)
    assert log.to_unit(1e-2) == pytest.approx(0.5)  # the geometric midpoint
    assert float(log.from_unit(0.25)) == pytest.approx(10 ** -2.5)
    assert float(lin.from_unit(1.7)) == pytest.approx(-0.04)  # clipped into the prior


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "hodgkin_huxley"}, "unknown model"),
        ({"model": "lif", "params": ("tau",)}, "has no parameter 'tau'"),
        ({"model": "lif", "priors": {"tau_mem": (1e-5, 0.1, True)}}, r"outside its validity bounds"),
        ({"model": "lif", "params": ("tau_mem",), "fixed": {"tau_mem": 0.01}}, "both fitted and fixed"),
        ({"model": "lif", "params": ("t_ref",)}, "no default search prior"),
        ({"model": "lif", "params": ("tau_mem",), "fixed": {"v_th": 1.0}}, "outside its bounds"),
    ],
)
def test_search_space_rejects_bad_input_naming_it(kwargs, match):
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=match):
        SearchSpace.build(kwargs.pop("model"), **kwargs)


def test_search_space_round_trips_and_fills_the_fixed_parameters():
    space = SearchSpace.build("adex", fixed={"t_ref": 1e-3})
    true = {"C": 200e-12, "g_L": 12e-9, "E_L": -0.07, "V_T": -0.05, "Delta_T": 2e-3, "a": 2e-9,
            "tau_w": 0.3, "b": 60e-12, "V_reset": -0.058}
    back = space.from_unit(space.to_unit(true))
    assert all(float(back[k]) == pytest.approx(v, rel=1e-12) for k, v in true.items())
    full = space.full(back)
    assert set(full) == set(get_model("adex").parameter_names) and full["t_ref"] == 1e-3


# -- the data ----------------------------------------------------------------------------------
def test_fit_data_holds_current_over_each_sample_at_a_finer_dt():
    rec = Recording([Sweep(0, 2e-4, np.arange(5) * 1e-12, np.zeros(5)),
                     Sweep(1, 1e-4, np.ones(10) * 1e-12, np.zeros(10))])
    data = FitData.from_recordings([rec], [None])
    assert data.dt == 1e-4 and data.ratios == (2, 1)
    assert len(data.groups) == 1  # both sweeps are 10 steps long on the 0.1 ms grid
    np.testing.assert_array_equal(data.groups[0].current[:, 0], np.repeat(np.arange(5) * 1e-12, 2))
    with pytest.raises(ValueError, match="not a whole multiple"):
        FitData.from_recordings([rec], [None], dt=0.3e-4)


def test_spread_keeps_evenly_spaced_sweeps_of_about_that_duration_and_lays_them_out_again():
    # ten sweeps of 0.10 s and 0.11 s alternately (1 ms sampling), each current its own sweep number
    rec = Recording([Sweep(k, 1e-3, np.full(100 + 10 * (k % 2), k * 1e-12), np.zeros(100 + 10 * (k % 2)))
                     for k in range(10)])
    data = FitData.from_recordings([rec], [None])
    assert data.duration == pytest.approx(1.05)
    assert data.spread(1.05) is data and data.spread(5.0) is data
    assert len(data.spread(0.01).sweeps) == 1  # never empty
    part = data.spread(0.32)  # 0.32 s at the mean 0.105 s per sweep: three sweeps
    kept = [s.id for s in part.sweeps]
    assert len(kept) == 3 and kept[0] == 0 and kept[-1] == 9
    gaps = np.diff(kept)
    assert gaps.max() - gaps.min() <= 1  # evenly spaced, up to rounding
    assert part.labels == tuple(f"recording0:{k}" for k in kept)
    assert part.duration == pytest.approx(sum(0.1 + 0.01 * (k % 2) for k in kept))
    columns = {}
    for group in part.groups:  # each group: sweeps of one length; each column the sweep's current
        for j, i in enumerate(group.index):
            columns[i] = group.current[:, j]
    assert sorted(columns) == [0, 1, 2]
    for i, k in enumerate(kept):
        np.testing.assert_array_equal(columns[i], np.full(100 + 10 * (k % 2), k * 1e-12))


def test_ou_current_follows_the_exact_recursion_and_has_the_closed_form_moments():
    dt, sd, tau, shape = 1e-4, 5e-12, 5e-3, (200_000, 3)
    x = ou_current(np.random.default_rng(7), shape, dt, sd, tau)
    rng = np.random.default_rng(7)  # the recursion written out, on the same draws
    rho = math.exp(-dt / tau)
    state, eps = rng.normal(0.0, sd, shape[1]), rng.standard_normal(shape)
    expected = np.empty(shape)
    for k in range(shape[0]):
        state = rho * state + sd * math.sqrt(1 - rho * rho) * eps[k]
        expected[k] = state
    np.testing.assert_allclose(x, expected, rtol=1e-9, atol=1e-24)
    assert x.std() == pytest.approx(sd, rel=0.03)
    first = ou_current(np.random.default_rng(8), (2, 20_000), dt, sd, tau)[0]
    assert first.std() == pytest.approx(sd, rel=0.03)  # stationary from the first sample on
    lag = 50  # 5 ms: the autocorrelation exp(-lag dt / tau) = 1/e
    r = np.mean([np.corrcoef(x[:-lag, j], x[lag:, j])[0, 1] for j in range(3)])
    assert r == pytest.approx(math.exp(-lag * dt / tau), abs=0.03)


def test_current_noise_copies_the_sweeps_with_their_own_draws_and_the_same_seed_repeats_them():
    rec = Recording([Sweep(k, 1e-3, np.full(100 + 10 * k, 1e-10 * (k + 1)), np.zeros(100 + 10 * k)) for k in range(2)])
    data = FitData.from_recordings([rec], [None])
    noisy = data.with_current_noise(5e-12, 5e-3, 3, seed=1)
    assert noisy.labels == tuple(f"recording0:{k}#{r}" for r in range(3) for k in range(2))
    assert [s.id for s in noisy.sweeps] == [0, 1] * 3 and noisy.ratios == data.ratios * 3
    columns = {i: g.current[:, j] for g in noisy.groups for j, i in enumerate(g.index)}
    assert sorted(columns) == list(range(6))
    for i, column in columns.items():
        base = np.full(100 + 10 * (i % 2), 1e-10 * (i % 2 + 1))
        assert column.shape == base.shape and 0 < np.std(column - base) < 2e-11
    assert np.abs(columns[0] - columns[2]).max() > 1e-12  # each copy its own draw
    again = data.with_current_noise(5e-12, 5e-3, 3, seed=1)
    for a, b in zip(noisy.groups, again.groups):
        np.testing.assert_array_equal(a.current, b.current)
    parts = [data.with_current_noise(5e-12, 5e-3, 2, seed=1), data.with_current_noise(5e-12, 5e-3, 1, seed=1, first=2)]
    assert parts[1].labels == noisy.labels[4:]
    for a, b in zip(noisy.groups, [g for part in parts for g in part.groups]):  # draw k is draw k, however made
        np.testing.assert_array_equal(a.current, b.current)
    with pytest.raises(ValueError, match="first must be an integer >= 0, got -1"):
        data.with_current_noise(5e-12, 5e-3, 3, seed=1, first=-1)
    with pytest.raises(ValueError, match="sd must be a finite number > 0"):
        data.with_current_noise(0.0, 5e-3, 3, seed=1)
    with pytest.raises(ValueError, match="realizations must be an integer >= 1"):
        data.with_current_noise(5e-12, 5e-3, 0, seed=1)
    with pytest.raises(ValueError, match=r"intrinsic_noise must be \(sd in A, tau in s\)"):
        CMAES(intrinsic_noise=5e-12)
    with pytest.raises(ValueError, match=r"intrinsic_noise tau \(s\) must be a finite number > 0"):
        CMAES(intrinsic_noise=(5e-12, -1.0))


def test_split_rejects_missing_ids_and_overlap(lif_cell):
    assert split_sweeps(lif_cell, None, [3]) == ([0, 1, 2], [3])
    with pytest.raises(ValueError, match=r"test sweep ids \[9\] do not exist"):
        split_sweeps(lif_cell, None, [9])
    with pytest.raises(ValueError, match=r"sweeps \[1\] are in both"):
        split_sweeps(lif_cell, [0, 1], [1, 2])
    with pytest.raises(ValueError, match="no sweeps of lif_cell are selected"):
        split_sweeps(lif_cell, [], [])


def test_a_recording_may_give_train_sweeps_only_or_test_sweeps_only(lif_cell):
    other = Recording(lif_cell.sweeps[:2], RecordingInfo(cell="other"))
    assert split_sweeps(other, [], [0, 1]) == ([], [0, 1])
    data = FitData.from_recordings([lif_cell, other], [[0, 3], []])
    assert data.labels == ("lif_cell:0", "lif_cell:3")
    with pytest.raises(ValueError, match="every recording's list of sweep ids is empty"):
        FitData.from_recordings([lif_cell, other], [[], []])


# -- the losses ----------------------------------------------------------------------------------
def test_spike_mask_equals_brute_force():
    rng = np.random.default_rng(0)
    spikes = np.sort(rng.uniform(0, 0.2, 7))
    t = np.arange(2000) * 1e-4
    brute = np.array([not any(s - 2e-3 <= ti <= s + 5e-3 for s in spikes) for ti in t])
    np.testing.assert_array_equal(spike_mask(2000, 1e-4, spikes, 2e-3, 5e-3), brute)


def test_losses_on_hand_worked_cases():
    sweep = Sweep(0, 1e-3, np.zeros(1000), np.full(1000, -0.07), np.array([0.1, 0.5, 0.9]))
    same = Response(np.full(1000, -0.07), sweep.spike_times.copy())
    assert GammaLoss()(same, sweep) == pytest.approx(0.0, abs=1e-12)
    assert CountLoss()(Response(same.voltage, np.array([0.2])), sweep) == pytest.approx(2 / 3)
    shifted = Response(np.full(1000, -0.068), sweep.spike_times)  # 2 mV off everywhere
    assert VoltageLoss(scale=1e-3)(shifted, sweep) == pytest.approx(2.0)
    silent = Sweep(1, 1e-3, np.zeros(1000), np.full(1000, -0.07))
    assert GammaLoss()(Response(silent.voltage, np.empty(0)), silent) == 0.0
    assert GammaLoss()(Response(silent.voltage, np.array([0.3])), silent) == 1.0


def test_upswing_loss_compares_spike_triggered_means_on_hand_worked_cases():
    from biofit.fitting import UpswingLoss, upswing_loss
    from biofit.fitting.gradient import torch_weights
    from biofit.fitting.losses import get_loss, spike_triggered_mean

    dt, n = 1e-4, 1000
    spikes = np.array([0.03, 0.07])  # samples 300 and 700
    v = np.full(n, -0.065)
    for j in (300, 700):
        v[j - 20:j] = -0.065 + 1e-4 * np.arange(20)  # 2 ms ramp at 1 V/s ...
        v[j - 1] += 5e-3  # ... and an action potential's rise (500 V/s) in its last sample
    sweep = Sweep(0, dt, np.zeros(n), v, spike_times=spikes)
    brute = np.mean([v[j - 20:j] for j in (300, 700)], axis=0)
    np.testing.assert_allclose(spike_triggered_mean(v, dt, spikes, 20), brute, rtol=0, atol=1e-15)
    loss = UpswingLoss()  # 2 ms = 20 samples, per mV, the last sample (rising > 50 V/s) left out
    shifted = np.roll(v, 100) + 1e-3  # the same upswings 10 ms later, 1 mV higher ...
    shifted[399] += 3e-3  # ... and 4 mV higher on the left-out sample of the first one
    assert loss(Response(shifted, spikes + 0.01), sweep) == pytest.approx(1.0, abs=1e-9)
    assert loss(Response(v, spikes), sweep) == 0.0
    # a silent model is triggered on the data's spikes: its flat -63 mV against the ramp
    flat = np.full(n, -0.063)
    expected = np.sqrt(np.mean((flat[:19] - brute[:19]) ** 2)) / 1e-3
    assert loss(Response(flat, np.array([])), sweep) == pytest.approx(expected, rel=1e-12)
    assert loss(Response(flat, np.array([])), Sweep(0, dt, np.zeros(n), v)) == 0.0  # no data spikes
    with pytest.raises(ValueError, match="has 0 voltage samples, none before the data's spikes of sweep 0"):
        loss(Response(np.empty(0), np.array([])), sweep)
    assert get_loss("upswing") == upswing_loss() and upswing_loss().uses_spikes()
    # the torch objectives count it with the spike terms (1 - Γ 1, count 0.5, upswing 0.2)
    assert torch_weights(upswing_loss(), "gradient")[:2] == (0.2, pytest.approx(1.7))
    with pytest.raises(ValueError, match="window must be a finite number > 0"):
        UpswingLoss(window=0.0)


def test_count_loss_weighs_a_missing_spike_above_a_voltage_offset_unlike_the_default():
    """On a step sweep, a silent model with the data's subthreshold plateau against one that fires
    the data's spikes 10 ms late with a 3 mV offset: the default loss prefers the silent model,
    `count_loss` the firing one (the pathology of the step-protocol fits, closing note of issue 12)."""
    from biofit.fitting import LOSSES, count_loss, default_loss

    sweep = Sweep(0, 1e-3, np.zeros(1000), np.full(1000, -0.045), np.array([0.1, 0.3, 0.5, 0.7]))
    silent = Response(sweep.voltage.copy(), np.empty(0))
    late = Response(sweep.voltage + 3e-3, sweep.spike_times + 0.01)
    # by hand: silent = Gamma 1 + count 1 (voltage 0); late = Gamma 1 + voltage 3 (count 0)
    assert default_loss()(silent, sweep) == pytest.approx(1.0 + 0.5)
    assert default_loss()(late, sweep) == pytest.approx(1.0 + 0.2 * 3.0)
    assert count_loss()(silent, sweep) == pytest.approx(1.0 + 2.0)
    assert count_loss()(late, sweep) == pytest.approx(1.0 + 0.05 * 3.0)
    assert set(LOSSES) == {"default", "counts", "upswing"}  # the CLI's --loss choices


# -- the simulators ------------------------------------------------------------------------------
def test_population_simulation_equals_one_brian2_run_per_candidate(lif_cell):
    data = FitData.from_recordings([lif_cell], [[1, 3]])
    taus = np.array([12e-3, 18e-3])
    responses = simulate_candidates(get_model("lif"), {**TRUE_LIF, "tau_mem": taus}, data)
    for p, tau in enumerate(taus):
        one = simulate("lif", {**TRUE_LIF, "tau_mem": tau}, np.stack([s.current for s in data.sweeps], 1), DT)
        for j in range(2):
            np.testing.assert_array_equal(responses[p][j].spike_times, one.spike_times[j])
            np.testing.assert_array_equal(responses[p][j].voltage, one.v[:, j])


def test_forced_spikes_reset_at_the_given_times_and_expose_the_threshold_argument():
    layer = LIF(1, DT, t_ref=0.0)
    current = torch.full((400, 1, 1), 1e-10, dtype=torch.float64)  # never reaches threshold alone
    forced = torch.zeros_like(current)
    forced[[100, 250]] = 1.0
    spikes, traces = layer.simulate(current, spikes=forced)
    assert torch.equal(spikes, forced)
    v = traces["v"][:, 0, 0]
    assert v[100] == v[250] == -0.07  # v_reset right after each forced spike
    torch.testing.assert_close(traces["threshold_argument"][:, 0, 0][v != -0.07], (v - (-0.05))[v != -0.07])


def test_threshold_mismatch_between_spikes_is_an_integral_over_time_below_the_gap_step():
    """The between-spike part of the threshold mismatch, weighted dt / GAP_STEP, is a Riemann sum
    of the same integral at every dt below GAP_STEP: compared with scipy's quadrature of
    softness * softplus(x(t) / softness) dt / GAP_STEP for a threshold argument x(t) crossing 0."""
    from scipy.integrate import quad

    from biofit.fitting.gradient import GAP_STEP, threshold_mismatch

    softness, duration = 1e-4, 0.05  # V, s
    x_of_t = lambda t: 2e-3 * np.sin(2 * np.pi * t / 0.02) - 5e-4  # noqa: E731  (V)
    exact = quad(lambda t: softness * np.logaddexp(0.0, x_of_t(t) / softness), 0, duration, limit=400)[0] / GAP_STEP
    for dt in (1e-4, 2.5e-4, 5e-4):
        t = (np.arange(int(round(duration / dt))) + 0.5) * dt  # midpoint rule
        x = torch.tensor(x_of_t(t), dtype=torch.float64).view(-1, 1, 1)
        value = threshold_mismatch(x, torch.zeros_like(x), None, softness, False, dt / GAP_STEP)
        assert value.shape == (1,)
        assert float(value[0]) == pytest.approx(exact, rel=2e-3), dt
    # a spike step is scored once whatever dt: softness * softplus(-x / softness) at x = -1 mV
    x = torch.tensor([-1e-3], dtype=torch.float64).view(1, 1, 1)
    value = threshold_mismatch(x, torch.ones_like(x), None, softness, False, 0.1)
    assert float(value[0]) == pytest.approx(softness * math.log1p(math.exp(10.0)), rel=1e-12)


def test_using_equals_a_layer_built_with_those_values():
    current = 3e-10 + 1e-10 * torch.rand(500, 2, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    plain = LIF(1, DT)
    with plain.using({"tau_mem": torch.tensor(12e-3, dtype=torch.float64)}):
        z1, t1 = plain.simulate(current)
    z2, t2 = LIF(1, DT, tau_mem=12e-3).simulate(current)
    assert torch.equal(z1, z2) and torch.equal(t1["v"], t2["v"])
    with pytest.raises(ValueError, match="unknown parameter"):
        with plain.using({"tau": torch.tensor(1.0)}):
            pass


# -- the optimizers recover a known cell -----------------------------------------------------------
def _fit_lif(cell, method, **kw):
    priors = {"tau_mem": Prior(5e-3, 50e-3, log=True), "R": Prior(5e7, 5e8, log=True)}
    return fit(cell, "lif", method=method, params=("tau_mem", "R"), priors=priors,
               train_sweeps=[0, 1, 3], test_sweeps=[2], progress=False, **kw)


def test_gradient_recovers_a_noise_free_lif_cell(lif_cell):
    # at 1 ms (the current averaged over each step). At the 0.1 ms sampling the forced-spike fit
    # of this cell lands at tau_mem -3.3 %, R -0.7 % and a test Γ of 0.28 (a regular train on a
    # step: Γ drifts with the period), measured after the between-spike weighting of
    # `gradient.threshold_mismatch` (GAP_STEP); the 0.1 ms recovery is `test_fitting_recovery.py`'s
    result = _fit_lif(lif_cell, "gradient", optimizer=Gradient(iterations=80, seed=0), dt=1e-3)
    errors = result.recovery()
    assert max(abs(e) for e in errors.values()) < 0.03, errors
    assert result.test["mean"]["gamma"] > 0.9


def test_cmaes_recovers_a_noise_free_lif_cell_and_equal_seeds_give_equal_fits(lif_cell):
    opt = CMAES(population=10, generations=12, seed=4)
    first = _fit_lif(lif_cell, "cmaes", optimizer=opt)
    assert max(abs(e) for e in first.recovery().values()) < 0.05, first.recovery()
    again = _fit_lif(lif_cell, "cmaes", optimizer=opt)
    assert again.parameters == first.parameters


def test_cmaes_with_intrinsic_noise_searches_noise_free_then_on_fresh_draws_and_returns_the_scored_mean(lif_cell):
    space = SearchSpace.build("lif", params=("tau_mem", "R"),
                              priors={"tau_mem": Prior(5e-3, 50e-3, log=True), "R": Prior(5e7, 5e8, log=True)})
    data = FitData.from_recordings([lif_cell], [[1, 3]])
    loss = WeightedLoss(((GammaLoss(), 1.0), (VoltageLoss(), 0.2)))
    opt = CMAES(population=4, generations=2, noisy_generations=2, noisy_sigma0=0.05, seed=2,
                intrinsic_noise=(20e-12, 5e-3), realizations=2)
    start = space.to_unit(TRUE_LIF)
    u, best, history = opt.run(space, data, loss, start, progress=False)
    quiet_best, _, quiet = CMAES(population=4, generations=2, seed=2).run(space, data, loss, start, progress=False)

    def by_hand(point, generation, draws=2):  # the mean loss over that noisy generation's draws, simulated here
        noisy = data.with_current_noise(20e-12, 5e-3, draws, seed=(2, generation))
        values = space.full(space.from_unit(np.asarray(point)[None, :]))
        losses = [loss(r, s) for r, s in zip(simulate_candidates(space.model, values, noisy)[0], noisy.sweeps)]
        assert len(losses) == 2 * draws  # 2 sweeps x the draws
        return float(np.mean(losses))

    # first the noise-free search, row for row; then the noisy one from its best point, whose
    # generation 0 scores CMA-ES's first mean (that point) on its draws; the fit is the last mean
    assert [h["intrinsic_noise"] for h in history] == [None, None, (20e-12, 5e-3), (20e-12, 5e-3)]
    assert history[:2] == [h | {"time_s": r["time_s"]} for h, r in zip(quiet, history)]
    assert history[2]["best"] == pytest.approx(space.from_unit(quiet_best), rel=1e-12)
    assert history[2]["best_loss"] == pytest.approx(by_hand(quiet_best, 0), rel=1e-12)
    assert not np.allclose(u, quiet_best) and history[3]["best"] == pytest.approx(space.from_unit(u), rel=1e-12)
    assert best == pytest.approx(by_hand(u, 1), rel=1e-12)
    assert abs(by_hand(u, 0) - best) > 1e-3  # generation 1 drew other noise than generation 0
    quiet_loss = [loss(r, s) for r, s in zip(simulate_candidates(space.model, space.full(space.from_unit(u[None, :])),
                                                                 data)[0], data.sweeps)]
    assert abs(np.mean(quiet_loss) - best) > 1e-3  # the noise changed the score
    again = opt.run(space, data, loss, start, progress=False)
    assert np.array_equal(again[0], u) and again[1] == best
    # three draws simulated one at a time score as the three simulated in one run
    points = np.vstack([u, quiet_best])
    one_by_one = replace(opt, realizations=3, draws_per_run=1)
    assert one_by_one.noisy_losses(space, data, loss, points, (20e-12, 5e-3), 5) \
        == pytest.approx([by_hand(p, 5, 3) for p in points], rel=1e-12)
    with pytest.raises(ValueError, match="draws_per_run must be an integer >= 1"):
        replace(opt, draws_per_run=0)


def test_fitted_parameters_reproduce_the_reported_spikes_in_brian2(lif_cell, tmp_path):
    result = _fit_lif(lif_cell, "gradient", optimizer=Gradient(iterations=20, seed=0), out_dir=tmp_path)
    saved = json.loads((tmp_path / "fit.json").read_text())
    assert {"model", "parameters", "method", "train", "test", "wall_time_s"} <= set(saved)
    assert set(saved["parameters"]) == set(get_model("lif").parameter_names)
    sweep = lif_cell.sweep(2)
    again = simulate(saved["model"], saved["parameters"], sweep.current, DT)
    np.testing.assert_allclose(again.spike_times[0], result.extra["model_spike_times"]["lif_cell:2"])
    written = load_recording(tmp_path / "fit.nwb")
    assert sorted(written.sweep_ids) == [0, 1, 2, 3] and (tmp_path / "fit.png").stat().st_size > 10_000


# -- bad input, before any long computation -----------------------------------------------------------
def test_bad_fit_input_raises_before_the_optimizer_runs(lif_cell):
    silent = Recording([Sweep(0, DT, np.zeros(100), np.full(100, -0.07))])
    cases = [
        (dict(recordings=lif_cell, model="lif", method="annealing"), "unknown method"),
        (dict(recordings=lif_cell, model="lif", params=("tau",)), "has no parameter 'tau'"),
        (dict(recordings=lif_cell, model="lif", test_sweeps=[7]), r"\[7\] do not exist"),
        (dict(recordings=lif_cell, model="lif", train_sweeps=[0, 1], test_sweeps=[1]), "in both"),
        (dict(recordings=silent, model="lif"), "needs spikes"),
        (dict(recordings="cell.abf", model="lif"), "must be a Recording"),
        (dict(recordings=lif_cell, model="lif", loss="rates"), "unknown loss 'rates'"),
        (dict(recordings=lif_cell, model="lif", loss=3.0), "loss must be a loss name"),
    ]
    for kwargs, match in cases:
        with pytest.raises((ValueError, TypeError), match=match):
            fit(progress=False, **kwargs)


def test_an_interrupted_save_leaves_no_partial_output(lif_cell, tmp_path, monkeypatch):
    import biofit.io.nwb_write as nwb_write

    result = FitResult("lif", get_model("lif").defaults(), ("tau_mem",), "gradient", {}, {}, [], 1.0, DT, 0,
                       [], [], [], 0.0)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nwb_write, "write_nwb", interrupted)
    out = tmp_path / "fit"
    with pytest.raises(KeyboardInterrupt):
        result.save(out, [lif_cell], [[s.voltage for s in lif_cell.sweeps]])
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert not math.isnan(result.wall_time_s)


def test_finely_sampled_sweeps_are_resampled_keeping_the_charge():
    fine = Sweep(0, 5e-5, np.arange(10) * 1e-12, np.linspace(-0.07, -0.06, 10), np.array([0.0002]))
    data = FitData.from_recordings([Recording([fine])], [None], dt=1e-4)
    sweep = data.sweeps[0]
    assert sweep.dt == 1e-4 and sweep.n_samples == 5
    np.testing.assert_allclose(sweep.current, [0.5e-12, 2.5e-12, 4.5e-12, 6.5e-12, 8.5e-12])
    assert sweep.current.sum() * 1e-4 == pytest.approx(fine.current.sum() * 5e-5)
    np.testing.assert_array_equal(sweep.voltage, fine.voltage[::2])
    with pytest.raises(ValueError, match="not a whole multiple of its sampling interval"):
        FitData.from_recordings([Recording([fine])], [None], dt=1.3e-4)


def test_a_fit_at_a_coarser_step_saves_model_traces_on_the_data_samples(lif_cell, tmp_path):
    result = _fit_lif(lif_cell, "gradient", optimizer=Gradient(iterations=2, seed=0), dt=2 * DT, out_dir=tmp_path)
    assert result.dt == pytest.approx(2 * DT)
    from biofit.io.nwb import read_model_traces

    traces = read_model_traces(tmp_path / "fit.nwb")["model_voltage"]
    # every written model trace has as many samples as its 0.6 s sweep sampled at DT, each model
    # step held over the two samples it covers
    assert sorted(traces) == [0, 1, 2, 3] and all(t.size == 6000 for t in traces.values())
    assert all(np.array_equal(t[0::2], t[1::2]) for t in traces.values())


def test_cli_fit_passes_loss_and_method_and_writes_fit_json(lif_cell, tmp_path, capsys):
    """`biofit fit --loss counts --method gradient --iterations 5`: the chosen loss is the one the
    fit minimised (recorded in fit.json); settings without a method for several models are refused."""
    from biofit.cli import main
    from biofit.fitting import count_loss
    from biofit.io.npz import write_npz

    path = write_npz(lif_cell, tmp_path / "cell.npz")
    out = tmp_path / "fit"
    assert main(["fit", str(path), "--model", "lif", "--params", "tau_mem,R", "--method", "gradient",
                 "--iterations", "5", "--loss", "counts", "--train-sweeps", "0,1,3", "--test-sweeps", "2",
                 "--dt", "1e-3", "--out", str(out)]) == 0
    saved = json.loads(next(out.rglob("fit.json")).read_text())
    assert saved["method"] == "gradient" and set(saved["parameters"]) == set(get_model("lif").parameter_names)
    assert saved["extra"]["objective"] == repr(count_loss())
    with pytest.raises(SystemExit, match="need --method"):
        main(["fit", str(path), "--model", "lif,alif", "--iterations", "5", "--out", str(out)])


def test_cli_budget_reaches_both_hybrid_stages(lif_cell, tmp_path):
    """`--iterations 4 --generations 2` with the hybrid: the gradient stage stops by iteration 4, the
    CMA-ES stage runs 2 generations; the other settings are `default_optimizer`'s, seeded."""
    from biofit.cli import main
    from biofit.fitting import Hybrid, default_optimizer
    from biofit.io.npz import write_npz

    hybrid = default_optimizer("hybrid", seed=7)
    assert isinstance(hybrid, Hybrid) and hybrid.gradient.seed == hybrid.cmaes.seed == 7
    assert hybrid.cmaes.population == Hybrid().cmaes.population
    with pytest.raises(ValueError, match="'adam'"):
        default_optimizer("adam")
    with pytest.raises(ValueError, match="gradient_seconds must be a finite number > 0, got 0.0"):
        Hybrid(gradient_seconds=0.0)
    path = write_npz(lif_cell, tmp_path / "cell.npz")
    out = tmp_path / "fit"
    assert main(["fit", str(path), "--model", "lif", "--params", "tau_mem,R", "--method", "hybrid",
                 "--iterations", "4", "--generations", "2", "--dt", "1e-3", "--out", str(out)]) == 0
    history = json.loads(next(out.rglob("fit.json")).read_text())["history"]
    gradient = [h for h in history if h["stage"] == "gradient"]
    cmaes = [h for h in history if h["stage"] == "cmaes"]
    assert gradient and max(h["iteration"] for h in gradient) <= 4
    assert [h["generation"] for h in cmaes] == [0, 1]


def test_cli_intrinsic_noise_reaches_the_cmaes_stage_and_bad_values_are_named(lif_cell, tmp_path):
    from biofit.cli import main
    from biofit.io.npz import write_npz

    path = write_npz(lif_cell, tmp_path / "cell.npz")
    out = tmp_path / "fit"
    assert main(["fit", str(path), "--model", "lif", "--params", "tau_mem,R", "--method", "hybrid",
                 "--iterations", "3", "--generations", "1", "--intrinsic-noise", "5,2.5", "--dt", "1e-3",
                 "--out", str(out)]) == 0
    saved = json.loads(next(out.rglob("fit.json")).read_text())
    assert "intrinsic_noise=(5e-12, 0.0025)" in saved["extra"]["optimizer"]
    noise = [h["intrinsic_noise"] for h in saved["history"] if h["stage"] == "cmaes"]
    assert noise[0] is None and noise[1:] == [[5e-12, 0.0025]] * (len(noise) - 1) and len(noise) > 1
    auto = tmp_path / "auto"  # this cell has no repeats: "auto" finds no noise to read and runs without
    assert main(["fit", str(path), "--model", "lif", "--params", "tau_mem,R", "--method", "cmaes",
                 "--generations", "1", "--population", "3", "--intrinsic-noise", "auto", "--dt", "1e-3",
                 "--out", str(auto)]) == 0
    saved = json.loads(next(auto.rglob("fit.json")).read_text())
    assert "intrinsic_noise='auto'" in saved["extra"]["optimizer"]
    assert [(h["intrinsic_noise"], h["evaluations"]) for h in saved["history"]] == [(None, 3)]
    with pytest.raises(SystemExit):  # argparse's own error for a value that is not an integer
        main(["fit", str(path), "--model", "lif", "--method", "cmaes", "--population", "x", "--out", str(out)])
    for bad in ("5", "5,x", "0,2"):
        with pytest.raises(SystemExit, match=f"--intrinsic-noise .*{bad!r}"):
            main(["fit", str(path), "--model", "lif", "--intrinsic-noise", bad, "--out", str(out)])
    with pytest.raises(SystemExit, match="applies to the cmaes and hybrid methods, not 'gradient'"):
        main(["fit", str(path), "--model", "lif", "--method", "gradient", "--intrinsic-noise", "5,5",
              "--out", str(out)])


def test_threshold_adaptation_recovers_a_threshold_built_spike_by_spike():
    """Onset voltages built by hand from theta_0 = -50 mV, beta = 3 mV, tau = 0.2 s (a loop over the
    preceding spikes, with 0.1 mV noise) on irregular trains: the regression reads them back."""
    from biofit.fitting.initial import threshold_adaptation

    rng = np.random.default_rng(3)
    onsets = []
    for _ in range(4):
        times = np.cumsum(rng.uniform(0.01, 0.08, 40))
        theta = np.array([-0.050 + sum(3e-3 * math.exp(-(t - s) / 0.2) for s in times[:k])
                          for k, t in enumerate(times)])
        onsets.append((times, theta + 1e-4 * rng.standard_normal(times.size)))
    theta0, beta, tau = threshold_adaptation(onsets)
    assert theta0 == pytest.approx(-0.050, abs=3e-4)
    assert beta == pytest.approx(3e-3, rel=0.05) and tau == pytest.approx(0.2, rel=0.15)
    flat = [(t, np.full(t.size, -0.05) + 1e-4 * rng.standard_normal(t.size)) for t, _ in onsets]
    result = threshold_adaptation(flat)
    assert result is None or result[1] < 1e-4  # no adaptation in the data, none (or ~0) read
    assert threshold_adaptation([(np.array([0.1, 0.2]), np.array([-0.05, -0.049]))]) is None


def test_initial_point_reads_the_lif_cell_and_marks_only_adaptation_as_sharp(lif_cell):
    """The LIF cell's start: rest, R, tau_mem and threshold read off the sweeps (within 10 % of the
    values it was simulated with); none is marked sharp (only a read threshold adaptation is), and
    a parameter with no rule starts at its prior's centre."""
    from biofit.fitting.initial import initial_point

    space = SearchSpace.build("lif", None, None, None)
    u, estimated = initial_point(space, lif_cell)
    assert not estimated.any()
    values = space.from_unit(u)
    truth = {p.name: p.default for p in get_model("lif").parameters} | TRUE_LIF
    for name in ("tau_mem", "R", "v_rest", "v_th"):
        assert values[name] == pytest.approx(truth[name], rel=0.1), name
    qif = SearchSpace.build("qif", None, None, None)
    start, _ = initial_point(qif, lif_cell)
    assert start[qif.names.index("delta_v")] == 0.5


def test_adaptation_current_read_off_a_hand_integrated_adapting_membrane():
    """C dV/dt = -g_L (V - E_L) - w + I, tau_w dw/dt = a (V - E_L) - w, w += b at given spike times,
    integrated here by Euler at 10 us and sampled at 0.1 ms (no spike shape: the regression only
    sees the samples away from the spikes): the current balance reads all five parameters back."""
    from biofit.fitting.initial import adaptation_current

    truth = {"C": 150e-12, "g_L": 10e-9, "a": 3e-9, "b": 40e-12, "tau_w": 0.15}
    e_l, fine, sub = -0.07, 1e-5, 10
    rng = np.random.default_rng(5)
    sweeps = []
    for k in range(3):
        n = 20000  # 2 s at 0.1 ms
        drive = np.convolve(rng.standard_normal(n), np.ones(50) / 50, mode="same")
        current = 100e-12 + 600e-12 * drive
        current[:2000] = 0.0
        current[2000:8000] = -50e-12 * (k + 1)  # a hyperpolarising step: the slow sag sets a
        spikes = np.sort(rng.uniform(0.85, 1.9, 12))
        kicks = np.zeros(n * sub)
        np.add.at(kicks, np.floor(spikes / fine).astype(int) + 1, 1.0)
        v, w, out = e_l, 0.0, np.empty(n)
        for j in range(n * sub):
            i = current[j // sub]
            v, w = (v + fine * (-truth["g_L"] * (v - e_l) - w + i) / truth["C"],
                    w + fine * (truth["a"] * (v - e_l) - w) / truth["tau_w"] + truth["b"] * kicks[j])
            if j % sub == sub - 1:
                out[j // sub] = v
        sweeps.append(Sweep(k, 1e-4, current, np.concatenate([[e_l], out[:-1]]), spikes))
    got = adaptation_current(Recording(sweeps, RecordingInfo(cell="hand")), e_l, np.inf)
    for name in ("C", "g_L"):
        assert got[name] == pytest.approx(truth[name], rel=0.05), (name, got)
    for name in ("a", "b", "tau_w"):
        assert got[name] == pytest.approx(truth[name], rel=0.1), (name, got)
    silent = [Sweep(0, 1e-4, sweeps[0].current, sweeps[0].voltage)]
    assert adaptation_current(Recording(silent, RecordingInfo(cell="hand")), e_l, np.inf) is None


def test_membrane_balance_reads_a_point_neuron_under_a_fluctuating_current():
    """A passive membrane under a smoothed-noise current, advanced sample by sample with the exact
    solution for a current held over each 0.1 ms sample, V <- E + R I + (V - E - R I) exp(-dt/tau):
    the current balance reads C, g_L and E_L back, with no step in the current to read them from."""
    from biofit.fitting.initial import data_estimates, membrane_balance
    from biofit.io.features import find_step

    c, g_l, e_l, dt = 180e-12, 8e-9, -0.068, 1e-4
    rng = np.random.default_rng(11)
    sweeps = []
    for k in range(2):
        current = 50e-12 + 300e-12 * np.convolve(rng.standard_normal(10000), np.ones(100) / 100, mode="same")
        assert find_step(current, dt) is None  # a fluctuating current has no step to read
        v, trace, decay = e_l, np.empty(10000), math.exp(-dt * g_l / c)
        for j, i in enumerate(current):
            trace[j] = v
            v = e_l + i / g_l + (v - e_l - i / g_l) * decay
        sweeps.append(Sweep(k, dt, current, trace))
    rec = Recording(sweeps, RecordingInfo(cell="passive"))
    got = membrane_balance(rec, np.inf)
    assert got["C"] == pytest.approx(c, rel=0.03) and got["g_L"] == pytest.approx(g_l, rel=0.03)
    assert got["E_L"] == pytest.approx(e_l, abs=3e-4) and got["r2"] > 0.99
    estimates = data_estimates(rec, ["R", "tau_mem", "v_rest"])
    assert estimates["R"] == pytest.approx(1 / g_l, rel=0.03)
    assert estimates["tau_mem"] == pytest.approx(c / g_l, rel=0.05)
    assert estimates["v_rest"] == pytest.approx(e_l, abs=3e-4)
    noisy = Recording([Sweep(0, dt, sweeps[0].current, sweeps[0].voltage + 2e-3 * rng.standard_normal(10000))],
                      RecordingInfo(cell="noisy"))
    assert membrane_balance(noisy, np.inf) is None  # 2 mV of noise: not a point neuron's balance


# -- the upswing term (models whose spike is their own run-away) -------------------------------
TRUE_ADEX = {"C": 200e-12, "g_L": 12e-9, "E_L": -70e-3, "V_T": -50e-3, "Delta_T": 2e-3, "a": 2e-9,
             "tau_w": 0.3, "b": 60e-12, "V_reset": -58e-3}


@pytest.fixture(scope="module")
def adex_cell() -> Recording:
    """A noise-free AdEx cell (Brian2, euler at the 0.1 ms sampling): a 0.5 s step and a fluctuating current."""
    rng = np.random.default_rng(5)
    step = np.zeros(6000)
    step[500:5500] = 400e-12
    noise = np.convolve(rng.standard_normal(6000), np.ones(50) / 50, mode="same")
    currents = [step, 250e-12 + 1.5e-9 * noise]
    trace = simulate("adex", TRUE_ADEX, np.stack(currents, axis=1), DT)
    sweeps = [Sweep(k, DT, currents[k], trace.v[:, k], trace.spike_times[k]) for k in range(2)]
    assert all(s.spike_times.size >= 5 for s in sweeps)
    return Recording(sweeps, RecordingInfo(cell="adex_cell", extra={"true_parameters": TRUE_ADEX}))


def _upswing_objective(recording: Recording, values: dict, noise_sd: float = 0.0, seed: int = 0) -> float:
    """The gradient objective's upswing term alone (voltage weight 0, spike weight 1) at `values`,
    on `recording` with white measurement noise of `noise_sd` (V) added."""
    from biofit.fitting.gradient import make_chunks

    rng = np.random.default_rng(seed)
    sweeps = [Sweep(s.id, s.dt, s.current, s.voltage + noise_sd * rng.standard_normal(s.n_samples),
                    s.spike_times) for s in recording.sweeps]
    data = FitData.from_recordings([Recording(sweeps, recording.info)], [[0, 1]], None)
    space = SearchSpace.build("adex", None, None, None)
    opt = Gradient(seed=0)
    steps = int(round(opt.chunk / DT))
    chunks = make_chunks(data, steps, VoltageLoss())
    layer = opt.layer(space, DT)
    u = torch.tensor([space.priors[k].to_unit(values[k]) for k in space.names], dtype=torch.float64)
    candidate = opt.values_unit(space, u)
    state = opt.chunk_states(layer, data, chunks, steps, candidate)
    everything = torch.ones(chunks.current.shape[1], dtype=torch.bool)
    (value,), _ = opt.chunk_loss(layer, candidate, 1.0, chunks, (everything,), state, (0.0, 1.0, VoltageLoss()))
    return float(value.detach())


def test_spike_terms_by_model_upswing_for_a_runaway_spike_mismatch_for_a_threshold():
    from biofit.fitting.gradient import spikes_from_dynamics

    assert spikes_from_dynamics(SearchSpace.build("adex", None, None, None))
    assert spikes_from_dynamics(SearchSpace.build("qif", None, None, None))
    assert not spikes_from_dynamics(SearchSpace.build("alif", None, None, None))
    assert not spikes_from_dynamics(SearchSpace.build("lif", ["tau_mem", "R"], None, None))  # fixed v_th


def test_upswing_term_vanishes_at_brian2s_parameters_and_grows_away_from_them(adex_cell):
    at_truth = _upswing_objective(adex_cell, TRUE_ADEX)
    assert at_truth < 1e-6  # mV²: Brian2's euler step and the generated one agree to round-off
    for name, factor in (("Delta_T", 1.1), ("Delta_T", 0.9), ("V_T", 0.99), ("C", 1.1)):
        assert _upswing_objective(adex_cell, TRUE_ADEX | {name: TRUE_ADEX[name] * factor}) > 1e-3, name


def test_upswing_term_with_measurement_noise_sits_at_its_noise_floor_at_the_truth(adex_cell, monkeypatch):
    """With white measurement noise of sd s the one-sample error at the true parameters is
    e = eps_{k+1} - slope eps_k: E[e²] = s² (1 + slope²), and the slope reaches ~3 on the upswing.
    The corrected score removes the slope's share: at the truth it is the floor 2 s² per sample
    (times `UPSWING_WEIGHT`, per mV²) within 20 %, where the plain squared error (noise estimate
    set to 0) lies over 30 % above it. 4 noise draws of 0.2 mV."""
    from biofit.fitting import gradient

    floor = gradient.UPSWING_WEIGHT * 2 * (2e-4 / 1e-3) ** 2
    corrected = np.mean([_upswing_objective(adex_cell, TRUE_ADEX, 2e-4, seed) for seed in range(4)])
    monkeypatch.setattr(gradient, "measurement_noise", lambda data, loss: 0.0)
    plain = np.mean([_upswing_objective(adex_cell, TRUE_ADEX, 2e-4, seed) for seed in range(4)])
    assert corrected == pytest.approx(floor, rel=0.2), (corrected, floor)
    assert plain > 1.3 * floor, (plain, floor)


def test_measurement_noise_is_read_from_second_differences():
    from biofit.fitting.noise import measurement_noise

    rng = np.random.default_rng(0)
    t = np.arange(20000) * DT
    smooth = -0.065 + 5e-3 * np.sin(2 * np.pi * 3 * t)
    sweep = Sweep(0, DT, np.zeros_like(t), smooth + 3e-4 * rng.standard_normal(t.size), np.array([0.5, 1.2]))
    data = FitData.from_recordings([Recording([sweep], RecordingInfo(cell="noisy"))], [[0]], None)
    assert math.sqrt(measurement_noise(data, VoltageLoss())) == pytest.approx(3e-4, rel=0.03)


def test_own_crossings_reset_the_membrane_but_leave_the_adaptation_jump_to_given_spikes():
    """AdEx forced with no spikes: its own crossing of V_peak resets v to V_reset but does not add
    b to w; forcing a spike at that step (the model's reset ``v = V_reset; w += b``) adds it."""
    from biofit.neurons import build_layer

    layer = build_layer("adex", 1, DT, **TRUE_ADEX)
    current = torch.full((2000, 1, 1), 600e-12, dtype=torch.float64)
    fired, own = layer.simulate(current, spikes=torch.zeros_like(current), own_spikes=True)
    n = int(torch.nonzero(fired[:, 0, 0])[0, 0])
    forced = torch.zeros_like(current)
    forced[n] = 1.0
    _, given = layer.simulate(current, spikes=forced)
    assert float(own["v"][n, 0, 0]) == float(given["v"][n, 0, 0]) == pytest.approx(TRUE_ADEX["V_reset"], abs=1e-12)
    assert float(given["w"][n, 0, 0] - own["w"][n, 0, 0]) == pytest.approx(TRUE_ADEX["b"], rel=1e-9)
    torch.testing.assert_close(own["w"][:n], given["w"][:n])


def test_cmaes_on_adex_defaults_to_the_upswing_loss_population_32_and_noise_read_off_repeats(adex_cell):
    """The per-model defaults of CMA-ES alone (`CMAES_SETTINGS`, `DEFAULT_LOSS`); other models and
    methods keep `CMAES()` and `default_loss`, and a loss given by name wins."""
    from biofit.fitting import default_loss, default_optimizer, upswing_loss

    assert default_optimizer("cmaes", 3, "adex") == CMAES(seed=3, population=32, intrinsic_noise="auto")
    assert default_optimizer("cmaes", 3, "alif") == default_optimizer("cmaes", 3) == CMAES(seed=3)
    short = CMAES(population=2, generations=1, intrinsic_noise="auto")
    options = dict(params=("g_L", "C"), optimizer=short, progress=False)
    adex = fit(adex_cell, "adex", method="cmaes", **options)
    assert adex.extra["objective"] == repr(upswing_loss())
    assert adex.history[0]["intrinsic_noise"] is None  # two sweeps of different commands: no repeats
    assert fit(adex_cell, "adex", method="cmaes", loss="default", **options).extra["objective"] == repr(default_loss())
    assert fit(adex_cell, "alif", method="cmaes", **options | {"params": ("tau_mem", "R")}).extra["objective"] == \
        repr(default_loss())
