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
* the loops over neurons are branch-free and few-array, so LLVM turns them into full-width
  SIMD code (``_forward_steps``, ``_backward_steps`` say what broke that in our measurements:
  loads under a select become masked moves, microcoded on AMD cores; uint8 bit tests and int
  counters are promoted to int64 and halve the vector width; numba's zero-division check keeps
  a division loop scalar, hence ``error_model="numpy"`` in `biofit.neurons._surrogate_kernels`);
* checkpointing per chunk of `_CHUNK` steps (`_bounds`): the forward keeps only the spikes, their
  events and the state at each chunk start; the backward recomputes a chunk (same kernel, same
  inputs: bit for bit) into chunk-sized buffers, evaluates the surrogate derivative there and
  runs its adjoint. Memory is O(T B N) for the spikes and O(chunk B N) otherwise;
* each pass is one compiled call (`_forward_chunks`, `_backward_chunks`): no Python or torch work
  per chunk.

Measured (benchmarks/block_alif.py, 1000 Poisson inputs -> 128 recurrent units, B = 32, T = 2048,
R = 40, one thread): forward + backward of this kernel about 0.055 s; 0.08-0.09 s before the
SIMD fixes above, 0.15 s for the first version (per-block scan with a dense scan for spikes and
scalar loops).

Step t, per neuron i and batch b, with drive :math:`x_t` (V, `biofit.neurons.block_alif.alif_drive`
plus the recurrent input), :math:`\alpha = e^{-dt/\tau_{mem}}`, :math:`\rho = e^{-dt/\tau_{adapt}}`,
refractory length K (steps) -- the ALIF step generated from `biofit.models.alif` (the same
products and sums in the same order, so the forward equals it bit for bit):

