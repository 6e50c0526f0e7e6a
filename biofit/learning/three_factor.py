r"""Reward-modulated STDP with eligibility traces (three-factor rule).

Izhikevich (2007, Cereb. Cortex 17:2443, eqs. 1-2) and Florian (2007, Neural Comput. 19:1468,
MSTDP-ET); review: Frémaux & Gerstner (2016, Front. Neural Circuits 9:85). Pair STDP
(:mod:`biofit.learning.stdp`) does not change the weight directly but tags the synapse:

.. math::

    e_{ij} \leftarrow e_{ij}\, e^{-\Delta t/\tau_e} + \mathrm{STDP}_{ij}(t),\qquad
    d \leftarrow d\, e^{-\Delta t/\tau_d} + r(t),\qquad
    \frac{dw_{ij}}{dt} = \eta\, M(t)\, e_{ij},\quad M = d - \bar d

where STDP is the pair update of :func:`biofit.learning.stdp.pair_update` (with its weight
dependence; A± are fractions of the weight range), r(t) the reward delivered in the bin (a
dopamine-like pulse, Izhikevich's DA(t)), d the neuromodulator concentration decaying with
:math:`\tau_d`, and :math:`\bar d` a running average of d with time constant ``tau_baseline``
(M is a reward-prediction error; ``tau_baseline=None`` uses M = d, Izhikevich's rule). Per bin,
:math:`\Delta w = \eta M e\,\Delta t` (Izhikevich's ds/dt = c d), so η (1/s) does not depend on the
step; w is clipped to [w_min, w_max]. Defaults follow Izhikevich (2007): τ_e = 1 s (his τ_c), τ_d = 0.2 s.

For trial-based tasks the reward pulse itself can be a *stimulus-specific* reward-prediction error,
:math:`r = R - \bar R(s)` with :math:`\bar R(s) \leftarrow \bar R(s) + \alpha\,(R - \bar R(s))` updated only
on trials of stimulus s (:func:`stimulus_rpe`; Frémaux, Sprekeler & Gerstner 2010, J. Neurosci.
30:13326, "critic" condition): it removes the bias that a reward with a non-zero mean per stimulus
gives the plain rule (their "unsupervised bias" term).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from biofit.validation import check_dt, check_finite_tensor, check_positive, check_spike_tensor
from biofit.learning.stdp import STDPParams, STDPState, check_shapes, init_state, pair_update


@dataclass(frozen=True)
class RSTDPParams:
    """Constants of the three-factor rule.

    Attributes:
        stdp: the pair rule that fills the eligibility trace (:class:`STDPParams`).
        tau_e: eligibility decay, s (Izhikevich 2007: τ_c = 1 s).
        tau_d: neuromodulator decay, s (Izhikevich 2007: 0.2 s).
        eta: learning rate, 1/s: dw/dt = eta · M · e (M in units of reward, e in weight units).
        tau_baseline: time constant of the running-average baseline of d, s; None = no baseline.
    """

    stdp: STDPParams = STDPParams()
    tau_e: float = 1.0
    tau_d: float = 0.2
    eta: float = 1.0
    tau_baseline: float | None = None

    def __post_init__(self):
        check_positive(self.tau_e, "tau_e")
        check_positive(self.tau_d, "tau_d")
        check_positive(self.eta, "eta")
        if self.tau_baseline is not None:
            check_positive(self.tau_baseline, "tau_baseline")


class RSTDPState(NamedTuple):
    """STDP traces, eligibility ``e`` (shape of w), modulator ``d`` and its baseline (``[B]`` or scalar)."""

    traces: STDPState
    eligibility: torch.Tensor
    modulator: torch.Tensor
    baseline: torch.Tensor


def rstdp_step(pre, post, reward, state: RSTDPState, w: torch.Tensor, params: RSTDPParams, dt: float):
    """One bin of the three-factor rule: returns ``(new_w, new_state)``.

    ``pre: float[B, N_pre]``, ``post: float[B, N_post]`` (0/1); ``w: float[B, N_pre, N_post]`` (one
    weight matrix per batch element, each with its own reward) or ``float[N_pre, N_post]`` (shared;
    ``reward`` must then be a scalar); ``reward: float[B]`` or scalar, the reward delivered in this
    bin. ``dt`` in s.
    """
    dw, traces = pair_update(pre, post, state.traces, w, params.stdp, dt)
    elig = state.eligibility * math.exp(-dt / params.tau_e) + dw
    d = state.modulator * math.exp(-dt / params.tau_d) + reward
    baseline = state.baseline
    if params.tau_baseline is not None:
        baseline = baseline + dt / params.tau_baseline * (d - baseline)
    m = d - baseline
    m = m.view(-1, 1, 1) if w.ndim == 3 else m
    w = (w + params.eta * dt * m * elig).clamp(params.stdp.w_min, params.stdp.w_max)
    return w, RSTDPState(traces, elig, d, baseline)


def stimulus_rpe(reward, stimulus: int, baseline: torch.Tensor, rate: float):
    """Stimulus-specific reward-prediction error: returns ``(reward - baseline[stimulus], new_baseline)``.

    ``baseline: float[n_stimuli]`` holds the running mean reward of each stimulus; only entry
    ``stimulus`` moves, by ``rate * (reward - baseline[stimulus])`` (an exponential average over the
    past trials of that stimulus, time constant ``1/rate`` trials; Frémaux et al. 2010). ``rate`` in
    (0, 1].

    >>> rpe, b = stimulus_rpe(1.0, 0, torch.zeros(2), 0.5)
    >>> float(rpe), b.tolist()
    (1.0, [0.5, 0.0])
    """
    rate = check_positive(rate, "rate")
    if rate > 1.0:
        raise ValueError(f"rate must be in (0, 1], got {rate!r}")
    if not 0 <= int(stimulus) < baseline.shape[0]:
        raise ValueError(f"stimulus={stimulus!r} is not an index into baseline of length {baseline.shape[0]}")
    reward = torch.as_tensor(reward, dtype=baseline.dtype, device=baseline.device)
    check_finite_tensor(reward.reshape(-1), "reward")
    rpe = reward - baseline[int(stimulus)]
    new = baseline.clone()
    new[int(stimulus)] += rate * rpe
    return rpe, new


class RewardModulatedSTDP:
    """Online three-factor learning on an ``N_pre -> N_post`` projection.

    Args:
        params: :class:`RSTDPParams`.
        dt: time step, s (required, keyword; no default).

    State and temporaries are allocated on the weights' device and in their dtype.

    Example:
        >>> rule = RewardModulatedSTDP(RSTDPParams(eta=0.5), dt=1e-3)
        >>> w = torch.full((2, 5, 3), 0.5, dtype=torch.float64)      # [B, N_pre, N_post]
        >>> state = rule.init_state(w)
        >>> pre = torch.rand(2, 5) < 0.1
        >>> post = torch.rand(2, 3) < 0.1
        >>> w, state = rule.step(pre, post, torch.tensor([0.0, 1.0]), state, w)
        >>> tuple(w.shape)
        (2, 5, 3)
    """

    def __init__(self, params: RSTDPParams = RSTDPParams(), *, dt: float):
        self.params = params
        self.dt = check_dt(dt)

    def init_state(self, w: torch.Tensor, batch: int | None = None) -> RSTDPState:
        """Zero traces for weights ``w`` (``[B, N_pre, N_post]``, or ``[N_pre, N_post]`` with ``batch``)."""
        if w.ndim == 3:
            batch = w.shape[0]
        elif w.ndim != 2 or batch is None:
            raise ValueError(f"w must be [B, N_pre, N_post], or [N_pre, N_post] with batch given; got {tuple(w.shape)}")
        n_pre, n_post = w.shape[-2:]
        shape_m = (w.shape[0],) if w.ndim == 3 else ()
        zeros = torch.zeros(shape_m, dtype=w.dtype, device=w.device)
        traces = init_state(batch, n_pre, n_post, w.dtype, w.device)
        return RSTDPState(traces, torch.zeros_like(w), zeros, zeros.clone())

    def step(self, pre, post, reward, state: RSTDPState, w: torch.Tensor):
        """Validate and advance one bin (see :func:`rstdp_step`)."""
        pre = check_spike_tensor(pre, "pre", 2, w.dtype)
        post = check_spike_tensor(post, "post", 2, w.dtype)
        check_shapes(pre.shape, post.shape, state.traces, w)
        reward = torch.as_tensor(reward, dtype=w.dtype, device=w.device)
        check_finite_tensor(reward.reshape(-1), "reward")
        if tuple(reward.shape) != tuple(state.modulator.shape):
            raise ValueError(f"reward has shape {tuple(reward.shape)}; expected {tuple(state.modulator.shape)}")
        return rstdp_step(pre, post, reward, state, w, self.params, self.dt)
