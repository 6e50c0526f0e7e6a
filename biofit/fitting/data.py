"""The data side of a fit: sweeps chosen, checked and laid out on the simulation grid.

`FitData` takes sweeps of one or more recordings (any sampling intervals) and a simulation step
``dt``, by default the finest sampling interval. A sweep sampled more coarsely than ``dt`` (its
interval a whole multiple of ``dt``) has its current held over each sample (repeated ``ratio``
times), and the model's voltage is compared with the data at the data's own samples (every
``ratio``-th simulation step). A sweep sampled more finely (``dt`` a whole multiple of its
interval, e.g. 20 kHz data fitted at 0.1 ms) is first resampled to ``dt``: the current averaged
over each step (the charge it injects is kept), the voltage taken at the step's start, the spike
times unchanged. Sweeps of
equal length on the simulation grid form a `Group`, simulated together.

Every check runs here, before any simulation: sweep ids that do not exist, train/test overlap,
NaN (impossible in a `Recording`, which validates at construction), a spike metric without spikes.

Example
-------
>>> import numpy as np
>>> from biofit.io import Recording, Sweep
>>> rec = Recording([Sweep(k, 2e-4, np.zeros(50), np.full(50, -0.07)) for k in range(3)])
>>> data = FitData.from_recordings([rec], [[0, 2]], dt=1e-4)
>>> data.ratios, data.groups[0].current.shape      # two sweeps of 100 simulation steps
((2, 2), (100, 2))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from biofit.io.recording import Recording, Sweep
from biofit.validation import check_dt, check_positive, check_positive_int


@dataclass(frozen=True)
class Group:
    """Sweeps of the same length on the simulation grid: ``current: float[T, n]`` (A) and the
    indices of those sweeps in `FitData.sweeps`."""

    index: tuple[int, ...]
    current: np.ndarray


@dataclass(frozen=True)
class FitData:
    """Sweeps prepared for simulation at step `dt` (module docstring)."""

    sweeps: tuple[Sweep, ...]
    labels: tuple[str, ...]  # "recording:sweep" names, for reports
    dt: float
    ratios: tuple[int, ...]
    groups: tuple[Group, ...]

    @classmethod
    def from_recordings(cls, recordings: Sequence[Recording], sweep_ids: Sequence[Sequence[int] | None],
                        dt: float | None = None) -> FitData:
        """Sweeps `sweep_ids[r]` of recording r (None: all); `dt` (s) defaults to the finest interval."""
        sweeps, labels = [], []
        for r, (rec, ids) in enumerate(zip(recordings, sweep_ids)):
            if ids is not None and not list(ids):
                continue  # nothing of this recording in this set
            chosen = rec.sweeps if ids is None else rec.select(list(ids)).sweeps
            sweeps += chosen
            name = rec.info.cell or f"recording{r}"
            labels += [f"{name}:{s.id}" for s in chosen]
        if not sweeps:
            raise ValueError("no sweeps selected: every recording's list of sweep ids is empty")
        dt = min(s.dt for s in sweeps) if dt is None else check_dt(dt)
        sweeps = [_resample(s, dt, label) for s, label in zip(sweeps, labels)]
        ratios = []
        for s, label in zip(sweeps, labels):
            ratio = s.dt / dt
            if round(ratio) < 1 or abs(ratio - round(ratio)) > 1e-6 * ratio:
                raise ValueError(f"sweep {label}: its sampling interval {s.dt} s is not a whole multiple of "
                                 f"the simulation step dt = {dt} s")
            ratios.append(int(round(ratio)))
        return cls._laid_out(sweeps, labels, float(dt), ratios)

    @classmethod
    def _laid_out(cls, sweeps, labels, dt: float, ratios) -> FitData:
        lengths = [s.n_samples * q for s, q in zip(sweeps, ratios)]
        groups = []
        for n in sorted(set(lengths)):
            index = tuple(i for i, m in enumerate(lengths) if m == n)
            current = np.stack([np.repeat(sweeps[i].current, ratios[i]) for i in index], axis=1)
            groups.append(Group(index, current))
        return cls(tuple(sweeps), tuple(labels), dt, tuple(ratios), tuple(groups))

    @property
    def duration(self) -> float:
        """The sweeps' summed duration (s)."""
        return float(sum(s.n_samples * s.dt for s in self.sweeps))

    def spread(self, seconds: float) -> FitData:
        """About `seconds` of the sweeps (as many as that holds at their mean duration, at least
        one), evenly spaced over them in order; itself if they last no longer."""
        if self.duration <= seconds:
            return self
        n = len(self.sweeps)
        keep = max(1, int(seconds / (self.duration / n)))
        return self.subset(np.unique(np.round(np.linspace(0, n - 1, keep)).astype(int)))

    def subset(self, index) -> FitData:
        """The sweeps at positions `index` (in that order) of `sweeps`, laid out anew."""
        index = [int(i) for i in index]
        return self._laid_out([self.sweeps[i] for i in index], [self.labels[i] for i in index], self.dt,
                              [self.ratios[i] for i in index])

    def with_current_noise(self, sd: float, tau: float, realizations: int, seed, first: int = 0) -> FitData:
        """`realizations` copies of the sweeps (labels ``"name:id#k"``), each with its own
        Ornstein-Uhlenbeck current (sd `sd` A, correlation time `tau` s; `ou_current`) added to the
        injected current on the simulation grid: what a noise-free model meets when simulated
        with a cell's intrinsic noise. `seed`: an int or a tuple of ints (NumPy's `SeedSequence`
        entropy); the same seed gives the same noise. Draws k = `first`, ..., `first` +
        `realizations` - 1 of that seed's sequence: draws 0-7 are the same whether made at once or
        as 0-3 and then 4-7 (``first=4``; the draws before `first` are made and dropped)."""
        check_positive(sd, "sd")
        check_positive(tau, "tau")
        check_positive_int(realizations, "realizations")
        if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or first < 0:
            raise ValueError(f"first must be an integer >= 0, got {first!r}")
        rng = np.random.default_rng(seed)
        n, groups = len(self.sweeps), []
        draws = range(int(first), int(first) + realizations)
        for k in range(draws.stop):
            for g in self.groups:
                noise = ou_current(rng, g.current.shape, self.dt, sd, tau)
                if k >= draws.start:
                    groups.append(Group(tuple(i + (k - draws.start) * n for i in g.index), g.current + noise))
        labels = tuple(f"{label}#{k}" for k in draws for label in self.labels)
        return FitData(self.sweeps * realizations, labels, self.dt, self.ratios * realizations, tuple(groups))

    @property
    def n_spikes(self) -> int:
        return int(sum(s.spike_times.size for s in self.sweeps))

    def require_spikes(self, what: str) -> None:
        """ValueError if the sweeps hold no spike at all (a spike metric has nothing to match)."""
        if self.n_spikes == 0:
            raise ValueError(f"{what} needs spikes, but the sweeps {list(self.labels)} have none")


