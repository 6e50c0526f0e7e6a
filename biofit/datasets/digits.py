r"""scikit-learn's handwritten digits (``load_digits``) as spike rasters: rate or latency code.

The data: 1797 images of 8 x 8 pixels, intensities 0-16 (UCI optical digits, Alpaydin & Kaynak
1998, shipped with scikit-learn; no download). Pixel j of an image, :math:`x_j = v_j / 16 \in
[0, 1]`, drives input channel j (64 channels), ``n_bins`` bins of ``dt`` s:

* ``coding="rate"``: a binned Poisson train at :math:`x_j\,r_{max}` Hz (``max_rate_hz``;
  :func:`biofit.encoding.poisson.poisson_spike_trains`, :math:`P(\text{spike in a bin}) = 1 -
  e^{-x_j r_{max} dt}`);
* ``coding="latency"``: one spike at :math:`t_j = (1 - x_j)\,t_{max}` (``max_latency`` s; bin
  :math:`\lfloor t_j / dt \rfloor`), none for a blank pixel (brighter fires earlier, Thorpe's
  time-to-first-spike code), on top of Poisson background noise at ``noise_rate_hz``.

``classes``: None (all ten) or the digits to keep, e.g. ``(0, 1)`` for the two-class subsets of
the companion papers of 2508.11674; ``n_per_class`` keeps that many images per digit (a random
subset, None: all).

Example
-------
>>> X, y = coded_digits(classes=(0, 1), n_per_class=5, n_bins=50, seed=0)
>>> X.shape, sorted(set(y.tolist()))
((10, 64, 50), [0, 1])
"""

from __future__ import annotations

import numpy as np

from biofit.encoding.poisson import poisson_spike_trains
from biofit.validation import check_dt, check_nonnegative, check_positive, check_positive_int, numpy_generator

CODINGS = ("rate", "latency")


def digit_images(classes=None, n_per_class=None, seed=0):
    """``x: float[n, 64]`` pixel intensities in [0, 1] and ``y: int[n]`` digits, in a random order."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = np.arange(10) if classes is None else np.asarray(classes)
    if keep.ndim != 1 or keep.dtype.kind not in "iu" or len(set(keep.tolist())) != keep.size \
            or keep.size < 2 or not set(keep.tolist()) <= set(range(10)):
        raise ValueError(f"classes must be None or at least two distinct digits 0-9, got {classes!r}")
    rng = numpy_generator(seed)
    index = []
    for digit in keep:
        rows = np.flatnonzero(digits.target == digit)
        if n_per_class is not None:
            n = check_positive_int(n_per_class, "n_per_class", rows.size, f"the images of digit {digit}")
            rows = rng.choice(rows, n, replace=False)
        index.append(rows)
    index = rng.permutation(np.concatenate(index))
    return digits.data[index] / 16.0, digits.target[index]


def rate_raster(x: np.ndarray, n_bins: int, dt: float, max_rate_hz: float, rng) -> np.ndarray:
    """``bool[n, n_pixels, n_bins]``: Poisson trains at ``x * max_rate_hz`` (one draw per distinct value)."""
    flat = x.reshape(-1)
    out = np.zeros((flat.size, n_bins), dtype=bool)
    for value in np.unique(flat):
        rows = np.flatnonzero(flat == value)
        if value > 0:
            out[rows] = poisson_spike_trains(value * max_rate_hz, n_bins * dt, dt, n_trains=rows.size, seed=rng)
    return out.reshape(*x.shape, n_bins)


def latency_raster(x: np.ndarray, n_bins: int, dt: float, max_latency: float) -> np.ndarray:
    """``bool[n, n_pixels, n_bins]``: one spike at ``floor((1 - x) max_latency / dt)`` per pixel > 0."""
    out = np.zeros((*x.shape, n_bins), dtype=bool)
    sample, pixel = np.nonzero(x > 0)
    out[sample, pixel, np.floor((1 - x[sample, pixel]) * max_latency / dt + 1e-9).astype(np.int64)] = True
    return out


def coded_digits(coding="rate", classes=None, n_per_class=None, n_bins=100, dt=1e-3, max_rate_hz=100.0,
                 max_latency=None, noise_rate_hz=2.0, seed=0):
    """``X: bool[n, 64, n_bins]``, ``y: int[n]`` (digits): see the module docstring.

    ``max_latency`` (latency code, s): default ``0.8 * n_bins * dt``; it must be shorter than
    ``n_bins * dt``. ``seed``: int or numpy Generator (subset, order and spikes).
    """
    if coding not in CODINGS:
        raise ValueError(f"unknown coding {coding!r}; expected one of {CODINGS}")
    n_bins, dt = check_positive_int(n_bins, "n_bins"), check_dt(dt)
    rng = numpy_generator(seed)
    x, y = digit_images(classes, n_per_class, rng)
    if coding == "rate":
        return rate_raster(x, n_bins, dt, check_positive(max_rate_hz, "max_rate_hz"), rng), y
    max_latency = 0.8 * n_bins * dt if max_latency is None else check_positive(max_latency, "max_latency")
    if max_latency >= n_bins * dt:
        raise ValueError(f"max_latency = {max_latency} s must be shorter than n_bins * dt = {n_bins * dt} s")
    X = latency_raster(x, n_bins, dt, max_latency)
    noise = check_nonnegative(noise_rate_hz, "noise_rate_hz")
    if noise > 0:
        X |= poisson_spike_trains(noise, n_bins * dt, dt, n_trains=X.shape[0] * X.shape[1],
                                  seed=rng).reshape(X.shape)
    return X, y
