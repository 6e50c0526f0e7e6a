r"""Noise read off the recordings: the measurement noise, and a cell's intrinsic noise from repeats.

`measurement_noise`: the white noise on the recorded voltage, from its second differences.

`intrinsic_noise`: two repeats of one command differ by the cell's intrinsic noise, filtered by
its membrane, and by the measurement noise (white, variance :math:`s^2`). On spike-free repeats
the difference :math:`d = v_1 - v_2` of two independent realizations has

.. math:: \langle d^2 \rangle = 2 \sigma_v^2 + 2 s^2,

with :math:`\sigma_v^2` the variance of the voltage fluctuation the intrinsic noise causes
(a fluctuation correlated over milliseconds barely moves the second differences, so :math:`s^2`
is `measurement_noise`'s). The model, simulated on the same commands with an Ornstein-Uhlenbeck
current of sd :math:`\sigma_I` and correlation time :math:`\tau` (`FitData.with_current_noise`),
gives its own :math:`\sigma_v^2(\sigma_I)`, the variance across draws, proportional to
:math:`\sigma_I^2` while the response is linear (a passive membrane of conductance g and time
constant :math:`\tau_m`: :math:`\sigma_v^2 = \sigma_I^2 \tau / (g^2 (\tau_m + \tau))`). So

.. math:: \sigma_I = \sigma_{probe} \sqrt{\sigma_{v,data}^2 / \sigma_{v,model}^2(\sigma_{probe})},

computed twice, the second time probing with the first estimate (the non-linear part).

:math:`\tau` is not read off: on the shipped cells (both simulated with 5 ms) the difference's
autocorrelation at lags of 0.1-40 ms pointed to 10-20 ms (AdEx) and 2 ms (ALIF) (closing note
of issue 12). It is given, by default 5 ms, between the 2.7 ms excitatory and 10.5 ms inhibitory
correlation times of the point-conductance model (Destexhe et al. 2001, Neuroscience 107:13),
and the sd is read for it.

Example
-------
>>> import numpy as np
>>> from biofit.io import Recording, Sweep
>>> sweeps = [Sweep(k, 1e-4, np.full(20, 1e-11 * (k > 1)), np.full(20, -0.07)) for k in range(4)]
>>> spike_free_repeats(FitData.from_recordings([Recording(sweeps)], [None]))
[(0, 1), (2, 3)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from biofit.fitting.data import FitData
from biofit.fitting.losses import VoltageLoss, spike_mask
from biofit.fitting.simulate import simulate_candidates
from biofit.models.base import NeuronModel
from biofit.validation import check_positive, check_positive_int

DEFAULT_TAU = 5e-3  # s, the intrinsic noise's correlation time (module docstring)


def measurement_noise(data: FitData, loss: VoltageLoss) -> float:
    """The variance (V²) of the voltage's measurement noise: from the second differences of the
    subthreshold samples (``[-loss.before, +loss.after]`` of a spike left out), robustly
    (1.4826 x median absolute value, for sd); white noise of variance s² gives them variance 6 s²."""
    values = []
    for sw in data.sweeps:
        keep = spike_mask(sw.n_samples, sw.dt, sw.spike_times, loss.before, loss.after)
        second = np.diff(sw.voltage, 2)
        values.append(second[keep[:-2] & keep[1:-1] & keep[2:]])
    values = np.concatenate(values) if values else np.empty(0)
    if values.size == 0:
        return 0.0
    sd = 1.4826 * float(np.median(np.abs(values))) / math.sqrt(6.0)
    return sd * sd


def spike_free_repeats(data: FitData) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, i < j, of `data`'s sweeps with the same command current (equal
    samples and sampling interval) and no spike in either."""
    sweeps = data.sweeps
    quiet = [i for i, s in enumerate(sweeps) if s.spike_times.size == 0]
    return [(i, j) for a, i in enumerate(quiet) for j in quiet[a + 1:]
            if sweeps[i].dt == sweeps[j].dt and np.array_equal(sweeps[i].current, sweeps[j].current)]


def repeat_variance(data: FitData, pairs) -> float:
    r""":math:`\sigma_{v,data}^2` (V²): half the mean squared difference of the repeats `pairs`,
    less the measurement variance of their sweeps (module docstring); 0 where that is negative."""
    squares = np.concatenate([(data.sweeps[i].voltage - data.sweeps[j].voltage) ** 2 for i, j in pairs])
    quiet = data.subset(sorted({k for pair in pairs for k in pair}))
    return max(0.0, 0.5 * float(squares.mean()) - measurement_noise(quiet, VoltageLoss()))


def model_variance(model: NeuronModel, parameters: Mapping[str, float], data: FitData, sd: float, tau: float,
                   realizations: int, seed) -> float:
    r""":math:`\sigma_{v,model}^2` (V²): the variance across `realizations` noise draws (sd `sd` A,
    tau `tau` s) of `model`'s voltage on `data`'s sweeps, averaged over samples and sweeps; +inf
    if the model spikes on any of them (the repeats are spike-free)."""
    drawn = data.with_current_noise(sd, tau, realizations, seed)
    responses = simulate_candidates(model, dict(parameters), drawn)[0]
    if any(r.spike_times.size for r in responses):
        return float("inf")
    n = len(data.sweeps)
    per_sweep = [np.var(np.stack([responses[k * n + s].voltage for k in range(realizations)]), axis=0, ddof=1).mean()
                 for s in range(n)]
    weights = [sw.n_samples for sw in data.sweeps]
    return float(np.average(per_sweep, weights=weights))


def intrinsic_noise(model: NeuronModel, parameters: Mapping[str, float], data: FitData, tau: float = DEFAULT_TAU,
                    realizations: int = 8, seed=0, probe: float = 5e-12, pairs=None) -> float:
    """The sd (A) of the OU current (correlation time `tau`, s) that makes `model` at `parameters`
    vary across draws as `data`'s spike-free repeats vary (module docstring); 0.0 where the repeats
    differ by no more than their measurement noise. `realizations` draws per sweep, seeded by
    `seed`; `probe` (A) the first sd simulated; `pairs` the repeats (`spike_free_repeats` of
    `data` where not given). ValueError without spike-free repeats, or if the model spikes on them."""
    check_positive(tau, "tau (s)")
    check_positive(probe, "probe (A)")
    check_positive_int(realizations, "realizations")
    if realizations < 2:
        raise ValueError(f"realizations must be at least 2 (a variance across draws), got {realizations!r}")
    pairs = spike_free_repeats(data) if pairs is None else list(pairs)
    if not pairs:
        raise ValueError(f"reading the intrinsic noise needs two spike-free sweeps of one command (repeats); "
                         f"the sweeps {list(data.labels)} have none")
    quiet_index = sorted({k for pair in pairs for k in pair})
    target = repeat_variance(data, pairs)
    if target == 0.0:
        return 0.0
    quiet = data.subset(quiet_index)
    sd = probe
    for _ in range(2):
        variance = model_variance(model, parameters, quiet, sd, tau, realizations, seed)
        if not np.isfinite(variance) or variance <= 0.0:
            raise ValueError(f"{model.name} at {dict(parameters)} spikes (or does not vary) on the spike-free "
                             f"repeats {[data.labels[k] for k in quiet_index]} with {sd:.3g} A of noise")
        sd = sd * math.sqrt(target / variance)
    return float(sd)
