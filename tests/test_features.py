"""LZCEncoder: features equal a sample-by-sample composition of the LZC functions; sklearn API."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from biofit.datasets.sources import markov_source
from biofit.encoding.features import EXPECTED_FAILED_CHECKS, LZCEncoder
from biofit.encoding.lzc import lempel_ziv_complexity, population_lzc
from biofit.encoding.poisson import poisson_spike_trains


def _raster(seed=0, n_samples=5, n_channels=4, n_bins=300):
    rng = np.random.default_rng(seed)
    density = rng.uniform(0.02, 0.6, size=(n_samples, n_channels, 1))
    X = rng.random((n_samples, n_channels, n_bins)) < density
    X[0, -1] = False  # a silent channel
    X[-1, 0, ::3] = True  # a periodic one
    return X


def _or_pool(row, w):
    """Coarse-graining written out: bin k is 1 iff any of row[k*w:(k+1)*w] is 1."""
    return np.array([row[k * w:(k + 1) * w].any() for k in range(len(row) // w)])


def _brute_force(X, variant, normalize, bin_widths):
    out = []
    for sample in X:
        feats = [lempel_ziv_complexity(ch, variant, normalize) for ch in sample]
        feats.append(population_lzc(sample, variant, normalize))
        feats += [ch.mean() for ch in sample]
        feats += [lempel_ziv_complexity(_or_pool(ch, w), variant, normalize)
                  for w in bin_widths for ch in sample]
        out.append(feats)
    return np.array(out, dtype=np.float64)


@pytest.mark.parametrize("variant", ["lz76", "lz78"])
@pytest.mark.parametrize("normalize", [True, False])
def test_features_equal_per_sample_composition_of_lzc_functions(variant, normalize):
    X = _raster()
    enc = LZCEncoder(variant=variant, normalize=normalize, bin_widths=[2, 7]).fit(X)
    expected = _brute_force(X, variant, normalize, [2, 7])
    np.testing.assert_allclose(enc.transform(X), expected, rtol=0, atol=1e-12)
    names = enc.get_feature_names_out()
    assert len(names) == expected.shape[1]
    assert list(names[:5]) == [f"{variant}_ch{c}" for c in range(4)] + [f"{variant}_population"]
    assert list(names[5:9]) == [f"rate_ch{c}" for c in range(4)]
    assert list(names[9:]) == [f"{variant}_w{w}_ch{c}" for w in (2, 7) for c in range(4)]


def test_feature_blocks_can_be_switched_off():
    X = _raster(1)
    enc = LZCEncoder(per_channel=False, rates=False).fit(X)
    np.testing.assert_allclose(enc.transform(X)[:, 0], [population_lzc(s) for s in X])
    assert list(enc.get_feature_names_out()) == ["lz76_population"]


def test_two_d_input_is_one_channel_and_dtypes_torch_give_the_same_features():
    X = _raster(2, n_channels=1)
    enc = LZCEncoder().fit(X)
    reference = enc.transform(X)
    for variant in (X[:, 0, :], X.astype(np.int64), X.astype(np.float32), torch.from_numpy(X)):
        np.testing.assert_array_equal(enc.transform(variant), reference)


def test_pipeline_with_logistic_regression_separates_poisson_from_bursty_at_equal_rate():
    """Both classes fire at 20 Hz per 1 ms bin; only the temporal structure (LZC) differs."""
    rng = np.random.default_rng(7)
    n, n_ch, n_bins, p = 40, 3, 1000, 1 - np.exp(-0.02)
    poisson = poisson_spike_trains(20.0, 1.0, 1e-3, n_trains=n * n_ch, seed=rng)
    poisson = poisson.reshape(n, n_ch, n_bins)
    p10 = 0.3  # bursts of mean length 1/p10 bins, same stationary rate p
    p01 = p10 * p / (1 - p)
    bursty = np.array([[markov_source(p01, p10, n_bins, seed=rng) for _ in range(n_ch)]
                       for _ in range(n)])
    X, y = np.concatenate([poisson, bursty]), np.repeat([0, 1], n)
    model = make_pipeline(LZCEncoder(rates=False), StandardScaler(), LogisticRegression())
    assert cross_val_score(model, X, y, cv=4).mean() >= 0.9
    rates_only = make_pipeline(LZCEncoder(per_channel=False, population=False), StandardScaler(),
                               LogisticRegression())
    assert cross_val_score(rates_only, X, y, cv=4).mean() < 0.75


def test_sklearn_check_estimator_passes_except_checks_that_feed_continuous_data():
    results = check_estimator(LZCEncoder(), expected_failed_checks=EXPECTED_FAILED_CHECKS,
                              on_skip=None)
    status = {}
    for r in results:
        status.setdefault(r["check_name"], set()).add(r["status"])
    assert not [name for name, s in status.items() if "failed" in s]
    # every listed check really fails, and only because the data are not binary
    for r in results:
        if r["status"] == "xfail":
            assert "other than 0 and 1" in str(r["exception"]) or \
                   "raised ValueError unexpectedly" in str(r["exception"]), r
    assert {n for n, s in status.items() if "xfail" in s} == set(EXPECTED_FAILED_CHECKS)


class _ThresholdedLZCEncoder(LZCEncoder):
    """LZCEncoder that maps sklearn's continuous test data to 0/1 (finite values only)."""

    @staticmethod
    def _binary(X):
        if hasattr(X, "toarray") or hasattr(X, "tocsr"):
            return X
        arr = np.asarray(X)
        arr = arr.astype(np.float64) if arr.dtype == object else arr
        if arr.dtype.kind not in "biuf":
            return arr
        out = arr.astype(np.float64)
        finite = np.isfinite(out)  # NaN / inf pass through: the encoder must still reject them
        out[finite] = np.floor(out[finite] * 4) % 2
        return out

    def fit(self, X, y=None):
        return super().fit(self._binary(X), y)

    def transform(self, X):
        return super().transform(self._binary(X))


