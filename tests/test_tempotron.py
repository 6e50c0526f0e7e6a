"""Tempotron (Gütig & Sompolinsky 2006): exact potentials, learning, generalization, sklearn API."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimator

from biofit.experiments.tempotron_capacity import jittered_templates, random_latency_patterns
from biofit.learning.tempotron import Tempotron, potentials, psp_kernel, spike_events

TAU, TAU_S = 0.015, 0.00375


def test_kernel_peak_is_one_at_the_analytic_peak_time():
    t = np.linspace(0, 0.1, 200001)
    k = psp_kernel(t)
    t_peak = TAU * TAU_S / (TAU - TAU_S) * math.log(TAU / TAU_S)
    assert k.max() == pytest.approx(1.0, abs=1e-9)
    assert t[k.argmax()] == pytest.approx(t_peak, abs=1e-6)
    assert psp_kernel(-0.001) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_potential_equals_bruteforce_sum_of_kernels(seed):
    rng = np.random.default_rng(seed)
    X = [[np.sort(rng.uniform(0, 0.2, rng.integers(0, 4))) for _ in range(7)] for _ in range(5)]
    w = rng.normal(0, 1, size=(2, 7))
    events = spike_events(X, 1e-3, 0.2, TAU)
    v = potentials(events, w, 1e-3, TAU, TAU_S, v_rest=-0.1)
    grid = np.arange(events.n_bins) * 1e-3
    for s, pattern in enumerate(X):
        for u in range(2):
            brute = -0.1 + sum(w[u, i] * psp_kernel(grid[:, None] - np.asarray(tr)[None]).sum(1)
                               for i, tr in enumerate(pattern))
            np.testing.assert_allclose(v[u, s], brute, atol=1e-10)


def test_latency_raster_and_spike_list_inputs_give_the_same_decision():
    rng = np.random.default_rng(3)
    bins = rng.integers(0, 300, size=(30, 40))
    y = rng.integers(0, 2, 30)
    latencies = bins * 1e-3
    raster = np.zeros((30, 40, 300), bool)
    raster[np.arange(30)[:, None], np.arange(40)[None], bins] = True
    lists = [[np.array([t]) for t in row] for row in latencies]
    clf = Tempotron(n_epochs=5, seed=0, duration=0.3).fit(latencies, y)
    d_lat = clf.decision_function(latencies)
    np.testing.assert_allclose(clf.decision_function(lists), d_lat, atol=1e-9)
    raster_clf = Tempotron(n_epochs=5, seed=0, duration=0.3).fit(raster, y)
    np.testing.assert_allclose(raster_clf.coef_, clf.coef_, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learns_random_latency_patterns_at_load_one(seed):
    X, y = random_latency_patterns(n_patterns=100, n_afferents=100, seed=seed)
    clf = Tempotron(n_epochs=300, seed=seed, duration=0.5).fit(X, y)
    assert clf.score(X, y) == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learns_2n_patterns_with_500_afferents(seed):
    X, y = random_latency_patterns(n_patterns=1000, n_afferents=500, seed=seed)
    clf = Tempotron(learning_rate=0.005, momentum=0.9, batch_size=1, n_epochs=4000, seed=seed, duration=0.5)
    assert clf.fit(X, y).score(X, y) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generalizes_on_jittered_templates(seed):
    X_train, y_train, X_test, y_test = jittered_templates(n_afferents=100, n_train=60, n_test=200, jitter_s=0.005, seed=seed)
    clf = Tempotron(n_epochs=200, seed=seed, duration=0.5).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.85


def test_three_classes_one_vs_rest():
    X, y = random_latency_patterns(n_patterns=60, n_afferents=100, n_classes=3, seed=4)
    clf = Tempotron(n_epochs=300, seed=0, duration=0.5).fit(X, y)
    assert clf.coef_.shape == (3, 100) and clf.decision_function(X).shape == (60, 3)
    assert clf.score(X, y) > 0.95


# check_estimator feeds 2-D first-spike latencies (made non-negative by the positive_only tag).
EXPECTED_FAILED = {
    "check_classifiers_train": "latencies of make_blobs features span seconds while PSPs last ~50 ms, so "
                               "two afferents never overlap and the blobs are not separable by a tempotron",
}


def test_passes_sklearn_check_estimator_except_documented_checks():
    check_estimator(Tempotron(n_epochs=3, batch_size=64, dt=0.005, seed=0), expected_failed_checks=EXPECTED_FAILED)


def test_bad_inputs_raise_clear_errors():
    clf = Tempotron(n_epochs=2)
    with pytest.raises(ValueError, match="Negative values"):
        clf.fit(np.array([[0.1, -0.2], [0.1, 0.2]]), [0, 1])
    with pytest.raises(ValueError, match="outside"):
        Tempotron(duration=0.5).fit(np.array([[0.1, 0.7], [0.1, 0.2]]), [0, 1])
    with pytest.raises(ValueError, match="1 class"):
        clf.fit(np.array([[0.1, 0.2], [0.1, 0.2]]), [1, 1])
    with pytest.raises(ValueError, match="same"):
        clf.fit([[np.array([0.1]), np.array([0.2])], [np.array([0.1])]], [0, 1])
    with pytest.raises(ValueError, match="2D array"):
        clf.fit([], [])
    with pytest.raises(ValueError, match="tau_s"):
        Tempotron(tau_s=-0.001).fit(np.array([[0.1, 0.2], [0.1, 0.2]]), [0, 1])
    with pytest.raises(ValueError, match="tau_s < tau"):
        Tempotron(tau_s=0.02).fit(np.array([[0.1, 0.2], [0.1, 0.2]]), [0, 1])
    with pytest.raises(ValueError, match="0/1"):
        clf.fit(np.full((2, 3, 10), 0.5), [0, 1])
    with pytest.raises(ValueError, match="patterns but y"):
        clf.fit([[np.array([0.1])], [np.array([0.2])]], [0, 1, 0])
    fitted = Tempotron(n_epochs=2).fit(np.array([[0.1, 0.2], [0.2, 0.1]]), [0, 1])
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.array([[0.1, 0.2, 0.3]]))
