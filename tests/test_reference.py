"""The Brian2 reference backend against closed forms, and its boundary behaviour.

Closed forms used (LIF, tau dv/dt = v_rest - v + R I):
* constant current from rest: v(t) = v_rest + R I (1 - exp(-t/tau));
* a current jump w at t0 decaying with tau_s (exponential synapse):
  v(t) - v_rest = R w tau_s / (tau_s - tau) (exp(-(t-t0)/tau_s) - exp(-(t-t0)/tau)).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from brian2 import mV, ms, nA, prefs

from biofit.models import get_model
from biofit.reference import Trace, simulate, simulate_spiking_input

DT = 1e-4
LIF = get_model("lif").defaults()


def test_lif_subthreshold_voltage_equals_closed_form_per_neuron():
    taus = np.array([5e-3, 20e-3, 60e-3])
    current = 0.15e-9  # below rheobase (0.2 nA)
    trace = simulate("lif", {"tau_mem": taus}, np.full(2000, current), DT)
    assert trace.target == "cython"
    t = np.arange(2000) * DT
    expected = LIF["v_rest"] + LIF["R"] * current * (1 - np.exp(-t[:, None] / taus))
    np.testing.assert_allclose(trace.v, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.t, t, rtol=0, atol=1e-15)
    assert all(s.size == 0 for s in trace.spike_times)


def test_initial_state_override_follows_closed_form_relaxation():
    v0 = np.array([-0.06, -0.08])
    trace = simulate("lif", None, np.zeros(500), DT, initial={"v": v0})
    t = np.arange(500)[:, None] * DT
    expected = LIF["v_rest"] + (v0 - LIF["v_rest"]) * np.exp(-t / LIF["tau_mem"])
    np.testing.assert_allclose(trace.v, expected, rtol=0, atol=1e-12)


def test_numpy_target_reproduces_cython_target():
    current = np.random.default_rng(1).normal(0.3e-9, 0.1e-9, (400, 2))
    compiled = simulate("alif", None, current, DT)
    interpreted = simulate("alif", None, current, DT, target="numpy")
    assert (compiled.target, interpreted.target) == ("cython", "numpy")
    np.testing.assert_allclose(interpreted.v, compiled.v, rtol=0, atol=1e-12)
    np.testing.assert_allclose(interpreted["a"], compiled["a"], rtol=0, atol=1e-12)
    for a, b in zip(compiled.spike_times, interpreted.spike_times):
        np.testing.assert_array_equal(a, b)
    assert sum(s.size for s in compiled.spike_times) > 0


def test_lif_first_spike_step_equals_closed_form_threshold_crossing():
    current = 0.35e-9
    trace = simulate("lif", None, np.full(300, current), DT)
    t_grid = np.arange(1, 301) * DT
    v_grid = LIF["v_rest"] + LIF["R"] * current * (1 - np.exp(-t_grid / LIF["tau_mem"]))
    # The spike is stamped at the start of the step whose update ends above threshold.
    first_step = int(np.argmax(v_grid > LIF["v_th"]))
    assert trace.spike_times[0][0] == pytest.approx(first_step * DT, abs=1e-12)
    assert trace.v[first_step + 1, 0] == pytest.approx(LIF["v_reset"], abs=1e-15)


def test_consecutive_calls_with_different_models_do_not_interfere():
    current = np.full(3000, 0.4e-9)
    first = simulate("lif", None, current, DT)
    other = simulate("alif", {"beta": 5e-3}, current, DT)
    again = simulate("lif", None, current, DT)
    np.testing.assert_array_equal(first.v, again.v)
    np.testing.assert_array_equal(first.spike_times[0], again.spike_times[0])
    assert set(other.states) == {"a"} and not first.states
    # Threshold adaptation slows ALIF down relative to LIF on the same current.
    assert other.spike_times[0].size < first.spike_times[0].size
    assert prefs.codegen.target == "auto"  # restored after each call


def test_new_current_length_and_population_size_reuse_the_compiled_code():
    from brian2.codegen.runtime.cython_rt.extension_manager import cython_extension_manager

    simulate("lif", None, np.full(100, 0.3e-9), DT)
    modules = len(cython_extension_manager._code_cache)
    simulate("lif", {"v_th": np.full(3, -0.055)}, np.full((257, 3), 0.3e-9), DT)
    assert len(cython_extension_manager._code_cache) == modules


def test_brian2_quantities_give_the_same_result_as_si_floats():
    floats = simulate("lif", {"tau_mem": 0.01, "v_th": -0.055}, np.full(1000, 0.3e-9), DT)
    quantities = simulate(
        "lif", {"tau_mem": 10 * ms, "v_th": -55 * mV}, np.full(1000, 0.3) * nA, 0.1 * ms
    )
    np.testing.assert_array_equal(floats.v, quantities.v)


def test_one_dimensional_current_is_broadcast_to_the_population():
    trace = simulate("lif", {"v_th": np.array([-0.05, -0.06])}, np.full(1000, 0.3e-9), DT)
    assert trace.v.shape == (1000, 2)
    assert trace.spike_times[1].size > trace.spike_times[0].size


def test_spiking_input_psp_equals_exponential_synapse_closed_form():
    tau_s, w, t_spike = 3e-3, 0.5e-9, 5e-3
    trace = simulate_spiking_input("lif", None, [np.array([t_spike])], np.array([[w]]), DT, 0.05,
                                   tau_syn=tau_s, record=("v", "I_in"))
    # The synapse acts after the state update of the spike's step: the jump is in the state at t0.
    t0 = t_spike + DT
    s = np.maximum(trace.t - t0, 0.0)
    tau = LIF["tau_mem"]
    psp = LIF["R"] * w * tau_s / (tau_s - tau) * (np.exp(-s / tau_s) - np.exp(-s / tau))
    np.testing.assert_allclose(trace.v[:, 0], LIF["v_rest"] + psp, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace["I_in"][:, 0], np.where(trace.t >= t0 - 1e-12, w * np.exp(-s / tau_s), 0.0),
                               rtol=1e-9, atol=1e-21)


def test_spiking_input_raster_equals_spike_times():
    rng = np.random.default_rng(0)
    raster = rng.random((3, 500)) < 0.02
    weights = rng.uniform(0.5e-9, 2e-9, (3, 2))
    times = [np.flatnonzero(row) * DT for row in raster]
    a = simulate_spiking_input("lif", None, raster, weights, DT, 0.05)
    b = simulate_spiking_input("lif", None, times, weights, DT, 0.05)
    np.testing.assert_array_equal(a.v, b.v)
    assert a.v.shape == (500, 2)


def test_spike_raster_bins_the_spike_times():
    trace = Trace(t=np.arange(10) * DT, v=np.zeros((10, 2)), states={},
                  spike_times=(np.array([3 * DT]), np.array([0.0, 9 * DT])), dt=DT, model="lif", target="cython")
    expected = np.zeros((2, 10), dtype=bool)
    expected[0, 3] = expected[1, 0] = expected[1, 9] = True
    np.testing.assert_array_equal(trace.spike_raster(), expected)
    np.testing.assert_array_equal(trace.spike_raster(5 * DT), [[True, False], [True, True]])
    np.testing.assert_array_equal(trace.spike_indices, [1, 0, 1])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: simulate("lif", None, np.array([0.0, np.nan, np.nan]), DT), "current has 2 NaN values .first at index .1"),
        (lambda: simulate("lif", None, np.array([0.0, np.inf]), DT), "current has 1 NaN/inf"),
        (lambda: simulate("lif", None, np.zeros((3, 1, 1)), DT), "rank 3"),
        (lambda: simulate("lif", None, np.zeros(3), 0.0), "dt must be a finite positive"),
        (lambda: simulate("lif", None, np.zeros(3), -1e-4), "dt must be a finite positive"),
        (lambda: simulate("hodgkin", None, np.zeros(3), DT), "unknown model 'hodgkin'"),
        (lambda: simulate("lif", {"tau": 0.01}, np.zeros(3), DT), r"unknown parameter\(s\) \['tau'\]"),
        (lambda: simulate("lif", {"tau_mem": -0.01}, np.zeros(3), DT), "lif.tau_mem = -0.01 second is outside"),
        (lambda: simulate("lif", {"tau_mem": 10 * mV}, np.zeros(3), DT), "expected second"),
        (lambda: simulate("lif", None, np.zeros(3) * mV, DT), "current has dimension"),
        (lambda: simulate("lif", None, np.zeros(3), DT, duration=1.0), "needs 10000 current samples"),
        (lambda: simulate("lif", {"tau_mem": np.full(3, 0.01)}, np.zeros((5, 2)), DT), "inconsistent population"),
        (lambda: simulate("lif", None, np.zeros(3), DT, record=("w",)), r"cannot record \['w'\]"),
        (lambda: simulate("lif", None, np.zeros(3), DT, target="cpp"), "target must be one of"),
        (lambda: simulate_spiking_input("lif", None, [np.array([0.2])], np.ones((1, 1)), DT, 0.1),
         r"input_spikes\[0\] has a spike at 0.2 s"),
        (lambda: simulate_spiking_input("lif", None, [np.array([0.01, 0.01])], np.ones((1, 1)), DT, 0.1),
         "two spikes in one time step"),
        (lambda: simulate_spiking_input("lif", None, [np.array([0.01])], np.ones((2, 1)), DT, 0.1),
         "weights must be float.n_afferents=1"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_failed_cython_compilation_warns_and_falls_back_to_numpy(tmp_path):
    """With a compiler that always fails (CC=/bin/false) and an empty Cython cache."""
    script = textwrap.dedent(
        f"""
        import warnings
        import numpy as np
        from brian2 import prefs
        prefs.codegen.runtime.cython.cache_dir = {str(tmp_path)!r}
        from biofit.reference import simulate
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trace = simulate("lif", None, np.full(30, 0.5e-9), 1e-4)
        messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        print(trace.target, len(trace.t), any("could not compile" in m and "CompileError" in m for m in messages))
        """
    )
    env = {**os.environ, "CC": "/bin/false", "CXX": "/bin/false"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["numpy", "30", "True"]
