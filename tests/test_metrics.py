"""Metrics against cases computed by hand here, formulas written independently here, Elephant.

Every expected value is either arithmetic written out in the test (the numbers of a small case
worked on paper), a closed form, or an independent computation (scipy's Hopcroft-Karp matching,
numerical integration, direct evaluation of Gaussians) -- never a call of the code under test.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from biofit.fitting.metrics import (
    count_coincidences,
    explained_variance_blocks,
    explained_variance_teeter,
    gamma_factor,
    intrinsic_reliability,
    normalised_gamma,
    rate_penalised_gamma_loss,
    spike_count_error,
    subthreshold_voltage_rmse,
    van_rossum_distance,
    voltage_rmse,
)


def _max_matching(a, b, delta):
    """Maximum number of disjoint pairs |a_i - b_j| <= delta (scipy's Hopcroft-Karp)."""
    if len(a) == 0 or len(b) == 0:
        return 0
    adjacency = np.abs(np.subtract.outer(a, b)) <= delta * (1 + 1e-9)
    match = maximum_bipartite_matching(csr_matrix(adjacency.astype(np.int8)), perm_type="column")
    return int(np.sum(match >= 0))


def _max_matching_exhaustive(a, b, delta):
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    for k in range(len(small), 0, -1):
        for chosen in itertools.combinations(range(len(small)), k):
            for partners in itertools.permutations(range(len(large)), k):
                if all(abs(small[i] - large[j]) <= delta for i, j in zip(chosen, partners)):
                    return k
    return 0


def _jolivet_gamma(model, data, delta, duration):
    """Jolivet et al. 2008 eq. 1 with the model's rate, written from the paper; clipped at 0."""
    n_c = _max_matching(data, model, delta)
    nu_model = len(model) / duration
    raw = (n_c - 2 * nu_model * delta * len(data)) / (0.5 * (len(data) + len(model))) / (1 - 2 * nu_model * delta)
    return max(raw, 0.0)


# ---- coincidences and the QSNMC 2007 Γ -------------------------------------------------------

def test_coincidence_count_equals_exhaustive_matching_on_small_cases():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = np.sort(rng.uniform(0, 0.02, rng.integers(0, 6)))
        b = np.sort(rng.uniform(0, 0.02, rng.integers(0, 6)))
        assert count_coincidences(a, b, 2e-3) == _max_matching_exhaustive(a, b, 2e-3)


def test_coincidence_count_equals_hopcroft_karp_in_both_orders():
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = rng.uniform(0, 1, rng.integers(0, 80))
        b = rng.uniform(0, 1, rng.integers(0, 80))
        expected = _max_matching(a, b, 5e-3)
        assert count_coincidences(a, b, 5e-3) == expected == count_coincidences(b, a, 5e-3)


def test_coincidence_window_is_inclusive_on_a_time_grid():
    dt = 1e-4
    data = np.arange(1, 50) * 137 * dt
    assert count_coincidences(data, data + 2 * dt, 2 * dt) == data.size
    assert count_coincidences(data, data + 3 * dt, 2 * dt) == 0


def test_qsnmc2007_gamma_of_a_hand_worked_case():
    # data 4 spikes, model 3: 0.1005 and 0.2015 coincide (0.5 and 1.5 ms), 0.35 does not: N_c = 2.
    # nu_model = 3 Hz; chance = 2 * 3 * 0.002 * 4 = 0.048; normalisation 1 - 2 * 3 * 0.002 = 0.988.
    data, model = [0.1, 0.2, 0.3, 0.4], [0.1005, 0.2015, 0.35]
    expected = (2 - 0.048) / (0.5 * (4 + 3)) / 0.988
    assert gamma_factor(model, data, 2e-3, 1.0) == pytest.approx(expected, rel=1e-12)
    assert gamma_factor(model, data, duration=1.0) == pytest.approx(expected, rel=1e-12)  # Δ = 2 ms


def test_qsnmc2007_gamma_is_clipped_at_zero_and_one_for_identical_trains():
    assert gamma_factor([0.5, 0.6, 0.7], [0.1, 0.2], 2e-3, 1.0) == 0.0
    assert gamma_factor([], [0.1, 0.2], 2e-3, 1.0) == 0.0
    t = np.random.default_rng(2).uniform(0, 10, 200)
    assert gamma_factor(t, t, 2e-3, 10.0) == pytest.approx(1.0, abs=1e-12)


def test_qsnmc2007_gamma_equals_the_papers_formula_on_random_trains():
    rng = np.random.default_rng(4)
    for _ in range(20):
        data = rng.uniform(0, 5, 60)
        keep = rng.integers(10, 60)
        model = np.concatenate([data[:keep] + rng.uniform(-3e-3, 3e-3, keep), rng.uniform(0, 5, rng.integers(0, 30))])
        assert gamma_factor(model, data, 2e-3, 5.0) == pytest.approx(_jolivet_gamma(model, data, 2e-3, 5.0), rel=1e-12)


def test_gamma_of_independent_poisson_trains_is_near_zero():
    rng = np.random.default_rng(3)
    values = [gamma_factor(rng.uniform(0, 10, 200), rng.uniform(0, 10, 200), 5e-4, 10.0) for _ in range(300)]
    # Clipping at 0 lifts the mean of a quantity centred near 0 by at most ~sd/sqrt(2 pi) ~ 0.004.
    assert 0.0 <= np.mean(values) < 0.01


def test_gamma_rejects_bad_input_and_warns_on_rate_correction():
    with pytest.raises(ValueError, match="spikes_data is empty"):
        gamma_factor([0.1], [], 2e-3, 1.0)
    with pytest.raises(ValueError, match="too wide"):
        gamma_factor(np.linspace(0, 1, 300), [0.1], 2e-3, 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        gamma_factor([0.1, np.nan], [0.1], 2e-3, 1.0)
    with pytest.raises(ValueError, match="duration"):
        gamma_factor([0.1], [0.1], 2e-3)
    with pytest.raises(ValueError, match="variant"):
        gamma_factor([0.1], [0.1], 2e-3, 1.0, variant="qsnmc2008")
    with pytest.warns(DeprecationWarning, match="rate_penalised_gamma_loss"):
        assert gamma_factor([0.1], [0.1], 2e-3, 1.0, rate_correction=False) == pytest.approx(1.0)


# ---- Naud et al. 2011: without replacement ---------------------------------------------------

# Hand case, Δ = 4 ms, T = 1 s, so the chance term of c(a, b) is 0.008 * N_a * N_b.
# data d1 = [0.1, 0.3], d2 = [0.1005, 0.5, 0.7]: c(d1, d2) = 1 - 0.048 = 0.952 (the data norm).
D1, D2 = [0.1, 0.3], [0.1005, 0.5, 0.7]


def test_naud2011_gamma_of_a_single_model_train_worked_by_hand():
    # model m = [0.1, 0.2]: c(m, d1) = 1 - 0.032 = 0.968, c(m, d2) = 1 - 0.048 = 0.952, mean 0.96;
    # its own norm c(m, m) = 2 - 0.032 = 1.968.  Γ* = 2 * 0.96 / (1.968 + 0.952).
    expected = 2 * 0.96 / (1.968 + 0.952)
    assert gamma_factor([0.1, 0.2], [D1, D2], 4e-3, 1.0, variant="naud2011") == pytest.approx(expected, rel=1e-12)
    assert gamma_factor([0.1, 0.2], [D1, D2], duration=1.0, variant="naud2011") == pytest.approx(expected, rel=1e-12)


def test_naud2011_gamma_of_two_model_trials_worked_by_hand():
    # m1 = [0.1, 0.3], m2 = [0.1, 0.2]: model norm c(m1, m2) = 1 - 0.032 = 0.968; cross terms
    # c(m1,d1) = 1.968, c(m1,d2) = 0.952, c(m2,d1) = 0.968, c(m2,d2) = 0.952, mean 4.84 / 4 = 1.21.
    expected = 2 * 1.21 / (0.968 + 0.952)
    got = gamma_factor([[0.1, 0.3], [0.1, 0.2]], [D1, D2], 4e-3, 1.0, variant="naud2011")
    assert got == pytest.approx(expected, rel=1e-12)


def test_naud2011_gamma_is_unbiased_for_a_model_as_noisy_as_the_cell():
    """Model and data drawn from the same inhomogeneous process: Γ* ~ 1 (Naud et al.'s point),
    while the mean pairwise 2007 Γ only reaches the cell's reliability."""
    rng = np.random.default_rng(11)
    peaks = np.sort(rng.uniform(0.05, 1.95, 30))

    def trial():
        kept = peaks[rng.random(peaks.size) < 0.7]
        return np.sort(kept + rng.normal(0, 2e-3, kept.size))

    scores, pairwise = [], []
    for _ in range(30):
        model, data = [trial() for _ in range(4)], [trial() for _ in range(4)]
        scores.append(gamma_factor(model, data, 4e-3, 2.0, variant="naud2011"))
        pairwise.append(np.mean([gamma_factor(m, d, 4e-3, 2.0) for m in model for d in data]))
    assert np.mean(scores) == pytest.approx(1.0, abs=0.05)
    assert np.mean(pairwise) < 0.8


# ---- intrinsic reliability, Γ/Γ_int, brian2modelfitting's loss ------------------------------

def test_intrinsic_reliability_and_normalised_gamma_worked_by_hand():
    # t1 = [0.1, 0.2], t2 = [0.1, 0.3]: N_c = 1, nu = 2 Hz, chance 2*2*0.002*2 = 0.016,
    # normalisation 1 - 0.008 = 0.992: Γ(t1, t2) = Γ(t2, t1) = 0.984 / 2 / 0.992.
    g12 = 0.984 / 2 / 0.992
    trials = [[0.1, 0.2], [0.1, 0.3]]
    assert intrinsic_reliability(trials, 2e-3, 1.0) == pytest.approx(g12, rel=1e-12)
    # a model equal to t1 scores Γ = 1 against t1 and g12 against t2.
    assert normalised_gamma([0.1, 0.2], trials, 2e-3, 1.0) == pytest.approx((1 + g12) / 2 / g12, rel=1e-12)
    with pytest.raises(ValueError, match="at least two trials"):
        intrinsic_reliability([[0.1]], 2e-3, 1.0)


def test_rate_penalised_loss_worked_by_hand():
    # data [0.1, 0.102, 0.5], model [0.101]: the one model spike serves both close data spikes,
    # N_b = 2; nu_d = 3 Hz, nu_m = 1 Hz; norm 0.5 * (1 - 2*3*0.002) = 0.494;
    # Γ_b = (2 - 2*0.002*3*3) / (0.494 * 4); loss = 1 + 2*2/3 - Γ_b.
    gamma_b = (2 - 0.036) / (0.494 * 4)
    expected = 1 + 4 / 3 - gamma_b
    assert rate_penalised_gamma_loss([0.101], [0.1, 0.102, 0.5], 2e-3, 1.0) == pytest.approx(expected, rel=1e-12)
    # The published Γ counts that model spike once: N_c = 1.
    assert count_coincidences([0.1, 0.102, 0.5], [0.101], 2e-3) == 1
    t = np.array([0.1, 0.4, 0.7])
    assert rate_penalised_gamma_loss(t, t, 2e-3, 1.0) == pytest.approx(0.0, abs=1e-12)


# ---- explained temporal variance -------------------------------------------------------------

def _gauss_trace(spikes, dt, n, sigma):
    """Direct evaluation of sum_s exp(-(t_k - t_s)^2 / 2 sigma^2) on bin k (spike in bin floor(s/dt))."""
    k = np.arange(n)
    return sum(np.exp(-0.5 * ((k - np.floor(s / dt)) * dt / sigma) ** 2) for s in spikes) + np.zeros(n)


def _ev(x, y):
    return (np.var(x) + np.var(y) - np.var(x - y)) / (np.var(x) + np.var(y))


def test_explained_variance_of_one_shifted_spike_matches_the_closed_form():
    # One data spike and one model spike shifted by delta: with S = sqrt(pi) sigma/dt (sum of g^2),
    # M = sqrt(2 pi) sigma/dt (sum of g), n bins: EV = (S e^{-delta^2/4 sigma^2}/n - (M/n)^2) / (S/n - (M/n)^2).
    dt, duration, sigma, n = 1e-3, 1.0, 0.01, 1000
    for delta in (0.0, 0.005, 0.02):
        s, m = np.sqrt(np.pi) * sigma / dt, np.sqrt(2 * np.pi) * sigma / dt
        expected = (s * np.exp(-delta**2 / (4 * sigma**2)) / n - (m / n) ** 2) / (s / n - (m / n) ** 2)
        data, model = [[0.4]], [[0.4 + delta]]
        assert explained_variance_blocks(model, data, dt, duration, sigma) == pytest.approx(expected, rel=1e-6)
        assert explained_variance_teeter(model, data, dt, duration, sigma) == pytest.approx(expected, rel=1e-5)


def test_explained_variances_equal_direct_computation_over_trials():
    rng = np.random.default_rng(5)
    dt, duration, sigma, n = 5e-4, 1.0, 0.01, 2000
    data = [np.sort(rng.uniform(0.1, 0.9, 12)) for _ in range(4)]
    model = [np.sort(rng.uniform(0.1, 0.9, 10)) for _ in range(3)]
    xd = [_gauss_trace(d, dt, n, sigma) for d in data]
    xm = [_gauss_trace(m, dt, n, sigma) for m in model]
    psth_d, psth_m = np.mean(xd, axis=0), np.mean(xm, axis=0)
    norm = np.mean([_ev(x, psth_d) for x in xd])
    teeter = np.mean([_ev(x, y) for x in xd for y in xm]) / norm
    blocks = np.mean([_ev(x, psth_m) for x in xd]) / norm
    assert explained_variance_teeter(model, data, dt, duration, sigma) == pytest.approx(teeter, rel=1e-5)
    assert explained_variance_blocks(model, data, dt, duration, sigma) == pytest.approx(blocks, rel=1e-6)
    assert explained_variance_teeter(data, data, dt, duration, sigma) != pytest.approx(1.0, abs=1e-3)
    one = [data[0]]
    assert explained_variance_blocks(one, one, dt, duration, sigma) == pytest.approx(1.0, abs=1e-12)


def test_explained_variance_rejects_spikes_outside_the_duration():
    with pytest.raises(ValueError, match="outside"):
        explained_variance_teeter([[1.5]], [[0.5]], 1e-3, 1.0)


# ---- van Rossum ------------------------------------------------------------------------------

def _van_rossum_numeric(t1, t2, tau, dt=1e-5):
    t_end = max(np.max(t1, initial=0), np.max(t2, initial=0)) + 30 * tau
    grid = np.arange(0.0, t_end, dt)

    def filtered(times):
        out = np.zeros_like(grid)
        for s in times:
            after = grid >= s
            out[after] += np.exp(-(grid[after] - s) / tau)
        return out

    return float(np.sqrt(np.trapezoid((filtered(t1) - filtered(t2)) ** 2, grid) / tau))


def test_van_rossum_matches_numerical_integration():
    rng = np.random.default_rng(5)
    for tau in (2e-3, 10e-3):
        t1, t2 = np.sort(rng.uniform(0, 0.2, 6)), np.sort(rng.uniform(0, 0.2, 4))
        assert van_rossum_distance(t1, t2, tau) == pytest.approx(_van_rossum_numeric(t1, t2, tau), rel=2e-3)


def test_van_rossum_closed_forms():
    assert van_rossum_distance([0.3], [], 5e-3) == pytest.approx(1 / np.sqrt(2), rel=1e-12)
    assert van_rossum_distance([0.3, 0.1], [0.1, 0.3], 5e-3) == 0.0
    # two single spikes d apart: D^2 = 1 - exp(-d / tau)
    assert van_rossum_distance([0.1], [0.104], 5e-3) == pytest.approx(np.sqrt(1 - np.exp(-0.8)), rel=1e-12)


def test_van_rossum_equals_elephant_over_sqrt2():
    elephant_std = pytest.importorskip("elephant.spike_train_dissimilarity")
    neo = pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")
    rng = np.random.default_rng(6)
    for tau in (1e-3, 20e-3):
        t1, t2 = np.sort(rng.uniform(0, 2, 40)), np.sort(rng.uniform(0, 2, 55))
        trains = [neo.SpikeTrain(t * pq.s, t_stop=2.0 * pq.s) for t in (t1, t2)]
        ref = elephant_std.van_rossum_distance(trains, time_constant=tau * pq.s)[0, 1]
        assert van_rossum_distance(t1, t2, tau) == pytest.approx(ref / np.sqrt(2), rel=1e-9)


# ---- voltage and counts ----------------------------------------------------------------------

def test_voltage_rmse_worked_by_hand():
    data = np.zeros(4)
    model = np.array([1.0, 1.0, -1.0, 3.0]) * 1e-3
    assert voltage_rmse(model, data) == pytest.approx(np.sqrt((1 + 1 + 1 + 9) / 4) * 1e-3, rel=1e-12)
    assert voltage_rmse(model, data, np.array([True, True, True, False])) == pytest.approx(1e-3, rel=1e-12)


def test_subthreshold_rmse_masks_both_trains_spikes():
    dt = 1e-4
    data = np.zeros(1000)
    model = np.full(1000, 2e-3)
    model[300:310] = 0.05  # a model spike at 30 ms: masked from 28 ms to 35 ms
    model[700] = 0.05  # a data spike at 70 ms
    assert subthreshold_voltage_rmse(model, data, dt, [0.030], [0.070]) == pytest.approx(2e-3, rel=1e-12)
    assert voltage_rmse(model, data) > 5e-3


def test_spike_count_error_per_sweep():
    assert spike_count_error([[0.1, 0.2, 0.3], [], [0.5]], [[0.1], [0.2, 0.4], [0.5]]).tolist() == [2, -2, 0]
    with pytest.raises(ValueError, match="2 model sweeps for 1"):
        spike_count_error([[], []], [[]])


def test_trace_metrics_name_bad_input():
    with pytest.raises(ValueError, match="v_model has shape"):
        voltage_rmse(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="v_data has 1 non-finite"):
        voltage_rmse(np.zeros(3), np.array([0.0, np.inf, 0.0]))
    with pytest.raises(ValueError, match="all-False"):
        voltage_rmse(np.zeros(3), np.zeros(3), np.zeros(3, dtype=bool))
