"""`fit`: from recordings to a validated model, the three parts (model, loss, optimizer) composed.

1. The model part: a `SearchSpace` (the parameters to fit with their search priors, the others
   fixed), checked against the model before anything runs.
2. The data: train and test sweeps (`split_sweeps`; all sweeps train by default), laid out on the
   simulation grid (`FitData`; ``dt`` defaults to the finest sampling interval).
3. The optimizer, from a starting point read off the data (`biofit.fitting.initial`):
   ``"gradient"`` (`Gradient`), ``"cmaes"`` (`CMAES`) or ``"hybrid"`` (`Hybrid`: gradient, then
   CMA-ES from its result, on the free-running model's spike timing) or ``"surrogate"``
   (`Surrogate`: the free-running model through its surrogate gradient, as in 2311.11390).
4. Scores on train and test sweeps with the published metrics (`biofit.fitting.score`, the
   fitted parameters simulated by Brian2), then optionally saved (`FitResult.save`).

Every bad input is reported before the optimizer starts: an unknown model or parameter, a prior
outside the validity bounds, missing sweep ids, train/test overlap, a spike loss on sweeps without
spikes. Equal seeds give equal fits.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from biofit.fitting.cmaes import CMAES
from biofit.fitting.data import FitData, split_sweeps
from biofit.fitting.gradient import Gradient
from biofit.fitting.hybrid import Hybrid
from biofit.fitting.initial import initial_point
from biofit.fitting.losses import WeightedLoss, get_loss
from biofit.fitting.priors import SearchSpace
from biofit.fitting.result import FitResult
from biofit.fitting.score import score
from biofit.fitting.simulate import simulate_candidates
from biofit.fitting.surrogate import Surrogate
from biofit.io.recording import Recording

METHODS = ("gradient", "cmaes", "hybrid", "surrogate")
# measured on the shipped synthetic cells (tests/test_fitting_recovery.py, closing notes of issue 12):
# for ALIF the hybrid recovers every parameter within 4 % in 60 s (CMA-ES alone, from the data-read
# threshold adaptation, within 3 % in 94 s). For AdEx the hybrid is robust on step protocols (seeds
# 0-2 within 10 %) where CMA-ES (population 16, default loss) recovers Delta_T at seed 0 only: its
# free-running loss barely sees Delta_T (a fit with Delta_T -59 % scores below the truth's train
# loss and predicts the held-out sweeps as well, Γ 0.88 vs 0.85). With its gradient stage on about
# 80 s of the sweeps (`Hybrid`) the hybrid also fits 24 fluctuating sweeps of 6.8 s at 5 kHz within
# 2 minutes, faster and closer than CMA-ES (benchmarks/fit_adex_long.py, medians of 3, one session:
# hybrid 99 s, held-out Γ 0.933, Delta_T -2.6 %; CMA-ES with the former defaults, population 16
# and the default loss: 110 s, Γ 0.923, Delta_T -14 % [-87, -2]; not rerun with the AdEx defaults
# below, population 32 and `upswing_loss`)
DEFAULT_METHOD = {"lif": "hybrid", "alif": "hybrid", "adex": "hybrid", "qif": "hybrid"}
# CMA-ES alone on AdEx (measured on the shipped cell, tests/test_fitting_recovery.py's split, closing
# note of issue 12): with the default loss and population 16 it misses Delta_T at seeds 1 and 2 (-56,
# -63 %); with `upswing_loss` and population 32 Delta_T holds but `a` is biased (-18, -23 %) by the
# cell's intrinsic noise; with that noise read off the spike-free repeats ("auto") and searched after
# the noise-free search (`CMAES`), `a` ends at -1.9 and -13.2 % and the rest within 5 % at seeds 1
# and 2 (the noisy stage alone took 500 s, two fits at once) where the sweeps have such repeats; seed
# 2's `a` is the recording's own noise (`CMAES`'s docstring), 16 draws end at -13.5 %; on three
# repeats of each command, seeds 1 and 2 end within 4.1 and 5.0 % (2361 s each, two at once)
CMAES_SETTINGS = {"adex": {"population": 32, "intrinsic_noise": "auto"}}
DEFAULT_LOSS = {("adex", "cmaes"): "upswing"}  # (model, method): the loss name where none is given


def _per_recording(ids, n: int, name: str):
    """Sweep ids per recording: None, one list for all recordings, or one list each."""
    if ids is None:
        return [None] * n
    ids = list(ids)
    if ids and all(isinstance(x, (list, tuple)) for x in ids):
        if len(ids) != n:
            raise ValueError(f"{name}: {len(ids)} lists of sweep ids for {n} recordings")
        return [list(x) for x in ids]
    return [ids] * n


def default_optimizer(method: str, seed: int = 0, model: str | None = None):
    """`method`'s optimizer with its default settings for `model` (a model name; `CMAES_SETTINGS`),
    seeded by `seed` (`Surrogate` draws nothing at random); change a setting with
    `dataclasses.replace`."""
    if method == "gradient":
        # alone (not as the hybrid's first stage) the forced-spike fit has to land on the optimum
        # itself: on the shipped ALIF cell, lr 0.05 with patience 5 stops at tau_adapt -7 %, held-out
        # OU Γ 0.86-0.88 (seed 0); lr 0.02, patience 10, tolerance 5e-4 reach every parameter within
        # 5 %, OU Γ 1.00 (seeds 1, 2: within 8 %, Γ 0.98, 0.94). Up to 600 iterations: the AdEx
        # cell's validation loss still falls at 300 (Delta_T -6.7 %, OU Γ 0.88) and stops by
        # patience at 420-520 (seeds 0-2: every parameter within 9 %, OU Γ >= 0.96)
        return Gradient(seed=seed, iterations=600, lr=0.02, patience=10, tolerance=5e-4)
    if method == "cmaes":
        return CMAES(seed=seed, **CMAES_SETTINGS.get(model, {}))
    if method == "surrogate":
        return Surrogate()
    if method == "hybrid":
        # the gradient stage runs to convergence as the gradient method alone does: on the shipped
        # AdEx cell the shorter stage (lr 0.05, patience 5) left Delta_T -16 % and CMA-ES's 20
        # generations did not mend it (OU Γ 0.79); the full stage gives every parameter within 5 %
        stages = Hybrid()
        return replace(stages, gradient=default_optimizer("gradient", seed), cmaes=replace(stages.cmaes, seed=seed))
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")


def _on_samples(voltage: np.ndarray, sweep) -> np.ndarray:
    """A model voltage simulated at a step coarser than `sweep`'s sampling (resampled data, see
    `FitData`) held over each step onto the sweep's own samples; unchanged otherwise."""
    voltage = np.asarray(voltage, dtype=np.float64)
    if voltage.size == sweep.n_samples:
        return voltage
    q = max(1, int(round(sweep.n_samples / max(voltage.size, 1))))
    held = np.repeat(voltage, q)[: sweep.n_samples]
    return np.concatenate([held, np.full(sweep.n_samples - held.size, held[-1])])


