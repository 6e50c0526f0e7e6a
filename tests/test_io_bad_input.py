"""Bad recordings: each case raises a clear error naming the problem, and nothing is left on disk."""

from __future__ import annotations

import numpy as np
import pytest

from biofit.io import Recording, RecordingInfo, Sweep, load_recording, write_npz, write_nwb
from biofit.io.units import si_factor


def _sweep(**kw):
    args = dict(id=4, dt=1e-4, current=np.zeros(100), voltage=np.full(100, -0.07), spike_times=[])
    args.update(kw)
    return Sweep(**args)


def _rec(n=2):
    return Recording([_sweep(id=k) for k in range(n)])


def _asc(path, rows, header='"s"\n"pA"\n"mV"\n'):
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def _good_rows(n=20):
    return [f"{k * 0.00025:.5f}\t10.0\t-70.0" for k in range(n)]


SWEEP_CASES = {
    "nan_voltage_names_sweep_and_time": (dict(voltage=np.r_[np.full(50, -0.07), np.nan, np.full(49, -0.07)]),
                                         r"sweep 4: voltage has 1 non-finite samples \(first: NaN at t=0.005 s"),
    "inf_current_names_sweep_and_time": (dict(current=np.r_[np.zeros(10), np.inf, np.zeros(89)]),
                                         r"sweep 4: current .* infinite at t=0.001 s"),
    "length_mismatch": (dict(current=np.zeros(99)), "current has 99 samples but voltage has 100"),
    "spike_after_the_end": (dict(spike_times=[0.005, 0.02]), r"spike time 0.02 s is outside the sweep \[0, 0.01\)"),
    "negative_spike_time": (dict(spike_times=[-0.001]), "outside the sweep"),
    "unsorted_spikes": (dict(spike_times=[0.005, 0.003]), "strictly increasing; 0.003 s follows 0.005 s"),
    "duplicate_spike": (dict(spike_times=[0.005, 0.005]), "strictly increasing"),
    "zero_dt": (dict(dt=0.0), "dt must be a finite positive"),
    "nan_dt": (dict(dt=np.nan), "dt must be a finite positive"),
    "no_samples": (dict(current=np.zeros(0), voltage=np.zeros(0)), "no samples"),
    "two_dimensional_voltage": (dict(voltage=np.zeros((10, 10))), "voltage must be 1-D"),
}


@pytest.mark.parametrize("case", sorted(SWEEP_CASES))
def test_sweep_rejects(case):
    kwargs, message = SWEEP_CASES[case]
    with pytest.raises(ValueError, match=message):
        _sweep(**kwargs)


def test_sweep_id_must_be_an_integer():
    with pytest.raises(TypeError, match="sweep id must be an integer"):
        _sweep(id="3")


def test_duplicate_sweep_ids_and_missing_sweep_id():
    with pytest.raises(ValueError, match="sweep id 1 appears twice"):
        Recording([_sweep(id=1), _sweep(id=1)])
    with pytest.raises(ValueError, match=r"no sweep with id 7; sweep ids: \[0, 1\]"):
        _rec().select([0, 7])
    with pytest.raises(ValueError, match="at least one sweep"):
        Recording([])
    with pytest.raises(ValueError, match="current_kind"):
        RecordingInfo(current_kind="guessed")


def test_unknown_and_inconsistent_units():
    with pytest.raises(ValueError, match="unknown voltage unit 'furlongs'"):
        si_factor("furlongs", "voltage")
    with pytest.raises(ValueError, match="voltage unit 'pA' is a unit of current"):
        si_factor("pA", "voltage")


def test_text_header_with_a_unit_of_the_wrong_quantity(tmp_path):
    path = _asc(tmp_path / "x.asc", _good_rows(), header='"s"\n"pA"\n"pA"\n')
    with pytest.raises(ValueError, match="voltage unit 'pA' is a unit of current"):
        load_recording(path)


def test_text_units_option_disagreeing_with_the_file(tmp_path):
    path = _asc(tmp_path / "x.asc", _good_rows())
    with pytest.raises(ValueError, match="the file says voltage is in 'mV' but units says 'V'"):
        load_recording(path, units={"voltage": "V"})