def test_sklearn_check_estimator_passes_entirely_on_binary_data():
    """The checks skipped above, run on data thresholded to 0/1: the sklearn plumbing holds."""
    results = check_estimator(_ThresholdedLZCEncoder(), on_skip=None)
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert set(EXPECTED_FAILED_CHECKS) <= passed


@pytest.mark.parametrize(
    "X, match",
    [
        (np.full((2, 3, 10), 0.5),
         r"60 value\(s\) other than 0 and 1 \(first at index \(0, 0, 0\): 0.5\)"),
        (np.array([[[0.0, np.nan, 1.0]]]),
         r"1 NaN or infinite value\(s\) \(first at index \(0, 0, 1\)"),
        (np.zeros(5), r"shape \(5,\); expected .* Reshape your data"),
        (np.zeros((1, 2, 3, 4)), r"shape \(1, 2, 3, 4\)"),
        (np.zeros((0, 3, 4)), r"0 sample\(s\)"),
        (np.zeros((2, 3, 0)), r"0 feature\(s\)"),
        (np.zeros((2, 3)) + 1j, "Complex data not supported"),
    ],
)
def test_bad_input_raises_value_error_naming_the_value(X, match):
    with pytest.raises(ValueError, match=match):
        LZCEncoder().fit(X)


def test_transform_requires_fit_and_the_fitted_layout():
    X = _raster(3)
    with pytest.raises(NotFittedError):
        LZCEncoder().transform(X)
    enc = LZCEncoder().fit(X)
    with pytest.raises(ValueError, match=r"X has 1500 features, but LZCEncoder is expecting 1200 .*"
                                         r"\(5 channel\(s\) x 300 bin\(s\); fitted on 4 x 300\)"):
        enc.transform(_raster(3, n_channels=5))
    with pytest.raises(ValueError, match=r"bin_widths \[500\] exceed n_bins = 300"):
        LZCEncoder(bin_widths=[2, 500]).fit(X)
    with pytest.raises(ValueError, match="unknown LZ variant 'lz77'"):
        LZCEncoder(variant="lz77").fit(X)
    with pytest.raises(ValueError, match="bin_widths must hold integers >= 1, got \\[0\\]"):
        LZCEncoder(bin_widths=[0]).fit(X)
