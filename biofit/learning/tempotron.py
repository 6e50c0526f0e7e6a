r"""The tempotron (Gütig & Sompolinsky 2006, Nat. Neurosci. 9:420) as a scikit-learn classifier.

A leaky integrate-and-fire unit sums normalized PSPs of its afferents (paper, eqs. 1-2):

.. math::

    V(t) = \sum_i w_i \sum_{t_i} K(t - t_i) + V_{rest},\qquad
    K(t) = V_0\,(e^{-t/\tau} - e^{-t/\tau_s})\ (t \ge 0),

with :math:`V_0` normalizing the peak of K to 1, :math:`\tau = 15` ms (``tau``) and the synaptic
current time constant :math:`\tau_s = \tau/4` (``tau_syn``).
It fires (class "+") if V crosses the threshold θ; after the first crossing the input is shunted,
so the potential after the first output spike is ignored. On an error the weights move along the
PSPs at the time :math:`t_{max}` of the maximal potential (eq. 3):

.. math::  \Delta w_i = \pm\lambda \sum_{t_i < t_{max}} K(t_{max} - t_i)

(+ for a missed "+" pattern, - for a "-" pattern that fired), with the momentum heuristic of the
paper's Methods, :math:`\Delta w \leftarrow \Delta w + \mu\,\Delta w_{previous}`.

V is evaluated exactly on a time grid of step ``dt``: each spike at time s deposits
:math:`e^{-(t_k - s)/\tau}` and :math:`e^{-(t_k - s)/\tau_s}` at the first grid point
:math:`t_k \ge s`, and two first-order recursive filters (one per exponential) carry them forward;
:math:`t_{max}` is the grid point of the maximum. Only the search for the maximum is limited by
``dt``. Training and prediction run in the numba kernels of `_tempotron_kernels` (one pass per
pattern, stopping at the output spike); `potentials` gives the full traces with numpy.

Inputs (``X``): a list (one per pattern) of lists (one per afferent) of spike-time arrays in
seconds; a binary raster ``[n_samples, n_afferents, n_bins]`` with bin width ``dt``; or a 2-D array
``[n_samples, n_afferents]`` of first-spike latencies in seconds (one spike per afferent), the
form under which scikit-learn's ``check_estimator`` runs.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
from scipy.signal import lfilter
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from biofit.learning import _tempotron_kernels as kernels
from biofit.validation import (
    check_dt,
    check_nonnegative,
    check_positive,
    check_positive_int,
    numpy_generator,
    renamed_arguments,
)


@renamed_arguments(tau_s="tau_syn")
def kernel_peak(tau: float, tau_syn: float) -> tuple[float, float]:
    """Time of the peak of ``exp(-t/tau) - exp(-t/tau_syn)`` (s) and ``V0`` = 1 / its height."""
    t_peak = tau * tau_syn / (tau - tau_syn) * math.log(tau / tau_syn)
    return t_peak, 1.0 / (math.exp(-t_peak / tau) - math.exp(-t_peak / tau_syn))


@renamed_arguments(tau_s="tau_syn")
def psp_kernel(t, tau: float = 0.015, tau_syn: float = 0.00375) -> np.ndarray:
    """K(t) of Gütig & Sompolinsky (2006), peak 1, zero for t < 0; ``t``, ``tau``, ``tau_syn`` in s.

    >>> round(float(psp_kernel(kernel_peak(0.015, 0.00375)[0])), 12)
    1.0
    """
    _check_taus(tau, tau_syn)
    t = np.asarray(t, dtype=float)
    v0 = kernel_peak(tau, tau_syn)[1]
    tc = np.maximum(t, 0.0)
    return np.where(t >= 0, v0 * (np.exp(-tc / tau) - np.exp(-tc / tau_syn)), 0.0)


class PatternEvents:
    """Spikes of a set of patterns as flat, sample-sorted arrays (``sample``, ``afferent``, ``time`` in s).

    Pattern s owns the events ``starts[s]:starts[s+1]``; ``n_bins`` is the length of the evaluation
    grid (step ``dt``) that covers every pattern.
    """

    def __init__(self, sample, afferent, time, n_samples: int, n_afferents: int, n_bins: int):
        if np.any(sample[1:] < sample[:-1]):
            order = np.argsort(sample, kind="stable")
            sample, afferent, time = sample[order], afferent[order], time[order]
        self.sample, self.afferent, self.time = sample, afferent, time
        self.n_samples, self.n_afferents, self.n_bins = n_samples, n_afferents, n_bins
        self.starts = np.searchsorted(self.sample, np.arange(n_samples + 1))

    def bins(self, dt: float) -> np.ndarray:
        """Grid index ``k = ceil(time/dt)`` of every event: the first grid point at or after the spike."""
        return np.minimum(np.ceil(self.time / dt - 1e-9).astype(np.int64), self.n_bins - 1)


class GridModel(NamedTuple):
    """Events on the grid and model constants, in the order the numba kernels take them.

    ``e_slow = exp(-(k dt - time)/tau)``, ``e_fast`` likewise with ``tau_syn`` (what a spike deposits at
    its first grid point); ``v0`` normalizes the kernel peak to 1; θ and V_rest in PSP-peak units.
    """

    starts: np.ndarray
    afferent: np.ndarray
    k: np.ndarray
    e_slow: np.ndarray
    e_fast: np.ndarray
    n_bins: int
    dt: float
    tau: float
    tau_syn: float
    v0: float
    v_rest: float
    threshold: float


@renamed_arguments(tau_s="tau_syn")
def grid_model(events: PatternEvents, dt, tau, tau_syn, v_rest, threshold) -> GridModel:
    """Precompute the weight-independent part of V for `_tempotron_kernels` (see its docstring)."""
    k = events.bins(dt)
    lag = k * dt - events.time
    return GridModel(events.starts.astype(np.int64), events.afferent.astype(np.int64), k,
                     np.exp(-lag / tau), np.exp(-lag / tau_syn), int(events.n_bins), float(dt), float(tau),
                     float(tau_syn), kernel_peak(tau, tau_syn)[1], float(v_rest), float(threshold))


@renamed_arguments(tau_s="tau_syn")
def potentials(events: PatternEvents, weights: np.ndarray, dt: float, tau: float, tau_syn: float,
               v_rest: float = 0.0):
    """V(t) of every pattern on the grid ``k*dt``: ``float[n_units, n_samples, n_bins]`` (no shunting).

    ``weights: float[n_units, n_afferents]`` (one row per output unit). Exact at the grid points;
    the full traces, for plotting and as the reference of the kernels' running maximum.
    """
    v0 = kernel_peak(tau, tau_syn)[1]
    k = events.bins(dt)
    lag = k * dt - events.time
    flat = events.sample * events.n_bins + k
    size = events.n_samples * events.n_bins
    out = np.empty((weights.shape[0], events.n_samples, events.n_bins))
    for u, w in enumerate(weights):
        amp = w[events.afferent]
        slow = np.bincount(flat, amp * np.exp(-lag / tau), size).reshape(events.n_samples, -1)
        fast = np.bincount(flat, amp * np.exp(-lag / tau_syn), size).reshape(events.n_samples, -1)
        slow = lfilter([1.0], [1.0, -math.exp(-dt / tau)], slow, axis=-1)
        fast = lfilter([1.0], [1.0, -math.exp(-dt / tau_syn)], fast, axis=-1)
        out[u] = v0 * (slow - fast) + v_rest
    return out


def shunted_max(model: GridModel, weights: np.ndarray):
    """``(t_max, v_max)``, ``[n_units, n_samples]``: bin and value of V's maximum up to the first crossing of θ."""
    return kernels.shunted_max(np.ascontiguousarray(weights, dtype=float), *model)


