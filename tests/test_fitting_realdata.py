"""Fits of the public recordings in ../shared/data (slow; `realdata`): the numbers of issue 12.

* the pyABF step recording: AdEx fitted by CMA-ES with the step-protocol loss (``"counts"``) on
  the even sweeps (at 0.1 ms, the 20 kHz data resampled), the odd sweeps' spike counts predicted
  within 15 % (in total and per sweep);
* QSNMC 2007 Challenge B, both Blue Brain cells: AdEx, ALIF and LIF fitted the same way (CMA-ES
  of 32 x 120 generations) on the even `IDRest` sweeps and the `APWaveform` protocol (its
  100 kHz samples averaged onto the 0.25 ms step of the `IDRest` sweeps), scored on the odd
  `IDRest` sweeps: Γ, spike-count error and subthreshold RMSE printed; the count error of AdEx
  and ALIF bounded (15 % of the data's mean count), the LIF's no better than the ALIF's. Γ is
  not bounded: these are 2 s DC steps without repeats, where a cell's own spike timing after the
  first spikes is not reproducible (Mainen & Sejnowski 1995), so Γ_int is unknown;
* the eFEL trace: AdEx fitted with the default loss, Γ reported.

Run with ``pytest -m "slow and realdata" tests/test_fitting_realdata.py -s`` to see the tables.
"""

from __future__ import annotations

import numpy as np
import pytest

from biofit.fitting import CMAES, fit
from biofit.fitting.report import format_fit
from biofit.io import load_recording

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def test_abf_steps_even_sweeps_predict_the_odd_spike_counts(shared_data, tmp_path):
    rec = load_recording(shared_data / "abf" / "171116sh_0018.abf")
    ids = rec.sweep_ids
    result = fit(rec, "adex", method="cmaes", loss="counts", train_sweeps=ids[0::2], test_sweeps=ids[1::2],
                 dt=1e-4, seed=0, progress=False, out_dir=tmp_path)
    print("\n" + format_fit(result))
    rows = result.test["sweeps"]
    model = sum(r["n_spikes_model"] for r in rows.values())
    data = sum(r["n_spikes_data"] for r in rows.values())
    print({k: (r["n_spikes_data"], r["n_spikes_model"]) for k, r in rows.items()})
    assert data > 0 and abs(model - data) <= 0.15 * data
    for label, r in rows.items():
        assert abs(r["n_spikes_model"] - r["n_spikes_data"]) <= max(0.15 * r["n_spikes_data"], 1), label


@pytest.mark.parametrize("cell", ["C010302A1", "C140201C"])
def test_qsnmc_challenge_b_held_out_idrest(shared_data, cell):
    folder = shared_data / "qsnmc2007_challengeB" / cell / "train"
    idrest = load_recording(folder / "train3")
    waveform = load_recording(folder / "train2")
    ids = idrest.sweep_ids
    errors = {}
    for model in ("adex", "alif", "lif"):
        result = fit([idrest, waveform], model, method="cmaes", loss="counts",
                     optimizer=CMAES(population=32, generations=120, seed=0),
                     train_sweeps=[ids[0::2], waveform.sweep_ids], test_sweeps=[ids[1::2], []], dt=2.5e-4,
                     seed=0, progress=False)
        print("\n" + format_fit(result))
        rows = list(result.test["sweeps"].values())
        mean = result.test["mean"]
        print(cell, model, "held-out counts (data, model):", [(r["n_spikes_data"], r["n_spikes_model"]) for r in rows])
        assert np.isfinite(mean["gamma"]) and np.isfinite(mean["subthreshold_rmse_mV"])
        errors[model] = mean["abs_spike_count_error"] / np.mean([r["n_spikes_data"] for r in rows])
    print(cell, "mean |count error| / mean count:", {k: round(v, 3) for k, v in errors.items()})
    # the adapting models predict the held-out f-I points within 15 %; the LIF, without adaptation,
    # is reported and must not beat the ALIF that contains it (beta = 0)
    assert errors["adex"] <= 0.15 and errors["alif"] <= 0.15, errors
    assert errors["alif"] <= errors["lif"], errors


def test_efel_trace_fitted(shared_data):
    rec = load_recording(shared_data / "efel" / "current.txt")
    result = fit(rec, "adex", seed=0, progress=False)
    print("\n" + format_fit(result))
    assert result.train["mean"]["gamma"] > 0.3
