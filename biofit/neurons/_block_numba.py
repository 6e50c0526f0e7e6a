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
def _forward_steps(cur, gain, bias, rec, has_rec, v, a, r, alpha, rho, v_th, beta, v_reset, k_ref,
                   z, v_tr, a_tr, dist, flag, t0, t1):
    """Steps t0 .. t1-1 of the scheme above; state `v`, `a`, `r` ``[B, N]`` updated in place.

    Drive ``x_t = bias + gain I_t (+ rec[t - t0])``, `rec` the block's recurrent input if `has_rec`.
    """
    n_b, n_n = v.shape
    for t in range(t0, t1):
        for b in range(n_b):
            for i in range(n_n):
                left = r[b, i] - 1.0
                if left < 0.0:
                    left = 0.0
                active = left == 0.0
                vn = v[b, i]
                if active:
                    x = bias[i] + gain[i] * cur[t, b, i]
                    if has_rec:
                        x = x + rec[t - t0, b, i]
                    vn = x + alpha[i] * vn
                an = a[b, i] * rho[i]
                d = vn - v_th[i] - an
                dist[t, b, i] = d
                if active and d > 0.0:
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
def _backward_steps(g_z, g_v_tr, g_a_tr, has_v, has_a, flag, v_tr, a_tr, v0, a0, cur, gain, alpha,
                    rho, g_v, g_a, surr_g_cur, g_x, has_x, g_gain, g_bias, g_alpha, g_rho, g_vth,
                    g_beta, g_vreset, t0, t1):
    """Adjoint of `_forward_steps` for steps t1-1 down to t0.

    `g_v`, `g_a` ``[B, N]`` hold the adjoints of v and a after step t1-1 on entry and before step
    t0 on exit; `surr_g_cur` ``[T, B, N]`` holds the surrogate derivative g(d_t) on entry and the
    current's gradient on exit (overwritten step by step: one buffer less); if `has_x`, `g_x`
    ``[L, B, N]`` the drive's (at ``t - t0``); the parameter gradients ``[N]`` (float64) are
    accumulated.
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
                gx = 0.0
                if f & _ACTIVE:
                    gd = g_z[t, b, i] * surr_g_cur[t, b, i]
                    gv += gd
                    ga -= gd
                    g_vth[i] -= gd
                    gx = gv
                    g_alpha[i] += gv * (v_tr[t - 1, b, i] if t > 0 else v0[b, i])
                    g_gain[i] += gv * cur[t, b, i]
                    g_bias[i] += gv
                    gv = gv * alpha[i]
                surr_g_cur[t, b, i] = gain[i] * gx
                if has_x:
                    g_x[t - t0, b, i] = gx
                g_rho[i] += ga * (a_tr[t - 1, b, i] if t > 0 else a0[b, i])
                g_v[b, i] = gv
                g_a[b, i] = ga * rho[i]


@njit(cache=True)
def _spike_input(pre, weight_t, out):
    """``out[s, b, i] = sum_j pre[s, b, j] weight_t[j, i]`` over the nonzero ``pre`` (spikes are
    sparse: N operations per spike instead of N^2 per step)."""
    n_s, n_b, n_pre = pre.shape
    n_post = weight_t.shape[1]
    for s in range(n_s):
        for b in range(n_b):
            for i in range(n_post):
                out[s, b, i] = 0.0
            for j in range(n_pre):
                p = pre[s, b, j]
                if p != 0.0:
                    for i in range(n_post):
                        out[s, b, i] += p * weight_t[j, i]


@njit(cache=True)
def _spike_weight_grad(pre, g_x, g_weight_t):
    """``g_weight_t[j, i] += sum_{s, b} pre[s, b, j] g_x[s, b, i]`` over the nonzero ``pre``."""
    n_s, n_b, n_pre = pre.shape
    n_post = g_x.shape[2]
    for s in range(n_s):
        for b in range(n_b):
            for j in range(n_pre):
                p = pre[s, b, j]
                if p != 0.0:
                    for i in range(n_post):
                        g_weight_t[j, i] += p * g_x[s, b, i]


def _np(x: Tensor) -> np.ndarray:
    return x.detach().numpy()


class _ScanALIF(torch.autograd.Function):
    """`scan_alif` as one autograd node (inputs and outputs as documented there)."""

    @staticmethod
    def forward(ctx, current, gain, bias, v0, a0, ref0, alpha, rho, v_th, beta, v_reset, k_ref,
                weight_v, pending, length, detach_recurrent, surrogate, width):
        t_len, batch, n = current.shape
        cur = current.detach().contiguous()
        spikes, v_tr, a_tr, dist = (torch.empty_like(cur) for _ in range(4))
        flag = torch.empty(cur.shape, dtype=torch.uint8)
        v, a, r = (s.detach().clone(memory_format=torch.contiguous_format) for s in (v0, a0, ref0))
        consts = [_np(c.detach().contiguous()) for c in (alpha, rho, v_th, beta, v_reset, k_ref)]
        state = [_np(v), _np(a), _np(r), *consts, _np(spikes), _np(v_tr), _np(a_tr), _np(dist),
                 _np(flag)]
        head = [_np(cur), _np(gain.detach().contiguous()), _np(bias.detach().contiguous())]
        if weight_v is None:
            _forward_steps(*head, _np(cur[:1]), False, *state, 0, t_len)
        else:
            w_t = _np(weight_v.detach().t().contiguous())
            rec = torch.empty(min(length, t_len), batch, n, dtype=cur.dtype)
            for t0, t1, pre in _blocks(t_len, length, spikes, pending.detach()):
                _spike_input(_np(pre.contiguous()), w_t, _np(rec[: t1 - t0]))
                _forward_steps(*head, _np(rec), True, *state, t0, t1)
        ctx.save_for_backward(cur, gain.detach(), spikes, v_tr, a_tr, dist, flag, v0.detach(),
                              a0.detach(), alpha.detach(), rho.detach(),
                              None if weight_v is None else weight_v.detach(), pending.detach())
        ctx.settings = (length, bool(detach_recurrent), surrogate, width)
        ctx.mark_non_differentiable(r)
        ctx.set_materialize_grads(False)
        return spikes, v_tr, a_tr, r

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_spikes, g_v_tr, g_a_tr, _g_r):
        (cur, gain, spikes, v_tr, a_tr, dist, flag, v0, a0, alpha, rho, weight_v,
         pending) = ctx.saved_tensors
        length, detach_recurrent, surrogate, width = ctx.settings
        t_len, batch, n = spikes.shape
        dtype = spikes.dtype
        dummy = torch.zeros(1, 1, 1, dtype=dtype)
        through_spikes = weight_v is not None and not detach_recurrent
        if g_spikes is None:
            g_z = torch.zeros_like(spikes) if through_spikes else dummy.expand_as(spikes)
        elif through_spikes:  # the recurrent gradient is added to it block by block
            g_z = g_spikes.clone(memory_format=torch.contiguous_format)
        else:  # any strides (the gradient of a sum is an expanded scalar): no copy
            g_z = g_spikes
        g_cur = surrogate_grad(surrogate, dist, width)  # becomes the current's gradient in place
        g_v, g_a = torch.zeros_like(v0).contiguous(), torch.zeros_like(a0).contiguous()
        acc = [torch.zeros(n, dtype=torch.float64) for _ in range(7)]
        head = [_np(g_z), _np(dummy if g_v_tr is None else g_v_tr.contiguous()),
                _np(dummy if g_a_tr is None else g_a_tr.contiguous()), g_v_tr is not None,
                g_a_tr is not None, _np(flag), _np(v_tr), _np(a_tr),
                _np(v0.contiguous()), _np(a0.contiguous()), _np(cur), _np(gain.contiguous()),
                _np(alpha.contiguous()), _np(rho.contiguous()), _np(g_v), _np(g_a), _np(g_cur)]
        tail = [_np(x) for x in acc]
        g_w = g_pending = None
        if weight_v is None:
            _backward_steps(*head, _np(dummy), False, *tail, 0, t_len)
        else:
            g_w_t = torch.zeros(n, n, dtype=torch.float64)
            g_x = torch.empty(min(length, t_len), batch, n, dtype=dtype)
            g_pending = torch.zeros_like(pending) if through_spikes else None
            for t0, t1, pre in reversed(list(_blocks(t_len, length, spikes, pending))):
                _backward_steps(*head, _np(g_x), True, *tail, t0, t1)
                g_block = g_x[: t1 - t0].view(-1, n)
                _spike_weight_grad(_np(pre.contiguous()), _np(g_x[: t1 - t0]), _np(g_w_t))
                if through_spikes:
                    g_pre = g_z[t0 - length : t1 - length] if t0 > 0 else g_pending[: t1 - t0]
                    g_pre.view(-1, n).addmm_(g_block, weight_v)
            g_w = g_w_t.t().to(dtype)
        g_gain, g_bias, g_alpha, g_rho, g_vth, g_beta, g_vreset = (x.to(dtype) for x in acc)
        return (g_cur, g_gain, g_bias, g_v, g_a, None, g_alpha, g_rho, g_vth, g_beta, g_vreset,
                None, g_w, g_pending, None, None, None, None)


def _blocks(t_len: int, length: int, spikes: Tensor, pending: Tensor):
    """``(t0, t1, z[t0 - length : t1 - length])`` for each block, the first one's from `pending`."""
    for t0 in range(0, t_len, length):
        t1 = min(t0 + length, t_len)
        yield t0, t1, pending[: t1 - t0] if t0 == 0 else spikes[t0 - length : t1 - length]


