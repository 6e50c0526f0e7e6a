r"""Poisson spike trains: binned rasters, exact event times, and rate-coded torch tensors.

Binned rasters, ``refractory_s == 0`` (:func:`poisson_spike_trains`). A Poisson process with rate
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

Dead time, ``refractory_s = tau > 0``. Convention: ``rate_hz`` is the requested *output* rate.
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
>>> raster = poisson_spike_trains(20.0, duration_s=1.0, dt_s=1e-3, n_trains=3, seed=0)
>>> raster.shape, raster.dtype
((3, 1000), dtype('bool'))
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

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


def _positive(value, name: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def _refractory(value) -> float:
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"refractory_s must be a finite number >= 0, got {value}")
    return value


def _n_bins(duration_s, dt_s) -> int:
    duration_s, dt_s = _positive(duration_s, "duration_s"), _positive(dt_s, "dt_s")
    n_bins = int(math.floor(duration_s / dt_s * (1 + _REL_TOL)))
    if n_bins < 1:
        raise ValueError(f"duration_s={duration_s} is shorter than one bin (dt_s={dt_s})")
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


def _counts_per_train(rng, rate, n_trains: int, n_bins: int, width_s: float):
    """Event counts ``N_i ~ Poisson(r_max,i * T)`` of the dominating homogeneous processes."""
    rate_max = np.broadcast_to(rate.max(axis=1), (n_trains,))
    counts = rng.poisson(rate_max * n_bins * width_s)
    return rate_max, counts, np.repeat(np.arange(n_trains, dtype=np.int64), counts)


def _thin(rng, rate, rate_max, rows, bins, *events):
    """Keep each event with probability ``rate[row, bin] / rate_max[row]`` (Lewis-Shedler)."""
    rate_at = rate[rows if rate.shape[0] > 1 else 0, bins]
    accept = rng.random(rows.size) * rate_max[rows] < rate_at
    return (rows[accept], *(e[accept] for e in events))


def _event_bins(rng, rate, n_trains: int, n_bins: int, width_s: float):
    """Bins of the events of independent Poisson processes, unordered.

    ``rate``: float64[1 | n_trains, 1 | n_bins] (Hz, constant within a bin of ``width_s``).
    Returns ``rows: int64[m]`` (train of each event) and ``bins: int64[m]`` in ``[0, n_bins)``.
    """
    rate_max, counts, rows = _counts_per_train(rng, rate, n_trains, n_bins, width_s)
    bins = rng.integers(0, n_bins, rows.size)
    return (rows, bins) if rate.shape[1] == 1 else _thin(rng, rate, rate_max, rows, bins, bins)


def _event_positions(rng, rate, n_trains: int, n_bins: int, width_s: float):
    """Events of independent Poisson processes as positions in ``[0, n_bins)`` (bin units).

    Returns ``rows: int64[m]`` (non-decreasing) and ``pos: float64[m]``, increasing within each
    train: the order statistics of ``N`` uniforms, drawn as the normalized partial sums of
    ``N + 1`` exponentials (Renyi 1953, Acta Math. Acad. Sci. Hung. 4, 191), then thinned.
    """
    rate_max, counts, rows = _counts_per_train(rng, rate, n_trains, n_bins, width_s)
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


def _discrete_dead_time(rng, rate, n_trains, n_bins, dt_s, refractory_s) -> np.ndarray:
    """Spike bins (flat indices into [n_trains, n_bins]) of the dead-time renewal raster."""
    k = math.ceil(refractory_s / dt_s * (1 - _REL_TOL))
    q = rate * dt_s
    bad = q * (k + 1) >= 1
    if bad.any():
        raise ValueError(f"rate_hz={rate[bad].flat[0]} Hz is impossible with refractory_s="
                         f"{refractory_s} at dt_s={dt_s}: a spike is followed by k={k} silent "
                         "bins, "
                         f"so the rate must be < 1/((k+1)*dt_s) = {1 / ((k + 1) * dt_s):.6g} Hz")
    hazard = -np.log1p(-q / (1 - k * q)) / dt_s  # Poisson rate with P(>=1 event in a bin) = h
    rows, pos = _event_positions(rng, hazard, n_trains, n_bins, dt_s)
    q0 = np.broadcast_to(q[:, 0], (n_trains,))
    u = rng.random(n_trains)
    start = np.where(u < k * q0, np.floor(u / np.where(q0 > 0, q0, 1.0)) + 1, 0.0)
    rows, bins = _dead_time_filter(rows, np.floor(pos), n_trains, k + 1.0, start, n_bins)
    return rows * n_bins + bins.astype(np.int64)


def poisson_spike_trains(rate_hz, duration_s: float, dt_s: float, n_trains: int | None = None,
                         refractory_s: float = 0.0, seed=None) -> np.ndarray:
    """Binned Poisson (or dead-time Poisson) spike raster ``bool[n_trains, n_bins]``.

    ``rate_hz``: Hz, a scalar, ``float[n_bins]`` (shared by all trains) or
    ``float[n_trains, n_bins]``; ``n_bins = floor(duration_s / dt_s)`` (a trailing partial bin is
    dropped). ``n_trains``: default 1, or the rows of a 2-D rate. ``refractory_s``: absolute dead
    time in s. ``seed``: int or ``numpy.random.Generator``. See the module docstring for the law:
    ``P(spike in bin) = 1 - exp(-rate * dt)`` without dead time, output rate exactly ``rate_hz``
    with it.

    >>> poisson_spike_trains([0.0, 1e5], 2e-3, 1e-3, n_trains=2, seed=1).tolist()  # p = 0, ~1
    [[False, True], [False, True]]
    """
    n_bins = _n_bins(duration_s, dt_s)
    rate, n_trains = _rate_grid(_check_rates(rate_hz), n_trains, n_bins)
    refractory_s = _refractory(refractory_s)
    rng = np.random.default_rng(seed)
    raster = np.zeros(n_trains * n_bins, dtype=bool)
    if refractory_s > 0:
        raster[_discrete_dead_time(rng, rate, n_trains, n_bins, dt_s, refractory_s)] = True
    else:
        rows, bins = _event_bins(rng, rate, n_trains, n_bins, dt_s)
        raster[rows * n_bins + bins] = True
    return raster.reshape(n_trains, n_bins)


def poisson_spike_counts(rate_hz, duration_s: float, dt_s: float, n_trains: int | None = None,
                         seed=None) -> np.ndarray:
    """Event counts per bin ``int64[n_trains, n_bins]`` of the Poisson process, ``E = rate * dt``.

    The count-preserving companion of :func:`poisson_spike_trains` (same arguments, no dead time;
    same seed gives ``trains == (counts > 0)``).

    >>> int(poisson_spike_counts(1000.0, 10.0, 1e-3, seed=0).sum())  # ~ 10 000 = rate * T
    10039
    """
    n_bins = _n_bins(duration_s, dt_s)
    rate, n_trains = _rate_grid(_check_rates(rate_hz), n_trains, n_bins)
    rows, bins = _event_bins(np.random.default_rng(seed), rate, n_trains, n_bins, dt_s)
    return np.bincount(rows * n_bins + bins, minlength=n_trains * n_bins).reshape(n_trains, n_bins)


def poisson_spike_times(rate_hz, duration_s: float, n_trains: int | None = None,
                        refractory_s: float = 0.0, seed=None, dt_s: float | None = None
                        ) -> list[np.ndarray]:
    """Exact event times (s, sorted, in ``[0, duration_s)``), one ``float64`` array per train.

    ``rate_hz``: a scalar (homogeneous), or with ``dt_s`` a piecewise-constant rate ``[n_bins]`` or
    ``[n_trains, n_bins]`` laid out as in :func:`poisson_spike_trains` (drawn by thinning).
    ``refractory_s``: dead time ``tau`` (s); ISIs are ``tau + Exp(rate / (1 - rate * tau))``, so the
    output rate is ``rate_hz`` and ``CV = 1 - rate * tau``.

    >>> [t.round(3).tolist() for t in poisson_spike_times(5.0, 1.0, n_trains=2, seed=3)]
    [[0.077, 0.648, 0.693, 0.912], [0.416, 0.601, 0.905, 0.964]]
    """
    duration_s = _positive(duration_s, "duration_s")
    rate = _check_rates(rate_hz)
    if dt_s is None:
        if rate.ndim:
            raise ValueError(f"rate_hz has shape {rate.shape}: a time-varying rate needs dt_s")
        n_bins, width = 1, duration_s
    else:
        n_bins, width = _n_bins(duration_s, dt_s), float(dt_s)
    rate, n_trains = _rate_grid(rate, n_trains, n_bins)
    tau = _refractory(refractory_s)
    if np.any(rate * tau >= 1):
        raise ValueError(f"rate_hz={rate[rate * tau >= 1].flat[0]} Hz is impossible with "
                         f"refractory_s={tau}: the rate must be < 1/refractory_s = "
                         f"{1 / tau:.6g} Hz")
    rng = np.random.default_rng(seed)
    rows, pos = _event_positions(rng, rate / (1 - rate * tau), n_trains, n_bins, width)
    if tau > 0:
        r0 = np.broadcast_to(rate[:, 0], (n_trains,))
        u = rng.random(n_trains)
        start = np.where(u < r0 * tau, u / np.where(r0 > 0, r0, 1.0) / width, 0.0)
        rows, pos = _dead_time_filter(rows, pos, n_trains, tau / width, start, float(n_bins))
    ends = np.searchsorted(rows, np.arange(1, n_trains + 1))
    return np.split(pos * width, ends[:-1])


def _generator(device: torch.device, generator, seed):
    import torch

    if generator is not None and seed is not None:
        raise ValueError("pass either generator or seed, not both")
    if generator is None:
        return None if seed is None else torch.Generator(device=device).manual_seed(int(seed))
    if torch.device(generator.device).type != device.type:
        raise ValueError(f"generator is on {generator.device} but the rates are on {device}")
    return generator


def poisson_spike_tensor(rate_hz, dt_s: float, n_steps: int | None = None, generator=None,
                         seed=None, device=None) -> torch.Tensor:
    """Binned Poisson spikes ``float 0/1 [T, B, N]`` with ``P(spike) = 1 - exp(-rate * dt)``.

    ``rate_hz``: Hz, a tensor ``[T, B, N]`` (time-varying) or ``[B, N]`` (constant; then
    ``n_steps = T`` is required). ``device``: default the rate's. ``generator``: a
    ``torch.Generator`` on that device, or ``seed`` (int). No dead time here.

    >>> import torch
    >>> poisson_spike_tensor(torch.full((2, 3), 50.0), 1e-3, n_steps=4, seed=0).shape
    torch.Size([4, 2, 3])
    """
    import torch  # here, so that numpy-only users of this module never import torch

    rate = torch.as_tensor(rate_hz, device=device)
    rate = rate if rate.is_floating_point() else rate.float()
    dt_s = _positive(dt_s, "dt_s")
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
    p = -torch.expm1(-rate * dt_s)  # [B, N] broadcasts over the steps
    u = torch.rand(shape, generator=_generator(rate.device, generator, seed), device=rate.device,
                   dtype=rate.dtype)
    return (u < p).to(rate.dtype)


def rate_code(features, n_steps: int, dt_s: float, max_rate_hz: float, generator=None,
              seed=None) -> torch.Tensor:
    """Rate-code ``features: [B, ...]`` in [0, 1] as Poisson spikes ``float 0/1 [T, B, N]``.

    Feature ``x`` fires at ``x * max_rate_hz`` (Hz); non-batch dimensions are flattened
    (``N = prod(...)``, C order). Works on the features' device (see :func:`poisson_spike_tensor`).

    >>> import torch
    >>> rate_code(torch.rand(8, 28, 28), n_steps=100, dt_s=1e-3, max_rate_hz=100.0, seed=0).shape
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
    max_rate_hz = _positive(max_rate_hz, "max_rate_hz")
    return poisson_spike_tensor(x.flatten(1) * max_rate_hz, dt_s, n_steps, generator, seed)
