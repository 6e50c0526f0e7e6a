"""Brian2 reference simulation of a model from `biofit.models` driven by an injected current.

The model's equations (``biofit.models``) are completed with per-neuron parameter declarations and
``I_ext = I_drive(t, i) : amp``, where ``I_drive`` returns ``current[k, i]`` on ``[k*dt, (k+1)*dt)``
(piecewise constant, sampled at the simulation step, so ``method="exact"`` stays exact). The group,
monitors and network are built afresh for every call, with explicit ``dt`` and names; the run uses
Brian2's Cython target (compiled once, then loaded from Brian2's on-disk cache).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from brian2 import seed as brian_seed

from biofit.models.base import NeuronModel
from biofit.reference import _validate
from biofit.reference._drive import NAME as DRIVE_NAME
from biofit.reference._drive import SampledCurrent
from biofit.reference._network import (
    check_initial,
    check_record,
    make_group,
    population_size,
    resolve_model,
    run_network,
)
from biofit.reference.trace import Trace


def simulate(
    model: str | NeuronModel,
    params: Mapping[str, object] | None,
    current,
    dt,
    *,
    duration=None,
    record: Sequence[str] | None = None,
    initial: Mapping[str, object] | None = None,
    seed: int | None = None,
    target: str = "cython",
) -> Trace:
    """Simulate `model` with Brian2, driven by the injected `current`.

    Parameters
    ----------
    model : str or NeuronModel
        ``"lif"``, ``"lif_syn"``, ``"alif"``, ``"adex"``, ``"qif"`` or a `NeuronModel`.
    params : mapping or None
        Parameter values in SI units (floats, float[N] arrays for per-neuron values, or Brian2
        quantities of the right dimension); missing ones take the model's defaults.
    current : float[T] or float[T, N]
        Injected current [A] (a Brian2 quantity in amperes is accepted), held constant over each
        step. A 1-D current drives every neuron; N is then set by the per-neuron parameter arrays.
    dt : float
        Simulation step [s].
    duration : float, optional
        Simulated time [s], at most ``T*dt`` (the default).
    record : sequence of str, optional
        State variables to record besides ``v`` (default: the model's ``state``; ``"I_ext"`` allowed).
    initial : mapping, optional
        Initial values (SI, scalar or float[N]) replacing the model's ``initial`` expressions.
    seed : int, optional
        Seeds Brian2's random number generators (only models with noise use them).
    target : {"cython", "numpy"}
        Brian2 code-generation target. With ``"cython"``, a failing compilation warns (naming the
        compiler error) and falls back to ``"numpy"``; `Trace.target` says which one ran.

    Returns
    -------
    Trace
        ``t`` float[T], ``v`` float[T, N], other states, per-neuron spike times.

    Raises
    ------
    ValueError
        Unknown model or parameter, parameter out of bounds, NaN/inf in the current, a current of
        rank other than 1 or 2, ``dt <= 0``, inconsistent population sizes.

    Example
    -------
    >>> import numpy as np
    >>> tr = simulate("lif", {"tau_mem": 0.02}, np.full(1000, 0.3e-9), 1e-4)  # doctest: +SKIP
    >>> tr.v.shape, len(tr.spike_times[0])  # doctest: +SKIP
    ((1000, 1), 4)
    """
    spec = resolve_model(model)
    values = _validate.parameters(spec, params)
    initial = check_initial(spec, initial)
    step = _validate.time_step(dt)
    drive = _validate.current_matrix(current)
    n = population_size({**values, **initial}, drive.shape[1] if drive.ndim == 2 else None)
    steps = _validate.n_steps(duration, step, drive.shape[0])
    drive = np.broadcast_to(drive[:steps].reshape(steps, -1), (steps, n))
    names = check_record(spec, record)
    if seed is not None:
        brian_seed(int(seed))

    def build():
        function = SampledCurrent(drive, step)
        group = make_group(
            spec, values, n, step, f"I_ext = {DRIVE_NAME}(t, i) : amp", {DRIVE_NAME: function}, initial
        )
        return group, []

    return run_network(build, spec, names, steps, step, target)
