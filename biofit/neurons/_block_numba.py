r"""Compiled CPU kernel of the Block-ALIF layer: a fused forward scan and its hand-written adjoint.

On a CPU the parallel form of a block (2311.11390: a Toeplitz convolution, a cumulative crossing
count, masks) buys no parallelism; what it buys is the block structure itself: with the recurrent
input delayed by the block length L (``x[t] += W_v z[t - L]``), a neuron fires at most once per
block and a step's recurrent input is known L steps ahead. `scan_alif` keeps that model and
evaluates it by its recursion in compiled code (numba; one pass, O(1) per element instead of the
Toeplitz matmul's O(L)), which gives the same spikes as the closed form of
`biofit.neurons._block_kernels` (whose first crossing is the recursion's first crossing). What
makes it fast on a CPU:

* the recurrent input is event-driven: a spike (t, b, j) adds row j of ``W_v^T`` to a ring
  buffer slot that step t + L reads (N operations per spike instead of N^2 per step of a dense
  matmul); the spikes are also kept as events (per batch element, the neurons that fired at each
  step), from which the backward pass rebuilds the ring and accumulates the weight gradient;
* the drive ``bias + gain I`` is computed inside the scan and its gradient (current, gain, bias)
  inside the adjoint, with no ``[T, B, N]`` temporaries;
* the loops over neurons are branch-free and few-array, so LLVM turns them into SIMD code
  (``_forward_steps``, ``_backward_steps`` say what broke that in our measurements);
* checkpointing per chunk of `_CHUNK` steps (`_chunks`): the forward keeps only the spikes, their
  events and the state at each chunk start; the backward recomputes a chunk (same kernel, same
  inputs: bit for bit) into chunk-sized buffers and runs its adjoint there. Memory is O(T B N)
  for the spikes and O(chunk B N) otherwise.

Measured (benchmarks/block_alif.py, 1000 Poisson inputs -> 128 recurrent units, B = 32, T = 2048,
R = 40, one thread): forward + backward of this kernel about 0.08 s, of the first version
(per-block scan with a dense scan for spikes and scalar loops) 0.15 s.

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
def _forward_steps(cur, gain, bias, v, a, r, alpha, rho, v_th, beta, v_reset, k_ref, ring,
                   weight_t, has_rec, z, off_z, keep_va, v_tr, a_tr, off_va, keep_dist, dist, flag,
                   n_fired_rows, off, events, row_ptr, ev_j, t0, t1):
    """Steps t0 .. t1-1 of the scheme above; state `v`, `a`, `r` ``[B, N]`` updated in place.

    Drive ``x_t = bias + gain I_t (+ ring[t % L])``: if `has_rec`, `ring` ``[L, B, N]`` holds the
    recurrent input of the next L steps (`_rebuild_ring`); step t reads and clears its slot, and
    each of its spikes (b, j) adds ``weight_t[j]`` there for step t + L. Step t writes
    ``z[t - off_z]``; if `keep_va`, ``v_tr[t - off_va]``, ``a_tr[t - off_va]`` (v and a after the
    step); if `keep_dist`, ``dist[t - off]`` (``d_t``), ``flag[t - off]`` (active, fired bits) and
    ``n_fired_rows[t - off, b]`` (the number of spikes of row (t, b));
    if `events`, the spiking neurons of row (t, b) into ``ev_j[row_ptr[tB + b] : row_ptr[tB + b +
    1]]`` in increasing order (``row_ptr[tB + b]`` must be set on entry).

    The loop over neurons is branch-free (selects) so that LLVM vectorizes it; outputs not kept go
    to a scratch row, and without recurrence the ring slot is a row of zeros. Its form matters:
    int-valued flags, or the refractory update moved after the stores, made it 3-5x slower
    (scalar code) in our measurements.
    """
    n_b, n_n = v.shape
    length = ring.shape[0]
    # separate allocations, so that the compiler knows the scratch rows do not overlap
    no_rec, spare_d = np.zeros(n_n, dtype=v.dtype), np.zeros(n_n, dtype=v.dtype)
    spare_v, spare_a = np.zeros(n_n, dtype=v.dtype), np.zeros(n_n, dtype=v.dtype)
    spare_flag = np.zeros(n_n, dtype=np.uint8)
    one, zero = np.float32(1.0), np.float32(0.0)  # float32 literals: no promotion of float32 data
    for t in range(t0, t1):
        slot = t % length
        for b in range(n_b):
            v_b, a_b, r_b, cur_tb, z_tb = v[b], a[b], r[b], cur[t, b], z[t - off_z, b]
            rec = ring[slot, b] if has_rec else no_rec
            d_row = dist[t - off, b] if keep_dist else spare_d
            f_row = flag[t - off, b] if keep_dist else spare_flag
            v_row = v_tr[t - off_va, b] if keep_va else spare_v
            a_row = a_tr[t - off_va, b] if keep_va else spare_a
            n_fired = 0
            for i in range(n_n):
                left = max(r_b[i] - one, zero)
                active = left == zero
                x = bias[i] + gain[i] * cur_tb[i] + rec[i]
                rec[i] = zero
                v_old = v_b[i]
                vn = x + alpha[i] * v_old
                vn = vn if active else v_old
                an = a_b[i] * rho[i]
                d = vn - v_th[i] - an
                fire = active and d > zero
                d_row[i] = d
                f_row[i] = np.uint8(active) | (np.uint8(fire) << np.uint8(1))  # _ACTIVE, _FIRED
                n_fired += fire
                vn = v_reset[i] if fire else vn
                an = an + beta[i] if fire else an
                left = k_ref[i] if fire else left
                z_tb[i] = one if fire else zero
                v_b[i] = vn
                a_b[i] = an
                r_b[i] = left
                v_row[i] = vn
                a_row[i] = an
            if keep_dist:
                n_fired_rows[t - off, b] = n_fired
            if not has_rec:
                continue
            e = row_ptr[t * n_b + b]
            if events:
                if e + n_fired > ev_j.shape[0]:
                    raise ValueError("more spikes than one per neuron and block")
                row_ptr[t * n_b + b + 1] = e + n_fired
            if n_fired:
                for j in range(n_n):
                    if z_tb[j] != zero:
                        w = weight_t[j]
                        for i in range(n_n):
                            rec[i] += w[i]
                        if events:
                            ev_j[e] = j
                            e += 1


@njit(cache=True)
def _rebuild_ring(t0, row_ptr, ev_j, pending, weight_t, ring):
    """Fill `ring` ``[L, B, N]`` with the recurrent input of steps t0 .. t0 + L - 1 (slot t % L):
    ``weight_t[j]`` for each spike (t - L, b, j), from the events of `_forward_steps` where t - L
    >= 0 and from ``pending[t]`` (times its value) before. Summed in the forward scan's order
    (ascending j into a cleared slot), so a recomputed chunk is bit for bit the forward's."""
    length, n_b, n_n = ring.shape
    ring[:] = 0.0
    for s in range(t0 - length, t0):
        slot = (s + length) % length
        for b in range(n_b):
            out = ring[slot, b]
            if s < 0:
                for j in range(n_n):
                    p = pending[s + length, b, j]
                    if p != 0.0:
                        for i in range(n_n):
                            out[i] += p * weight_t[j, i]
            else:
                for e in range(row_ptr[s * n_b + b], row_ptr[s * n_b + b + 1]):
                    w = weight_t[ev_j[e]]
                    for i in range(n_n):
                        out[i] += w[i]


