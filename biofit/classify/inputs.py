"""Input checks shared by the classifiers of `biofit.classify`: rasters, labels, fitted layout.

Rasters are ``0/1 [n_samples, n_channels, n_bins]`` (bool, int or float), or ``[n_samples,
n_bins]`` read as one channel (`biofit.encoding.features.check_raster`, which names the first
bad value). Labels are one per sample, at least two classes, no NaN.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

from biofit.encoding.features import check_raster


def check_labels(y, n_samples: int) -> np.ndarray:
    """``y`` as a 1-D array of ``n_samples`` class labels with at least two classes.

    ValueError for NaN labels (counted, the first index named), continuous targets, another
    length or a single class.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per sample), got shape {y.shape}")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError(f"y has {int(np.isnan(y).sum())} NaN labels (first at index "
                         f"{int(np.flatnonzero(np.isnan(y))[0])})")
    if y.dtype == object and any(v is None or (isinstance(v, float) and v != v) for v in y):
        raise ValueError("y has missing labels (None or NaN)")
    check_classification_targets(y)
    if y.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} samples but y has {y.shape[0]} labels")
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(f"y has a single class ({classes.tolist()}); a classifier needs at least two")
    return y


def check_fitted_layout(X, estimator) -> np.ndarray:
    """``X`` checked as a raster with the channels and bins the estimator was fitted on."""
    arr = check_raster(X)
    fitted = (estimator.n_channels_in_, estimator.n_bins_in_)
    if arr.shape[1:] != fitted:
        raise ValueError(f"X has {arr.shape[1]} channel(s) x {arr.shape[2]} bin(s) = "
                         f"{arr.shape[1] * arr.shape[2]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input (fitted on "
                         f"{fitted[0]} channel(s) x {fitted[1]} bin(s))")
    return arr


def record_layout(estimator, arr: np.ndarray) -> None:
    """Store ``n_channels_in_``, ``n_bins_in_`` and ``n_features_in_`` of the raster ``arr``."""
    _, estimator.n_channels_in_, estimator.n_bins_in_ = arr.shape
    estimator.n_features_in_ = estimator.n_channels_in_ * estimator.n_bins_in_
