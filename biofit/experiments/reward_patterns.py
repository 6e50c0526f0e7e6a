r"""Two-class pattern discrimination learned from a scalar reward alone (reward-modulated STDP).

Task (a stimulus-response experiment in the spirit of Izhikevich 2007, Cereb. Cortex 17:2443,
Fig. 5, with the learning set-up of Frémaux, Sprekeler & Gerstner 2010, J. Neurosci. 30:13326):
``n_inputs`` Poisson afferents project onto two output neurons, one per class. Each class is a
rate template: a random half of the afferents fires at ``rate_on_hz``, the rest at
``rate_off_hz`` (the two halves are drawn independently, so the templates overlap by chance). A
trial shows one template for ``stimulus_s`` with fresh Poisson spikes; the network's answer is the
output neuron with more spikes. At the end of the stimulus a reward R = +1 (right), -1 (wrong) or 0
(tie) is delivered, as the pulse :math:`R - \bar R(s)` of :func:`biofit.learning.three_factor.stimulus_rpe`,
and a silent gap of ``gap_s`` lets the modulator pulse act before the next trial.

Output neurons are escape-noise spike-response neurons (Gerstner & Kistler 2002, ch. 5.3; the
model of Frémaux et al. 2010):

.. math::

    u_j = \sum_i w_{ij}\,\epsilon_i - \kappa_{self}\,h_j - \kappa_{inh} \sum_{k\ne j} h_k,\qquad
    \rho_j = \rho_0\, e^{(u_j - \theta)/\Delta_u},\qquad P(\text{spike in } \Delta t) = 1 - e^{-\rho_j \Delta t}

with :math:`\epsilon_i` the presynaptic PSP trace (jump 1, decay :math:`\tau_m`) and :math:`h_j` the
postsynaptic spike trace (jump 1, decay :math:`\tau_m`) giving refractoriness and lateral
inhibition. The escape noise is the exploration that reward learning needs: before learning both
neurons fire at about :math:`\rho_0`, so every trial produces post spikes, eligibility and a
decision (the silent neuron of a deterministic model gets no eligibility and never learns).
All weights ``w: float[n_inputs, 2]`` learn with :func:`biofit.learning.three_factor.rstdp_step`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from biofit.learning._checks import positive_finite
from biofit.learning.stdp import STDPParams
from biofit.learning.three_factor import RewardModulatedSTDP, RSTDPParams, rstdp_step, stimulus_rpe

# Balanced window (A+ = A-): chance pairings leave zero-mean eligibility, the causal excess carries
# the credit. tau_e = 0.2 s spans the 0.1 s stimulus; tau_d = 5 ms makes the modulator a brief pulse
# (Florian 2007's instantaneous reward) that acts within the gap, before the next stimulus starts.
DEFAULT_RULE = RSTDPParams(
    stdp=STDPParams(a_plus=0.05, a_minus=0.05, tau_plus=0.02, tau_minus=0.02), tau_e=0.2, tau_d=0.005, eta=40.0,
)


def make_templates(n_inputs: int, rate_on_hz: float, rate_off_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Two rate templates ``float[2, n_inputs]`` (Hz): a random half of the afferents on, per class."""
    on = np.stack([rng.permutation(n_inputs) < n_inputs // 2 for _ in range(2)])
    return np.where(on, rate_on_hz, rate_off_hz)


def noisy_templates(templates: np.ndarray, flip: float, rng: np.random.Generator) -> np.ndarray:
    """Copy of ``templates`` where a fraction ``flip`` of each row's afferents swap on/off rates."""
    out = templates.copy()
    lo, hi = templates.min(), templates.max()
    n_flip = round(flip * templates.shape[1])
    for row in out:
        idx = rng.choice(templates.shape[1], n_flip, replace=False)
        row[idx] = np.where(row[idx] == hi, lo, hi)
    return out


@dataclass(frozen=True)
class SRMParams:
    """Escape-noise output neurons (module equation); potentials in dimensionless PSP units.

    Attributes:
        tau_m: decay of the PSP trace and of the spike trace, s.
        theta: potential at which the rate is ``rho0_hz``; ``delta_u``: escape-noise width.
        rho0_hz, rho_max_hz: rate at threshold and rate ceiling, Hz.
        kappa_self: refractoriness per own spike; kappa_inh: lateral inhibition per rival spike.
    """

    tau_m: float = 0.01
    theta: float = 10.0
    delta_u: float = 1.5
    rho0_hz: float = 20.0
    rho_max_hz: float = 400.0
    kappa_self: float = 3.0
    kappa_inh: float = 3.0


def run_trial(pre, post_u, n_stim, w, neuron: SRMParams, dt, learn=None):
    """One trial: ``pre: float[n_stim, n_inputs]`` spikes, ``post_u: float[n_bins, 2]`` uniforms.

    Bins ``n_stim..n_bins-1`` are the silent gap. ``learn`` is None (frozen weights) or a tuple
    ``(rule, state, rpe_fn)``: the three-factor rule runs every bin and ``rpe_fn(counts)`` gives the
    reward pulse delivered in the last stimulus bin. Returns ``(counts: float[2], w, state)``.
    """
    decay = math.exp(-dt / neuron.tau_m)
    n_in = pre.shape[1]
    eps = torch.zeros(1, n_in, dtype=torch.float64)
    h = torch.zeros(1, 2, dtype=torch.float64)
    silent_pre, silent_post = torch.zeros(1, n_in, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64)
    no_reward = torch.zeros((), dtype=torch.float64)
    counts = torch.zeros(2, dtype=torch.float64)
    state = None if learn is None else learn[1]
    for t in range(post_u.shape[0]):
        if t < n_stim:
            x = pre[t : t + 1]
            eps = eps * decay + x
            u = eps @ w - neuron.kappa_self * h - neuron.kappa_inh * h.flip(1)
            rho = (neuron.rho0_hz * torch.exp((u - neuron.theta) / neuron.delta_u)).clamp(max=neuron.rho_max_hz)
            y = (post_u[t : t + 1] < -torch.expm1(-rho * dt)).double()
            h = h * decay + y
            counts += y[0]
        elif learn is None:
            break
        else:
            x, y = silent_pre, silent_post
        if learn is not None:
            rule, _, rpe_fn = learn
            reward = rpe_fn(counts) if t == n_stim - 1 else no_reward
            w, state = rstdp_step(x, y, reward, state, w, rule, dt)
    return counts, w, state


def _outcome(counts, label):
    """Reward of a trial: +1 if the class neuron fired more, -1 if the other did, 0 on a tie."""
    diff = float(counts[label] - counts[1 - label])
    return (diff > 0) - (diff < 0)


def train_reward_patterns(
    n_trials: int = 400,
    seed: int = 0,
    progress: bool = False,
    n_inputs: int = 100,
    rate_on_hz: float = 40.0,
    rate_off_hz: float = 2.0,
    stimulus_s: float = 0.1,
    gap_s: float = 0.02,
    dt: float = 2e-3,
    rule: RSTDPParams = DEFAULT_RULE,
    neuron: SRMParams = SRMParams(),
    baseline_rate: float = 0.1,
    n_test: int = 200,
    test_flip: float = 0.1,
    block: int = 20,
) -> dict:
    """Train the two output neurons from reward alone, then test on held-out noisy patterns.

    Each trial presents a random class (fresh Poisson spikes). Afterwards the weights are frozen
    and ``n_test`` trials are drawn from *noisy* templates (a fraction ``test_flip`` of the
    afferents swap on/off rates, new templates per test trial) with fresh spikes; a tie counts as
    an error. Rates in Hz, times in s, ``baseline_rate`` is the per-trial update rate of the
    stimulus-specific reward baseline.

    Returns a dict: ``accuracy_curve`` float[n_trials // block] (fraction right per block of
    training trials), ``correct`` bool[n_trials], ``labels`` int[n_trials], ``weights``
    float[n_inputs, 2] (final), ``templates`` float[2, n_inputs] (Hz), ``test_accuracy`` float,
    ``initial_test_accuracy`` float (same test trials, initial weights), ``block`` int.

    Example:
        >>> out = train_reward_patterns(n_trials=20, n_test=10, seed=0)
        >>> out["weights"].shape, 0.0 <= out["test_accuracy"] <= 1.0
        ((100, 2), True)
    """
    for name, value in [("rate_on_hz", rate_on_hz), ("stimulus_s", stimulus_s), ("gap_s", gap_s), ("dt", dt)]:
        positive_finite(name, value)
    if not 0.0 <= rate_off_hz < rate_on_hz:
        raise ValueError(f"need 0 <= rate_off_hz < rate_on_hz, got {rate_off_hz!r} and {rate_on_hz!r}")
    if not 0.0 <= test_flip <= 0.5:
        raise ValueError(f"test_flip must be in [0, 0.5], got {test_flip!r}")
    if n_trials < 1 or n_test < 1 or block < 1:
        raise ValueError(f"n_trials, n_test, block must be >= 1, got {n_trials}, {n_test}, {block}")
    rng = np.random.default_rng(seed)
    templates = make_templates(n_inputs, rate_on_hz, rate_off_hz, rng)
    n_stim, n_bins = round(stimulus_s / dt), round((stimulus_s + gap_s) / dt)
    w = torch.as_tensor(rng.uniform(0.4, 0.6, (n_inputs, 2)))
    w0 = w.clone()
    state = RewardModulatedSTDP(rule, dt).init_state(w, batch=1)
    baseline = torch.zeros(2, dtype=torch.float64)
    labels = rng.integers(0, 2, n_trials)
    correct = np.zeros(n_trials, bool)
    for k in tqdm(range(n_trials), disable=not progress, desc="reward patterns"):
        label = int(labels[k])
        pre = torch.as_tensor(rng.random((n_stim, n_inputs)) < templates[label] * dt, dtype=torch.float64)
        outcome = {}

        def rpe_fn(counts, label=label, outcome=outcome):
            nonlocal baseline
            outcome["r"] = _outcome(counts, label)
            rpe, baseline = stimulus_rpe(float(outcome["r"]), label, baseline, baseline_rate)
            return rpe

        _, w, state = run_trial(pre, torch.as_tensor(rng.random((n_bins, 2))), n_stim, w, neuron, dt, (rule, state, rpe_fn))
        correct[k] = outcome["r"] > 0
    test_rng = np.random.default_rng([seed, 1])
    test_acc = {"initial": 0, "final": 0}
    for _ in range(n_test):
        label = int(test_rng.integers(0, 2))
        rates = noisy_templates(templates, test_flip, test_rng)[label]
        pre = torch.as_tensor(test_rng.random((n_stim, n_inputs)) < rates * dt, dtype=torch.float64)
        post_u = torch.as_tensor(test_rng.random((n_stim, 2)))
        for key, weights in (("initial", w0), ("final", w)):
            counts, _, _ = run_trial(pre, post_u, n_stim, weights, neuron, dt)
            test_acc[key] += _outcome(counts, label) > 0
    n_blocks = n_trials // block
    return {
        "accuracy_curve": correct[: n_blocks * block].reshape(n_blocks, block).mean(1),
        "correct": correct,
        "labels": labels,
        "weights": w.numpy(),
        "templates": templates,
        "test_accuracy": test_acc["final"] / n_test,
        "initial_test_accuracy": test_acc["initial"] / n_test,
        "block": block,
    }
