r"""The metrics that score a model against a recording: spike coincidence, PSTH variance, voltage.

All take SI units (spike times, windows, ``dt``, durations in s; voltages in V).

* Coincidence factors (`biofit.fitting.coincidence`): :func:`gamma_factor` (QSNMC 2007 by default,
  Naud et al. 2011 without replacement), :func:`intrinsic_reliability`, :func:`normalised_gamma`,
  :func:`rate_penalised_gamma_loss` (brian2modelfitting's), :func:`count_coincidences`.
* :func:`explained_variance_teeter` -- explained temporal variance of Teeter et al. 2018 (Nat.
  Commun. 9:709), the Allen GLIF score; :func:`explained_variance_blocks` -- the form of 2311.11390
  (Taylor, King & Harper; its code `src/metric.py`).
* :func:`van_rossum_distance` (van Rossum 2001), exact closed form.
* :func:`voltage_rmse`, :func:`subthreshold_voltage_rmse` (spikes masked), :func:`spike_count_error`.

>>> import numpy as np
>>> round(van_rossum_distance([0.3], [], 5e-3) ** 2, 12)  # one spike against none: D² = 1/2
0.5
"""

from __future__ import annotations

import numpy as np

from biofit.fitting.coincidence import (
    count_coincidences,
    gamma_factor,
    intrinsic_reliability,
    normalised_gamma,
    rate_penalised_gamma_loss,
    spike_times,
)
from biofit.validation import check_positive as positive

__all__ = [
    "count_coincidences", "explained_variance_blocks", "explained_variance_teeter", "gamma_factor",
    "intrinsic_reliability", "normalised_gamma", "rate_penalised_gamma_loss", "spike_count_error",
    "subthreshold_voltage_rmse", "van_rossum_distance", "voltage_rmse",
]


def van_rossum_distance(spikes_1, spikes_2, tau: float) -> float:
    r"""van Rossum (2001, Neural Comput. 13:751) distance between two spike trains, in closed form.

    With :math:`f(t) = \sum_i H(t - t_i) e^{-(t - t_i)/\tau}` for each train,

    .. math::

        D^2 = \frac{1}{\tau}\int (f - g)^2\,dt = \frac12 \sum_{k,l} w_k w_l\, e^{-|u_k - u_l|/\tau},

    over the merged spikes u with w = +1 (train 1) or -1 (train 2), summed in O(n log n) by the
    recursion :math:`R_k = e^{-(u_k - u_{k-1})/\tau}(R_{k-1} + w_{k-1})`. One spike against none
    gives :math:`1/\sqrt2`; Elephant's ``van_rossum_distance`` is :math:`\sqrt2\,D`. Round-off below 0
    is clipped.
    """
    t1 = spike_times(spikes_1, "spikes_1")
    t2 = spike_times(spikes_2, "spikes_2")
    tau = positive(tau, "tau")
    times = np.concatenate([t1, t2])
    signs = np.concatenate([np.ones(t1.size), -np.ones(t2.size)])
    order = np.argsort(times, kind="stable")
    times, signs = times[order], signs[order]
    decay = np.exp(-np.diff(times) / tau)
    cross = 0.0
    carry = 0.0
    for k in range(1, times.size):
        carry = decay[k - 1] * (carry + signs[k - 1])
        cross += signs[k] * carry
    return float(np.sqrt(max(0.5 * times.size + cross, 0.0)))


def _smoothed(trials, dt: float, duration: float, sigma: float, half_width: int | None, name: str):
    """Trains binned at dt (bin floor(t/dt)) and convolved ('same', zero padding) with a Gaussian
    of sd sigma sampled at the bins over +-half_width bins (None: the whole trace)."""
    dt, duration, sigma = positive(dt, "dt"), positive(duration, "duration"), positive(sigma, "sigma")
    n = int(round(duration / dt))
    trains = [spike_times(t, f"{name}[{k}]") for k, t in enumerate(trials)]
    if not trains:
        raise ValueError(f"{name} has no trials")
    half = n if half_width is None else half_width
    offsets = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (offsets * dt / sigma) ** 2)
    out = np.empty((len(trains), n))
    for k, train in enumerate(trains):
        if train.size and (train[0] < 0 or train[-1] >= duration):
            raise ValueError(f"{name}[{k}] has spikes outside [0, {duration:g}) s")
        binary = np.zeros(n)
        np.add.at(binary, np.minimum((train / dt).astype(np.int64), n - 1), 1.0)
        out[k] = np.convolve(binary, kernel)[half: half + n]
    return out


def _ev(x: np.ndarray, y: np.ndarray) -> float:
    """(var x + var y - var(x - y)) / (var x + var y) = 2 cov(x, y) / (var x + var y); 1 if x = y."""
    diff = np.var(x - y)
    if diff == 0.0:
        return 1.0
    total = np.var(x) + np.var(y)
    return float((total - diff) / total)


