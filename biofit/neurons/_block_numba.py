r"""Compiled CPU kernel of the Block-ALIF layer: a fused forward scan and its hand-written adjoint.

On a CPU the parallel form of a block (2311.11390: a Toeplitz convolution, a cumulative crossing
count, masks) buys no parallelism; what it buys is the block structure itself: with the recurrent
input delayed by the block length L (``x[t] += W_v z[t - L]``), a whole block's recurrent input
is known from the previous block's spikes. `scan_alif` keeps that structure and evaluates each
block's convolution by its recursion in compiled code (numba; one pass, O(L) per element instead
of the Toeplitz matmul's O(L^2)), which gives the same spikes as the closed form of
`biofit.neurons._block_kernels` (whose first crossing is the recursion's first crossing; inside a
block a neuron fires at most once since L <= K). Three more choices make it fast on a CPU:

* the recurrent input is event-driven: a spike of neuron j adds column j of ``W_v`` (N operations
  per spike instead of N^2 per step of a dense matmul), and so is the weight gradient;
* the drive ``bias + gain I`` is computed inside the scan and its gradient (current, gain, bias)
  inside the adjoint, with no ``[T, B, N]`` temporaries;
* checkpointing per chunk of whole blocks (`_chunks`): the forward keeps only the spikes and the
  state at each chunk start; the backward recomputes a chunk (same kernel, same inputs: bit for
  bit) into chunk-sized buffers and runs its adjoint there. Memory is O(T B N) for the spikes and
  O(chunk B N) otherwise, and large buffers are not allocated and page-faulted on every call.

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
``[B, N]``, per-neuron constants ``[N]``. `biofit.neurons.block_alif` tests this kernel against
the Toeplitz kernel and against a step loop of the model equations (spikes, traces, gradients).
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
                   z, off_z, v_tr, a_tr, off_va, dist, flag, off, t0, t1):
    """Steps t0 .. t1-1 of the scheme above; state `v`, `a`, `r` ``[B, N]`` updated in place.

    Drive ``x_t = bias + gain I_t (+ rec[t - t0])``, `rec` the recurrent input if `has_rec`.
    Step t writes ``z[t - off_z]``, ``v_tr[t - off_va]``, ``a_tr[t - off_va]`` (v and a after the
    step) and ``dist[t - off]`` (``d_t``), ``flag[t - off]`` (active, fired bits).
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
                dist[t - off, b, i] = d
                if active and d > 0.0:
                    z[t - off_z, b, i] = 1.0
                    vn = v_reset[i]
                    an = an + beta[i]
                    left = k_ref[i]
                    flag[t - off, b, i] = _ACTIVE | _FIRED
                else:
                    z[t - off_z, b, i] = 0.0
                    flag[t - off, b, i] = _ACTIVE if active else 0
                v[b, i] = vn
                a[b, i] = an
                r[b, i] = left
                v_tr[t - off_va, b, i] = vn
                a_tr[t - off_va, b, i] = an


@njit(cache=True)
def _backward_steps(g_z, g_v_tr, g_a_tr, has_v, has_a, surr, flag, v_tr, a_tr, v_start, a_start,
                    cur, gain, alpha, rho, g_v, g_a, g_cur, g_x, has_x, g_gain, g_bias, g_alpha,
                    g_rho, g_vth, g_beta, g_vreset, off, t0, t1):
    """Adjoint of `_forward_steps` for steps t1-1 down to t0.

    `surr` (surrogate derivative of ``d_t``), `flag`, `v_tr`, `a_tr` (v and a after each step) are
    the chunk's, indexed ``[t - off]``; `v_start`, `a_start` ``[B, N]``: v and a before step off.
    `g_v`, `g_a` ``[B, N]`` hold the adjoints of v and a after step t1-1 on entry and before step
    t0 on exit; `g_cur` ``[T, B, N]`` receives the current's gradient and, if `has_x`, `g_x` the
    drive's (at ``t - t0``); the parameter gradients ``[N]`` (float64) are accumulated.
    """
    n_b, n_n = g_v.shape
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - off
        for b in range(n_b):
            for i in range(n_n):
                gv = g_v[b, i]
                ga = g_a[b, i]
                if has_v:
                    gv += g_v_tr[t, b, i]
                if has_a:
                    ga += g_a_tr[t, b, i]
                f = flag[k, b, i]
                if f & _FIRED:
                    g_vreset[i] += gv
                    g_beta[i] += ga
                    gv = 0.0
                gx = 0.0
                if f & _ACTIVE:
                    gd = g_z[t, b, i] * surr[k, b, i]
                    gv += gd
                    ga -= gd
                    g_vth[i] -= gd
                    gx = gv
                    g_alpha[i] += gv * (v_tr[k - 1, b, i] if k > 0 else v_start[b, i])
                    g_gain[i] += gv * cur[t, b, i]
                    g_bias[i] += gv
                    gv = gv * alpha[i]
                g_cur[t, b, i] = gain[i] * gx
                if has_x:
                    g_x[t - t0, b, i] = gx
                g_rho[i] += ga * (a_tr[k - 1, b, i] if k > 0 else a_start[b, i])
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