def train_binary(model: GridModel, target, weights, learning_rate, momentum, n_epochs, batch_size, rng,
                 progress=None):
    """Gütig-Sompolinsky learning of ``weights[n_units, n_afferents]`` (C-contiguous, in place).

    ``target: bool[n_units, n_samples]`` (unit u should fire for pattern s). Each epoch evaluates all
    patterns, then visits the misclassified ones in the order ``rng.permutation`` gives, in
    mini-batches of ``batch_size``, re-evaluating each mini-batch with the current weights before its
    update (``batch_size=1``: the paper's online rule, skipping patterns already correct at the start
    of the epoch); see `_tempotron_kernels.train_epoch`. Stops once an epoch starts without error.
    Returns the errors (unit-pattern pairs) per epoch.
    """
    velocity = np.zeros_like(weights)
    errors = []
    for _ in range(n_epochs):
        wrong_pairs = (shunted_max(model, weights)[1] >= model.threshold) != target
        errors.append(int(wrong_pairs.sum()))
        if progress is not None:
            progress.update(1)
            progress.set_postfix(errors=errors[-1])
        if errors[-1] == 0:
            break
        order = rng.permutation(np.flatnonzero(wrong_pairs.any(0)))
        kernels.train_epoch(order, batch_size, target, weights, velocity, learning_rate, momentum, *model)
    return errors


def _check_taus(tau, tau_syn):
    check_positive(tau, "tau")
    check_positive(tau_syn, "tau_syn")
    if tau_syn >= tau:
        raise ValueError(f"need tau_syn < tau, got tau={tau}, tau_syn={tau_syn}")