def scan_alif(current: Tensor, gain: Tensor, bias: Tensor, v0: Tensor, a0: Tensor, ref0: Tensor,
              alpha: Tensor, rho: Tensor, v_th: Tensor, beta: Tensor, v_reset: Tensor,
              k_ref: Tensor, weight_v: Tensor | None, pending: Tensor, length: int,
              detach_recurrent: bool, surrogate: str, width: float):
    """Simulate the ALIF layer on CPU, blocks of `length` steps: ``(spikes, v, a, refractory)``.

    `current` ``float[T, B, N]`` (A); drive ``x = bias + gain I`` with per-neuron ``[N]`` `gain`
    (V/A) and `bias` (V) (`biofit.neurons.alif.alif_drive`); initial state `v0` (V), `a0` (V),
    `ref0` (steps left) ``[B, N]``; per-neuron ``[N]``: `alpha`, `rho` (decays per step), `v_th`,
    `beta`, `v_reset` (V), `k_ref` (refractory length K, steps, float). Recurrent input
    (`weight_v` ``[N, N]``, V per spike, gain folded in; None for none): ``x[t] += weight_v
    z[t - length]``, with ``z[t - length]`` taken from `pending` ``[length, B, N]`` for t <
    length; `detach_recurrent` stops the gradient through those spikes. `surrogate`, `width`: the
    spike's pseudo-derivative (`biofit.neurons.surrogate`). Returns spikes, v and a after each step
    (after any reset), each ``[T, B, N]``, and the refractory count ``[B, N]`` after the last step
    (not differentiable). All tensors on the CPU, of one floating dtype.
    """
    return _ScanALIF.apply(current, gain, bias, v0, a0, ref0, alpha, rho, v_th, beta, v_reset,
                           k_ref, weight_v, pending, length, detach_recurrent, surrogate, width)
