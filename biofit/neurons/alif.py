r"""Adaptive-threshold LIF layer (`biofit.models` ``alif``, the neuron of 2311.11390), exact integration.

Model: :math:`\tau_{mem}\dot v = v_{rest} - v + R\,I`, :math:`\tau_{adapt}\dot a = -a`; spike when
:math:`v > v_{th} + a`, then :math:`v \leftarrow v_{reset}`, :math:`a \leftarrow a + \beta`, ``v``
frozen for ``t_ref`` (``a`` keeps decaying).

Discrete-time scheme, step n (Brian2 2.9 clock-driven, ``method="exact"``, input held at ``I[n]``;
refractory rule as in `biofit.neurons.lif`, K = floor((t_ref + 1e-3 dt) / dt)):

.. math::
    v' &= \underbrace{v_{rest}(1 - \alpha) + R(1 - \alpha)\,I[n]}_{\text{drive}[n]} + \alpha\, v
    \quad (\text{kept only if not refractory}), \qquad \alpha = e^{-dt/\tau_{mem}} \\
    a' &= a\,\rho, \qquad \rho = e^{-dt/\tau_{adapt}} \\
    z[n] &= H(v' - v_{th} - a') \cdot \text{not\_refractory} \\
    v &\leftarrow \mathrm{lerp}(v', v_{reset}, z), \qquad a \leftarrow a' + \beta z

`alif_drive` (all steps at once, elementwise) then `alif_update` per step is the whole scheme:
Block-ALIF and other reformulations must reproduce it bit for bit. In the backward pass the spike
enters the reset and the jump ``a += beta z`` as a constant (gradient only through the surrogate
of the threshold crossing, as in 2311.11390's code; see `biofit.neurons.lif.reset` for why).

Example
-------
>>> import torch
>>> from biofit.neurons.alif import ALIF
>>> layer = ALIF(3, dt=1e-4, learn=("tau_adapt", "beta"))
>>> spikes, traces = layer.simulate(torch.full((2000, 1, 3), 400e-12))
>>> sorted(traces)
['a', 'v']
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import Tensor

from biofit.models import get_model
from biofit.neurons.lif import SpikeFn, refractory_start, refractory_steps, refractory_tick, reset
from biofit.neurons.params import NeuronLayer
from biofit.neurons.surrogate import get_surrogate


class ALIFParameters(NamedTuple):
    """Physical parameters (SI; each of shape [N] or [])."""

    tau_mem: Tensor  # s
    R: Tensor  # ohm
    v_rest: Tensor  # V
    v_reset: Tensor  # V
    v_th: Tensor  # V, baseline threshold
    t_ref: Tensor  # s
    tau_adapt: Tensor  # s
    beta: Tensor  # V, threshold jump per spike


class ALIFState(NamedTuple):
    """State, each ``[B, N]``: ``v`` (V), ``a`` (V, threshold adaptation), ``refractory`` (steps left)."""

    v: Tensor
    a: Tensor
    refractory: Tensor


class ALIFCoefficients(NamedTuple):
    """Per-call constants of the exact update."""

    decay: Tensor  # alpha = exp(-dt / tau_mem)
    gain: Tensor  # R (1 - alpha), V/A
    bias: Tensor  # v_rest (1 - alpha), V
    decay_adapt: Tensor  # rho = exp(-dt / tau_adapt)
    v_reset: Tensor
    v_th: Tensor
    beta: Tensor
    ref_steps: Tensor | None  # K, None when no neuron is ever refractory


def alif_coefficients(p: ALIFParameters, dt: float) -> ALIFCoefficients:
    """Exact-integration constants for time step `dt` (s)."""
    decay = torch.exp(-dt / p.tau_mem)
    return ALIFCoefficients(
        decay, p.R * (1.0 - decay), p.v_rest * (1.0 - decay), torch.exp(-dt / p.tau_adapt),
        p.v_reset, p.v_th, p.beta, refractory_steps(p.t_ref, dt),
    )


def alif_drive(current: Tensor, c: ALIFCoefficients) -> Tensor:
    """Input term ``v_rest (1 - alpha) + R (1 - alpha) I`` (V), elementwise in `current` (A, ``[..., N]``)."""
    return torch.addcmul(c.bias, c.gain, current)


def alif_update(drive: Tensor, s: ALIFState, c: ALIFCoefficients, spike: SpikeFn) -> tuple[Tensor, ALIFState]:
    """One step from the step's `alif_drive` ``[B, N]`` (V): ``(spikes, new state)``."""
    v = torch.addcmul(drive, s.v, c.decay)
    a = s.a * c.decay_adapt
    remaining = s.refractory
    if c.ref_steps is None:
        z = spike(v - c.v_th - a)
    else:
        remaining, active = refractory_tick(s.refractory)
        v = torch.where(active, v, s.v)
        z = spike(v - c.v_th - a) * active
        remaining = refractory_start(z, remaining, c.ref_steps)
    return z, ALIFState(reset(v, z, c.v_reset), torch.addcmul(a, z.detach(), c.beta), remaining)


def alif_step(
    current: Tensor, state: ALIFState, params: ALIFParameters, dt: float, spike: SpikeFn | None = None
) -> tuple[Tensor, ALIFState]:
    """Pure single step: `alif_coefficients` then `alif_update` (default surrogate: fast sigmoid, 1 mV)."""
    spike = spike or functools.partial(get_surrogate("fast_sigmoid"), width=1e-3)
    c = alif_coefficients(params, dt)
    return alif_update(alif_drive(current, c), state, c, spike)


class ALIF(NeuronLayer):
    """Layer of N ALIF neurons: ``layer(current[T, B, N]) -> spikes[T, B, N]``.

    Parameters as for `biofit.neurons.lif.LIF` (no ``synaptic``), plus ``tau_adapt`` (s) and
    ``beta`` (V). Defaults and bounds from ``biofit.models.get_model("alif")``.
    """

    def __init__(
        self,
        n_neurons: int,
        dt: float,
        *,
        learn: Iterable[str] = (),
        per_neuron: bool = True,
        surrogate: str = "fast_sigmoid",
        width: float = 1e-3,
        **params: object,
    ) -> None:
        super().__init__(get_model("alif"), n_neurons, dt, params, learn, per_neuron)
        self._use_surrogate(surrogate, width)

    def _coefficients(self, params: dict[str, Tensor], dt: float) -> ALIFCoefficients:
        return alif_coefficients(ALIFParameters(*(params[k] for k in ALIFParameters._fields)), dt)

    def _initial_state(self, batch_size: int, params: dict[str, Tensor]) -> ALIFState:
        v = params["v_rest"].expand(batch_size, self.n_neurons).clone()
        return ALIFState(v, torch.zeros_like(v), torch.zeros_like(v))

    def _drive(self, current: Tensor, c: ALIFCoefficients) -> list:
        return list(alif_drive(current, c).unbind(0))

    def _update(self, drive: Tensor, state: ALIFState, c: ALIFCoefficients) -> tuple[Tensor, ALIFState]:
        return alif_update(drive, state, c, self._spike)
