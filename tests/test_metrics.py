"""Spike/voltage metrics against brute-force references written here and against Elephant."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from biofit.fitting.metrics import (
    count_coincidences,
    explained_temporal_variance,
    gamma_factor,
    van_rossum_distance,
    voltage_rmse,
)


def _max_matching_hopcroft_karp(a, b, delta):
    """Maximum number of disjoint pairs |a_i - b_j| <= delta, by scipy's Hopcroft-Karp."""
    if len(a) == 0 or len(b) == 0:
        return 0
    adjacency = np.abs(np.subtract.outer(a, b)) <= delta * (1 + 1e-9)
    match = maximum_bipartite_matching(csr_matrix(adjacency.astype(np.int8)), perm_type="column")
    return int(np.sum(match >= 0))


def _max_matching_exhaustive(a, b, delta):
    """Maximum matching by trying every injective assignment (tiny inputs only)."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    for k in range(len(small), 0, -1):
        for chosen in itertools.combinations(range(len(small)), k):
            for partners in itertools.permutations(range(len(large)), k):
                if all(abs(small[i] - large[j]) <= delta for i, j in zip(chosen, partners)):
                    return k
    return 0


def _van_rossum_numeric(t1, t2, tau, dt=1e-5):
    """D = sqrt((1/tau) * integral (f - g)^2) with f, g filtered on a fine grid (trapezoid rule)."""
    t_end = max(np.max(t1, initial=0), np.max(t2, initial=0)) + 30 * tau
    grid = np.arange(0.0, t_end, dt)

    def filtered(times):
        out = np.zeros_like(grid)
        for s in times:
            after = grid >= s
            out[after] += np.exp(-(grid[after] - s) / tau)
        return out

    diff2 = (filtered(t1) - filtered(t2)) ** 2
    return float(np.sqrt(np.trapezoid(diff2, grid) / tau))


def test_coincidence_count_equals_exhaustive_matching_on_small_cases():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = np.sort(rng.uniform(0, 0.02, rng.integers(0, 6)))
        b = np.sort(rng.uniform(0, 0.02, rng.integers(0, 6)))
        assert count_coincidences(a, b, 2e-3) == _max_matching_exhaustive(a, b, 2e-3)


def test_coincidence_count_equals_hopcroft_karp_on_random_trains():
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = rng.uniform(0, 1, rng.integers(0, 80))
        b = rng.uniform(0, 1, rng.integers(0, 80))
        expected = _max_matching_hopcroft_karp(a, b, 5e-3)
        assert count_coincidences(a, b, 5e-3) == expected
        assert count_coincidences(b, a, 5e-3) == expected


def test_one_model_spike_between_two_data_spikes_counts_once():
    assert count_coincidences([0.010, 0.012], [0.011], 2e-3) == 1


def test_coincidence_window_is_inclusive_on_a_time_grid():
    dt = 1e-4
    data = np.arange(1, 50) * 137 * dt
    assert count_coincidences(data, data + 2 * dt, 2 * dt) == data.size
    assert count_coincidences(data, data + 3 * dt, 2 * dt) == 0


def test_gamma_of_identical_trains_is_one():
    t = np.random.default_rng(2).uniform(0, 10, 200)
    assert gamma_factor(t, t, 2e-3, 10.0) == pytest.approx(1.0, abs=1e-12)
    assert gamma_factor(t, t, 2e-3, 10.0, rate_correction=False) == pytest.approx(1.0, abs=1e-12)


def test_gamma_of_independent_poisson_trains_is_zero_in_expectation():
    rng = np.random.default_rng(3)
    values = []
    for _ in range(400):
        data = rng.uniform(0, 10, rng.poisson(200))
        model = rng.uniform(0, 10, rng.poisson(200))
        values.append(gamma_factor(model, data, 5e-4, 10.0, rate_correction=False))
    # Per value: sd ~ sqrt(4 chance coincidences) / 200 ~ 0.01, so the mean of 400 has an SEM of
    # ~5e-4. Counting each spike at most once loses chance coincidences where two spikes share a
    # window, a bias of order -(2 nu Delta)^2 = -4e-4 here: |mean| < 0.003 allows both.
    assert abs(np.mean(values)) < 0.003


def test_gamma_matches_formula_with_hopcroft_karp_matching():
    rng = np.random.default_rng(4)
    data = rng.uniform(0, 5, 60)
    model = np.concatenate([data[:45] + rng.uniform(-1e-3, 1e-3, 45), rng.uniform(0, 5, 20)])
    delta, duration = 2e-3, 5.0
    n_c = _max_matching_hopcroft_karp(data, model, delta)
    nu_d, nu_m = data.size / duration, model.size / duration
    expected = (n_c - 2 * nu_m * delta * data.size) / (0.5 * (data.size + model.size)) / (1 - 2 * nu_d * delta)
    assert gamma_factor(model, data, delta, duration, rate_correction=False) == pytest.approx(expected, rel=1e-12)
    penalty = 2 * abs(nu_d - nu_m) / nu_d
    assert gamma_factor(model, data, delta, duration) == pytest.approx(expected - penalty, rel=1e-12)


def test_gamma_rejects_empty_data_and_too_wide_window():
    with pytest.raises(ValueError, match="spikes_data is empty"):
        gamma_factor([0.1], [], 2e-3, 1.0)
    with pytest.raises(ValueError, match="too wide"):
        gamma_factor([0.1], np.linspace(0, 1, 300), 2e-3, 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        gamma_factor([0.1, np.nan], [0.1], 2e-3, 1.0)


def test_van_rossum_matches_numerical_integration():
    rng = np.random.default_rng(5)
    for tau in (2e-3, 10e-3):
        t1 = np.sort(rng.uniform(0, 0.2, 6))
        t2 = np.sort(rng.uniform(0, 0.2, 4))
        assert van_rossum_distance(t1, t2, tau) == pytest.approx(_van_rossum_numeric(t1, t2, tau), rel=2e-3)


def test_van_rossum_single_spike_against_empty_is_one_over_sqrt2():
    assert van_rossum_distance([0.3], [], 5e-3) == pytest.approx(1 / np.sqrt(2), rel=1e-12)
    assert van_rossum_distance([0.3, 0.1], [0.1, 0.3], 5e-3) == 0.0


def test_van_rossum_equals_elephant_over_sqrt2():
    elephant_std = pytest.importorskip("elephant.spike_train_dissimilarity")
    neo = pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")
    rng = np.random.default_rng(6)
    for tau in (1e-3, 20e-3):
        t1 = np.sort(rng.uniform(0, 2, 40))
        t2 = np.sort(rng.uniform(0, 2, 55))
        trains = [neo.SpikeTrain(t * pq.s, t_stop=2.0 * pq.s) for t in (t1, t2)]
        ref = elephant_std.van_rossum_distance(trains, time_constant=tau * pq.s)[0, 1]
        assert van_rossum_distance(t1, t2, tau) == pytest.approx(ref / np.sqrt(2), rel=1e-9)


def test_voltage_rmse_and_explained_variance_match_direct_formulas():
    rng = np.random.default_rng(7)
    v_data = -0.065 + 0.005 * rng.standard_normal(1000)
    v_model = v_data + 0.001 * rng.standard_normal(1000)
    mask = rng.random(1000) > 0.3
    diff = v_model[mask] - v_data[mask]
    assert voltage_rmse(v_model, v_data, mask) == pytest.approx(np.sqrt(np.mean(diff**2)), rel=1e-12)
    ev = 1 - np.sum(diff**2) / np.sum((v_data[mask] - v_data[mask].mean()) ** 2)
    assert explained_temporal_variance(v_model, v_data, mask) == pytest.approx(ev, rel=1e-12)
    assert explained_temporal_variance(np.full(1000, v_data.mean()), v_data) == pytest.approx(0.0, abs=1e-12)


def test_trace_metrics_name_bad_input():
    with pytest.raises(ValueError, match="v_model has shape"):
        voltage_rmse(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="v_data has 1 non-finite"):
        voltage_rmse(np.zeros(3), np.array([0.0, np.inf, 0.0]))
    with pytest.raises(ValueError, match="constant"):
        explained_temporal_variance(np.zeros(3), np.ones(3))
