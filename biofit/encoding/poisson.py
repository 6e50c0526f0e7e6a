r"""Poisson spike trains: binned rasters, exact event times, and rate-coded torch tensors.

Binned rasters, ``refractory == 0`` (:func:`poisson_spike_trains`). A Poisson process with rate
:math:`r_i` (Hz, constant within bin :math:`i` of width :math:`\Delta t`) puts
:math:`N_i \sim \mathrm{Poisson}(r_i \Delta t)` events in the bin. The raster holds the event
*indicator* :math:`S_i = [N_i \ge 1]`, so

.. math:: P(S_i = 1) = 1 - e^{-r_i \Delta t}, \qquad
          \mathbb{E}\Big[\sum_i S_i\Big] = \sum_i (1 - e^{-r_i \Delta t}) \le \sum_i r_i \Delta t .

What holds: the probability per bin above, exactly, at any :math:`r \Delta t` (no Bernoulli with
:math:`p = r \Delta t`, which exceeds 1 for :math:`r \Delta t > 1`). What does not: the number of
bins with a spike is *not* :math:`r T` once :math:`r \Delta t` is not small (1 kHz at 1 ms:
63.2 % of bins, not 100 %), because a bool raster cannot hold two events in one bin. Where the
expected count :math:`r T` must hold, use :func:`poisson_spike_counts` (``int`` counts
:math:`N_i`, :math:`\mathbb{E}[N_i] = r_i \Delta t`) or :func:`poisson_spike_times` (exact event
times). With the same arguments and seed, ``trains == (counts > 0)`` (one shared draw).

Events are drawn exactly, not per bin: per train :math:`N \sim \mathrm{Poisson}(r_{max} T)`
positions uniform on :math:`[0, T)`, each kept with probability :math:`r(t)/r_{max}` (thinning,
Lewis & Shedler 1979, Naval Res. Logist. Q. 26, 403). Homogeneous rates skip the thinning.

Dead time, ``refractory = tau > 0``. Convention: ``rate_hz`` is the requested *output* rate.
Binned (a discrete-time renewal process): after a spike in bin :math:`i`, bins
:math:`i+1 \dots i+k` are silent, :math:`k = \lceil \tau / \Delta t \rceil` (the effective dead
time is :math:`k \Delta t \ge \tau`); a live bin spikes with probability
:math:`h = q / (1 - k q)`, :math:`q = r \Delta t`. The mean inter-spike interval is then
:math:`k + 1/h = 1/q` bins, so the expected number of bins with a spike is :math:`r T` exactly
(the train starts from the stationary state). This needs :math:`r (k + 1) \Delta t < 1`. The ISI
is :math:`k + \mathrm{Geom}(h)` bins, with

.. math:: \mathrm{CV} = (1 - r k \Delta t)\sqrt{1 - h}
          \;\xrightarrow{\Delta t \to 0}\; 1 - r \tau \quad\text{(dead-time Poisson)} .

Event times (continuous): ISI :math:`= \tau + \mathrm{Exp}(\lambda)`,
:math:`\lambda = r / (1 - r \tau)`, output rate :math:`r`, CV :math:`= 1 - r\tau`
(needs :math:`r \tau < 1`). Time-varying rates with dead time use :math:`q_i`, :math:`\lambda_i`
bin by bin (quasi-stationary: the output rate follows :math:`r_i` where it varies slowly on the
scale of :math:`\tau`). The train starts in the stationary state of its first bin's rate.
Both are drawn as a Poisson process with the live hazard (:math:`\lambda`, or :math:`h` per bin)
from which each event inside the dead time of the last kept one is removed; memorylessness makes
the wait after a dead time exponential (geometric), i.e. the dead-time process above.

Torch (:func:`poisson_spike_tensor`, :func:`rate_code`): one uniform per step,
:math:`S = [U < 1 - e^{-r \Delta t}]`, the same per-bin law as the raster, on the rate's device.

Example
-------
>>> raster = poisson_spike_trains(20.0, duration=1.0, dt=1e-3, n_trains=3, seed=0)
>>> raster.shape, raster.dtype
((3, 1000), dtype('bool'))
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from biofit.validation import (
    check_dt,
    check_nonnegative,
    check_positive,
    numpy_generator,
    renamed_arguments,
    torch_generator,
)

if TYPE_CHECKING:
    import torch

_REL_TOL = 1e-9  # duration/dt and refractory/dt within this relative tolerance count as integers


def _where_first(mask: np.ndarray) -> str:
    """' (first at index ...)' of the first True entry of ``mask``, or '' for a scalar."""
    if mask.ndim == 0:
        return ""
    first = tuple(int(i) for i in np.argwhere(mask)[0])
    return f" (first at index {first[0] if len(first) == 1 else first})"


def _check_rates(rate_hz) -> np.ndarray:
    """``rate_hz`` as float64, or ValueError naming NaN/inf/negative entries."""
    try:
        rate = np.asarray(rate_hz, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"rate_hz must be a number or an array of numbers, got {rate_hz!r}") \
            from err
    for mask, what in ((~np.isfinite(rate), "NaN or infinite"), (rate < 0, "negative")):
        if mask.any():
            first = rate[mask].flat[0]
            raise ValueError(f"rate_hz has {int(mask.sum())} {what} value(s){_where_first(mask)}: "
                             f"{first} Hz")
    return rate


def _n_bins(duration, dt) -> int:
    duration, dt = check_positive(duration, "duration"), check_dt(dt)
    n_bins = int(math.floor(duration / dt * (1 + _REL_TOL)))
    if n_bins < 1:
        raise ValueError(f"duration={duration} is shorter than one bin (dt={dt})")
    return n_bins


def _rate_grid(rate: np.ndarray, n_trains, n_bins: int) -> tuple[np.ndarray, int]:
    """Broadcastable ``float64[1 | n_trains, 1 | n_bins]`` rates and the number of trains."""
    if rate.ndim > 2 or (rate.ndim >= 1 and rate.shape[-1] != n_bins):
        raise ValueError(f"rate_hz has shape {rate.shape}; expected a scalar, [n_bins] or "
                         f"[n_trains, n_bins] with n_bins = {n_bins}")
    grid = rate.reshape((1, 1) if rate.ndim == 0 else (-1, n_bins))
    rows = grid.shape[0]
    n_trains = rows if n_trains is None else int(n_trains)
    if n_trains < 1 or rows not in (1, n_trains):
        raise ValueError(f"n_trains={n_trains} does not match rate_hz with {rows} rows "
                         f"(shape {rate.shape}); it must be >= 1 and equal to the rows of a "
                         "2-D rate")
    return grid, n_trains


def _counts_per_train(rng, rate, n_trains: int, n_bins: int, width: float):
    """Event counts ``N_i ~ Poisson(r_max,i * T)`` of the dominating homogeneous processes."""
    rate_max = np.broadcast_to(rate.max(axis=1), (n_trains,))
    counts = rng.poisson(rate_max * n_bins * width)
    return rate_max, counts, np.repeat(np.arange(n_trains, dtype=np.int64), counts)


def _thin(rng, rate, rate_max, rows, bins, *events):
    """Keep each event with probability ``rate[row, bin] / rate_max[row]`` (Lewis-Shedler)."""
    rate_at = rate[rows if rate.shape[0] > 1 else 0, bins]
    accept = rng.random(rows.size) * rate_max[rows] < rate_at
    return (rows[accept], *(e[accept] for e in events))


def _event_bins(rng, rate, n_trains: int, n_bins: int, width: float):
    """Bins of the events of independent Poisson processes, unordered.

    ``rate``: float64[1 | n_trains, 1 | n_bins] (Hz, constant within a bin of ``width``).
    Returns ``rows: int64[m]`` (train of each event) and ``bins: int64[m]`` in ``[0, n_bins)``.
    """
    rate_max, counts, rows = _counts_per_train(rng, rate, n_trains, n_bins, width)
    bins = rng.integers(0, n_bins, rows.size)
    return (rows, bins) if rate.shape[1] == 1 else _thin(rng, rate, rate_max, rows, bins, bins)


def _event_positions(rng, rate, n_trains: int, n_bins: int, width: float):
    """Events of independent Poisson processes as positions in ``[0, n_bins)`` (bin units).

    Returns ``rows: int64[m]`` (non-decreasing) and ``pos: float64[m]``, increasing within each
    train: the order statistics of ``N`` uniforms, drawn as the normalized partial sums of
    ``N + 1`` exponentials (Renyi 1953, Acta Math. Acad. Sci. Hung. 4, 191), then thinned.
    """
    rate_max, counts, rows = _counts_per_train(rng, rate, n_trains, n_bins, width)
    sums = np.cumsum(rng.standard_exponential((n_trains, counts.max(initial=0) + 1)), axis=1)
    scaled = sums * (n_bins / sums[np.arange(n_trains), counts])[:, None]
    pos = scaled[np.arange(sums.shape[1]) < counts[:, None]]
    if rate.shape[1] == 1:
        return rows, pos
    return _thin(rng, rate, rate_max, rows, np.minimum(pos.astype(np.int64), n_bins - 1), pos)


def _dead_time_filter(rows, pos, n_trains: int, sep: float, start: np.ndarray, span: float):
    """Greedy dead time: keep an event iff it lies >= ``sep`` after the last kept one of its train.

    ``rows, pos``: events as returned by ``_event_positions``, ``pos`` in
    ``[0, span)``. ``start: float[n_trains]`` is each train's first allowed position (its initial
    dead time). Returns the kept ``(rows, pos)`` in the same order.
    """
    stride = span + sep + 1.0  # trains far enough apart that one dead time never reaches the next
    key = np.append(rows * stride + pos, np.inf)  # sorted (rows, then pos), +inf sentinel
    limit = (np.arange(n_trains) + 1.0) * stride  # keys of train i lie below limit[i]
    idx, train = np.searchsorted(key, limit - stride + start), np.arange(n_trains)
    keep = np.zeros(key.size, dtype=bool)
    while train.size:  # one iteration per kept spike of the busiest train
        live = key[idx] < limit[train]
        idx, train = idx[live], train[live]
        keep[idx] = True
        target, idx = key[idx] + sep, idx + 1  # usually the next event is already live
        dead = key[idx] < target
        idx[dead] = np.searchsorted(key, target[dead])
    keep = keep[:-1]
    return rows[keep], pos[keep]


def _discrete_dead_time(rng, rate, n_trains, n_bins, dt, refractory) -> np.ndarray:
    """Spike bins (flat indices into [n_trains, n_bins]) of the dead-time renewal raster."""
    k = math.ceil(refractory / dt * (1 - _REL_TOL))
    q = rate * dt
    bad = q * (k + 1) >= 1
    if bad.any():
        raise ValueError(f"rate_hz={rate[bad].flat[0]} Hz is impossible with refractory="
                         f"{refractory} at dt={dt}: a spike is followed by k={k} silent "
                         "bins, "
                         f"so the rate must be < 1/((k+1)*dt) = {1 / ((k + 1) * dt):.6g} Hz")
    hazard = -np.log1p(-q / (1 - k * q)) / dt  # Poisson rate with P(>=1 event in a bin) = h
    rows, pos = _event_positions(rng, hazard, n_trains, n_bins, dt)
    q0 = np.broadcast_to(q[:, 0], (n_trains,))
    u = rng.random(n_trains)
    start = np.where(u < k * q0, np.floor(u / np.where(q0 > 0, q0, 1.0)) + 1, 0.0)
    rows, bins = _dead_time_filter(rows, np.floor(pos), n_trains, k + 1.0, start, n_bins)
    return rows * n_bins + bins.astype(np.int64)


@renamed_arguments(duration_s="duration", dt_s="dt", refractory_s="refractory")
def poisson_spike_trains(rate_hz, duration: float, dt: float, n_trains: int | None = None,
                         refractory: float = 0.0, seed=None) -> np.ndarray:
    """Binned Poisson (or dead-time Poisson) spike raster ``bool[n_trains, n_bins]``.

    ``rate_hz``: Hz, a scalar, ``float[n_bins]`` (shared by all trains) or
    ``float[n_trains, n_bins]``; ``n_bins = floor(duration / dt)`` (a trailing partial bin is
    dropped). ``n_trains``: default 1, or the rows of a 2-D rate. ``refractory``: absolute dead
    time in s. ``seed``: int, ``numpy.random.Generator`` or None. See the module docstring for the law:
    ``P(spike in bin) = 1 - exp(-rate * dt)`` without dead time, output rate exactly ``rate_hz``
    with it.

    >>> poisson_spike_trains([0.0, 1e5], 2e-3, 1e-3, n_trains=2, seed=1).tolist()  # p = 0, ~1
    [[False, True], [False, True]]
    """
    n_bins = _n_bins(duration, dt)
    rate, n_trains = _rate_grid(_check_rates(rate_hz), n_trains, n_bins)
    refractory = check_nonnegative(refractory, "refractory")
    rng = numpy_generator(seed)
    raster = np.zeros(n_trains * n_bins, dtype=bool)
    if refractory > 0:
        raster[_discrete_dead_time(rng, rate, n_trains, n_bins, dt, refractory)] = True
    else:
        rows, bins = _event_bins(rng, rate, n_trains, n_bins, dt)
        raster[rows * n_bins + bins] = True
    return raster.reshape(n_trains, n_bins)


@renamed_arguments(duration_s="duration", dt_s="dt")
def poisson_spike_counts(rate_hz, duration: float, dt: float, n_trains: int | None = None,
                         seed=None) -> np.ndarray:
    """Event counts per bin ``int64[n_trains, n_bins]`` of the Poisson process, ``E = rate * dt``.

    The count-preserving companion of :func:`poisson_spike_trains` (same arguments, no dead time;
    same seed gives ``trains == (counts > 0)``).

    >>> int(poisson_spike_counts(1000.0, 10.0, 1e-3, seed=0).sum())  # ~ 10 000 = rate * T
    10039
    """
    n_bins = _n_bins(duration, dt)
    rate, n_trains = _rate_grid(_check_rates(rate_hz), n_trains, n_bins)
    rows, bins = _event_bins(numpy_generator(seed), rate, n_trains, n_bins, dt)
    return np.bincount(rows * n_bins + bins, minlength=n_trains * n_bins).reshape(n_trains, n_bins)


@renamed_arguments(duration_s="duration", dt_s="dt", refractory_s="refractory")
def poisson_spike_times(rate_hz, duration: float, n_trains: int | None = None,
                        refractory: float = 0.0, seed=None, dt: float | None = None
                        ) -> list[np.ndarray]:
    """Exact event times (s, sorted, in ``[0, duration)``), one ``float64`` array per train.

    ``rate_hz``: a scalar (homogeneous), or with ``dt`` a piecewise-constant rate ``[n_bins]`` or
    ``[n_trains, n_bins]`` laid out as in :func:`poisson_spike_trains` (drawn by thinning).
    ``refractory``: dead time ``tau`` (s); ISIs are ``tau + Exp(rate / (1 - rate * tau))``, so the
    output rate is ``rate_hz`` and ``CV = 1 - rate * tau``.

    >>> [t.round(3).tolist() for t in poisson_spike_times(5.0, 1.0, n_trains=2, seed=3)]
    [[0.077, 0.648, 0.693, 0.912], [0.416, 0.601, 0.905, 0.964]]
    """
    duration = check_positive(duration, "duration")
    rate = _check_rates(rate_hz)
    if dt is None:
        if rate.ndim:
            raise ValueError(f"rate_hz has shape {rate.shape}: a time-varying rate needs dt")
        n_bins, width = 1, duration
    else:
        n_bins, width = _n_bins(duration, dt), float(dt)
    rate, n_trains = _rate_grid(rate, n_trains, n_bins)
    tau = check_nonnegative(refractory, "refractory")
    if np.any(rate * tau >= 1):
        raise ValueError(f"rate_hz={rate[rate * tau >= 1].flat[0]} Hz is impossible with "
                         f"refractory={tau}: the rate must be < 1/refractory = "
                         f"{1 / tau:.6g} Hz")
    rng = numpy_generator(seed)
    rows, pos = _event_positions(rng, rate / (1 - rate * tau), n_trains, n_bins, width)
    if tau > 0:
        r0 = np.broadcast_to(rate[:, 0], (n_trains,))
        u = rng.random(n_trains)
        start = np.where(u < r0 * tau, u / np.where(r0 > 0, r0, 1.0) / width, 0.0)
        rows, pos = _dead_time_filter(rows, pos, n_trains, tau / width, start, float(n_bins))
    ends = np.searchsorted(rows, np.arange(1, n_trains + 1))
    return np.split(pos * width, ends[:-1])


@renamed_arguments(dt_s="dt", generator="seed")
def poisson_spike_tensor(rate_hz, dt: float, n_steps: int | None = None, *, seed=None,
                         device=None) -> torch.Tensor:
    """Binned Poisson spikes ``float 0/1 [T, B, N]`` with ``P(spike) = 1 - exp(-rate * dt)``.

    ``rate_hz``: Hz, a tensor ``[T, B, N]`` (time-varying) or ``[B, N]`` (constant; then
    ``n_steps = T`` is required). ``dt``: bin width, s. ``device``: default the rate's.
    ``seed``: an int, a ``numpy.random.Generator``, a ``torch.Generator`` on that device, or None
    (torch's global generator). No dead time here.

    >>> import torch
    >>> poisson_spike_tensor(torch.full((2, 3), 50.0), 1e-3, n_steps=4, seed=0).shape
    torch.Size([4, 2, 3])
    """
    import torch  # here, so that numpy-only users of this module never import torch

    rate = torch.as_tensor(rate_hz, device=device)
    rate = rate if rate.is_floating_point() else rate.float()
    dt = check_dt(dt)
    for mask, what in ((~torch.isfinite(rate), "NaN or infinite"), (rate < 0, "negative")):
        if mask.any():
            first = tuple(int(i) for i in mask.nonzero()[0])
            raise ValueError(f"rate_hz has {int(mask.sum())} {what} value(s) (first at index "
                             f"{first}: {float(rate[first])} Hz)")
    if rate.dim() == 2:
        if n_steps is None or int(n_steps) < 1:
            raise ValueError(f"a [B, N] rate needs n_steps >= 1, got n_steps={n_steps}")
        shape = (int(n_steps), *rate.shape)
    elif rate.dim() != 3 or (n_steps is not None and int(n_steps) != rate.shape[0]):
        raise ValueError(f"rate_hz has shape {tuple(rate.shape)}; expected [T, B, N], or [B, N] "
                         f"with n_steps (got n_steps={n_steps})")
    else:
        shape = tuple(rate.shape)
    p = -torch.expm1(-rate * dt)  # [B, N] broadcasts over the steps
    generator = None if seed is None else torch_generator(seed, rate.device)
    u = torch.rand(shape, generator=generator, device=rate.device, dtype=rate.dtype)
    return (u < p).to(rate.dtype)


@renamed_arguments(dt_s="dt", generator="seed")
def rate_code(features, n_steps: int, dt: float, max_rate_hz: float, *, seed=None) -> torch.Tensor:
    """Rate-code ``features: [B, ...]`` in [0, 1] as Poisson spikes ``float 0/1 [T, B, N]``.

    Feature ``x`` fires at ``x * max_rate_hz`` (Hz); non-batch dimensions are flattened
    (``N = prod(...)``, C order); ``dt``: bin width, s. Works on the features' device; ``seed`` as
    in :func:`poisson_spike_tensor`.

    >>> import torch
    >>> rate_code(torch.rand(8, 28, 28), n_steps=100, dt=1e-3, max_rate_hz=100.0, seed=0).shape
    torch.Size([100, 8, 784])
    """
    import torch

    x = torch.as_tensor(features)
    x = x if x.is_floating_point() else x.float()
    if x.dim() < 2:
        raise ValueError(f"features has shape {tuple(x.shape)}; expected [B, ...] with >= 2 dims")
    bad = ~((x >= 0) & (x <= 1))
    if bad.any():
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(f"features has {int(bad.sum())} value(s) outside [0, 1] (first at index "
                         f"{first}: {float(x[first])})")
    max_rate_hz = check_positive(max_rate_hz, "max_rate_hz")
    return poisson_spike_tensor(x.flatten(1) * max_rate_hz, dt, n_steps, seed=seed)
