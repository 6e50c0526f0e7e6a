"""Simulate parameter sets on a fit's sweeps: Brian2 populations (one `NeuronGroup` per sweep length).

`simulate_candidates` runs P parameter sets on all sweeps of a `FitData` in Brian2
(`biofit.reference.simulate`, cython target): for each group of equally long sweeps one group
of P x n neurons (candidate p, sweep j is neuron ``p n + j``), per-neuron parameters, one run. A
CMA-ES generation is one such call per sweep length, the scoring of a fit another.

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
    out: list[list[Response | None]] = [[None] * len(data.sweeps) for _ in range(n_cand)]
    for group in data.groups:
        n = len(group.index)
        neuron_params = {k: np.repeat(v, n) for k, v in per_candidate.items()}
        current = np.tile(group.current, (1, n_cand))
        trace = simulate(model, neuron_params, current, data.dt, record=() if not record_voltage else None)
        for p in range(n_cand):
            for j, s in enumerate(group.index):
                col = p * n + j
                ratio = data.ratios[s]
                v = trace.v[::ratio, col][: data.sweeps[s].n_samples] if record_voltage else np.empty(0)
                out[p][s] = Response(np.asarray(v), trace.spike_times[col])
    return out  # type: ignore[return-value]
