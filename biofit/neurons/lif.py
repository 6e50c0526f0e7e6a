r"""Leaky integrate-and-fire layers (`biofit.models` ``lif`` and ``lif_syn``), exact integration.

Model (``biofit.models.lif``): :math:`\tau_{mem}\dot v = v_{rest} - v + R\,I`, spike when
:math:`v > v_{th}`, then :math:`v \leftarrow v_{reset}` and ``v`` frozen for ``t_ref``. With
``synaptic=True`` the membrane is driven by :math:`I_{syn}`, :math:`\tau_{syn}\dot I_{syn} = I - I_{syn}`.

Discrete-time scheme (identical to Brian2 2.9's clock-driven ``NeuronGroup`` with
``method="exact"`` and the input held at ``I[n]`` over ``[n dt, (n+1) dt)``, as a ``TimedArray``
with the simulation's ``dt`` gives). At step n:

1. refractoriness: a neuron that spiked at step m is refractory at step n iff
   ``n - m < K``, ``K = floor((t_ref + 1e-3 dt) / dt)`` -- Brian2's
   ``not_refractory = timestep(t - lastspike, dt) >= timestep(t_ref, dt)``. So ``v`` stays at
   ``v_reset`` for the K - 1 updates after the spike (t_ref = 2 ms at dt = 0.1 ms: K = 20, v is
   ``v_reset`` at the 20 sample times ``(m+1) dt ... (m+20) dt``, the next spike can come at step
   m + 20 at the earliest: minimum inter-spike interval = t_ref). ``t_ref < dt`` means no
   refractoriness;
2. integrate (``v`` only if not refractory; ``I_syn`` always), exact for the held input:
   :math:`v' = v_{rest} + (v - v_{rest})e^{-dt/\tau_{mem}} + R(1 - e^{-dt/\tau_{mem}})\,I
   \;[+\; R\,\kappa\,(I_{syn} - I)]`, :math:`I_{syn}' = I + (I_{syn} - I)e^{-dt/\tau_{syn}}`
   (computed as ``v' = drive_v[n] + decay v [+ cross I_syn]``, the input terms ``drive`` for all
   steps at once: `lif_drive`), with
   :math:`\kappa = \frac{\tau_{syn}}{\tau_{syn} - \tau_{mem}}(e^{-dt/\tau_{syn}} - e^{-dt/\tau_{mem}})`
   (its limit :math:`\frac{dt}{\tau_{mem}} e^{-dt/\tau_{mem}}` when the time constants are equal);
3. threshold on the new state (not refractory only): ``z = H(v' - v_th)``, H strict;
4. reset ``v = lerp(v', v_reset, z)`` (exactly ``v_reset`` or ``v'`` for z in {0, 1}; no
   gradient through the reset's z, see `reset`) and start refractoriness.

Without a synapse the layer runs the whole sequence as one autograd node (`_LIFScan`): its forward
runs the update step by step with autograd off, writing into preallocated buffers (same bits as
the generic loop) and its backward is the hand-derived adjoint of that update, a linear recursion
of one in-place op a step (tested equal to autograd through the generic loop). This removes the
per-step graph bookkeeping and allocations that dominate small layers.

Example
-------
>>> import torch
>>> from biofit.neurons.lif import LIF
>>> layer = LIF(2, dt=1e-4, learn=("tau_mem", "v_th"))
>>> spikes = layer(torch.full((1000, 1, 2), 300e-12))   # 100 ms of 300 pA
>>> int(spikes.sum())
8
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch
from torch import Tensor

from biofit.models import get_model
from biofit.neurons.params import NeuronLayer
from biofit.neurons.surrogate import get_surrogate, heaviside, surrogate_grad

SpikeFn = Callable[[Tensor], Tensor]


def refractory_steps(t_ref: Tensor, dt: float) -> Tensor | None:
    """Brian2's refractory length in steps, ``K = floor((t_ref + 1e-3 dt) / dt)``; None if all K = 0."""
    k = torch.floor((t_ref + 1e-3 * dt) / dt)
    return k if bool((k > 0).any()) else None


def refractory_tick(refractory: Tensor) -> tuple[Tensor, Tensor]:
    """Count one step down; returns ``(remaining, active)`` with active = not refractory (bool)."""
    remaining = torch.clamp(refractory - 1.0, min=0.0)
    return remaining, remaining == 0


def refractory_start(z: Tensor, remaining: Tensor, k: Tensor) -> Tensor:
    """Neurons that spiked (z = 1) become refractory for the next K - 1 steps."""
    return torch.where(z > 0, k, remaining)


