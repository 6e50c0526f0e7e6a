"""SNNLZCClassifier, its decisions and the baselines: sklearn conformance, references, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import check_estimator

from biofit.classify import InputLZCLogistic, LZCNearestCentroid, PSTHLogistic, RateLogistic, SNNLZCClassifier
from biofit.classify.decision import train_features
from biofit.classify.inputs import BINARY_DATA_FAILED_CHECKS, EXPECTED_FAILED_CHECKS
from biofit.classify.paths import tempotron_trains
from biofit.encoding import lempel_ziv_complexity
from biofit.learning import Tempotron
from biofit.learning.tempotron import psp_kernel

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = dict(n_hidden=4, n_epochs=1, batch_size=64)


def _rate_task(n=60, C=8, T=60, seed=0):
    """Class 1 fires at 80 Hz on the first half of the channels, class 0 on the second half."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    rate = np.where((np.arange(C) < C // 2) == y[:, None].astype(bool), 0.08, 0.01)
    return rng.random((n, C, T)) < rate[:, :, None], y


def _binary(X):
    """sklearn's test data mapped to 0/1 (NaN/inf kept, so that they are still rejected)."""
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        return X
    arr = np.asarray(X)
    arr = arr.astype(np.float64) if arr.dtype == object else arr
    if arr.dtype.kind not in "biuf":
        return arr
    out = arr.astype(np.float64)
    finite = np.isfinite(out)
    out[finite] = np.floor(out[finite] * 4) % 2
    return out


class _Binary:
    """Mixin: sklearn's data thresholded to 0/1 before the estimator sees them."""

    def fit(self, X, y):
        return super().fit(_binary(X), y)

    def predict_proba(self, X):
        return super().predict_proba(_binary(X))

    def predict(self, X):
        return super().predict(_binary(X))


class BinarySNNLZCClassifier(_Binary, SNNLZCClassifier):
    pass


class BinaryRateLogistic(_Binary, RateLogistic):
    pass


class BinaryPSTHLogistic(_Binary, PSTHLogistic):
    pass


class BinaryInputLZCLogistic(_Binary, InputLZCLogistic):
    pass


BINARY = {SNNLZCClassifier: BinarySNNLZCClassifier, RateLogistic: BinaryRateLogistic,
          PSTHLogistic: BinaryPSTHLogistic, InputLZCLogistic: BinaryInputLZCLogistic}


ESTIMATORS = [SNNLZCClassifier(**TINY), SNNLZCClassifier(training="stdp", **TINY),
              SNNLZCClassifier(training="tempotron", **TINY), RateLogistic(), PSTHLogistic(bin_width=2),
              InputLZCLogistic()]


def _statuses(results):
    status = {}
    for r in results:
        status.setdefault(r["check_name"], set()).add(r["status"])
    return status


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: f"{type(e).__name__}-{getattr(e, 'training', '')}")
def test_check_estimator_passes_except_the_checks_that_feed_continuous_data(estimator):
    status = _statuses(check_estimator(estimator, expected_failed_checks=EXPECTED_FAILED_CHECKS, on_skip=None))
    assert not [name for name, s in status.items() if "failed" in s]
    assert {n for n, s in status.items() if "xfail" in s} == set(EXPECTED_FAILED_CHECKS)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: f"{type(e).__name__}-{getattr(e, 'training', '')}")
def test_check_estimator_on_binary_data_fails_only_the_accuracy_check(estimator):
    """The skipped checks, run on sklearn's data thresholded to 0/1: the sklearn plumbing holds."""
    params = estimator.get_params()
    results = check_estimator(BINARY[type(estimator)](**params), on_skip=None, on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert failed <= set(BINARY_DATA_FAILED_CHECKS)
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert set(EXPECTED_FAILED_CHECKS) - set(BINARY_DATA_FAILED_CHECKS) <= passed


def test_lzc_rule_equals_the_formula_written_out():
    rng = np.random.default_rng(0)
    Z, y = rng.random((30, 3)), rng.integers(0, 3, 30)
    rule = LZCNearestCentroid().fit(Z, y)
    means = np.array([Z[y == c].mean(0) for c in range(3)])
    resid = np.concatenate([Z[y == c] - means[c] for c in range(3)])
    var = (resid**2).sum(0) / (30 - 3)
    var = var + 1e-6 * var.max() + 1e-12
    Q = rng.random((5, 3))
    score = np.array([[-0.5 * ((q - means[c]) ** 2 / var).sum() + np.log(np.mean(y == c)) for c in range(3)]
                      for q in Q])
    np.testing.assert_allclose(rule.decision_function(Q), score)
    np.testing.assert_allclose(rule.predict_proba(Q), np.exp(score) / np.exp(score).sum(1, keepdims=True))
    assert rule.predict(Q).tolist() == score.argmax(1).tolist()


def test_train_features_are_the_lzc_and_rate_of_every_train():
    trains = np.random.default_rng(1).random((4, 3, 80)) < 0.2
    z, r = train_features(trains)
    for s in range(4):
        for k in range(3):
            assert z[s, k] == lempel_ziv_complexity(trains[s, k])
            assert r[s, k] == trains[s, k].mean()


def test_tempotron_trains_are_the_upward_threshold_crossings_of_the_unshunted_potential():
    rng = np.random.default_rng(2)
    hidden = rng.random((6, 5, 120)) < 0.05
    dt = 1e-3
    clf = Tempotron(dt=dt, n_epochs=1).fit(hidden.astype(np.uint8), np.arange(6) % 3)
    clf.coef_ = rng.normal(0.4, 0.5, clf.coef_.shape)
    trains = tempotron_trains(clf, hidden, chunk=4)
    t = np.arange(120) * dt
    for s in range(6):
        for u in range(3):
            v = sum(clf.coef_[u, a] * psp_kernel(t - k * dt, clf.tau, clf.tau_syn)
                    for a in range(5) for k in np.flatnonzero(hidden[s, a]))
            above = v >= clf.threshold
            expected = above & ~np.concatenate([[False], above[:-1]])
            assert trains[s, u].tolist() == expected.tolist()


@pytest.mark.parametrize("training", ["backprop", "stdp", "tempotron"])
def test_each_training_path_learns_a_rate_task(training):
    X, y = _rate_task(n=80)
    clf = SNNLZCClassifier(training=training, n_hidden=16, n_epochs=20, seed=0).fit(X[:60], y[:60])
    assert clf.score(X[60:], y[60:]) >= 0.8
    k = {"backprop": 2, "stdp": 16, "tempotron": 1}[training]
    assert clf.output_trains(X[:3]).shape == (3, k, 60)


def test_equal_seeds_give_equal_predictions_and_pickling_keeps_them():
    X, y = _rate_task()
    a = SNNLZCClassifier(neuron="meta", n_hidden=6, n_epochs=2, seed=4).fit(X, y)
    b = SNNLZCClassifier(neuron="meta", n_hidden=6, n_epochs=2, seed=4).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.predict_proba(X), c.predict_proba(X))


