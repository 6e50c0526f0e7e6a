"""The probabilistic meta neuron (our model of 2508.11674's neuron) as a PyTorch layer.

2508.11674 publishes no equations for its "probabilistic meta neuron"; the model here is ours and
is defined in `biofit.models.meta` (read it first): a current-based LIF with a synaptic current
whose intrinsic parameters -- ``tau_mem``, ``tau_syn``, ``R``, ``v_rest``, ``v_reset``, ``v_th``,
the refractory jump ``theta_ref`` and its decay ``tau_ref``, the firing noise ``delta_u`` and
``tau_esc`` -- can all be learned with the weights (``learn=(...)``, kept in bounds by
`biofit.neurons.params`), and which fires by exponential escape noise (Gerstner et al. 2014,
*Neuronal Dynamics*, ch. 9).

Discrete-time scheme: the LIF scheme of `biofit.neurons.lif` (Brian2's clock-driven order; its
docstring), with the threshold replaced at step n by

.. math::
    q_n &= q_{n-1} e^{-dt/\\tau_{ref}}, \\qquad x_n = v_n - v_{th} - \\theta_{ref}\\, q_n \\\\
    \\text{stochastic:}\\quad z_n &= 1[U_n < p_n],\\quad
        p_n = 1 - \\exp\\!\\big(-\\tfrac{dt}{\\tau_{esc}}\\, e^{x_n / \\Delta_u}\\big),\\quad
        U_n \\sim \\mathcal U[0, 1) \\\\
    \\text{deterministic:}\\quad z_n &= 1[x_n > 0] \\quad (\\text{the } \\Delta_u \\to 0 \\text{ limit})

then reset :math:`v \\leftarrow v_{reset}`, :math:`q_n \\leftarrow 1` where :math:`z_n = 1`. Brian2 runs
the same model from `biofit.models.meta.META` (threshold ``rand() < p``).

Gradients. Deterministic mode: the surrogate of `biofit.neurons.surrogate` on :math:`x_n` (as the
LIF layer). Stochastic mode: straight-through on the firing probability (Bengio et al. 2013,
arXiv:1308.3432): the forward value is the sample :math:`z_n`, the backward pass uses
:math:`\\partial z_n / \\partial \\cdot = \\partial p_n / \\partial \\cdot`, the exact gradient of
:math:`E[z_n]` for this step given the state (biased through later steps, as every
straight-through estimator). Its pseudo-derivative in :math:`x`,
:math:`\\partial p / \\partial x = e^{\\ell - e^{\\ell}} / \\Delta_u` with
:math:`\\ell = \\ln(dt / \\tau_{esc}) + x / \\Delta_u`, is a bump of width ~ :math:`\\Delta_u`: the
noise sets the surrogate's width, and ``delta_u`` and ``tau_esc`` receive gradients too (they
act only in stochastic mode). As in the LIF scheme, no gradient flows through the resets' dependence
on the spike (`biofit.neurons.lif.reset`), for ``v`` and for ``q``: through ``q`` the path
spike -> q -> threshold -> spike would multiply the gradient by ~ theta_ref dz/dx at every spike.

Randomness: one uniform per neuron, batch element and step (the whole [T, B, N] block drawn at the
start of a call) from the layer's CPU `torch.Generator` (``seed=``), then moved to the input's
device, so equal seeds give equal bits on every device. The generator advances with every
stochastic call (successive calls draw fresh noise).

Mode: ``stochastic=None`` (default) samples in training mode and thresholds in eval mode, like
dropout; ``True`` / ``False`` force one mode.

Example
-------
>>> import torch
>>> from biofit.neurons.meta import MetaNeuron
>>> layer = MetaNeuron(3, dt=1e-4, seed=0, learn=("tau_mem", "v_th", "delta_u", "tau_ref"))
>>> current = torch.full((2000, 4, 3), 300e-12)                  # 200 ms of 300 pA
>>> noisy = layer(current)                                        # training mode: stochastic
>>> exact = layer.eval()(current)                                 # eval mode: deterministic
>>> tuple(noisy.shape), bool((exact == MetaNeuron(3, dt=1e-4, stochastic=False)(current)).all())
((2000, 4, 3), True)
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from biofit.models.meta import META
from biofit.neurons.lif import (
    LIFCoefficients,
    LIFParameters,
    LIFState,
    SpikeFn,
    lif_coefficients,
    lif_drive,
    lif_update,
    reset,
)
from biofit.neurons.params import NeuronLayer

# ln(rho dt) >= 30 gives p = 1 - exp(-1e13) = 1 exactly; clamping there avoids inf * 0 = NaN gradients
_MAX_LOG_HAZARD = 30.0


class MetaState(NamedTuple):
    """State, each [B, N]: ``v`` (V), ``I_syn`` (A), ``refractory`` (absolute-refractory steps
    still to come) and ``q`` (refractory trace, 1 right after a spike, decaying with ``tau_ref``)."""

    v: Tensor
    I_syn: Tensor
    refractory: Tensor
    q: Tensor


class MetaCoefficients(NamedTuple):
    """Per-call constants: the LIF ones, ``decay_ref = exp(-dt/tau_ref)``, ``theta_ref`` (V),
    ``log_rate`` = ln(dt / tau_esc), ``delta_u`` (V), and the noise generator (None: deterministic)."""

    lif: LIFCoefficients
    decay_ref: Tensor
    theta_ref: Tensor
    log_rate: Tensor
    delta_u: Tensor
    generator: torch.Generator | None


def escape_spike(x: Tensor, noise: Tensor, log_rate: Tensor, delta_u: Tensor) -> Tensor:
    """Escape-noise spikes with the straight-through gradient (module docstring).

    x: distance to the effective threshold, float[B, N] (V). noise: uniforms in [0, 1), float[B, N].
    log_rate: ln(dt / tau_esc). delta_u: noise softness (V). Returns float 0/1 [B, N] whose
    gradient is that of ``p = 1 - exp(-exp(log_rate + x / delta_u))``.
    """
    log_hazard = torch.clamp(log_rate + x / delta_u, max=_MAX_LOG_HAZARD)
    p = -torch.expm1(-torch.exp(log_hazard))
    return (noise < p).to(x.dtype) + (p - p.detach())


def meta_update(
    drive: tuple[Tensor, Tensor], s: MetaState, c: MetaCoefficients, spike: SpikeFn
) -> tuple[Tensor, MetaState]:
    """One step: ``(spikes, new state)``, each [B, N].

    `drive` is the step's input terms (`biofit.neurons.lif.lif_drive` of the held current); `spike`
    maps the distance to the effective threshold (V) to 0/1 spikes (`escape_spike` with the step's
    noise, or a surrogate spike function). ``v`` and ``q`` are reset by `biofit.neurons.lif.reset`
    (no gradient through the reset's dependence on the spike).
    """
    q = s.q * c.decay_ref
    threshold = c.lif.v_th + c.theta_ref * q
    z, lif = lif_update(drive, LIFState(s.v, s.I_syn, s.refractory), c.lif._replace(v_th=threshold), spike)
    return z, MetaState(lif.v, lif.I_syn, lif.refractory, reset(q, z, torch.ones_like(q)))


class MetaNeuron(NeuronLayer):
    """Layer of N probabilistic meta neurons: ``layer(current[T, B, N]) -> spikes[T, B, N]``.

    Parameters
    ----------
    n_neurons: N.
    dt: time step, s.
    learn: names of intrinsic parameters to learn, e.g. ``("tau_mem", "v_th", "delta_u")``
        (learnable: every parameter of `biofit.models.meta.META` except ``t_ref``).
    per_neuron: one value per neuron (shape [N]) or one shared scalar per parameter.
    stochastic: None (sample in training mode, threshold in eval mode), True or False.
    seed: int, `numpy.random.Generator` or CPU `torch.Generator` for the firing noise; None draws
        a random seed.
    surrogate: surrogate name for the deterministic mode; width: its width, V.
    **params: parameter values, SI (``tau_mem``, ``R``, ``v_rest``, ``v_reset``, ``v_th``,
        ``t_ref``, ``tau_syn``, ``tau_ref``, ``theta_ref``, ``delta_u``, ``tau_esc``).

    `simulate` returns ``(spikes, {"v", "I_syn", "q": float[T, B, N]})``; `forward` and `simulate`
    take ``state=`` (a `MetaState`) to continue a run. Errors as the LIF layer (bad current, dt,
    parameter names or values), and TypeError for a bad seed.
    """

    def __init__(
        self,
        n_neurons: int,
        dt: float,
        *,
        learn: Iterable[str] = (),
        per_neuron: bool = True,
        stochastic: bool | None = None,
        seed: int | np.random.Generator | torch.Generator | None = None,
        surrogate: str = "fast_sigmoid",
        width: float = 1e-3,
        **params: object,
    ) -> None:
        super().__init__(META, n_neurons, dt, params, learn, per_neuron)
        self._use_surrogate(surrogate, width)
        if stochastic not in (None, True, False):
            raise TypeError(f"stochastic must be None, True or False, got {stochastic!r}")
        self.stochastic = stochastic
        self.generator = _generator(seed)

    @property
    def sampling(self) -> bool:
        """Whether the next call samples spikes (stochastic) or thresholds them."""
        return self.training if self.stochastic is None else self.stochastic

    def _coefficients(self, params: dict[str, Tensor], dt: float) -> MetaCoefficients:
        lif = lif_coefficients(LIFParameters(*(params[k] for k in LIFParameters._fields)), dt)
        return MetaCoefficients(
            lif,
            torch.exp(-dt / params["tau_ref"]),
            params["theta_ref"],
            math.log(dt) - torch.log(params["tau_esc"]),
            params["delta_u"],
            self.generator if self.sampling else None,
        )

    def _initial_state(self, batch_size: int, params: dict[str, Tensor]) -> MetaState:
        v = params["v_rest"].expand(batch_size, self.n_neurons).clone()
        zeros = torch.zeros_like(v)
        return MetaState(v, zeros, zeros.clone(), zeros.clone())

    def _drive(self, current: Tensor, c: MetaCoefficients) -> list:
        """Per step: the LIF input terms and, when sampling, the step's uniforms (all drawn at once)."""
        drive_v, drive_syn = lif_drive(current, c.lif)
        if c.generator is None:
            return list(zip(drive_v.unbind(0), drive_syn.unbind(0), [None] * len(current)))
        noise = torch.rand(current.shape, generator=c.generator, dtype=current.dtype).to(current.device)
        return list(zip(drive_v.unbind(0), drive_syn.unbind(0), noise.unbind(0)))

    def _update(self, drive, state: MetaState, c: MetaCoefficients) -> tuple[Tensor, MetaState]:
        drive_v, drive_syn, noise = drive
        if noise is None:
            return meta_update((drive_v, drive_syn), state, c, self._spike)
        spike = functools.partial(escape_spike, noise=noise, log_rate=c.log_rate, delta_u=c.delta_u)
        return meta_update((drive_v, drive_syn), state, c, spike)


def _generator(seed: int | np.random.Generator | torch.Generator | None) -> torch.Generator:
    """A CPU torch generator: `seed` itself, seeded with the integer `seed` or with a number drawn
    from the numpy Generator `seed`, or randomly seeded for None."""
    if isinstance(seed, torch.Generator):
        if seed.device.type != "cpu":
            raise ValueError(f"seed generator must be on the CPU, got device {seed.device}")
        return seed
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    elif isinstance(seed, np.random.Generator):
        generator.manual_seed(int(seed.integers(0, 2**63 - 1)))
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        generator.manual_seed(int(seed))
    else:
        raise TypeError(f"seed must be an int, a numpy or torch Generator, or None; got {seed!r}")
    return generator
