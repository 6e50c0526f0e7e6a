"""QIF discretization: fixed points and their stability from the map itself, the surrogate window
derived from them, and the layer against a brute-force Euler loop with Brian2's refractoriness."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from biofit.models import get_model
from biofit.neurons.qif import QIF, WindowSpike

DT = 1e-4


def _map(layer, v, current):
    """F(v) for a scalar v (V) and held current (A): the layer's own generated update, one step,
    without threshold or reset."""
    k = layer.constants(torch.float64)
    d = layer.code.drive({"I_ext": torch.tensor([[[current]]], dtype=torch.float64)}, k)
    (v_new,) = layer.code.update((torch.tensor([[v]], dtype=torch.float64),), tuple(x[0] for x in d), k)
    return float(v_new.reshape(-1)[0])


PARAMS = [
    {},
    {"tau_mem": 5e-3, "delta_v": 8e-3, "v_rest": -0.065},
    {"tau_mem": 30e-3, "delta_v": 25e-3, "v_peak": 0.02},
]


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("u", [-0.5, 0.0, 0.1, 0.2, 0.249])
def test_map_fixed_points_and_stability_match_closed_form(params, u):
    layer = QIF(1, DT, per_neuron=False, **params)
    p = {k: float(v) for k, v in layer.intrinsic().items()}
    delta, v_r = p["delta_v"], p["v_rest"]
    current = u * delta / p["R"]
    eps = DT / p["tau_mem"]
    mid = v_r + 0.5 * delta  # the vertex of the parabola separates the two roots
    g = lambda v: _map(layer, v, current) - v  # noqa: E731
    roots = [brentq(g, mid - 10 * delta, mid, xtol=1e-15), brentq(g, mid, mid + 10 * delta, xtol=1e-15)]
    closed = [v_r + delta * (0.5 - s * math.sqrt(0.25 - u)) for s in (1, -1)]
    np.testing.assert_allclose(roots, closed, rtol=0, atol=1e-12)
    h = 1e-7 * delta
    slopes = [(_map(layer, r + h, current) - _map(layer, r - h, current)) / (2 * h) for r in roots]
    expected = [1 - eps * math.sqrt(1 - 4 * u), 1 + eps * math.sqrt(1 - 4 * u)]
    np.testing.assert_allclose(slopes, expected, rtol=1e-6)
    assert abs(slopes[0]) < 1 < slopes[1]  # lower stable, upper unstable


def test_map_has_no_fixed_point_above_rheobase():
    layer = QIF(1, DT, per_neuron=False)
    p = {k: float(v) for k, v in layer.intrinsic().items()}
    current = 0.2501 * p["delta_v"] / p["R"]
    grid = np.linspace(p["v_rest"] - 0.05, p["v_peak"], 2001)
    assert min(_map(layer, v, current) - v for v in grid) > 0


@pytest.mark.parametrize("dt", [5e-5, 1e-4, 5e-4])
@pytest.mark.parametrize("params", PARAMS)
def test_window_edges_are_unstable_fixed_point_and_image_of_peak(params, dt):
    layer = QIF(2, dt, **params)
    lower, upper = (e.double() for e in layer.window())
    p = {k: float(v.mean()) for k, v in layer.intrinsic().items()}
    g = lambda v: _map(layer, v, 0.0) - v  # noqa: E731
    unstable = brentq(g, p["v_rest"] + 0.5 * p["delta_v"], p["v_peak"], xtol=1e-15)
    np.testing.assert_allclose(lower.numpy(), unstable, rtol=0, atol=1e-12)
    np.testing.assert_allclose(upper.numpy(), _map(layer, p["v_peak"], 0.0), rtol=0, atol=1e-12)
    # no state of the escape region [v_c, v_peak] maps above the upper edge in one step
    grid = np.linspace(unstable, p["v_peak"], 501)
    assert max(_map(layer, v, 0.0) for v in grid) <= float(upper[0]) + 1e-15


def test_window_follows_per_neuron_parameters():
    delta = np.array([8e-3, 15e-3, 30e-3])
    layer = QIF(3, DT, delta_v=delta)
    lower, _ = layer.window()
    np.testing.assert_allclose(lower.numpy(), get_model("qif").defaults()["v_rest"] + delta, atol=1e-12)


def test_surrogate_gradient_is_unit_boxcar_on_the_window():
    lo, hi = torch.tensor(-0.05, dtype=torch.float64), torch.tensor(0.002, dtype=torch.float64)
    x = torch.linspace(-0.1, 0.01, 110_001, dtype=torch.float64, requires_grad=True)
    z = WindowSpike.apply(x, lo, hi)
    assert torch.equal(z.detach(), (x > 0).double())
    z.sum().backward()
    inside = (x >= lo) & (x <= hi)
    assert torch.all(x.grad[~inside] == 0)
    assert torch.allclose(x.grad[inside], 1 / (hi - lo))
    assert torch.trapezoid(x.grad, x).item() == pytest.approx(1.0, abs=1e-4)


def test_escape_region_starts_at_the_unstable_fixed_point():
    """The premise of the window: without input, above v_c the neuron fires, below it rests."""
    layer = QIF(2, DT, per_neuron=False)
    v_c = float(layer.window()[0])
    v0 = torch.tensor([[v_c - 1e-4, v_c + 1e-4]], dtype=torch.float64)
    state = layer.State(v0, torch.zeros_like(v0))
    spikes, traces = layer.simulate(torch.zeros(5_000, 1, 2, dtype=torch.float64), state=state)
    assert spikes[:, 0, 0].sum() == 0 and spikes[:, 0, 1].sum() >= 1
    rest = get_model("qif").defaults()["v_rest"]
    assert abs(float(traces["v"][-1, 0, 0]) - rest) < 1e-6


def test_rheobase_of_the_map_equals_the_continuous_one():
    """Euler keeps the fixed points, so the discrete rheobase is delta_v / (4 R) exactly."""
    layer = QIF(2, DT, per_neuron=False)
    p = {k: float(v) for k, v in layer.intrinsic().items()}
    rheobase = p["delta_v"] / (4 * p["R"])
    current = torch.tensor([0.99 * rheobase, 1.01 * rheobase], dtype=torch.float64)
    counts = layer(current.expand(10_000, 1, 2)).sum(dim=(0, 1))
    assert counts[0] == 0 and counts[1] > 0


def _euler_reference(params, current, dt):
    """Scalar forward Euler of tau dv/dt = (v - v_r)(v - v_r - D)/D + R I, Brian2's refractoriness."""
    p = get_model("qif").validate(params)
    k = int((p["t_ref"] + 1e-3 * dt) / dt)
    v, last, spikes, vs = p["v_rest"], -(10**9), [], []
    for n, i in enumerate(current):
        active = n - last >= k
        if active:
            dv = (v - p["v_rest"]) * (v - p["v_rest"] - p["delta_v"]) / p["delta_v"] + p["R"] * i
            v = v + dt * dv / p["tau_mem"]
        fired = active and v > p["v_peak"]
        if fired:
            v, last = p["v_reset"], n
        spikes.append(fired)
        vs.append(v)
    return np.array(spikes), np.array(vs)


@pytest.mark.parametrize("t_ref", [0.0, 1e-3])
def test_layer_matches_bruteforce_euler_with_brian2_refractoriness(t_ref):
    rng = np.random.default_rng(11)
    current = 0.8e-10 + 0.6e-10 * rng.standard_normal((4000, 2))
    params = {"t_ref": t_ref, "v_reset": -0.06}
    spikes, traces = QIF(2, DT, **params).simulate(torch.tensor(current[:, None, :]))
    for n in range(2):
        ref_spikes, ref_v = _euler_reference(params, current[:, n], DT)
        assert ref_spikes.sum() >= 5
        np.testing.assert_array_equal(spikes[:, 0, n].numpy().astype(bool), ref_spikes)
        np.testing.assert_allclose(traces["v"][:, 0, n].numpy(), ref_v, rtol=0, atol=1e-12)
