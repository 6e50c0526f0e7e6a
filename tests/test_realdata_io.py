"""Every shared recording loads as a validated Recording, survives NWB, and `biofit inspect` works on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from biofit.cli import main
from biofit.io import load_recording, write_nwb


def _shared(root: Path) -> list[Path]:
    folders = sorted((root / "qsnmc2007_challengeB").glob("*/train/train*"))
    return [root / "abf" / "171116sh_0018.abf", root / "efel" / "current.txt", *folders]


@pytest.mark.realdata
def test_abf_reads_as_pyabf_says(shared_data):
    import pyabf

    path = shared_data / "abf" / "171116sh_0018.abf"
    rec = load_recording(path)
    abf = pyabf.ABF(str(path))
    assert len(rec) == abf.sweepCount == 17 and rec.info.current_kind == "command"
    abf.setSweep(12)
    sw = rec.sweep(12)
    np.testing.assert_array_equal(sw.voltage, abf.sweepY.astype(float) * 1e-3)
    np.testing.assert_array_equal(sw.current, abf.sweepC.astype(float) * 1e-12)
    assert sw.dt == 1 / 20000 and sw.start_time == 36.0


@pytest.mark.realdata
def test_abf_to_nwb_to_recording_is_lossless(shared_data, tmp_path):
    rec = load_recording(shared_data / "abf" / "171116sh_0018.abf")
    back = load_recording(write_nwb(rec, tmp_path / "abf.nwb"))
    assert back.info == rec.info and back.sweep_ids == rec.sweep_ids
    for a, b in zip(rec.sweeps, back.sweeps):
        assert (a.dt, a.start_time) == (b.dt, b.start_time)
        for name in ("current", "voltage", "spike_times"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.realdata
def test_qsnmc_and_efel_text_files_read_with_their_units(shared_data):
    rec = load_recording(shared_data / "qsnmc2007_challengeB" / "C010302A1" / "train" / "train3")
    assert rec.info.cell == "C010302A1" and rec.info.protocol == "IDRest"
    assert rec.sweep_ids == list(range(76, 86)) and rec.info.current_kind == "measured"
    first = (shared_data / "qsnmc2007_challengeB" / "C010302A1" / "train" / "train3"
             / "traceascii_C010302A1_IDRest_76.asc").read_text().splitlines()[3].split()
    sw = rec.sweep(76)
    assert sw.current[0] == pytest.approx(float(first[1]) * 1e-12) and sw.voltage[0] == pytest.approx(float(first[2]) * 1e-3)
    assert sw.dt == pytest.approx(2.5e-4)
    efel_rec = load_recording(shared_data / "efel" / "current.txt")
    assert efel_rec.sweeps[0].spike_times.size == 26  # as ../shared/ARCHITECTURE.md describes it


@pytest.mark.realdata
def test_inspect_works_on_every_shared_recording(shared_data, tmp_path, capsys):
    for k, path in enumerate(_shared(shared_data)):
        out = tmp_path / f"fig{k}.png"
        assert main(["inspect", str(path), "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "Recording(" in printed and "f-I curve" in printed
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inspect_and_data_help_explain_themselves():
    biofit = Path(sys.executable).with_name("biofit")
    for args in (["inspect", "--help"], ["data", "--help"]):
        done = subprocess.run([str(biofit), *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0
        assert ("f-I curve" in done.stdout) if args[0] == "inspect" else ("Ornstein-Uhlenbeck" in done.stdout)
