r"""Fast path: a one-variable affine neuron (LIF and its kind) as one fused autograd node.

Applies to every generated step of the form (`biofit.neurons.torchgen`, affine case)

.. math::
    u_t = d_t + \alpha\, v_{t-1}, \quad z_t = H(u_t - \vartheta)\,a_t, \quad
    v_t = \mathrm{lerp}(u_t, v_{reset}, z_t)

with the drive :math:`d_t` (``d`` of the generated code), the constants :math:`\alpha`,
:math:`\vartheta`, :math:`v_{reset}` (``k``), a threshold ``v > constant``, a reset
``v = constant``, and :math:`a_t` = not refractory (the variable frozen while refractory). The
forward runs that recursion with autograd off, writing into preallocated ``[T, B, N]`` buffers
(the same products and sums as the generated step, in the same order: equal bit for bit, tested),
and the backward is its hand-derived adjoint: with :math:`x_t = u_t - \vartheta`,
:math:`w_t = a_t\alpha + 1 - a_t` (:math:`\partial u_t/\partial v_{t-1}`) and
:math:`h_t = \partial L/\partial u_t`,

.. math::
    h_t = \bar z_t\,g(x_t)\,a_t + (1 - z_t)\,(\bar v_t + w_{t+1} h_{t+1}),

a linear recursion backwards in time, one in-place ``addcmul`` a step (the reset's spike detached,
as in the generated step); the drive's gradient is :math:`a_t h_t`, :math:`v_0`'s is
:math:`w_0 h_0`, the parameters' are sums over time and batch. This removes the per-step graph
bookkeeping and allocations that dominate small layers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import Tensor

from biofit.neurons.refractory import refractory_start, refractory_tick
from biofit.neurons.surrogate import surrogate_grad
from biofit.neurons.torchgen import GeneratedCode

_K = re.compile(r"k\[(\d+)\]$")


@dataclass(frozen=True)
class FusedForm:
    """Where the fused scan reads its pieces: ``d[drive]``, ``k[decay]``, ``k[threshold]``, ``k[reset]``."""

    drive: int
    decay: int
    threshold: int
    reset: int


def _slot(ref: str) -> int | None:
    match = _K.match(ref)
    return int(match.group(1)) if match else None


def fused_form(code: GeneratedCode) -> FusedForm | None:
    """The `FusedForm` of `code` if its step has the form of the module docstring, else None."""
    st, aff = code.step, code.affine
    if aff is None or len(st.variables) != 1 or st.noise or st.jump_inputs or st.threshold_kind != "strict":
        return None
    var = st.variables[0]
    if st.refractory is not None and var not in st.frozen:
        return None
    if aff.drive.get(var) is None or set(aff.coupling.get(var, {})) != {var}:
        return None
    lhs, rhs = code.threshold_refs
    reset = code.reset_refs
    if lhs != "s_0" or _slot(rhs) is None or len(reset) != 1 or reset[0][:2] != (var, "="):
        return None
    if _slot(reset[0][2]) is None:
        return None
    return FusedForm(aff.drive[var], aff.coupling[var][var], _slot(rhs), _slot(reset[0][2]))


def _plain_forward(drive: Tensor, v0: Tensor, decay: Tensor, v_th: Tensor, v_reset: Tensor):
    """No refractoriness: four ops a step into preallocated buffers; returns ``(x, spikes, v)``.

    ``u > v_th`` stands for ``u - v_th > 0``: the same truth value in IEEE arithmetic with gradual
    underflow (the difference of two distinct finite floats is never 0 and has their order's sign).
    """
    u, spikes, v = torch.empty_like(drive), torch.empty_like(drive), torch.empty_like(drive)
    prev = v0
    for d_t, u_t, z_t, v_t in zip(drive.unbind(0), u.unbind(0), spikes.unbind(0), v.unbind(0)):
        torch.mul(prev, decay, out=u_t)
        u_t.add_(d_t)
        torch.gt(u_t, v_th, out=z_t)
        prev = torch.lerp(u_t, v_reset, z_t, out=v_t)
    return u.sub_(v_th), spikes, v


def _refractory_forward(drive, v0, decay, v_th, v_reset, ref0, k_ref):
    """With refractoriness: the generated step's order (hold, threshold where active, reset)."""
    xs, zs, vs, actives = [], [], [], []
    v, r = v0, ref0
    for d_t in drive.unbind(0):
        r, active = refractory_tick(r)
        u = torch.where(active, d_t + decay * v, v)
        x = u - v_th
        z = (x > 0).to(x.dtype) * active
        v = torch.lerp(u, v_reset, z)
        r = refractory_start(z, r, k_ref)
        xs.append(x)
        zs.append(z)
        vs.append(v)
        actives.append(active)
    return torch.stack(xs), torch.stack(zs), torch.stack(vs), r, torch.stack(actives)


class _FusedScan(torch.autograd.Function):
    """The whole sequence as one autograd node (module docstring)."""

    @staticmethod
    def forward(ctx, drive, v0, decay, v_th, v_reset, ref0, k_ref, surrogate, width):  # noqa: D401
        active = None
        if k_ref is None:
            x, spikes, v = _plain_forward(drive, v0, decay, v_th, v_reset)
            ref = ref0
        else:
            x, spikes, v, ref, active = _refractory_forward(drive, v0, decay, v_th, v_reset, ref0, k_ref)
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
            w_first = w_next = decay
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


def fused_scan(form: FusedForm, drive: tuple, k: tuple, k_ref: Tensor | None, state, state_type,
               surrogate: str, width: float, record: bool):
    """Run the fused node: ``(spikes[T, B, N], {"v": ...} or None, final state)``.

    The ``[N]`` constants are materialised at ``[B, N]``: a ``[T, B, N]`` op broadcasting an
    ``[N]`` vector runs T * B inner loops of N elements (several times slower at N = 100); at
    ``[B, N]`` it runs T loops of B * N. Elementwise, so the bits are the same.
    """
    v0, ref0 = state[0], state[-1]
    decay, v_th, v_reset = (torch.as_tensor(k[i]).to(v0).expand_as(v0).contiguous()
                            for i in (form.decay, form.threshold, form.reset))
    k_ref = None if k_ref is None else k_ref.expand_as(v0).contiguous()
    spikes, v, ref = _FusedScan.apply(drive[form.drive], v0, decay, v_th, v_reset, ref0, k_ref,
                                      surrogate, width)
    return spikes, ({"v": v} if record else None), state_type(v[-1], ref)
