r"""Coincidence metrics between model and recorded spike trains, as published.

Spike times are in seconds (1-D arrays, any order), windows Δ and durations T in seconds.

* :func:`gamma_factor` -- the coincidence factor Γ. ``variant="qsnmc2007"`` (default) is the score of
  the Quantitative Single-Neuron Modeling Competition 2007 (Jolivet et al. 2008, Biol. Cybern.
  99:417; Kistler et al. 1997, Neural Comput. 9:1015), Δ = 2 ms; ``variant="naud2011"`` is the
  coincidence factor of sets of trials with the norms estimated *without replacement* (Naud,
  Gerhard, Mensi & Gerstner 2011, Neural Comput. 23:3016), Δ = 4 ms as in the 2009 competition.
* :func:`intrinsic_reliability` and :func:`normalised_gamma` -- Γ between repeated recordings, and
  the model's Γ divided by it.
* :func:`rate_penalised_gamma_loss` -- the loss brian2modelfitting's ``GammaFactor`` minimises; not
  the published Γ (data rate in the chance term, a model spike may match two data spikes).

`biofit.fitting.metrics` gathers these with the trace metrics (van Rossum distance, explained
temporal variance, voltage RMSE, spike-count error).

>>> import numpy as np
>>> gamma_factor(np.array([0.1, 0.5]), np.array([0.1002, 0.5]), 2e-3, 1.0)
1.0
"""

from __future__ import annotations

import warnings

import numpy as np

from biofit.validation import check_positive as positive

DELTA = {"qsnmc2007": 2e-3, "naud2011": 4e-3}


def spike_times(times, name: str) -> np.ndarray:
    """Validate a 1-D array of spike times [s]; returns it sorted, as float64."""
    arr = np.asarray(times, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of spike times [s], got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} non-finite spike times (first at index {int(np.argmax(bad))})")
    return np.sort(arr)


def count_coincidences(spikes_a, spikes_b, delta: float) -> int:
    r"""Greedy one-to-one coincidence count within :math:`\pm\Delta` (each spike used at most once).

    Both trains are scanned in time order and each spike of `a` is paired with the earliest
    still-unpaired spike of `b` in :math:`[t_a - \Delta, t_a + \Delta]`. With windows of equal width
    this greedy matching is a maximum matching (interval-scheduling exchange argument), so the
    count does not depend on which train is scanned. Δ is widened by 1e-9 relative so that spikes
    exactly Δ apart on a time grid count despite rounding.

    >>> count_coincidences([0.010, 0.012], [0.011], 2e-3)  # one model spike between two data spikes
    1
    """
    a = spike_times(spikes_a, "spikes_a")
    b = spike_times(spikes_b, "spikes_b")
    delta = positive(delta, "delta") * (1.0 + 1e-9)
    count = 0
    j = 0
    for t in a:
        while j < b.size and b[j] < t - delta:
            j += 1
        if j < b.size and b[j] <= t + delta:
            count += 1
            j += 1
    return count


def _trials(spikes, name: str) -> list[np.ndarray]:
    """A train (1-D array) or a sequence of trains -> list of validated trains."""
    arr = spikes if isinstance(spikes, np.ndarray) else None
    if arr is not None and arr.ndim == 1 or (arr is None and all(np.isscalar(x) for x in spikes)):
        return [spike_times(spikes, name)]
    trains = [spike_times(s, f"{name}[{k}]") for k, s in enumerate(spikes)]
    if not trains:
        raise ValueError(f"{name} has no trials")
    return trains


def _gamma_2007(model: np.ndarray, data: np.ndarray, delta: float, duration: float) -> float:
    n_model, n_data = model.size, data.size
    if n_data == 0:
        raise ValueError("spikes_data is empty: the coincidence factor is undefined without data spikes")
    rate_model = n_model / duration
    norm = 1.0 - 2.0 * rate_model * delta
    if norm <= 0:
        raise ValueError(f"delta={delta} is too wide for the model rate {rate_model:.3g} Hz "
                         f"(1 - 2*rate*delta = {norm:.3g})")
    expected = 2.0 * rate_model * delta * n_data
    gamma = (count_coincidences(data, model, delta) - expected) / (0.5 * (n_data + n_model)) / norm
    return max(float(gamma), 0.0)


