"""`Sweep` and `Recording`: validated, immutable current-clamp data in SI units.

A `Sweep` is one trace pair sampled at ``dt``: the injected current (A) and the membrane potential
(V), both ``float[n]``, with the spike times (s, from the sweep's start) either given by the file or
detected from the voltage (`biofit.io.spikes.detect_spikes`). A `Recording` is a sequence of sweeps
plus `RecordingInfo` (cell, protocol, source file, units as read, whether the current is measured
or the protocol's command). Arrays are read-only copies; every check runs at construction, so a
`Recording` in hand is finite, consistent and sorted.

>>> import numpy as np
>>> sw = Sweep(id=3, dt=1e-4, current=np.zeros(1000), voltage=np.full(1000, -0.07),
...            spike_times=np.array([0.01, 0.05]))
>>> rec = Recording([sw], RecordingInfo(cell="c1", protocol="steps"))
>>> rec
Recording(cell='c1', protocol='steps', 1 sweep [3], 0.1 s, dt 0.1 ms, current measured, 2 spikes)
>>> len(rec), rec.sweeps[0].duration
(1, 0.1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

CURRENT_KINDS = ("measured", "command")


def _frozen(values, name: str, sweep_id) -> np.ndarray:
    arr = np.array(values, dtype=np.float64, copy=True)
    if arr.ndim != 1:
        raise ValueError(f"sweep {sweep_id}: {name} must be 1-D, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


def _check_finite(arr: np.ndarray, name: str, sweep_id, dt: float) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.argmax(bad))
        kind = "NaN" if np.isnan(arr[first]) else "infinite"
        raise ValueError(f"sweep {sweep_id}: {name} has {int(bad.sum())} non-finite samples "
                         f"(first: {kind} at t={first * dt:.6g} s, sample {first})")


@dataclass(frozen=True)
class Sweep:
    """One current-clamp sweep.

    Attributes
    ----------
    id : int
        Sweep number, unique within its recording.
    dt : float
        Sampling interval [s].
    current : float[n]
        Injected current [A].
    voltage : float[n]
        Membrane potential [V].
    spike_times : float[k]
        Spike times [s] from the sweep's start, strictly increasing, within ``[0, n*dt)``.
    start_time : float
        Start of the sweep [s] from the start of the recording (0 when the file does not say).
    """

    id: int
    dt: float
    current: np.ndarray
    voltage: np.ndarray
    spike_times: np.ndarray = field(default_factory=lambda: np.empty(0))
    start_time: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.id, bool) or not isinstance(self.id, (int, np.integer)):
            raise TypeError(f"sweep id must be an integer, got {self.id!r}")
        object.__setattr__(self, "id", int(self.id))
        dt = float(self.dt)
        if not np.isfinite(dt) or dt <= 0:
            raise ValueError(f"sweep {self.id}: dt must be a finite positive number of seconds, "
                             f"got {self.dt}")
        object.__setattr__(self, "dt", dt)
        start = float(self.start_time)
        if not np.isfinite(start):
            raise ValueError(f"sweep {self.id}: start_time must be finite, got {self.start_time}")
        object.__setattr__(self, "start_time", start)
        current = _frozen(self.current, "current", self.id)
        voltage = _frozen(self.voltage, "voltage", self.id)
        if current.size != voltage.size:
            raise ValueError(f"sweep {self.id}: current has {current.size} samples but voltage has "
                             f"{voltage.size}")
        if current.size == 0:
            raise ValueError(f"sweep {self.id}: no samples")
        _check_finite(current, "current", self.id, dt)
        _check_finite(voltage, "voltage", self.id, dt)
        spikes = _frozen(self.spike_times, "spike_times", self.id)
        self._check_spikes(spikes, current.size * dt)
        object.__setattr__(self, "current", current)
        object.__setattr__(self, "voltage", voltage)
        object.__setattr__(self, "spike_times", spikes)

    def _check_spikes(self, spikes: np.ndarray, duration: float) -> None:
        if not np.all(np.isfinite(spikes)):
            raise ValueError(f"sweep {self.id}: spike_times has non-finite values")
        outside = (spikes < 0) | (spikes >= duration)
        if outside.any():
            first = float(spikes[np.argmax(outside)])
            raise ValueError(f"sweep {self.id}: spike time {first:.6g} s is outside the sweep "
                             f"[0, {duration:.6g}) s")
        steps = np.diff(spikes)
        if (steps <= 0).any():
            k = int(np.argmax(steps <= 0))
            raise ValueError(f"sweep {self.id}: spike_times must be strictly increasing; "
                             f"{spikes[k + 1]:.6g} s follows {spikes[k]:.6g} s")

    @property
    def n_samples(self) -> int:
        """Number of samples n."""
        return self.voltage.size

    @property
    def duration(self) -> float:
        """Sweep duration ``n * dt`` [s]."""
        return self.n_samples * self.dt

    @property
    def t(self) -> np.ndarray:
        """Sample times ``k * dt`` [s] from the sweep's start, float[n]."""
        return np.arange(self.n_samples) * self.dt


