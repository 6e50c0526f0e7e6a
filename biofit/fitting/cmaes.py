"""The CMA-ES optimizer: Hansen's CMA-ES (the `cma` package) over Brian2 populations.

The search runs in the unit cube of the `SearchSpace` (each coordinate a parameter, linear or log
within its prior), with the box as CMA-ES bounds. Each generation's whole population is simulated
as one Brian2 `NeuronGroup` per sweep length, all train sweeps at once
(`biofit.fitting.simulate.simulate_candidates`), then scored with the loss. The best point seen
is kept (CMA-ES's mean is not always it). Stops after ``generations`` or when `cma` reports
convergence (``tolfun``, ``tolx`` on the unit cube).

Example
-------
>>> opt = CMAES(population=8, generations=5, seed=0)
>>> opt.population, opt.sigma0
(8, 0.25)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from biofit.fitting.data import FitData
from biofit.fitting.losses import mean_loss
from biofit.fitting.noise import DEFAULT_TAU, intrinsic_noise, spike_free_repeats
from biofit.fitting.priors import SearchSpace
from biofit.fitting.simulate import simulate_candidates
from biofit.validation import check_positive, check_positive_int


@dataclass(frozen=True)
class CMAES:
    """CMA-ES settings: ``population`` per generation, at most ``generations``, initial step
    ``sigma0`` (unit-cube coordinates), ``estimated_step`` (multiplies ``sigma0`` on coordinates
    whose start was read off the data, `run`'s ``estimated``), ``seed`` (int; equal seeds give
    equal fits), ``tolfun`` (`cma`'s convergence tolerance on the loss), ``intrinsic_noise``
    (optional ``(sd A, tau s)``: simulate every candidate with ``realizations`` draws of an OU
    current of that sd and correlation time added to the command, `FitData.with_current_noise`,
    and score the mean loss over them; ``"auto"``: the sd read off the train sweeps' spike-free
    repeats, `noise`), searched for ``noisy_generations`` after the noise-free ``generations``,
    from their best point with initial step ``noisy_sigma0``.

    Why the noise: a noise-free model fitted to a noisy cell's spike times is biased toward
    parameters that fire, without noise, the spikes the noise fires. Measured on the shipped AdEx
    cell (tests/test_fitting_recovery.py's split; closing note of issue 12): the CMA-ES fits of
    seeds 1 and 2 (``a`` -18 and -23 %) score a train loss (`upswing_loss`) of 0.187 and 0.247
    without noise, below the true parameters' 0.266, but 0.375 and 0.380 with 8 draws of the
    file's intrinsic noise (5 pA, 5 ms), above the truth's 0.354.

    Why fresh draws every generation: with one fixed set of 8 draws for the whole search, CMA-ES
    fits the draws. Seed 2 (population 32) landed at ``a`` -12.5 % with a loss of 0.318 on its
    own draws against the truth's 0.383, but 0.380 and 0.348 on two fresh sets of 16 draws,
    against the truth's 0.362 and 0.325. So each generation draws its own noise (seeded by
    ``(seed, generation)``), the same draws for every candidate of that generation (CMA-ES ranks
    within a generation only, so common draws keep its ranking fair). Scores of different
    generations are then not comparable, and the best single score is a lucky draw; the fit is
    CMA-ES's mean instead, scored with each generation's population.

    Why noise-free first: searched with noise from the data-read start (80 generations of 32,
    sigma0 0.25), the mean wandered far (seed 1: ``a`` +635 % at generation 20) and was still
    closing in at the end (``a`` +61, +31, +16, +15.5 % at generations 50, 60, 70, 80). The
    noise-free search gets close at an eighth of the cost (``a`` within 25 %, the rest within
    a few per cent), and the noisy one then only has the bias to remove, from a small step.

    What remains (seeds 1 and 2, population 32): ``a`` ends at -1.9 and -13.2 % with 8 draws,
    -2.5 and -13.5 % with 16 (``draws_per_run`` 8); every other parameter within 5 %. The miss at
    seed 2 is not the search's noise: with 16 draws its mean's ``a`` stays at -12 to -16 % for
    40 generations. It is this recording's own noise. Scored on 32 common fresh draws, that point
    fits the train sweeps better than the true parameters (loss -0.037 +- 0.007; its Γ, voltage
    and upswing terms each lower), while on pseudo-data (the truth's own draws plus measurement noise
    in place of the recording) the truth is the better by 0.027 +- 0.008. So on this split ``a`` is
    determined to about 10-15 %, and a search that converges fully lands near -13 % at any seed
    (seed 1's point scores 0.011 worse than seed 2's on the recording). Fitted on three repeats
    of each command instead of two, seeds 1 and 2 end with every parameter within 4.1 and 5.0 %
    (``a`` -4.1, +5.0 %). Closing note of issue 12."""

    population: int = 16
    generations: int = 80
    sigma0: float = 0.25
    seed: int = 0
    tolfun: float = 1e-4
    # measured on the shipped ALIF cell (tests/test_fitting_recovery.py): from its data-read
    # adaptation start (v_th, beta, tau_adapt within 2 %), sigma0 0.25 on every coordinate wanders
    # into the tau_adapt-beta valley (tau_adapt -43 %, beta +86 % after 80 generations); 0.2 x sigma0
    # on the three read coordinates recovers every parameter within 3 % (held-out Γ 0.90)
    estimated_step: float = 0.2
    intrinsic_noise: tuple | str | None = None
    realizations: int = 8
    # the draws simulated in one Brian2 run: its recorded voltage is population x draws_per_run x
    # sweeps x steps values (on the shipped AdEx split, 33 x 8 x 12 neurons x 40,000 steps, 1 GB)
    draws_per_run: int = 8
    noisy_generations: int = 40
    # measured on the shipped AdEx cell (seeds 1, 2; closing note of issue 12): from the noise-free
    # best, a step of 0.05 threw the mean off (loss 0.37 -> 0.80 in one generation, tau_w +17 %) and
    # 40 generations ended at a -14.5 / -7.0 %; 0.015 stays near and ends at a -1.9 / -13.2 %
    noisy_sigma0: float = 0.015

    def __post_init__(self):
        check_positive_int(self.population, "population")
        check_positive_int(self.generations, "generations")
        if not 0 < self.sigma0 <= 1:
            raise ValueError(f"sigma0 must be in (0, 1] (unit-cube coordinates), got {self.sigma0!r}")
        if not 0 < self.estimated_step <= 1:
            raise ValueError(f"estimated_step must be in (0, 1], got {self.estimated_step!r}")
        check_positive_int(self.realizations, "realizations")
        check_positive_int(self.draws_per_run, "draws_per_run")
        check_positive_int(self.noisy_generations, "noisy_generations")
        if not 0 < self.noisy_sigma0 <= 1:
            raise ValueError(f"noisy_sigma0 must be in (0, 1] (unit-cube coordinates), got {self.noisy_sigma0!r}")
        if self.intrinsic_noise is not None and not (isinstance(self.intrinsic_noise, str)
                                                     and self.intrinsic_noise == "auto"):
            if not isinstance(self.intrinsic_noise, (tuple, list)) or len(self.intrinsic_noise) != 2:
                raise ValueError(f"intrinsic_noise must be (sd in A, tau in s) or 'auto', got {self.intrinsic_noise!r}")
            check_positive(self.intrinsic_noise[0], "intrinsic_noise sd (A)")
            check_positive(self.intrinsic_noise[1], "intrinsic_noise tau (s)")

    def run(self, space: SearchSpace, data: FitData, loss, start: np.ndarray, progress: bool = True,
            scales: np.ndarray | None = None, estimated: np.ndarray | None = None):
        """Minimise the mean `loss` over `data`'s sweeps from unit point `start`; `scales`
        (``float[d]``, optional) multiply ``sigma0`` per coordinate (CMA-ES's ``CMA_stds``), and so
        does ``estimated_step`` where `estimated` (``bool[d]``, optional: the coordinates read off
        the data, `biofit.fitting.initial.initial_point`) is True.

        Returns ``(best unit point, its loss, history)``; history has one row per generation:
        ``{"generation", "best_loss", "mean_loss", "evaluations", "time_s", "best",
        "intrinsic_noise"}`` (``best``: the SI values of the best point so far, so a trajectory can
        be scored afterwards; ``intrinsic_noise``: the ``(sd A, tau s)`` simulated, or None). With
        ``intrinsic_noise`` the noise-free search is followed by ``noisy_generations`` with the
        noise from its best point (class docstring); the point returned is then the noisy
        search's last mean, its loss the mean loss over that generation's draws, and ``best_loss``
        / ``best`` of those rows the mean's.
        """
        stds = np.ones(len(start)) if scales is None else np.asarray(scales, dtype=np.float64)
        if estimated is not None:
            stds = np.where(np.asarray(estimated, dtype=bool), self.estimated_step, 1.0) * stds
        history: list[dict] = []
        clock = time.perf_counter()
        x, f = self._search(space, data, loss, start, self.sigma0, stds, self.generations, None, history, clock,
                            progress)
        noise = self.noise(space, data, x)
        if noise is not None:
            x, f = self._search(space, data, loss, x, self.noisy_sigma0, stds, self.noisy_generations, noise,
                                history, clock, progress)
        return x, f, history

    def _search(self, space, data, loss, start, sigma0, stds, generations, noise, history, clock, progress):
        """One CMA-ES search (rows appended to `history`); with `noise`, on fresh draws each
        generation, tracking the mean. Returns ``(unit point, loss)``."""
        import cma

        noisy = noise is not None
        options = {"bounds": [0.0, 1.0], "popsize": self.population, "maxiter": generations,
                   "seed": int(self.seed) + 1 + int(noisy), "verbose": -9, "tolfun": self.tolfun, "tolx": 1e-4}
        if not np.allclose(stds, 1.0):
            options["CMA_stds"] = np.asarray(stds, dtype=np.float64).tolist()
        es = cma.CMAEvolutionStrategy(np.clip(start, 0.0, 1.0).tolist(), sigma0, options)
        best_x, best_f = np.asarray(start, dtype=np.float64), float("inf")
        evaluations, generation = (history[-1]["evaluations"] if history else 0), 0
        label = f"CMA-ES {space.model.name}" + (" (intrinsic noise)" if noisy else "")
        bar = tqdm(total=generations, desc=label, disable=not progress)
        try:
            while not es.stop():
                xs = np.asarray(es.ask())
                if noisy:  # this generation's draws; the mean simulated beside the population
                    mean = np.clip(np.asarray(es.result.xfavorite, dtype=np.float64), 0.0, 1.0)  # in the box
                    losses = self.noisy_losses(space, data, loss, np.vstack([xs, mean[None, :]]), noise, generation)
                    losses, (best_x, best_f) = losses[:-1], (mean, float(losses[-1]))
                else:
                    losses = self.evaluate(space, data, loss, xs)
                es.tell(list(xs), losses.tolist())
                evaluations += len(xs) + int(noisy)
                generation += 1
                k = int(np.argmin(losses))
                if not noisy and losses[k] < best_f:
                    best_x, best_f = xs[k].copy(), float(losses[k])
                finite = losses[np.isfinite(losses)]
                history.append({"generation": len(history), "best_loss": best_f,
                                "mean_loss": float(finite.mean()) if finite.size else float("inf"),
                                "evaluations": evaluations, "time_s": time.perf_counter() - clock,
                                "best": {k: float(v) for k, v in space.from_unit(best_x).items()},
                                "intrinsic_noise": noise})
                bar.update(1)
                bar.set_postfix(loss=f"{best_f:.4f}")
        finally:
            bar.close()
        return best_x, best_f

    def noise(self, space: SearchSpace, data: FitData, start: np.ndarray) -> tuple | None:
        """The ``(sd A, tau s)`` of the intrinsic noise to simulate, or None: ``intrinsic_noise``
        as given, or for ``"auto"`` read off `data`'s spike-free repeats by the model at `start`
        (`biofit.fitting.noise.intrinsic_noise`, tau `DEFAULT_TAU`); None where `data` has no
        such repeats or they vary no more than their measurement noise."""
        if self.intrinsic_noise is None or not isinstance(self.intrinsic_noise, str):
            return None if self.intrinsic_noise is None else tuple(float(x) for x in self.intrinsic_noise)
        pairs = spike_free_repeats(data)
        if not pairs:
            return None
        sd = intrinsic_noise(space.model, space.full(space.from_unit(np.clip(start, 0.0, 1.0))), data,
                             DEFAULT_TAU, seed=int(self.seed), pairs=pairs)
        return (sd, DEFAULT_TAU) if sd > 0.0 else None

    def noisy_losses(self, space: SearchSpace, data: FitData, loss, xs: np.ndarray, noise: tuple,
                     generation: int) -> np.ndarray:
        """Mean loss of every unit point ``xs: float[P, d]`` over generation `generation`'s
        ``realizations`` draws of the intrinsic `noise` ``(sd A, tau s)``, the same draws for every
        point (`FitData.with_current_noise`, seeded by ``(seed, generation)``), simulated
        ``draws_per_run`` at a time."""
        total = np.zeros(len(xs))
        for first in range(0, self.realizations, self.draws_per_run):
            n = min(self.draws_per_run, self.realizations - first)
            drawn = data.with_current_noise(*noise, n, (int(self.seed), generation), first=first)
            total += n * self.evaluate(space, drawn, loss, xs)
        return total / self.realizations

    @staticmethod
    def evaluate(space: SearchSpace, data: FitData, loss, xs: np.ndarray) -> np.ndarray:
        """Mean loss of every unit point ``xs: float[P, d]`` (one Brian2 run per sweep length)."""
        values = space.full(space.from_unit(xs))
        responses = simulate_candidates(space.model, values, data)
        return np.array([mean_loss(loss, r, data.sweeps) for r in responses])