def _chance_corrected(a: np.ndarray, b: np.ndarray, delta: float, duration: float) -> float:
    """Coincidences minus those of independent Poisson trains of the same rates: N_c - 2Δ N_a N_b / T."""
    return count_coincidences(a, b, delta) - 2.0 * delta * a.size * b.size / duration


def _norm_without_replacement(trains, delta, duration) -> float:
    """Mean chance-corrected coincidences over pairs of distinct trials (a lone train: with itself)."""
    if len(trains) == 1:
        return _chance_corrected(trains[0], trains[0], delta, duration)
    pairs = [_chance_corrected(trains[i], trains[j], delta, duration)
             for i in range(len(trains)) for j in range(len(trains)) if i != j]
    return float(np.mean(pairs))


def _gamma_naud(model, data, delta, duration) -> float:
    cross = np.mean([_chance_corrected(m, d, delta, duration) for m in model for d in data])
    denominator = 0.5 * (_norm_without_replacement(model, delta, duration)
                         + _norm_without_replacement(data, delta, duration))
    if denominator <= 0:
        raise ValueError("the trials' reproducible coincidences are not above chance (norm <= 0): "
                         "Γ without replacement is undefined")
    return float(cross / denominator)


def gamma_factor(spikes_model, spikes_data, delta: float | None = None, duration: float | None = None,
                 *, variant: str = "qsnmc2007", rate_correction: bool | None = None) -> float:
    r"""Coincidence factor Γ between model and data spikes (1 = identical, 0 = chance).

    ``variant="qsnmc2007"`` (Jolivet et al. 2008, their eq. 1; Kistler et al. 1997), single trains:

    .. math::

        \Gamma = \max\Bigl(0,\; \frac{N_\mathrm{coinc} - 2\nu_\mathrm{model}\Delta N_\mathrm{data}}
                {\tfrac12 (N_\mathrm{data} + N_\mathrm{model})}\,
                \frac{1}{1 - 2\nu_\mathrm{model}\Delta}\Bigr),

    with :math:`\nu_\mathrm{model} = N_\mathrm{model}/T` the model's rate (the chance count is that of
    a Poisson train of the model's rate) and :math:`N_\mathrm{coinc}` the greedy one-to-one count of
    :func:`count_coincidences`; negative values (fewer coincidences than chance) are clipped to 0
    as in the competition's ranking.

    ``variant="naud2011"``: model and data may each be one train or a sequence of trials. With the
    chance-corrected coincidence count :math:`c(a, b) = N_\mathrm{coinc}(a, b) - 2\Delta N_a N_b / T`
    (the inner product of two trains under the coincidence kernel; :math:`c(a, a) = N_a(1-2\nu_a\Delta)`
    is a train's squared norm),

    .. math::

        \Gamma^* = \frac{2\,\langle c(m, d)\rangle_{m \in M, d \in D}}
                        {\langle c(m, m')\rangle_{m \ne m'} + \langle c(d, d')\rangle_{d \ne d'}},

    the squared norms of the two sets' firing intensities estimated from pairs of *distinct* trials
    (without replacement), which removes the small-sample bias of the self-coincidences; a set of
    one train stands for a deterministic model (its norm is :math:`c(m, m)`). For two single trains
    of equal size this is the 2007 Γ (unclipped).

    Parameters
    ----------
    spikes_model, spikes_data : float[n] or sequence of float[n_i]
        Spike times [s] (sequences of trials only for ``"naud2011"``).
    delta : float, optional
        Coincidence window half-width Δ [s]; default 2 ms (qsnmc2007) or 4 ms (naud2011).
    duration : float
        Duration T [s] over which the rates are taken.
    variant : {"qsnmc2007", "naud2011"}
    rate_correction : bool, optional
        Deprecated: Γ has no rate term; brian2modelfitting's rate-penalised form is
        :func:`rate_penalised_gamma_loss`.
    """
    if rate_correction is not None:
        warnings.warn("gamma_factor(rate_correction=...) is deprecated: gamma_factor is the published "
                      "Γ; use rate_penalised_gamma_loss for brian2modelfitting's form",
                      DeprecationWarning, stacklevel=2)
        if rate_correction:
            raise ValueError("rate_correction=True is no longer part of gamma_factor; "
                             "use rate_penalised_gamma_loss")
    if variant not in DELTA:
        raise ValueError(f"variant must be one of {sorted(DELTA)}, got {variant!r}")
    if duration is None:
        raise ValueError("duration [s] is required: Γ's chance term needs the rates N / T")
    delta = DELTA[variant] if delta is None else positive(delta, "delta")
    duration = positive(duration, "duration")
    if variant == "naud2011":
        return _gamma_naud(_trials(spikes_model, "spikes_model"), _trials(spikes_data, "spikes_data"),
                           delta, duration)
    return _gamma_2007(spike_times(spikes_model, "spikes_model"), spike_times(spikes_data, "spikes_data"),
                       delta, duration)


