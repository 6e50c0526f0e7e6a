"""biofit.fitting.noise: a cell's intrinsic noise read off spike-free repeats.

The reference cell is a passive LIF (Brian2) driven by repeated subthreshold steps plus its own
Ornstein-Uhlenbeck current, drawn here by the exact recursion written out in a loop, with white
measurement noise on the recorded voltage. For that membrane the voltage fluctuation has the
closed-form variance sigma_I^2 R^2 tau / (tau_m + tau) (the OU spectrum through the membrane's
low-pass), which both the data side and the model side of the estimate must reproduce.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from biofit.fitting import CMAES, SearchSpace
from biofit.fitting.data import FitData
from biofit.fitting.noise import intrinsic_noise, model_variance, repeat_variance, spike_free_repeats
from biofit.io import Recording, RecordingInfo, Sweep
from biofit.models import get_model
from biofit.reference import simulate

DT = 1e-4
LIF = {"tau_mem": 15e-3, "R": 1.5e8}
SD, TAU, MEASUREMENT = 10e-12, 5e-3, 0.5e-3  # A, s, V (the white noise adds 44 % to the variance)
CLOSED_FORM = SD ** 2 * LIF["R"] ** 2 * TAU / (LIF["tau_mem"] + TAU)  # V², (0.75 mV)²
COMMANDS = (-50e-12, 0.0, 30e-12)  # subthreshold: -7.5 to +4.5 mV around rest
REPEATS, STEPS = 4, 10_000  # 1 s sweeps


def _ou_by_loop(rng, n):
    x = np.empty(n)
    rho = math.exp(-DT / TAU)
    x[0] = SD * rng.standard_normal()
    for k in range(1, n):
        x[k] = rho * x[k - 1] + SD * math.sqrt(1 - rho * rho) * rng.standard_normal()
    return x


def _cell(intrinsic: bool) -> Recording:
    rng = np.random.default_rng(11)
    commands = [np.full(STEPS, a) for a in COMMANDS for _ in range(REPEATS)]
    drive = [c + (_ou_by_loop(rng, STEPS) if intrinsic else 0.0) for c in commands]
    trace = simulate("lif", LIF, np.stack(drive, axis=1), DT)
    assert all(t.size == 0 for t in trace.spike_times)
    sweeps = [Sweep(k, DT, commands[k], trace.v[:, k] + MEASUREMENT * rng.standard_normal(STEPS))
              for k in range(len(commands))]
    return Recording(sweeps, RecordingInfo(cell="noisy_lif"))


@pytest.fixture(scope="module")
def noisy():
    return FitData.from_recordings([_cell(True)], [None])


def test_the_repeats_are_paired_by_command_and_their_variance_is_the_closed_form(noisy):
    pairs = spike_free_repeats(noisy)
    assert len(pairs) == len(COMMANDS) * REPEATS * (REPEATS - 1) // 2
    assert all(i // REPEATS == j // REPEATS for i, j in pairs)  # same command only
    assert repeat_variance(noisy, pairs) == pytest.approx(CLOSED_FORM, rel=0.2)


def test_the_models_variance_across_draws_is_the_closed_form(noisy):
    variance = model_variance(get_model("lif"), LIF, noisy.subset([0, 4, 8]), SD, TAU, 8, seed=3)
    assert variance == pytest.approx(CLOSED_FORM, rel=0.1)


def test_the_sd_is_read_back_and_measurement_noise_alone_reads_as_almost_none(noisy):
    model = get_model("lif")
    assert intrinsic_noise(model, LIF, noisy, TAU) == pytest.approx(SD, rel=0.15)
    quiet = FitData.from_recordings([_cell(False)], [None])
    assert intrinsic_noise(model, LIF, quiet, TAU) < 0.15 * SD


def test_cmaes_auto_reads_the_noise_and_runs_noise_free_without_repeats(noisy):
    space = SearchSpace.build("lif", params=("tau_mem", "R"))
    start = space.to_unit(LIF)
    auto = CMAES(intrinsic_noise="auto", seed=0)
    sd, tau = auto.noise(space, noisy, start)
    assert tau == TAU and sd == pytest.approx(intrinsic_noise(get_model("lif"), space.full(LIF), noisy, TAU), rel=1e-9)
    single = noisy.subset([0, 4, 8])  # one sweep per command: no repeats
    assert spike_free_repeats(single) == [] and auto.noise(space, single, start) is None
    assert CMAES(intrinsic_noise=(5e-12, 2e-3)).noise(space, single, start) == (5e-12, 2e-3)


def test_bad_settings_and_data_without_repeats_are_named(noisy):
    model = get_model("lif")
    with pytest.raises(ValueError, match=r"two spike-free sweeps of one command .*noisy_lif:0"):
        intrinsic_noise(model, LIF, noisy.subset([0, 4, 8]))
    with pytest.raises(ValueError, match="realizations must be at least 2"):
        intrinsic_noise(model, LIF, noisy, realizations=1)
    with pytest.raises(ValueError, match=r"tau \(s\) must be a finite number > 0"):
        intrinsic_noise(model, LIF, noisy, tau=0.0)
    with pytest.raises(ValueError, match="spikes .* on the spike-free repeats"):
        intrinsic_noise(model, LIF | {"R": 3e9}, noisy)  # 30 pA through 3 GOhm: far above threshold
    with pytest.raises(ValueError, match=r"or 'auto', got 'on'"):
        CMAES(intrinsic_noise="on")
