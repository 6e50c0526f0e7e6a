"""The probabilistic meta neuron (`biofit.neurons.meta`): deterministic limit against a brute-force
loop and the LIF layer, escape-noise statistics against the hazard's closed form (torch and
Brian2), seeds, gradients, bounds, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.linalg import expm

from biofit.models.meta import META
from biofit.neurons import LIFSyn, MetaNeuron

DT = 1e-4
LEARNABLE = tuple(p.name for p in META.parameters if p.learnable)


def reference_meta_deterministic(current, p, dt=DT):
    """Brute-force deterministic meta neuron for one neuron, from `biofit.models.meta`'s equations.

    The linear part is propagated with the matrix exponential of the augmented system
    d/dt [v - v_rest, I_syn, I] = [[-1/tau_mem, R/tau_mem, 0], [0, -1/tau_syn, 1/tau_syn], [0, 0, 0]]
    (input held over the step); v frozen for the K - 1 steps after a spike (Brian2's refractoriness,
    K = floor((t_ref + 1e-3 dt) / dt)); threshold v > v_th + theta_ref q; reset v = v_reset, q = 1.
    Returns (spikes, v, q) as float[T] arrays.
    """
    m = np.array(
        [[-1 / p["tau_mem"], p["R"] / p["tau_mem"], 0.0], [0.0, -1 / p["tau_syn"], 1 / p["tau_syn"]], [0, 0, 0]]
    )
    prop = expm(m * dt)
    k_ref = math.floor((p["t_ref"] + 1e-3 * dt) / dt)
    v, i_syn, q, last = p["v_rest"], 0.0, 0.0, None
    out = np.zeros((3, len(current)))
    for n, i_ext in enumerate(current):
        y = prop @ np.array([v - p["v_rest"], i_syn, i_ext])
        i_syn = y[1]
        q *= math.exp(-dt / p["tau_ref"])
        refractory = last is not None and n - last < k_ref
        z = 0.0
        if not refractory:
            v = p["v_rest"] + y[0]
            if v > p["v_th"] + p["theta_ref"] * q:
                z, v, q, last = 1.0, p["v_reset"], 1.0, n
        out[:, n] = (z, v, q)
    return out


def fluctuating_current(steps, batch, n, seed):
    rng = np.random.default_rng(seed)
    return 250e-12 + 150e-12 * rng.standard_normal((steps, batch, n))


def test_deterministic_mode_matches_bruteforce_loop_with_soft_refractoriness():
    n, steps = 4, 3000
    params = {
        "tau_mem": np.array([0.01, 0.02, 0.03, 0.015]), "tau_syn": np.array([2e-3, 5e-3, 1e-3, 8e-3]),
        "theta_ref": np.array([0.0, 5e-3, 10e-3, 2e-3]), "tau_ref": np.array([5e-3, 2e-3, 10e-3, 20e-3]),
        "t_ref": np.array([0.0, 1e-3, 0.5e-3, 2e-3]), "v_reset": np.array([-0.07, -0.065, -0.075, -0.06]),
    }
    current = fluctuating_current(steps, 2, n, seed=0)
    layer = MetaNeuron(n, dt=DT, stochastic=False, **params)
    spikes, traces = layer.simulate(torch.tensor(current))
    assert spikes.sum() > 40
    defaults = META.defaults()
    for b in range(2):
        for i in range(n):
            p = {**defaults, **{k: float(v[i]) for k, v in params.items()}}
            z, v, q = reference_meta_deterministic(current[:, b, i], p)
            np.testing.assert_array_equal(spikes[:, b, i].numpy(), z, err_msg=f"neuron {i}")
            np.testing.assert_allclose(traces["v"][:, b, i].numpy(), v, rtol=0, atol=1e-12)
            np.testing.assert_allclose(traces["q"][:, b, i].numpy(), q, rtol=1e-12, atol=1e-15)


def test_deterministic_mode_without_refractory_jump_equals_lif_layer():
    params = {"tau_mem": 0.015, "tau_syn": 3e-3, "v_th": -0.052, "v_reset": -0.068, "t_ref": 1e-3, "R": 1.2e8}
    current = torch.tensor(fluctuating_current(2000, 2, 5, seed=1))
    meta_spikes, meta = MetaNeuron(5, dt=DT, theta_ref=0.0, **params).eval().simulate(current)
    lif_spikes, lif = LIFSyn(5, dt=DT, **params).simulate(current)
    assert lif_spikes.sum() > 30
    torch.testing.assert_close(meta_spikes, lif_spikes, rtol=0, atol=0)
    torch.testing.assert_close(meta["v"], lif["v"], rtol=0, atol=0)


def clamped_layer(x_volts, theta_ref=0.0, tau_ref=5e-3, delta_u=1e-3, tau_esc=1e-3, batch=1, seed=0, learn=()):
    """A stochastic layer whose v stays exactly at v_th + x (v_reset = steady state, I_syn = I)."""
    x = np.asarray(x_volts, dtype=np.float64)
    r, v_rest, i_ext = 1e8, -0.07, 0.2e-9
    v_inf = v_rest + r * i_ext
    layer = MetaNeuron(
        x.size, dt=DT, stochastic=True, seed=seed, R=r, v_rest=v_rest, v_reset=v_inf, v_th=v_inf - x,
        theta_ref=theta_ref, tau_ref=tau_ref, delta_u=delta_u, tau_esc=tau_esc, learn=learn,
    )
    full = torch.full((batch, x.size), 1.0, dtype=torch.float64)
    state = layer.State(full * v_inf, full * i_ext, torch.zeros_like(full), torch.zeros_like(full))
    return layer, state, i_ext


def test_escape_probability_per_step_matches_hazard_for_clamped_v():
    x = np.array([-4e-3, -1e-3, 0.0, 1e-3, 2.5e-3])  # v - v_th, V
    steps, batch = 2000, 50
    layer, state, i_ext = clamped_layer(x, batch=batch)
    spikes, traces = layer.simulate(torch.full((steps, batch, x.size), i_ext, dtype=torch.float64), state=state)
    assert float((traces["v"] - traces["v"][0]).abs().max()) < 1e-15  # v really clamped
    p = -np.expm1(-DT / 1e-3 * np.exp(x / 1e-3))
    trials = steps * batch
    measured = spikes.sum((0, 1)).numpy() / trials
    sigma = np.sqrt(p * (1 - p) / trials)
    assert np.all(np.abs(measured - p) < 3 * sigma), (measured, p, sigma)


def test_vanishing_noise_limit_is_the_deterministic_threshold():
    """With delta_u -> 0 (the lower bound, 10 uV) the escape neuron fires iff x > 0, away from x = 0."""
    x = np.concatenate((-np.logspace(-3.7, -1.7, 20), np.logspace(-3.7, -1.7, 20)))  # V
    layer, state, i_ext = clamped_layer(x, delta_u=1e-5, batch=4)
    spikes = layer(torch.full((500, 4, x.size), i_ext, dtype=torch.float64), state=state)
    expected = torch.tensor(x > 0, dtype=torch.float64).expand(500, 4, x.size)
    torch.testing.assert_close(spikes, expected, rtol=0, atol=0)


def lag_hazard(x, theta_ref, tau_ref, delta_u, tau_esc, lags):
    """Hazard k steps after the last spike: 1 - exp(-dt/tau_esc exp((x - theta_ref q_k)/delta_u))."""
    q = np.exp(-lags * DT / tau_ref)
    return -np.expm1(-DT / tau_esc * np.exp((x - theta_ref * q) / delta_u))


def measured_lag_hazard(spikes, max_lag):
    """Empirical hazard at lags 1..max_lag after a spike from 0/1 trains ``[T, n_trains]``.

    Returns (fired, at_risk): an ISI of d steps puts the train at risk at lags 1..min(d, max_lag)
    and makes it fire at lag d if d <= max_lag.
    """
    at_risk, fired = np.zeros(max_lag), np.zeros(max_lag)
    for train in np.asarray(spikes).T:
        for isi in np.diff(np.flatnonzero(train)):
            at_risk[: min(isi, max_lag)] += 1
            if isi <= max_lag:
                fired[isi - 1] += 1
    return fired, at_risk


REFRACTORY_CASE = {"x": 2e-3, "theta_ref": 6e-3, "tau_ref": 1e-3, "delta_u": 1e-3, "tau_esc": 1e-3}


def assert_lag_hazard_matches_closed_form(spikes):
    fired, at_risk = measured_lag_hazard(spikes, 9)
    h = lag_hazard(lags=np.arange(1, 10), **REFRACTORY_CASE)
    sigma = np.sqrt(h * (1 - h) / at_risk)
    assert at_risk.min() > 1000
    assert np.all(np.abs(fired / at_risk - h) < 3 * sigma), (fired / at_risk, h, sigma)
    assert h[0] < 0.5 * h[-1]  # the jump really suppresses firing right after a spike


def test_soft_refractoriness_scales_the_hazard_as_documented():
    steps, batch = 4000, 40
    layer, state, i_ext = clamped_layer([REFRACTORY_CASE["x"]], batch=batch, seed=3, **{
        k: v for k, v in REFRACTORY_CASE.items() if k != "x"})
    spikes = layer(torch.full((steps, batch, 1), i_ext, dtype=torch.float64), state=state)
    assert_lag_hazard_matches_closed_form(spikes[:, :, 0].numpy())


def test_brian2_meta_model_fires_with_the_same_hazard():
    """`biofit.models.meta.META` run by Brian2 (rand() threshold) obeys the same hazard law."""
    from biofit.reference.current import simulate

    steps, trains = 4000, 40
    layer, _, i_ext = clamped_layer([REFRACTORY_CASE["x"]], **{
        k: v for k, v in REFRACTORY_CASE.items() if k != "x"})
    params = {k: float(v.reshape(-1)[0]) for k, v in layer.intrinsic().items()}
    trace = simulate(
        META, params, np.full((steps, trains), i_ext), DT, seed=11,
        initial={"v": params["v_reset"], "I_syn": i_ext},
    )
    spikes = np.zeros((steps, trains))
    for k, times in enumerate(trace.spike_times):
        spikes[np.round(times / DT).astype(int), k] = 1.0
    assert float(np.abs(trace.v - params["v_reset"]).max()) < 1e-12  # v really clamped
    assert_lag_hazard_matches_closed_form(spikes)


def test_shared_parameters_give_the_per_neuron_dynamics_with_scalar_values():
    current = torch.tensor(fluctuating_current(500, 2, 3, seed=9))
    shared = MetaNeuron(3, dt=DT, seed=4, per_neuron=False, learn=("tau_ref", "delta_u"), tau_ref=3e-3)
    assert shared.intrinsic()["tau_ref"].shape == ()
    per_neuron = MetaNeuron(3, dt=DT, seed=4, tau_ref=[3e-3] * 3)
    torch.testing.assert_close(shared(current), per_neuron(current), rtol=0, atol=0)


def test_same_seed_gives_same_bits_and_calls_draw_fresh_noise():
    current = torch.tensor(fluctuating_current(500, 4, 3, seed=2))
    a, b, c = (MetaNeuron(3, dt=DT, seed=s) for s in (7, 7, 8))
    first = a(current)
    assert first.sum() > 10
    torch.testing.assert_close(first, b(current), rtol=0, atol=0)
    assert not torch.equal(first, c(current))
    assert not torch.equal(a(current), first)  # the generator advanced
    shared = torch.Generator().manual_seed(7)
    torch.testing.assert_close(MetaNeuron(3, dt=DT, seed=shared)(current), first, rtol=0, atol=0)
    from_numpy = [MetaNeuron(3, dt=DT, seed=np.random.default_rng(1))(current) for _ in range(2)]
    torch.testing.assert_close(from_numpy[0], from_numpy[1], rtol=0, atol=0)
    torch.testing.assert_close(MetaNeuron(3, dt=DT, seed=np.int64(7))(current), first, rtol=0, atol=0)


def test_eval_mode_is_deterministic_and_train_mode_samples():
    current = torch.tensor(fluctuating_current(800, 2, 3, seed=4))
    layer = MetaNeuron(3, dt=DT, seed=0)
    assert layer.sampling
    layer.eval()
    torch.testing.assert_close(layer(current), layer(current), rtol=0, atol=0)
    forced = MetaNeuron(3, dt=DT, seed=0, stochastic=True).eval()
    assert not torch.equal(forced(current), layer(current))


def test_stochastic_gradient_is_the_hazard_probability_derivative():
    """Straight-through estimator: d spike / d v_th equals -dp/dx at the first step (v clamped)."""
    x = np.array([-2e-3, 0.0, 1.5e-3])
    layer, state, i_ext = clamped_layer(x, learn=("v_th",))
    spikes = layer(torch.full((1, 1, 3), i_ext, dtype=torch.float64), state=state)
    spikes.sum().backward()
    ell = math.log(DT / 1e-3) + x / 1e-3
    dp_dx = np.exp(ell - np.exp(ell)) / 1e-3
    v_th = layer.intrinsic()["v_th"]
    dv_th_draw = torch.autograd.grad(v_th.sum(), layer.params.raw_v_th)[0]
    np.testing.assert_allclose(layer.params.raw_v_th.grad.numpy(), -dp_dx * dv_th_draw.numpy(), rtol=1e-9)


@pytest.mark.parametrize("stochastic", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_gradients_finite_and_nonzero_through_10000_steps(stochastic):
    current = torch.tensor(fluctuating_current(10_000, 1, 2, seed=5), dtype=torch.float32)
    current.requires_grad_(True)
    # delta_u and tau_esc act only on the stochastic hazard
    learn = LEARNABLE if stochastic else tuple(n for n in LEARNABLE if n not in ("delta_u", "tau_esc"))
    layer = MetaNeuron(2, dt=DT, seed=1, stochastic=stochastic, learn=learn)
    spikes = layer(current)
    assert spikes.sum() > 40
    spikes.sum().backward()
    for name, p in layer.named_parameters():
        assert torch.isfinite(p.grad).all() and (p.grad != 0).all(), name
    assert torch.isfinite(current.grad).all() and (current.grad[:100] != 0).any()


def test_learnable_parameters_stay_in_bounds_after_huge_learning_rate_steps():
    layer = MetaNeuron(3, dt=DT, seed=2, learn=LEARNABLE)
    optimizer = torch.optim.SGD(layer.parameters(), lr=1e9)
    current = torch.tensor(fluctuating_current(300, 2, 3, seed=6))
    for sign in (1.0, -1.0, 1.0):
        optimizer.zero_grad()
        spikes, traces = layer.simulate(current)
        (sign * (spikes.sum() + traces["v"].mean() * 1e3)).backward()
        optimizer.step()
    for name, value in layer.intrinsic().items():
        lo, hi = META.parameter(name).bounds
        assert torch.isfinite(value).all() and (value >= lo).all() and (value <= hi).all(), name
    assert torch.isfinite(layer(current)).all()


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: MetaNeuron(2, dt=DT)(torch.tensor([[[1e-10, float("nan")]]])), ValueError, "NaN"),
        (lambda: MetaNeuron(2, dt=DT)(torch.tensor([[[1e-10, float("-inf")]]])), ValueError, "infinite"),
        (lambda: MetaNeuron(2, dt=DT)(torch.zeros(5, 2)), ValueError, "rank 3"),
        (lambda: MetaNeuron(2, dt=DT)(torch.zeros(5, 1, 4)), ValueError, "4 neurons"),
        (lambda: MetaNeuron(2, dt=0.0), ValueError, "dt"),
        (lambda: MetaNeuron(2, dt=-1e-4), ValueError, "dt"),
        (lambda: MetaNeuron(2, dt=DT, delta_u=-1e-3), ValueError, "delta_u"),
        (lambda: MetaNeuron(2, dt=DT, tau_ref=float("nan")), ValueError, "tau_ref"),
        (lambda: MetaNeuron(2, dt=DT, rho0=1e3), ValueError, "unknown parameter"),
        (lambda: MetaNeuron(2, dt=DT, learn=("t_ref",)), ValueError, "not learnable"),
        (lambda: MetaNeuron(2, dt=DT, seed=1.5), TypeError, "seed"),
        (lambda: MetaNeuron(2, dt=DT, stochastic="yes"), TypeError, "stochastic"),
        (lambda: MetaNeuron(2, dt=DT, width=0.0), ValueError, "width"),
    ],
)
def test_bad_input_raises_a_named_error(make, error, match):
    with pytest.raises(error, match=match):
        make()