def test_intrinsic_parameters_learn_only_when_asked():
    X, y = _rate_task()
    fixed = SNNLZCClassifier(learn_intrinsic=False, n_hidden=6, n_epochs=2, seed=0).fit(X, y)
    learned = SNNLZCClassifier(learn_intrinsic=True, n_hidden=6, n_epochs=2, seed=0).fit(X, y)
    assert fixed.snn_.intrinsic() == [{}, {}]
    values = learned.snn_.intrinsic()[0]
    assert set(values) == {"tau_mem", "v_th", "v_reset"}
    assert not np.allclose(values["v_th"], -50e-3)  # moved from the model's default


def test_spike_counts_sum_every_layer():
    X, y = _rate_task()
    clf = SNNLZCClassifier(n_hidden=6, n_epochs=1, seed=0).fit(X, y)
    layers = clf.snn_.layer_spikes(X)
    assert clf.spike_counts(X).tolist() == (layers[0].sum((1, 2)) + layers[1].sum((1, 2))).tolist()


def test_cuda_without_cuda_runs_on_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = _rate_task(n=20)
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        SNNLZCClassifier(device="cuda", **TINY).fit(X, y)


def test_psth_and_rate_features_equal_loops():
    X, _ = _rate_task(n=3, C=2, T=23)
    psth = PSTHLogistic(bin_width=5).features(X.astype(np.uint8))
    by_hand = [[X[s, c, i:i + 5].sum() for c in range(2) for i in range(0, 23, 5)] for s in range(3)]
    assert psth.tolist() == by_hand
    assert RateLogistic().features(X.astype(np.uint8)).tolist() == X.sum(2).tolist()


@pytest.mark.parametrize("X, y, match", [
    (np.zeros((4, 2, 3, 5)), [0, 1, 0, 1], r"shape \(4, 2, 3, 5\)"),
    (np.full((4, 2, 5), 0.5), [0, 1, 0, 1], "other than 0 and 1"),
    (np.zeros((4, 2, 5)), [1, 1, 1, 1], "one class"),
    (np.zeros((4, 2, 5)), [0.0, np.nan, 1.0, np.nan], "2 NaN labels"),
    (np.zeros((4, 2, 5)), [0.2, 0.7, 1.3, 2.1], "Unknown label type"),
    (np.zeros((4, 2, 5)), [0, 1, 0], "4 samples but y has 3 labels"),
    (np.zeros((4, 2, 5)), None, "requires y"),
])
def test_bad_training_data_raise_naming_the_problem(X, y, match):
    for estimator in (SNNLZCClassifier(**TINY), RateLogistic()):
        with pytest.raises(ValueError, match=match):
            estimator.fit(X, y)


@pytest.mark.parametrize("params, match", [
    (dict(neuron="izhikevich"), "unknown neuron 'izhikevich'"),
    (dict(training="hebb"), "unknown training 'hebb'"),
    (dict(decision="vote"), "unknown decision 'vote'"),
    (dict(variant="lz77"), "unknown variant 'lz77'"),
    (dict(n_hidden=0), "n_hidden"),
    (dict(validation_fraction=1.5), "validation_fraction"),
])
def test_unknown_names_and_bad_settings_raise(params, match):
    X, y = _rate_task(n=10)
    with pytest.raises(ValueError, match=match):
        SNNLZCClassifier(**{**TINY, **params}).fit(X, y)


def test_a_test_raster_with_other_channels_is_rejected():
    X, y = _rate_task(n=10)
    for estimator in (SNNLZCClassifier(**TINY), InputLZCLogistic()):
        estimator.fit(X, y)
        with pytest.raises(ValueError, match=r"X has 420 features, but \w+ is expecting 480 features as input "
                                             r"\(7 channel\(s\) x 60 bin\(s\); fitted on 8 channel"):
            estimator.predict(X[:, :7])