def reset(v: Tensor, z: Tensor, v_reset: Tensor) -> Tensor:
    """``v_reset`` where z = 1, ``v`` where z = 0, exactly (``torch.lerp`` returns ``end`` for weight
    1 and ``start`` for weight 0).

    The gradient does not flow through the reset's dependence on z (z is detached here, as in
    snnTorch; Zenke & Vogels 2021, Neural Comput 33:899): that path multiplies the gradient by
    ``1 + (v_reset - v) g(v - v_th)``, about -9 for a 1 mV fast-sigmoid and a 20 mV reset, at every
    near-threshold step, so gradients explode over long sequences. Gradients still reach
    ``v_reset`` (weight z) and ``v`` (weight 1 - z).
    """
    return torch.lerp(v, v_reset, z.detach())


class LIFParameters(NamedTuple):
    """Physical parameters (SI; each of shape [N] or []). ``tau_syn`` None: no synaptic current."""

    tau_mem: Tensor  # s
    R: Tensor  # ohm
    v_rest: Tensor  # V
    v_reset: Tensor  # V
    v_th: Tensor  # V
    t_ref: Tensor  # s
    tau_syn: Tensor | None = None  # s


class LIFState(NamedTuple):
    """State, each ``[B, N]``: ``v`` (V), ``I_syn`` (A; zeros without synapse), ``refractory``
    (refractory steps still to come, float)."""

    v: Tensor
    I_syn: Tensor
    refractory: Tensor


class LIFCoefficients(NamedTuple):
    """Per-call constants of the exact update (see the module docstring)."""

    decay: Tensor  # exp(-dt / tau_mem)
    gain: Tensor  # R (1 - decay), V/A
    bias: Tensor  # v_rest (1 - decay), V
    v_reset: Tensor
    v_th: Tensor
    ref_steps: Tensor | None  # K, None when no neuron is ever refractory
    decay_syn: Tensor | None  # exp(-dt / tau_syn), None without synapse
    cross: Tensor | None  # R kappa, V/A


def _expm1_ratio(x: Tensor) -> Tensor:
    """expm1(x) / x, equal to 1 + x/2 near 0 (gradient-safe double `where`)."""
    small = x.abs() < 1e-8
    safe = torch.where(small, torch.ones_like(x), x)
    return torch.where(small, 1.0 + 0.5 * x, torch.expm1(safe) / safe)


def lif_coefficients(p: LIFParameters, dt: float) -> LIFCoefficients:
    """Exact-integration constants for time step `dt` (s)."""
    decay = torch.exp(-dt / p.tau_mem)
    decay_syn = cross = None
    if p.tau_syn is not None:
        decay_syn = torch.exp(-dt / p.tau_syn)
        rate_gap = 1.0 / p.tau_mem - 1.0 / p.tau_syn
        cross = p.R * decay * (dt / p.tau_mem) * _expm1_ratio(dt * rate_gap)
    return LIFCoefficients(
        decay, p.R * (1.0 - decay), p.v_rest * (1.0 - decay), p.v_reset, p.v_th,
        refractory_steps(p.t_ref, dt), decay_syn, cross,
    )


def lif_drive(current: Tensor, c: LIFCoefficients) -> tuple[Tensor, Tensor | None]:
    """The input terms of the update, elementwise in `current` (A, ``[..., N]``, any leading dims).

    ``drive_v = v_rest (1 - decay) + (gain - cross) I`` (V) and, with a synapse,
    ``drive_syn = (1 - decay_syn) I`` (A); the layer computes them for all T steps at once.
    """
    if c.decay_syn is None:
        return torch.addcmul(c.bias, c.gain, current), None
    return torch.addcmul(c.bias, c.gain - c.cross, current), current * (1.0 - c.decay_syn)


def lif_update(
    drive: tuple[Tensor, Tensor | None], s: LIFState, c: LIFCoefficients, spike: SpikeFn
) -> tuple[Tensor, LIFState]:
    """One step from the step's `lif_drive` (``[B, N]`` each): ``(spikes, new state)``.

    ``v' = drive_v + decay v [+ cross I_syn]``, ``I_syn' = drive_syn + decay_syn I_syn``.
    """
    drive_v, drive_syn = drive
    v = torch.addcmul(drive_v, s.v, c.decay)
    i_syn = s.I_syn
    if drive_syn is not None:
        v = torch.addcmul(v, c.cross, i_syn)
        i_syn = torch.addcmul(drive_syn, i_syn, c.decay_syn)
    if c.ref_steps is None:
        z = spike(v - c.v_th)
        return z, LIFState(reset(v, z, c.v_reset), i_syn, s.refractory)
    remaining, active = refractory_tick(s.refractory)
    v = torch.where(active, v, s.v)
    z = spike(v - c.v_th) * active
    return z, LIFState(reset(v, z, c.v_reset), i_syn, refractory_start(z, remaining, c.ref_steps))


