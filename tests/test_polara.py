"""POLARA layer (`biofit.neurons.polara`) against a brute-force loop of its documented equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from biofit.models.polara import POLARA
from biofit.neurons.polara import Polara, PolaraState

WINDOW = 6
FLAGS = ("decay", "amplification", "activation", "refractory", "adaptive_threshold")
LEARNABLE = tuple(p.name for p in POLARA.parameters if p.learnable)


def reference_polara(x, p, window=WINDOW, off=()):
    """Brute-force POLARA for one neuron, written from the module docstring's equations.

    x: float[T]; p: name -> float. Plain Python floats and explicit sums over the window.
    Returns (spikes, u, u_pre, threshold), each a list of T floats.
    """
    on = {flag: flag not in off for flag in FLAGS}
    past = []  # own spikes, most recent first
    u = 0.0
    out = ([], [], [], [])
    for x_t in x:
        lag_spike = [past[i - 1] if i <= len(past) else 0.0 for i in range(1, window + 1)]
        if on["decay"]:
            leak = 1.0 - sum(p["decay_a"] * math.exp(-p["decay_alpha"] * i) for i in range(1, window + 1))
            leak += p["decay_eps"]
        else:
            leak = p["static_leak"]
        theta = p["theta0"]
        if on["adaptive_threshold"]:
            theta *= 1.0 + sum(
                p["thr_e"] * math.exp(-p["thr_eta"] * i) * lag_spike[i - 1] for i in range(1, window + 1)
            )
        u_s = leak * u + x_t
        u_pre = u_s
        if on["amplification"] and u_s - theta <= 0:
            u_pre = u_s * (1.0 + p["amp_b"] * math.exp(p["amp_beta"] * (u_s - theta)))
        over = u_pre - theta
        if over <= 0:
            s = 0.0
        elif on["activation"]:
            o = min(over * (1.0 + over * math.exp(-p["act_gamma"] * over)), p["act_omax"])
            s = 1.0 / (1.0 + math.exp(-u_pre * o))
        else:
            s = 1.0
        past.insert(0, s)
        u = u_pre
        if on["refractory"]:
            h = [
                sum(
                    p[f"refr_d{j}"] * math.exp(-((i - p[f"refr_mu{j}"]) ** 2) / (2 * p[f"refr_sigma{j}"] ** 2))
                    for j in (1, 2, 3)
                )
                for i in range(1, window + 1)
            ]
            u = u_pre * (1.0 + sum(h[i - 1] * (past[i - 1] if i <= len(past) else 0.0) for i in range(1, window + 1)))
        for seq, value in zip(out, (s, u, u_pre, theta)):
            seq.append(value)
    return out


def random_params(rng, n):
    """Per-neuron values drawn inside each parameter's bounds (stay in the spiking regime)."""
    ranges = {
        "decay_a": (0.05, 0.4), "decay_alpha": (0.6, 2.0), "amp_b": (0.0, 0.3), "amp_beta": (0.5, 5.0),
        "act_gamma": (0.2, 3.0), "act_omax": (1.0, 6.0), "theta0": (0.6, 1.5), "thr_e": (0.0, 0.5),
        "thr_eta": (0.2, 2.0), "static_leak": (0.7, 0.95),
        "refr_d1": (-1.5, -0.5), "refr_d2": (-0.5, 0.2), "refr_d3": (-0.3, 0.3),
        "refr_mu1": (0.5, 2.0), "refr_mu2": (2.0, 4.0), "refr_mu3": (4.0, 7.0),
        "refr_sigma1": (0.3, 1.0), "refr_sigma2": (0.5, 2.0), "refr_sigma3": (0.5, 3.0),
    }
    return {name: rng.uniform(lo, hi, n) for name, (lo, hi) in ranges.items()}


