"""A starting point read off the data, the way an experimenter would (for the built-in models).

* resting potential (``E_L``, ``v_rest``): the median voltage where no current is injected and no
  spike is within 50 ms;
* input resistance and membrane time constant from the hyperpolarising steps
  (`biofit.io.features.passive_properties`): ``R`` = R_in, ``tau_mem`` = tau, ``g_L`` = 1/R_in,
  ``C`` = tau / R_in;
* threshold (``V_T``, ``v_th``): the median voltage at spike onset, the last sample within 5 ms
  before a spike where dV/dt is below 10 V/s (Sekerli et al. 2004's onset criterion);
* reset (``V_reset``, ``v_reset``): the median of the lowest voltage from 0.5 to 10 ms after each
  spike not followed by another within 10 ms (the after-hyperpolarisation of a real cell, the
  reset value of an integrate-and-fire one).

Parameters without a rule, or whose estimate is not available, start at the centre of their prior;
every estimate is clipped into the prior (2 % inside its edges).
"""

from __future__ import annotations

import numpy as np

from biofit.fitting.priors import SearchSpace
from biofit.io.features import passive_properties
from biofit.io.recording import Recording

_REST = ("E_L", "v_rest")
_THRESHOLD = ("V_T", "v_th")
ONSET_DVDT = 10.0  # V/s
_RESET = ("V_reset", "v_reset")


def _reset_voltages(recording: Recording, start: float = 0.5e-3, stop: float = 10e-3) -> np.ndarray:
    values = []
    for sw in recording.sweeps:
        t = sw.spike_times
        for k, s in enumerate(t):
            if k + 1 < t.size and t[k + 1] - s < stop:
                continue
            lo, hi = int(round((s + start) / sw.dt)), int(round((s + stop) / sw.dt))
            if hi <= sw.n_samples:
                values.append(sw.voltage[lo:hi].min())
    return np.asarray(values)


def _onset_voltages(recording: Recording) -> np.ndarray:
    values = []
    for sw in recording.sweeps:
        dvdt = np.diff(sw.voltage) / sw.dt
        for s in sw.spike_times:
            k = min(int(round(s / sw.dt)), dvdt.size) - 1
            stop = max(k - int(5e-3 / sw.dt), 0)
            while k > stop and dvdt[k] > ONSET_DVDT:
                k -= 1
            if k >= 0:
                values.append(sw.voltage[k])
    return np.asarray(values)


def _resting(recording: Recording) -> float:
    values = []
    for sw in recording.sweeps:
        quiet = np.abs(sw.current) < 1e-12
        for s in sw.spike_times:
            lo, hi = int((s - 0.05) / sw.dt), int((s + 0.05) / sw.dt)
            quiet[max(lo, 0): max(hi, 0)] = False
        values.append(sw.voltage[quiet])
    joined = np.concatenate(values) if values else np.empty(0)
    return float(np.median(joined)) if joined.size else float("nan")


def data_estimates(recording: Recording) -> dict[str, float]:
    """Estimates (SI) of the parameters of the module docstring that the recording supports."""
    out: dict[str, float] = {}
    rest = _resting(recording)
    passive = passive_properties(recording)
    r_in, tau = passive["input_resistance"], passive["membrane_time_constant"]
    for name in _REST:
        out[name] = rest
    if np.isfinite(r_in) and r_in > 0:
        out.update(R=r_in, g_L=1.0 / r_in)
        if np.isfinite(tau) and tau > 0:
            out.update(tau_mem=tau, C=tau / r_in)
    onset = _onset_voltages(recording)
    if onset.size:
        for name in _THRESHOLD:
            out[name] = float(np.median(onset))
    after = _reset_voltages(recording)
    if after.size:
        for name in _RESET:
            out[name] = float(np.median(after))
    return {k: v for k, v in out.items() if np.isfinite(v)}


def initial_point(space: SearchSpace, recording: Recording | None) -> np.ndarray:
    """Unit-cube starting point: data estimates where available, prior centres elsewhere."""
    estimates = data_estimates(recording) if recording is not None else {}
    u = np.full(len(space.names), 0.5)
    for i, name in enumerate(space.names):
        if name in estimates:
            u[i] = space.priors[name].to_unit(estimates[name]) if estimates[name] > 0 or not space.priors[name].log else 0.5
    return np.clip(u, 0.02, 0.98)
