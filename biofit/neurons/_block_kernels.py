r"""Pure kernels of the Block-ALIF simulation (2311.11390, Sec. 3): one block of L steps at a time.

Notation (one neuron; the kernels act on ``[N, L, B]`` blocks, layout neuron, step, batch):
:math:`\alpha = e^{-dt/\tau_{mem}}`, :math:`g = R(1-\alpha)`, :math:`\rho = e^{-dt/\tau_{adapt}}`,
K the refractory length in steps of `biofit.neurons.alif` (a spike at step n freezes ``v`` for
steps n+1 .. n+K-1). With a block length :math:`L \le K` a neuron fires at most once per block.

For a block starting in state :math:`(v_0, a_0, m)` (m = refractory steps left) and input
current :math:`I_j`, :math:`j = 0..L-1`, the sequential recursion of `alif_update` is, in closed form:

* step j is active (``v`` integrates, may fire) iff :math:`j \ge f`, :math:`f = \max(m - 1, 0)`;
* membrane potential without reset (the block's convolution, a lower-triangular Toeplitz matmul):
  :math:`w_j = \sum_{i=f}^{j} \alpha^{j-i} g I_i + \alpha^{j-f+1}(v_0 - v_{rest})`,
  :math:`v_j = v_{rest} + w_j`;
* adaptive threshold before the block's spike: :math:`\theta_j = v_{th} + a_0 \rho^{j+1}`;
* crossings :math:`c_j = 1[v_j > \theta_j] \cdot 1[j \ge f]`; the spike is the first crossing,
  found from the cumulative count :math:`C_j = \sum_{i \le j} c_i`: :math:`z_j = c_j 1[C_j = 1]`;
* end of block (spike at :math:`j^*`, or none): :math:`v \leftarrow v_{reset}` if it fired, else
  :math:`v_{L-1}` (or :math:`v_0` if no step was active); :math:`a \leftarrow a_0\rho^L +
  \beta\rho^{L-1-j^*}`; :math:`m \leftarrow K - (L-1-j^*)` if it fired, else :math:`\max(m-L, 0)`.

Gradients (surrogate): ``z_j = spike(v_j - theta_j) * M_j`` with the mask
:math:`M_j = 1[j \ge f]\,1[C_j - c_j = 0]` (active, no earlier crossing in the block) held
constant, so each step gets the surrogate derivative at the same membrane potential and threshold
as in the sequential model (where the step after a spike is refractory). The state passed to the
next block is differentiable with respect to the input, the carried ``v``/``a`` and every
intrinsic parameter, but the spike enters the reset and the threshold jump as a constant: this is
2311.11390's choice (gradient only through the non-recurrent path); it equals back-propagation
through the sequential model with ``z`` detached in the reset and in ``a += beta z``.

The Toeplitz matmul costs L multiply-adds per element but is exact-order stable for any L (all
entries :math:`\alpha^k \le 1`); a scaled cumulative sum :math:`\alpha^j\sum_i\alpha^{-i}x_i` would
overflow for long blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

SpikeFn = Callable[[Tensor], Tensor]


class BlockConstants(NamedTuple):
    """Per-call constants; per-neuron values have shape ``[N, 1, 1]`` or ``[1, 1, 1]``."""

    toeplitz: Tensor  # [N|1, L, L]: alpha^(j-i) for i <= j, else 0
    decay: Tensor  # alpha
    adapt_pow: Tensor  # [N|1, L+1, 1]: rho^e, e = 0..L
    gain: Tensor  # R (1 - alpha), V/A
    v_rest: Tensor
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
    decay: Tensor, gain: Tensor, decay_adapt: Tensor, v_rest: Tensor, v_reset: Tensor,
    v_th: Tensor, beta: Tensor, ref_steps: Tensor, length: int,
) -> BlockConstants:
    """Constants for blocks of up to `length` steps from the coefficients of `alif_coefficients`."""
    return BlockConstants(
        toeplitz_decay(decay, length), _as_col(decay), powers(decay_adapt, length),
        _as_col(gain), _as_col(v_rest), _as_col(v_reset), _as_col(v_th), _as_col(beta),
        _as_col(ref_steps),
    )


def block_update(
    drive: Tensor, s: BlockState, k: BlockConstants, spike: SpikeFn, record: bool = False
) -> tuple[Tensor, BlockState, tuple[Tensor, Tensor] | None]:
    """One block: `drive` ``[N, n, B]`` = ``g * I`` (V) for ``n <= L`` steps -> spikes ``[N, n, B]``.

    Returns ``(spikes, state at the end of the block, traces)``; with ``record=True`` traces are
    ``(v, a)`` after each step (after any reset), each ``[N, n, B]``, else None.
    """
    n = drive.shape[1]
    step = torch.arange(n, device=drive.device, dtype=drive.dtype).view(1, n, 1)
    first_active = (s.refractory - 1.0).clamp(min=0.0)  # [N, 1, B]
    active = step >= first_active
    w0 = s.v - k.v_rest
    # inject alpha * w0 at the first active step: the convolution then carries the initial value
    inject = (step == first_active).to(drive.dtype) * (k.decay * w0)
    w = torch.matmul(k.toeplitz[:, :n, :n], drive * active + inject)
    adapt = s.a * k.adapt_pow[:, 1 : n + 1]  # a_0 rho^(j+1)
    distance = w + (k.v_rest - k.v_th) - adapt  # v_j - theta_j
    crossing = (distance > 0) & active
    count = torch.cumsum(crossing, dim=1, dtype=drive.dtype)
    first = (crossing & (count == 1.0)).to(drive.dtype)
    mask = active & (count - crossing.to(drive.dtype) == 0.0)
    spikes = spike(distance) * mask
    fired = count[:, -1:] > 0  # [N, 1, B]
    t_spike = (first * step).sum(dim=1, keepdim=True)  # j*, 0 if none
    since_spike = (n - 1.0) - t_spike
    jump = k.beta * (first * k.adapt_pow[:, :n].flip(1)).sum(dim=1, keepdim=True)
    a_end = s.a * k.adapt_pow[:, n : n + 1] + jump
    last_active = active[:, -1:]
    v_end = torch.where(fired, k.v_reset, torch.where(last_active, k.v_rest + w[:, -1:], s.v))
    ref_end = torch.where(fired, (k.ref_steps - since_spike).clamp(min=0.0),
                          (s.refractory - n).clamp(min=0.0))
    traces = None
    if record:
        after = count > 0  # at or after the block's spike
        v_tr = torch.where(after, k.v_reset, torch.where(active, k.v_rest + w, s.v))
        post = k.beta * k.adapt_pow[:, 1:2] ** (step - t_spike).clamp(min=0.0)  # beta rho^(j-j*)
        a_tr = adapt + post * after
        traces = (v_tr, a_tr)
    return spikes, BlockState(v_end, a_end, ref_end), traces
