"""Build a Brian2 `NeuronGroup` from a `biofit.models.NeuronModel` and run it in its own `Network`.

Everything a run needs is explicit: the group's ``dt``, its own `Network`, an empty run namespace
(nothing is read from the caller's frame), fixed object names (so the generated code, and therefore
Brian2's Cython cache entry, is identical from call to call), and the code-generation target, set
for the duration of the run only and restored afterwards.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from types import MappingProxyType

import numpy as np
from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, get_device, prefs, second
from brian2.devices.device import RuntimeDevice
from brian2.units.fundamentalunits import DIMENSIONLESS
from brian2.units.fundamentalunits import Quantity, get_unit

from biofit.models import get_model
from biofit.models.base import NeuronModel, unit_dimension
from biofit.reference.trace import Trace
from biofit.validation import check_finite_array

GROUP_NAME = "biofit_neurons"
TARGETS = ("cython", "numpy")

# Exceptions raised when the C compiler or linker fails (distutils/setuptools, Cython).
_COMPILE_ERRORS = {
    "CompileError", "LinkError", "CCompilerError", "DistutilsExecError", "DistutilsPlatformError",
}


def resolve_model(model: str | NeuronModel) -> NeuronModel:
    """A `NeuronModel` from a model or its name (ValueError naming the known models otherwise)."""
    if isinstance(model, NeuronModel):
        return model
    if isinstance(model, str):
        return get_model(model)
    raise TypeError(f"model must be a model name or a NeuronModel, got {type(model).__name__}")


def brian_unit(unit: str):
    """The Brian2 unit object of a `Parameter.unit` expression (``"siemens/volt"``; ``"1"``: 1.0)."""
    dim = unit_dimension(unit)
    return 1.0 if dim is DIMENSIONLESS else get_unit(dim)


def population_size(values: Mapping[str, object], n_from_input: int | None) -> int:
    """N from the per-neuron (1-D) values and the input width; ValueError if they disagree."""
    sizes = {name: np.shape(v)[0] for name, v in values.items() if np.ndim(v) == 1}
    if n_from_input is not None:
        sizes = {"the input": n_from_input, **sizes}
    distinct = set(sizes.values())
    if len(distinct) > 1:
        raise ValueError(f"inconsistent population sizes: {sizes}")
    return distinct.pop() if distinct else 1


def neuron_equations(model: NeuronModel, extra: str) -> str:
    """The model's equations, its parameters declared per-neuron constants, and `extra` lines."""
    declarations = [f"{p.name} : {p.unit} (constant)" for p in model.parameters]
    return "\n".join([model.equations, extra, *declarations])


def make_group(
    model: NeuronModel,
    values: Mapping[str, float | np.ndarray],
    n: int,
    dt: float,
    extra_equations: str,
    namespace: Mapping[str, object],
    initial: Mapping[str, float | np.ndarray] | None,
) -> NeuronGroup:
    """A `NeuronGroup` of `n` neurons with parameters `values` (SI) and initial state set."""
    group = NeuronGroup(
        n,
        neuron_equations(model, extra_equations),
        threshold=model.threshold,
        reset=model.reset,
        refractory=model.refractory,
        method=model.method,
        dt=dt * second,
        namespace=dict(namespace),
        name=GROUP_NAME,
    )
    for p in model.parameters:
        setattr(group, p.name, np.broadcast_to(values[p.name], (n,)) * brian_unit(p.unit))
    initial = initial or {}
    for name, expression in model.initial.items():
        if name not in initial:
            setattr(group, name, expression)
            continue
        value = initial[name]
        if not isinstance(value, Quantity):  # SI floats: attach the variable's unit
            value = check_finite_array(np.asarray(value, dtype=np.float64), f"initial[{name!r}]")
            value = value * get_unit(group.variables[name].dim)
        setattr(group, name, value)
    return group


def check_initial(model: NeuronModel, initial) -> dict[str, object]:
    """`initial` as a dict whose keys are state variables of `model` (ValueError naming others)."""
    initial = dict(initial or {})
    unknown = sorted(set(initial) - set(model.initial))
    if unknown:
        raise ValueError(
            f"initial values given for {unknown}, which are not state variables of {model.name!r} "
            f"({sorted(model.initial)})"
        )
    return initial


def check_record(model: NeuronModel, record, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Variables to record: ``v`` first, then the requested ones (default: the model's `state`).

    Allowed: the model's state variables, ``I_ext``, and the `extra` names of the caller's equations.
    """
    if isinstance(record, str):
        record = (record,)
    names = model.state if record is None else tuple(record)
    allowed = (*model.state, "I_ext", *extra)
    unknown = [r for r in names if r not in allowed]
    if unknown:
        raise ValueError(f"cannot record {unknown} for model {model.name!r}; recordable: {list(allowed)}")
    return ("v", *[r for r in dict.fromkeys(names) if r != "v"])


@contextmanager
def _codegen_target(target: str):
    """Set ``prefs.codegen.target`` for the block and restore the previous value afterwards."""
    previous = prefs.codegen.target
    prefs.codegen.target = target
    try:
        yield
    finally:
        prefs.codegen.target = previous


def _compile_failure(exc: BaseException) -> BaseException | None:
    """The compiler/linker error at the root of `exc`, if any (Brian2 wraps it)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ in _COMPILE_ERRORS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def run_network(
    build: Callable[[], tuple[NeuronGroup, list]],
    model: NeuronModel,
    record: tuple[str, ...],
    n_steps: int,
    dt: float,
    target: str,
) -> Trace:
    """Build the objects with `build()`, monitor them, run `n_steps` steps, and return a `Trace`.

    `build` returns the neuron group and any other objects (inputs, synapses) to include. With
    ``target="cython"`` a failing C compilation is reported by a warning naming the compiler error
    and the run is repeated from scratch with the numpy target.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if not isinstance(get_device(), RuntimeDevice):
        raise RuntimeError(
            f"biofit.reference needs Brian2's runtime device, but {type(get_device()).__name__} is set "
            "(call brian2.set_device('runtime'))"
        )
    try:
        return _run_once(build, model, record, n_steps, dt, target)
    except Exception as exc:
        failure = _compile_failure(exc) if target == "cython" else None
        if failure is None:
            raise
        warnings.warn(
            f"Brian2 could not compile the Cython code ({type(failure).__name__}: {failure}); "
            "running this simulation with the (slower) numpy target instead",
            RuntimeWarning,
            stacklevel=3,
        )
        return _run_once(build, model, record, n_steps, dt, "numpy")


def _run_once(build, model, record, n_steps, dt, target) -> Trace:
    with _codegen_target(target):
        group, others = build()
        state = StateMonitor(group, list(record), record=True, name="biofit_state")
        spikes = SpikeMonitor(group, name="biofit_spikes")
        net = Network(group, state, spikes, *others, name="biofit_network")
        net.run(n_steps * dt * second, namespace={})
    trains = spikes.spike_trains()
    return Trace(
        t=np.asarray(state.t_, dtype=np.float64).copy(),
        v=np.asarray(state.v_, dtype=np.float64).T.copy(),
        states=MappingProxyType(
            {name: np.asarray(getattr(state, name + "_"), dtype=np.float64).T.copy() for name in record[1:]}
        ),
        spike_times=tuple(np.asarray(trains[k] / second, dtype=np.float64) for k in range(group.N)),
        dt=dt,
        model=model.name,
        target=target,
    )
