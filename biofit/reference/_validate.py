"""Input checks at the boundary of the Brian2 backend: SI floats out, ValueError naming the problem."""

from __future__ import annotations

import numpy as np
from brian2.units.fundamentalunits import Quantity, get_dimensions

from biofit.models.base import NeuronModel, unit_dimension
from biofit.validation import check_finite_array


def si_array(value, name: str, unit: str) -> np.ndarray:
    """`value` as float64 SI; a Brian2 quantity must carry the dimension `unit` (e.g. ``"amp"``)."""
    if isinstance(value, Quantity):
        expected = unit_dimension(unit)
        if get_dimensions(value) is not expected:
            raise ValueError(f"{name} has dimension {get_dimensions(value)!r}, expected {unit}")
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got {type(value).__name__}") from exc


def time_step(dt) -> float:
    """The simulation step [s]: a finite positive scalar."""
    arr = si_array(dt, "dt", "second")
    if arr.ndim != 0 or not np.isfinite(arr) or arr <= 0:
        raise ValueError(f"dt must be a finite positive number of seconds, got {dt!r}")
    return float(arr)


def n_steps(duration, dt: float, available: int | None) -> int:
    """Number of steps of `duration` [s] (all `available` samples when None)."""
    if duration is None:
        if available is None:
            raise ValueError("duration is required when the input does not fix it")
        return available
    d = si_array(duration, "duration", "second")
    if d.ndim != 0 or not np.isfinite(d) or d <= 0:
        raise ValueError(f"duration must be a finite positive number of seconds, got {duration!r}")
    steps = int(round(float(d) / dt))
    if steps < 1:
        raise ValueError(f"duration {float(d)} s is shorter than one step dt = {dt} s")
    if available is not None and steps > available:
        raise ValueError(f"duration {float(d)} s needs {steps} current samples, the current has {available}")
    return steps


def current_matrix(current) -> np.ndarray:
    """The injected current [A] as float[T] or float[T, N], finite."""
    arr = check_finite_array(si_array(current, "current", "amp"), "current")
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"current must be float[T] or float[T, N] amperes, got rank {arr.ndim} (shape {arr.shape})"
        )
    if arr.shape[0] == 0 or arr.size == 0:
        raise ValueError(f"current is empty (shape {arr.shape})")
    return arr


def parameters(model: NeuronModel, params) -> dict[str, float | np.ndarray]:
    """Every parameter of `model` as SI float or float[N] (defaults filled in, bounds checked)."""
    if params is None:
        params = {}
    if not hasattr(params, "items"):
        raise TypeError(f"params must be a mapping name -> value, got {type(params).__name__}")
    return model.validate(params)
