"""The PyTorch layers (biofit.neurons) agree with the Brian2 reference (biofit.reference).

Every layer's step is generated from the model's Brian2 equations; this checks the result against
Brian2 itself running the same definition, for every built-in model (lif, lif_syn, alif, adex,
qif, the deterministic meta neuron) and for a model written here, in the test: the Izhikevich
(2007) simple model, *Dynamical Systems in Neuroscience*, eq. 8.5, with its regular-spiking
constants (C = 100 pF, k = 0.7 pA/mV^2, v_r = -60 mV, v_t = -40 mV, v_peak = 35 mV, a = 0.03/ms,
b = -2 nS, c = -50 mV, d = 100 pA; ch. 8.1.4).

Each model is driven by two seeded currents at dt = 0.1 ms: a noisy step (0 for the first 10 %,
then a constant plus white noise held over each step) and a fluctuating Ornstein-Uhlenbeck current
(tau = 5 ms); the two neurons also differ in one parameter (per-neuron parameters on both sides).

Alignment: Brian2's StateMonitor records ``v[k]`` at ``t = k dt`` before step k's update; the
torch layer's trace ``v[n]`` is the state after step n, i.e. Brian2's ``v[n + 1]``. A torch spike
``spikes[n]`` is Brian2's spike time ``n dt``.

Criteria ("tiny"):
* spike trains: coincidence factor Gamma >= 0.99 with Delta = 2 dt (plain Gamma, no rate
  correction; Kistler et al. 1997);
* every state variable away from spikes (samples from 2 ms before to 1 step after any spike of
  either side excluded): RMSE and max difference below a bound given per model and variable in
  `CASES` -- 1e-12 V for the exactly integrated models (both sides evaluate the same closed-form
  propagator, so the difference is float64 round-off, ~1e-16 V) and 1e-9 V for the forward-Euler
  ones. Bound for Euler: both sides apply the same Euler map, so each step adds a round-off of a
  few ulp of |v| (~1e-16 V), which the map multiplies by F'(v) = 1 + dt f'(v). Below the unstable
  point f' < 0 (contraction); above it f' grows (AdEx: g_L/C e^{(v-V_T)/Delta_T}, QIF: (2x - 1)/tau),
  but the excluded 2 ms before each spike contain the whole upswing, where the product of F' is
  large. Outside it the accumulated factor stays below ~1e6, giving < 1e-10 V; 1e-9 V leaves a
  margin of ten. Currents (I_syn, w) get the voltage bound times a conductance scale of the model.
The default run simulates 1 s per model; the `slow` tests 10 s.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biofit.fitting.metrics import voltage_rmse
from biofit.models import NeuronModel, Parameter
from biofit.neurons import build_layer
from biofit.reference import simulate

DT = 1e-4
DELTA = 2 * DT
EXACT_TOL_V = 1e-12
EULER_TOL_V = 1e-9

IZHIKEVICH = NeuronModel(
    name="izhikevich2007",
    parameters=(
        Parameter("C", 100e-12, (1e-12, 1e-8), "farad", True, "membrane capacitance"),
        Parameter("k", 0.7e-6, (1e-8, 1e-4), "amp/volt**2", True, "gain of the quadratic current"),
        Parameter("v_r", -60e-3, (-0.1, 0.0), "volt", False, "resting potential"),
        Parameter("v_t", -40e-3, (-0.1, 0.0), "volt", False, "instantaneous threshold potential"),
        Parameter("v_peak", 35e-3, (0.0, 0.1), "volt", False, "spike cut-off"),
        Parameter("a", 30.0, (0.1, 1e3), "1/second", True, "recovery rate"),
        Parameter("b", -2e-9, (-1e-7, 1e-7), "siemens", True, "recovery sensitivity"),
        Parameter("c", -50e-3, (-0.1, 0.0), "volt", False, "reset potential"),
        Parameter("d", 100e-12, (0.0, 1e-9), "amp", True, "recovery jump"),
    ),
    equations=(
        "dv/dt = (k*(v - v_r)*(v - v_t) - u + I_ext) / C : volt\n"
        "du/dt = a*(b*(v - v_r) - u) : amp"
    ),
    threshold="v >= v_peak",
    reset="v = c; u += d",
    method="euler",
    state=("v", "u"),
    initial={"v": "v_r", "u": "0*amp"},
)

# model -> (step (amplitude, noise sd) [A], OU (mean, sd) [A], per-neuron parameter,
#           bound on the difference of each state variable [its SI unit])
CASES = {
    "lif": ((0.3e-9, 0.05e-9), (0.22e-9, 0.1e-9), {"tau_mem": np.array([20e-3, 15e-3])},
            {"v": EXACT_TOL_V}),
    "lif_syn": ((0.3e-9, 0.05e-9), (0.22e-9, 0.1e-9), {"tau_syn": np.array([5e-3, 2e-3])},
                {"v": EXACT_TOL_V, "I_syn": EXACT_TOL_V * 1e-8}),
    "alif": ((0.35e-9, 0.05e-9), (0.25e-9, 0.1e-9), {"beta": np.array([2e-3, 4e-3])},
             {"v": EXACT_TOL_V, "a": EXACT_TOL_V}),
    "adex": ((0.8e-9, 0.1e-9), (0.65e-9, 0.3e-9), {"b": np.array([80.5e-12, 40e-12])},
             {"v": EULER_TOL_V, "w": EULER_TOL_V * 30e-9}),
    "qif": ((80e-12, 10e-12), (45e-12, 25e-12), {"tau_mem": np.array([10e-3, 8e-3])},
            {"v": EULER_TOL_V}),
    "meta_det": ((0.3e-9, 0.05e-9), (0.25e-9, 0.1e-9), {"theta_ref": np.array([5e-3, 10e-3])},
                 {"v": EXACT_TOL_V, "I_syn": EXACT_TOL_V * 1e-8, "q": EXACT_TOL_V}),
    "izhikevich2007": ((120e-12, 20e-12), (150e-12, 40e-12), {"d": np.array([100e-12, 50e-12])},
                       {"v": EULER_TOL_V, "u": EULER_TOL_V * 2e-9}),
}


def model_of(name: str):
    return IZHIKEVICH if name == IZHIKEVICH.name else name


def drive_currents(model: str, n_steps: int, seed: int) -> np.ndarray:
    """float[T, 2]: column 0 a noisy step, column 1 an OU current (exact OU update per step)."""
    (step_amp, step_sd), (ou_mean, ou_sd), _, _ = CASES[model]
    rng = np.random.default_rng(seed)
    step = np.where(np.arange(n_steps) >= n_steps // 10, step_amp, 0.0) + step_sd * rng.standard_normal(n_steps)
    rho = np.exp(-DT / 5e-3)
    kicks = np.sqrt(1 - rho**2) * rng.standard_normal(n_steps)
    ou = np.empty(n_steps)
    x = 0.0
    for k in range(n_steps):
        x = rho * x + kicks[k]
        ou[k] = x
    return np.stack([step, ou_mean + ou_sd * ou], axis=1)


def run_both(model: str, duration: float, seed: int = 2026) -> dict:
    """Brian2 and torch (float64) runs of `model` on the two test currents."""
    _, _, params, tol = CASES[model]
    n_steps = int(round(duration / DT))
    current = drive_currents(model, n_steps, seed)
    brian = simulate(model_of(model), params, current, DT)
    layer = build_layer(model_of(model), 2, DT, **params)
    with torch.no_grad():
        spikes, traces = layer.simulate(torch.tensor(current, dtype=torch.float64)[:, None, :])
    torch_spikes = [np.flatnonzero(spikes[:, 0, n].numpy()) * DT for n in range(2)]
    torch_states = {name: value[:, 0, :].numpy() for name, value in traces.items()}
    return {"brian": brian, "torch_spikes": torch_spikes, "torch_states": torch_states, "tol": tol,
            "duration": n_steps * DT}


def plain_gamma(mine: np.ndarray, ref: np.ndarray) -> float:
    """Coincidence factor without rate correction: 2 N_coinc / (N_torch + N_brian), N_coinc the
    number of one-to-one pairs within DELTA (greedy over sorted trains)."""
    pairs, j = 0, 0
    for t in np.sort(mine):
        while j < ref.size and ref[j] < t - DELTA * (1 + 1e-9):
            j += 1
        if j < ref.size and ref[j] <= t + DELTA * (1 + 1e-9):
            pairs, j = pairs + 1, j + 1
    total = mine.size + ref.size
    return 1.0 if total == 0 else 2.0 * pairs / total


def away_from_spikes(n_steps: int, *trains: np.ndarray) -> np.ndarray:
    """bool[T]: False from 2 ms before to one step after any spike of any train."""
    keep = np.ones(n_steps, dtype=bool)
    for train in trains:
        for k in np.round(np.asarray(train) / DT).astype(int):
            keep[max(k - 20, 0) : k + 2] = False
    return keep


def agreement(run: dict) -> list[dict]:
    """Per neuron: spike counts, Gamma, and per state variable the RMSE/max difference away from spikes."""
    brian = run["brian"]
    rows = []
    for n in range(2):
        mine, ref = run["torch_spikes"][n], brian.spike_times[n]
        # torch state[n] <-> Brian2 state[n + 1]
        keep = away_from_spikes(brian.v.shape[0] - 1, mine - DT, ref - DT)
        row = {
            "n_brian": ref.size,
            "n_torch": mine.size,
            "gamma": plain_gamma(mine, ref),
        }
        for name in run["tol"]:
            ref_trace = brian.v if name == "v" else brian.states[name]
            diff_source = run["torch_states"][name][:-1, n]
            row["rmse_" + name] = voltage_rmse(diff_source, ref_trace[1:, n], keep)
            row["max_" + name] = float(np.max(np.abs(diff_source - ref_trace[1:, n])[keep]))
        rows.append(row)
    return rows


def check(rows: list[dict], tol: dict) -> None:
    for row in rows:
        assert row["n_brian"] >= 5, f"too few spikes for a meaningful test: {row}"
        assert row["gamma"] >= 0.99, row
        for name, bound in tol.items():
            assert row["rmse_" + name] < bound and row["max_" + name] < bound, (name, row)


@pytest.fixture(scope="module", params=sorted(CASES))
def one_second(request):
    """Each model simulated once (1 s) by both backends: Brian2 compiles each model once per module."""
    return request.param, run_both(request.param, 1.0)


def test_torch_spikes_and_voltage_match_brian2_one_second(one_second):
    model, run = one_second
    check(agreement(run), {"v": run["tol"]["v"]})


def test_every_state_variable_matches_brian2(one_second):
    """Every recorded state variable of the model is compared, none skipped."""
    model, run = one_second
    layer = build_layer(model_of(model), 2, DT, **CASES[model][2])
    assert set(run["tol"]) == set(layer.model.state), "a state variable has no bound in CASES"
    assert set(run["brian"].states) | {"v"} == set(layer.model.state)
    check(agreement(run), run["tol"])


def test_user_model_gradients_are_finite_and_nonzero():
    """The Izhikevich model written above learns: every learnable parameter gets a gradient."""
    learn = ("C", "k", "a", "b", "d")
    layer = build_layer(IZHIKEVICH, 3, DT, learn=learn)
    current = torch.tensor(drive_currents("izhikevich2007", 3000, 5)[:, :1], dtype=torch.float64)
    spikes, traces = layer.simulate(current.expand(3000, 3)[:, None, :].contiguous())
    assert 5 <= int(spikes.sum()) < 3000
    loss = spikes.sum() + traces["v"].mean() / 1e-3 + traces["u"].mean() / 1e-10
    loss.backward()
    for name in learn:
        grad = getattr(layer.params, "raw_" + name).grad
        assert grad is not None and bool(torch.isfinite(grad).all()), name
        assert float(grad.abs().max()) > 0, name


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(CASES))
def test_torch_spikes_and_voltage_match_brian2_ten_seconds(model):
    run = run_both(model, 10.0)
    rows = agreement(run)
    for n, row in enumerate(rows):
        print(f"{model} neuron {n}: " + ", ".join(f"{k}={v:.4g}" for k, v in row.items()))
    check(rows, run["tol"])


def lif_isi_closed_form(current: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """Continuous-time ISI and the ISI on the dt grid for a constant current, with v_reset = v_rest.

    Free time to threshold from reset: s* = tau ln(R I / (R I - (v_th - v_rest))). Brian2 freezes v
    for t_ref after a spike stamped t_m, frees it at t_m + t_ref, and stamps the next spike at the
    step whose update first ends above threshold: ISI_grid = t_ref + floor(s*/dt) dt.
    """
    drive = p["R"] * current
    free = p["tau_mem"] * np.log(drive / (drive - (p["v_th"] - p["v_rest"])))
    return p["t_ref"] + free, p["t_ref"] + np.floor(free / DT) * DT


def test_lif_f_i_curve_matches_closed_form():
    from biofit.models import get_model

    p = get_model("lif").defaults()
    rheobase = (p["v_th"] - p["v_rest"]) / p["R"]
    currents = rheobase * np.array([0.5, 0.99, 1.05, 1.3, 2.0, 3.0, 5.0])
    n_steps = 10000
    brian = simulate("lif", None, np.tile(currents, (n_steps, 1)), DT)
    layer = build_layer("lif", currents.size, DT)
    with torch.no_grad():
        torch_spikes = layer(torch.tensor(np.tile(currents, (n_steps, 1, 1)), dtype=torch.float64))
    for k, current in enumerate(currents):
        ref = brian.spike_times[k]
        mine = np.flatnonzero(torch_spikes[:, 0, k].numpy()) * DT
        np.testing.assert_allclose(mine, ref, atol=DT / 10)
        if current <= rheobase:
            assert ref.size == 0
            continue
        isi_exact, isi_grid = lif_isi_closed_form(current, p)
        np.testing.assert_allclose(np.diff(ref), isi_grid, atol=1e-9)
        # First spike from rest: the free run starts at t = 0.
        assert ref[0] == pytest.approx(isi_grid - p["t_ref"], abs=1e-9)
        # The grid rate is within one step of the continuous-time f-I curve.
        assert abs(1 / np.mean(np.diff(ref)) - 1 / isi_exact) <= DT / isi_exact**2 * 1.001
