"""biofit.models: definitions are well-formed Brian2 models and `validate` guards the boundary."""

from __future__ import annotations

import brian2
import numpy as np
import pytest

from biofit.models import MODELS, get_model
from biofit.models.base import Parameter

BRIAN2_FUNCTIONS = {"exp", "t", "dt", "xi"}


def _brian2_group(model, n=1):
    eqs = (
        model.equations
        + "\n"
        + "\n".join(f"{p.name} : {p.unit} (constant)" for p in model.parameters)
        + "".join(f"\n{name} : {unit}" for name, unit in model.input_units.items())
    )
    return brian2.NeuronGroup(
        n, eqs, threshold=model.threshold, reset=model.reset, refractory=model.refractory,
        method=model.method, dt=0.1 * brian2.ms, codeobj_class=brian2.NumpyCodeObject,
    )


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_equations_use_only_declared_names(name):
    model = get_model(name)
    eqs = brian2.Equations(model.equations)
    used = set(eqs.identifiers) | set(eqs.names)
    declared = set(model.parameter_names) | set(model.state) | set(model.input_units) | BRIAN2_FUNCTIONS
    assert used <= declared, f"{name}: undeclared names {used - declared}"
    assert set(eqs.diff_eq_names) == set(model.state)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_runs_in_brian2_with_its_defaults_and_units(name):
    """Brian2 checks the units of equations, threshold and reset when the network runs."""
    model = get_model(name)
    group = _brian2_group(model, n=2)
    for pname, value in model.defaults().items():
        group.variables[pname].set_value(value)
    for var, expr in model.initial.items():
        setattr(group, var, expr)
    brian2.Network(group).run(1 * brian2.ms)  # held inputs are 0: no input
    for var in model.state:
        assert np.all(np.isfinite(np.asarray(getattr(group, var)))), var
    if "v" not in model.state:
        return
    v = np.asarray(group.v)
    rest = model.defaults().get("v_rest", model.defaults().get("E_L"))
    # no input: stays at rest (AdEx drifts by nV: its exponential current is not 0 at E_L)
    np.testing.assert_allclose(v, rest, rtol=0, atol=1e-6)


def test_get_model_unknown_name_lists_known_models():
    with pytest.raises(ValueError, match="known models: lif, lif_syn, alif, adex, qif"):
        get_model("hodgkin_huxley")


def test_validate_fills_defaults_and_keeps_arrays():
    out = get_model("lif").validate({"v_th": [-0.05, -0.045]})
    assert out["tau_mem"] == 20e-3
    np.testing.assert_array_equal(out["v_th"], [-0.05, -0.045])


def test_validate_unknown_parameter_lists_known_names():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['tau'\].*known: tau_mem, R"):
        get_model("lif").validate({"tau": 0.01})


def test_validate_out_of_bounds_names_parameter_value_and_index():
    with pytest.raises(ValueError, match=r"alif.tau_adapt = -1.0 second is outside its bounds"):
        get_model("alif").validate({"tau_adapt": -1.0})
    with pytest.raises(ValueError, match=r"lif.v_th = 0.5 volt .* \(first at index 2\)"):
        get_model("lif").validate({"v_th": [-0.05, -0.05, 0.5]})


def test_validate_rejects_nan_and_2d():
    with pytest.raises(ValueError, match="lif.R has 1 NaN"):
        get_model("lif").validate({"R": float("nan")})
    with pytest.raises(ValueError, match="scalar or a 1-D array"):
        get_model("lif").validate({"R": np.ones((2, 2)) * 1e8})


def test_validate_checks_brian2_quantity_dimensions():
    assert get_model("lif").validate({"tau_mem": 10 * brian2.ms})["tau_mem"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="expected second"):
        get_model("lif").validate({"tau_mem": 10 * brian2.mV})