def test_csv_header_with_an_unknown_unit(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("t (s),V (furlongs),I (pA)\n0,1,2\n0.001,1,2\n")
    with pytest.raises(ValueError, match="unknown voltage unit 'furlongs'"):
        load_recording(path)


def test_text_without_units_that_is_not_efel_layout(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("\n".join(f"{k * 0.001} 0.0 -0.07" for k in range(20)))  # volts, not mV
    with pytest.raises(ValueError, match="does not read as mV"):
        load_recording(path)


def test_truncated_text_file(tmp_path):
    rows = _good_rows()
    rows[-1] = rows[-1].rsplit("\t", 1)[0]
    with pytest.raises(ValueError, match=r"line 23 has 2 fields, expected 3 .*truncated"):
        load_recording(_asc(tmp_path / "x.asc", rows))


def test_non_numeric_text_value(tmp_path):
    rows = _good_rows()
    rows[5] = "0.00125\t10.0\tabc"
    with pytest.raises(ValueError):
        load_recording(_asc(tmp_path / "x.asc", rows))


def test_nan_in_a_text_file_names_sweep_and_time(tmp_path):
    rows = _good_rows()
    rows[8] = "0.00200\t10.0\tnan"
    with pytest.raises(ValueError, match=r"sweep 0: voltage .*NaN at t=0.002 s"):
        load_recording(_asc(tmp_path / "x.asc", rows))


def test_non_uniform_time_column(tmp_path):
    rows = _good_rows()
    rows[10] = "0.00300\t10.0\t-70.0"
    with pytest.raises(ValueError, match="not uniformly sampled"):
        load_recording(_asc(tmp_path / "x.asc", rows))


def test_empty_files_of_every_format(tmp_path):
    for suffix in (".asc", ".abf", ".nwb", ".npz"):
        path = tmp_path / f"empty{suffix}"
        path.write_bytes(b"")
        with pytest.raises(ValueError, match="empty|not a readable"):
            load_recording(path)


def test_missing_file_unknown_format_and_unknown_option(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_recording(tmp_path / "nope.abf")
    with pytest.raises(ValueError, match="unknown format 'wav'"):
        load_recording(tmp_path, format="wav")
    path = _asc(tmp_path / "x.asc", _good_rows())
    with pytest.raises(ValueError, match="option not understood by the text loader"):
        load_recording(path, channel=2)
    with pytest.raises(ValueError, match="unknown spike detection settings"):
        load_recording(path, detection={"treshold": -0.02})


def test_folder_without_recordings_and_with_mixed_units(tmp_path):
    with pytest.raises(ValueError, match="folder has no"):
        load_recording(tmp_path)
    _asc(tmp_path / "a_1.asc", _good_rows())
    _asc(tmp_path / "a_2.asc", _good_rows(), header='"s"\n"nA"\n"mV"\n')
    with pytest.raises(ValueError, match="files use different units"):
        load_recording(tmp_path)


def test_corrupt_and_truncated_abf(tmp_path):
    import pyabf.abfWriter

    (tmp_path / "noise.abf").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match="not a readable ABF file"):
        load_recording(tmp_path / "noise.abf")
    pyabf.abfWriter.writeABF1(np.full((3, 20000), -70.0), str(tmp_path / "v.abf"), 10000, units="mV")
    head = (tmp_path / "v.abf").read_bytes()[:8000]
    (tmp_path / "cut.abf").write_bytes(head)
    with pytest.raises(ValueError, match="not a readable ABF file"):
        load_recording(tmp_path / "cut.abf")
    # an ABF 1 file with a voltage channel but neither a current channel nor a command waveform
    with pytest.raises(ValueError, match="no current"):
        load_recording(tmp_path / "v.abf")


def test_corrupt_and_truncated_nwb(tmp_path):
    (tmp_path / "noise.nwb").write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(ValueError, match="not a readable NWB"):
        load_recording(tmp_path / "noise.nwb")
    full = write_nwb(_rec(), tmp_path / "full.nwb").read_bytes()
    (tmp_path / "cut.nwb").write_bytes(full[: len(full) // 2])
    with pytest.raises(ValueError, match="NWB"):
        load_recording(tmp_path / "cut.nwb")


def test_nwb_response_without_a_matching_stimulus(tmp_path):
    import datetime

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.icephys import CurrentClampSeries

    t0 = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    nwb = NWBFile(session_description="s", identifier="x", session_start_time=t0)
    electrode = nwb.create_icephys_electrode(name="e", description="d", device=nwb.create_device(name="a"))
    nwb.add_acquisition(CurrentClampSeries(name="v", data=np.zeros(10), rate=1e4, electrode=electrode,
                                           gain=1.0, sweep_number=np.uint32(2)))
    with NWBHDF5IO(str(tmp_path / "x.nwb"), "w") as io:
        io.write(nwb)
    with pytest.raises(ValueError, match="no CurrentClampStimulusSeries with sweep_number 2"):
        load_recording(tmp_path / "x.nwb")


def test_npz_that_is_not_a_biofit_recording(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a biofit recording"):
        load_recording(tmp_path / "x.npz")


def test_failed_writes_leave_nothing_on_disk(tmp_path):
    rec = _rec()
    with pytest.raises(ValueError, match=r"model_traces\['m'\] has 1 traces for 2 sweeps"):
        write_nwb(rec, tmp_path / "a.nwb", model_traces={"m": [np.zeros(100)]})
    with pytest.raises(ValueError, match="not a multiple of the quantization step"):
        write_nwb(rec, tmp_path / "b.nwb", quantization={"voltage": 3e-5})
    with pytest.raises(TypeError, match="must be a Recording"):
        write_npz("not a recording", tmp_path / "c.npz")
    assert list(tmp_path.iterdir()) == []
