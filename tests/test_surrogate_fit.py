"""biofit.fitting.surrogate: the free-running surrogate-gradient fit of 2311.11390.

References: a brute-force Gaussian convolution written here; a noise-free ALIF cell simulated by
Brian2 (its spikes are what a fit at the true parameters must reproduce, so the spike term is
zero there); BlockALIF against the generated ALIF step (same objective, same gradient).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biofit.fitting import GammaLoss, Gradient, SearchSpace, Surrogate, VoltageLoss, WeightedLoss, fit
from biofit.fitting.data import FitData
from biofit.fitting.surrogate import gaussian_smooth
from biofit.io import Recording, RecordingInfo, Sweep
from biofit.neurons import BlockALIF
from biofit.reference import simulate

DT = 1e-4
TRUE_ALIF = {"tau_mem": 20e-3, "R": 1e8, "v_rest": -0.07, "v_reset": -0.065, "v_th": -0.05, "t_ref": 2e-3,
             "tau_adapt": 0.2, "beta": 3e-3}
SPIKES_ONLY = WeightedLoss(((GammaLoss(), 1.0),))


@pytest.fixture(scope="module")
def alif_cell() -> Recording:
    """A noise-free ALIF cell (Brian2): two 0.4 s steps of 250 and 350 pA."""
    currents = []
    for amplitude in (250e-12, 350e-12):
        c = np.zeros(4000)
        c[500:3500] = amplitude
        currents.append(c)
    trace = simulate("alif", TRUE_ALIF, np.stack(currents, axis=1), DT)
    sweeps = [Sweep(k, DT, currents[k], trace.v[:, k], trace.spike_times[k]) for k in range(2)]
    return Recording(sweeps, RecordingInfo(cell="alif_cell", extra={"true_parameters": TRUE_ALIF}))


def _space():
    fixed = {k: v for k, v in TRUE_ALIF.items() if k not in ("v_th", "R")}
    return SearchSpace.build("alif", params=("v_th", "R"), fixed=fixed)


def _values(space, values):
    return {k: torch.tensor(float(values[k]), dtype=torch.float64) for k in space.names}


def test_gaussian_smoothing_equals_a_brute_force_convolution():
    rng = np.random.default_rng(0)
    trains = (rng.random((700, 3)) < 0.02).astype(float)
    dt, sigma = 1e-3, 0.01
    lags = np.arange(-700, 701) * dt
    kernel = np.exp(-0.5 * (lags / sigma) ** 2)
    kernel /= kernel.sum()
    expected = np.stack([np.convolve(trains[:, b], kernel)[700:1400] for b in range(3)], axis=1)
    got = gaussian_smooth(torch.tensor(trains), dt, sigma).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_the_spike_term_is_zero_at_the_brian2_cells_parameters_and_grows_away(alif_cell):
    space = _space()
    data = FitData.from_recordings([alif_cell], [None])
    opt = Surrogate(block=False)
    layer = opt.layer(space, DT)
    weights = (0.0, 1.0, None)
    targets = opt._targets(data, VoltageLoss())
    at_truth = float(opt.objective(layer, _values(space, TRUE_ALIF), targets, weights))
    assert sum(len(s.spike_times) for s in alif_cell.sweeps) > 10
    assert at_truth < 1e-12
    shifted = dict(TRUE_ALIF, v_th=-0.047)
    assert float(opt.objective(layer, _values(space, shifted), targets, weights)) > 0.05


def test_block_alif_and_the_generated_step_give_the_same_objective_and_gradient(alif_cell):
    space = _space()
    data = FitData.from_recordings([alif_cell], [None])
    weights = (0.2, 1.0, VoltageLoss())
    out = {}
    for block in (True, False):
        opt = Surrogate(block=block, voltage=True)
        layer = opt.layer(space, DT)
        assert isinstance(layer, BlockALIF) == block
        z = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
        value = opt.objective(layer, Gradient.values(space, z), opt._targets(data, weights[2]), weights)
        value.backward()
        out[block] = (float(value.detach()), z.grad.numpy().copy())
    assert out[True][0] == pytest.approx(out[False][0], rel=1e-10)
    np.testing.assert_allclose(out[True][1], out[False][1], rtol=1e-7)
    assert np.all(np.abs(out[True][1]) > 0)


def test_a_surrogate_fit_moves_v_th_toward_the_truth_and_block_equals_sequential(alif_cell):
    fixed = {k: v for k, v in TRUE_ALIF.items() if k != "v_th"}
    kw = dict(model="alif", params=("v_th",), fixed=fixed, method="surrogate",
              loss=SPIKES_ONLY, progress=False, train_sweeps=[0, 1])
    results = {}
    for block in (True, False):
        opt = Surrogate(iterations=12, lr=0.05, block=block, warm=None, validate_every=3)
        results[block] = fit(alif_cell, optimizer=opt, **kw)
        start = results[block].extra["start"]["v_th"]
        start_error = abs(start - TRUE_ALIF["v_th"])
    assert results[True].parameters == pytest.approx(results[False].parameters, rel=1e-7)
    assert abs(results[True].parameters["v_th"] - TRUE_ALIF["v_th"]) < start_error
    assert results[True].history[-1]["stage"] == "surrogate"


def test_the_coarse_to_fine_schedule_recovers_r_from_off_the_fine_objectives_well(alif_cell):
    fixed = {k: v for k, v in TRUE_ALIF.items() if k != "R"}
    space = SearchSpace.build("alif", params=("R",), fixed=fixed)
    data = FitData.from_recordings([alif_cell], [None])
    # from R 15 % off, the 10 ms objective alone stalls at +9.9 % (measured; its well is narrower)
    start = space.to_unit({"R": 1.15 * TRUE_ALIF["R"]})
    opt = Surrogate(iterations=40, block=True, warm=None, validate_every=5)
    u, _, history = opt.run(space, data, SPIKES_ONLY, start, progress=False)
    fitted = space.from_unit(u)["R"]
    assert abs(fitted / TRUE_ALIF["R"] - 1) < 0.01, fitted
    sigmas = [h["sigma"] for h in history]
    assert sigmas == sorted(sigmas, reverse=True) and set(sigmas) == {0.1, 0.03, 0.01}


def test_block_true_on_a_model_without_blocks_names_the_problem():
    space = SearchSpace.build("lif")
    with pytest.raises(ValueError, match="block=True needs model 'alif'.*'lif'"):
        Surrogate(block=True).layer(space, DT)
    with pytest.raises(ValueError, match="block must be None, True or False, got 'yes'"):
        Surrogate(block="yes")
    with pytest.raises(ValueError, match=r"anneal\[1\] must be a finite number > 0, got 0.0"):
        Surrogate(anneal=(0.1, 0.0))
    with pytest.raises(TypeError, match="anneal must be a tuple of smoothing widths"):
        Surrogate(anneal=0.1)
