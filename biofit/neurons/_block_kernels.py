r"""Pure kernels of the Block-ALIF simulation (2311.11390, Sec. 3): one block of L steps at a time.

Notation (one neuron; the kernels act on ``[N, L, B]`` blocks, layout neuron, step, batch):
:math:`\alpha = e^{-dt/\tau_{mem}}`, :math:`\rho = e^{-dt/\tau_{adapt}}`, the drive
:math:`x_j = v_{rest}(1-\alpha) + R(1-\alpha) I_j` (`biofit.neurons.block_alif.alif_drive`),
K the refractory length in steps of `biofit.neurons.refractory` (a spike at step n freezes ``v`` for
steps n+1 .. n+K-1). With a block length :math:`L \le K` a neuron fires at most once per block.

For a block starting in state :math:`(v_0, a_0, m)` (m = refractory steps left) and drive
:math:`x_j`, :math:`j = 0..L-1`, the sequential recursion :math:`v_j = x_j + \alpha v_{j-1}` of
the generated ALIF step is, in closed form:

* step j is active (``v`` integrates, may fire) iff :math:`j \ge f`, :math:`f = \max(m - 1, 0)`;
* membrane potential without reset (the block's convolution, a lower-triangular Toeplitz matmul):
  :math:`v_j = \sum_{i=f}^{j} \alpha^{j-i} x_i + \alpha^{j-f+1} v_0` (the initial value enters as
  an extra input :math:`\alpha v_0` at step f);
* adaptive threshold before the block's spike: :math:`\theta_j = v_{th} + a_0 \rho^{j+1}`;
* crossings :math:`c_j = 1[v_j > \theta_j] \cdot 1[j \ge f]`; the spike is the first crossing,
  found from the cumulative count :math:`C_j = \sum_{i \le j} c_i`:
  :math:`j^* = L - \#\{j : C_j > 0\}` (L if none), :math:`z_j = 1[j = j^*]`;
* end of block (spike at :math:`j^*`, or none): :math:`v \leftarrow v_{reset}` if it fired, else
  :math:`v_{L-1}` (or :math:`v_0` if no step was active); :math:`a \leftarrow a_0\rho^L +
  \beta\rho^{L-1-j^*}`; :math:`m \leftarrow K - (L-1-j^*)` if it fired, else :math:`\max(m-L, 0)`.

Gradients (surrogate, hand-written backward of `_Block`): :math:`\partial z_j / \partial(v_j -
\theta_j) = g(v_j - \theta_j)\,M_j` with :math:`g` the surrogate derivative
(`biofit.neurons.surrogate.surrogate_grad`) and the mask :math:`M_j = 1[f \le j \le j^*]`
(active, not after the block's spike) held constant, so each step gets the surrogate derivative
at the same membrane potential and threshold as in the sequential model (where the steps after a
spike are refractory). The state passed to the next block is differentiable with respect to the
input, the carried ``v``/``a`` and every intrinsic parameter, but the spike enters the reset and
the threshold jump as a constant: this is 2311.11390's choice (gradient only through the
non-recurrent path); it equals back-propagation through the sequential model with ``z`` detached
in the reset and in ``a += beta z``.

The Toeplitz matmul costs L multiply-adds per element but is stable for any L (all entries
:math:`\alpha^k \le 1`, no cancellation); a scaled cumulative sum
:math:`\alpha^j\sum_i\alpha^{-i}x_i` would overflow (:math:`\alpha^{-L}`) for long blocks. Its
summation order differs from the sequential recursion, so the membrane potentials agree to rounding
(~1e-16 V in float64, ~1e-8 V in float32), and a spike can differ only when the sequential
:math:`v_j - \theta_j` is within that rounding of 0.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from biofit.neurons.surrogate import surrogate_grad


class BlockConstants(NamedTuple):
    """Per-call constants; per-neuron values have shape ``[N, 1, 1]`` or ``[1, 1, 1]``."""

    toeplitz: Tensor  # [N|1, L, L]: alpha^(j-i) for i <= j, else 0
    decay: Tensor  # alpha
    adapt_pow: Tensor  # [N|1, L+1, 1]: rho^e, e = 0..L
    v_reset: Tensor
    v_th: Tensor
    beta: Tensor
    ref_steps: Tensor  # K (float)


class BlockState(NamedTuple):
    """State at a block boundary, each ``[N, 1, B]``: ``v`` (V), ``a`` (V), ``refractory`` (steps)."""

    v: Tensor
    a: Tensor
    refractory: Tensor


def _as_col(x: Tensor) -> Tensor:
    return x.reshape(-1, 1, 1)


def powers(base: Tensor, n: int) -> Tensor:
    """``base^e`` for e = 0..n, shape ``[N|1, n + 1, 1]`` (differentiable in `base`)."""
    e = torch.arange(n + 1, dtype=base.dtype, device=base.device).view(1, -1, 1)
    return _as_col(base) ** e


def toeplitz_decay(decay: Tensor, length: int) -> Tensor:
    """Lower-triangular Toeplitz kernel ``K[n, j, i] = decay_n^(j-i)`` (i <= j), ``[N|1, L, L]``."""
    j = torch.arange(length, device=decay.device)
    lag = j.view(-1, 1) - j.view(1, -1)
    table = powers(decay, length - 1)[:, :, 0]  # [N|1, L]
    kernel = table[:, lag.clamp(min=0)]
    return torch.where(lag >= 0, kernel, torch.zeros((), dtype=kernel.dtype, device=kernel.device))


def block_constants(
    decay: Tensor, decay_adapt: Tensor, v_reset: Tensor, v_th: Tensor, beta: Tensor,
    ref_steps: Tensor, length: int,
) -> BlockConstants:
    """Constants for blocks of up to `length` steps from the coefficients of `alif_coefficients`."""
    return BlockConstants(
        toeplitz_decay(decay, length), _as_col(decay), powers(decay_adapt, length),
        _as_col(v_reset), _as_col(v_th), _as_col(beta),
        _as_col(ref_steps),
    )


def _sum_to(g: Tensor, like: Tensor) -> Tensor:
    """Sum `g` over the dimensions along which `like` was broadcast."""
    dims = tuple(i for i, (a, b) in enumerate(zip(like.shape, g.shape)) if a == 1 and b != 1)
    return g.sum(dim=dims, keepdim=True) if dims else g


class _Block(torch.autograd.Function):
    """Forward and hand-written backward of one block (see the module docstring).

    Inputs: drive ``[N, n, B]``; v0, a0, refractory ``[N, 1, B]``; toeplitz ``[N|1, n, n]``;
    adapt_pow ``[N|1, n+1, 1]``; decay, v_th, beta, v_reset, ref_steps ``[N|1, 1, 1]``; the
    surrogate's name and width (`biofit.neurons.surrogate`).
    Outputs: spikes ``[N, n, B]``, membrane potential without reset ``[N, n, B]``, v, a and
    refractory at the end of the block, and the (non-differentiable) spike step j* (n if none).
    """

    @staticmethod
    def forward(ctx, drive, v0, a0, refractory, toeplitz, adapt_pow, decay, v_th, beta, v_reset,
                ref_steps, surrogate, width):
        n = drive.shape[1]
        step = torch.arange(n, device=drive.device).view(1, n, 1)
        first_active = (refractory - 1.0).clamp(min=0.0).long()  # f, [N, 1, B]
        active = step >= first_active
        zero = torch.zeros((), dtype=drive.dtype, device=drive.device)
        y = torch.where(active, drive, zero)
        # alpha v0 enters as an extra input at step f: the convolution then carries the initial value
        starts = first_active < n
        y.scatter_add_(1, first_active.clamp(max=n - 1), torch.where(starts, decay * v0, zero))
        v = torch.matmul(toeplitz, y)
        distance = v - v_th - a0 * adapt_pow[:, 1:]
        crossing = (distance > 0) & active
        # cumulative crossing count: positive from the first crossing on, so j* = n - #positive
        seen = torch.cumsum(crossing, dim=1, dtype=torch.int32) > 0
        fired = seen[:, -1:]
        t_spike = n - seen.sum(dim=1, keepdim=True, dtype=torch.int64)  # n if no crossing
        spikes = (step == t_spike).to(drive.dtype)
        since = (n - 1) - t_spike.clamp(max=n - 1)
        pow_since = adapt_pow[:, :, 0].expand(v0.shape[0], -1).gather(1, since[:, 0]).unsqueeze(1)
        a_decayed = a0 * adapt_pow[:, n:]
        a_end = torch.where(fired, a_decayed + beta * pow_since, a_decayed)
        last_active = starts  # f <= n - 1
        v_end = torch.where(fired, v_reset, torch.where(last_active, v[:, -1:], v0))
        # K >= L >= n > since: the refractory count after a spike stays >= 0
        ref_end = torch.where(fired, ref_steps - since, (refractory - n).clamp(min=0.0))
        ctx.save_for_backward(y, distance, v0, a0, toeplitz, adapt_pow, decay, v_th, beta, v_reset,
                              first_active, t_spike, pow_since)
        ctx.surrogate = (surrogate, width)
        ctx.mark_non_differentiable(ref_end, t_spike)
        return spikes, v, v_end, a_end, ref_end, t_spike

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_spikes, g_v, g_v_end, g_a_end, _g_ref, _g_t):
        (y, distance, v0, a0, toeplitz, adapt_pow, decay, v_th, beta, v_reset,
         first_active, t_spike, pow_since) = ctx.saved_tensors
        n = y.shape[1]
        step = torch.arange(n, device=y.device).view(1, n, 1)
        fired = t_spike < n
        starts = first_active < n
        # surrogate derivative where the sequential step is live: active and not after the spike
        live = (step >= first_active) & (step <= t_spike)
        # contiguous: the incoming gradient is a transposed view, and bmm on it would loop
        name, width = ctx.surrogate
        zero = torch.zeros((), dtype=y.dtype, device=y.device)
        g_dist = torch.where(live, g_spikes * surrogate_grad(name, distance, width), zero).contiguous()
        g_mem = g_dist if g_v is None else g_dist + g_v
        if g_v_end is not None:
            g_mem[:, -1:] += torch.where(starts & ~fired, g_v_end, zero)
        g_y = torch.matmul(toeplitz.transpose(1, 2), g_mem)
        g_drive = torch.where(step >= first_active, g_y, zero)
        # gradient with respect to the injected alpha v0
        g_start = torch.where(starts, g_y.gather(1, first_active.clamp(max=n - 1)), zero)
        g_v0 = decay * g_start
        g_decay = _sum_to(g_start * v0, decay)
        g_toeplitz = _sum_to(torch.matmul(g_mem, y.transpose(1, 2)), toeplitz)
        g_a0 = -(g_dist * adapt_pow[:, 1:]).sum(dim=1, keepdim=True)
        g_adapt = torch.zeros_like(adapt_pow.expand(g_dist.shape[0], -1, -1))
        g_adapt[:, 1:] = -(g_dist * a0).sum(dim=2, keepdim=True)
        g_v_th = _sum_to(-g_dist.sum(dim=(1, 2), keepdim=True), v_th)
        g_beta = g_v_reset = None
        if g_a_end is not None:
            g_a0 = g_a0 + g_a_end * adapt_pow[:, n:]
            g_adapt[:, n:] += (g_a_end * a0).sum(dim=2, keepdim=True)
            since = (n - 1) - t_spike.clamp(max=n - 1)
            g_jump = torch.where(fired, g_a_end, zero)
            g_adapt[:, :, 0].scatter_add_(1, since[:, 0], (g_jump * beta)[:, 0])
            g_beta = _sum_to((g_jump * pow_since).sum(dim=2, keepdim=True), beta)
        if g_v_end is not None:
            g_v0 = g_v0 + torch.where(starts | fired, zero, g_v_end)
            g_v_reset = _sum_to(torch.where(fired, g_v_end, zero).sum(dim=2, keepdim=True), v_reset)
        g_adapt = _sum_to(g_adapt, adapt_pow)
        return (g_drive, g_v0, g_a0, None, g_toeplitz, g_adapt, g_decay, g_v_th, g_beta, g_v_reset,
                None, None, None)


def block_update(
    drive: Tensor, s: BlockState, k: BlockConstants, surrogate: str, width: float, record: bool = False
) -> tuple[Tensor, BlockState, tuple[Tensor, Tensor] | None]:
    """One block: `drive` ``[N, n, B]`` (V, `alif_drive`) for ``n <= L`` steps -> spikes ``[N, n, B]``.

    Returns ``(spikes, state at the end of the block, traces)``; with ``record=True`` traces are
    ``(v, a)`` after each step (after any reset), each ``[N, n, B]``, else None.
    """
    n = drive.shape[1]
    spikes, v, v_end, a_end, ref_end, t_spike = _Block.apply(
        drive, s.v, s.a, s.refractory, k.toeplitz[:, :n, :n], k.adapt_pow[:, : n + 1], k.decay,
        k.v_th, k.beta, k.v_reset, k.ref_steps, surrogate, width,
    )
    traces = None
    if record:
        step = torch.arange(n, device=drive.device).view(1, n, 1)
        after = step >= t_spike
        active = step >= (s.refractory - 1.0).clamp(min=0.0)
        v_tr = torch.where(after, k.v_reset, torch.where(active, v, s.v))
        lag = (step - t_spike).clamp(min=0).to(drive.dtype)
        a_tr = s.a * k.adapt_pow[:, 1 : n + 1] + after * (k.beta * k.adapt_pow[:, 1:2] ** lag)
        traces = (v_tr, a_tr)
    return spikes, BlockState(v_end, a_end, ref_end), traces
