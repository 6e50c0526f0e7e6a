r"""Embedded spatiotemporal patterns: a class template of spike times hidden in Poisson noise.

Each class owns a template, a binned Poisson raster ``bool[n_channels, pattern_bins]`` at
``rate_hz`` (drawn once from the seed). A sample is background Poisson noise
``bool[n_channels, n_bins]`` at the same rate in which the window ``[onset, onset +
pattern_bins)`` is replaced by its class's template, every template spike displaced by a
Gaussian jitter of s.d. ``jitter`` (s; rounded to bins, kept inside the window). The rate is the
same inside and outside the window and in every class, so only the spike timing identifies the
class (the set-up of Masquelier, Guyonneau & Thorpe 2008, PLoS ONE 3:e1377, where the pattern
also replaces the noise, here with one template per class). ``onset``: a bin index, or
``"random"`` (uniform per sample).

Example
-------
>>> X, y = embedded_patterns(n_per_class=3, n_channels=4, n_bins=100, pattern_bins=20, seed=0)
>>> X.shape, y.tolist()
((6, 4, 100), [0, 0, 1, 1, 0, 1])
"""

from __future__ import annotations

import numpy as np

from biofit.encoding.poisson import poisson_spike_trains
from biofit.validation import check_dt, check_nonnegative, check_positive, check_positive_int, numpy_generator


def _jittered(template: np.ndarray, jitter_bins: float, rng) -> np.ndarray:
    """The template with each spike moved by round(N(0, jitter_bins)) bins, clipped to the window."""
    channel, t = np.nonzero(template)
    t = np.clip(t + np.rint(rng.normal(0.0, jitter_bins, t.size)).astype(np.int64), 0, template.shape[1] - 1)
    out = np.zeros_like(template)
    out[channel, t] = True
    return out


def embedded_patterns(n_per_class=50, n_classes=2, n_channels=20, n_bins=200, dt=1e-3, rate_hz=10.0,
                      pattern_bins=50, jitter=2e-3, onset="random", seed=0):
    """``X: bool[n, n_channels, n_bins]``, ``y: int[n]`` (``n = n_per_class * n_classes``, in a
    random order) and the module docstring's construction; ``seed``: int or numpy Generator."""
    n_per_class, n_classes = check_positive_int(n_per_class, "n_per_class"), check_positive_int(n_classes, "n_classes")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    n_channels, n_bins = check_positive_int(n_channels, "n_channels"), check_positive_int(n_bins, "n_bins")
    pattern_bins = check_positive_int(pattern_bins, "pattern_bins", n_bins, "n_bins")
    dt, rate_hz, jitter = check_dt(dt), check_positive(rate_hz, "rate_hz"), check_nonnegative(jitter, "jitter")
    last = n_bins - pattern_bins
    if onset != "random" and (isinstance(onset, bool) or not isinstance(onset, (int, np.integer))
                              or not 0 <= onset <= last):
        raise ValueError(f"onset must be 'random' or a bin index in [0, {last}], got {onset!r}")
    rng = numpy_generator(seed)
    templates = poisson_spike_trains(rate_hz, pattern_bins * dt, dt, n_trains=n_classes * n_channels, seed=rng)
    templates = templates.reshape(n_classes, n_channels, pattern_bins)
    y = rng.permutation(np.repeat(np.arange(n_classes), n_per_class))
    X = poisson_spike_trains(rate_hz, n_bins * dt, dt, n_trains=y.size * n_channels, seed=rng)
    X = X.reshape(y.size, n_channels, n_bins)
    starts = rng.integers(0, last + 1, y.size) if onset == "random" else np.full(y.size, int(onset))
    for i, (label, start) in enumerate(zip(y, starts)):
        X[i, :, start:start + pattern_bins] = _jittered(templates[label], jitter / dt, rng)
    return X, y