def pattern_events(X, dt: float, duration: float | None, tau: float, estimator: str = "Tempotron"):
    """Parse the three input forms (module docstring) into :class:`PatternEvents`; validate them.

    The grid ends at ``duration`` (rasters: ``n_bins*dt``) or, when it is None, 5 τ after the last
    spike, where every PSP has decayed to < 1 % of its peak.
    """
    if isinstance(X, np.ndarray) and X.ndim == 3:
        raster = np.asarray(X)
        if raster.shape[2] == 0:
            raise ValueError(f"raster X has no time bins (shape {raster.shape})")
        bad = ~np.isin(raster, (0, 1))
        if bad.any():
            raise ValueError(f"raster X must hold 0/1 spikes; found {int(bad.sum())} other values, "
                             f"first {raster[tuple(np.argwhere(bad)[0])]!r}")
        s, a, k = np.nonzero(raster)
        return PatternEvents(s, a, k * dt, raster.shape[0], raster.shape[1], raster.shape[2])
    if isinstance(X, np.ndarray) and X.ndim == 2:
        n, m = X.shape
        s, a, t = np.repeat(np.arange(n), m), np.tile(np.arange(m), n), X.astype(float).ravel()
    else:
        s, a, t, n, m = _flatten_lists(X)
    if not np.all(np.isfinite(t)):
        raise ValueError(f"spike times in X must be finite; found {int((~np.isfinite(t)).sum())} NaN/inf values")
    if (t < 0).any():
        raise ValueError(f"Negative values in data passed to {estimator}: spike times must lie in "
                         f"[0, duration]; {int((t < 0).sum())} are negative (min {t.min()!r} s)")
    if duration is not None and (t > duration).any():
        raise ValueError(f"{int((t > duration).sum())} spike times lie outside [0, duration] = "
                         f"[0, {duration}] s (max {t.max()!r} s)")
    end = duration if duration is not None else (t.max() if t.size else 0.0) + 5 * tau
    return PatternEvents(s, a, t, n, m, int(math.ceil(end / dt - 1e-9)) + 1)


def _flatten_lists(X):
    """Spike-time lists ``X[sample][afferent] -> array of s`` as flat (sample, afferent, time)."""
    if not isinstance(X, (list, tuple)) or len(X) == 0:
        raise ValueError(f"X must be a non-empty list of patterns, got {type(X).__name__} of length "
                         f"{len(X) if hasattr(X, '__len__') else 'n/a'}")
    n_aff = {len(p) for p in X}
    if len(n_aff) != 1 or 0 in n_aff:
        raise ValueError(f"every pattern must list the same (nonzero) number of afferents; got {sorted(n_aff)}")
    s, a, t = [], [], []
    for i, pattern in enumerate(X):
        for j, train in enumerate(pattern):
            times = np.atleast_1d(np.asarray(train, dtype=float))
            if times.ndim != 1:
                raise ValueError(f"spike train X[{i}][{j}] must be 1-D, got shape {times.shape}")
            s.append(np.full(times.size, i)), a.append(np.full(times.size, j)), t.append(times)
    return np.concatenate(s).astype(np.int64), np.concatenate(a).astype(np.int64), np.concatenate(t), len(X), n_aff.pop()


