"""The shipped synthetic recordings: `biofit data make` regenerates their contents exactly, and they
carry their ground truth (true parameters equal to the simulated ones) in the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from biofit.io import load_recording
from biofit.io.synthetic import CELLS, REPEATS, STEPS_PA

DATA = Path(__file__).resolve().parents[1] / "data"
BIOFIT = Path(sys.executable).with_name("biofit")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    done = subprocess.run([str(BIOFIT), "data", "make", "--out", str(out)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_data_make_regenerates_the_shipped_file_contents_exactly(regenerated, cell):
    # HDF5 bytes are not reproducible (object headers differ between runs): compare what is stored.
    shipped = load_recording(DATA / f"synthetic_{cell}.nwb")
    again = load_recording(regenerated / f"synthetic_{cell}.nwb")
    assert shipped.info == again.info
    assert shipped.sweep_ids == again.sweep_ids
    for a, b in zip(shipped.sweeps, again.sweeps):
        assert (a.dt, a.start_time) == (b.dt, b.start_time)
        for name in ("current", "voltage", "spike_times"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"sweep {a.id} {name}")


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_shipped_file_holds_its_ground_truth_and_protocols(cell):
    rec = load_recording(DATA / f"synthetic_{cell}.nwb")
    extra = rec.info.extra
    assert extra["model"] == CELLS[cell]["model"]
    assert extra["true_parameters"] == CELLS[cell]["params"]
    assert rec.info.current_kind == "command" and rec.info.spikes == "given"
    steps = [rec.sweep(i) for i in extra["protocols"]["steps"]["sweep_ids"]]
    assert len(steps) == len(STEPS_PA) * REPEATS and len(extra["protocols"]["ou"]["sweep_ids"]) == REPEATS
    for sw in steps:
        assert sw.dt == 1e-4 and sw.duration == pytest.approx(1.2)
        assert sw.current.min() * 1e12 in [pytest.approx(a) for a in (0.0, *STEPS_PA)]
    # repeats share the command but differ in spikes (intrinsic noise)
    ou = [rec.sweep(i) for i in extra["protocols"]["ou"]["sweep_ids"]]
    assert all(np.array_equal(ou[0].current, sw.current) for sw in ou)
    assert len({tuple(sw.spike_times) for sw in ou}) == REPEATS
    assert (DATA / f"synthetic_{cell}.nwb").stat().st_size < 3e6


def test_alif_passive_properties_match_its_true_parameters():
    from biofit.io import passive_properties

    rec = load_recording(DATA / "synthetic_alif.nwb")
    props = passive_properties(rec)
    true = CELLS["alif"]["params"]
    assert props["resting_potential"] == pytest.approx(true["v_rest"], abs=1e-3)
    # a 1 s step is 50 tau: the steady state gives R; noise (20 pA intrinsic) limits tau to ~20 %
    assert props["input_resistance"] == pytest.approx(true["R"], rel=0.05)
    assert props["membrane_time_constant"] == pytest.approx(true["tau_mem"], rel=0.25)
