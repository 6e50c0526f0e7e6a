r"""Binary sources with known entropy rates: Bernoulli, first-order Markov, binned Poisson.

Each generator returns ``bool[n]`` and has a closed-form entropy rate in bits per symbol
(Cover & Thomas 2006, *Elements of Information Theory*, 2nd ed.), the value a normalized
Lempel-Ziv complexity of a long sample approaches (Lempel & Ziv 1976, Theorem 2):

* Bernoulli(p), i.i.d. with :math:`P(1) = p`: :math:`H = h(p)`, the binary entropy
  :math:`h(p) = -p \log_2 p - (1 - p) \log_2 (1 - p)` (eq. 2.5), :math:`h(0) = h(1) = 0`.
* Markov chain on {0, 1} with :math:`P(1 \mid 0) = p_{01}`, :math:`P(0 \mid 1) = p_{10}`,
  started in its stationary law :math:`\pi_1 = p_{01} / (p_{01} + p_{10})`:
  :math:`H = \pi_0 h(p_{01}) + \pi_1 h(p_{10})` (Theorem 4.2.4, eq. 4.27).
* Binned Poisson spikes (rate ``r`` Hz, bin ``dt`` s), the raster of
  :func:`biofit.encoding.poisson.poisson_spike_trains`: i.i.d. bins with
  :math:`P(1) = 1 - e^{-r\,dt}`, so :math:`H = h(1 - e^{-r\,dt})`.

Example
-------
>>> x = markov_source(0.05, 0.2, 10, seed=0)
>>> x.dtype, round(entropy_rate_markov(0.05, 0.2), 4)
(dtype('bool'), 0.3735)
"""

from __future__ import annotations

import math

import numpy as np

from biofit.encoding.poisson import poisson_spike_trains
from biofit.validation import (
    check_dt,
    check_nonnegative,
    check_positive_int,
    check_probability,
    numpy_generator,
    renamed_arguments,
)


def binary_entropy(p: float) -> float:
    """:math:`h(p)` in bits, with :math:`0 \\log 0 = 0`."""
    p = check_probability(p, "p")
    return -sum(q * math.log2(q) for q in (p, 1.0 - p) if q > 0.0)


def entropy_rate_bernoulli(p: float) -> float:
    """Entropy rate (bits/symbol) of i.i.d. Bernoulli(p) symbols: :math:`h(p)`."""
    return binary_entropy(p)


def entropy_rate_markov(p01: float, p10: float) -> float:
    """Entropy rate (bits/symbol) of the stationary binary Markov chain (module docstring)."""
    p01, p10 = check_probability(p01, "p01"), check_probability(p10, "p10")
    if p01 + p10 == 0:
        raise ValueError("p01 + p10 = 0: the chain never moves and has no unique stationary law")
    pi1 = p01 / (p01 + p10)
    return (1 - pi1) * binary_entropy(p01) + pi1 * binary_entropy(p10)


@renamed_arguments(dt_s="dt")
def entropy_rate_poisson(rate_hz: float, dt: float) -> float:
    """Entropy rate (bits/bin) of the binned Poisson raster, bins of ``dt`` s:
    :math:`h(1 - e^{-r\\,dt})`."""
    rate_hz, dt = check_nonnegative(rate_hz, "rate_hz"), check_dt(dt)
    return binary_entropy(-math.expm1(-rate_hz * dt))


def bernoulli_source(p: float, n: int, seed=None) -> np.ndarray:
    """``bool[n]`` i.i.d. with :math:`P(1) = p`. ``seed``: int, ``numpy.random.Generator`` or None."""
    p, n = check_probability(p, "p"), check_positive_int(n, "n")
    return numpy_generator(seed).random(n) < p


def markov_source(p01: float, p10: float, n: int, seed=None) -> np.ndarray:
    """``bool[n]``: binary Markov chain, :math:`P(1|0) = p_{01}`, :math:`P(0|1) = p_{10}`.

    Started in the stationary law. Drawn run by run: a run in state 0 lasts Geometric(p01)
    steps, a run in state 1 Geometric(p10) (a probability of 0 makes the state absorbing); by
    memorylessness the first run, seen from a stationary start, has the same law.
    """
    p01, p10, n = check_probability(p01, "p01"), check_probability(p10, "p10"), check_positive_int(n, "n")
    if p01 + p10 == 0:
        raise ValueError("p01 + p10 = 0: the chain never moves and has no unique stationary law")
    rng = numpy_generator(seed)
    state = bool(rng.random() < p01 / (p01 + p10))
    leave = (p01, p10)
    # runs alternate, so each needs at most n / mean-run-length ~ n * max(p) of them (+ slack)
    n_runs = int(n * max(p01, p10)) + 2 * int(math.sqrt(n)) + 10
    runs = []
    total = 0
    while total < n:
        lengths = np.full((n_runs, 2), n, dtype=np.int64)
        for j, s in enumerate((state, not state)):
            if leave[s] > 0:
                lengths[:, j] = rng.geometric(leave[s], n_runs)
        runs.append(lengths.ravel())
        total += int(lengths.sum())
    runs = np.concatenate(runs)
    values = np.zeros(runs.size, dtype=bool)
    values[0 if state else 1 :: 2] = True
    return np.repeat(values, runs)[:n]


@renamed_arguments(dt_s="dt")
def poisson_source(rate_hz: float, dt: float, n: int, seed=None) -> np.ndarray:
    """``bool[n]``: one binned Poisson train of ``n`` bins of ``dt`` s at ``rate_hz`` Hz."""
    n, dt = check_positive_int(n, "n"), check_dt(dt)
    return poisson_spike_trains(rate_hz, n * dt, dt, n_trains=1, seed=seed)[0, :n]
