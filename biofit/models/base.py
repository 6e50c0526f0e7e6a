"""The record types every neuron model definition is made of: `Parameter`, `ParameterSet`, `NeuronModel`.

A `NeuronModel` is the single source of truth for one model: its parameters (name, SI default,
closed validity bounds, Brian2 unit, learnability) and its Brian2 equations, threshold, reset and
refractory period. The Brian2 backend (`biofit.reference`) builds a `NeuronGroup` from it; the
PyTorch backend (`biofit.neurons.build_layer`) generates its torch step from the same equations,
with Brian2's own parser and state updaters. A `ParameterSet` is the parameter half alone, for
discrete-time neurons without Brian2 equations (POLARA).

Conventions of the equation strings
-----------------------------------
* Parameters are per-neuron constants named as in `parameters`; they are *not* declared in
  `equations` (both backends append ``"<name> : <unit> (constant)"`` lines).
* The layer input is ``I_ext`` (amp), also not declared (the Brian2 backend appends e.g.
  ``"I_ext = I_drive(t, i) : amp"``). A model may name other inputs in ``inputs``: an undeclared
  name is a held input like ``I_ext`` (declare it in `input_units`); the name of a state variable
  is an increment added to it in every step (the effect of a synapse ``on_pre: g += w``).
* Equations frozen during the refractory period carry the Brian2 flag ``(unless refractory)``.

Validity bounds are physical limits (every published parameter set of the model must pass them);
the search ranges of a fit are a separate thing (`biofit.fitting`).

Example
-------
>>> from biofit.models import get_model
>>> lif = get_model("lif")
>>> lif.validate({"tau_mem": 0.01})["tau_mem"]
0.01
>>> Parameter("g_per_v", 1e-9, (0.0, 1e-6), "siemens/volt", True, "slope").unit
'siemens/volt'
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@functools.lru_cache(maxsize=None)
def unit_dimension(unit: str):
    """The Brian2 `Dimension` of a unit expression in base units (``"siemens/volt"``, ``"1"``).

    Brian2's own rule for the ``: unit`` part of an equation (`dimensions_and_type_from_string`):
    base units and their products, quotients and powers; ``"1"`` is dimensionless. ValueError
    naming the expression otherwise.
    """
    from brian2.equations.equations import dimensions_and_type_from_string

    if not isinstance(unit, str):
        raise TypeError(f"a unit must be a string such as 'volt' or 'siemens/volt', got {unit!r}")
    try:
        dim, _ = dimensions_and_type_from_string(unit)
    except (ValueError, TypeError, SyntaxError) as exc:
        raise ValueError(f"unit {unit!r} is not a Brian2 unit expression in base units: {exc}") from None
    return dim


@dataclass(frozen=True)
class Parameter:
    """One intrinsic parameter of a neuron model.

    Attributes
    ----------
    name: identifier used in the Brian2 equations and as the torch attribute, e.g. ``"tau_mem"``.
    default: default value in SI units.
    bounds: closed validity range ``(lo, hi)`` in SI units (physical limits, not a fit's search
        range); either end may be infinite.
    unit: Brian2 unit expression of the SI value in base units: ``"second"``, ``"volt"``,
        ``"siemens/volt"``, ``"1/second"``, ``"amp/volt**2"``, ``"1"`` (dimensionless), ...
    learnable: whether torch layers may learn it (by gradient descent).
    doc: one line saying what it is.
    """

    name: str
    default: float
    bounds: tuple[float, float]
    unit: str
    learnable: bool
    doc: str

    def __post_init__(self) -> None:
        lo, hi = self.bounds
        if not lo < hi:
            raise ValueError(f"parameter {self.name!r}: bounds {self.bounds} must satisfy lo < hi")
        if not lo <= self.default <= hi:
            raise ValueError(
                f"parameter {self.name!r}: default {self.default} outside bounds {self.bounds}"
            )
        try:
            unit_dimension(self.unit)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"parameter {self.name!r}: {exc}") from None

    @property
    def dimension(self):
        """The Brian2 `Dimension` of the parameter."""
        return unit_dimension(self.unit)


@dataclass(frozen=True)
class ParameterSet:
    """Named parameters with defaults and validity bounds, checked at the boundary.

    Attributes
    ----------
    name: short identifier (``"polara"``; a `NeuronModel`'s model name).
    parameters: the parameters, in a fixed order.
    """

    name: str
    parameters: tuple[Parameter, ...]

    def __post_init__(self) -> None:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"model {self.name!r}: duplicate parameter names in {names}")

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names of the parameters, in definition order."""
        return tuple(p.name for p in self.parameters)

    def parameter(self, name: str) -> Parameter:
        """The `Parameter` called `name`; ValueError listing the known names otherwise."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise ValueError(
            f"model {self.name!r} has no parameter {name!r}; known: {', '.join(self.parameter_names)}"
        )

    def defaults(self) -> dict[str, float]:
        """Default value (SI) of every parameter."""
        return {p.name: p.default for p in self.parameters}

    def validate(self, params: Mapping[str, object]) -> dict[str, np.ndarray | float]:
        """Check `params` against the model and fill in defaults.

        Parameters
        ----------
        params: name -> value in SI units: a float, a 1-D array (one value per neuron), or a Brian2
            quantity (its dimension must match the parameter's unit).

        Returns
        -------
        dict name -> float (scalars) or float64 ndarray (arrays), for every parameter.

        Raises
        ------
        ValueError: an unknown name (the known names are listed), a non-finite value, a value
            outside the parameter's bounds (the first offending value and its index are named),
            or a Brian2 quantity of the wrong dimension.
        """
        unknown = sorted(set(params) - set(self.parameter_names))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} for model {self.name!r}; "
                f"known: {', '.join(self.parameter_names)}"
            )
        out: dict[str, np.ndarray | float] = dict(self.defaults())
        for name, value in params.items():
            out[name] = _check_value(self.parameter(name), value, self.name)
        return out


@dataclass(frozen=True)
class NeuronModel(ParameterSet):
    """A neuron model defined once, read by the Brian2 and the PyTorch backends.

    Attributes
    ----------
    name: short identifier (``"lif"``, ``"lif_syn"``, ``"alif"``, ``"adex"``, ``"qif"``, ...).
    parameters: the model's parameters, in a fixed order.
    equations: Brian2 equations (see the module docstring for the conventions).
    threshold: Brian2 threshold condition, e.g. ``"v > v_th"``.
    reset: Brian2 reset statements, e.g. ``"v = v_reset"``.
    refractory: Brian2 refractory period expression (a parameter name or ``"0*second"``).
    method: Brian2 integration method (``"exact"``, ``"euler"``, ``"exponential_euler"``,
        ``"rk2"``, ``"rk4"``, ``"heun"``, ``"milstein"``).
    state: state variables worth recording, e.g. ``("v", "a")`` (the membrane potential ``v``
        first; the Brian2 reference backend needs it).
    initial: initial value of state variables as Brian2 expressions of the parameters; a
        variable not listed starts at 0 (Brian2's rule).
    inputs: the layer's inputs (see the module docstring); ``("I_ext",)`` by default.
    input_units: Brian2 unit of each held input that is not a state variable.
    surrogate_width: default width of the surrogate gradient of the threshold, in SI units of
        the threshold's quantity (V for ``v > v_th``); None: 1e-3 of that unit (1 mV).
    """

    equations: str = ""
    threshold: str = ""
    reset: str = ""
    refractory: str = "0*second"
    method: str = "euler"
    state: tuple[str, ...] = ()
    initial: dict[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ("I_ext",)
    input_units: dict[str, str] = field(default_factory=lambda: {"I_ext": "amp"})
    surrogate_width: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.equations.strip():
            raise ValueError(f"model {self.name!r} has no equations (use a ParameterSet instead)")
        if not self.state:
            raise ValueError(f"model {self.name!r}: state names no variable to record")
        extra = sorted(set(self.initial) - set(self.state))
        if extra:
            raise ValueError(
                f"model {self.name!r}: initial values given for {extra}, which are not in state "
                f"{list(self.state)}"
            )
        if not self.inputs:
            raise ValueError(f"model {self.name!r} has no inputs")
        for name in self.inputs:
            if name not in self.state and name not in self.input_units:
                raise ValueError(
                    f"model {self.name!r}: input {name!r} is neither a state variable nor given "
                    f"a unit in input_units"
                )
        for name, unit in self.input_units.items():
            unit_dimension(unit)
        if self.surrogate_width is not None and not self.surrogate_width > 0:
            raise ValueError(f"model {self.name!r}: surrogate_width must be > 0, got {self.surrogate_width!r}")

    def __hash__(self) -> int:  # the dict fields are compared by content
        return hash((self.name, self.parameters, self.equations, self.threshold, self.reset,
                     self.refractory, self.method, self.state, tuple(sorted(self.initial.items())),
                     self.inputs, tuple(sorted(self.input_units.items())), self.surrogate_width))

    @property
    def held_inputs(self) -> tuple[str, ...]:
        """Inputs held over each step (not state variables), e.g. ``("I_ext",)``."""
        return tuple(name for name in self.inputs if name not in self.state)


def _check_value(p: Parameter, value: object, model: str) -> np.ndarray | float:
    _check_dimension(p, value, model)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(f"{model}.{p.name}: expected a scalar or a 1-D array, got shape {arr.shape}")
    n_nan = int(np.isnan(arr).sum())
    if n_nan:
        raise ValueError(f"{model}.{p.name} has {n_nan} NaN value(s)")
    lo, hi = p.bounds
    outside = (arr < lo) | (arr > hi)
    if outside.any():
        flat = np.atleast_1d(arr)
        first = int(np.flatnonzero(np.atleast_1d(outside))[0])
        where = f" (first at index {first})" if arr.ndim else ""
        raise ValueError(
            f"{model}.{p.name} = {float(flat[first])!r} {p.unit} is outside its bounds "
            f"[{lo}, {hi}]{where}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{model}.{p.name} must be finite, got {arr!r}")
    return float(arr) if arr.ndim == 0 else arr.copy()


def _check_dimension(p: Parameter, value: object, model: str) -> None:
    """Brian2 quantities must carry the parameter's dimension (plain numbers are taken as SI)."""
    dim = getattr(value, "dim", None)
    if dim is None or not type(value).__module__.startswith("brian2"):
        return
    if dim is not p.dimension:
        raise ValueError(f"{model}.{p.name} has dimension {dim!r}, expected {p.unit}")
