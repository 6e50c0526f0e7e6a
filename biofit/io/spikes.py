r"""Spike detection from a membrane-potential trace: threshold crossing, minimum slope, refractory window.

A spike is an upward crossing of ``threshold`` between samples k-1 and k,

.. math:: V_{k-1} < \theta \le V_k, \qquad (V_k - V_{k-1}) / \Delta t \ge \dot V_\mathrm{min},

that comes at least ``refractory`` after the previous spike. The slope condition rejects slow
drifts through the threshold (a depolarising plateau, an electrode artefact's tail); the refractory
window rejects the ringing of one action potential crossing the threshold twice. The spike time is
the crossing time interpolated linearly between the two samples,
:math:`t = (k - 1 + (\theta - V_{k-1}) / (V_k - V_{k-1}))\,\Delta t`, or, with ``at="peak"``, the
time of the voltage maximum between the crossing and the next downward crossing (eFEL's
``peak_time``).

Defaults follow eFEL (Blue Brain's feature library): ``Threshold = -20 mV`` and
``DerivativeThreshold = 10 mV/ms`` (= 10 V/s); the 1 ms refractory window is shorter than any
interspike interval of a cortical neuron.

>>> import numpy as np
>>> v = np.full(100, -0.07); v[20:23] = [-0.03, 0.02, -0.01]; v[60:62] = [0.01, -0.04]
>>> detect_spikes(v, dt=1e-4).round(7).tolist()
[0.00202, 0.0059625]
>>> detect_spikes(v, dt=1e-4, at="peak").round(6).tolist()
[0.0021, 0.006]
"""

from __future__ import annotations

import numpy as np

THRESHOLD = -0.020  # V (eFEL `Threshold`)
MIN_DVDT = 10.0  # V/s (eFEL `DerivativeThreshold`, 10 mV/ms)
REFRACTORY = 1e-3  # s


def describe_detector(threshold: float = THRESHOLD, min_dvdt: float = MIN_DVDT,
                      refractory: float = REFRACTORY, at: str = "crossing") -> str:
    """One line naming the detector and its settings (kept in `RecordingInfo.spikes`).

    >>> describe_detector()
    'detected: threshold -20 mV, min dV/dt 10 V/s, refractory 1 ms, time of crossing'
    """
    return (f"detected: threshold {threshold * 1e3:g} mV, min dV/dt {min_dvdt:g} V/s, "
            f"refractory {refractory * 1e3:g} ms, time of {at}")


def detect_spikes(voltage, dt: float, *, threshold: float = THRESHOLD, min_dvdt: float = MIN_DVDT,
                  refractory: float = REFRACTORY, at: str = "crossing") -> np.ndarray:
    """Spike times [s] from the sample 0 of `voltage` (see the module docstring for the rule).

    Parameters
    ----------
    voltage : float[n]
        Membrane potential [V], finite.
    dt : float
        Sampling interval [s].
    threshold : float
        Crossing level θ [V].
    min_dvdt : float
        Minimum slope at the crossing [V/s] (0 disables the check).
    refractory : float
        Minimum time between two spikes [s].
    at : {"crossing", "peak"}
        Report the interpolated crossing time or the time of the peak sample.

    Returns
    -------
    float[k]
        Increasing spike times [s].
    """
    v = np.asarray(voltage, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"voltage must be 1-D, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("voltage has non-finite samples")
    for value, name in ((dt, "dt"), (refractory, "refractory"), (min_dvdt, "min_dvdt")):
        if not np.isfinite(value) or value < 0 or (name == "dt" and value == 0):
            raise ValueError(f"{name} must be a finite {'positive' if name == 'dt' else 'non-negative'} "
                             f"number, got {value}")
    if at not in ("crossing", "peak"):
        raise ValueError(f"at must be 'crossing' or 'peak', got {at!r}")
    up = np.flatnonzero((v[:-1] < threshold) & (v[1:] >= threshold)) + 1
    slope = (v[up] - v[up - 1]) / dt
    up = up[slope >= min_dvdt]
    frac = (threshold - v[up - 1]) / (v[up] - v[up - 1])
    crossing = (up - 1 + frac) * dt
    keep = []
    last = -np.inf
    for j, t in enumerate(crossing):
        if t - last >= refractory:
            keep.append(j)
            last = t
    up, crossing = up[keep], crossing[keep]
    if at == "crossing":
        return crossing
    below = np.flatnonzero(v < threshold)
    peaks = np.empty(up.size)
    for j, k in enumerate(up):
        after = below[np.searchsorted(below, k)] if np.searchsorted(below, k) < below.size else v.size
        peaks[j] = (k + int(np.argmax(v[k:after]))) * dt
    return peaks