def test_parameter_rejects_default_outside_bounds():
    with pytest.raises(ValueError, match="outside bounds"):
        Parameter("x", 2.0, (0.0, 1.0), "1", True, "")
    with pytest.raises(ValueError, match="unit"):
        Parameter("x", 0.5, (0.0, 1.0), "millivolt", True, "")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_refractory_period_is_a_fixed_parameter(name):
    """Refractoriness acts as a whole number of steps, so it cannot be learned by gradient."""
    model = get_model(name)
    if model.refractory in model.parameter_names:
        assert not model.parameter(model.refractory).learnable
    else:
        assert float(brian2.Quantity(eval(model.refractory, vars(brian2)))) == 0.0


# Naud, Marcille, Clopath & Gerstner (2008) Biol Cybern 99:335, Table 1: the eight firing patterns
# (C pF, g_L nS, E_L mV, V_T mV, Delta_T mV, a nS, tau_w ms, b pA, V_reset mV).
NAUD_2008 = {
    "tonic": (200, 10, -70, -50, 2, 2, 30, 0, -58),
    "adapting": (200, 12, -70, -50, 2, 2, 300, 60, -58),
    "initial_burst": (130, 18, -58, -50, 2, 4, 150, 120, -50),
    "regular_bursting": (200, 10, -58, -50, 2, 2, 120, 100, -46),
    "delayed_accelerating": (200, 12, -70, -50, 2, -10, 300, 0, -58),
    "delayed_regular_bursting": (100, 10, -65, -50, 2, -10, 90, 30, -47),
    "transient": (100, 10, -65, -50, 2, 10, 90, 100, -47),
    "irregular": (100, 12, -60, -50, 2, -11, 130, 30, -48),
}


def _naud_parameters(row):
    c, g_l, e_l, v_t, delta_t, a, tau_w, b, v_reset = row
    return {"C": c * 1e-12, "g_L": g_l * 1e-9, "E_L": e_l * 1e-3, "V_T": v_t * 1e-3,
            "Delta_T": delta_t * 1e-3, "a": a * 1e-9, "tau_w": tau_w * 1e-3, "b": b * 1e-12,
            "V_reset": v_reset * 1e-3}


@pytest.mark.parametrize("pattern", sorted(NAUD_2008))
def test_published_adex_firing_patterns_are_valid_parameters(pattern):
    params = _naud_parameters(NAUD_2008[pattern])
    checked = get_model("adex").validate(params)
    assert all(checked[k] == pytest.approx(v) for k, v in params.items())


@pytest.mark.parametrize("delta_t", [1e-5, 5e-5])
def test_adex_fits_that_degenerate_to_lif_are_valid_and_simulate(delta_t):
    """Delta_T well below 0.1 mV (an AdEx fitted to a LIF-like cell): valid, and the layer stays finite."""
    import torch

    from biofit.neurons import build_layer

    get_model("adex").validate({"Delta_T": delta_t})
    layer = build_layer("adex", 2, 1e-4, Delta_T=delta_t, learn=("Delta_T",))
    spikes, traces = layer.simulate(torch.full((2000, 1, 2), 1e-9))
    assert spikes.sum() > 0 and torch.isfinite(traces["v"]).all()
    spikes.sum().backward()
    assert torch.isfinite(layer.params.raw_Delta_T.grad).all()


@pytest.mark.parametrize("unit, dim", [("siemens/volt", "S/V"), ("1/second", "1/s"), ("amp/volt**2", "A/V^2")])
def test_parameter_units_are_brian2_unit_expressions(unit, dim):
    p = Parameter("x", 1.0, (0.0, 2.0), unit, True, "")
    expected = {"S/V": brian2.siemens / brian2.volt, "1/s": 1 / brian2.second,
                "A/V^2": brian2.amp / brian2.volt**2}[dim]
    assert p.dimension is brian2.get_dimensions(expected)
    with pytest.raises(ValueError, match="expected"):
        from biofit.models.base import ParameterSet

        ParameterSet("m", (p,)).validate({"x": 1.0 * brian2.volt})
