r"""Adaptive exponential integrate-and-fire layer (`biofit.models` ``adex``; Brette & Gerstner 2005).

Model: :math:`C\dot v = g_L(E_L - v) + g_L\Delta_T e^{(v - V_T)/\Delta_T} - w + I`,
:math:`\tau_w \dot w = a(v - E_L) - w`; spike when :math:`v > V_{peak}`, then
:math:`v \leftarrow V_{reset}`, :math:`w \leftarrow w + b`, ``v`` frozen for ``t_ref``.

Discrete-time scheme, step n: forward Euler from the state at ``n dt`` with the input held at
``I[n]`` -- Brian2 2.9's ``method="euler"``, both derivatives from the old state:

.. math::
    v' = v + \frac{dt}{C}\big(g_L(E_L - v) + g_L\Delta_T e^{(v - V_T)/\Delta_T} - w + I[n]\big)
    \ (\text{kept only if not refractory}), \qquad
    w' = w + \frac{dt}{\tau_w}\big(a(v - E_L) - w\big)

then ``z = H(v' - V_peak)`` (not refractory only), ``v = (1 - z) v' + z V_reset``,
``w = w' + b z`` (z a constant for the backward pass in both, see
`biofit.neurons.lif.reset`); refractory rule as in `biofit.neurons.lif`. The exponent is capped at 50 before
``exp``; this changes no spike: at the cap the exponential current is
:math:`g_L\Delta_T e^{50} \geq 5\times 10^{7}` A for every parameter inside the bounds, so the step
lands far above ``V_peak`` either way (unless :math:`|I - w|` exceeds that), while float32 stays
finite.

The surrogate acts on :math:`v' - V_{peak}`; its default width (10 mV = 5 default
:math:`\Delta_T`) is wide because the membrane crosses :math:`V_{peak}` in one or two steps.

Example
-------
>>> import torch
>>> from biofit.neurons.adex import AdEx
>>> layer = AdEx(2, dt=1e-4, learn=("a", "b", "tau_w"))
>>> spikes, traces = layer.simulate(torch.full((3000, 1, 2), 1e-9))
>>> sorted(traces)
['v', 'w']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import Tensor

from biofit.models import get_model
from biofit.neurons.lif import SpikeFn, refractory_start, refractory_steps, refractory_tick, reset
from biofit.neurons.params import NeuronLayer

EXPONENT_CAP = 50.0


class AdExState(NamedTuple):
    """State, each ``[B, N]``: ``v`` (V), ``w`` (A, adaptation current), ``refractory`` (steps left)."""

    v: Tensor
    w: Tensor
    refractory: Tensor


class AdExCoefficients(NamedTuple):
    """Per-call constants of the Euler update (SI; each [N] or [])."""

    dt_over_c: Tensor  # dt / C, V/A
    dt_over_tau_w: Tensor  # dt / tau_w
    g_L: Tensor
    E_L: Tensor
    V_T: Tensor
    Delta_T: Tensor
    a: Tensor
    b: Tensor
    V_reset: Tensor
    V_peak: Tensor
    ref_steps: Tensor | None  # K, None when no neuron is ever refractory


def adex_coefficients(p: dict[str, Tensor], dt: float) -> AdExCoefficients:
    """Constants for time step `dt` (s) from the model's parameters (name -> SI tensor)."""
    return AdExCoefficients(
        dt / p["C"], dt / p["tau_w"], p["g_L"], p["E_L"], p["V_T"], p["Delta_T"], p["a"], p["b"],
        p["V_reset"], p["V_peak"], refractory_steps(p["t_ref"], dt),
    )


def adex_update(current: Tensor, s: AdExState, c: AdExCoefficients, spike: SpikeFn) -> tuple[Tensor, AdExState]:
    """One Euler step for held input `current` ``[B, N]`` (A): ``(spikes, new state)``."""
    exponent = torch.clamp((s.v - c.V_T) / c.Delta_T, max=EXPONENT_CAP)
    i_mem = c.g_L * (c.E_L - s.v) + c.g_L * c.Delta_T * torch.exp(exponent) - s.w + current
    v = s.v + c.dt_over_c * i_mem
    w = s.w + c.dt_over_tau_w * (c.a * (s.v - c.E_L) - s.w)
    remaining = s.refractory
    if c.ref_steps is None:
        z = spike(v - c.V_peak)
    else:
        remaining, active = refractory_tick(s.refractory)
        v = torch.where(active, v, s.v)
        z = spike(v - c.V_peak) * active
        remaining = refractory_start(z, remaining, c.ref_steps)
    return z, AdExState(reset(v, z, c.V_reset), torch.addcmul(w, z.detach(), c.b), remaining)


class AdEx(NeuronLayer):
    """Layer of N AdEx neurons: ``layer(current[T, B, N]) -> spikes[T, B, N]``.

    Parameters: ``n_neurons``, ``dt`` (s), ``learn``, ``per_neuron``, ``surrogate``, ``width`` (V,
    default 10 mV) as for `biofit.neurons.lif.LIF`; ``**params``: ``C, g_L, E_L, V_T, Delta_T, a,
    tau_w, b, V_reset, V_peak, t_ref`` in SI units (defaults and bounds:
    ``biofit.models.get_model("adex")``).
    """

    def __init__(
        self,
        n_neurons: int,
        dt: float,
        *,
        learn: Iterable[str] = (),
        per_neuron: bool = True,
        surrogate: str = "fast_sigmoid",
        width: float = 10e-3,
        **params: object,
    ) -> None:
        super().__init__(get_model("adex"), n_neurons, dt, params, learn, per_neuron)
        self._use_surrogate(surrogate, width)

    def _coefficients(self, params: dict[str, Tensor], dt: float) -> AdExCoefficients:
        return adex_coefficients(params, dt)

    def _initial_state(self, batch_size: int, params: dict[str, Tensor]) -> AdExState:
        v = params["E_L"].expand(batch_size, self.n_neurons).clone()
        return AdExState(v, torch.zeros_like(v), torch.zeros_like(v))

    def _update(self, current: Tensor, state: AdExState, c: AdExCoefficients) -> tuple[Tensor, AdExState]:
        return adex_update(current, state, c, self._spike)