@pytest.mark.parametrize("off", [(), *[(flag,) for flag in FLAGS], ("decay", "amplification")])
def test_each_ablation_matches_bruteforce_equations(off):
    rng = np.random.default_rng(3)
    n, steps = 5, 120
    params = random_params(rng, n)
    x = rng.uniform(0.0, 0.9, (steps, 2, n))
    layer = Polara(n, **params, **{flag: False for flag in off})
    spikes, traces = layer.simulate(torch.tensor(x, dtype=torch.float64))
    assert spikes.sum() > 10, "the test input must make the neurons fire"
    defaults = POLARA.defaults()
    for b in range(2):
        for i in range(n):
            p = {**defaults, **{name: float(v[i]) for name, v in params.items()}}
            ref = reference_polara(x[:, b, i], p, off=off)
            got = (spikes, traces["u"], traces["u_pre"], traces["threshold"])
            for name, mine, theirs in zip(("spikes", "u", "u_pre", "threshold"), got, ref):
                np.testing.assert_allclose(mine[:, b, i].detach().numpy(), theirs, rtol=1e-10, atol=1e-12,
                                           err_msg=f"{name}, neuron {i}, batch {b}, off={off}")


@pytest.mark.parametrize("flag", FLAGS)
def test_each_switch_changes_the_dynamics(flag):
    """Switching a component off must change the output: no flag is a no-op."""
    x = torch.rand(200, 2, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    full_spikes, full = Polara(4).simulate(x)
    ablated_spikes, ablated = Polara(4, **{flag: False}).simulate(x)
    assert not torch.equal(full_spikes, ablated_spikes) or not torch.equal(full["u"], ablated["u"])


def test_adaptive_threshold_equals_windowed_sum_over_six_past_spikes():
    x = torch.rand(300, 3, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 1.2
    layer = Polara(4, thr_e=0.4, thr_eta=0.3)
    spikes, traces = layer.simulate(x)
    s = spikes.detach().numpy()
    expected = np.empty_like(s)
    for t in range(s.shape[0]):
        window = sum(0.4 * np.exp(-0.3 * i) * s[t - i] for i in range(1, 7) if t - i >= 0)
        expected[t] = 1.0 * (1.0 + window)
    assert s.sum() > 50
    np.testing.assert_allclose(traces["threshold"].detach().numpy(), expected, rtol=1e-12)


def test_bounded_activation_stays_within_its_bound_for_huge_inputs():
    omax = 2.5
    x = torch.tensor([1e30, 1e20, 1e6, -1e30, 3.0], dtype=torch.float64).repeat(40, 1).view(40, 1, 5)
    layer = Polara(5, act_omax=omax, learn=("act_gamma", "theta0"))
    spikes, traces = layer.simulate(x)
    assert torch.isfinite(spikes).all() and torch.isfinite(traces["u"]).all()
    assert ((spikes >= 0) & (spikes <= 1)).all()
    # s = sigmoid(u_pre * O) with O <= o_max wherever a spike is emitted
    fired = spikes > 0
    bound = torch.sigmoid(traces["u_pre"] * omax)
    assert (spikes[fired] <= bound[fired] + 1e-15).all()
    spikes.sum().backward()
    grads = [p.grad for p in layer.parameters()]
    assert all(torch.isfinite(g).all() for g in grads)


def test_spikes_are_graded_between_one_half_and_one():
    spikes = Polara(6)(torch.rand(200, 2, 6, generator=torch.Generator().manual_seed(2)))
    fired = spikes[spikes > 0]
    assert fired.numel() > 20 and bool(((fired >= 0.5) & (fired < 1.0)).all())


def test_activation_gradient_equals_finite_differences():
    layer = Polara(2)
    x = torch.rand(12, 1, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64) + 0.2
    x.requires_grad_(True)
    # differentiable almost everywhere; gradcheck away from the threshold's measure-zero set
    assert torch.autograd.gradcheck(lambda inp: layer(inp).sum(), (x,), eps=1e-7, atol=1e-5)


def test_gradient_mask_gives_alpha_inside_unit_overshoot_and_zero_outside():
    theta0 = 1.0
    x = torch.tensor([0.2, 0.5, 1.5, 1.9, 2.5, 3.0], dtype=torch.float64).view(1, 1, 6)
    x.requires_grad_(True)
    layer = Polara(6, theta0=theta0, amplification=False, gradient_mask=0.3)
    spikes = layer(x)
    spikes.sum().backward()
    overshoot = x.detach() - theta0  # at t = 0, u = 0 so u_pre = x
    expected = torch.where(overshoot.abs() < 1, 0.3, 0.0)
    torch.testing.assert_close(x.grad, expected.to(torch.float64))
    plain = Polara(6, theta0=theta0, amplification=False)(x.detach())
    torch.testing.assert_close(spikes.detach(), plain)


@pytest.mark.parametrize("activation", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_gradients_finite_and_nonzero_through_10000_steps(activation):
    steps = 10_000
    x = torch.rand(steps, 1, 2, generator=torch.Generator().manual_seed(5)) * 0.7
    x.requires_grad_(True)
    layer = Polara(2, learn=("theta0", "decay_a", "amp_b", "refr_d1", "thr_e"), activation=activation)
    spikes = layer(x)
    assert spikes.sum() > 100
    spikes.sum().backward()
    for name, p in layer.named_parameters():
        assert torch.isfinite(p.grad).all() and (p.grad != 0).all(), name
    assert torch.isfinite(x.grad).all() and (x.grad[:100] != 0).any()


def test_learnable_parameters_stay_in_bounds_after_huge_learning_rate_steps():
    layer = Polara(4, learn=LEARNABLE)
    optimizer = torch.optim.SGD(layer.parameters(), lr=1e8)
    x = torch.rand(60, 2, 4, generator=torch.Generator().manual_seed(6)) * 1.5
    for sign in (1.0, -1.0, 1.0):
        optimizer.zero_grad()
        (sign * layer(x).sum()).backward()
        optimizer.step()
    for name, value in layer.intrinsic().items():
        lo, hi = POLARA.parameter(name).bounds
        assert torch.isfinite(value).all() and (value >= lo).all() and (value <= hi).all(), name
    assert torch.isfinite(layer(x)).all()


def test_shared_parameters_give_the_per_neuron_dynamics_with_scalar_values():
    x = torch.rand(100, 2, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    shared = Polara(3, per_neuron=False, learn=("theta0", "refr_d1"), theta0=0.8)
    assert shared.intrinsic()["theta0"].shape == ()
    torch.testing.assert_close(shared(x), Polara(3, theta0=[0.8, 0.8, 0.8])(x))


def test_state_continues_a_run():
    x = torch.rand(80, 2, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    layer = Polara(3)
    whole = layer(x)
    first, state = layer(x[:30], return_state=True)
    assert isinstance(state, PolaraState)
    torch.testing.assert_close(torch.cat((first, layer(x[30:], state=state))), whole)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Polara(2)(torch.tensor([[[0.1, float("nan")]]])), ValueError, "NaN"),
        (lambda: Polara(2)(torch.tensor([[[0.1, float("inf")]]])), ValueError, "infinite"),
        (lambda: Polara(2)(torch.zeros(5, 2)), ValueError, "rank 3"),
        (lambda: Polara(2)(torch.zeros(5, 1, 3)), ValueError, "3 neurons"),
        (lambda: Polara(2)(torch.zeros(5, 1, 2, dtype=torch.int64)), TypeError, "floating"),
        (lambda: Polara(2, window=0), ValueError, "window"),
        (lambda: Polara(2, theta0=-1.0), ValueError, "theta0"),
        (lambda: Polara(2, theta_0=1.0), ValueError, "unknown parameter"),
        (lambda: Polara(2, learn=("decay_eps",)), ValueError, "not learnable"),
        (lambda: Polara(2, surrogate="nope", activation=False), ValueError, "unknown surrogate"),
        (lambda: Polara(2, gradient_mask=-0.3), ValueError, "gradient_mask"),
        (lambda: Polara(2)(torch.zeros(5, 1, 2), state=PolaraState(torch.zeros(1, 2), torch.zeros(3, 1, 2))),
         ValueError, "history"),
    ],
)
def test_bad_input_raises_a_named_error(make, error, match):
    with pytest.raises(error, match=match):
        make()
