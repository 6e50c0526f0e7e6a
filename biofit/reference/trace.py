"""`Trace`: the record a Brian2 reference simulation returns (time, state traces, spikes).

Layouts: state traces are ``float[T, N]`` (time first, as the torch backend's ``[T, B, N]`` with the
batch folded away), spike rasters are ``bool[N, n_bins]`` (the ``[n_trains, n_bins]`` numpy raster
convention of biofit). All values are SI floats (s, V, A).

Sampling convention (Brian2's schedule): ``v[k]`` is the state at ``t[k] = k*dt``, recorded at the
start of step k, before that step's update. A spike stamped ``t_k`` was emitted by the update from
``t_k`` to ``t_{k+1}``, so ``v[k+1]`` already holds the reset value.

Example
-------
>>> import numpy as np
>>> tr = Trace(t=np.arange(3) * 1e-3, v=np.zeros((3, 1)), states={}, spike_times=(np.array([1e-3]),),
...            dt=1e-3, model="lif", target="numpy")
>>> tr.spike_raster().astype(int).tolist()
[[0, 1, 0]]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Trace:
    """Result of a reference simulation.

    Attributes
    ----------
    t : float[T]
        Sample times [s], ``k * dt``.
    v : float[T, N]
        Membrane potential [V].
    states : mapping name -> float[T, N]
        Other recorded variables in SI units (e.g. ``"a"`` [V] for ALIF, ``"w"`` [A] for AdEx).
    spike_times : tuple of N float arrays
        Spike times [s] of each neuron, increasing.
    dt : float
        Simulation time step [s].
    model : str
        Name of the simulated model.
    target : str
        Brian2 code-generation target that ran the simulation (``"cython"`` or ``"numpy"``).
    """

    t: np.ndarray
    v: np.ndarray
    states: Mapping[str, np.ndarray]
    spike_times: tuple[np.ndarray, ...]
    dt: float
    model: str
    target: str
    spike_indices: np.ndarray = field(init=False)
    spike_t: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if self.v.ndim != 2 or self.v.shape[0] != self.t.shape[0]:
            raise ValueError(f"v must be float[T, N] with T = {self.t.shape[0]}, got shape {self.v.shape}")
        if len(self.spike_times) != self.v.shape[1]:
            raise ValueError(f"{len(self.spike_times)} spike trains for {self.v.shape[1]} neurons")
        trains = [np.asarray(s, dtype=np.float64) for s in self.spike_times]
        times = np.concatenate([*trains, np.empty(0)])
        owners = [np.full(s.size, n, dtype=np.int64) for n, s in enumerate(trains)]
        index = np.concatenate([*owners, np.empty(0, np.int64)])
        order = np.argsort(times, kind="stable")
        object.__setattr__(self, "spike_t", times[order])
        object.__setattr__(self, "spike_indices", index[order])

    @property
    def n_neurons(self) -> int:
        """Number of simulated neurons N."""
        return self.v.shape[1]

    @property
    def duration(self) -> float:
        """Simulated duration [s] (``T * dt``)."""
        return self.t.shape[0] * self.dt

    def __getitem__(self, name: str) -> np.ndarray:
        """A recorded trace by name: ``trace["v"]``, ``trace["a"]``."""
        if name == "v":
            return self.v
        if name in self.states:
            return self.states[name]
        raise KeyError(f"{name!r} was not recorded; recorded: {['v', *self.states]}")

    def spike_raster(self, dt: float | None = None) -> np.ndarray:
        """Spikes binned at `dt` [s] (the simulation step by default): ``bool[N, n_bins]``.

        Bin b covers ``[b*dt, (b+1)*dt)``; ``n_bins = round(duration / dt)``. Several spikes in one
        bin give a single True.
        """
        step = self.dt if dt is None else float(dt)
        if not np.isfinite(step) or step <= 0:
            raise ValueError(f"dt must be a finite positive number of seconds, got {dt}")
        n_bins = int(round(self.duration / step))
        raster = np.zeros((self.n_neurons, n_bins), dtype=bool)
        # Spike times are multiples of the simulation dt up to round-off: nudge before flooring.
        bins = np.floor(self.spike_t / step + 1e-6).astype(np.int64)
        keep = bins < n_bins
        raster[self.spike_indices[keep], bins[keep]] = True
        return raster