def ou_current(rng: np.random.Generator, shape: tuple[int, int], dt: float, sd: float, tau: float) -> np.ndarray:
    r"""``float[T, n]``: n stationary Ornstein-Uhlenbeck processes of sd `sd` and correlation time
    `tau` (s) sampled every `dt` s, by the exact update (Gillespie 1996, Phys. Rev. E 54:2084)

    .. math:: x_{k+1} = \rho x_k + sd \sqrt{1 - \rho^2}\, \varepsilon_k, \quad \rho = e^{-dt/\tau},

    with :math:`x_0 \sim N(0, sd^2)` and standard normal :math:`\varepsilon_k` from `rng`."""
    rho = math.exp(-dt / tau)
    x0 = rng.normal(0.0, sd, shape[1])
    eps = rng.standard_normal(shape)
    return lfilter([sd * math.sqrt(1.0 - rho * rho)], [1.0, -rho], eps, axis=0, zi=(rho * x0)[None, :])[0]


def _resample(sweep: Sweep, dt: float, label: str) -> Sweep:
    """`sweep` on the coarser grid `dt` (module docstring), or itself if its interval is >= dt."""
    if sweep.dt >= dt * (1 - 1e-9):
        return sweep
    q = dt / sweep.dt
    if abs(q - round(q)) > 1e-6 * q:
        raise ValueError(f"sweep {label}: the simulation step dt = {dt} s is not a whole multiple of its "
                         f"sampling interval {sweep.dt} s")
    q = int(round(q))
    n = sweep.n_samples // q
    current = sweep.current[: n * q].reshape(n, q).mean(axis=1)
    spikes = sweep.spike_times[sweep.spike_times < n * dt]
    return Sweep(sweep.id, dt, current, sweep.voltage[: n * q: q], spikes, sweep.start_time)


def split_sweeps(recording: Recording, train: Sequence[int] | None, test: Sequence[int] | None):
    """Train and test sweep ids of `recording`, checked: existing ids, no overlap.

    Default: train = every sweep not in `test`; test = none.
    """
    ids = recording.sweep_ids
    for name, chosen in (("train", train), ("test", test)):
        missing = sorted(set(chosen or ()) - set(ids))
        if missing:
            raise ValueError(f"{name} sweep ids {missing} do not exist in {recording.info.cell or 'the recording'}; "
                             f"its sweeps are {ids}")
    test = list(test or ())
    train = [i for i in ids if i not in test] if train is None else list(train)
    overlap = sorted(set(train) & set(test))
    if overlap:
        raise ValueError(f"sweeps {overlap} are in both the train and the test set")
    if not train and not test:
        raise ValueError(f"no sweeps of {recording.info.cell or 'the recording'} are selected")
    return train, test