@njit(cache=True)
def _forward_chunk(cur, gain, bias, spikes, pending, weight_t, has_rec, rec, length, v, a, r, alpha,
                   rho, v_th, beta, v_reset, k_ref, z, off_z, v_tr, a_tr, off_va, dist, flag, c0,
                   c1):
    """Steps c0 .. c1-1, block by block (blocks of `length` steps from t = 0): the block's
    recurrent input from the spikes `length` steps earlier (`pending` for the first block), then
    `_forward_steps` (``dist``, ``flag`` indexed from c0)."""
    t0 = c0
    while t0 < c1:
        t1 = min(t0 + length, c1)
        if has_rec:
            if t0 == 0:
                _spike_input(pending[: t1 - t0], weight_t, rec)
            else:
                _spike_input(spikes[t0 - length : t1 - length], weight_t, rec)
        _forward_steps(cur, gain, bias, rec, has_rec, v, a, r, alpha, rho, v_th, beta, v_reset,
                       k_ref, z, off_z, v_tr, a_tr, off_va, dist, flag, c0, t0, t1)
        t0 = t1


@njit(cache=True)
def _backward_chunk(g_z, g_v_tr, g_a_tr, has_v, has_a, surr, flag, v_tr, a_tr, v_start, a_start,
                    cur, gain, alpha, rho, g_v, g_a, g_cur, g_x, spikes, pending, has_rec, length,
                    g_weight_t, g_gain, g_bias, g_alpha, g_rho, g_vth, g_beta, g_vreset, c0, c1):
    """`_backward_steps` over the blocks of steps c0 .. c1-1, last block first, each followed by
    its recurrent weight gradient."""
    t0 = c0 + ((c1 - 1 - c0) // length) * length
    while t0 >= c0:
        t1 = min(t0 + length, c1)
        _backward_steps(g_z, g_v_tr, g_a_tr, has_v, has_a, surr, flag, v_tr, a_tr, v_start, a_start,
                        cur, gain, alpha, rho, g_v, g_a, g_cur, g_x, has_rec, g_gain, g_bias,
                        g_alpha, g_rho, g_vth, g_beta, g_vreset, c0, t0, t1)
        if has_rec:
            if t0 == 0:
                _spike_weight_grad(pending[: t1 - t0], g_x[: t1 - t0], g_weight_t)
            else:
                _spike_weight_grad(spikes[t0 - length : t1 - length], g_x[: t1 - t0], g_weight_t)
        t0 -= length


def _np(x: Tensor) -> np.ndarray:
    return x.detach().numpy()


_CHUNK = 64  # steps per checkpoint (a whole number of blocks, at least one)


def _chunks(t_len: int, length: int, through_spikes: bool) -> list[tuple[int, int]]:
    """``(t0, t1)`` of each checkpoint interval: whole blocks, about `_CHUNK` steps; a single
    block when the gradient flows through the recurrent spikes (a dense matmul between blocks)."""
    span = length if through_spikes else length * max(1, _CHUNK // length)
    return [(t0, min(t0 + span, t_len)) for t0 in range(0, t_len, span)]


class _Scan:
    """The arrays of one `scan_alif` call as numba sees them, and its chunk-sized buffers (``d_t``,
    the flags, the recurrent input, and v and a of a recomputed chunk)."""

    def __init__(self, cur, consts, weight_v, pending, spikes, length, through_spikes):
        self.t_len, batch, n = cur.shape
        self.chunks = _chunks(self.t_len, length, through_spikes)
        span = max(t1 - t0 for t0, t1 in self.chunks)
        self.recurrent = weight_v is not None
        self.length = length if self.recurrent else span
        self.dist, self.v_tr, self.a_tr = torch.empty(3, span, batch, n, dtype=cur.dtype)
        self.flag = torch.empty(span, batch, n, dtype=torch.uint8)
        self.rec = torch.empty(min(length, span), batch, n, dtype=cur.dtype)
        w_t = weight_v.detach().t().contiguous() if self.recurrent else cur.new_zeros(1, 1)
        self.inputs = [_np(cur), *(_np(c) for c in consts[:2]), _np(spikes),
                       _np(pending.detach().contiguous()), _np(w_t), self.recurrent,
                       _np(self.rec), self.length]
        self.consts = [_np(c) for c in consts[2:]]

    def forward(self, k, state, z, off_z, v_tr, a_tr, off_va):
        """Chunk k from `state` ``[3, B, N]`` (v, a, refractory; updated in place): spikes into
        ``z[t - off_z]``, v and a into ``v_tr[t - off_va]``, ``a_tr[t - off_va]``. Returns the
        chunk's ``(dist, flag)``."""
        t0, t1 = self.chunks[k]
        _forward_chunk(*self.inputs, *(_np(s) for s in state), *self.consts, _np(z), off_z,
                       _np(v_tr), _np(a_tr), off_va, _np(self.dist), _np(self.flag), t0, t1)
        return self.dist[: t1 - t0], self.flag[: t1 - t0]


class _ScanALIF(torch.autograd.Function):
    """`scan_alif` as one autograd node (inputs and outputs as documented there).

    Memory: the forward keeps the spikes and the state (v, a, refractory) at the start of each
    chunk (`_chunks`); the backward recomputes each chunk's forward from its checkpoint into
    chunk-sized buffers (bit for bit: the same kernel on the same inputs) and runs the chunk's
    adjoint on them, so no ``[T, B, N]`` intermediate is stored.
    """

    @staticmethod
    def forward(ctx, current, gain, bias, v0, a0, ref0, alpha, rho, v_th, beta, v_reset, k_ref,
                weight_v, pending, length, detach_recurrent, surrogate, width, record):
        cur = current.detach().contiguous()
        consts = [c.detach().contiguous() for c in (gain, bias, alpha, rho, v_th, beta, v_reset,
                                                    k_ref)]
        through_spikes = weight_v is not None and not detach_recurrent
        spikes = torch.empty_like(cur)
        scan = _Scan(cur, consts, weight_v, pending, spikes, length, through_spikes)
        state = torch.stack([v0.detach(), a0.detach(), ref0.detach()]).contiguous()
        checkpoints = torch.empty((len(scan.chunks),) + state.shape, dtype=cur.dtype)
        traces = (torch.empty_like(cur), torch.empty_like(cur)) if record else None
        for k, (t0, _) in enumerate(scan.chunks):
            checkpoints[k] = state
            if record:
                scan.forward(k, state, spikes, 0, *traces, 0)
            else:
                scan.forward(k, state, spikes, 0, scan.v_tr, scan.a_tr, t0)
        ctx.save_for_backward(cur, *consts, spikes, checkpoints,
                              None if weight_v is None else weight_v.detach(), pending.detach())
        ctx.settings = (length, through_spikes, surrogate, width, record)
        v_out, a_out = traces if record else (state[0:1].clone(), state[1:2].clone())
        r_end = state[2].clone()
        ctx.mark_non_differentiable(r_end)
        ctx.set_materialize_grads(False)
        return spikes, v_out, a_out, r_end

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_spikes, g_v_out, g_a_out, _g_r):
        cur, *consts, spikes, checkpoints, weight_v, pending = ctx.saved_tensors
        length, through_spikes, surrogate, width, record = ctx.settings
        t_len, batch, n = spikes.shape
        dtype = spikes.dtype
        dummy = torch.zeros(1, 1, 1, dtype=dtype)
        if g_spikes is None:
            g_z = torch.zeros_like(spikes) if through_spikes else dummy.expand_as(spikes)
        elif through_spikes:  # the recurrent gradient is added to it block by block
            g_z = g_spikes.clone(memory_format=torch.contiguous_format)
        else:  # any strides (the gradient of a sum is an expanded scalar): no copy
            g_z = g_spikes
        g_v, g_a = (torch.zeros(batch, n, dtype=dtype) for _ in range(2))
        traced = [g is not None and record for g in (g_v_out, g_a_out)]
        for g_end, g in ((g_v, g_v_out), (g_a, g_a_out)):
            if g is not None and not record:
                g_end.copy_(g[0])
        scan = _Scan(cur, consts, weight_v, pending, spikes, length, through_spikes)
        z_chunk = torch.empty_like(scan.v_tr)  # recomputed spikes (equal to the stored ones)
        g_cur, g_x = torch.empty_like(spikes), torch.empty_like(scan.rec)
        g_w_t = torch.zeros(n, n, dtype=torch.float64)
        acc = [torch.zeros(n, dtype=torch.float64) for _ in range(7)]
        gain, alpha, rho = consts[0], consts[2], consts[3]
        head = [_np(g_z), _np(g_v_out.contiguous() if traced[0] else dummy),
                _np(g_a_out.contiguous() if traced[1] else dummy), *traced]
        tail = [_np(cur), _np(gain), _np(alpha), _np(rho), _np(g_v), _np(g_a), _np(g_cur),
                _np(g_x), *scan.inputs[3:5], scan.recurrent, scan.length, _np(g_w_t),
                *(_np(x) for x in acc)]
        g_pending = torch.zeros_like(pending) if through_spikes else None
        for k in reversed(range(len(scan.chunks))):
            t0, t1 = scan.chunks[k]
            dist, flag = scan.forward(k, checkpoints[k].clone(), z_chunk, t0, scan.v_tr,
                                      scan.a_tr, t0)
            surr = surrogate_grad(surrogate, dist, width)
            _backward_chunk(*head, _np(surr), _np(flag), _np(scan.v_tr), _np(scan.a_tr),
                            _np(checkpoints[k, 0]), _np(checkpoints[k, 1]), *tail, t0, t1)
            if through_spikes:  # chunk k is block k: its drive's gradient reaches block k - 1
                g_pre = g_z[t0 - length : t1 - length] if t0 > 0 else g_pending[: t1 - t0]
                g_pre.view(-1, n).addmm_(g_x[: t1 - t0].view(-1, n), weight_v)
        g_w = g_w_t.t().to(dtype) if weight_v is not None else None
        g_gain, g_bias, g_alpha, g_rho, g_vth, g_beta, g_vreset = (x.to(dtype) for x in acc)
        return (g_cur, g_gain, g_bias, g_v, g_a, None, g_alpha, g_rho, g_vth, g_beta, g_vreset,
                None, g_w, g_pending, None, None, None, None, None)


def scan_alif(current: Tensor, gain: Tensor, bias: Tensor, v0: Tensor, a0: Tensor, ref0: Tensor,
              alpha: Tensor, rho: Tensor, v_th: Tensor, beta: Tensor, v_reset: Tensor,
              k_ref: Tensor, weight_v: Tensor | None, pending: Tensor, length: int,
              detach_recurrent: bool, surrogate: str, width: float, record: bool = False):
    """Simulate the ALIF layer on CPU, blocks of `length` steps: ``(spikes, v, a, refractory)``.

    `current` ``float[T, B, N]`` (A); drive ``x = bias + gain I`` with per-neuron ``[N]`` `gain`
    (V/A) and `bias` (V) (`biofit.neurons.alif.alif_drive`); initial state `v0` (V), `a0` (V),
    `ref0` (steps left) ``[B, N]``; per-neuron ``[N]``: `alpha`, `rho` (decays per step), `v_th`,
    `beta`, `v_reset` (V), `k_ref` (refractory length K, steps, float). Recurrent input
    (`weight_v` ``[N, N]``, V per spike, gain folded in; None for none): ``x[t] += weight_v
    z[t - length]``, with ``z[t - length]`` taken from `pending` ``[length, B, N]`` for t <
    length; `detach_recurrent` stops the gradient through those spikes. `surrogate`, `width`: the
    spike's pseudo-derivative (`biofit.neurons.surrogate`). Returns spikes ``[T, B, N]``, v and a
    after each step (after any reset) ``[T, B, N]`` if `record`, else after the last step only
    (``[1, B, N]``), and the refractory count ``[B, N]`` after the last step (not
    differentiable). All tensors on the CPU, of one floating dtype.
    """
    return _ScanALIF.apply(current, gain, bias, v0, a0, ref0, alpha, rho, v_th, beta, v_reset,
                           k_ref, weight_v, pending, length, detach_recurrent, surrogate, width,
                           record)
