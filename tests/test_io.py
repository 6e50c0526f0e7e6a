"""biofit.io: Recording/Sweep, round trips through NWB (read back by pynwb itself) and NPZ, text
layouts, spike detection against hand-placed spikes, features against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from biofit.io import (
    Recording,
    RecordingInfo,
    Sweep,
    detect_spikes,
    load_recording,
    sweep_features,
    write_npz,
    write_nwb,
)
from biofit.io.features import adaptation_index, find_step, isi_cv
from biofit.io.nwb import read_model_traces


def _recording(n_sweeps=3, n=2000, dt=1e-4):
    rng = np.random.default_rng(0)
    sweeps = [Sweep(5 + 2 * k, dt, rng.normal(0, 1e-11, n), -0.07 + rng.normal(0, 1e-3, n),
                    np.array([0.01, 0.05 + k * 0.01]), start_time=3.0 * k) for k in range(n_sweeps)]
    info = RecordingInfo(cell="c7", protocol="noise", source="memory", units={"voltage": "mV"},
                         current_kind="measured", spikes="given", extra={"temperature_C": 34})
    return Recording(sweeps, info)


def _assert_same(a: Recording, b: Recording):
    assert a.sweep_ids == b.sweep_ids
    assert a.info == b.info
    for x, y in zip(a.sweeps, b.sweeps):
        assert (x.dt, x.start_time) == (y.dt, y.start_time)
        for name in ("current", "voltage", "spike_times"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name))


def test_recording_is_immutable_selectable_and_readable():
    rec = _recording()
    assert len(rec) == 3 and rec.sweep_ids == [5, 7, 9]
    sub = rec.select([9, 5])
    assert sub.sweep_ids == [9, 5] and sub.info is rec.info
    with pytest.raises(ValueError):
        rec.sweeps[0].voltage[0] = 1.0
    with pytest.raises(AttributeError):
        rec.info = None
    assert repr(rec) == ("Recording(cell='c7', protocol='noise', 3 sweeps [5, 7, 9], 0.6 s, dt 0.1 ms, "
                         "current measured, 6 spikes)")
    assert rec.sweeps[1].t[-1] == pytest.approx(1999e-4)


def test_nwb_round_trip_is_exact_and_pynwb_reads_the_standard_layout(tmp_path):
    from pynwb import NWBHDF5IO

    rec = _recording()
    model = {"fit": [sw.voltage + 1e-3 for sw in rec.sweeps]}
    path = write_nwb(rec, tmp_path / "r.nwb", model_traces=model)
    _assert_same(rec, load_recording(path))
    with NWBHDF5IO(str(path), "r") as io:  # plain pynwb, no biofit: the standard icephys objects
        nwb = io.read()
        table = nwb.intracellular_recordings
        assert list(table.id[:]) == [5, 7, 9]
        resp = table["responses"]["response"][1].timeseries
        assert resp.unit == "volts" and resp.sweep_number == 7 and resp.rate == pytest.approx(1e4)
        np.testing.assert_array_equal(resp.data[:], rec.sweeps[1].voltage)
        stim = table["stimuli"]["stimulus"][1].timeseries
        assert stim.unit == "amperes"
        np.testing.assert_array_equal(stim.data[:], rec.sweeps[1].current)
        np.testing.assert_array_equal(table["spike_times"][2], rec.sweeps[2].spike_times)
    traces = read_model_traces(path)
    np.testing.assert_array_equal(traces["fit"][9], model["fit"][2])


def test_nwb_file_passes_the_nwb_inspector_without_errors(tmp_path):
    from nwbinspector import Importance, inspect_nwbfile

    path = write_nwb(_recording(), tmp_path / "r.nwb")
    messages = list(inspect_nwbfile(nwbfile_path=str(path)))
    serious = [m for m in messages if m.importance in (Importance.CRITICAL, Importance.ERROR)]
    assert not serious, [m.message for m in serious]


def test_nwb_reader_pairs_series_by_sweep_number_without_a_table(tmp_path):
    import datetime

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    t0 = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    nwb = NWBFile(session_description="old layout", identifier="x", session_start_time=t0)
    electrode = nwb.create_icephys_electrode(name="e", description="d", device=nwb.create_device(name="amp"))
    v = np.full(1000, -70.0)
    v[300:305] = [-30.0, 10.0, 20.0, 0.0, -40.0]
    for number in (3, 1):  # stored out of order; series in mV and pA through unit/conversion
        nwb.add_acquisition(CurrentClampSeries(name=f"v{number}", data=v, unit="volts", conversion=1e-3,
                                               rate=2e4, electrode=electrode, gain=1.0, sweep_number=number))
        nwb.add_stimulus(CurrentClampStimulusSeries(name=f"i{number}", data=np.full(1000, 50.0 * number),
                                                    unit="amperes", conversion=1e-12, rate=2e4,
                                                    electrode=electrode, gain=1.0, sweep_number=number))
    with NWBHDF5IO(str(tmp_path / "old.nwb"), "w") as io:
        io.write(nwb)
    rec = load_recording(tmp_path / "old.nwb")
    assert rec.sweep_ids == [1, 3] and rec.info.current_kind == "command"
    assert rec.sweeps[1].current[0] == pytest.approx(150e-12)
    assert rec.sweeps[0].voltage[0] == pytest.approx(-0.070)
    assert rec.sweeps[0].dt == pytest.approx(5e-5)
    # the crossing of -20 mV between samples 300 (-30 mV) and 301 (+10 mV): 300.25 samples
    np.testing.assert_allclose(rec.sweeps[0].spike_times, [300.25 * 5e-5])


def test_npz_round_trip_is_exact(tmp_path):
    rec = _recording()
    _assert_same(rec, load_recording(write_npz(rec, tmp_path / "r.npz")))


def test_csv_with_header_units_and_whitespace_with_options(tmp_path):
    t = np.arange(400) * 0.2  # ms
    v = np.full(400, -65.0)
    v[100] = 30.0
    i = np.where((t >= 20) & (t < 60), 0.1, 0.0)  # nA
    csv = tmp_path / "a.csv"
    csv.write_text("t (ms),V (mV),I (nA)\n" + "\n".join(f"{a},{b},{c}" for a, b, c in zip(t, v, i)))
    rec = load_recording(csv)
    sw = rec.sweeps[0]
    assert sw.dt == pytest.approx(2e-4)
    assert sw.current.max() == pytest.approx(1e-10) and sw.voltage.min() == pytest.approx(-0.065)
    assert sw.spike_times.size == 1
    plain = tmp_path / "b.dat"
    plain.write_text("\n".join(f"{b} {c} {a}" for a, b, c in zip(t, v, i)))
    rec2 = load_recording(plain, columns=("voltage", "current", "time"),
                          units={"time": "ms", "voltage": "mV", "current": "nA"})
    np.testing.assert_allclose(rec2.sweeps[0].voltage, sw.voltage)


def test_folder_is_one_recording_with_sweeps_ordered_by_number(tmp_path):
    for number in (10, 2):
        rows = [f"{k * 0.00025}\t{number}\t-70" for k in range(50)]
        (tmp_path / f"traceascii_CELL_IDRest_{number}.asc").write_text('"s"\n"pA"\n"mV"\n' + "\n".join(rows))
    rec = load_recording(tmp_path)
    assert rec.sweep_ids == [2, 10]
    assert (rec.info.cell, rec.info.protocol) == ("CELL", "IDRest")
    assert rec.sweeps[1].current[0] == pytest.approx(10e-12)


def test_spike_detection_threshold_slope_and_refractory_window():
    dt = 1e-4
    v = np.full(1000, -0.070)
    v[100:103] = [-0.030, 0.020, -0.050]  # a spike: crossing at 100.2 samples
    v[105:107] = [-0.010, -0.060]  # from -70 mV at 104: crossing at 104 + 50/60 samples, 0.46 ms later
    v[500:800] = np.linspace(-0.025, -0.015, 300)  # slow drift through -20 mV: 0.33 V/s, rejected
    assert detect_spikes(v, dt).tolist() == pytest.approx([100.2e-4])
    assert detect_spikes(v, dt, refractory=2e-4).tolist() == pytest.approx([100.2e-4, (104 + 0.05 / 0.06) * 1e-4])
    assert detect_spikes(v, dt, min_dvdt=0.0).size == 2


def test_features_of_a_passive_rc_trace_equal_the_closed_form():
    dt, r_in, tau, v_rest, amp = 1e-4, 150e6, 0.025, -0.068, -80e-12
    t = np.arange(10000) * dt
    on, off = 0.2, 0.7
    current = np.where((t >= on) & (t < off), amp, 0.0)
    v = np.full(t.size, v_rest)
    during = (t >= on) & (t < off)
    v[during] = v_rest + r_in * amp * (1 - np.exp(-(t[during] - on) / tau))
    f = sweep_features(Sweep(0, dt, current, v))
    assert f["step_amplitude"] == pytest.approx(amp, rel=1e-12)
    assert f["resting_potential"] == pytest.approx(v_rest, rel=1e-12)
    assert f["input_resistance"] == pytest.approx(r_in * (1 - np.exp(-0.5 / tau)), rel=1e-6)
    assert f["membrane_time_constant"] == pytest.approx(tau, rel=1e-3)
    assert f["spike_count"] == 0 and np.isnan(f["first_spike_latency"])


def test_spike_train_features_worked_by_hand():
    # ISIs 0.1, 0.2, 0.4 s: mean 7/30, sd = sqrt(((1-7/3)^2 + (2-7/3)^2 + (4-7/3)^2)/2)/10
    times = [0.3, 0.4, 0.6, 1.0]
    sd = np.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2) / 10
    assert isi_cv(times) == pytest.approx(sd / (7 / 30), rel=1e-12)
    assert adaptation_index(times) == pytest.approx((1 / 3 + 2 / 6) / 2, rel=1e-12)
    sw = Sweep(0, 1e-3, np.where(np.arange(1200) >= 200, 1e-10, 0.0), np.full(1200, -0.07), times)
    f = sweep_features(sw)
    assert f["first_spike_latency"] == pytest.approx(0.1)
    assert f["rate"] == pytest.approx(4 / 1.0)
    assert find_step(sw.current, sw.dt)[0] == pytest.approx(0.2)
