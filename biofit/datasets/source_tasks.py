r"""Spike sources as a classification task: equal mean rate, different temporal structure.

One class per source kind; every channel of a sample is an independent train of its class's
kind, ``n_bins`` bins of ``dt`` s, all with the same spike probability per bin :math:`q = r\,dt`
(``rate_hz`` = r), so spike counts carry no class information and a rate code alone cannot
separate the classes, while the Lempel-Ziv complexity (an entropy-rate estimate) can:

* ``"bernoulli"``: i.i.d. bins, :math:`P(1) = q` (entropy rate :math:`h(q)`);
* ``"markov"``: the stationary binary Markov chain with :math:`P(1) = q` and lag-1
  autocorrelation :math:`\lambda`, i.e. :math:`p_{01} = q (1 - \lambda)`,
  :math:`p_{10} = (1 - q)(1 - \lambda)` (bursts; :math:`\lambda = 0` is Bernoulli);
  entropy rate :math:`\pi_0 h(p_{01}) + \pi_1 h(p_{10})` (`biofit.datasets.sources`);
* ``"poisson"``: the discrete-time dead-time Poisson process of
  :func:`biofit.encoding.poisson.poisson_spike_trains` (``refractory = k dt``): after a spike,
  ``k`` silent bins; its rate is exactly :math:`q` per bin (more regular than Bernoulli; ``k = 0``
  is Bernoulli(q), so it is drawn as such).

The difficulty knob ``d`` in [0, 1] shrinks the structure: :math:`\lambda = \lambda_{max}(1 - d)`,
:math:`k = \mathrm{round}(k_{max}(1 - d))`. At ``d = 1`` every class is Bernoulli(q) (chance
level is the best possible accuracy).

This is the setting of the companion papers of 2508.11674 (Bernoulli, Markov and Poisson spike
sources classified by LZC); the parametrisation is ours.

Example
-------
>>> X, y = source_task(n_per_class=4, n_channels=2, n_bins=50, seed=0)
>>> X.shape, X.dtype, sorted(set(y.tolist()))
((12, 2, 50), dtype('bool'), [0, 1, 2])
"""

from __future__ import annotations

import numpy as np

from biofit.datasets.sources import bernoulli_source, markov_source
from biofit.encoding.poisson import poisson_spike_trains
from biofit.validation import (
    check_dt,
    check_positive,
    check_positive_int,
    check_probability,
    numpy_generator,
)

SOURCE_KINDS = ("bernoulli", "markov", "poisson")


def _train(kind: str, q: float, lam: float, dead_bins: int, n_bins: int, dt: float, rng):
    if kind == "markov" and lam > 0:
        return markov_source(q * (1 - lam), (1 - q) * (1 - lam), n_bins, seed=rng)
    if kind == "poisson" and dead_bins > 0:
        return poisson_spike_trains(q / dt, n_bins * dt, dt, refractory=dead_bins * dt, seed=rng)[0]
    return bernoulli_source(q, n_bins, seed=rng)


def source_task(n_per_class=50, n_channels=8, n_bins=200, dt=1e-3, rate_hz=20.0, difficulty=0.0,
                kinds=SOURCE_KINDS, max_correlation=0.6, max_dead_bins=10, seed=0):
    """Rasters ``X: bool[n, n_channels, n_bins]`` and labels ``y: int[n]`` (``n = n_per_class *
    len(kinds)``; label i is ``kinds[i]``), samples in a random order.

    ``rate_hz``: the common rate (Hz; ``q = rate_hz * dt`` per bin); ``difficulty``: d in [0, 1];
    ``max_correlation``: :math:`\\lambda_{max}` in [0, 1); ``max_dead_bins``: :math:`k_{max}`
    (see the module docstring). ``seed``: int or numpy Generator.
    """
    n_per_class = check_positive_int(n_per_class, "n_per_class")
    n_channels, n_bins = check_positive_int(n_channels, "n_channels"), check_positive_int(n_bins, "n_bins")
    dt, difficulty = check_dt(dt), check_probability(difficulty, "difficulty")
    q = check_positive(rate_hz, "rate_hz") * dt
    lam = check_probability(max_correlation, "max_correlation") * (1 - difficulty)
    if lam >= 1:
        raise ValueError("max_correlation must be < 1 (a chain with lambda = 1 never moves)")
    if isinstance(max_dead_bins, bool) or not isinstance(max_dead_bins, (int, np.integer)) or max_dead_bins < 0:
        raise ValueError(f"max_dead_bins must be an integer >= 0, got {max_dead_bins!r}")
    dead_bins = int(round(max_dead_bins * (1 - difficulty)))
    if q * (dead_bins + 1) >= 1:
        raise ValueError(f"rate_hz = {rate_hz} Hz is too high for {dead_bins} dead bins of dt = {dt} s: "
                         f"need rate_hz * dt * (k + 1) < 1")
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in SOURCE_KINDS]
    if unknown or len(set(kinds)) < 2:
        raise ValueError(f"kinds must be at least two distinct names of {SOURCE_KINDS}, got {kinds!r}")
    rng = numpy_generator(seed)
    y = np.repeat(np.arange(len(kinds)), n_per_class)
    X = np.stack([np.stack([_train(kinds[label], q, lam, dead_bins, n_bins, dt, rng) for _ in range(n_channels)])
                  for label in y])
    order = rng.permutation(y.size)
    return X[order], y[order]
