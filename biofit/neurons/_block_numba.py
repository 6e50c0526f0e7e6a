r"""Compiled CPU kernel of the Block-ALIF layer: a fused forward scan and its hand-written adjoint.

On a CPU the parallel form of a block (2311.11390: a Toeplitz convolution, a cumulative crossing
count, masks) buys no parallelism; what it buys is the block structure itself: with the recurrent
input delayed by the block length L (``x[t] += W_v z[t - L]``), every block's recurrent input is
one matmul of the previous block's spikes. `scan_alif` keeps that structure (one BLAS matmul per
block, between blocks) and evaluates each block's convolution by its recursion in compiled code
(numba, one pass, O(L) per element instead of the Toeplitz matmul's O(L^2)), which gives the
same spikes as the closed form of `biofit.neurons._block_kernels` (whose first crossing is the
recursion's first crossing; inside a block a neuron fires at most once since L <= K).

Step t, per neuron i and batch b, with drive :math:`x_t` (V, `biofit.neurons.alif.alif_drive`
plus the recurrent input), :math:`\alpha = e^{-dt/\tau_{mem}}`, :math:`\rho = e^{-dt/\tau_{adapt}}`,
refractory length K (steps) -- the scheme of `biofit.neurons.alif.alif_update`:

.. math::
    r' = \max(r - 1, 0), \quad \text{act} = [r' = 0], \quad
    \hat v = \text{act}\,(x_t + \alpha v) + (1 - \text{act})\,v, \quad a' = \rho a, \\
    d_t = \hat v - v_{th} - a', \quad z_t = \text{act}\,H(d_t), \quad
    v \leftarrow z_t v_{reset} + (1 - z_t)\hat v, \quad a \leftarrow a' + \beta z_t, \quad
    r \leftarrow z_t K + (1 - z_t) r'.

Backward (the gradient convention of `biofit.neurons.block_alif`): :math:`\partial z_t/\partial d_t
= \text{act}\, g(d_t)` with g the surrogate derivative (`biofit.neurons.surrogate.surrogate_grad`),
and :math:`z_t` a constant in the reset and in :math:`a \mathrel{+}= \beta z_t`. The adjoints
:math:`\bar v, \bar a` run backward in time through the same recursion; the parameter gradients are
accumulated per neuron in float64. Layout: every sequence is ``[T, B, N]`` (C-contiguous), state
``[B, N]``, per-neuron constants ``[N]``.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit
from torch import Tensor

from biofit.neurons.surrogate import surrogate_grad

_ACTIVE, _FIRED = 1, 2


@njit(cache=True)
def _forward_steps(x, v, a, r, alpha, rho, v_th, beta, v_reset, k_ref, z, v_tr, a_tr, dist, flag,
                   t0, t1):
    """Steps t0 .. t1-1 of the scheme above; state `v`, `a`, `r` ``[B, N]`` updated in place."""
    n_b, n_n = v.shape
    for t in range(t0, t1):
        for b in range(n_b):
            for i in range(n_n):
                left = r[b, i] - 1.0
                if left < 0.0:
                    left = 0.0
                active = left == 0.0
                vn = x[t, b, i] + alpha[i] * v[b, i] if active else v[b, i]
                an = a[b, i] * rho[i]
                d = vn - v_th[i] - an
                fired = active and d > 0.0
                dist[t, b, i] = d
                if fired:
                    z[t, b, i] = 1.0
                    vn = v_reset[i]
                    an = an + beta[i]
                    left = k_ref[i]
                    flag[t, b, i] = _ACTIVE | _FIRED
                else:
                    z[t, b, i] = 0.0
                    flag[t, b, i] = _ACTIVE if active else 0
                v[b, i] = vn
                a[b, i] = an
                r[b, i] = left
                v_tr[t, b, i] = vn
                a_tr[t, b, i] = an


@njit(cache=True)
def _backward_steps(g_z, g_v_tr, g_a_tr, has_v, has_a, surr, flag, v_tr, a_tr, v0, a0, alpha, rho,
                    g_v, g_a, g_x, g_alpha, g_rho, g_vth, g_beta, g_vreset, t0, t1):
    """Adjoint of `_forward_steps` for steps t1-1 down to t0.

    `g_v`, `g_a` ``[B, N]`` hold the adjoints of v and a after step t1-1 on entry and before step
    t0 on exit; `g_x` ``[T, B, N]`` receives the drive's gradient; the parameter gradients
    ``[N]`` (float64) are accumulated.
    """
    n_b, n_n = g_v.shape
    for t in range(t1 - 1, t0 - 1, -1):
        for b in range(n_b):
            for i in range(n_n):
                gv = g_v[b, i]
                ga = g_a[b, i]
                if has_v:
                    gv += g_v_tr[t, b, i]
                if has_a:
                    ga += g_a_tr[t, b, i]
                f = flag[t, b, i]
                if f & _FIRED:
                    g_vreset[i] += gv
                    g_beta[i] += ga
                    gv = 0.0
                if f & _ACTIVE:
                    gd = g_z[t, b, i] * surr[t, b, i]
                    gv += gd
                    ga -= gd
                    g_vth[i] -= gd
                v_old = v_tr[t - 1, b, i] if t > 0 else v0[b, i]
                a_old = a_tr[t - 1, b, i] if t > 0 else a0[b, i]
                if f & _ACTIVE:
                    g_x[t, b, i] = gv
                    g_alpha[i] += gv * v_old
                    gv = gv * alpha[i]
                else:
                    g_x[t, b, i] = 0.0
                g_rho[i] += ga * a_old
                g_v[b, i] = gv
                g_a[b, i] = ga * rho[i]


def _np(x: Tensor) -> np.ndarray:
    return x.detach().numpy()


class _ScanALIF(torch.autograd.Function):
    """`scan_alif` as one autograd node (inputs and outputs as documented there)."""

    @staticmethod
    def forward(ctx, drive, v0, a0, ref0, alpha, rho, v_th, beta, v_reset, k_ref, weight_v, pending,
                length, detach_recurrent, surrogate, width):
        t_len, batch, n = drive.shape
        recurrent = weight_v is not None
        x = drive.detach().clone(memory_format=torch.contiguous_format) if recurrent else \
            drive.detach().contiguous()
        spikes, v_tr, a_tr, dist = (torch.empty_like(x) for _ in range(4))
        flag = torch.empty(x.shape, dtype=torch.uint8)
        v, a, r = (s.detach().clone(memory_format=torch.contiguous_format) for s in (v0, a0, ref0))
        consts = [_np(c.detach().contiguous()) for c in (alpha, rho, v_th, beta, v_reset, k_ref)]
        arrays = [_np(x), _np(v), _np(a), _np(r), *consts, _np(spikes), _np(v_tr), _np(a_tr),
                  _np(dist), _np(flag)]
        if not recurrent:
            _forward_steps(*arrays, 0, t_len)
        else:
            w_t = weight_v.detach().t()
            for t0 in range(0, t_len, length):
                t1 = min(t0 + length, t_len)
                pre = pending[: t1 - t0] if t0 == 0 else spikes[t0 - length : t1 - length]
                x[t0:t1].view(-1, n).addmm_(pre.detach().reshape(-1, n), w_t)
                _forward_steps(*arrays, t0, t1)
        ctx.save_for_backward(spikes, v_tr, a_tr, dist, flag, v0.detach(), a0.detach(),
                              alpha.detach(), rho.detach(),
                              weight_v.detach() if recurrent else None, pending.detach())
        ctx.settings = (length, bool(detach_recurrent), surrogate, width)
        ctx.mark_non_differentiable(r)
        ctx.set_materialize_grads(False)
        return spikes, v_tr, a_tr, r

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_spikes, g_v_tr, g_a_tr, _g_r):
        spikes, v_tr, a_tr, dist, flag, v0, a0, alpha, rho, weight_v, pending = ctx.saved_tensors
        length, detach_recurrent, surrogate, width = ctx.settings
        t_len, batch, n = spikes.shape
        dtype = spikes.dtype
        dummy = torch.zeros(1, 1, 1, dtype=dtype)
        g_z = torch.zeros_like(spikes) if g_spikes is None else g_spikes.contiguous()
        through_spikes = weight_v is not None and not detach_recurrent
        if through_spikes:
            g_z = g_z.clone()  # the recurrent gradient is added to it block by block
        surr = surrogate_grad(surrogate, dist, width)
        g_x = torch.empty_like(spikes)
        g_v, g_a = torch.zeros_like(v0), torch.zeros_like(a0)
        acc = [torch.zeros(n, dtype=torch.float64) for _ in range(5)]  # alpha, rho, v_th, beta, v_reset
        arrays = [_np(g_z), _np(dummy if g_v_tr is None else g_v_tr.contiguous()),
                  _np(dummy if g_a_tr is None else g_a_tr.contiguous()), g_v_tr is not None,
                  g_a_tr is not None, _np(surr), _np(flag), _np(v_tr), _np(a_tr),
                  _np(v0.contiguous()), _np(a0.contiguous()), _np(alpha.contiguous()),
                  _np(rho.contiguous()), _np(g_v), _np(g_a), _np(g_x), *(_np(x) for x in acc)]
        g_pending = None
        if through_spikes:
            g_pending = torch.zeros_like(pending)
            starts = list(range(0, t_len, length))
            for t0 in reversed(starts):
                t1 = min(t0 + length, t_len)
                _backward_steps(*arrays, t0, t1)
                g_pre = (g_x[t0:t1].view(-1, n) @ weight_v).view(t1 - t0, batch, n)
                if t0 == 0:
                    g_pending[: t1 - t0] += g_pre
                else:
                    g_z[t0 - length : t1 - length] += g_pre
        else:
            _backward_steps(*arrays, 0, t_len)
        g_w = None
        if weight_v is not None and ctx.needs_input_grad[10]:
            first = min(length, t_len)
            g_w = g_x[:first].reshape(-1, n).t() @ pending[:first].reshape(-1, n)
            if t_len > length:
                g_w.addmm_(g_x[length:].reshape(-1, n).t(), spikes[: t_len - length].reshape(-1, n))
        g_alpha, g_rho, g_vth, g_beta, g_vreset = (x.to(dtype) for x in acc)
        return (g_x, g_v, g_a, None, g_alpha, g_rho, g_vth, g_beta, g_vreset, None, g_w, g_pending,
                None, None, None, None)


def scan_alif(drive: Tensor, v0: Tensor, a0: Tensor, ref0: Tensor, alpha: Tensor, rho: Tensor,
              v_th: Tensor, beta: Tensor, v_reset: Tensor, k_ref: Tensor, weight_v: Tensor | None,
              pending: Tensor, length: int, detach_recurrent: bool, surrogate: str, width: float):
    """Simulate the ALIF layer on CPU, blocks of `length` steps: ``(spikes, v, a, refractory)``.

    `drive` ``float[T, B, N]`` (V, `alif_drive` of the external current); initial state `v0` (V),
    `a0` (V), `ref0` (steps left) ``[B, N]``; per-neuron ``[N]``: `alpha`, `rho` (decays per step),
    `v_th`, `beta`, `v_reset` (V), `k_ref` (refractory length K, steps, float). Recurrent input
    (`weight_v` ``[N, N]``, V per spike, gain folded in; None for none): ``x[t] += weight_v
    z[t - length]``, with ``z[t - length]`` taken from `pending` ``[length, B, N]`` for t <
    length; `detach_recurrent` stops the gradient through those spikes. `surrogate`, `width`: the
    spike's pseudo-derivative (`biofit.neurons.surrogate`). Returns spikes, v and a after each step
    (after any reset), each ``[T, B, N]``, and the refractory count ``[B, N]`` after the last step
    (not differentiable). All tensors on the CPU, of one floating dtype.
    """
    return _ScanALIF.apply(drive, v0, a0, ref0, alpha, rho, v_th, beta, v_reset, k_ref, weight_v,
                           pending, length, detach_recurrent, surrogate, width)
