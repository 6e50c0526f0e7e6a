"""A starting point read off the data, the way an experimenter would (for the built-in models).

* resting potential (``E_L``, ``v_rest``): the median voltage where no current is injected and no
  spike is within 50 ms;
* input resistance and membrane time constant from the hyperpolarising steps
  (`biofit.io.features.passive_properties`): ``R`` = R_in, ``tau_mem`` = tau, ``g_L`` = 1/R_in,
  ``C`` = tau / R_in;
* threshold (``V_T``, ``v_th``): the median voltage at spike onset, the last sample within 5 ms
  before a spike where dV/dt is below 10 V/s (Sekerli et al. 2004's onset criterion);
* threshold adaptation (``v_th``, ``beta``, ``tau_adapt``; models whose threshold jumps by beta at
  each spike and decays with tau_adapt, ALIF): the onset voltages regressed on the spike history,
  theta_k = theta_0 + beta sum_{j<k} exp(-(t_k - t_j) / tau_adapt) (least squares in theta_0 and
  beta for each tau_adapt on a log grid, the best fit kept; cf. Platkiewicz & Brette 2011 on
  threshold adaptation read off spike onsets). theta_0, the threshold of a cell at rest, is
  ``v_th``; the plain median onset would include the adaptation;
* reset (``V_reset``, ``v_reset``): the median of the lowest voltage from 0.5 to 10 ms after each
  spike not followed by another within 10 ms (the after-hyperpolarisation of a real cell, the
  reset value of an integrate-and-fire one).

Parameters without a rule, or whose estimate is not available, start at the centre of their prior;
every estimate is clipped into the prior (2 % inside its edges). `initial_point` also says which
coordinates hold a sharp estimate (CMA-ES starts with a smaller step there): only the threshold
adaptation triple, where it was read. The passive and reset estimates of a real cell are rough
guides to a model's parameters (a smaller step on them regressed the real-data fits).
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


def _onsets(recording: Recording) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per sweep: the spike times (s) and their onset voltages (V; NaN where none is found)."""
    out = []
    for sw in recording.sweeps:
        dvdt = np.diff(sw.voltage) / sw.dt
        onset = np.full(sw.spike_times.size, np.nan)
        for i, s in enumerate(sw.spike_times):
            k = min(int(round(s / sw.dt)), dvdt.size) - 1
            stop = max(k - int(5e-3 / sw.dt), 0)
            while k > stop and dvdt[k] > ONSET_DVDT:
                k -= 1
            if k >= 0:
                onset[i] = sw.voltage[k]
        out.append((np.asarray(sw.spike_times, dtype=np.float64), onset))
    return out


ADAPTATION_TAUS = np.geomspace(5e-3, 5.0, 61)  # s: the grid of tau_adapt


def threshold_adaptation(onsets: list[tuple[np.ndarray, np.ndarray]], taus: np.ndarray = ADAPTATION_TAUS):
    """``(theta_0 [V], beta [V], tau_adapt [s])``: the least-squares fit of
    theta_k = theta_0 + beta sum_{j<k} exp(-(t_k - t_j) / tau) to onset voltages theta_k at spike
    times t_k (``onsets``: per sweep, times and voltages), over `taus`; None without at least 10
    onsets, or when the best beta is not positive (no adaptation to read)."""
    best = None
    for tau in taus:
        xs, ys = [], []
        for times, theta in onsets:
            lag = times[:, None] - times[None, :]
            history = np.where(lag > 0, np.exp(-np.where(lag > 0, lag, 0.0) / tau), 0.0).sum(1)
            ok = np.isfinite(theta)
            xs.append(history[ok])
            ys.append(theta[ok])
        x, y = np.concatenate(xs), np.concatenate(ys)
        if y.size < 10 or np.ptp(x) <= 0:
            return None
        design = np.column_stack([np.ones_like(x), x])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        residual = float(np.sum((design @ coef - y) ** 2))
        if best is None or residual < best[0]:
            best = (residual, float(coef[0]), float(coef[1]), float(tau))
    if best is None or best[2] <= 0:
        return None
    return best[1], best[2], best[3]


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
    """Estimates (SI) of the parameters of the module docstring that the recording supports
    (``v_th`` from the threshold adaptation where it is read, else the median onset)."""
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
    onsets = _onsets(recording)
    onset = np.concatenate([v for _, v in onsets]) if onsets else np.empty(0)
    onset = onset[np.isfinite(onset)]
    if onset.size:
        for name in _THRESHOLD:
            out[name] = float(np.median(onset))
    adaptation = threshold_adaptation(onsets)
    if adaptation is not None:
        out.update(v_th=adaptation[0], beta=adaptation[1], tau_adapt=adaptation[2])
    after = _reset_voltages(recording)
    if after.size:
        for name in _RESET:
            out[name] = float(np.median(after))
    return {k: v for k, v in out.items() if np.isfinite(v)}


_SHARP = ("v_th", "beta", "tau_adapt")  # estimates marked as read off the data (module docstring)


def initial_point(space: SearchSpace, recording: Recording | None) -> tuple[np.ndarray, np.ndarray]:
    """``(u, estimated)``: the unit-cube starting point (data estimates where available, prior
    centres elsewhere) and ``bool[d]``, True where the coordinate is a sharp data estimate."""
    estimates = data_estimates(recording) if recording is not None else {}
    u = np.full(len(space.names), 0.5)
    estimated = np.zeros(len(space.names), dtype=bool)
    for i, name in enumerate(space.names):
        if name in estimates and (estimates[name] > 0 or not space.priors[name].log):
            u[i] = space.priors[name].to_unit(estimates[name])
            estimated[i] = name in _SHARP and "beta" in estimates
    return np.clip(u, 0.02, 0.98), estimated
