"""Input validation shared by the local learning rules (STDP, Tempotron, reward-modulated STDP).

Every function raises a ``ValueError`` or ``TypeError`` whose message names the offending argument
and value, so that a user sees what to fix instead of a NaN further down.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def positive_finite(name: str, value: float) -> float:
    """Return ``float(value)`` if it is finite and > 0, else raise ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def nonnegative_finite(name: str, value: float) -> float:
    """Return ``float(value)`` if it is finite and >= 0, else raise ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return value


def spike_tensor(name: str, spikes, ndim: int, dtype: torch.dtype) -> torch.Tensor:
    """Return ``spikes`` as a ``dtype`` tensor after checking it is ``ndim``-D and holds only 0/1.

    Accepts bool or numeric tensors/arrays; raises ``ValueError`` naming the first value that is not
    0 or 1 (a rate or a membrane potential passed by mistake).
    """
    if not isinstance(spikes, torch.Tensor):
        spikes = torch.as_tensor(np.asarray(spikes))
    if spikes.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(spikes.shape)}")
    if spikes.dtype != torch.bool:
        bad = ~((spikes == 0) | (spikes == 1))
        if bool(bad.any()):
            idx = tuple(int(i) for i in torch.nonzero(bad)[0])
            raise ValueError(
                f"{name} must hold spikes (0/1 or bool); found {int(bad.sum())} other values, "
                f"first {spikes[idx].item()!r} at index {idx}"
            )
    return spikes.to(dtype)


def finite_tensor(name: str, values: torch.Tensor) -> None:
    """Raise ``ValueError`` if ``values`` has NaN/inf entries, naming the count and first index."""
    bad = ~torch.isfinite(values)
    if bool(bad.any()):
        idx = tuple(int(i) for i in torch.nonzero(bad)[0])
        raise ValueError(f"{name} has {int(bad.sum())} non-finite values (first at index {idx})")
