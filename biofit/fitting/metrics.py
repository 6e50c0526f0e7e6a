r"""Spike-train and voltage-trace metrics used to score a model against data.

All functions are pure NumPy and take SI units: spike times in seconds (1-D arrays, any order),
voltages in volts, durations and time constants in seconds.

* :func:`gamma_factor` -- coincidence factor :math:`\Gamma` (Kistler et al. 1997; Jolivet et al. 2008).
* :func:`van_rossum_distance` -- van Rossum (2001) distance, exact closed form.
* :func:`voltage_rmse` -- root-mean-square voltage error, optionally on a mask (e.g. away from spikes).
* :func:`explained_temporal_variance` -- fraction of the temporal variance of a data trace explained
  by a model trace.

Example
-------
>>> import numpy as np
>>> gamma_factor(np.array([0.1, 0.5]), np.array([0.1002, 0.5]), delta_s=4e-4, duration_s=1.0)
1.0
"""

from __future__ import annotations

import numpy as np


def _spike_times(times, name: str) -> np.ndarray:
    """Validate a 1-D array of spike times [s] and return it sorted, as float64."""
    arr = np.asarray(times, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of spike times [s], got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} non-finite spike times (first at index {int(np.argmax(bad))})"
        )
    return np.sort(arr)


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value}")
    return value


def count_coincidences(spikes_a, spikes_b, delta_s: float) -> int:
    r"""Number of one-to-one coincidences between two spike trains within :math:`\pm\Delta`.

    A coincidence is a pair (a, b) with :math:`|t_a - t_b| \le \Delta`; every spike takes part in at
    most one pair, and the count is the *maximum* number of such disjoint pairs (a maximum matching
    of the bipartite "within Δ" graph). Because every spike's window has the same width 2Δ, scanning
    both sorted trains and pairing each spike of `a` with the earliest still-unpaired spike of `b`
    inside its window attains that maximum (the interval-scheduling exchange argument). This avoids
    the double counting of the naive "number of data spikes with a model spike within Δ", which
    exceeds the number of model spikes when one model spike sits between two close data spikes.

    The comparison uses Δ·(1 + 1e-9) so that spikes lying exactly Δ apart on a time grid (Δ = 2·dt)
    count despite floating-point rounding of the grid times.

    Parameters
    ----------
    spikes_a, spikes_b : float[n_a], float[n_b]
        Spike times [s].
    delta_s : float
        Coincidence window half-width Δ [s].
    """
    a = _spike_times(spikes_a, "spikes_a")
    b = _spike_times(spikes_b, "spikes_b")
    delta = _positive(delta_s, "delta_s") * (1.0 + 1e-9)
    count = 0
    j = 0
    for t in a:
        while j < b.size and b[j] < t - delta:
            j += 1
        if j < b.size and b[j] <= t + delta:
            count += 1
            j += 1
    return count


