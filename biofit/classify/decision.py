r"""Decisions from the output spike trains of a trained SNN: the LZC rule and a linear readout.

For a sample with K output trains :math:`o_1 .. o_K` (``bool[K, n_bins]``), let
:math:`z_k = c(o_k) \log_2 n / n` be the normalised Lempel-Ziv complexity of train k
(``lz76`` by default; `biofit.encoding.lzc`) and :math:`r_k` its spikes per bin.

**LZC rule** (`LZCNearestCentroid`, ``decision="lzc"``): each class c has a class-typical LZC
vector, the mean :math:`\mu_c` of the training samples' :math:`z`; the spread is the pooled
within-class variance :math:`\sigma_k^2` of each output train (plus :math:`10^{-6}` times the
largest of them, and :math:`10^{-12}`, so a constant train does not divide by zero). A sample goes
to the nearest class-typical LZC in the standardised distance

.. math::
    \hat c = \arg\min_c \sum_k \frac{(z_k - \mu_{c,k})^2}{\sigma_k^2} - 2 \log \pi_c ,

(:math:`\pi_c`: the class's share of the training set), and ``predict_proba`` is the softmax of
minus half that quantity: the posterior of Gaussian classes with a shared diagonal covariance
(linear discriminant analysis with a diagonal covariance). Only the complexities enter.

**Readout** (``decision="readout"``): a standardised, L2-regularised multinomial logistic
regression on :math:`(z_1 .. z_K, r_1 .. r_K)`.

Example
-------
>>> Z = np.array([[0.1], [0.2], [0.9], [1.0]]); y = np.array([0, 0, 1, 1])
>>> LZCNearestCentroid().fit(Z, y).predict(np.array([[0.3], [0.7]])).tolist()
[0, 1]
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from biofit.encoding.lzc import lzc_batch

DECISIONS = ("lzc", "readout")


def train_features(trains: np.ndarray, variant: str = "lz76") -> tuple[np.ndarray, np.ndarray]:
    """``(z, r)``: normalised LZC and spikes per bin of every output train, each ``float[n, K]``,
    for ``trains: 0/1 [n, K, n_bins]``."""
    n, k, t = trains.shape
    z = lzc_batch(trains.reshape(n * k, t), variant).reshape(n, k)
    return z, trains.mean(axis=2, dtype=np.float64)


class LZCNearestCentroid(ClassifierMixin, BaseEstimator):
    """The LZC rule of the module docstring on LZC vectors ``Z: float[n, K]``.

    Attributes: ``classes_``, ``centroids_`` ``[n_classes, K]``, ``variance_`` ``[K]``,
    ``log_prior_`` ``[n_classes]``.
    """

    def fit(self, Z, y):
        Z, y = validate_data(self, Z, y)
        self.classes_, index = np.unique(y, return_inverse=True)
        self.centroids_ = np.stack([Z[index == c].mean(0) for c in range(self.classes_.size)])
        resid = Z - self.centroids_[index]
        dof = max(Z.shape[0] - self.classes_.size, 1)
        var = (resid**2).sum(0) / dof
        self.variance_ = var + 1e-6 * var.max(initial=0.0) + 1e-12
        self.log_prior_ = np.log(np.bincount(index) / index.size)
        return self

    def decision_function(self, Z) -> np.ndarray:
        """``-0.5 * distance + log prior`` per class, ``float[n, n_classes]``."""
        check_is_fitted(self, "centroids_")
        Z = validate_data(self, Z, reset=False)
        d2 = (((Z[:, None, :] - self.centroids_[None]) ** 2) / self.variance_).sum(-1)
        return -0.5 * d2 + self.log_prior_

    def predict_proba(self, Z) -> np.ndarray:
        return softmax(self.decision_function(Z), axis=1)

    def predict(self, Z) -> np.ndarray:
        return self.classes_[self.decision_function(Z).argmax(1)]


def make_decision(name: str):
    """An unfitted decision for the features of `decision_inputs`: the LZC rule or the readout."""
    if name == "lzc":
        return LZCNearestCentroid()
    if name == "readout":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    raise ValueError(f"unknown decision {name!r}; expected one of {DECISIONS}")


def decision_inputs(name: str, z: np.ndarray, r: np.ndarray) -> np.ndarray:
    """What decision ``name`` reads: the LZC vectors alone (``lzc``), LZC and rates (``readout``)."""
    return z if name == "lzc" else np.hstack([z, r])
