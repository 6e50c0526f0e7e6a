"""The record types every neuron model definition is made of: `Parameter` and `NeuronModel`.

A `NeuronModel` is the single source of truth for one model: its parameters (name, SI default,
closed bounds, Brian2 unit, learnability) and its Brian2 equations, threshold, reset and refractory
period. The Brian2 backend (`biofit.reference`) builds a `NeuronGroup` from it; the PyTorch backend
(`biofit.neurons`) reads the same parameters and reproduces the same clock-driven scheme.

Conventions of the equation strings
-----------------------------------
* Parameters are per-neuron constants named as in `parameters`; they are *not* declared in
  `equations` (the Brian2 backend appends ``"<name> : <unit> (constant)"`` lines).
* The injected current is ``I_ext`` (amp), also not declared (the backend appends e.g.
  ``"I_ext = I_drive(t, i) : amp"``).
* Equations frozen during the refractory period carry the Brian2 flag ``(unless refractory)``.

Example
-------
>>> from biofit.models import get_model
>>> lif = get_model("lif")
>>> lif.validate({"tau_mem": 0.01})["tau_mem"]
0.01
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

_UNITS = ("second", "volt", "amp", "siemens", "farad", "ohm", "1")


@dataclass(frozen=True)
class Parameter:
    """One intrinsic parameter of a neuron model.

    Attributes
    ----------
    name: identifier used in the Brian2 equations and as the torch attribute, e.g. ``"tau_mem"``.
    default: default value in SI units (s, V, A, S, F, Ohm, or dimensionless).
    bounds: closed allowed range ``(lo, hi)`` in SI units; either end may be infinite.
    unit: Brian2 base unit name of the SI value: one of ``second, volt, amp, siemens, farad,
        ohm, 1``.
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
        if self.unit not in _UNITS:
            raise ValueError(f"parameter {self.name!r}: unit {self.unit!r} not one of {_UNITS}")


@dataclass(frozen=True)
class NeuronModel:
    """A neuron model defined once, read by the Brian2 and the PyTorch backends.

    Attributes
    ----------
    name: short identifier (``"lif"``, ``"lif_syn"``, ``"alif"``, ``"adex"``, ``"qif"``).
    parameters: the model's parameters, in a fixed order.
    equations: Brian2 equations (see the module docstring for the conventions).
    threshold: Brian2 threshold condition, e.g. ``"v > v_th"``.
    reset: Brian2 reset statements, e.g. ``"v = v_reset"``.
    refractory: Brian2 refractory period expression (a parameter name or ``"0*second"``).
    method: Brian2 integration method: ``"exact"`` for linear models, ``"euler"`` otherwise.
    state: state variables worth recording, e.g. ``("v", "a")``.
    initial: initial value of each state variable as a Brian2 expression.
    """

    name: str
    parameters: tuple[Parameter, ...]
    equations: str
    threshold: str
    reset: str
    refractory: str
    method: str
    state: tuple[str, ...]
    initial: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"model {self.name!r}: duplicate parameter names in {names}")
        if set(self.initial) != set(self.state):
            raise ValueError(
                f"model {self.name!r}: initial values given for {sorted(self.initial)}, "
                f"state is {sorted(self.state)}"
            )

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
    from brian2.units import allunits
    from brian2.units.fundamentalunits import DIMENSIONLESS

    expected = DIMENSIONLESS if p.unit == "1" else getattr(allunits, p.unit).dim
    if dim is not expected:
        raise ValueError(f"{model}.{p.name} has dimension {dim!r}, expected {p.unit}")

