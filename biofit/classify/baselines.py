r"""Baselines for spike-raster classification: hand-made features + logistic regression.

Each is a scikit-learn classifier on rasters ``0/1 [n_samples, n_channels, n_bins]`` (the input
of `biofit.classify.SNNLZCClassifier`), a fixed feature map followed by standardisation and an
L2-regularised multinomial logistic regression (``C``: inverse regularisation strength):

* `RateLogistic`: spike count per channel, ``X.sum(-1)`` (a rate code);
* `PSTHLogistic`: spike counts per channel in consecutive windows of ``bin_width`` bins (a binned
  rate, peri-stimulus time histogram); a trailing partial window is its own window;
* `InputLZCLogistic`: the normalised Lempel-Ziv complexity of every input channel
  (`biofit.encoding.lzc_batch`, ``variant``), no SNN.

Example
-------
>>> from biofit.datasets.source_tasks import source_task
>>> X, y = source_task(n_per_class=40, n_channels=4, n_bins=300, rate_hz=50.0,
...                    kinds=("bernoulli", "markov"), max_correlation=0.8, seed=0)
>>> [est.fit(X[:60], y[:60]).score(X[60:], y[60:]) for est in (RateLogistic(), InputLZCLogistic())]
[0.4, 1.0]
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from biofit.classify.inputs import check_fitted_layout, check_labels, record_layout
from biofit.encoding.features import check_raster
from biofit.encoding.lzc import lzc_batch
from biofit.validation import check_positive, check_positive_int


class _FeatureLogistic(ClassifierMixin, BaseEstimator):
    """Shared fit/predict of the baselines; subclasses define ``features(raster) -> [n, F]``."""

    def fit(self, X, y):
        y = check_labels(y)  # before X: a single class or a continuous target is named as such
        arr = check_raster(X)
        y = check_labels(y, arr.shape[0])
        record_layout(self, arr)
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(C=check_positive(self.C, "C"),
                                                                         max_iter=2000))
        self.model_.fit(self.features(arr), y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self.features(check_fitted_layout(X, self)))

    def predict(self, X):
        check_is_fitted(self, "model_")
        return self.model_.predict(self.features(check_fitted_layout(X, self)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class RateLogistic(_FeatureLogistic):
    """Spike counts per channel + logistic regression (module docstring)."""

    def __init__(self, C=1.0):
        self.C = C

    def features(self, arr: np.ndarray) -> np.ndarray:
        return arr.sum(axis=2, dtype=np.float64)


class PSTHLogistic(_FeatureLogistic):
    """Spike counts per channel in windows of ``bin_width`` bins + logistic regression."""

    def __init__(self, bin_width=25, C=1.0):
        self.bin_width = bin_width
        self.C = C

    def features(self, arr: np.ndarray) -> np.ndarray:
        width = check_positive_int(self.bin_width, "bin_width")
        edges = np.arange(0, arr.shape[2], width)
        return np.add.reduceat(arr, edges, axis=2, dtype=np.float64).reshape(arr.shape[0], -1)


class InputLZCLogistic(_FeatureLogistic):
    """Normalised LZC of every input channel + logistic regression."""

    def __init__(self, variant="lz76", C=1.0):
        self.variant = variant
        self.C = C

    def features(self, arr: np.ndarray) -> np.ndarray:
        n, c, t = arr.shape
        return lzc_batch(arr.reshape(n * c, t), self.variant).reshape(n, c)