def lif_step(
    current: Tensor, state: LIFState, params: LIFParameters, dt: float, spike: SpikeFn | None = None
) -> tuple[Tensor, LIFState]:
    """Pure single step: coefficients from `params` for `dt` (s), then `lif_update`.

    `spike` defaults to the fast-sigmoid surrogate of width 1 mV.
    """
    spike = spike or functools.partial(get_surrogate("fast_sigmoid"), width=1e-3)
    c = lif_coefficients(params, dt)
    return lif_update(lif_drive(current, c), state, c, spike)


def _plain_scan(drive: Tensor, v0: Tensor, decay: Tensor, v_th: Tensor, v_reset: Tensor):
    """The non-refractory forward written into preallocated ``[T, B, N]`` buffers, three ops a step.

    The same arithmetic as `lif_update` (``addcmul``, step, ``lerp``), except that the spike test
    ``u > v_th`` replaces ``u - v_th > 0``: the same truth value in IEEE arithmetic with gradual
    underflow (the difference of two distinct finite floats is never 0 and has their order's sign).
    Returns ``(x, spikes, v)`` with ``x = u - v_th`` computed for all steps at once afterwards.
    """
    u, spikes, v = torch.empty_like(drive), torch.empty_like(drive), torch.empty_like(drive)
    prev = v0
    for d_t, u_t, z_t, v_t in zip(drive.unbind(0), u.unbind(0), spikes.unbind(0), v.unbind(0)):
        torch.addcmul(d_t, prev, decay, out=u_t)
        torch.gt(u_t, v_th, out=z_t)
        prev = torch.lerp(u_t, v_reset, z_t, out=v_t)
    return u.sub_(v_th), spikes, v


class _LIFScan(torch.autograd.Function):
    r"""A whole LIF sequence (no synapse) as one autograd node.

    Forward, with autograd off: without refractoriness `_plain_scan` (the same bits as the generic
    loop, no per-step allocation), otherwise `lif_update` step by step. Backward: the adjoint of
    that update. With :math:`u_t` the integrated potential (after the refractory hold),
    :math:`x_t = u_t - v_{th}`, :math:`a_t` = not refractory, spikes :math:`z_t`,
    :math:`v_t = \mathrm{lerp}(u_t, v_{reset}, z_t)` (reset detached, see `reset`),
    :math:`w_t = a_t\alpha + 1 - a_t` (:math:`\partial u_t/\partial v_{t-1}`) and
    :math:`h_t = \partial L/\partial u_t`:

    :math:`h_t = \bar z_t\,g(x_t)\,a_t + (1 - z_t)\,(\bar v^{direct}_t + w_{t+1} h_{t+1})`,
    a linear recursion backwards in time, one in-place ``addcmul`` a step (the products with
    :math:`1 - z_t \in \{0, 1\}` are exact, so this is the generic autograd chain up to the order
    of the additions); the gradient of the drive is :math:`a_t h_t`, of :math:`v_0` is
    :math:`w_0 h_0`; parameter gradients are sums over t and batch, everything else is computed
    for all steps at once.
    """

    @staticmethod
    def forward(ctx, drive, v0, decay, v_th, v_reset, ref0, c, surrogate, width):  # noqa: D401
        active = None
        if c.ref_steps is None:
            x, spikes, v = _plain_scan(drive, v0, decay, v_th, v_reset)
            ref = ref0
        else:
            c = c._replace(decay=decay, v_th=v_th, v_reset=v_reset)
            xs: list[Tensor] = []

            def record(x: Tensor) -> Tensor:  # the surrogate's forward, recording its argument
                xs.append(x)
                return heaviside(x)

            state = LIFState(v0, torch.zeros_like(v0), ref0)
            zs, vs, refs = [], [], []
            for d in drive.unbind(0):
                z, state = lif_update((d, None), state, c, record)
                zs.append(z)
                vs.append(state.v)
                refs.append(state.refractory)
            x, spikes, v, ref = torch.stack(xs), torch.stack(zs), torch.stack(vs), state.refractory
            active = refractory_tick(torch.stack([ref0] + refs[:-1]))[1]
        ctx.save_for_backward(x, spikes, v, v0, decay, v_th, v_reset, active)
        ctx.surrogate, ctx.width = surrogate, width
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(ref)
        return spikes, v, ref

    @staticmethod
    def backward(ctx, g_spikes, g_v, _):
        x, z, v, v0, decay, v_th, v_reset, active = ctx.saved_tensors
        need_decay, need_th, need_reset = ctx.needs_input_grad[2:5]
        if g_spikes is None:
            h = torch.zeros_like(x)
        else:
            h = surrogate_grad(ctx.surrogate, x, ctx.width).mul_(g_spikes)
        if active is not None:
            h.masked_fill_(~active, 0.0)
        g_th = -h.sum_to_size(v_th.shape) if need_th else None
        # m_t = (1 - z_t) w_{t+1}, exactly w_{t+1} or 0; w: [B, N] (constant) or [T, B, N]
        if active is None:
            w = w_first = w_next = decay
            m = torch.addcmul(decay, z[:-1], decay, value=-1.0)
        else:
            w = torch.where(active, decay, 1.0)
            w_first, w_next = w[0], w[1:]
            m = (1.0 - z[:-1]).mul_(w_next)
        if g_v is not None:
            h.addcmul_(g_v, 1.0 - z)
        hs, ms = h.unbind(0), m.unbind(0)
        for t in range(x.shape[0] - 2, -1, -1):  # h_t += m_t h_{t+1}, in place
            torch.addcmul(hs[t], ms[t], hs[t + 1], out=hs[t])
        g_v0 = w_first * h[0]
        g_reset = None
        if need_reset:  # dL/dv_t = g_v[t] + w_{t+1} h_{t+1} (only g_v[T-1] at the last step)
            g_reset = (z[:-1] * w_next * h[1:]).sum_to_size(v_reset.shape)
            if g_v is not None:
                g_reset = g_reset + (g_v * z).sum_to_size(v_reset.shape)
        g_drive = h if active is None else h.masked_fill_(~active, 0.0)
        g_decay = None
        if need_decay:  # u_t = drive_t + decay * v_{t-1}
            g_decay = (g_drive[0] * v0).sum_to_size(decay.shape)
            g_decay = g_decay + (g_drive[1:] * v[:-1]).sum_to_size(decay.shape)
        return g_drive, g_v0, g_decay, g_th, g_reset, None, None, None, None