def gamma_factor(
    spikes_model,
    spikes_data,
    delta_s: float,
    duration_s: float,
    rate_correction: bool = True,
) -> float:
    r"""Coincidence factor :math:`\Gamma` between a model and a data spike train.

    .. math::

        \Gamma = \frac{N_\mathrm{coinc} - \langle N_\mathrm{coinc}\rangle}
                      {\tfrac12 (N_\mathrm{data} + N_\mathrm{model})}\,\frac{1}{\mathcal N},
        \qquad \langle N_\mathrm{coinc}\rangle = 2\,\nu_\mathrm{model}\,\Delta\,N_\mathrm{data},
        \qquad \mathcal N = 1 - 2\,\nu_\mathrm{data}\,\Delta,

    (Kistler, Gerstner & van Hemmen 1997, Neural Comput. 9:1015; Jolivet, Kobayashi, Rauch, Naud,
    Shinomoto & Gerstner 2008, J. Neurosci. Methods 169:417), with :math:`\nu = N / T` the mean rates
    over the duration T, and :math:`N_\mathrm{coinc}` the one-to-one coincidence count of
    :func:`count_coincidences`.
    :math:`\langle N_\mathrm{coinc}\rangle` is the expected count for a Poisson train of the model's
    rate, so :math:`\Gamma \approx 0` for an independent train, and :math:`\Gamma = 1` for identical
    trains (then :math:`\nu_\mathrm{model} = \nu_\mathrm{data}` and the numerator equals
    :math:`N_\mathrm{data}\mathcal N`). Jolivet et al. use one rate in both places; they coincide
    whenever Γ is near 1, which is the regime where Γ is read. Since each spike counts at most once,
    chance coincidences sharing a window count once, and Γ of independent trains sits slightly below
    0, by about :math:`(2\nu\Delta)^2`.

    With ``rate_correction=True`` the score is penalised for a firing-rate mismatch as in Clopath et
    al. 2007 (Neurocomputing 70:1668) and brian2modelfitting's ``GammaFactor``:
    :math:`\Gamma - 2\,|\nu_\mathrm{data} - \nu_\mathrm{model}| / \nu_\mathrm{data}`; its
    complement to 1 is brian2modelfitting's loss. Use ``rate_correction=False`` for the plain Γ
    of Jolivet et al. (the value behind the "Γ ≥ 0.99 with Δ = 2·dt" agreement criterion).

    Parameters
    ----------
    spikes_model, spikes_data : float[n_model], float[n_data]
        Spike times [s].
    delta_s : float
        Coincidence window half-width Δ [s] (Jolivet et al. use 2 ms; 2·dt to compare simulators).
    duration_s : float
        Duration T [s] of the recording over which the rates are computed; must satisfy
        :math:`2\nu_\mathrm{data}\Delta < 1`.
    rate_correction : bool
        Subtract the rate-mismatch penalty (see above).

    Returns
    -------
    float
        Γ (1 = perfect; ≈ 0 = chance); with the rate correction it can be negative.

    Raises
    ------
    ValueError
        If the data train is empty (Γ is undefined), or Δ is so wide that :math:`\mathcal N \le 0`.
    """
    model = _spike_times(spikes_model, "spikes_model")
    data = _spike_times(spikes_data, "spikes_data")
    delta = _positive(delta_s, "delta_s")
    duration = _positive(duration_s, "duration_s")
    n_model, n_data = model.size, data.size
    if n_data == 0:
        raise ValueError("spikes_data is empty: the coincidence factor is undefined without data spikes")
    rate_model = n_model / duration
    rate_data = n_data / duration
    norm = 1.0 - 2.0 * rate_data * delta
    if norm <= 0:
        raise ValueError(
            f"delta_s={delta} is too wide for the data rate {rate_data:.3g} Hz "
            f"(1 - 2*rate*delta = {norm:.3g})"
        )
    n_coinc = count_coincidences(data, model, delta)
    expected = 2.0 * rate_model * delta * n_data
    gamma = (n_coinc - expected) / (0.5 * (n_data + n_model)) / norm
    if rate_correction:
        gamma -= 2.0 * abs(rate_data - rate_model) / rate_data
    return float(gamma)


def van_rossum_distance(spikes_1, spikes_2, tau_s: float) -> float:
    r"""van Rossum distance between two spike trains, in closed form.

    Each train is filtered by a causal exponential, :math:`f(t) = \sum_i H(t - t_i) e^{-(t - t_i)/\tau}`,
    and (van Rossum 2001, Neural Comput. 13:751)

    .. math::

        D^2 = \frac{1}{\tau}\int_{-\infty}^{\infty} (f(t) - g(t))^2\,dt
            = \frac12 \sum_{k,l} w_k w_l\, e^{-|u_k - u_l|/\tau},

    where :math:`u` are the spikes of both trains and :math:`w = +1` for train 1, :math:`-1` for
    train 2. Sorting the merged train, the double sum is :math:`\tfrac12 (n_1 + n_2) + \sum_k w_k R_k`
    with the recursion :math:`R_k = e^{-(u_k - u_{k-1})/\tau}(R_{k-1} + w_{k-1})`, :math:`R_0 = 0`:
    O((n₁ + n₂) log(n₁ + n₂)) time, O(n) memory, and every factor ≤ 1 (no overflow).
    One spike against none gives :math:`D = 1/\sqrt2`; Elephant's ``van_rossum_distance`` is
    normalised to 1 there, i.e. it returns :math:`\sqrt2\,D`.

    Parameters
    ----------
    spikes_1, spikes_2 : float[n1], float[n2]
        Spike times [s].
    tau_s : float
        Filter time constant τ [s].

    Returns
    -------
    float
        D (dimensionless), ≥ 0. Round-off can make the sum a tiny negative number when the trains
        are (almost) identical; it is clipped at 0.
    """
    t1 = _spike_times(spikes_1, "spikes_1")
    t2 = _spike_times(spikes_2, "spikes_2")
    tau = _positive(tau_s, "tau_s")
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
    d2 = 0.5 * times.size + cross
    return float(np.sqrt(max(d2, 0.0)))


