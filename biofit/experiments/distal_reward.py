"""Izhikevich (2007) distal reward: one rewarded pairing among many synapses is singled out.

``n_pre`` Poisson inputs project all-to-all onto ``n_post`` stochastic neurons (a synapse from i
to j raises j's firing probability in the next bin by ``coupling * w_ij`` when i fires, on top of
a spontaneous rate). Whenever presynaptic neuron 0 fires and postsynaptic neuron 0 fires within
``window`` seconds after it, a reward pulse is scheduled 1-3 s later (uniform delay, as in Izhikevich
2007, Fig. 1). All ``n_pre * n_post`` synapses learn with the three-factor rule of
:mod:`biofit.learning.three_factor`; only synapse (0, 0) is consistently eligible when reward
arrives, so only it grows. Each batch element is an independent run.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from biofit.learning.stdp import STDPParams
from biofit.learning.three_factor import RewardModulatedSTDP, RSTDPParams, rstdp_step
from biofit.validation import check_dt, check_positive, renamed_arguments, torch_generator

# Balanced window (A+ = A-): uncorrelated pairings leave zero-mean eligibility. tau_e = 2 s (Izhikevich
# used 1 s) keeps more of the tag across the 1-3 s delay, which this short task needs.
DEFAULT_RULE = RSTDPParams(
    stdp=STDPParams(a_plus=0.1, a_minus=0.1, tau_plus=0.02, tau_minus=0.02), tau_e=2.0, tau_d=0.2,
    eta=1.0, tau_baseline=10.0,
)


@renamed_arguments(duration_s="duration", window_s="window", delay_s="delay", record_every_s="record_every")
def simulate_distal_reward(
    n_runs: int = 3,
    n_pre: int = 20,
    n_post: int = 5,
    duration: float = 120.0,
    dt: float = 2e-3,
    rate_pre_hz: float = 5.0,
    rate_post_hz: float = 5.0,
    coupling: float = 0.0,
    w_init: float = 0.25,
    window: float = 0.01,
    delay: tuple[float, float] = (1.0, 3.0),
    rule: RSTDPParams = DEFAULT_RULE,
    seed=0,
    record_every: float = 1.0,
    progress: bool = False,
) -> dict:
    """Simulate ``n_runs`` independent networks; weights in [0, 1] (``rule.stdp`` bounds).

    Times in s: ``duration`` simulated, step ``dt``, pairing ``window``, reward ``delay`` range
    (min, max), recording every ``record_every``. ``seed``: int, numpy or CPU torch Generator.

    Returns a dict: ``weights`` float[n_runs, n_pre, n_post] (final), ``target_history`` and
    ``others_mean_history`` float[n_runs, n_records] (synapse (0, 0) and the mean of the others,
    every ``record_every``; the key ``record_every_s`` holds that interval in s), ``n_rewards``
    int[n_runs].

    Example:
        >>> out = simulate_distal_reward(n_runs=1, n_pre=5, n_post=2, duration=0.5, seed=0)
        >>> out["weights"].shape
        (1, 5, 2)
    """
    duration, dt = check_positive(duration, "duration"), check_dt(dt)
    gen = torch_generator(seed)
    n_steps, every = round(duration / dt), max(1, round(record_every / dt))
    w = torch.full((n_runs, n_pre, n_post), float(w_init), dtype=torch.float64)
    state = RewardModulatedSTDP(rule, dt=dt).init_state(w)
    delays = torch.randint(round(delay[0] / dt), round(delay[1] / dt) + 1, (n_steps, n_runs), generator=gen)
    pending = torch.zeros(n_runs, n_steps + round(delay[1] / dt) + 1, dtype=torch.float64)
    runs = torch.arange(n_runs)
    last_pre0 = torch.full((n_runs,), -1e9, dtype=torch.float64)
    pre_prev = torch.zeros(n_runs, n_pre, dtype=torch.float64)
    target_hist, others_hist = [], []
    for t in tqdm(range(n_steps), disable=not progress, desc="distal reward"):
        pre = (torch.rand(n_runs, n_pre, generator=gen) < rate_pre_hz * dt).double()
        drive = rate_post_hz * dt + coupling * torch.einsum("bi,bij->bj", pre_prev, w)
        post = (torch.rand(n_runs, n_post, generator=gen) < drive).double()
        hit = (post[:, 0] > 0) & (t * dt - last_pre0 <= window + 1e-12)
        last_pre0 = torch.where(hit, -1e9, torch.where(pre[:, 0] > 0, t * dt, last_pre0))
        pending.index_put_((runs, t + delays[t]), hit.double(), accumulate=True)
        w, state = rstdp_step(pre, post, pending[:, t], state, w, rule, dt)
        pre_prev = pre
        if (t + 1) % every == 0:
            target_hist.append(w[:, 0, 0].clone())
            others_hist.append((w.sum((1, 2)) - w[:, 0, 0]) / (n_pre * n_post - 1))
    return {
        "weights": w.numpy(),
        "target_history": torch.stack(target_hist, 1).numpy() if target_hist else np.zeros((n_runs, 0)),
        "others_mean_history": torch.stack(others_hist, 1).numpy() if others_hist else np.zeros((n_runs, 0)),
        "record_every_s": every * dt,
        "n_rewards": pending.sum(1).numpy().astype(int),
    }


def target_rank(weights: np.ndarray) -> np.ndarray:
    """Rank of synapse (0, 0) among all synapses of each run (0 = strongest)."""
    flat = weights.reshape(weights.shape[0], -1)
    return (flat > flat[:, :1]).sum(1)


@renamed_arguments(duration_s="duration")
def train_rstdp(duration: float = 120.0, n_runs: int = 1, seed=0) -> dict:
    """CLI entry (``biofit train --rule rstdp``): the distal-reward task (``duration`` s) with a
    progress bar."""
    out = simulate_distal_reward(n_runs=n_runs, duration=duration, seed=seed, progress=True)
    out["target_rank"] = target_rank(out["weights"])
    return out
