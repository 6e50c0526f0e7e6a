"""The PyTorch layers (biofit.neurons) agree with the Brian2 reference (biofit.reference).

Each model is driven by two seeded currents at dt = 0.1 ms: a noisy step (0 for the first 10 %,
then a constant plus white noise held over each step) and a fluctuating Ornstein-Uhlenbeck current
(tau = 5 ms); the two neurons also differ in one parameter (per-neuron parameters on both sides).

Alignment: Brian2's StateMonitor records ``v[k]`` at ``t = k dt`` before step k's update; the
torch layer's trace ``v[n]`` is the state after step n, i.e. Brian2's ``v[n + 1]``. A torch spike
``spikes[n]`` is Brian2's spike time ``n dt``.

Criteria ("tiny"):
* spike trains: coincidence factor Gamma >= 0.99 with Delta = 2 dt (Jolivet et al. 2008, plain Gamma,
  no rate correction);
* voltage away from spikes (samples from 2 ms before to 1 step after any spike of either side
  excluded): RMSE and max |dv| below 1e-12 V for the exactly integrated models (LIF, ALIF; both
  sides evaluate the same closed-form propagator, so the difference is float64 round-off, ~1e-16 V)
  and below 1e-9 V for the forward-Euler ones (AdEx, QIF). Bound for Euler: both sides apply the same
  Euler map, so each step adds a round-off of a few ulp of |v| (~1e-16 V), which the map multiplies
  by F'(v) = 1 + dt f'(v). Below the unstable point f' < 0 (contraction); above it f' grows
  (AdEx: g_L/C e^{(v-V_T)/Delta_T}, QIF: (2x - 1)/tau), but the excluded 2 ms before each spike
  contain the whole upswing, where the product of F' is large. Outside it the accumulated factor
  stays below ~1e6, giving < 1e-10 V; 1e-9 V leaves a margin of ten.
The default run simulates 1 s per model; the `slow` tests 10 s, as in issue 3.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biofit.fitting.metrics import gamma_factor, voltage_rmse
from biofit.neurons.adex import AdEx
from biofit.neurons.alif import ALIF
from biofit.neurons.lif import LIF
from biofit.neurons.qif import QIF
from biofit.reference import simulate

DT = 1e-4
DELTA = 2 * DT
EXACT_TOL_V = 1e-12
EULER_TOL_V = 1e-9

# model -> (torch layer, step (amplitude, noise sd) [A], OU (mean, sd) [A], per-neuron parameter,
#           tolerance on the voltage difference [V])
CASES = {
    "lif": (LIF, (0.3e-9, 0.05e-9), (0.22e-9, 0.1e-9), {"tau_mem": np.array([20e-3, 15e-3])}, EXACT_TOL_V),
    "alif": (ALIF, (0.35e-9, 0.05e-9), (0.25e-9, 0.1e-9), {"beta": np.array([2e-3, 4e-3])}, EXACT_TOL_V),
    "adex": (AdEx, (0.8e-9, 0.1e-9), (0.65e-9, 0.3e-9), {"b": np.array([80.5e-12, 40e-12])}, EULER_TOL_V),
    "qif": (QIF, (80e-12, 10e-12), (45e-12, 25e-12), {"tau_mem": np.array([10e-3, 8e-3])}, EULER_TOL_V),
}
STATE_UNITS = {"v": "V", "a": "V", "w": "A"}


def drive_currents(model: str, n_steps: int, seed: int) -> np.ndarray:
    """float[T, 2]: column 0 a noisy step, column 1 an OU current (exact OU update per step)."""
    _, (step_amp, step_sd), (ou_mean, ou_sd), _, _ = CASES[model]
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
    layer_cls, _, _, params, tol = CASES[model]
    n_steps = int(round(duration / DT))
    current = drive_currents(model, n_steps, seed)
    brian = simulate(model, params, current, DT)
    layer = layer_cls(2, DT, **params)
    with torch.no_grad():
        spikes, traces = layer.simulate(torch.tensor(current, dtype=torch.float64)[:, None, :])
    torch_spikes = [np.flatnonzero(spikes[:, 0, n].numpy()) * DT for n in range(2)]
    torch_states = {name: value[:, 0, :].numpy() for name, value in traces.items()}
    return {"brian": brian, "torch_spikes": torch_spikes, "torch_states": torch_states, "tol": tol,
            "duration": n_steps * DT}


def away_from_spikes(n_steps: int, *trains: np.ndarray) -> np.ndarray:
    """bool[T]: False from 2 ms before to one step after any spike of any train."""
    keep = np.ones(n_steps, dtype=bool)
    for train in trains:
        for k in np.round(np.asarray(train) / DT).astype(int):
            keep[max(k - 20, 0) : k + 2] = False
    return keep


def agreement(run: dict) -> list[dict]:
    """Per neuron: spike counts, Gamma, voltage RMSE/max diff away from spikes, other states' max diff."""
    brian = run["brian"]
    rows = []
    for n in range(2):
        mine, ref = run["torch_spikes"][n], brian.spike_times[n]
        # torch v[n] <-> Brian2 v[n + 1]
        v_ref = brian.v[1:, n]
        v_torch = run["torch_states"]["v"][:-1, n]
        keep = away_from_spikes(v_ref.size, mine - DT, ref - DT)
        row = {
            "n_brian": ref.size,
            "n_torch": mine.size,
            "gamma": gamma_factor(mine, ref, DELTA, run["duration"], rate_correction=False),
            "rmse_v": voltage_rmse(v_torch, v_ref, keep),
            "max_dv": float(np.max(np.abs(v_torch - v_ref)[keep])),
        }
        for name, trace in brian.states.items():
            row["max_d" + name] = float(np.max(np.abs(run["torch_states"][name][:-1, n] - trace[1:, n])[keep]))
        rows.append(row)
    return rows


def check(rows: list[dict], tol: float) -> None:
    for row in rows:
        assert row["n_brian"] >= 5, f"too few spikes for a meaningful test: {row}"
        assert row["gamma"] >= 0.99, row
        assert row["rmse_v"] < tol and row["max_dv"] < tol, row


@pytest.fixture(scope="module", params=sorted(CASES))
def one_second(request):
    """Each model simulated once (1 s) by both backends: Brian2 compiles each model once per module."""
    return request.param, run_both(request.param, 1.0)


def test_torch_spikes_and_voltage_match_brian2_one_second(one_second):
    model, run = one_second
    check(agreement(run), run["tol"])


def test_torch_adaptation_state_matches_brian2(one_second):
    model, run = one_second
    for row in agreement(run):
        for key in ("max_da", "max_dw"):
            if key in row:
                # a [V]: same bound as v; w [A]: the bound times g_L = 30 nS (w follows a (v - E_L)).
                bound = run["tol"] if key == "max_da" else run["tol"] * 30e-9
                assert row[key] < bound, (model, row)


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
    layer = LIF(currents.size, DT)
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
