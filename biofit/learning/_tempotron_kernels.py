r"""Numba kernels of the tempotron (`biofit.learning.tempotron`): shunted maxima and one training epoch.

Events of all patterns are flat arrays grouped by pattern: pattern s owns the events
``starts[s]:starts[s+1]``. Event j (afferent ``afferent[j]``, a spike at :math:`t_j` s) enters the grid
``b dt`` at bin ``k[j] = ceil(t_j/dt)`` with the weight-free factors
``e_slow[j] = exp(-(k[j] dt - t_j)/tau)`` and ``e_fast[j] = exp(-(k[j] dt - t_j)/tau_syn)``.
The potential of a unit with weights w at bin b is then exactly (Gütig & Sompolinsky 2006, eq. 1,
at the grid points)

.. math::  V_b = V_0\,(S_b - F_b) + V_{rest},\qquad
           S_b = e^{-dt/\tau} S_{b-1} + \sum_{j:\,k_j = b} w_{a_j} e^{slow}_j

(F likewise with :math:`\tau_s`, ``tau_syn``): the events are first scattered into per-bin inputs, then one
pass of the two recursions runs over the bins. The pass stops at the first bin with
:math:`V \ge \theta` (the input is shunted after the output spike), which is then :math:`t_{max}`;
otherwise :math:`t_{max}` is the first bin of the maximum. The learning step (eq. 3) needs
:math:`K(t_{max} - t_j) = V_0 (e^{slow}_j \rho_s^{\,t_{max}-k_j} - e^{fast}_j \rho_f^{\,t_{max}-k_j})`,
:math:`\rho = e^{-dt/\tau}`, read from tables of powers (no exponential per event).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _shunted_max(w, lo, hi, afferent, k, e_slow, e_fast, decay_slow, decay_fast, v0, v_rest, threshold,
                 in_slow, in_fast):
    """``(t_max bin, V there)`` of one unit (weights ``w``) on the pattern owning events lo:hi.

    ``in_slow``, ``in_fast``: scratch arrays of length n_bins.
    """
    in_slow[:] = 0.0
    in_fast[:] = 0.0
    for j in range(lo, hi):
        amp = w[afferent[j]]
        in_slow[k[j]] += amp * e_slow[j]
        in_fast[k[j]] += amp * e_fast[j]
    slow = 0.0
    fast = 0.0
    best_bin = 0
    best_v = -np.inf
    for b in range(in_slow.shape[0]):
        slow = slow * decay_slow + in_slow[b]
        fast = fast * decay_fast + in_fast[b]
        v = v0 * (slow - fast) + v_rest
        if v > best_v:
            best_v = v
            best_bin = b
        if v >= threshold:
            break
    return best_bin, best_v


@njit(cache=True)
def shunted_max(weights, starts, afferent, k, e_slow, e_fast, n_bins, dt, tau, tau_syn, v0, v_rest, threshold):
    """``t_max: int64[n_units, n_samples]`` (bins) and ``v_max: float[n_units, n_samples]`` for all patterns.

    ``weights: float[n_units, n_afferents]``; the other arguments are the event arrays of the module
    docstring and the model constants, in the order `train_epoch` takes them.
    """
    n_units, n_samples = weights.shape[0], starts.shape[0] - 1
    decay_slow, decay_fast = math.exp(-dt / tau), math.exp(-dt / tau_syn)
    in_slow, in_fast = np.empty(n_bins), np.empty(n_bins)
    t_max = np.empty((n_units, n_samples), np.int64)
    v_max = np.empty((n_units, n_samples))
    for s in range(n_samples):
        for u in range(n_units):
            t_max[u, s], v_max[u, s] = _shunted_max(weights[u], starts[s], starts[s + 1], afferent, k, e_slow,
                                                    e_fast, decay_slow, decay_fast, v0, v_rest, threshold,
                                                    in_slow, in_fast)
    return t_max, v_max


@njit(cache=True)
def train_epoch(order, batch_size, target, weights, velocity, learning_rate, momentum, starts, afferent, k, e_slow,
                e_fast, n_bins, dt, tau, tau_syn, v0, v_rest, threshold):
    """Visit patterns ``order`` in mini-batches; update ``weights`` and ``velocity`` in place (paper eq. 3).

    ``order: int64[n]`` (pattern indices), ``target: bool[n_units, n_samples]``, ``weights`` and
    ``velocity: float[n_units, n_afferents]``. Each mini-batch is classified with the weights at its
    start; then, per unit u,
    ``velocity[u] = learning_rate * sum_s sign_s sum_{t_j <= t_max,s} K(t_max,s - t_j) + momentum * velocity[u]``
    with ``sign_s = target[u, s] - fired[u, s]`` in {-1, 0, 1}, and ``weights += velocity``.
    """
    n_units, n_afferents = weights.shape
    decay_slow, decay_fast = math.exp(-dt / tau), math.exp(-dt / tau_syn)
    pow_slow, pow_fast = decay_slow ** np.arange(n_bins), decay_fast ** np.arange(n_bins)
    in_slow, in_fast = np.empty(n_bins), np.empty(n_bins)
    step = np.empty((n_units, n_afferents))
    for first in range(0, order.shape[0], batch_size):
        step[:] = 0.0
        for s in order[first : first + batch_size]:
            lo, hi = starts[s], starts[s + 1]
            for u in range(n_units):
                t_max, v_max = _shunted_max(weights[u], lo, hi, afferent, k, e_slow, e_fast, decay_slow,
                                            decay_fast, v0, v_rest, threshold, in_slow, in_fast)
                fired = v_max >= threshold
                if fired == target[u, s]:
                    continue
                sign = -v0 if fired else v0
                for j in range(lo, hi):
                    if k[j] <= t_max:
                        n = t_max - k[j]
                        step[u, afferent[j]] += sign * (e_slow[j] * pow_slow[n] - e_fast[j] * pow_fast[n])
        for u in range(n_units):
            for i in range(n_afferents):
                velocity[u, i] = learning_rate * step[u, i] + momentum * velocity[u, i]
                weights[u, i] += velocity[u, i]