@dataclass(frozen=True)
class RecordingInfo:
    """What is known about a recording besides its samples.

    Attributes
    ----------
    cell, protocol : str
        Cell identifier and protocol name ("" when unknown).
    source : str
        The file (or folder) it was read from ("" when made in memory).
    units : mapping
        Units as read from the file, e.g. ``{"time": "s", "current": "pA", "voltage": "mV"}``.
    current_kind : {"measured", "command"}
        Whether the current is the measured injected current or the protocol's command waveform
        (pyABF's ``sweepC``).
    spikes : str
        Where the spike times come from: ``"given"`` by the file, or the detector and its settings.
    extra : mapping
        Anything else worth keeping (e.g. the true parameters of a synthetic recording).
    """

    cell: str = ""
    protocol: str = ""
    source: str = ""
    units: Mapping[str, str] = field(default_factory=dict)
    current_kind: str = "measured"
    spikes: str = "given"
    extra: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.current_kind not in CURRENT_KINDS:
            raise ValueError(f"current_kind must be one of {CURRENT_KINDS}, got {self.current_kind!r}")
        object.__setattr__(self, "units", MappingProxyType(dict(self.units)))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))


class Recording:
    """A validated, immutable sequence of `Sweep` with its `RecordingInfo`.

    Sweep ids are unique; ``rec.sweeps`` keeps the order given. ``rec.select(ids)`` returns a new
    recording with those sweeps, in that order.
    """

    __slots__ = ("_sweeps", "_info", "_index")

    def __init__(self, sweeps: Sequence[Sweep], info: RecordingInfo | None = None):
        sweeps = tuple(sweeps)
        if not sweeps:
            raise ValueError("a recording needs at least one sweep")
        for sw in sweeps:
            if not isinstance(sw, Sweep):
                raise TypeError(f"sweeps must be Sweep objects, got {type(sw).__name__}")
        index: dict[int, int] = {}
        for k, sw in enumerate(sweeps):
            if sw.id in index:
                raise ValueError(f"sweep id {sw.id} appears twice")
            index[sw.id] = k
        info = RecordingInfo() if info is None else info
        if not isinstance(info, RecordingInfo):
            raise TypeError(f"info must be a RecordingInfo, got {type(info).__name__}")
        object.__setattr__(self, "_sweeps", sweeps)
        object.__setattr__(self, "_info", info)
        object.__setattr__(self, "_index", MappingProxyType(index))

    def __setattr__(self, name, value):
        raise AttributeError("Recording is immutable")

    @property
    def sweeps(self) -> tuple[Sweep, ...]:
        """The sweeps, in order."""
        return self._sweeps

    @property
    def info(self) -> RecordingInfo:
        """Cell, protocol, source, units as read, current kind, spike source, extra."""
        return self._info

    @property
    def sweep_ids(self) -> list[int]:
        """Sweep ids, in order."""
        return [sw.id for sw in self._sweeps]

    def __len__(self) -> int:
        return len(self._sweeps)

    def __iter__(self):
        return iter(self._sweeps)

    def sweep(self, sweep_id: int) -> Sweep:
        """The sweep with id `sweep_id` (ValueError naming the known ids if absent)."""
        if sweep_id not in self._index:
            raise ValueError(f"no sweep with id {sweep_id!r}; sweep ids: {self.sweep_ids}")
        return self._sweeps[self._index[sweep_id]]

    def select(self, sweep_ids: Sequence[int]) -> Recording:
        """A new recording with the sweeps `sweep_ids`, in that order."""
        return Recording([self.sweep(i) for i in sweep_ids], self._info)

    def __repr__(self) -> str:
        ids = self.sweep_ids
        shown = str(ids) if len(ids) <= 6 else f"[{ids[0]}..{ids[-1]}]"
        dts = sorted({sw.dt for sw in self._sweeps})
        dt_text = f"dt {dts[0] * 1e3:.4g} ms" if len(dts) == 1 else f"dt {len(dts)} values"
        total = sum(sw.duration for sw in self._sweeps)
        spikes = sum(sw.spike_times.size for sw in self._sweeps)
        plural = "sweep" if len(ids) == 1 else "sweeps"
        return (f"Recording(cell={self._info.cell!r}, protocol={self._info.protocol!r}, "
                f"{len(ids)} {plural} {shown}, {total:.4g} s, {dt_text}, "
                f"current {self._info.current_kind}, {spikes} spikes)")