class LIF(NeuronLayer):
    """Layer of N LIF neurons: ``layer(current[T, B, N]) -> spikes[T, B, N]``.

    Parameters
    ----------
    n_neurons: N.
    dt: time step, s.
    learn: names of intrinsic parameters to learn, e.g. ``("tau_mem", "v_th")``.
    per_neuron: one value per neuron (shape [N]) or one shared scalar per parameter.
    surrogate: surrogate name (`biofit.neurons.surrogate.SURROGATES`); width: its width, V.
    synaptic: use the ``lif_syn`` model (adds ``tau_syn`` and the ``I_syn`` state).
    **params: parameter values, SI (``tau_mem``, ``R``, ``v_rest``, ``v_reset``, ``v_th``,
        ``t_ref``, ``tau_syn``); defaults and bounds from `biofit.models`.
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
        synaptic: bool = False,
        **params: object,
    ) -> None:
        model = get_model("lif_syn" if synaptic else "lif")
        super().__init__(model, n_neurons, dt, params, learn, per_neuron)
        self._use_surrogate(surrogate, width)

    def _coefficients(self, params: dict[str, Tensor], dt: float) -> LIFCoefficients:
        names = LIFParameters._fields[:-1]
        return lif_coefficients(LIFParameters(*(params[k] for k in names), params.get("tau_syn")), dt)

    def _initial_state(self, batch_size: int, params: dict[str, Tensor]) -> LIFState:
        v_rest = params["v_rest"]
        v = v_rest.expand(batch_size, self.n_neurons).clone()
        zeros = torch.zeros_like(v)
        return LIFState(v, zeros, zeros.clone())

    def _drive(self, current: Tensor, c: LIFCoefficients) -> list:
        drive_v, drive_syn = lif_drive(current, c)
        if drive_syn is None:
            return [(d, None) for d in drive_v.unbind(0)]
        return list(zip(drive_v.unbind(0), drive_syn.unbind(0)))

    def _update(self, drive, state: LIFState, c: LIFCoefficients) -> tuple[Tensor, LIFState]:
        return lif_update(drive, state, c, self._spike)

    def _scan(self, current: Tensor, state: LIFState, c: LIFCoefficients, record: bool):
        if c.decay_syn is not None:
            return super()._scan(current, state, c, record)
        # [N] coefficients materialised at [B, N]: a [T, B, N] op broadcasting an [N] vector runs
        # T * B inner loops of N elements (several times slower at N = 100, worse at N = 10); at
        # [B, N] it runs T loops of B * N. Elementwise the arithmetic, so the bits, are the same.
        c = c._replace(**{k: getattr(c, k).expand_as(state.v).contiguous()
                          for k in ("decay", "gain", "bias", "v_th", "v_reset")})
        drive = lif_drive(current, c)[0]
        spikes, v, ref = _LIFScan.apply(
            drive, state.v, c.decay, c.v_th, c.v_reset, state.refractory, c, self.surrogate, self.width
        )
        return spikes, ({"v": v} if record else None), LIFState(v[-1], state.I_syn, ref)
