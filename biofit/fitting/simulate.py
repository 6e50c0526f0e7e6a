"""Simulate parameter sets on a fit's sweeps: Brian2 populations (one `NeuronGroup` per sweep length).

`simulate_candidates` runs P parameter sets on all sweeps of a `FitData` in Brian2
(`biofit.reference.simulate`, cython target): one group of P x n neurons (candidate p, sweep j is
neuron ``p n + j``), per-neuron parameters, one run as long as the longest sweep (shorter sweeps'
currents are padded with zeros and their responses cut at their end). Brian2's run time is set by
the number of steps (a Python call per code object and step) far more than by the number of
neurons, so one long run beats one run per sweep length. A CMA-ES generation is one such call.

`Response` holds what the losses compare with a sweep: the model voltage at the data's samples
(Brian2 records ``v[k]`` at ``t = k dt``, before step k) and the model's spike times.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from biofit.fitting.data import FitData
from biofit.models.base import NeuronModel
from biofit.reference import simulate


@dataclass(frozen=True)
class Response:
    """A model's response to one sweep: ``voltage: float[n]`` (V, at the sweep's samples) and
    ``spike_times: float[k]`` (s from the sweep's start)."""

    voltage: np.ndarray
    spike_times: np.ndarray


def _as_array(value, n_candidates: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    return np.broadcast_to(arr, (n_candidates,)) if arr.ndim == 0 else arr


def simulate_candidates(model: NeuronModel, params: Mapping[str, object], data: FitData,
                        record_voltage: bool = True) -> list[list[Response]]:
    """Responses ``[candidate][sweep]`` of P parameter sets (each value a scalar or ``float[P]``)
    on every sweep of `data`; the sweeps in `data.sweeps` order."""
    sizes = {np.size(v) for v in params.values() if np.ndim(v) == 1}
    if len(sizes) > 1:
        raise ValueError(f"parameter arrays of different lengths {sorted(sizes)}")
    n_cand = sizes.pop() if sizes else 1
    per_candidate = {k: _as_array(v, n_cand) for k, v in params.items()}
    n_steps = max(g.current.shape[0] for g in data.groups)
    index = [s for g in data.groups for s in g.index]
    current = np.zeros((n_steps, len(index)))
    col = 0
    for g in data.groups:
        current[: g.current.shape[0], col: col + len(g.index)] = g.current
        col += len(g.index)
    n = len(index)
    neuron_params = {k: np.repeat(v, n) for k, v in per_candidate.items()}
    trace = simulate(model, neuron_params, np.tile(current, (1, n_cand)), data.dt,
                     record=() if not record_voltage else None)
    out: list[list[Response | None]] = [[None] * len(data.sweeps) for _ in range(n_cand)]
    for p in range(n_cand):
        for j, s in enumerate(index):
            sweep, ratio = data.sweeps[s], data.ratios[s]
            v = trace.v[::ratio, p * n + j][: sweep.n_samples] if record_voltage else np.empty(0)
            spikes = trace.spike_times[p * n + j]
            out[p][s] = Response(np.asarray(v), spikes[spikes < sweep.duration - 1e-12])
    return out  # type: ignore[return-value]
