"""A starting point read off the data, the way an experimenter would (for the built-in models).

* resting potential (``E_L``, ``v_rest``): the median voltage where no current is injected and no
  spike is within 50 ms (at least 20 ms of such samples; else the current balance's E_L, below);
* input resistance and membrane time constant from the hyperpolarising steps
  (`biofit.io.features.passive_properties`): ``R`` = R_in, ``tau_mem`` = tau, ``g_L`` = 1/R_in,
  ``C`` = tau / R_in. Without a hyperpolarising step (fluctuating currents): the current balance
  of a point neuron, I = C dV/dt + g_L (V - E_L), least squares over the subthreshold samples
  (as for the adaptation current below, `membrane_balance`), used where it explains at least
  95 % of the current's variance;
* threshold (``V_T``, ``v_th``): the median voltage at spike onset, the last sample within 5 ms
  before a spike where dV/dt is below 10 V/s (Sekerli et al. 2004's onset criterion);
* threshold adaptation (``v_th``, ``beta``, ``tau_adapt``; models whose threshold jumps by beta at
  each spike and decays with tau_adapt, ALIF): the onset voltages regressed on the spike history,
  theta_k = theta_0 + beta sum_{j<k} exp(-(t_k - t_j) / tau_adapt) (least squares in theta_0 and
  beta for each tau_adapt on a log grid, the best fit kept; cf. Platkiewicz & Brette 2011 on
  threshold adaptation read off spike onsets). theta_0, the threshold of a cell at rest, is
  ``v_th``; the plain median onset would include the adaptation;
* adaptation current (``a``, ``b``, ``tau_w`` and then ``g_L``; models with a current w,
  tau_w dw/dt = a (V - E_L) - w, that jumps by b at each spike, AdEx): the current balance of the
  subthreshold samples, I = C dV/dt + g_L (V - E_L) + a x_a + b x_b with x_a the voltage
  deviation low-passed by tau_w and x_b = sum_j exp(-(t - t_j) / tau_w) over the preceding
  spikes, least squares in C, g_L, a and b for each tau_w on a log grid, the best fit kept (the
  dynamic I-V curve of Badel et al. 2008, J. Neurophysiol. 99:656, with w regressed on the
  voltage and spike history). V and I are averaged over 1 ms first; samples within 3 ms before
  to 5 ms after a spike, or less than 12 mV below the median onset (where the spike current
  grows), are left out. Read only where a passive step gives C = tau / R_in, and used only
  where the fit's C is within a factor of 2 of it; the leak g_L then is this fit's, not 1/R_in
  (which is g_L + a);
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
from scipy.signal import lfilter

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
    lags = [times[:, None] - times[None, :] for times, _ in onsets]
    best = None
    for tau in taus:
        xs, ys = [], []
        for lag, (_, theta) in zip(lags, onsets):
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


QUIET_TIME = 20e-3  # s: the least time without current that gives the resting potential
ADAPTATION_WINDOW = 1e-3  # s: V, I and the regressors are averaged over this window
SPIKE_CURRENT_MARGIN = 12e-3  # V: samples above the median onset minus this are left out
W_TAUS = np.geomspace(10e-3, 2.0, 41)  # s: the grid of tau_w


def _box(x: np.ndarray, n: int) -> np.ndarray:
    return np.convolve(x, np.ones(n) / n, mode="same") if n > 1 else x


def _balance_samples(recording: Recording, v_max: float) -> list:
    """Per sweep: ``(sweep, window in samples, keep mask, dV/dt, V, I)`` with V and I averaged over
    `ADAPTATION_WINDOW`; keep: below `v_max` (V), 3 ms before to 5 ms after each spike left out."""
    out = []
    for sw in recording.sweeps:
        n = max(1, int(round(ADAPTATION_WINDOW / sw.dt)))
        v = _box(sw.voltage, n)
        t = np.arange(sw.n_samples) * sw.dt
        keep = v < v_max
        for s in sw.spike_times:
            keep &= (t < s - 3e-3) | (t > s + 5e-3)
        keep[:n] = keep[-n:] = False
        out.append((sw, n, keep, np.gradient(v, sw.dt), v, _box(sw.current, n)))
    return out


POINT_NEURON_R2 = 0.95  # the share of the current's variance a one-compartment balance must explain


def membrane_balance(recording: Recording, v_max: float) -> dict[str, float] | None:
    """``{"C", "g_L", "E_L", "r2"}`` (SI): least squares of I = C dV/dt + g_L (V - E_L) over the
    subthreshold samples below `v_max` (`_balance_samples`), with ``r2`` the share of the current's
    variance it explains; None without 1000 samples, with C or g_L <= 0 or with ``r2`` below
    `POINT_NEURON_R2` (a cell that is not a point neuron: measured 0.94 on the eFEL trace and
    0.86 on the pyABF cell, 0.97-0.999 on biofit's synthetic ALIF cells)."""
    rows = _balance_samples(recording, v_max)
    x = np.concatenate([np.column_stack([dvdt, v, np.ones_like(v)])[keep] for _, _, keep, dvdt, v, _ in rows])
    y = np.concatenate([current[keep] for _, _, keep, _, _, current in rows])
    if y.size < 1000:
        return None
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    c, g_l, offset = (float(q) for q in coef)
    r2 = 1.0 - float(np.sum((x @ coef - y) ** 2)) / max(float(np.sum((y - y.mean()) ** 2)), 1e-300)
    if c <= 0 or g_l <= 0 or r2 < POINT_NEURON_R2:
        return None
    return {"C": c, "g_L": g_l, "E_L": -offset / g_l, "r2": r2}


def adaptation_current(recording: Recording, rest: float, v_max: float, taus: np.ndarray = W_TAUS):
    """``{"C", "g_L", "a", "b", "tau_w"}`` (SI): the least-squares fit of the current balance of the
    module docstring to the subthreshold samples below `v_max` (V), E_L = `rest`; None without
    1000 such samples or two spikes, or when C or g_L comes out <= 0."""
    sweeps = []
    for sw, n, keep, dvdt, v, current in _balance_samples(recording, v_max):
        first = np.clip(np.floor(sw.spike_times / sw.dt).astype(np.int64) + 1, 0, sw.n_samples - 1)
        sweeps.append((sw, n, keep, first, dvdt, v - rest, current))
    n_spikes = sum(sw.spike_times.size for sw, *_ in sweeps)
    if sum(int(k.sum()) for _, _, k, *_ in sweeps) < 1000 or n_spikes < 2:
        return None
    best = None
    for tau in taus:
        xs, ys = [], []
        for sw, n, keep, first, dvdt, dev, current in sweeps:
            decay = np.exp(-sw.dt / tau)
            x_a = lfilter([1.0 - decay], [1.0, -decay], sw.voltage - rest)
            impulses = np.zeros(sw.n_samples)
            np.add.at(impulses, first, np.exp(-(first * sw.dt - sw.spike_times) / tau))
            x_b = lfilter([1.0], [1.0, -decay], impulses)
            design = np.column_stack([dvdt, dev, _box(x_a, n), _box(x_b, n)])
            xs.append(design[keep])
            ys.append(current[keep])
        x, y = np.concatenate(xs), np.concatenate(ys)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        residual = float(np.sum((x @ coef - y) ** 2))
        if best is None or residual < best[0]:
            best = (residual, float(tau), coef)
    _, tau, (c, g_l, a, b) = best
    if c <= 0 or g_l <= 0:
        return None
    return {"C": float(c), "g_L": float(g_l), "a": float(a), "b": float(b), "tau_w": tau}


def _resting(recording: Recording) -> float:
    values, quiet_time = [], 0.0
    for sw in recording.sweeps:
        quiet = np.abs(sw.current) < 1e-12
        for s in sw.spike_times:
            lo, hi = int((s - 0.05) / sw.dt), int((s + 0.05) / sw.dt)
            quiet[max(lo, 0): max(hi, 0)] = False
        values.append(sw.voltage[quiet])
        quiet_time += int(quiet.sum()) * sw.dt
    if quiet_time < QUIET_TIME:  # a fluctuating current's zero crossings are not rest
        return float("nan")
    return float(np.median(np.concatenate(values)))


_ADAPTATION_CURRENT = ("a", "b", "tau_w")


def data_estimates(recording: Recording, names=None) -> dict[str, float]:
    """Estimates (SI) of the parameters of the module docstring that the recording supports
    (``v_th`` from the threshold adaptation where it is read, else the median onset). The
    adaptation current is read only if `names` (the parameters wanted; None: all) holds one of
    ``a``, ``b``, ``tau_w``, and then ``g_L`` is its fit's."""
    out: dict[str, float] = {}
    rest = _resting(recording)
    passive = passive_properties(recording)
    r_in, tau = passive["input_resistance"], passive["membrane_time_constant"]
    onsets = _onsets(recording)
    onset = np.concatenate([v for _, v in onsets]) if onsets else np.empty(0)
    onset = onset[np.isfinite(onset)]
    v_max = float(np.median(onset)) - SPIKE_CURRENT_MARGIN if onset.size else np.inf
    stepped = bool(np.isfinite(r_in) and r_in > 0 and np.isfinite(tau) and tau > 0)
    if not stepped:
        balance = membrane_balance(recording, v_max)  # no passive step: the current balance instead
        if balance is not None:
            r_in, tau = 1.0 / balance["g_L"], balance["C"] / balance["g_L"]
            rest = rest if np.isfinite(rest) else balance["E_L"]
    for name in _REST:
        out[name] = rest
    if np.isfinite(r_in) and r_in > 0:
        out.update(R=r_in, g_L=1.0 / r_in)
        if np.isfinite(tau) and tau > 0:
            out.update(tau_mem=tau, C=tau / r_in)
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
    if stepped and np.isfinite(rest) and (names is None or set(_ADAPTATION_CURRENT) & set(names)):
        current = adaptation_current(recording, rest, v_max)
        # the current balance is trusted where its capacitance agrees with the passive one (tau /
        # R_in) within a factor of 2: on the pyABF cell it reads C = 95 pF against 337 pF, b < 0
        # (currents AdEx lacks), on the eFEL trace (no passive step to check) C = 23 pF, a < 0
        if current is not None and 0.5 < current["C"] / out["C"] < 2.0:
            out.update({k: current[k] for k in ("g_L", *_ADAPTATION_CURRENT)})
    return {k: v for k, v in out.items() if np.isfinite(v)}


_SHARP = ("v_th", "beta", "tau_adapt")  # estimates marked as read off the data (module docstring)


def initial_point(space: SearchSpace, recording: Recording | None) -> tuple[np.ndarray, np.ndarray]:
    """``(u, estimated)``: the unit-cube starting point (data estimates where available, prior
    centres elsewhere) and ``bool[d]``, True where the coordinate is a sharp data estimate."""
    estimates = data_estimates(recording, space.names) if recording is not None else {}
    u = np.full(len(space.names), 0.5)
    estimated = np.zeros(len(space.names), dtype=bool)
    for i, name in enumerate(space.names):
        if name in estimates and (estimates[name] > 0 or not space.priors[name].log):
            u[i] = space.priors[name].to_unit(estimates[name])
            estimated[i] = name in _SHARP and "beta" in estimates
    return np.clip(u, 0.02, 0.98), estimated
