"""biofit.neurons layers: Brian2's clock-driven scheme (against brute-force scalar references written
here, and Brian2's own abstract code run by numpy), LIF f-I curve against the closed form, the fused
LIF path against the generated step, gradients, learning intrinsic parameters, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from biofit.models import MODELS, get_model
from biofit.neurons import ALIF, LIF, QIF, AdEx, build_layer
from biofit.neurons.params import IntrinsicParameters, constrain, unconstrain

DT = 1e-4


def _brian2_refractory_steps(t_ref, dt):
    return int((t_ref + 1e-3 * dt) / dt)  # Brian2: timestep(t_ref, dt)


def _reference(model, params, current, dt):
    """Scalar re-implementation of Brian2's NeuronGroup loop for one neuron (float64).

    Per step: not_refractory = steps since last spike >= K; integrate ``(unless refractory)``
    equations only when not refractory; threshold on the new state; reset; record the state.
    """
    p = get_model(model).validate(params)
    k = _brian2_refractory_steps(p["t_ref"], dt)
    last = -(10**9)
    v = p["E_L"] if model == "adex" else p["v_rest"]
    aux = 0.0  # I_syn (lif_syn), a (alif), w (adex)
    if model == "lif_syn":
        generator = np.array([
            [-1 / p["tau_mem"], p["R"] / p["tau_mem"], 0.0, p["v_rest"] / p["tau_mem"]],
            [0.0, -1 / p["tau_syn"], 1 / p["tau_syn"], 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ])
        propagator = scipy.linalg.expm(generator * dt)
    spikes, vs = [], []
    for n, i_ext in enumerate(current):
        active = n - last >= k
        if model in ("lif", "alif"):
            v_new = p["v_rest"] + p["R"] * i_ext + (v - p["v_rest"] - p["R"] * i_ext) * math.exp(-dt / p["tau_mem"])
            if model == "alif":
                aux *= math.exp(-dt / p["tau_adapt"])
        elif model == "lif_syn":  # exact propagator of the linear system [v, I_syn, I_ext, 1]
            v_new, aux = (propagator @ np.array([v, aux, i_ext, 1.0]))[:2]
        else:  # adex, forward Euler from the old state
            dv = (p["g_L"] * (p["E_L"] - v) + p["g_L"] * p["Delta_T"] * math.exp((v - p["V_T"]) / p["Delta_T"])
                  - aux + i_ext) / p["C"]
            aux += dt * (p["a"] * (v - p["E_L"]) - aux) / p["tau_w"]
            v_new = v + dt * dv
        v = v_new if active else v
        if model == "adex":
            threshold, v_reset, jump = p["V_peak"], p["V_reset"], p["b"]
        elif model == "alif":
            threshold, v_reset, jump = p["v_th"] + aux, p["v_reset"], p["beta"]
        else:
            threshold, v_reset, jump = p["v_th"], p["v_reset"], 0.0
        fired = active and v > threshold
        if fired:
            v, aux, last = v_reset, aux + jump, n
        spikes.append(fired)
        vs.append(v)
    return np.array(spikes), np.array(vs)


CASES = [
    ("lif", {"t_ref": 2e-3}, 2.6e-10),
    ("lif_syn", {"t_ref": 1e-3, "tau_syn": 8e-3}, 2.6e-10),
    ("alif", {"t_ref": 2e-3, "beta": 4e-3}, 3e-10),
    ("adex", {"t_ref": 1.5e-3}, 8e-10),
]


@pytest.mark.parametrize("model, params, mean", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_bruteforce_brian2_scheme(model, params, mean):
    rng = np.random.default_rng(7)
    current = mean + 1.5e-10 * rng.standard_normal((3000, 2))
    layer = build_layer(model, 2, DT, **params)
    spikes, traces = layer.simulate(torch.tensor(current[:, None, :]))
    assert traces["v"].dtype == torch.float64
    total = 0
    for n in range(2):
        ref_spikes, ref_v = _reference(model, params, current[:, n], DT)
        np.testing.assert_array_equal(spikes[:, 0, n].numpy().astype(bool), ref_spikes)
        np.testing.assert_allclose(traces["v"][:, 0, n].numpy(), ref_v, rtol=0, atol=1e-12)
        total += ref_spikes.sum()
    assert total >= 10  # the comparison covered spikes, resets and refractory periods


@pytest.mark.parametrize("t_ref, k", [(2e-3, 20), (2.05e-3, 20), (0.5e-3, 5), (0.05e-3, 0)])
def test_refractory_period_is_brian2s_whole_step_count(t_ref, k):
    """Brian2: refractory while steps since spike < K = int((t_ref + 1e-3 dt) / dt); with a huge
    current the neuron fires every max(K, 1) steps and sits at v_reset for K samples."""
    layer = LIF(1, DT, t_ref=t_ref)
    spikes, traces = layer.simulate(torch.full((200, 1, 1), 1e-6, dtype=torch.float64))
    times = torch.nonzero(spikes[:, 0, 0]).flatten()
    assert set(torch.diff(times).tolist()) == {max(k, 1)}
    v = traces["v"][:, 0, 0]
    first = int(times[0])
    assert torch.all(v[first : first + max(k, 1)] == layer.intrinsic()["v_reset"])


@pytest.mark.parametrize("t_ref", [0.0, 2e-3])
def test_lif_f_i_curve_matches_closed_form(t_ref):
    """Continuous: ISI = t_ref + t_c, t_c = tau ln((v_inf - v_reset) / (v_inf - v_th)).
    Brian2's scheme: after a spike at step m, v is frozen at steps m+1 .. m+K-1, integrates from
    step m + max(K, 1) on, and fires at the first integration step j with j dt > t_c, i.e.
    j = floor(t_c / dt) + 1. So ISI = max(K, 1) + floor(t_c / dt) steps exactly, within one dt of
    the continuous value (below it for K >= 1, where K dt = t_ref; above it for K = 0)."""
    tau, r, v_rest, v_th = 20e-3, 1e8, -70e-3, -50e-3
    currents = np.array([0.19e-9, 0.2007e-9, 0.23e-9, 0.3e-9, 0.5e-9, 1.0e-9, 2.0e-9])
    layer = LIF(1, DT, t_ref=t_ref)
    spikes = layer(torch.tensor(currents, dtype=torch.float64)[None, :, None].expand(12000, -1, 1))
    k = _brian2_refractory_steps(t_ref, DT)
    for b, i in enumerate(currents):
        times = torch.nonzero(spikes[:, b, 0]).flatten().numpy()
        v_inf = v_rest + r * i
        if v_inf <= v_th:
            assert times.size == 0
            continue
        t_c = tau * math.log((v_inf - v_rest) / (v_inf - v_th))
        isi = np.diff(times)
        assert isi.size >= 2
        assert set(isi.tolist()) == {max(k, 1) + math.floor(t_c / DT)}
        assert abs((t_ref + t_c) - isi[0] * DT) < DT


@pytest.mark.parametrize("t_ref, surrogate", [(0.0, "fast_sigmoid"), (2e-3, "atan"), (1e-3, "multi_gaussian")])
def test_fused_lif_scan_equals_generic_loop_bits_and_gradients(t_ref, surrogate):
    torch.manual_seed(0)
    layer = LIF(4, DT, t_ref=t_ref, surrogate=surrogate, width=2e-3, per_neuron=t_ref > 0,
                learn=("tau_mem", "R", "v_rest", "v_reset", "v_th")).double()
    current = (3e-10 + 2e-10 * torch.randn(400, 3, 4, dtype=torch.float64)).requires_grad_(True)
    w_z, w_v = torch.randn(2, 400, 3, 4, dtype=torch.float64)
    results = []
    fused = layer.fused
    assert fused is not None  # LIF has the form of the fused fast path
    for generic in (False, True):
        layer.fused = None if generic else fused
        layer.zero_grad()
        current.grad = None
        spikes, traces = layer.simulate(current)
        ((spikes * w_z).sum() + 100 * (traces["v"] * w_v).sum()).backward()
        grads = [current.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
        results.append((spikes.detach(), traces["v"].detach(), grads))
    (z1, v1, g1), (z2, v2, g2) = results
    assert z1.sum() > 5
    assert torch.equal(z1, z2) and torch.equal(v1, v2)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9 * b.abs().max().item())


@pytest.mark.parametrize("t_ref", [0.0, 1.5e-3])
def test_fused_lif_scan_float32_per_neuron_equals_generic_loop(t_ref):
    # float32, distinct per-neuron parameters, a loss on spikes only (no gradient reaches the
    # fused node's voltage output) and a differentiable initial state: the benchmark's regime
    gen = torch.Generator().manual_seed(5)
    n, batch, steps = 10, 6, 300
    layer = LIF(n, DT, t_ref=t_ref, tau_mem=np.linspace(5e-3, 30e-3, n), v_th=np.linspace(-55e-3, -45e-3, n),
                learn=("tau_mem", "v_reset", "v_th"))
    current = (3e-10 + 3e-10 * torch.randn(steps, batch, n, generator=gen)).requires_grad_(True)
    w_z = torch.randn(steps, batch, n, generator=gen)
    v0 = (-70e-3 + 10e-3 * torch.rand(batch, n, generator=gen)).requires_grad_(True)
    results = []
    fused = layer.fused
    for generic in (False, True):
        layer.fused = None if generic else fused
        layer.zero_grad()
        current.grad = v0.grad = None
        state = layer.State(v0, torch.zeros(batch, n))
        spikes, final = layer(current, state=state, return_state=True)
        (spikes * w_z).sum().backward()
        grads = [current.grad.clone(), v0.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
        results.append((spikes.detach(), final, grads))
    (z1, s1, g1), (z2, s2, g2) = results
    assert z1.sum() > 50
    assert torch.equal(z1, z2) and all(torch.equal(a, b) for a, b in zip(s1, s2))
    for a, b in zip(g1, g2):
        assert b.abs().max() > 0
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * b.abs().max().item())


def _brian2_abstract_update(model, values: dict, dt: float) -> dict:
    """Brian2's abstract code for `model` (Brian2's own state updater) executed by numpy, as its
    numpy target would: one step from the state and parameters in `values` (name -> array)."""
    from brian2 import Equations
    from brian2.stateupdaters.base import StateUpdateMethod

    spec = get_model(model)
    lines = [spec.equations.replace("(unless refractory)", "")]
    lines += [f"{name} : {unit}" for name, unit in spec.input_units.items()]
    lines += [f"{p.name} : {p.unit} (constant)" for p in spec.parameters]
    code = StateUpdateMethod.apply_stateupdater(Equations("\n".join(lines)), {}, method=spec.method)
    namespace = {"exp": np.exp, "expm1": np.expm1, "dt": dt, **values}
    for line in code.splitlines():
        name, expr = (part.strip() for part in line.split("=", 1))
        namespace[name] = eval(expr, {"__builtins__": {}}, namespace)  # noqa: S307 - Brian2's own code
    return {name: namespace[name] for name in spec.state}


# a typical size of each state variable and held input, to draw random states from
SCALES = {"v": 2e-3, "w": 1e-12, "I_syn": 1e-12, "q": 0.3, "a": 1e-3, "g_ex": 0.02, "g_in": 0.05,
          "u_syn": 5.0, "h": 1.0, "I_ext": 1e-10, "h_rival": 1.0}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_generated_step_equals_brian2_abstract_code_run_by_numpy(model):
    """The generated torch update (`code.update` after `code.drive`) equals Brian2's abstract code
    evaluated by numpy on random states (round-off only: the torch code groups the constants and,
    for linear models, collects the coefficients of each variable)."""
    rng = np.random.default_rng(11)
    layer = build_layer(model, 50, DT, t_ref=0.0) if "t_ref" in get_model(model).parameter_names \
        else build_layer(model, 50, DT)
    p = {k: v.numpy() for k, v in layer.intrinsic().items()}
    initial = layer.initial_state(1, torch.float64)
    values = {name: getattr(initial, name)[0].numpy() + SCALES[name] * rng.random(50)
              for name in layer.code.step.variables}
    held = {name: SCALES[name] * rng.standard_normal(50) for name in layer.model.held_inputs}
    expected = _brian2_abstract_update(model, {**p, **values, **held}, DT)
    k = layer.constants(torch.float64)
    d = layer.code.drive({n: torch.tensor(x)[None, None] for n, x in held.items()}, k)
    state = tuple(torch.tensor(values[n])[None] for n in layer.code.step.variables)
    new = dict(zip(layer.code.step.variables, layer.code.update(state, tuple(x[0] for x in d), k)))
    for name in layer.model.state:
        got = new[name][0].numpy()
        np.testing.assert_allclose(got, expected[name], rtol=1e-13, atol=1e-13 * np.abs(expected[name]).max())


@pytest.mark.parametrize("cls, flags", [(LIF, {}), (ALIF, {})])
def test_simulation_continues_bit_exactly_from_returned_state(cls, flags):
    current = 3e-10 + 1e-10 * torch.randn(600, 2, 3, generator=torch.Generator().manual_seed(3))
    layer = cls(3, DT, **flags)
    whole = layer(current)
    first, state = layer(current[:250], return_state=True)
    second = layer(current[250:], state=state)
    assert torch.equal(whole, torch.cat([first, second]))


LAYERS = [("lif", 3e-10), ("lif_syn", 3e-10), ("alif", 3e-10), ("adex", 8e-10), ("qif", 0.8e-10),
          ("meta_det", 3e-10)]
IDS = [name for name, _ in LAYERS]


def _learnable(model):
    return tuple(p.name for p in get_model(model).parameters if p.learnable)


@pytest.mark.parametrize("model, mean", LAYERS, ids=IDS)
def test_gradients_finite_and_nonzero_through_10000_steps(model, mean):
    learn = tuple(n for n in _learnable(model) if n not in ("delta_u", "tau_esc"))  # escape noise only
    layer = build_layer(model, 3, DT, learn=learn)
    gen = torch.Generator().manual_seed(1)
    current = (mean * (1 + 0.5 * torch.randn(10_000, 2, 3, generator=gen))).requires_grad_(True)
    spikes, traces = layer.simulate(current)
    assert spikes.sum() > 20
    (spikes.sum() + traces["v"].mean() * 1e3).backward()
    assert torch.isfinite(current.grad).all()
    assert current.grad[:100].abs().sum() > 0  # the first steps still receive gradient
    for name, p in layer.named_parameters():
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("model, mean", LAYERS, ids=IDS)
def test_huge_sgd_steps_keep_the_simulation_finite(model, mean, maximize):
    """Steps of lr = 1e6 push every learnable parameter against its bounds: the constants of the
    generated step, the gradients and the next forward pass stay finite (no overflow, no NaN)."""
    learn = tuple(n for n in _learnable(model) if n not in ("delta_u", "tau_esc"))
    layer = build_layer(model, 4, DT, learn=learn)
    opt = torch.optim.SGD(layer.parameters(), lr=1e6, maximize=maximize)
    current = mean * (1 + torch.rand(300, 2, 4, generator=torch.Generator().manual_seed(2)))
    for _ in range(6):
        opt.zero_grad()
        spikes, traces = layer.simulate(current)
        (spikes.sum() + traces["v"].sum()).backward()
        for name, p in layer.named_parameters():
            assert torch.isfinite(p.grad).all(), name
        opt.step()
    spikes, traces = layer.simulate(current)
    assert torch.isfinite(traces["v"]).all() and torch.isfinite(spikes).all()


def test_learned_time_constant_moves_to_the_teacher_and_stays_inside_its_bounds():
    """A student LIF learns tau_mem from a teacher's subthreshold voltage (tau = 12 ms; the student
    starts at 30 ms): the learned value approaches 12 ms and stays strictly inside [0.1 ms, 1 s]."""
    gen = torch.Generator().manual_seed(4)
    current = 1e-10 * torch.rand(2000, 4, 1, generator=gen, dtype=torch.float64)  # v < v_th
    with torch.no_grad():
        _, target = LIF(1, DT, tau_mem=12e-3).simulate(current)
    student = LIF(1, DT, tau_mem=30e-3, learn=("tau_mem",))
    opt = torch.optim.Adam(student.parameters(), lr=0.1)
    start = abs(float(student.intrinsic()["tau_mem"].detach()) - 12e-3)
    for _ in range(60):
        opt.zero_grad()
        _, traces = student.simulate(current)
        ((traces["v"] - target["v"]) / 1e-3).pow(2).mean().backward()
        opt.step()
    tau = float(student.intrinsic()["tau_mem"].detach())
    lo, hi = get_model("lif").parameter("tau_mem").bounds
    assert abs(tau - 12e-3) < 0.05 * start
    assert lo < tau < hi


@pytest.mark.parametrize(
    "bounds, value",
    [((1e-4, 1.0), 0.02), ((-0.1, 0.0), -0.07), ((0.0, math.inf), 3.0), ((-math.inf, 2.0), -5.0),
     ((-math.inf, math.inf), -1.5), ((1e6, 1e10), 1e6)],
)
def test_reparametrization_round_trips_and_saturates_at_bounds(bounds, value):
    from biofit.neurons.params import _scale

    k = _scale(value, bounds)
    raw = unconstrain(torch.tensor([value], dtype=torch.float64), bounds, k, value)
    back = constrain(raw, bounds, k, value).item()
    span = bounds[1] - bounds[0] if math.isfinite(bounds[1] - bounds[0]) else 1.0
    assert back == pytest.approx(value, rel=1e-8, abs=1e-8 * span)
    if math.isfinite(bounds[0]) or math.isfinite(bounds[1]):
        extremes = constrain(torch.tensor([-1e30, 1e30], dtype=torch.float64), bounds, k, value)
        assert bounds[0] <= extremes[0].item() <= extremes[1].item() <= bounds[1]


def test_per_neuron_and_shared_parameter_shapes():
    per = LIF(5, DT, learn=("tau_mem", "v_th"))
    shared = LIF(5, DT, learn=("tau_mem", "v_th"), per_neuron=False)
    assert per.params.raw_tau_mem.shape == (5,) and per.intrinsic()["R"].shape == (5,)
    assert shared.params.raw_tau_mem.shape == () and shared.intrinsic()["v_th"].shape == ()
    assert sum(p.numel() for p in shared.parameters()) == 2


def test_per_neuron_values_act_per_neuron():
    layer = LIF(3, DT, v_th=[-0.055, -0.05, -0.045])
    counts = layer(torch.full((5000, 1, 3), 3e-10)).sum(dim=(0, 1))
    assert counts[0] > counts[1] > counts[2] > 0


def test_output_dtype_follows_input():
    layer = ALIF(2, DT)
    for dtype in (torch.float32, torch.float64):
        spikes, traces = layer.simulate(torch.full((10, 1, 2), 1e-10, dtype=dtype))
        assert spikes.dtype == dtype and traces["a"].dtype == dtype


def test_intrinsic_parameters_reject_bad_learn_names():
    model = get_model("lif")
    with pytest.raises(ValueError, match="lif.t_ref is not learnable"):
        IntrinsicParameters(model, 2, learn=("t_ref",))
    with pytest.raises(ValueError, match="has no parameter 'tau'"):
        IntrinsicParameters(model, 2, learn=("tau",))


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: LIF(3, 0.0), ValueError, "dt must be a finite time step > 0"),
        (lambda: LIF(3, -1e-4), ValueError, "dt must be"),
        (lambda: LIF(3, float("nan")), ValueError, "dt must be"),
        (lambda: LIF(0, DT), ValueError, "n_neurons must be a positive int"),
        (lambda: LIF(3, DT, tau=0.01), ValueError, r"unknown parameter\(s\) \['tau'\]"),
        (lambda: LIF(3, DT, tau_mem=-0.01), ValueError, "lif.tau_mem = -0.01 second is outside"),
        (lambda: ALIF(3, DT, beta=[1e-3, 2e-3]), ValueError, "alif.beta has 2 values, expected n_neurons=3"),
        (lambda: LIF(3, DT, per_neuron=False, v_th=[-0.05] * 3), ValueError, "per_neuron=False"),
        (lambda: LIF(3, DT, surrogate="erf"), ValueError, "unknown surrogate 'erf'"),
        (lambda: LIF(3, DT, width=0.0), ValueError, "width must be > 0"),
        (lambda: QIF(3, DT, v_peak=-0.06), ValueError, "v_peak > v_rest \\+ delta_v"),
    ],
)
def test_bad_construction_raises_naming_the_problem(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("cls", [LIF, ALIF, AdEx, QIF])
def test_bad_current_raises_naming_the_problem(cls):  # noqa: D103
    layer = cls(3, DT)
    good = torch.zeros(5, 2, 3)
    nan = good.clone()
    nan[2, 1, 0] = float("nan")
    nan[3, 0, 1] = float("inf")
    with pytest.raises(ValueError, match=r"1 NaN and 1 infinite values \(first at \[t, b, n\] = \(2, 1, 0\)\)"):
        layer(nan)
    with pytest.raises(ValueError, match="rank 3"):
        layer(good[0])
    with pytest.raises(ValueError, match="current has 4 neurons"):
        layer(torch.zeros(5, 2, 4))
    with pytest.raises(TypeError, match="floating"):
        layer(good.long())
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer(good.numpy())
    with pytest.raises(ValueError, match="state.v has shape"):
        layer(good, state=layer.initial_state(3))
