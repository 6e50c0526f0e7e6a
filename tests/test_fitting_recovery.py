"""Recovery of the shipped synthetic cells (known truth; slow): issue 12's evidence.

Each cell is fitted on the demo's sweeps (`make demo`: repeats 0-1 of every step amplitude and
of the OU command) and scored on repeats 2-3; CMA-ES alone on AdEx on repeats 0-2, scored on
repeat 3 (below). Three targets:

* every fitted parameter within 10 % of the value the file was simulated with;
* the held-out Γ (Δ 4 ms) on the fluctuating-current (OU) sweeps at least 0.9, the issue's number.
  Spike timing is reproducible there (Mainen & Sejnowski 1995): the true, noise-free cell scores
  1.00 (ALIF) and 0.98 (AdEx) on them against the noisy recordings;
* on the held-out steps, the f–I curve: each sweep's spike count within 10 % (or one spike) of the
  data's. Γ is not the measure there: under a 1 s step the files' intrinsic noise (an OU current of
  5 pA sd, not in the recorded command) makes the spike times drift, so the true cell itself
  scores Γ 0.2-0.5 on the ALIF step nearest rheobase (0.83 for ALIF, 0.85 for AdEx over all test
  sweeps; printed beside the fit's, the true parameters simulated by Brian2 on the same sweeps).

Seeds: the test fixes seed 0. Measured over seeds 0-2 (closing notes of issue 12): gradient and
hybrid pass for both cells (AdEx gradient: worst parameter 9.0, 7.3, 6.4 %). AdEx CMA-ES, which
the test runs with its AdEx defaults (`biofit.fitting.fit.CMAES_SETTINGS`, `DEFAULT_LOSS`):
with population 16 and the default loss it missed Delta_T at seeds 1 and 2 (-56, -63 %; the
free-running loss barely sees the spike initiation, a fit with Delta_T -59.5 % scored below the
truth's train loss); with `upswing_loss` and population 32 Delta_T holds within 1.4 % but ``a``
missed at seeds 1 and 2 (-18, -23 %): a noise-free model fitted to the noisy cell fires, without
noise, the spikes its noise fires. Simulated with the noise read off the spike-free repeats
(``intrinsic_noise="auto"``: 5.0-5.2 pA at tau 5 ms; the files have 5 pA), after the noise-free
search, ``a`` ends at -1.9 and -13.2 % at seeds 1 and 2 and every other parameter within 5 %:
seed 2 is still a miss on ``a``, and 16 draws do not change it (-2.5, -13.5 %). It is this
split's own noise: on the recording the seed-2 point scores a lower train loss than the truth,
on pseudo-data of the true cell a higher one (`biofit.fitting.cmaes.CMAES`), so ``a`` is
determined here to about 10-15 %, and seed 0's pass stops short of the recording's optimum.
Trained on three repeats (`SPLITS`), seeds 1 and 2 end with every parameter within 4.1 and 5.0 %,
so the test gives CMA-ES alone on AdEx that split.

The default run fits noise-free LIF cells on two parameters (`tests/test_fitting.py`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from biofit.fitting import fit
from biofit.fitting.data import FitData
from biofit.fitting.score import score
from biofit.io import load_recording
from biofit.models import get_model

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data"
TRAIN = [0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 100, 101]  # two of the four repeats of each command
TEST = [2, 3, 12, 13, 22, 23, 32, 33, 42, 43, 102, 103]
# CMA-ES alone on AdEx trains on three repeats, tests on the fourth: on two, this recording's own
# noise leaves ``a`` determined to 10-15 % only (module docstring). Measured on three (closing note
# of issue 12): seeds 1 and 2 end with every parameter within 4.1 and 5.0 % (``a`` -4.1, +5.0 %).
SPLITS = {("adex", "cmaes"): ([0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42, 100, 101, 102],
                              [3, 13, 23, 33, 43, 103])}
OU = (100, 101, 102, 103)  # the repeats of the fluctuating current; the others are steps


@pytest.fixture(scope="module", params=["alif", "adex"])
def cell(request):
    """(model name, recording, true parameters)."""
    rec = load_recording(DATA / f"synthetic_{request.param}.nwb")
    spec = get_model(request.param)
    truth = {p.name: p.default for p in spec.parameters} | dict(rec.info.extra["true_parameters"])
    return request.param, rec, truth


@pytest.mark.parametrize("method", ["gradient", "cmaes", "hybrid"])
def test_synthetic_cell_recovered_within_10_percent_and_predicts_the_held_out_sweeps(cell, method):
    name, rec, truth = cell
    train, test = SPLITS.get((name, method), (TRAIN, TEST))
    reference = score(get_model(name), truth, FitData.from_recordings([rec], [test], None))["mean"]["gamma"]
    result = fit(rec, name, method=method, train_sweeps=train, test_sweeps=test, seed=0, progress=False)
    errors = {k: round(100 * (result.parameters[k] - truth[k]) / abs(truth[k]), 1) for k in result.fitted}
    gamma = result.test["mean"]["gamma"]
    sweeps = result.test["sweeps"]
    gamma_ou = [sweeps[f"synthetic_{name}:{k}"]["gamma"] for k in OU if k in test]
    counts = {k: (s["n_spikes_data"], s["n_spikes_model"]) for k, s in sweeps.items() if int(k.split(":")[1]) < 100}
    print(f"\n{name} {method}: {result.wall_time_s:.0f} s, test Γ {gamma:.3f} (truth {reference:.3f}), "
          f"OU Γ {gamma_ou}, step counts (data, model) {counts}, errors % {errors}")
    assert min(gamma_ou) >= 0.9, gamma_ou
    assert all(abs(m - d) <= max(1, 0.1 * d) for d, m in counts.values()), counts
    assert max(abs(e) for e in errors.values()) <= 10.0, errors