def intrinsic_reliability(trials, delta: float | None = None, duration: float | None = None,
                          *, variant: str = "qsnmc2007") -> float:
    r"""Γ_int: the mean Γ over ordered pairs (i, j), i ≠ j, of repeated recordings (trial i as the
    "model" of trial j), i.e. how well the cell predicts itself (Jolivet et al. 2008, sec. 2.3).

    >>> intrinsic_reliability([[0.1, 0.3], [0.1, 0.3], [0.1, 0.3]], 2e-3, 1.0)
    1.0
    """
    trains = [spike_times(t, f"trials[{k}]") for k, t in enumerate(trials)]
    if len(trains) < 2:
        raise ValueError(f"intrinsic reliability needs at least two trials, got {len(trains)}")
    values = [gamma_factor(trains[i], trains[j], delta, duration, variant=variant)
              for i in range(len(trains)) for j in range(len(trains)) if i != j]
    return float(np.mean(values))


def normalised_gamma(spikes_model, trials, delta: float | None = None, duration: float | None = None,
                     *, variant: str = "qsnmc2007") -> float:
    r"""Γ / Γ_int: the model's Γ averaged over the recorded trials, divided by
    :func:`intrinsic_reliability` of those trials (the competitions' normalised score)."""
    model = spike_times(spikes_model, "spikes_model")
    gammas = [gamma_factor(model, t, delta, duration, variant=variant) for t in trials]
    reliability = intrinsic_reliability(trials, delta, duration, variant=variant)
    if reliability <= 0:
        raise ValueError("the trials' intrinsic reliability is 0: the normalised Γ is undefined")
    return float(np.mean(gammas) / reliability)


def rate_penalised_gamma_loss(spikes_model, spikes_data, delta: float, duration: float) -> float:
    r"""The loss of brian2modelfitting 0.4's ``GammaFactor(rate_correction=True)``, kept to compare.

    .. math::

        L = \max\Bigl(0,\; 1 + 2\frac{|\nu_d - \nu_m|}{\nu_d} - \Gamma_b\Bigr),\quad
        \Gamma_b = \frac{N_b - 2\Delta N_d \nu_d}{\tfrac12 (1 - 2\nu_d\Delta)(N_m + N_d)},

    where :math:`N_b` counts the data spikes whose nearest model spike lies within Δ (one model
    spike may serve two data spikes) and the chance term uses the data's rate
    :math:`\nu_d = N_d / T` (Clopath et al. 2007, Neurocomputing 70:1668, for the rate term).
    brian2modelfitting also rounds the spike times to the simulation step first; this does not.
    """
    model = spike_times(spikes_model, "spikes_model")
    data = spike_times(spikes_data, "spikes_data")
    delta, duration = positive(delta, "delta"), positive(duration, "duration")
    if data.size == 0:
        raise ValueError("spikes_data is empty: the loss is undefined without data spikes")
    rate_data, rate_model = data.size / duration, model.size / duration
    if model.size:
        nearest = np.abs(data[:, None] - model[None, :]).min(axis=1)
        n_b = int(np.sum(nearest <= delta * (1.0 + 1e-9)))
    else:
        n_b = 0
    norm = 0.5 * (1.0 - 2.0 * rate_data * delta)
    gamma_b = (n_b - 2.0 * delta * data.size * rate_data) / (norm * (model.size + data.size))
    return float(max(0.0, 1.0 + 2.0 * abs(rate_data - rate_model) / rate_data - gamma_b))
