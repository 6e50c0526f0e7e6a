"""Boundary checks shared by the spiking layers: time step, layer size, input current."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def check_dt(dt: object) -> float:
    """`dt` (seconds) as a float; ValueError unless finite and > 0."""
    try:
        value = float(dt)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"dt must be a number of seconds, got {dt!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"dt must be a finite time step > 0 s, got {value!r}")
    return value


def check_n_neurons(n_neurons: object) -> int:
    """`n_neurons` as an int; ValueError unless a positive integer."""
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, int) or n_neurons < 1:
        raise ValueError(f"n_neurons must be a positive int, got {n_neurons!r}")
    return n_neurons


def check_current(current: object, n_neurons: int) -> Tensor:
    """Check an input current ``float[T, B, N]`` (ampere) and return it.

    Raises TypeError for a non-tensor or non-floating tensor, ValueError for a wrong rank, a last
    dimension other than `n_neurons`, T == 0, or NaN/inf values (the count and first index named).
    """
    if not isinstance(current, Tensor):
        raise TypeError(f"current must be a torch.Tensor [T, B, N], got {type(current).__name__}")
    if not current.is_floating_point():
        raise TypeError(f"current must be a floating tensor, got dtype {current.dtype}")
    if current.dim() != 3:
        raise ValueError(
            f"current must have rank 3 [T, B, N], got rank {current.dim()} (shape {tuple(current.shape)})"
        )
    if current.shape[2] != n_neurons:
        raise ValueError(f"current has {current.shape[2]} neurons (last dim), layer has {n_neurons}")
    if current.shape[0] == 0:
        raise ValueError("current has T = 0 time steps")
    with torch.no_grad():  # one pass, no [T, B, N] temporary: a NaN or inf would propagate
        if bool(torch.isfinite(current.sum())):
            return current
    bad = ~torch.isfinite(current)
    if bool(bad.any()):
        n_nan = int(torch.isnan(current).sum())
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"current has {n_nan} NaN and {int(bad.sum()) - n_nan} infinite values "
            f"(first at [t, b, n] = {first})"
        )
    return current