def _paired_traces(model, data, mask, name_model: str, name_data: str):
    x = np.asarray(model, dtype=np.float64)
    y = np.asarray(data, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"{name_model} has shape {x.shape} but {name_data} has shape {y.shape}")
    for arr, name in ((x, name_model), (y, name_data)):
        bad = ~np.isfinite(arr)
        if bad.any():
            first = np.unravel_index(int(np.argmax(bad)), arr.shape)
            raise ValueError(f"{name} has {int(bad.sum())} non-finite values (first at index {first})")
    if mask is not None:
        m = np.asarray(mask)
        if m.dtype != bool or m.shape != x.shape:
            raise ValueError(f"mask must be a bool array of shape {x.shape}, got {m.dtype} {m.shape}")
        x, y = x[m], y[m]
    if x.size == 0:
        raise ValueError("no samples to compare (empty traces or an all-False mask)")
    return x, y


def voltage_rmse(v_model, v_data, mask=None) -> float:
    r"""Root-mean-square difference :math:`\sqrt{\langle (V_\mathrm{model} - V_\mathrm{data})^2\rangle}`.

    Parameters
    ----------
    v_model, v_data : float[...]
        Voltage traces [V] sampled on the same grid (any equal shapes, e.g. float[T] or float[T, N]).
    mask : bool[...] or None
        Samples to include (e.g. False within a few ms of a spike, to score subthreshold voltage as
        in Jolivet et al. 2008); None uses all.

    Returns
    -------
    float
        RMSE [V].
    """
    x, y = _paired_traces(v_model, v_data, mask, "v_model", "v_data")
    return float(np.sqrt(np.mean((x - y) ** 2)))


def explained_temporal_variance(trace_model, trace_data, mask=None) -> float:
    r"""Fraction of the temporal variance of a data trace explained by a model trace.

    .. math::

        \mathrm{EV} = 1 - \frac{\sum_t (x_\mathrm{model}(t) - x_\mathrm{data}(t))^2}
                               {\sum_t (x_\mathrm{data}(t) - \bar x_\mathrm{data})^2}

    The variance is taken over time (the samples of one trace), so a model that only reproduces
    the mean scores 0 and a perfect one 1; it is negative when the model is worse than the mean.
    Applied to the subthreshold voltage (spikes masked out) it is the percentage of explained
    variance EV_V of Mensi et al. 2012 (J. Neurophysiol. 107:1756) and Pozzorini et al. 2015 (PLoS
    Comput. Biol. 11:e1004275), divided by 100. Applied to PSTHs [Hz] it is the fraction of the
    data's temporal rate modulation the model predicts (no correction for the finite number of
    trials; Naud et al. 2011, Neural Comput. 23:3016, discuss that bias).

    Parameters
    ----------
    trace_model, trace_data : float[...]
        Traces on the same time grid (volts for voltage, Hz for PSTHs).
    mask : bool[...] or None
        Samples to include; None uses all.
    """
    x, y = _paired_traces(trace_model, trace_data, mask, "trace_model", "trace_data")
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0.0:
        raise ValueError("trace_data is constant on the selected samples: its temporal variance is 0")
    return float(1.0 - np.sum((x - y) ** 2) / total)
