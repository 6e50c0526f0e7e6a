r"""Brian2's refractoriness on a clock, as the small tensor operations every layer uses.

Brian2 (2.9, clock-driven) keeps a neuron refractory at step n after a spike at step m while
``timestep(t - lastspike, dt) < timestep(t_ref, dt)`` with ``timestep(x, dt) = floor((x + 1e-3 dt) / dt)``,
i.e. while :math:`n - m < K`, :math:`K = \lfloor (t_{ref} + 10^{-3} dt) / dt \rfloor`. The layers
carry a count of the refractory steps still to come: a spike sets it to K, and every step first
counts it down by one (`refractory_tick`) and calls the neuron *active* where it reaches 0. So the
variables flagged ``(unless refractory)`` keep their value for the K - 1 updates after a spike
(`hold`), the threshold is tested only where active, and the minimum inter-spike interval is K
steps = ``t_ref``. ``t_ref < dt`` means no refractoriness.

Example
-------
>>> import torch
>>> k = refractory_steps(torch.tensor([2e-3, 0.0]), 1e-4)
>>> k.tolist()
[20.0, 0.0]
>>> remaining, active = refractory_tick(torch.tensor([20.0, 1.0, 0.0]))
>>> remaining.tolist(), active.tolist()
([19.0, 0.0, 0.0], [False, True, True])
"""

from __future__ import annotations

import torch
from torch import Tensor


def refractory_steps(t_ref: Tensor, dt: float) -> Tensor | None:
    """Brian2's refractory length in steps, ``K = floor((t_ref + 1e-3 dt) / dt)``; None if all K = 0."""
    k = torch.floor((torch.as_tensor(t_ref, dtype=torch.float64) + 1e-3 * dt) / dt)
    return k if bool((k > 0).any()) else None


def refractory_tick(refractory: Tensor) -> tuple[Tensor, Tensor]:
    """Count one step down; returns ``(remaining, active)`` with active = not refractory (bool)."""
    remaining = torch.clamp(refractory - 1.0, min=0.0)
    return remaining, remaining == 0


def refractory_start(z: Tensor, remaining: Tensor, k: Tensor) -> Tensor:
    """Neurons that spiked (z = 1) become refractory for the next K - 1 steps."""
    return torch.where(z > 0, k, remaining)


def hold(active: Tensor, new: Tensor, old: Tensor) -> Tensor:
    """``new`` where the neuron is active, ``old`` where it is refractory (a frozen variable)."""
    return torch.where(active, new, old)