.. math::
    r' = \max(r - 1, 0), \quad \text{act} = [r' = 0], \quad
    \hat v = \text{act}\,(x_t + \alpha v) + (1 - \text{act})\,v, \quad a' = \rho a, \\
    d_t = \hat v - (v_{th} + a'), \quad z_t = \text{act}\,H(d_t), \quad
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

from biofit.neurons._surrogate_kernels import constants, kind_code, surrogate_grad_into

_ACTIVE, _FIRED = 1, 2


@njit(cache=True)
def _forward_steps(cur, gain, bias, v, a, r, alpha, rho, v_th, beta, v_reset, k_ref, ring,
                   weight_t, has_rec, z, off_z, keep_va, v_tr, a_tr, off_va, keep_dist, dist, flag,
                   fired_rows, off, events, row_ptr, ev_j, t0, t1):
    """Steps t0 .. t1-1 of the scheme above; state `v`, `a`, `r` ``[B, N]`` updated in place.

    Drive ``x_t = bias + gain I_t (+ ring[t % L])``: if `has_rec`, `ring` ``[L, B, N]`` holds the
    recurrent input of the next L steps (`_rebuild_ring`); step t reads and clears its slot, and
    each of its spikes (b, j) adds ``weight_t[j]`` there for step t + L. Step t writes
    ``z[t - off_z]``; if `keep_va`, ``v_tr[t - off_va]``, ``a_tr[t - off_va]`` (v and a after the
    step); if `keep_dist`, ``dist[t - off]`` (``d_t``), ``flag[t - off]`` (active, fired bits) and
    ``fired_rows[t - off, b]`` (whether row (t, b) has a spike);
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
            any_fired = False
            for i in range(n_n):
                # every load first and unconditional: a load or store under a select becomes a
                # masked move (vmaskmovps), which is microcoded on AMD cores
                v_old, a_old, r_old = v_b[i], a_b[i], r_b[i]
                vr, be, kr = v_reset[i], beta[i], k_ref[i]
                x = bias[i] + gain[i] * cur_tb[i] + rec[i]
                rec[i] = zero
                left = r_old - one
                left = left if left > zero else zero
                active = left == zero
                vn = x + alpha[i] * v_old
                vn = vn if active else v_old
                an = a_old * rho[i]
                d = vn - (v_th[i] + an)  # the generated threshold: v - (v_th + a)
                fire = active & (d > zero)
                d_row[i] = d
                f_row[i] = np.uint8(active) | (np.uint8(fire) << np.uint8(1))  # _ACTIVE, _FIRED
                any_fired = any_fired | fire
                vn = vr if fire else vn
                an = an + be if fire else an
                left = kr if fire else left
                z_tb[i] = np.float32(fire)
                v_b[i] = vn
                a_b[i] = an
                r_b[i] = left
                v_row[i] = vn
                a_row[i] = an
            if keep_dist:
                fired_rows[t - off, b] = any_fired
            if not has_rec:
                continue
            e = row_ptr[t * n_b + b]
            if any_fired:
                for j in range(n_n):
                    if z_tb[j] != zero:
                        w = weight_t[j]
                        for i in range(n_n):
                            rec[i] += w[i]
                        if events:
                            if e == ev_j.shape[0]:
                                raise ValueError("more spikes than one per neuron and block")
                            ev_j[e] = j
                            e += 1
            if events:
                row_ptr[t * n_b + b + 1] = e


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
def _backward_steps(g_z, g_v_tr, g_a_tr, has_v, has_a, surr, flag, fired_rows, v_tr, a_tr,
                    v_start, a_start, cur, gain, alpha, rho, g_v, g_a, g_cur, g_x, g_gain, g_bias,
                    g_alpha, g_rho, g_vth, g_beta, g_vreset, has_rec, row_ptr, ev_j, pending,
                    g_weight_t, off, t0, t1):
    """Adjoint of `_forward_steps` for steps t1-1 down to t0.

    `g_z`, `surr` (surrogate derivative of ``d_t``), `flag`, `fired_rows`, `v_tr`, `a_tr` (v and
    a after each step) and `g_x` (receives the drive's gradient) are the chunk's, indexed ``[t -
    off]``; `g_v_tr`, `g_a_tr` (used if `has_v`, `has_a`), `cur` and `g_cur` (receives the
    current's gradient) are ``[T, B, N]``; `v_start`, `a_start` ``[B, N]``: v and a before step
    off. `g_v`, `g_a` ``[B, N]`` hold the adjoints of v and a after step t1-1 on entry and before
    step t0 on exit; the parameter gradients ``[N]`` (in the data's dtype: a chunk's sums, added
    to float64 totals by `_backward_chunks`) are accumulated, and if `has_rec` the recurrent
    weight's (float64), ``g_weight_t[j] += g_x[t]`` for each spike (t - L, b, j) (events and
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
    # flags are 0, _ACTIVE or _ACTIVE | _FIRED (a spike needs an active neuron), so comparisons
    # read them: a bitwise and of uint8 values is promoted to int64, which halves the SIMD width
    zero, is_active = np.float32(0.0), np.uint8(_ACTIVE)
    for t in range(t1 - 1, t0 - 1, -1):
        k = t - off
        for b in range(n_b):
            g_v_b, g_a_b, g_z_k, surr_k, flag_k = g_v[b], g_a[b], g_z[k, b], surr[k, b], flag[k, b]
            v_prev = v_tr[k - 1, b] if k > 0 else v_start[b]
            a_prev = a_tr[k - 1, b] if k > 0 else a_start[b]
            g_v_t = g_v_tr[t, b] if has_v else zeros
            g_a_t = g_a_tr[t, b] if has_a else zeros
            cur_tb, g_cur_tb, g_x_k = cur[t, b], g_cur[t, b], g_x[k, b]
            if fired_rows[k, b]:  # selects, not a branch: masked moves are slow on AMD cores
                for i in range(n_n):
                    fired = flag_k[i] > is_active
                    gvr, gbe = g_v_b[i] + g_v_t[i], g_a_b[i] + g_a_t[i]
                    g_vreset[i] += gvr if fired else zero
                    g_beta[i] += gbe if fired else zero
            for i in range(n_n):
                gv = g_v_b[i] + g_v_t[i]
                ga = g_a_b[i] + g_a_t[i]
                active = flag_k[i] >= is_active
                gv = zero if flag_k[i] > is_active else gv
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
                g_vth[i] -= gd if flag_k[i] >= is_active else zero
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


@njit(cache=True)
def _forward_chunks(bounds, checkpoints, cur, gain, bias, state, alpha, rho, v_th, beta, v_reset,
                    k_ref, ring, weight_t, has_rec, pending, row_ptr, ev_j, z, record, v_tr, a_tr,
                    scratch, scratch_flag, scratch_count):
    """The forward pass: steps ``bounds[0] .. bounds[-1] - 1`` from `state` ``[3, B, N]`` (v, a,
    refractory; updated in place), the state at the start of chunk k saved in ``checkpoints[k]``,
    the spikes into `z` and their events (recurrent layers), v and a into `v_tr`, `a_tr` if
    `record`. `scratch*`: placeholders for the outputs of a recomputation."""
    if has_rec:
        _rebuild_ring(bounds[0], row_ptr, ev_j, pending, weight_t, ring)
    for k in range(bounds.shape[0] - 1):
        checkpoints[k] = state
        _forward_steps(cur, gain, bias, state[0], state[1], state[2], alpha, rho, v_th, beta,
                       v_reset, k_ref, ring, weight_t, has_rec, z, 0, record, v_tr, a_tr, 0,
                       False, scratch, scratch_flag, scratch_count, 0, has_rec, row_ptr, ev_j,
                       bounds[k], bounds[k + 1])


@njit(cache=True)
def _backward_chunks(k0, k1, bounds, checkpoints, cur, gain, bias, alpha, rho, v_th, beta,
                     v_reset, k_ref, ring, weight_t, has_rec, pending, row_ptr, ev_j, kind,
                     surr_consts, g_z, g_v_tr, g_a_tr, has_v, has_a, g_v, g_a, g_cur, acc,
                     g_weight_t, work, flag, fired_rows, g_x):
    """The backward pass over chunks k1-1 down to k0 of `bounds`: each chunk's forward recomputed
    from ``checkpoints[k]`` (the ring rebuilt from the events first) into the chunk buffers
    `work` ``[6, span, B, N]`` (spikes, d, v, a, surrogate derivative, spikes' gradient),
    `flag`, `fired_rows`, then its adjoint (`_backward_steps`), the drive's gradient of the chunk
    left in `g_x`. `g_z` ``[T, B, N]`` (any strides), the spikes' gradient; `acc` ``[7, N]``
    (float64): the gradients of gain, bias, alpha, rho, v_th, beta, v_reset; `kind`,
    `surr_consts`: the surrogate (`biofit.neurons._surrogate_kernels`)."""
    z_buf, dist, v_buf, a_buf, surr, gz_buf = work[0], work[1], work[2], work[3], work[4], work[5]
    state = np.empty_like(checkpoints[0])
    per_step = dist.shape[1] * dist.shape[2]
    part = np.zeros(acc.shape, dtype=cur.dtype)  # a chunk's sums, vectorized in the data's dtype
    for k in range(k1 - 1, k0 - 1, -1):
        t0, t1 = bounds[k], bounds[k + 1]
        if has_rec:
            _rebuild_ring(t0, row_ptr, ev_j, pending, weight_t, ring)
        state[:] = checkpoints[k]
        _forward_steps(cur, gain, bias, state[0], state[1], state[2], alpha, rho, v_th, beta,
                       v_reset, k_ref, ring, weight_t, has_rec, z_buf, t0, True, v_buf, a_buf, t0,
                       True, dist, flag, fired_rows, t0, False, row_ptr, ev_j, t0, t1)
        surrogate_grad_into(kind, dist.ravel(), surr_consts, surr.ravel(), (t1 - t0) * per_step)
        gz_buf[: t1 - t0] = g_z[t0:t1]
        _backward_steps(gz_buf, g_v_tr, g_a_tr, has_v, has_a, surr, flag, fired_rows, v_buf, a_buf,
                        checkpoints[k, 0], checkpoints[k, 1], cur, gain, alpha, rho, g_v, g_a,
                        g_cur, g_x, part[0], part[1], part[2], part[3], part[4], part[5],
                        part[6], has_rec, row_ptr, ev_j, pending, g_weight_t, t0, t0, t1)
        for q in range(acc.shape[0]):
            for i in range(acc.shape[1]):
                acc[q, i] += part[q, i]
                part[q, i] = 0.0


def _np(x: Tensor) -> np.ndarray:
    return x.detach().numpy()


_CHUNK = 32  # steps per checkpoint


def _bounds(t_len: int, length: int, through_spikes: bool) -> np.ndarray:
    """Start of each checkpoint interval, then T (int64): `_CHUNK` steps, or one block of
    `length` steps when the gradient flows through the recurrent spikes (a block's drive gradient
    then reaches the previous block's spikes by one dense matmul, before that block's adjoint
    runs)."""
    span = length if through_spikes else _CHUNK
    return np.array([*range(0, t_len, span), t_len], dtype=np.int64)


def _ring_arrays(weight_v: Tensor | None, cur: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """The ring ``[L, B, N]`` (zeros) and ``weight_v^T`` of a recurrent layer; one-element
    placeholders of the same ranks for a feed-forward one (`weight_v` None)."""
    if weight_v is None:
        return cur.new_zeros(1, 1, 1), cur.new_empty(1, 1)
    return cur.new_zeros(length, *cur.shape[1:]), weight_v.detach().t().contiguous()


class _ScanALIF(torch.autograd.Function):
    """`scan_alif` as one autograd node (inputs and outputs as documented there).

    Memory: the forward keeps the spikes, their events (recurrent layers: ``row_ptr`` ``[T B +
    1]``, ``ev_j``, the spiking neurons of each row (t, b), at most one per neuron and block, so
    ``ceil(T / L) B N`` of them) and the state (v, a, refractory) at the start of each chunk
    (`_bounds`); the backward recomputes each chunk's forward from its checkpoint into
    chunk-sized buffers (bit for bit: the same kernel on the same inputs, the ring rebuilt from
    the events in the same order) and runs the chunk's adjoint on them, so no other ``[T, B, N]``
    intermediate is stored.
    """

    @staticmethod
    def forward(ctx, current, gain, bias, v0, a0, ref0, alpha, rho, v_th, beta, v_reset, k_ref,
                weight_v, pending, length, detach_recurrent, surrogate, width, record):
        cur = current.detach().contiguous()
        consts = [c.detach().contiguous() for c in (gain, bias, alpha, rho, v_th, beta, v_reset,
                                                    k_ref)]
        t_len, batch, n = cur.shape
        recurrent = weight_v is not None
        through_spikes = recurrent and not detach_recurrent
        bounds = _bounds(t_len, length, through_spikes)
        rows, capacity = (1, 1)
        if recurrent:  # at most one spike per neuron and block
            rows, capacity = t_len * batch + 1, -(-t_len // length) * batch * n
        row_ptr, ev_j = torch.zeros(rows, dtype=torch.int64), torch.empty(capacity, dtype=torch.int32)
        pending = pending.detach().contiguous()
        spikes = torch.empty_like(cur)
        state = torch.stack([v0.detach(), a0.detach(), ref0.detach()]).contiguous()
        checkpoints = torch.empty((len(bounds) - 1,) + state.shape, dtype=cur.dtype)
        scratch = cur.new_empty(1, 1, 1)  # placeholder for outputs not kept
        traces = (torch.empty_like(cur), torch.empty_like(cur)) if record else (scratch, scratch)
        _forward_chunks(bounds, _np(checkpoints), _np(cur), *map(_np, consts[:2]), _np(state),
                        *map(_np, consts[2:]), *map(_np, _ring_arrays(weight_v, cur, length)),
                        recurrent, _np(pending), _np(row_ptr), _np(ev_j), _np(spikes), record,
                        *map(_np, traces), _np(scratch), np.empty((1, 1, 1), np.uint8),
                        np.empty((1, 1), np.uint8))
        ctx.save_for_backward(cur, *consts, checkpoints, row_ptr, ev_j,
                              weight_v.detach() if recurrent else None, pending)
        ctx.settings = (length, through_spikes, surrogate, width, record, bounds)
        v_out, a_out = traces if record else (state[0:1].clone(), state[1:2].clone())
        r_end = state[2].clone()
        ctx.mark_non_differentiable(r_end)
        ctx.set_materialize_grads(False)
        return spikes, v_out, a_out, r_end

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_spikes, g_v_out, g_a_out, _g_r):
        cur, *consts, checkpoints, row_ptr, ev_j, weight_v, pending = ctx.saved_tensors
        length, through_spikes, surrogate, width, record, bounds = ctx.settings
        t_len, batch, n = cur.shape
        dtype = cur.dtype
        recurrent = weight_v is not None
        if g_spikes is None:
            g_z = cur.new_zeros(1, 1, 1).expand_as(cur)
        elif through_spikes:  # the recurrent gradient is added to it block by block
            g_z = g_spikes.clone(memory_format=torch.contiguous_format)
        else:  # any strides (the gradient of a sum is an expanded scalar): copied chunk by chunk
            g_z = g_spikes
        g_v, g_a = (torch.zeros(batch, n, dtype=dtype) for _ in range(2))
        traced = [g is not None and record for g in (g_v_out, g_a_out)]
        for g_end, g in ((g_v, g_v_out), (g_a, g_a_out)):
            if g is not None and not record:
                g_end.copy_(g[0])
        g_traces = [(g.contiguous() if on else cur[:1]) for g, on in zip((g_v_out, g_a_out),
                                                                         traced)]
        span = int(np.max(np.diff(bounds)))
        work = torch.empty(6, span, batch, n, dtype=dtype)
        g_x = torch.empty(span, batch, n, dtype=dtype)
        flag = torch.empty(span, batch, n, dtype=torch.uint8)
        fired_rows = torch.empty(span, batch, dtype=torch.uint8)
        g_cur = torch.empty_like(cur)
        g_w_t = torch.zeros(n, n, dtype=torch.float64)
        acc = torch.zeros(7, n, dtype=torch.float64)
        g_pending = torch.zeros_like(pending) if through_spikes else None
        args = (_np(checkpoints), _np(cur), *map(_np, consts),
                *map(_np, _ring_arrays(weight_v, cur, length)), recurrent,
                _np(pending), _np(row_ptr), _np(ev_j), kind_code(surrogate),
                constants(width, cur.numpy().dtype), _np(g_z), *map(_np, g_traces), *traced,
                _np(g_v), _np(g_a), _np(g_cur), _np(acc), _np(g_w_t), _np(work), _np(flag),
                _np(fired_rows), _np(g_x))
        if not through_spikes:
            _backward_chunks(0, len(bounds) - 1, bounds, *args)
        else:  # chunk k is block k: its drive's gradient reaches block k - 1 before its adjoint
            for k in reversed(range(len(bounds) - 1)):
                t0, t1 = int(bounds[k]), int(bounds[k + 1])
                _backward_chunks(k, k + 1, bounds, *args)
                g_pre = g_z[t0 - length : t1 - length] if t0 > 0 else g_pending[: t1 - t0]
                g_pre.view(-1, n).addmm_(g_x[: t1 - t0].view(-1, n), weight_v)
        g_w = g_w_t.t().to(dtype) if recurrent else None
        g_gain, g_bias, g_alpha, g_rho, g_vth, g_beta, g_vreset = acc.to(dtype)
        return (g_cur, g_gain, g_bias, g_v, g_a, None, g_alpha, g_rho, g_vth, g_beta, g_vreset,
                None, g_w, g_pending, None, None, None, None, None)


def scan_alif(current: Tensor, gain: Tensor, bias: Tensor, v0: Tensor, a0: Tensor, ref0: Tensor,
              alpha: Tensor, rho: Tensor, v_th: Tensor, beta: Tensor, v_reset: Tensor,
              k_ref: Tensor, weight_v: Tensor | None, pending: Tensor, length: int,
              detach_recurrent: bool, surrogate: str, width: float, record: bool = False):
    """Simulate the ALIF layer on CPU, blocks of `length` steps: ``(spikes, v, a, refractory)``.

    `current` ``float[T, B, N]`` (A); drive ``x = bias + gain I`` with per-neuron ``[N]`` `gain`
    (V/A) and `bias` (V) (`biofit.neurons.block_alif.alif_drive`); initial state `v0` (V), `a0` (V),
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
