"""Held-out scores of a fitted model, with the metrics the field publishes.

The fitted parameters are simulated on the sweeps with Brian2 (`biofit.fitting.simulate`) and each
sweep is scored against the data:

* ``gamma``: the coincidence factor Γ of QSNMC 2007 (Jolivet et al. 2008) with Δ = 4 ms, and
  ``gamma_2ms`` with the competition's Δ = 2 ms;
* ``spike_count_error``: N_model - N_data; ``subthreshold_rmse_mV``: voltage RMSE away from spikes;
* for sweeps that repeat one command (equal current arrays): ``gamma_normalised`` = Γ / Γ_int with
  the repeats' intrinsic reliability (Naud et al. 2011's normalisation, here of the 2007 Γ), and
  ``explained_variance`` of Teeter et al. 2018 (σ = 10 ms) of the model against the repeats.

Example
-------
>>> summarise([{"gamma": 0.9, "spike_count_error": 1}, {"gamma": 0.7, "spike_count_error": -3}])["gamma"]
0.8
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from biofit.fitting.coincidence import gamma_factor, intrinsic_reliability
from biofit.fitting.data import FitData
from biofit.fitting.losses import spike_mask
from biofit.fitting.metrics import explained_variance_teeter
from biofit.fitting.simulate import Response, simulate_candidates
from biofit.models.base import NeuronModel

DELTA = 4e-3


def _gamma(model: np.ndarray, data: np.ndarray, duration: float, delta: float) -> float:
    if data.size == 0 and model.size == 0:
        return 1.0
    if data.size == 0 or model.size == 0 or model.size / duration >= 1 / (2 * delta):
        return 0.0
    return gamma_factor(model, data, delta, duration)


def sweep_scores(response: Response, sweep) -> dict[str, float]:
    """Scores of one model response against one sweep (module docstring)."""
    keep = spike_mask(sweep.n_samples, sweep.dt, sweep.spike_times, 2e-3, 5e-3)
    keep &= spike_mask(sweep.n_samples, sweep.dt, response.spike_times, 2e-3, 5e-3)
    diff = response.voltage[keep] - sweep.voltage[keep]
    return {
        "gamma": _gamma(response.spike_times, sweep.spike_times, sweep.duration, DELTA),
        "gamma_2ms": _gamma(response.spike_times, sweep.spike_times, sweep.duration, 2e-3),
        "spike_count_error": int(response.spike_times.size - sweep.spike_times.size),
        "n_spikes_data": int(sweep.spike_times.size),
        "n_spikes_model": int(response.spike_times.size),
        "subthreshold_rmse_mV": float(np.sqrt(np.mean(diff**2)) * 1e3) if diff.size else float("nan"),
    }


def repeat_groups(data: FitData) -> list[list[int]]:
    """Indices of sweeps sharing one command (equal current arrays and sampling), 2 or more."""
    groups: list[list[int]] = []
    for i, sw in enumerate(data.sweeps):
        for g in groups:
            ref = data.sweeps[g[0]]
            if ref.dt == sw.dt and ref.n_samples == sw.n_samples and np.array_equal(ref.current, sw.current):
                g.append(i)
                break
        else:
            groups.append([i])
    return [g for g in groups if len(g) > 1]


def score(model: NeuronModel, parameters: Mapping[str, float], data: FitData, responses=None) -> dict:
    """Per-sweep scores (keyed by sweep label), repeat-group scores and their means; `responses`
    (one `Response` a sweep) are simulated with Brian2 unless given."""
    if responses is None:
        responses = simulate_candidates(model, dict(parameters), data)[0]
    per_sweep = {label: sweep_scores(r, s) for label, r, s in zip(data.labels, responses, data.sweeps)}
    repeats = {}
    for group in repeat_groups(data):
        trains = [data.sweeps[i].spike_times for i in group]
        sw = data.sweeps[group[0]]
        model_train = responses[group[0]].spike_times
        entry = {"sweeps": [data.labels[i] for i in group]}
        if all(t.size for t in trains) and model_train.size:
            reliability = intrinsic_reliability(trains, DELTA, sw.duration)
            gamma = float(np.mean([_gamma(model_train, t, sw.duration, DELTA) for t in trains]))
            entry.update(gamma=gamma, intrinsic_reliability=reliability,
                         gamma_normalised=gamma / reliability if reliability > 0 else float("nan"),
                         explained_variance=explained_variance_teeter([model_train], trains, 1e-3, sw.duration))
        repeats[",".join(entry["sweeps"])] = entry
    return {"sweeps": per_sweep, "repeats": repeats, "mean": summarise(list(per_sweep.values()),
                                                                        list(repeats.values()))}


def summarise(rows: list[dict], repeat_rows: list[dict] | None = None) -> dict[str, float]:
    """Means over sweeps (and over repeat groups for the normalised scores); Γ is averaged over the
    sweeps where the cell spiked (a silent sweep is scored by the spike count error)."""
    out: dict[str, float] = {}
    for key in ("gamma", "gamma_2ms", "subthreshold_rmse_mV"):
        values = [r[key] for r in rows if key in r and np.isfinite(r[key])
                  and (key == "subthreshold_rmse_mV" or r.get("n_spikes_data", 1) > 0)]
        if values:
            out[key] = round(float(np.mean(values)), 12)
    if rows and "spike_count_error" in rows[0]:
        out["abs_spike_count_error"] = float(np.mean([abs(r["spike_count_error"]) for r in rows]))
    for key in ("gamma_normalised", "explained_variance"):
        values = [r[key] for r in (repeat_rows or []) if key in r and np.isfinite(r[key])]
        if values:
            out[key] = float(np.mean(values))
    return out