@njit(cache=True)
def _backward_steps(g_z, g_v_tr, g_a_tr, has_v, has_a, surr, flag, n_fired_rows, v_tr, a_tr,
                    v_start, a_start, cur, gain, alpha, rho, g_v, g_a, g_cur, g_x, g_gain, g_bias,
                    g_alpha, g_rho, g_vth, g_beta, g_vreset, has_rec, row_ptr, ev_j, pending,
                    g_weight_t, off, t0, t1):
    """Adjoint of `_forward_steps` for steps t1-1 down to t0.

    `g_z`, `surr` (surrogate derivative of ``d_t``), `flag`, `n_fired_rows`, `v_tr`, `a_tr` (v and
    a after each step) and `g_x` (receives the drive's gradient) are the chunk's, indexed ``[t -
    off]``; `g_v_tr`, `g_a_tr` (used if `has_v`, `has_a`), `cur` and `g_cur` (receives the
    current's gradient) are ``[T, B, N]``; `v_start`, `a_start` ``[B, N]``: v and a before step
    off. `g_v`, `g_a` ``[B, N]`` hold the adjoints of v and a after step t1-1 on entry and before
    step t0 on exit; the parameter gradients ``[N]`` (float64) are accumulated, and if `has_rec`
    the recurrent weight's, ``g_weight_t[j] += g_x[t]`` for each spike (t - L, b, j) (events and
    `pending` as in `_rebuild_ring`).

    A row (t, b) is done in three loops over neurons -- the adjoint recursion, then the
    accumulations of the drive's parameters, then those of v_th and rho -- because one loop
    writing all eleven arrays is not vectorized by LLVM (too many runtime alias checks); the
    rare spikes (v_reset, beta) are handled first, in rows that have any.
    """
    n_b, n_n = g_v.shape
    length = pending.shape[0]
    zeros = np.zeros(n_n, dtype=g_v.dtype)
    g_a_row = np.zeros(n_n, dtype=g_v.dtype)  # the adjoint of a' (after the threshold's term)
    zero, is_active, is_fired = np.float32(0.0), np.uint8(_ACTIVE), np.uint8(_FIRED)
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - off
        for b in range(n_b):
            g_v_b, g_a_b, g_z_k, surr_k, flag_k = g_v[b], g_a[b], g_z[k, b], surr[k, b], flag[k, b]
            v_prev = v_tr[k - 1, b] if k > 0 else v_start[b]
            a_prev = a_tr[k - 1, b] if k > 0 else a_start[b]
            g_v_t = g_v_tr[t, b] if has_v else zeros
            g_a_t = g_a_tr[t, b] if has_a else zeros
            cur_tb, g_cur_tb, g_x_k = cur[t, b], g_cur[t, b], g_x[k, b]
            if n_fired_rows[k, b]:
                for i in range(n_n):
                    if flag_k[i] & is_fired:
                        g_vreset[i] += g_v_b[i] + g_v_t[i]
                        g_beta[i] += g_a_b[i] + g_a_t[i]
            for i in range(n_n):
                gv = g_v_b[i] + g_v_t[i]
                ga = g_a_b[i] + g_a_t[i]
                active = (flag_k[i] & is_active) != 0
                gv = zero if (flag_k[i] & is_fired) != 0 else gv
                gd = g_z_k[i] * surr_k[i]
                gd = gd if active else zero
                gv += gd
                ga -= gd
                gx = gv if active else zero
                g_x_k[i] = gx
                gva = gv * alpha[i]
                g_v_b[i] = gva if active else gv
                g_a_b[i] = ga * rho[i]
                g_a_row[i] = ga
            for i in range(n_n):
                gx = g_x_k[i]
                g_alpha[i] += gx * v_prev[i]
                g_gain[i] += gx * cur_tb[i]
                g_bias[i] += gx
                g_cur_tb[i] = gain[i] * gx
            # gd recomputed, not stored: one more array written in the first loop unvectorizes it
            for i in range(n_n):
                gd = g_z_k[i] * surr_k[i]
                g_vth[i] -= gd if (flag_k[i] & is_active) != 0 else zero
                g_rho[i] += g_a_row[i] * a_prev[i]
            if not has_rec:
                continue
            s = t - length
            if s >= 0:
                for e in range(row_ptr[s * n_b + b], row_ptr[s * n_b + b + 1]):
                    g_w = g_weight_t[ev_j[e]]
                    for i in range(n_n):
                        g_w[i] += g_x_k[i]
            else:
                for j in range(n_n):
                    p = pending[t, b, j]
                    if p != 0.0:
                        for i in range(n_n):
                            g_weight_t[j, i] += p * g_x_k[i]


