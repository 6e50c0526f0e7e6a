"""The hybrid optimizer: gradient descent, then CMA-ES from its result on the free-running model.

The gradient stage (`Gradient`: the data's spikes forced) fits the subthreshold dynamics well and
fast but only approximates the spike timing of the free-running model; the CMA-ES stage (`CMAES`:
Brian2 populations, spike timing) refines it. CMA-ES starts with a step per parameter from the
gradient objective's curvature (a Laplace approximation): the distance at which that objective
rises by 5 %, clipped to [0.003, 0.15] in unit coordinates. Parameters the forced-spike fit pins
down stay near their values; those it leaves loose (spike initiation, threshold adaptation) are
searched on the spike timing.

The gradient stage fits about ``gradient_seconds`` (default 80 s) of the sweeps, spread evenly
over them (`FitData.spread`); CMA-ES fits them all. On 20 fluctuating-current AdEx sweeps of
6.8 s at 5 kHz (benchmarks/fit_adex_long.py, seed 0, single runs) the gradient stage on all
136 s took 84 s of a 130 s fit (held-out Γ 0.952); on 80 s the fit took 101 s (Γ 0.947), on
40 s 86 s (Γ 0.918). Shorter data leaves the subthreshold adaptation ``a`` looser (-16 % on
all, -37 % on 80 s); the other parameters stay within 10 %.

Example
-------
>>> Hybrid().cmaes.generations, Hybrid().cmaes.population
(20, 24)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from biofit.fitting.cmaes import CMAES
from biofit.fitting.data import FitData
from biofit.fitting.gradient import Gradient
from biofit.fitting.priors import SearchSpace
from biofit.validation import check_positive

RISE = 0.05  # relative rise of the gradient objective that sets a parameter's CMA-ES step


@dataclass(frozen=True)
class Hybrid:
    """The two stages' settings (`Gradient`, `CMAES`; ``cmaes.sigma0`` multiplies the steps) and
    ``gradient_seconds``: the gradient stage fits about that much of the sweeps (s, spread evenly
    over them, `FitData.spread`; CMA-ES then fits them all)."""

    gradient: Gradient = field(default_factory=Gradient)
    cmaes: CMAES = field(default_factory=lambda: CMAES(population=24, sigma0=1.0, generations=20))
    gradient_seconds: float = 80.0

    def __post_init__(self):
        check_positive(self.gradient_seconds, "gradient_seconds")

    def run(self, space: SearchSpace, data: FitData, loss, start: np.ndarray, progress: bool = True):
        """``(best unit point, best loss, history)``; history rows carry ``"stage"``, and their
        ``"time_s"`` counts from the start of the gradient stage."""
        t0 = time.perf_counter()
        part = data.spread(self.gradient_seconds)
        part = part if part.n_spikes else data
        u, _, first = self.gradient.run(space, part, loss, start, progress)
        curvature, value = self.gradient.curvature(space, part, loss, u)
        scales = np.clip(np.sqrt(2 * RISE * max(value, 1e-12) / np.maximum(curvature, 1e-12)), 0.003, 0.15)
        offset = time.perf_counter() - t0
        u, best_loss, second = self.cmaes.run(space, data, loss, u, progress, scales=scales)
        history = ([dict(h, stage="gradient") for h in first]
                   + [dict(h, stage="cmaes", time_s=h["time_s"] + offset) for h in second])
        return u, best_loss, history
