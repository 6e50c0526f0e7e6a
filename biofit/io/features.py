r"""Electrophysiological features of current-clamp sweeps (SI units in, SI units out).

Per sweep, with the stimulus window :math:`[t_\mathrm{on}, t_\mathrm{off})` of its first current step
(`find_step`, or given) and spike times :math:`t_1 < \dots < t_k` (intervals
:math:`\mathrm{ISI}_j = t_{j+1} - t_j`):

* ``spike_count``: k over the whole sweep; ``stim_spike_count``: spikes inside the window;
  ``rate`` [Hz]: ``stim_spike_count / (t_off - t_on)`` (one point of the f–I curve).
* ``first_spike_latency`` [s]: first spike inside the window minus :math:`t_\mathrm{on}`.
* ``isi_cv``: :math:`\mathrm{sd}(\mathrm{ISI}) / \mathrm{mean}(\mathrm{ISI})` with the sample standard
  deviation (ddof = 1), over the spikes in the window (eFEL ``ISI_CV`` with ``ignore_first_ISI`` off).
* ``adaptation_index``: :math:`\frac{1}{m}\sum_j (\mathrm{ISI}_{j+1} - \mathrm{ISI}_j) /
  (\mathrm{ISI}_{j+1} + \mathrm{ISI}_j)` over the m consecutive pairs in the window (Allen Cell Types
  technical white paper "Electrophysiology", 2017; eFEL's ``adaptation_index2`` skips the first ISI).
* ``resting_potential`` [V]: mean voltage over the last 10 % of the time before :math:`t_\mathrm{on}`
  (eFEL ``voltage_base``, ``voltage_base_start_perc = 0.9``).
* ``steady_state_voltage`` [V]: mean voltage over the last 10 % of the window (eFEL
  ``steady_state_voltage_stimend``).
* ``input_resistance`` [Ω], hyperpolarising steps without spikes only: :math:`R_\mathrm{in} =
  (V_\mathrm{ss} - V_\mathrm{rest}) / I_\mathrm{step}` (eFEL ``ohmic_input_resistance_vb_ssse``).
* ``membrane_time_constant`` [s], same sweeps: τ of the least-squares fit of
  :math:`V(t) = V_\infty + A\,e^{-(t - t_\mathrm{on})/\tau}` (V_∞, A, τ free) from
  :math:`t_\mathrm{on}` to the voltage minimum (before any sag), the passive charging of an RC
  membrane (Koch 1999, *Biophysics of Computation*, ch. 1).

Features that a sweep cannot define (no spikes, fewer than three ISIs, a depolarising step for the
passive properties) are NaN in the returned table, never an error.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter
from scipy.optimize import curve_fit

from biofit.io.recording import Recording, Sweep

FEATURES = ("spike_count", "stim_spike_count", "step_amplitude", "rate", "first_spike_latency",
            "isi_cv", "adaptation_index", "resting_potential", "steady_state_voltage",
            "input_resistance", "membrane_time_constant")


STEP_FLATNESS = 0.2  # the largest sd of a step's current, relative to its amplitude
MIN_STEP = 10e-3  # s: the shortest step


def find_step(current, dt: float, *, smooth: float = 1e-3) -> tuple[float, float, float] | None:
    """(t_on [s], t_off [s], amplitude [A]) of the first current step of a sweep, or None.

    The current is median-filtered over `smooth` seconds (measured currents are noisy); the
    baseline is its median over the first 2 % of the sweep; a step is the first run of samples
    deviating from the baseline by more than ``max(6 sd of the baseline, 10 % of the largest
    deviation, 1 pA)``; the amplitude is the run's median deviation. A run shorter than 10 ms or
    not flat (its sd above 20 % of the amplitude) is an excursion of a fluctuating current, not a
    step: None.

    >>> i = np.zeros(1000); i[200:700] = -50e-12
    >>> [round(x, 15) for x in find_step(i, 1e-3)]
    [0.2, 0.7, -5e-11]
    """
    current = np.asarray(current, dtype=np.float64)
    width = max(1, int(round(smooth / dt)) | 1)
    smoothed = median_filter(current, size=width, mode="nearest") if width > 1 else current
    head = smoothed[: max(10, smoothed.size // 50)]
    base = float(np.median(head))
    dev = smoothed - base
    level = max(6.0 * float(np.std(head)), 0.1 * float(np.max(np.abs(dev))), 1e-12)
    above = np.abs(dev) > level
    if not above.any():
        return None
    on = int(np.argmax(above))
    sign = np.sign(dev[on])
    run = (dev * sign) > level
    off = on + (int(np.argmax(~run[on:])) if (~run[on:]).any() else run.size - on)
    amplitude = float(np.median(dev[on:off]))
    if (off - on) * dt < MIN_STEP or float(np.std(dev[on:off])) > STEP_FLATNESS * abs(amplitude):
        return None
    return on * dt, off * dt, amplitude


def _window_mean(v: np.ndarray, dt: float, start: float, end: float) -> float:
    """Mean of v over the last 10 % of [start, end)."""
    a = int(round((start + 0.9 * (end - start)) / dt))
    b = max(a + 1, int(round(end / dt)))
    return float(np.mean(v[a:b]))


def _tau_fit(v: np.ndarray, dt: float, t_on: float, t_off: float) -> float:
    """Membrane time constant [s] from the charging curve after a hyperpolarising step onset."""
    a, b = int(round(t_on / dt)), int(round(t_off / dt))
    segment = v[a:b]
    low = int(np.argmin(segment))
    if low < 5:
        return float("nan")
    y = segment[: low + 1]
    t = np.arange(y.size) * dt
    drop = y[0] - y[-1]
    tau0 = max(dt, float(t[int(np.argmax(y - y[-1] <= drop / np.e))]))

    def charge(tt, v_inf, amplitude, tau):
        return v_inf + amplitude * np.exp(-tt / tau)

    try:
        (_, _, tau), _ = curve_fit(charge, t, y, p0=(float(y[-1]), drop, tau0), maxfev=5000)
    except RuntimeError:
        return float("nan")
    return float(tau) if tau > 0 else float("nan")


def isi_cv(spike_times) -> float:
    """Coefficient of variation of the interspike intervals (ddof = 1); NaN under two intervals.

    >>> round(isi_cv([0.0, 0.1, 0.3, 0.6]), 6)  # ISIs 0.1, 0.2, 0.3: sd 0.1, mean 0.2
    0.5
    """
    isi = np.diff(np.asarray(spike_times, dtype=np.float64))
    return float(np.std(isi, ddof=1) / np.mean(isi)) if isi.size >= 2 else float("nan")


def adaptation_index(spike_times, skip: int = 0) -> float:
    """Mean of (ISI_{j+1} - ISI_j) / (ISI_{j+1} + ISI_j) after dropping the first `skip` ISIs
    (``skip=1`` is eFEL's ``adaptation_index2``); NaN with fewer than two pairs left.

    >>> round(adaptation_index([0.0, 0.1, 0.3, 0.6]), 6)  # (1/3 + 1/5) / 2
    0.266667
    """
    isi = np.diff(np.asarray(spike_times, dtype=np.float64))[skip:]
    return float(np.mean(np.diff(isi) / (isi[1:] + isi[:-1]))) if isi.size >= 3 else float("nan")


def sweep_features(sweep: Sweep, stimulus: tuple[float, float] | None = None) -> dict[str, float]:
    """The features of one sweep (module docstring), with its stimulus window found or given [s]."""
    step = find_step(sweep.current, sweep.dt)
    if stimulus is not None:
        t_on, t_off = (float(x) for x in stimulus)
        if not 0 < t_on < t_off <= sweep.duration:
            raise ValueError(f"sweep {sweep.id}: stimulus window {stimulus} is not inside (0, {sweep.duration:g}] s")
        a, b = int(round(t_on / sweep.dt)), int(round(t_off / sweep.dt))
        base = float(np.median(sweep.current[: max(1, a)]))
        amplitude = float(np.median(sweep.current[a:b])) - base
    elif step is None:
        t_on = t_off = amplitude = float("nan")
    else:
        t_on, t_off, amplitude = step
    out = dict.fromkeys(FEATURES, float("nan"))
    spikes = sweep.spike_times
    out["spike_count"] = float(spikes.size)
    out["step_amplitude"] = amplitude
    if not np.isfinite(t_on):
        return out
    inside = spikes[(spikes >= t_on) & (spikes < t_off)]
    out["stim_spike_count"] = float(inside.size)
    out["rate"] = inside.size / (t_off - t_on)
    if inside.size:
        out["first_spike_latency"] = float(inside[0] - t_on)
    out["isi_cv"] = isi_cv(inside)
    out["adaptation_index"] = adaptation_index(inside)
    out["resting_potential"] = _window_mean(sweep.voltage, sweep.dt, 0.0, t_on)
    out["steady_state_voltage"] = _window_mean(sweep.voltage, sweep.dt, t_on, t_off)
    if amplitude < 0 and inside.size == 0:
        out["input_resistance"] = (out["steady_state_voltage"] - out["resting_potential"]) / amplitude
        out["membrane_time_constant"] = _tau_fit(sweep.voltage, sweep.dt, t_on, t_off)
    return out


def recording_features(recording: Recording) -> dict[int, dict[str, float]]:
    """`sweep_features` of every sweep, by sweep id."""
    return {sw.id: sweep_features(sw) for sw in recording.sweeps}


def fi_curve(recording: Recording) -> tuple[np.ndarray, np.ndarray]:
    """f–I curve: (step amplitudes [A], firing rates in the step [Hz]) of the sweeps with a step,
    sorted by amplitude; sweeps with equal amplitudes are averaged."""
    table = recording_features(recording)
    pairs = [(f["step_amplitude"], f["rate"]) for f in table.values() if np.isfinite(f["rate"])]
    if not pairs:
        return np.empty(0), np.empty(0)
    amps = np.array([p[0] for p in pairs])
    rates = np.array([p[1] for p in pairs])
    levels = np.unique(amps)
    return levels, np.array([rates[amps == a].mean() for a in levels])


def passive_properties(recording: Recording) -> dict[str, float]:
    """Resting potential [V], input resistance [Ω] and membrane time constant [s]: medians over
    the hyperpolarising steps without spikes (NaN when there are none)."""
    table = recording_features(recording).values()
    keys = ("resting_potential", "input_resistance", "membrane_time_constant")
    out = {}
    for key in keys:
        values = [f[key] for f in table if np.isfinite(f["input_resistance"]) and np.isfinite(f[key])]
        out[key] = float(np.median(values)) if values else float("nan")
    return out