def fit(recordings, model="adex", method: str | None = None, params: Sequence[str] | None = None,
        priors: Mapping | None = None, fixed: Mapping[str, float] | None = None, train_sweeps=None,
        test_sweeps=None, loss: WeightedLoss | str | None = None, optimizer=None, dt: float | None = None,
        seed: int = 0, progress: bool = True, out_dir=None) -> FitResult:
    """Fit `model` to `recordings` (one `Recording` or several) and score it on held-out sweeps.

    Parameters
    ----------
    model: a name of `biofit.models.MODELS` or a `NeuronModel`.
    method: ``"gradient"``, ``"cmaes"``, ``"hybrid"`` or ``"surrogate"`` (default: per model,
        `DEFAULT_METHOD`).
    params, priors, fixed: the `SearchSpace` (default: every parameter with a default prior).
    train_sweeps, test_sweeps: sweep ids (one list for all recordings, or a list per recording);
        default: every sweep not in test is a train sweep.
    loss: a `WeightedLoss`, or a name of `biofit.fitting.losses.LOSSES` (``"default"``:
        `default_loss`; ``"counts"``: `count_loss`, for step / f–I protocols; ``"upswing"``:
        `upswing_loss`); default: per model and method, `DEFAULT_LOSS`, else ``"default"``.
    optimizer: a `Gradient`, `CMAES`, `Hybrid` or `Surrogate` object replacing the method's
        default settings for the model (`default_optimizer`).
    dt: simulation step [s] (default: the finest sampling interval; a multiple or a divisor of each
        sweep's, see `FitData`).
    seed: seeds the optimizer. out_dir: if given, `FitResult.save` writes the files there.
    """
    start_time = time.perf_counter()
    recs = [recordings] if isinstance(recordings, Recording) else list(recordings)
    if not recs or not all(isinstance(r, Recording) for r in recs):
        raise TypeError("recordings must be a Recording or a sequence of Recordings")
    space = SearchSpace.build(model, params, priors, fixed)
    method = method or DEFAULT_METHOD.get(space.model.name, "hybrid")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    loss = get_loss(DEFAULT_LOSS.get((space.model.name, method)) if loss is None else loss)
    splits = [split_sweeps(r, tr, te) for r, tr, te in
              zip(recs, _per_recording(train_sweeps, len(recs), "train_sweeps"),
                  _per_recording(test_sweeps, len(recs), "test_sweeps"))]
    train = FitData.from_recordings(recs, [s[0] for s in splits], dt)
    test = FitData.from_recordings(recs, [s[1] for s in splits], train.dt) if any(s[1] for s in splits) else None
    if getattr(loss, "uses_spikes", lambda: False)():
        train.require_spikes(f"the spike terms of the loss of {space.model.name}")
    first = next(k for k, s in enumerate(splits) if s[0])  # FitData checked that one has train sweeps
    start, estimated = initial_point(space, recs[first].select(splits[first][0]))
    optimizer = optimizer or default_optimizer(method, seed, space.model.name)
    # CMA-ES alone starts with a smaller step on the coordinates read off the data (the hybrid's
    # CMA-ES stage takes its steps from the gradient stage's curvature)
    hint = {"estimated": estimated} if isinstance(optimizer, CMAES) else {}
    u, best_loss, history = optimizer.run(space, train, loss, start, progress, **hint)
    values = {k: float(v) for k, v in space.from_unit(u).items()}
    parameters = {k: float(v) for k, v in space.full(values).items()}
    everything = FitData.from_recordings(recs, [s[0] + s[1] for s in splits], train.dt)
    responses = simulate_candidates(space.model, parameters, everything)[0]
    by_label = dict(zip(everything.labels, responses))
    train_scores = score(space.model, parameters, train, [by_label[lab] for lab in train.labels])
    test_scores = {} if test is None else score(space.model, parameters, test,
                                                [by_label[lab] for lab in test.labels])
    truth = recs[0].info.extra.get("true_parameters") if len(recs) == 1 else None
    result = FitResult(
        model=space.model.name, parameters=parameters, fitted=space.names, method=method,
        train=train_scores, test=test_scores, history=history,
        wall_time_s=time.perf_counter() - start_time, dt=train.dt, seed=int(seed),
        sources=[r.info.source or r.info.cell for r in recs], train_sweeps=list(train.labels),
        test_sweeps=list(test.labels) if test is not None else [], loss=float(best_loss),
        true_parameters=dict(truth) if truth else None,
        extra={"model_spike_times": {lab: r.spike_times.tolist() for lab, r in by_label.items()},
               "start": {k: float(v) for k, v in space.from_unit(start).items()},
               "objective": repr(loss), "optimizer": repr(optimizer)},
    )
    if out_dir is not None:
        chosen = [r.select(s[0] + s[1]) for r, s in zip(recs, splits)]
        traces, k = [], 0
        for rec in chosen:
            traces.append([_on_samples(by_label[lab].voltage, sw) for lab, sw in
                           zip(everything.labels[k:k + len(rec)], rec.sweeps)])
            k += len(rec)
        result.save(out_dir, chosen, traces)
    return result