def _np(x: Tensor) -> np.ndarray:
    return x.detach().numpy()


_CHUNK = 32  # steps per checkpoint


def _chunks(t_len: int, length: int, through_spikes: bool) -> list[tuple[int, int]]:
    """``(t0, t1)`` of each checkpoint interval: `_CHUNK` steps, or one block of `length` steps
    when the gradient flows through the recurrent spikes (a block's drive gradient then reaches
    the previous block's spikes by one dense matmul, before that block's adjoint runs)."""
    span = length if through_spikes else _CHUNK
    return [(t0, min(t0 + span, t_len)) for t0 in range(0, t_len, span)]


class _Scan:
    """The arrays of one `scan_alif` call as numba sees them: inputs, the ring of recurrent input
    ``[L, B, N]``, the spike events (``row_ptr`` ``[T B + 1]``, ``ev_j``: the spiking neurons of
    each row (t, b), at most one per neuron and block, so ``ceil(T / L) B N`` of them), and, with
    `buffers`, the chunk-sized ones of a recomputed chunk (``d_t``, flags, spike counts per row, v,
    a, spikes, and the gradients of the spikes and of the drive)."""

    def __init__(self, cur, consts, weight_v, pending, length, through_spikes, events=None,
                 buffers=False):
        t_len, batch, n = cur.shape
        self.chunks = _chunks(t_len, length, through_spikes)
        self.recurrent = weight_v is not None
        dtype = cur.dtype
        dummy = torch.empty(1, 1, 1, dtype=dtype)
        if events is None:
            rows, capacity = (1, 1)
            if self.recurrent:  # at most one spike per neuron and block
                rows, capacity = t_len * batch + 1, -(-t_len // length) * batch * n
            events = torch.zeros(rows, dtype=torch.int64), torch.empty(capacity, dtype=torch.int32)
        self.events = events
        self.ring = torch.zeros(length if self.recurrent else 1, batch, n, dtype=dtype)
        self.weight_t = weight_v.detach().t().contiguous() if self.recurrent else dummy[0]
        self.pending = pending.detach().contiguous()
        span = max(t1 - t0 for t0, t1 in self.chunks)
        shape = (span, batch, n) if buffers else (1, 1, 1)
        chunk = torch.empty(6, *shape, dtype=dtype)
        self.dist, self.v_tr, self.a_tr, self.z, self.g_z, self.g_x = chunk
        self.flag = torch.empty(shape, dtype=torch.uint8)
        self.n_fired = torch.empty(shape[:2], dtype=torch.int32)
        self.cur = _np(cur)
        self.consts = [_np(c) for c in consts]

    def rebuild(self, t0: int) -> None:
        """The ring's content before step t0 (recurrent layers only)."""
        if self.recurrent:
            _rebuild_ring(t0, *map(_np, self.events), _np(self.pending), _np(self.weight_t),
                          _np(self.ring))

    def run(self, state, t0, t1, z, off_z, traces=None, recompute=False):
        """Steps t0 .. t1-1 from `state` ``[3, B, N]`` (v, a, refractory; updated in place), spikes
        into ``z[t - off_z]``; v and a into ``traces[t]`` if given; if `recompute`, v, a, ``d_t``
        and the flags into the chunk buffers (at ``t - t0``), else the spike events recorded."""
        if recompute:
            keep_va, (v_tr, a_tr), off_va = True, (self.v_tr, self.a_tr), t0
        elif traces is not None:
            keep_va, (v_tr, a_tr), off_va = True, traces, 0
        else:
            keep_va, (v_tr, a_tr), off_va = False, (self.v_tr, self.a_tr), 0
        _forward_steps(self.cur, *self.consts[:2], *map(_np, state), *self.consts[2:],
                       _np(self.ring), _np(self.weight_t), self.recurrent, _np(z), off_z, keep_va,
                       _np(v_tr), _np(a_tr), off_va, recompute, _np(self.dist), _np(self.flag),
                       _np(self.n_fired), t0,
                       not recompute and self.recurrent, *map(_np, self.events), t0, t1)
class _ScanALIF(torch.autograd.Function):
    """`scan_alif` as one autograd node (inputs and outputs as documented there).

    Memory: the forward keeps the spikes, their events and the state (v, a, refractory) at the
    start of each chunk (`_chunks`); the backward recomputes each chunk's forward from its
    checkpoint into chunk-sized buffers (bit for bit: the same kernel on the same inputs, the
    ring rebuilt from the events in the same order) and runs the chunk's adjoint on them, so no
    other ``[T, B, N]`` intermediate is stored.
    """

    @staticmethod
    def forward(ctx, current, gain, bias, v0, a0, ref0, alpha, rho, v_th, beta, v_reset, k_ref,
                weight_v, pending, length, detach_recurrent, surrogate, width, record):
        cur = current.detach().contiguous()
        consts = [c.detach().contiguous() for c in (gain, bias, alpha, rho, v_th, beta, v_reset,
                                                    k_ref)]
        through_spikes = weight_v is not None and not detach_recurrent
        spikes = torch.empty_like(cur)
        scan = _Scan(cur, consts, weight_v, pending, length, through_spikes)
        state = torch.stack([v0.detach(), a0.detach(), ref0.detach()]).contiguous()
        checkpoints = torch.empty((len(scan.chunks),) + state.shape, dtype=cur.dtype)
        traces = (torch.empty_like(cur), torch.empty_like(cur)) if record else None
        scan.rebuild(0)
        for k, (t0, t1) in enumerate(scan.chunks):
            checkpoints[k] = state
            scan.run(state, t0, t1, spikes, 0, traces)
        ctx.save_for_backward(cur, *consts, spikes, checkpoints, *scan.events,
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
        cur, *consts, spikes, checkpoints, row_ptr, ev_j, weight_v, pending = ctx.saved_tensors
        length, through_spikes, surrogate, width, record = ctx.settings
        t_len, batch, n = spikes.shape
        dtype = spikes.dtype
        dummy = torch.zeros(1, 1, 1, dtype=dtype)
        if g_spikes is None:
            g_z = dummy.expand_as(spikes)
        elif through_spikes:  # the recurrent gradient is added to it block by block
            g_z = g_spikes.clone(memory_format=torch.contiguous_format)
        else:  # any strides (the gradient of a sum is an expanded scalar): copied chunk by chunk
            g_z = g_spikes
        g_v, g_a = (torch.zeros(batch, n, dtype=dtype) for _ in range(2))
        traced = [g is not None and record for g in (g_v_out, g_a_out)]
        for g_end, g in ((g_v, g_v_out), (g_a, g_a_out)):
            if g is not None and not record:
                g_end.copy_(g[0])
        scan = _Scan(cur, consts, weight_v, pending, length, through_spikes, (row_ptr, ev_j),
                     buffers=True)
        g_cur = torch.empty_like(spikes)
        g_w_t = torch.zeros(n, n, dtype=torch.float64)
        acc = [torch.zeros(n, dtype=torch.float64) for _ in range(7)]
        gain, alpha, rho = consts[0], consts[2], consts[3]
        head = [_np(g_v_out.contiguous() if traced[0] else dummy),
                _np(g_a_out.contiguous() if traced[1] else dummy), *traced]
        middle = [_np(cur), _np(gain), _np(alpha), _np(rho), _np(g_v), _np(g_a), _np(g_cur),
                  _np(scan.g_x), *(_np(x) for x in acc)]
        tail = [scan.recurrent, *map(_np, scan.events), _np(scan.pending), _np(g_w_t)]
        g_pending = torch.zeros_like(pending) if through_spikes else None
        for k in reversed(range(len(scan.chunks))):
            t0, t1 = scan.chunks[k]
            scan.rebuild(t0)
            scan.run(checkpoints[k].clone(), t0, t1, scan.z, t0, recompute=True)
            surr = surrogate_grad(surrogate, scan.dist[: t1 - t0], width)
            scan.g_z[: t1 - t0].copy_(g_z[t0:t1])
            _backward_steps(_np(scan.g_z), *head, _np(surr), _np(scan.flag), _np(scan.n_fired),
                            _np(scan.v_tr),
                            _np(scan.a_tr), _np(checkpoints[k, 0]), _np(checkpoints[k, 1]),
                            *middle, *tail, t0, t0, t1)
            if through_spikes:  # chunk k is block k: its drive's gradient reaches block k - 1
                g_pre = g_z[t0 - length : t1 - length] if t0 > 0 else g_pending[: t1 - t0]
                g_pre.view(-1, n).addmm_(scan.g_x[: t1 - t0].view(-1, n), weight_v)
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
