r"""Trace-based pair STDP: additive, multiplicative (Gütig et al. 2003) and nearest-neighbour.

Each synapse :math:`i \to j` sees a presynaptic trace :math:`x_i` and a postsynaptic trace
:math:`y_j`, decayed exactly on the time grid and bumped by spikes (Morrison, Diesmann & Gerstner
2008, Biol. Cybern. 98:459, eqs. 3-4 and 6-7):

.. math::

    x_i \leftarrow x_i e^{-\Delta t/\tau_+},\quad y_j \leftarrow y_j e^{-\Delta t/\tau_-}

    \Delta w_{ij} = (w_{max}-w_{min})\,[A_+ f_+(u_{ij})\, x_i\, s^{post}_j
                    - A_- f_-(u_{ij})\, y_j\, s^{pre}_i],\qquad
    u = \frac{w - w_{min}}{w_{max}-w_{min}}

    f_+(u) = (1-u)^{\mu_+},\quad f_-(u) = u^{\mu_-}

then :math:`w \leftarrow \mathrm{clip}(w + \Delta w, w_{min}, w_{max})` (hard bounds) and the traces
take the spikes of this step: :math:`x_i \leftarrow x_i + s^{pre}_i` for all-to-all pairing, or
:math:`x_i \leftarrow 1` at a spike for (symmetric) nearest-neighbour pairing (Morrison et al. 2008,
Fig. 7). The pairing uses the traces *before* this step's spikes, so a pre and a post spike in the
same bin do not interact (the window is 0 at :math:`\Delta t = 0`).

:math:`\mu_\pm = 0` is additive STDP (Song, Miller & Abbott 2000), :math:`\mu_\pm = 1` the
multiplicative rule (Rubin, Lee & Sompolinsky 2001), :math:`0<\mu<1` Gütig et al. (2003,
J. Neurosci. 23:3697, eq. 2) interpolating between them, :math:`\mu_+=0, \mu_-=1` van Rossum,
Bi & Turrigiano (2000, J. Neurosci. 20:8812): constant potentiation, depression ∝ w.

Amplitudes :math:`A_\pm` are dimensionless fractions of the weight range, as in Song et al. (2000),
where :math:`\Delta g = g_{max} A_+` per pair. Spikes are ``[T, B, N]`` (bool or float 0/1), as every
biofit layer emits them; ``dt`` is in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from biofit.validation import check_dt, check_nonnegative, check_positive, check_spike_tensor, renamed_arguments

PAIRINGS = ("all_to_all", "nearest")


@dataclass(frozen=True)
class STDPParams:
    """Constants of the pair rule; defaults are Song, Miller & Abbott (2000), Nat. Neurosci. 3:919.

    Attributes:
        a_plus: potentiation per pair at Δt → 0+, fraction of the weight range (Song: 0.005).
        a_minus: depression per pair at Δt → 0-, fraction of the weight range (Song: A-/A+ = 1.05).
        tau_plus: potentiation time constant, s (Song: 20 ms).
        tau_minus: depression time constant, s (Song: 20 ms).
        w_min, w_max: hard bounds of the weight, in the weight's own unit (Song: 0 and g_max).
        mu_plus, mu_minus: weight-dependence exponents (0 additive, 1 multiplicative; see module).
        pairing: "all_to_all" (traces sum over spikes) or "nearest" (traces reset to 1).
    """

    a_plus: float = 0.005
    a_minus: float = 0.00525
    tau_plus: float = 0.020
    tau_minus: float = 0.020
    w_min: float = 0.0
    w_max: float = 1.0
    mu_plus: float = 0.0
    mu_minus: float = 0.0
    pairing: str = "all_to_all"

    def __post_init__(self):
        check_nonnegative(self.a_plus, "a_plus")
        check_nonnegative(self.a_minus, "a_minus")
        check_positive(self.tau_plus, "tau_plus")
        check_positive(self.tau_minus, "tau_minus")
        check_nonnegative(self.mu_plus, "mu_plus")
        check_nonnegative(self.mu_minus, "mu_minus")
        if not (math.isfinite(self.w_min) and math.isfinite(self.w_max) and self.w_max > self.w_min):
            raise ValueError(f"need finite w_min < w_max, got w_min={self.w_min}, w_max={self.w_max}")
        if self.pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}, got {self.pairing!r}")


class STDPState(NamedTuple):
    """Traces: ``x_pre: float[B, N_pre]`` (decays with tau_plus), ``x_post: float[B, N_post]``."""

    x_pre: torch.Tensor
    x_post: torch.Tensor


def init_state(batch: int, n_pre: int, n_post: int, dtype=torch.float64, device=None) -> STDPState:
    """Zero traces for ``batch`` independent runs of an ``n_pre -> n_post`` projection.

    ``device``: where the spikes and weights live (None: torch's default device); the rules below
    call it with their weights' dtype and device.
    """
    return STDPState(
        torch.zeros(batch, n_pre, dtype=dtype, device=device),
        torch.zeros(batch, n_post, dtype=dtype, device=device),
    )


@renamed_arguments(delta_t_s="delta_t")
def stdp_window(delta_t, params: STDPParams = STDPParams(), w=None) -> np.ndarray:
    """Weight change of one isolated pre/post pair at ``delta_t = t_post - t_pre`` (s).

    ``W(Δt) = (w_max-w_min) A_+ f_+(u) exp(-Δt/τ_+)`` for Δt > 0, ``-(w_max-w_min) A_- f_-(u)
    exp(Δt/τ_-)`` for Δt < 0, and 0 at Δt = 0 (same-bin spikes do not pair, see module).
    ``w`` is the weight before the pair (default: the middle of the range). Returns a numpy array
    shaped like ``delta_t``, in weight units.

    >>> round(float(stdp_window(0.010)), 6)   # 0.005 * exp(-0.5)
    0.003033
    """
    lag = np.asarray(delta_t, dtype=float)
    if not np.all(np.isfinite(lag)):
        raise ValueError(f"delta_t has {int((~np.isfinite(lag)).sum())} non-finite values")
    span = params.w_max - params.w_min
    u = 0.5 if w is None else (float(w) - params.w_min) / span
    if not 0.0 <= u <= 1.0:
        raise ValueError(f"w={w} lies outside [w_min, w_max] = [{params.w_min}, {params.w_max}]")
    ltp = params.a_plus * (1.0 - u) ** params.mu_plus * np.exp(-np.abs(lag) / params.tau_plus)
    ltd = params.a_minus * u**params.mu_minus * np.exp(-np.abs(lag) / params.tau_minus)
    return span * np.where(lag > 0, ltp, np.where(lag < 0, -ltd, 0.0))


def pair_update(pre, post, state: STDPState, w: torch.Tensor, params: STDPParams, dt: float):
    """One step of trace pairing without applying it: returns ``(dw, new_state)``.

    ``pre: float[B, N_pre]``, ``post: float[B, N_post]`` (0/1), ``w: float[N_pre, N_post]`` (one
    weight matrix; the batch's changes are summed) or ``float[B, N_pre, N_post]`` (one per batch
    element). ``dw`` has the shape of ``w`` and is unclipped; the reward-modulated rule
    (:mod:`biofit.learning.three_factor`) accumulates it as an eligibility trace.
    """
    x_pre = state.x_pre * math.exp(-dt / params.tau_plus)
    x_post = state.x_post * math.exp(-dt / params.tau_minus)
    span = params.w_max - params.w_min
    u = ((w - params.w_min) / span).clamp(0.0, 1.0)
    f_plus = (1.0 - u) ** params.mu_plus if params.mu_plus else 1.0
    f_minus = u**params.mu_minus if params.mu_minus else 1.0
    pattern = "bi,bj->ij" if w.ndim == 2 else "bi,bj->bij"
    ltp = torch.einsum(pattern, x_pre, post)
    ltd = torch.einsum(pattern, pre, x_post)
    dw = span * (params.a_plus * f_plus * ltp - params.a_minus * f_minus * ltd)
    if params.pairing == "all_to_all":
        x_pre, x_post = x_pre + pre, x_post + post
    else:
        x_pre = torch.where(pre > 0, torch.ones_like(x_pre), x_pre)
        x_post = torch.where(post > 0, torch.ones_like(x_post), x_post)
    return dw, STDPState(x_pre, x_post)


def stdp_step(pre, post, state: STDPState, w: torch.Tensor, params: STDPParams, dt: float):
    """Advance the rule by one bin of ``dt`` seconds: returns ``(new_w, new_state)``.

    Shapes as in :func:`pair_update`; the new weight is clipped to ``[w_min, w_max]``.

    >>> p = STDPParams()
    >>> s = init_state(1, 1, 1)
    >>> w = torch.full((1, 1), 0.5, dtype=torch.float64)
    >>> one, none = torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    >>> w, s = stdp_step(one, none, s, w, p, 1e-3)       # pre at t = 0
    >>> for _ in range(9):
    ...     w, s = stdp_step(none, none, s, w, p, 1e-3)
    >>> w, s = stdp_step(none, one, s, w, p, 1e-3)       # post at t = 10 ms
    >>> round(w.item() - 0.5, 6)
    0.003033
    """
    dw, state = pair_update(pre, post, state, w, params, dt)
    return (w + dw).clamp(params.w_min, params.w_max), state


class STDP:
    """Online pair STDP on a ``N_pre -> N_post`` projection (thin wrapper over :func:`stdp_step`).

    Args:
        params: :class:`STDPParams` (defaults: Song et al. 2000).
        dt: time step, s (required, keyword; no default).

    State and temporaries are allocated on the weights' device and in their dtype.

    Example:
        >>> rule = STDP(STDPParams(a_plus=0.01, a_minus=0.0105), dt=1e-3)
        >>> pre = torch.rand(200, 4, 30) < 0.02      # [T, B, N_pre] Bernoulli spikes
        >>> post = torch.rand(200, 4, 5) < 0.02      # [T, B, N_post]
        >>> w, hist = rule.run(pre, post, torch.full((30, 5), 0.5), record_every=50)
        >>> tuple(w.shape), tuple(hist.shape)
        ((30, 5), (4, 30, 5))
    """

    def __init__(self, params: STDPParams = STDPParams(), *, dt: float):
        self.params = params
        self.dt = check_dt(dt)

    def step(self, pre, post, state: STDPState, w: torch.Tensor):
        """One bin: ``pre: [B, N_pre]``, ``post: [B, N_post]`` -> ``(new_w, new_state)``."""
        pre = check_spike_tensor(pre, "pre", 2, w.dtype)
        post = check_spike_tensor(post, "post", 2, w.dtype)
        check_shapes(pre.shape, post.shape, state, w)
        return stdp_step(pre, post, state, w, self.params, self.dt)

    @torch.no_grad()
    def run(self, pre_raster, post_raster, w, state: STDPState | None = None, record_every: int = 0):
        """Apply the rule over whole rasters ``pre: [T, B, N_pre]``, ``post: [T, B, N_post]``.

        Gives the weights of ``T`` calls of :func:`stdp_step` (up to float rounding), computed by
        :func:`stdp_raster` in chunks of ``record_every`` steps (default: sized to memory).
        ``w``: initial weights ``[N_pre, N_post]`` or ``[B, N_pre, N_post]`` inside
        ``[w_min, w_max]`` (not modified); the rasters are moved to its device chunk by chunk.
        Returns ``(w_final, history)``; ``history`` stacks the
        weights after every ``record_every``-th step (``None`` when ``record_every`` is 0).
        """
        w = torch.as_tensor(w)
        if not w.is_floating_point():
            raise TypeError(f"w must be a floating tensor, got dtype {w.dtype}")
        pre, post = _raster("pre_raster", pre_raster), _raster("post_raster", post_raster)
        if pre.shape[:2] != post.shape[:2]:
            raise ValueError(
                f"pre_raster [T, B, N_pre] {tuple(pre.shape)} and post_raster [T, B, N_post] "
                f"{tuple(post.shape)} differ in T or B"
            )
        if pre.shape[0] == 0:
            raise ValueError("pre_raster and post_raster have no time bins (T = 0)")
        if state is None:
            state = init_state(pre.shape[1], pre.shape[2], post.shape[2], w.dtype, w.device)
        check_shapes(pre.shape[1:], post.shape[1:], state, w)
        outside = (w < self.params.w_min) | (w > self.params.w_max)
        if bool(outside.any()):
            raise ValueError(
                f"w has {int(outside.sum())} values outside [w_min, w_max] = "
                f"[{self.params.w_min}, {self.params.w_max}]"
            )
        per_bin = pre.shape[1] * (pre.shape[2] + post.shape[2])
        chunk = record_every or int(min(20_000, max(1, 4_000_000 // per_bin)))
        history = []
        for start in range(0, pre.shape[0], chunk):
            stop = min(start + chunk, pre.shape[0])
            w, state = stdp_raster(
                check_spike_tensor(pre[start:stop].to(w.device), "pre_raster", 3, torch.bool),
                check_spike_tensor(post[start:stop].to(w.device), "post_raster", 3, torch.bool),
                state, w, self.params, self.dt,
            )
            if record_every and stop - start == record_every:
                history.append(w.clone())
        return w, (torch.stack(history) if record_every else None)


def _raster(name: str, raster) -> torch.Tensor:
    """``raster`` as a 3-D tensor ``[T, B, N]`` without copying (0/1 is checked chunk by chunk)."""
    raster = raster if isinstance(raster, torch.Tensor) else torch.as_tensor(np.asarray(raster), device="cpu")
    if raster.ndim != 3:
        raise ValueError(f"{name} must be 3-D [T, B, N], got shape {tuple(raster.shape)}")
    return raster


def _trace_at(spike_idx, shape, carry, decay: float, nearest: bool, q_t, q_b):
    """Traces just before bins ``q_t`` of batch rows ``q_b`` (``[Q, N]``) and after the last bin.

    Only spike bins matter: per neuron, the trace right after its k-th spike is
    ``X_k = X_{k-1} decay^(s_k - s_{k-1}) + 1`` (all-to-all) or 1 (nearest), computed with one
    vectorized step per spike rank; a query reads the neuron's last spike before it.
    ``spike_idx``: the (bin, batch, neuron) indices of the spikes of a ``[K, B, N]`` raster
    (``shape``); ``carry: float[B, N]``, the trace after the previous bin.
    """
    k, batch, n = shape
    t, b, i = spike_idx
    key, order = torch.sort((b * n + i) * k + t)
    t, group = t[order].to(carry.dtype), (b * n + i)[order]
    counts = torch.bincount(group, minlength=batch * n)
    rank = torch.arange(len(key), device=key.device) - (torch.cumsum(counts, 0) - counts)[group]
    n_max = int(counts.max()) if len(key) else 0
    times = torch.zeros(n_max, batch * n, dtype=carry.dtype, device=carry.device)
    times[rank, group] = t
    after = torch.zeros_like(times)
    x = carry.reshape(-1).clone()
    last = torch.full_like(x, -1.0)
    for m in range(n_max):
        valid = counts > m
        fresh = torch.ones_like(x) if nearest else x * decay ** (times[m] - last) + 1.0
        x = torch.where(valid, fresh, x)
        last = torch.where(valid, times[m], last)
        after[m] = x
    end = (x * decay ** (k - 1 - last)).reshape(batch, n)
    q_group = q_b[:, None] * n + torch.arange(n, device=q_b.device)
    q_time = q_t[:, None].to(carry.dtype)
    values = carry.reshape(-1)[q_group] * decay ** (q_time + 1.0)
    if len(key):
        pos = (torch.searchsorted(key, q_group * k + q_t[:, None]) - 1).clamp(min=0)
        hit = (key[pos] < q_group * k + q_t[:, None]) & (group[pos] == q_group)
        values = torch.where(hit, after[rank[pos], q_group] * decay ** (q_time - t[pos]), values)
    return values, end


def _events_per_synapse(pre_idx, post_idx, shape, x_post_at_pre, x_pre_at_post, shared: bool):
    """Per-synapse event lists ``[E, S]`` of (trace × spike) products, in time order.

    LTD events are (pre spike of i) × (all j), LTP events (post spike of j) × (all i); events of
    one synapse in the same bin (pre and post together, or several batch elements sharing ``w``)
    are summed, because :func:`stdp_step` applies them with one evaluation of f(w).
    """
    k, batch, n_pre, n_post = shape
    (t_d, b_d, i_d), (t_p, b_p, j_p) = pre_idx, post_idx
    dtype, device = x_post_at_pre.dtype, x_post_at_pre.device
    syn_d = i_d.repeat_interleave(n_post) * n_post + torch.arange(n_post, device=device).repeat(len(t_d))
    syn_p = torch.arange(n_pre, device=device).repeat(len(t_p)) * n_post + j_p.repeat_interleave(n_pre)
    if not shared:
        syn_d = syn_d + b_d.repeat_interleave(n_post) * n_pre * n_post
        syn_p = syn_p + b_p.repeat_interleave(n_pre) * n_pre * n_post
    n_syn = n_pre * n_post * (1 if shared else batch)
    t_all = torch.cat([t_d.repeat_interleave(n_post), t_p.repeat_interleave(n_pre)])
    keys, inverse = torch.unique(torch.cat([syn_d, syn_p]) * k + t_all, return_inverse=True)
    zeros_d = torch.zeros(len(syn_d), dtype=dtype, device=device)
    zeros_p = torch.zeros(len(syn_p), dtype=dtype, device=device)
    ltd = torch.zeros(len(keys), dtype=dtype, device=device).index_add_(
        0, inverse, torch.cat([x_post_at_pre.reshape(-1), zeros_p])
    )
    ltp = torch.zeros(len(keys), dtype=dtype, device=device).index_add_(
        0, inverse, torch.cat([zeros_d, x_pre_at_post.reshape(-1)])
    )
    syn = keys // k
    counts = torch.bincount(syn, minlength=n_syn)
    rank = torch.arange(len(keys), device=device) - (torch.cumsum(counts, 0) - counts)[syn]
    n_events = int(counts.max()) if len(keys) else 0
    out_ltp = torch.zeros(n_events, n_syn, dtype=dtype, device=device)
    out_ltd = torch.zeros_like(out_ltp)
    out_ltp[rank, syn] = ltp
    out_ltd[rank, syn] = ltd
    return out_ltp, out_ltd


def stdp_raster(pre, post, state: STDPState, w: torch.Tensor, params: STDPParams, dt: float):
    """Equivalent of ``K`` successive :func:`stdp_step` calls (to float rounding), event-driven.

    The traces do not depend on the weights, so they are evaluated only where they are read: the
    post trace at pre spikes (LTD) and the pre trace at post spikes (LTP). A synapse's weight
    changes only in the bins where its pre or post neuron spikes; those bins are gathered per
    synapse and applied in order, so the Python loop runs over the largest number of such events of
    one synapse, not over ``K``. ``pre: [K, B, N_pre]``, ``post: [K, B, N_post]`` (bool or 0/1); other
    arguments and return value as in :func:`stdp_step`.
    """
    nearest = params.pairing == "nearest"
    pre_idx, post_idx = pre.nonzero(as_tuple=True), post.nonzero(as_tuple=True)
    decay_minus, decay_plus = math.exp(-dt / params.tau_minus), math.exp(-dt / params.tau_plus)
    x_post, end_post = _trace_at(post_idx, post.shape, state.x_post, decay_minus, nearest, *pre_idx[:2])
    x_pre, end_pre = _trace_at(pre_idx, pre.shape, state.x_pre, decay_plus, nearest, *post_idx[:2])
    shape = (*pre.shape, post.shape[2])
    gathered_ltp, gathered_ltd = _events_per_synapse(pre_idx, post_idx, shape, x_post, x_pre, w.ndim == 2)
    span = params.w_max - params.w_min
    flat = w.reshape(-1)
    for e in range(gathered_ltp.shape[0]):
        u = ((flat - params.w_min) / span).clamp(0.0, 1.0)
        f_plus = (1.0 - u) ** params.mu_plus if params.mu_plus else 1.0
        f_minus = u**params.mu_minus if params.mu_minus else 1.0
        dw = span * (params.a_plus * f_plus * gathered_ltp[e] - params.a_minus * f_minus * gathered_ltd[e])
        flat = (flat + dw).clamp(params.w_min, params.w_max)
    return flat.reshape(w.shape), STDPState(end_pre, end_post)


def check_shapes(pre_shape, post_shape, state: STDPState, w: torch.Tensor) -> None:
    """Raise ``ValueError`` unless pre ``[B, N_pre]``, post ``[B, N_post]``, traces and w agree."""
    batch, n_pre = pre_shape
    n_post = post_shape[1]
    if post_shape[0] != batch:
        raise ValueError(f"pre has batch {batch} but post has batch {post_shape[0]}")
    if tuple(w.shape) not in ((n_pre, n_post), (batch, n_pre, n_post)):
        raise ValueError(
            f"w has shape {tuple(w.shape)}; expected ({n_pre}, {n_post}) or ({batch}, {n_pre}, {n_post})"
        )
    if tuple(state.x_pre.shape) != (batch, n_pre) or tuple(state.x_post.shape) != (batch, n_post):
        raise ValueError(
            f"state traces have shapes {tuple(state.x_pre.shape)}, {tuple(state.x_post.shape)}; "
            f"expected ({batch}, {n_pre}) and ({batch}, {n_post})"
        )