def explained_variance_teeter(model_trials, data_trials, dt: float, duration: float,
                              sigma: float = 0.01) -> float:
    r"""Explained temporal variance of Teeter et al. 2018 (Allen GLIF), normalised by the data's own.

    Each train is binned at `dt` and convolved with a normalised Gaussian of sd σ truncated at
    ±5σ (window 10σ). With :math:`\mathrm{EV}(x, y) = (\mathrm{var}\,x + \mathrm{var}\,y -
    \mathrm{var}(x - y)) / (\mathrm{var}\,x + \mathrm{var}\,y)` over time,

    .. math::

        \mathrm{EV}_\mathrm{model} = \langle \mathrm{EV}(d_i, m_j) \rangle_{i, j}, \qquad
        \mathrm{EV}_\mathrm{data} = \langle \mathrm{EV}(d_i, \bar d) \rangle_i, \qquad
        \text{score} = \mathrm{EV}_\mathrm{model} / \mathrm{EV}_\mathrm{data},

    the mean over all (data trial, model trial) pairs and the data trials against their PSTH
    :math:`\bar d` (their mean, itself included). Teeter's released code convolves with 'full' for
    the data term and 'same' for the model term; both use 'same' here.
    """
    half = int(5 * sigma / dt)
    model = _smoothed(model_trials, dt, duration, sigma, half, "model_trials")
    data = _smoothed(data_trials, dt, duration, sigma, half, "data_trials")
    model_ev = np.mean([_ev(d, m) for d in data for m in model])
    psth = data.mean(axis=0)
    data_ev = np.mean([_ev(d, psth) for d in data])
    return float(model_ev / data_ev)


def explained_variance_blocks(model_trials, data_trials, dt: float, duration: float,
                              sigma: float = 0.01) -> float:
    r"""Explained temporal variance as in 2311.11390 (Blocks), normalised by the data's own.

    Trains binned at `dt` are convolved with an untruncated Gaussian of sd σ (10 ms there: 100
    bins of 0.1 ms); each data trial is compared with the model's PSTH :math:`\bar m`:

    .. math::

        \text{score} = \frac{\langle \mathrm{EV}(d_i, \bar m)\rangle_i}{\langle \mathrm{EV}(d_i, \bar d)\rangle_i},

    with EV as in :func:`explained_variance_teeter` and :math:`\bar d` the data PSTH.
    """
    model = _smoothed(model_trials, dt, duration, sigma, None, "model_trials").mean(axis=0)
    data = _smoothed(data_trials, dt, duration, sigma, None, "data_trials")
    psth = data.mean(axis=0)
    return float(np.mean([_ev(d, model) for d in data]) / np.mean([_ev(d, psth) for d in data]))


def _paired(v_model, v_data):
    x = np.asarray(v_model, dtype=np.float64)
    y = np.asarray(v_data, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"v_model has shape {x.shape} but v_data has shape {y.shape}")
    for arr, name in ((x, "v_model"), (y, "v_data")):
        bad = ~np.isfinite(arr)
        if bad.any():
            first = np.unravel_index(int(np.argmax(bad)), arr.shape)
            raise ValueError(f"{name} has {int(bad.sum())} non-finite values (first at index {first})")
    return x, y


def voltage_rmse(v_model, v_data, mask=None) -> float:
    r""":math:`\sqrt{\langle (V_\mathrm{model} - V_\mathrm{data})^2\rangle}` [V] over the samples where
    `mask` (bool, same shape) is True, or all."""
    x, y = _paired(v_model, v_data)
    if mask is not None:
        m = np.asarray(mask)
        if m.dtype != bool or m.shape != x.shape:
            raise ValueError(f"mask must be a bool array of shape {x.shape}, got {m.dtype} {m.shape}")
        x, y = x[m], y[m]
    if x.size == 0:
        raise ValueError("no samples to compare (empty traces or an all-False mask)")
    return float(np.sqrt(np.mean((x - y) ** 2)))


def subthreshold_voltage_rmse(v_model, v_data, dt: float, spikes_model, spikes_data,
                              before: float = 2e-3, after: float = 5e-3) -> float:
    r"""Voltage RMSE [V] away from spikes: samples within [t - `before`, t + `after`] of a spike of
    either train are left out, so the score measures the subthreshold dynamics (as in the voltage
    criteria of Jolivet et al. 2008 and Mensi et al. 2012, J. Neurophysiol. 107:1756).

    >>> v = np.zeros(100); w = v.copy(); w[50] = 1.0  # a spike-sized error at the spike
    >>> subthreshold_voltage_rmse(v, w, 1e-3, [0.05], [])
    0.0
    """
    x, y = _paired(v_model, v_data)
    if x.ndim != 1:
        raise ValueError(f"voltage traces must be 1-D, got shape {x.shape}")
    dt = positive(dt, "dt")
    t = np.arange(x.size) * dt
    keep = np.ones(x.size, dtype=bool)
    for s in np.concatenate([spike_times(spikes_model, "spikes_model"), spike_times(spikes_data, "spikes_data")]):
        keep &= ~((t >= s - before - 1e-12) & (t <= s + after + 1e-12))
    return voltage_rmse(x, y, keep)


def spike_count_error(spikes_model, spikes_data) -> np.ndarray:
    """Per sweep, N_model - N_data: int[n_sweeps] from two sequences of spike trains.

    >>> spike_count_error([[0.1, 0.2], []], [[0.1], [0.3]]).tolist()
    [1, -1]
    """
    model, data = list(spikes_model), list(spikes_data)
    if len(model) != len(data):
        raise ValueError(f"{len(model)} model sweeps for {len(data)} data sweeps")
    return np.array([spike_times(m, f"spikes_model[{k}]").size - spike_times(d, f"spikes_data[{k}]").size
                     for k, (m, d) in enumerate(zip(model, data))], dtype=np.int64)