class Tempotron(ClassifierMixin, BaseEstimator):
    """Tempotron classifier (Gütig & Sompolinsky 2006); one-vs-rest units for more than two classes.

    Args:
        learning_rate: λ, weight change per unit of summed PSP (θ - V_rest = 1 units).
        momentum: μ of the momentum heuristic (paper's Methods use 0.99 with online updates).
            Random latency patterns at load α = P/N = 2, N = 500: ``learning_rate=3e-5,
            momentum=0.99, batch_size=1`` reaches 100 % training accuracy in ~200-350 epochs
            (`biofit.experiments.tempotron_capacity.train_tempotron`).
        n_epochs: maximal passes over the training set (stops at zero training errors).
        batch_size: patterns evaluated together per update (1 = the paper's online rule).
        tau, tau_syn: membrane and synaptic PSP time constants, s (paper: 15 ms and τ/4).
        dt: grid step, s (also the bin width of raster inputs); required, keyword, no default.
        threshold, v_rest: θ and V_rest, in units of the PSP peak (paper: 1 and 0).
        duration: pattern length, s; spikes outside [0, duration] raise. None: no upper limit.
        init_scale: s.d. of the initial Gaussian weights (paper: 0.001).
        seed: int, numpy Generator or None; seeds the initial weights and the presentation order.
        progress: show a tqdm bar over epochs.

    Attributes: ``coef_`` (float[n_units, n_afferents]), ``classes_``, ``n_features_in_``,
    ``n_iter_`` (epochs run), ``errors_`` (training errors per epoch).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(0, 0.5, size=(40, 50))        # first-spike latencies, s
        >>> y = rng.integers(0, 2, size=40)
        >>> clf = Tempotron(dt=1e-3, n_epochs=200, seed=0).fit(X, y)
        >>> clf.score(X, y) > 0.9
        True
    """

    @renamed_arguments(tau_s="tau_syn")
    def __init__(self, learning_rate=0.01, momentum=0.9, n_epochs=100, batch_size=16, tau=0.015, tau_syn=0.00375,
                 *, dt, threshold=1.0, v_rest=0.0, duration=None, init_scale=0.001, seed=None, progress=False):
        self.learning_rate, self.momentum, self.n_epochs, self.batch_size = learning_rate, momentum, n_epochs, batch_size
        self.tau, self.tau_syn, self.dt, self.threshold, self.v_rest = tau, tau_syn, dt, threshold, v_rest
        self.duration, self.init_scale, self.seed, self.progress = duration, init_scale, seed, progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _events(self, X, reset: bool, y=None):
        _check_taus(self.tau, self.tau_syn)
        dt = check_dt(self.dt)
        if self.duration is not None:
            check_positive(self.duration, "duration")
        if isinstance(X, (list, tuple)) and len(X) and np.ndim(X[0]) >= 1 and len(X[0]) and np.ndim(X[0][0]) >= 1:
            events = pattern_events(list(X), dt, self.duration, self.tau)
            if reset:
                self.n_features_in_ = events.n_afferents
            elif events.n_afferents != self.n_features_in_:
                raise ValueError(f"X has {events.n_afferents} afferents, but Tempotron is expecting "
                                 f"{self.n_features_in_} features as input")
            return (events, y) if y is not None else events
        if y is not None:
            X, y = validate_data(self, X, y, reset=reset, allow_nd=True)
        else:
            X = validate_data(self, X, reset=reset, allow_nd=True)
        if X.ndim not in (2, 3):
            raise ValueError(f"X must be 2-D latencies or a 3-D raster, got shape {X.shape}")
        events = pattern_events(X, dt, self.duration, self.tau)
        return (events, y) if y is not None else events

    def fit(self, X, y):
        """Learn ``coef_`` from patterns ``X`` (any of the three forms) and labels ``y``."""
        events, y = self._events(X, reset=True, y=np.asarray(y) if not hasattr(y, "shape") else y)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"Tempotron needs at least two classes in y; got 1 class: {self.classes_.tolist()}")
        if len(y_idx) != events.n_samples:
            raise ValueError(f"X has {events.n_samples} patterns but y has {len(y_idx)} labels")
        lr = check_positive(self.learning_rate, "learning_rate")
        mom = check_nonnegative(self.momentum, "momentum")
        check_positive_int(self.n_epochs, "n_epochs")
        check_positive_int(self.batch_size, "batch_size")
        n_units = 1 if len(self.classes_) == 2 else len(self.classes_)
        target = (y_idx == 1)[None] if n_units == 1 else y_idx[None] == np.arange(n_units)[:, None]
        rng = numpy_generator(self.seed)
        self.coef_ = rng.normal(0.0, self.init_scale, size=(n_units, events.n_afferents))
        bar = None
        if self.progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=self.n_epochs, desc="tempotron")
        model = grid_model(events, self.dt, self.tau, self.tau_syn, self.v_rest, self.threshold)
        self.errors_ = train_binary(model, target, self.coef_, lr, mom, self.n_epochs, self.batch_size, rng, bar)
        if bar is not None:
            bar.close()
        self.n_iter_ = len(self.errors_)
        return self

    def decision_function(self, X):
        """Max potential before the first output spike minus θ: ``[n]`` (binary) or ``[n, n_classes]``."""
        check_is_fitted(self)
        events = self._events(X, reset=False)
        model = grid_model(events, self.dt, self.tau, self.tau_syn, self.v_rest, self.threshold)
        v_max = shunted_max(model, self.coef_)[1]
        return v_max[0] - self.threshold if len(self.classes_) == 2 else (v_max - self.threshold).T

    def predict(self, X):
        """Class labels: binary -> classes_[1] where the unit fires; OvR -> the largest margin."""
        score = self.decision_function(X)
        return self.classes_[(score >= 0).astype(int) if score.ndim == 1 else score.argmax(1)]


_RENAMED = {"SpikeEvents": ("PatternEvents", PatternEvents), "spike_events": ("pattern_events", pattern_events)}


def __getattr__(name):
    """Old names of this module (PEP 562), kept with a ``DeprecationWarning`` naming the new one."""
    if name in _RENAMED:
        new, value = _RENAMED[name]
        warnings.warn(f"biofit.learning.tempotron.{name} is deprecated; use {new} (same object; "
                      "biofit.neurons.SpikeEvents is a different class)", DeprecationWarning, stacklevel=2)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
