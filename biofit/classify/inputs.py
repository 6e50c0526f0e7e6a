"""Input checks shared by the classifiers of `biofit.classify`: rasters, labels, fitted layout.

Rasters are ``0/1 [n_samples, n_channels, n_bins]`` (bool, int or float), or ``[n_samples,
n_bins]`` read as one channel (`biofit.encoding.features.check_raster`, which names the first
bad value). Labels are one per sample, at least two classes, no NaN. The scikit-learn checks
these classifiers cannot pass, and why, are listed here.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from biofit.encoding.features import check_raster

#: scikit-learn checks that cannot pass for a classifier of binary spike rasters, with the
#: reason. Each feeds continuous data (``make_blobs``, uniform or normal noise) to ``fit``, which
#: must reject it. tests/test_snn_lzc.py runs every check again (`SNNLZCClassifier` and the
#: baselines) on sklearn's data thresholded to 0/1: all pass except `BINARY_DATA_FAILED_CHECKS`.
EXPECTED_FAILED_CHECKS = {
    name: "feeds continuous (non-binary) X to fit, which a classifier of 0/1 spike rasters rejects"
    for name in (
        "check_classifier_data_not_an_array",
        "check_classifiers_classes",
        "check_classifiers_train",
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_nan_inf",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1feature",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
        "check_supervised_y_2d",
    )
}
BINARY_DATA_FAILED_CHECKS = {
    "check_classifiers_train": "requires >= 83 % training accuracy on make_blobs; thresholded to 0/1 "
                               "(floor(4x) mod 2) the blobs lose their class structure (a logistic "
                               "regression on them scores 37 %)",
}


def check_labels(y, n_samples: int | None = None) -> np.ndarray:
    """``y`` as a 1-D array of class labels with at least two classes (and ``n_samples`` of them).

    ValueError for a missing y, NaN labels (counted, the first index named), continuous targets
    ("Unknown label type"), another length or a single class.
    """
    if y is None:
        raise ValueError("this classifier requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)  # DataConversionWarning, as every scikit-learn classifier
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per sample), got shape {y.shape}")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError(f"y has {int(np.isnan(y).sum())} NaN labels (first at index "
                         f"{int(np.flatnonzero(np.isnan(y))[0])})")
    if y.dtype == object and any(v is None or (isinstance(v, float) and v != v) for v in y):
        raise ValueError("y has missing labels (None or NaN)")
    check_classification_targets(y)
    if n_samples is not None and y.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} samples but y has {y.shape[0]} labels")
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(f"y has one class ({classes.tolist()}); a classifier needs at least two")
    return y


def check_fitted_layout(X, estimator) -> np.ndarray:
    """``X`` checked as a raster with the channels and bins the estimator was fitted on."""
    arr = check_raster(X)
    fitted = (estimator.n_channels_in_, estimator.n_bins_in_)
    if arr.shape[1:] != fitted:
        raise ValueError(f"X has {arr.shape[1] * arr.shape[2]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input ({arr.shape[1]} channel(s) "
                         f"x {arr.shape[2]} bin(s); fitted on {fitted[0]} channel(s) x {fitted[1]} bin(s))")
    return arr


def record_layout(estimator, arr: np.ndarray) -> None:
    """Store ``n_channels_in_``, ``n_bins_in_`` and ``n_features_in_`` of the raster ``arr``."""
    _, estimator.n_channels_in_, estimator.n_bins_in_ = arr.shape
    estimator.n_features_in_ = estimator.n_channels_in_ * estimator.n_bins_in_
