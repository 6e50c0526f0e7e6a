r"""Brian2 reference simulation of a model from `biofit.models` driven by input spike trains.

Afferent spikes (a `SpikeGeneratorGroup`) reach the neurons through weighted current-based
exponential synapses: each spike of afferent j makes the input current of neuron n jump by
``weights[j, n]`` amperes, after which it decays with ``tau_syn``:

.. math::
    \frac{dI_{in}}{dt} = -\frac{I_{in}}{\tau_{syn}}, \qquad
    I_{in} \leftarrow I_{in} + w_{jn} \text{ on a spike of afferent } j, \qquad
    I_{ext} = I_{in} + I_{bias}

(the current-based synapse of e.g. Brette et al. 2007, J. Comput. Neurosci. 23:349). The model's
own equations are used unchanged: a model with its own synaptic filter (``lif_syn``) filters
``I_ext`` once more. A spike of afferent j at step k is delivered in Brian2's ``synapses`` slot, after
that step's state update: ``I_in`` first holds the jump at ``t = (k+1) dt`` (one step of
transmission delay).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from brian2 import SpikeGeneratorGroup, Synapses, amp, second
from brian2 import seed as brian_seed

from biofit.models.base import NeuronModel
from biofit.reference import _validate
from biofit.reference._network import (
    check_initial,
    check_record,
    make_group,
    population_size,
    resolve_model,
    run_network,
)
from biofit.reference.trace import Trace
from biofit.validation import check_finite_array

_RESERVED = ("I_in", "I_bias", "tau_in")


def input_spike_steps(input_spikes, dt: float, n_steps: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(afferent index, time step, n_afferents)`` of every input spike, validated.

    `input_spikes` is either a raster ``[n_afferents, T]`` of bool or 0/1 (a spike in step k is
    emitted at ``k*dt``) or a sequence of 1-D arrays of spike times [s], one per afferent. Times
    are rounded to the step grid. Two spikes of one afferent in one step, negative times, or
    spikes at or after the end (``n_steps``) raise ValueError.
    """
    if isinstance(input_spikes, np.ndarray) and input_spikes.ndim == 2 and input_spikes.dtype != object:
        raster = check_finite_array(np.asarray(input_spikes, dtype=np.float64), "input_spikes")
        if not np.all((raster == 0) | (raster == 1)):
            raise ValueError("a spike raster input_spikes must hold only 0/1 (or bool) values")
        afferent, step = np.nonzero(raster)
        if np.any(step >= n_steps):
            raise ValueError(
                f"input_spikes has spikes in column {int(step.max())}, at or after the end (step {n_steps})"
            )
        return afferent.astype(np.int64), step.astype(np.int64), raster.shape[0]
    if isinstance(input_spikes, (str, bytes, np.ndarray)) and np.ndim(input_spikes) != 1:
        raise TypeError("input_spikes must be a raster [n_afferents, T] or a sequence of spike-time arrays")
    afferents, steps = [], []
    for j, times in enumerate(input_spikes):
        name = f"input_spikes[{j}]"
        t = check_finite_array(_validate.si_array(times, name, "second").reshape(-1), name)
        k = np.round(t / dt).astype(np.int64)
        outside = (k < 0) | (k >= n_steps)
        if outside.any():
            raise ValueError(f"{name} has a spike at {t[outside][0]} s, outside [0, {n_steps * dt}) s")
        if np.unique(k).size != k.size:
            raise ValueError(f"{name} has two spikes in one time step of {dt} s")
        afferents.append(np.full(k.size, j, dtype=np.int64))
        steps.append(k)
    if not afferents:
        raise ValueError("input_spikes has no afferents")
    return np.concatenate(afferents), np.concatenate(steps), len(afferents)


def simulate_spiking_input(
    model: str | NeuronModel,
    params: Mapping[str, object] | None,
    input_spikes,
    weights,
    dt,
    duration,
    *,
    tau_syn=5e-3,
    bias_current=0.0,
    record: Sequence[str] | None = None,
    initial: Mapping[str, object] | None = None,
    seed: int | None = None,
    target: str = "cython",
) -> Trace:
    """Simulate `model` with Brian2, driven by afferent spike trains through exponential synapses.

    Parameters
    ----------
    model, params, record, initial, seed, target
        As in `biofit.reference.simulate`.
    input_spikes : bool[n_afferents, T] or sequence of float arrays
        Afferent spikes: a raster at the simulation step, or spike times [s] per afferent.
    weights : float[n_afferents, N] or float[n_afferents]
        Current jump [A] per afferent spike (a 1-D array is shared by all N neurons).
    dt : float
        Simulation step [s].
    duration : float
        Simulated time [s].
    tau_syn : float
        Decay time constant of the input current [s].
    bias_current : float or float[N]
        Constant current [A] added to the synaptic current.

    Returns
    -------
    Trace
        As `simulate`; ``record`` may also name ``"I_in"``, the synaptic current.

    Example
    -------
    >>> import numpy as np
    >>> spikes = [np.array([0.010, 0.012]), np.array([0.011])]
    >>> tr = simulate_spiking_input("lif", None, spikes, np.full((2, 1), 1e-9), 1e-4, 0.05)  # doctest: +SKIP
    """
    spec = resolve_model(model)
    clash = sorted(set(_RESERVED) & set(spec.parameter_names))
    if clash:
        raise ValueError(f"model {spec.name!r} uses names reserved for the synaptic input: {clash}")
    values = _validate.parameters(spec, params)
    initial = check_initial(spec, initial)
    step = _validate.time_step(dt)
    steps = _validate.n_steps(duration, step, None)
    afferent, spike_step, n_afferents = input_spike_steps(input_spikes, step, steps)
    w = check_finite_array(_validate.si_array(weights, "weights", "amp"), "weights")
    if w.ndim not in (1, 2) or w.shape[0] != n_afferents:
        raise ValueError(f"weights must be float[n_afferents={n_afferents}, N] amperes, got shape {w.shape}")
    tau = _validate.si_array(tau_syn, "tau_syn", "second")
    if tau.ndim != 0 or not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"tau_syn must be a finite positive number of seconds, got {tau_syn!r}")
    bias = check_finite_array(_validate.si_array(bias_current, "bias_current", "amp"), "bias_current")
    if bias.ndim > 1:
        raise ValueError(f"bias_current must be a scalar or float[N] amperes, got shape {bias.shape}")
    n = population_size(
        {**values, **initial, "bias_current": bias}, w.shape[1] if w.ndim == 2 else None
    )
    w = np.broadcast_to(w.reshape(n_afferents, -1), (n_afferents, n))
    names = check_record(spec, record, extra=("I_in",))
    if seed is not None:
        brian_seed(int(seed))
    pre, post = np.nonzero(w)
    extra = "\n".join(
        ["I_ext = I_in + I_bias : amp", "dI_in/dt = -I_in / tau_in : amp",
         "I_bias : amp (constant)", "tau_in : second (constant)"]
    )

    def build():
        group = make_group(spec, values, n, step, extra, {}, initial)
        group.I_bias = np.broadcast_to(bias, (n,)) * amp
        group.tau_in = float(tau) * second
        source = SpikeGeneratorGroup(
            n_afferents, afferent, spike_step * step * second, dt=step * second, name="biofit_afferents"
        )
        synapses = Synapses(
            source, group, model="w : amp (constant)", on_pre="I_in_post += w", dt=step * second,
            name="biofit_synapses",
        )
        synapses.connect(i=pre, j=post)
        synapses.w = w[pre, post] * amp
        return group, [source, synapses]

    return run_network(build, spec, names, steps, step, target)
