"""Pair STDP: analytic window, brute-force pair sums, Brian2 Synapses, Song et al. (2000)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biofit.experiments.song2000 import bimodality, simulate_song2000
from biofit.learning.stdp import STDP, STDPParams, init_state, stdp_step, stdp_window

DT = 1e-3
LAGS_MS = np.arange(-100, 101, 5)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def pairing_rasters(lags_ms, n_pairs=10, period_ms=1000, offset_ms=200):
    """One (pre, post) pair per lag, repeated ``n_pairs`` times: rasters ``[T, len(lags), 1]``."""
    n_bins = n_pairs * period_ms + 2 * offset_ms
    pre = np.zeros((n_bins, len(lags_ms), 1), bool)
    post = np.zeros_like(pre)
    for b, lag in enumerate(lags_ms):
        starts = offset_ms + period_ms * np.arange(n_pairs)
        pre[starts, b, 0] = True
        post[starts + lag, b, 0] = True
    return torch.from_numpy(pre), torch.from_numpy(post)


@pytest.mark.parametrize("params", [
    STDPParams(a_plus=0.01, a_minus=0.012),
    STDPParams(a_plus=0.01, a_minus=0.012, mu_plus=1.0, mu_minus=1.0),
    STDPParams(a_plus=0.01, a_minus=0.012, tau_plus=0.017, tau_minus=0.034, pairing="nearest"),
], ids=["additive", "multiplicative", "nearest"])
def test_weight_change_of_simulated_pairs_matches_analytic_window(params):
    pre, post = pairing_rasters(LAGS_MS, n_pairs=1)
    w0 = torch.full((len(LAGS_MS), 1, 1), 0.5, dtype=torch.float64)
    w, _ = STDP(params, dt=DT).run(pre, post, w0)
    measured = (w - w0).numpy().ravel()
    analytic = stdp_window(LAGS_MS * 1e-3, params, w=0.5)
    r2 = 1 - np.sum((measured - analytic) ** 2) / np.sum((analytic - analytic.mean()) ** 2)
    assert r2 > 0.99
    np.testing.assert_allclose(measured, analytic, rtol=1e-9, atol=1e-15)


def bruteforce_pair_sum(pre_times, post_times, params, nearest):
    """Additive STDP without bounds as an explicit sum over spike pairs (t_post - t_pre != 0)."""
    total = 0.0
    for tq in post_times:
        earlier = pre_times[pre_times < tq]
        if nearest:
            earlier = earlier[-1:]
        total += np.sum(params.a_plus * np.exp(-(tq - earlier) / params.tau_plus))
    for tp in pre_times:
        earlier = post_times[post_times < tp]
        if nearest:
            earlier = earlier[-1:]
        total -= np.sum(params.a_minus * np.exp(-(tp - earlier) / params.tau_minus))
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("pairing", ["all_to_all", "nearest"])
def test_run_equals_bruteforce_sum_over_spike_pairs(seed, pairing):
    params = STDPParams(a_plus=0.003, a_minus=0.004, w_min=-100.0, w_max=100.0, pairing=pairing)
    rng = np.random.default_rng(seed)
    pre = rng.random((3000, 2, 6)) < 0.03
    post = rng.random((3000, 2, 4)) < 0.04
    w, _ = STDP(params, dt=DT).run(pre, post, torch.zeros(2, 6, 4, dtype=torch.float64))
    span = params.w_max - params.w_min
    for b in range(2):
        for i in range(6):
            for j in range(4):
                expected = span * bruteforce_pair_sum(
                    np.flatnonzero(pre[:, b, i]) * DT, np.flatnonzero(post[:, b, j]) * DT, params, pairing == "nearest"
                )
                assert w[b, i, j].item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_raster_run_equals_step_by_step_with_bounds_and_shared_weights(seed):
    params = STDPParams(a_plus=0.05, a_minus=0.06, mu_plus=0.5, mu_minus=0.5)
    g = torch.Generator().manual_seed(seed)
    pre = torch.rand(2000, 3, 20, generator=g) < 0.03
    post = torch.rand(2000, 3, 5, generator=g) < 0.05
    w0 = torch.rand(20, 5, generator=g, dtype=torch.float64)
    fast, _ = STDP(params, dt=DT).run(pre, post, w0)
    w, state = w0, init_state(3, 20, 5)
    for t in range(2000):
        w, state = stdp_step(pre[t].double(), post[t].double(), state, w, params, DT)
    assert (w - w0).abs().max() > 0.3
    torch.testing.assert_close(fast, w, rtol=0, atol=1e-12)


BRIAN_MODEL = """
w : 1
a_p : 1
a_m : 1
mu_p : 1
mu_m : 1
nearest : 1
dtr_in/dt = -tr_in / taup : 1 (event-driven)
dtr_out/dt = -tr_out / taum : 1 (event-driven)
"""
BRIAN_ON_PRE = """
w = clip(w - (wmax - wmin) * a_m * ((w - wmin) / (wmax - wmin))**mu_m * tr_out, wmin, wmax)
tr_in = tr_in * (1 - nearest) + 1
"""
BRIAN_ON_POST = """
w = clip(w + (wmax - wmin) * a_p * (1 - (w - wmin) / (wmax - wmin))**mu_p * tr_in, wmin, wmax)
tr_out = tr_out * (1 - nearest) + 1
"""
RULES = [dict(mu=0.0, nearest=0), dict(mu=1.0, nearest=0), dict(mu=0.0, nearest=1)]
BRIAN_LAGS_MS = LAGS_MS[LAGS_MS != 0]


@pytest.fixture(scope="module")
def brian2_pairing_weights():
    """Final weights of the pairing protocol in Brian2 (cython), one synapse per (rule, lag)."""
    import brian2 as b2

    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = "cython"
    try:
        return _brian2_pairing_weights(b2)
    finally:  # a preference left behind would change every later Brian2 test (test order must not matter)
        b2.prefs.codegen.target = previous


def _brian2_pairing_weights(b2):
    """The weights of `brian2_pairing_weights`, simulated with the preferences already set."""
    pre, post = pairing_rasters(BRIAN_LAGS_MS, n_pairs=10)
    n = len(BRIAN_LAGS_MS)
    idx_pre, t_pre, idx_post, t_post = [], [], [], []
    for r in range(len(RULES)):
        bins, cols, _ = np.nonzero(pre.numpy())
        idx_pre.append(cols + r * n), t_pre.append(bins)
        bins, cols, _ = np.nonzero(post.numpy())
        idx_post.append(cols + r * n), t_post.append(bins)
    clock_dt = DT * b2.second
    g_pre = b2.SpikeGeneratorGroup(3 * n, np.concatenate(idx_pre), np.concatenate(t_pre) * clock_dt, dt=clock_dt)
    g_post = b2.SpikeGeneratorGroup(3 * n, np.concatenate(idx_post), np.concatenate(t_post) * clock_dt, dt=clock_dt)
    namespace = dict(taup=20 * b2.ms, taum=20 * b2.ms, wmin=0.0, wmax=1.0)
    syn = b2.Synapses(g_pre, g_post, BRIAN_MODEL, on_pre=BRIAN_ON_PRE, on_post=BRIAN_ON_POST,
                      namespace=namespace, dt=clock_dt)
    syn.connect(j="i")
    syn.w = 0.5
    syn.a_p, syn.a_m = 0.01, 0.012
    syn.mu_p = np.repeat([r["mu"] for r in RULES], n)
    syn.mu_m = np.repeat([r["mu"] for r in RULES], n)
    syn.nearest = np.repeat([r["nearest"] for r in RULES], n)
    net = b2.Network(g_pre, g_post, syn)
    net.run(pre.shape[0] * clock_dt)
    return np.asarray(syn.w[:]).reshape(len(RULES), n)


@pytest.mark.parametrize("rule", range(len(RULES)), ids=["additive", "multiplicative", "nearest"])
def test_pairing_protocol_matches_brian2_synapses(brian2_pairing_weights, rule):
    spec = RULES[rule]
    params = STDPParams(a_plus=0.01, a_minus=0.012, mu_plus=spec["mu"], mu_minus=spec["mu"],
                        pairing="nearest" if spec["nearest"] else "all_to_all")
    pre, post = pairing_rasters(BRIAN_LAGS_MS, n_pairs=10)
    w0 = torch.full((len(BRIAN_LAGS_MS), 1, 1), 0.5, dtype=torch.float64)
    ours, _ = STDP(params, dt=DT).run(pre, post, w0)
    theirs = brian2_pairing_weights[rule]
    assert np.ptp(theirs) > 0.05
    np.testing.assert_allclose(ours.numpy().ravel(), theirs, rtol=1e-6, atol=0)


def song_checks(out, g_max):
    """Song et al. (2000): weights pile at the bounds, output rate nearly independent of input rate."""
    rates = out["rate_hz"]
    late = rates[:, -rates.shape[1] // 5 :].mean(1)
    return bimodality(out["weights"], g_max), late, rates[:, :2].mean(1)


def test_song2000_stdp_regulates_output_rate_and_splits_weights():
    """Short version: A+ doubled (0.01), 50 s; three independent (10 Hz, 40 Hz) neuron pairs in one batch."""
    params = STDPParams(a_plus=0.01, a_minus=0.0105, w_max=0.015)
    out = simulate_song2000((10.0, 40.0) * 3, duration=50.0, stdp=params, seed=0, update_every=1.0)
    split, late, early = song_checks(out, 0.015)
    early_ratio, late_ratio = early[1::2] / early[0::2], late[1::2] / late[0::2]
    assert np.all(early_ratio > 5)
    assert np.all(late_ratio < np.minimum(4.0, 0.25 * early_ratio))
    assert np.all(split["low"][1::2] > 0.5) and np.all(split["middle"][1::2] < 0.5)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_song2000_paper_parameters_bimodal_and_regulated(seed):
    out = simulate_song2000((10.0, 20.0, 40.0), duration=1000.0, seed=seed, update_every=1.0)
    split, late, early = song_checks(out, 0.015)
    assert late.max() / late.min() < 1.5
    assert np.all(split["low"] > 0.2) and np.all(split["high"] > 0.04)
    assert split["middle"][-1] < 0.3


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="tau_plus"):
        STDPParams(tau_plus=-0.02)
    with pytest.raises(ValueError, match="pairing"):
        STDPParams(pairing="triplet")
    with pytest.raises(ValueError, match="w_min"):
        STDPParams(w_min=1.0, w_max=0.0)
    rule = STDP(dt=1e-3)
    w = torch.full((4, 2), 0.5, dtype=torch.float64)
    with pytest.raises(ValueError, match="differ in T or B"):
        rule.run(torch.zeros(10, 1, 4), torch.zeros(9, 1, 2), w)
    with pytest.raises(ValueError, match="w has shape"):
        rule.run(torch.zeros(10, 1, 4), torch.zeros(10, 1, 3), w)
    with pytest.raises(ValueError, match="spikes"):
        rule.run(torch.full((10, 1, 4), 0.3), torch.zeros(10, 1, 2), w)
    with pytest.raises(ValueError, match="outside"):
        rule.run(torch.zeros(10, 1, 4), torch.zeros(10, 1, 2), w + 1)
    with pytest.raises(ValueError, match="no time bins"):
        rule.run(torch.zeros(0, 1, 4), torch.zeros(0, 1, 2), w)
    with pytest.raises(ValueError, match="dt"):
        STDP(dt=0.0)


def test_dt_is_required():
    with pytest.raises(TypeError, match="dt"):
        STDP(STDPParams())


def test_stdp_window_delta_t_s_still_works_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="'delta_t_s' is deprecated; use 'delta_t'"):
        assert stdp_window(delta_t_s=0.01) == stdp_window(0.01)


def test_state_and_temporaries_live_on_the_weights_device_not_torchs_default(forbid_default_device):
    gen = torch.Generator().manual_seed(3)
    pre = torch.rand(300, 2, 6, generator=gen) < 0.05
    post = torch.rand(300, 2, 4, generator=gen) < 0.05
    w0 = torch.full((6, 4), 0.5, dtype=torch.float64)
    for pairing in ("all_to_all", "nearest"):
        rule = STDP(STDPParams(a_plus=0.01, a_minus=0.0105, pairing=pairing), dt=1e-3)
        expected, _ = rule.run(pre, post, w0)
        state = init_state(2, 6, 4, torch.float64, "cpu")
        step_expected, _ = rule.step(pre[5], post[5], state, w0)
        with forbid_default_device:
            w, _ = rule.run(pre.numpy(), post, w0, record_every=100)
            w_step, _ = rule.step(pre[5].numpy(), post[5], state, w0)
        assert torch.equal(w, expected) and torch.equal(w_step, step_expected)


def test_the_brian2_fixture_leaves_the_codegen_target_as_it_found_it(brian2_pairing_weights):
    from brian2 import prefs

    assert prefs.codegen.target == "auto"
