"""Reward-modulated STDP: closed-form eligibility × reward, and the Izhikevich (2007) distal reward task."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from biofit.experiments.distal_reward import simulate_distal_reward, target_rank
from biofit.learning.stdp import STDPParams
from biofit.learning.three_factor import RewardModulatedSTDP, RSTDPParams

DT = 1e-3


def run_pairing_then_reward(params, lag_steps, delay_steps, reward, n_steps=4000):
    """One pre spike at step 10, one post spike ``lag_steps`` later, a reward pulse ``delay_steps`` after it."""
    rule = RewardModulatedSTDP(params, DT)
    w = torch.full((1, 1, 1), 0.5, dtype=torch.float64)
    state = rule.init_state(w)
    zero = torch.zeros(1, 1, dtype=torch.float64)
    one = torch.ones(1, 1, dtype=torch.float64)
    t_post = 10 + lag_steps
    for t in range(n_steps):
        r = torch.tensor([reward if t == t_post + delay_steps else 0.0], dtype=torch.float64)
        w, state = rule.step(one if t == 10 else zero, one if t == t_post else zero, r, state, w)
    return w.item() - 0.5


@pytest.mark.parametrize("lag_steps, delay_steps", [(5, 1000), (15, 2000), (8, 1500)])
def test_weight_change_equals_closed_form_of_decaying_eligibility_times_reward(lag_steps, delay_steps):
    p = RSTDPParams(stdp=STDPParams(a_plus=0.01, a_minus=0.012), tau_e=1.0, tau_d=0.2, eta=2.0)
    dw = run_pairing_then_reward(p, lag_steps, delay_steps, reward=1.0)
    e_at_reward = 0.01 * math.exp(-lag_steps * DT / 0.02) * math.exp(-delay_steps * DT / p.tau_e)
    ratio = math.exp(-DT / p.tau_e - DT / p.tau_d)
    remaining = 4000 - (10 + lag_steps + delay_steps)
    expected = p.eta * DT * e_at_reward * (1 - ratio**remaining) / (1 - ratio)
    assert dw == pytest.approx(expected, rel=1e-9)


def test_no_reward_means_no_weight_change():
    p = RSTDPParams(stdp=STDPParams(a_plus=0.01, a_minus=0.012))
    assert run_pairing_then_reward(p, 5, 1000, reward=0.0) == 0.0


def test_negative_reward_depresses_a_causal_pairing():
    p = RSTDPParams(stdp=STDPParams(a_plus=0.01, a_minus=0.012))
    assert run_pairing_then_reward(p, 5, 1000, reward=-1.0) < 0


def test_distal_reward_rewarded_synapse_rises_above_the_others():
    """Short version: six independent networks (100 synapses each), 120 s of activity."""
    out = simulate_distal_reward(n_runs=6, duration_s=120.0, seed=7)
    w = out["weights"].reshape(6, -1)
    ranks = target_rank(out["weights"])
    assert ranks.mean() < 15, ranks          # chance: 49.5
    assert np.all(w[:, 0] > np.median(w[:, 1:], axis=1) + 0.05)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distal_reward_rewarded_synapse_ends_on_top(seed):
    out = simulate_distal_reward(n_runs=3, duration_s=480.0, seed=seed)
    w = out["weights"].reshape(3, -1)
    assert np.all(target_rank(out["weights"]) <= 2)
    assert np.all(w[:, 0] > np.median(w[:, 1:], axis=1) + 0.2)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="tau_e"):
        RSTDPParams(tau_e=-1.0)
    with pytest.raises(ValueError, match="tau_baseline"):
        RSTDPParams(tau_baseline=0.0)
    rule = RewardModulatedSTDP(RSTDPParams(), DT)
    w = torch.full((2, 3, 4), 0.5, dtype=torch.float64)
    state = rule.init_state(w)
    with pytest.raises(ValueError, match="reward has shape"):
        rule.step(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(3), state, w)
    with pytest.raises(ValueError, match="non-finite"):
        rule.step(torch.zeros(2, 3), torch.zeros(2, 4), torch.tensor([0.0, float("nan")]), state, w)
    with pytest.raises(ValueError, match="w has shape"):
        rule.step(torch.zeros(2, 3), torch.zeros(2, 5), torch.zeros(2), state, w)
