"""Write a `Recording` as a standard NWB icephys file (pynwb), atomically.

Each sweep becomes a ``CurrentClampStimulusSeries`` (``/stimulus/presentation``, amperes) and a
``CurrentClampSeries`` (``/acquisition``, volts) with the sweep id as ``sweep_number``, joined by one
row of the ``IntracellularRecordingsTable`` (row id = sweep id) that also holds the sweep's spike
times (a ragged ``spike_times`` column, seconds from the sweep start; absent when no sweep has one). The `RecordingInfo` is kept
as JSON under the key ``"biofit"`` in the file's ``notes``, so `biofit.io.nwb.load_nwb` restores it
exactly; other readers see plain icephys data. Model traces (e.g. a fitted model's voltage) go to the
processing module ``model_traces`` as one ``TimeSeries`` per sweep.

Samples are stored as float64 SI values, so a round trip is exact. ``quantization`` stores a
quantity as int16 counts with NWB's ``conversion`` instead (as an amplifier's digitizer does), 4x
smaller; it is refused unless every sample is an exact multiple of the step within int16 range.

The file is written to a temporary name beside `path` and renamed: an error leaves no file behind.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from biofit.io.recording import Recording

FORMAT_KEY = "biofit"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def info_to_json(recording: Recording) -> str:
    """The recording's `RecordingInfo` as the JSON text stored in the file's ``notes``."""
    info = recording.info
    return json.dumps({FORMAT_KEY: {
        "cell": info.cell, "protocol": info.protocol, "source": info.source, "units": dict(info.units),
        "current_kind": info.current_kind, "spikes": info.spikes, "extra": dict(info.extra),
    }}, sort_keys=True)


def _content_id(recording: Recording) -> str:
    """A deterministic identifier: a UUID made from the samples and the metadata."""
    digest = hashlib.sha256(info_to_json(recording).encode())
    for sw in recording.sweeps:
        for arr in (sw.current, sw.voltage, sw.spike_times):
            digest.update(arr.tobytes())
        digest.update(np.array([sw.id, sw.dt, sw.start_time]).tobytes())
    return str(uuid.UUID(bytes=digest.digest()[:16]))


def _encode(values: np.ndarray, step: float | None, name: str, sweep_id: int):
    """(data, conversion): float64 SI values, or int16 counts of `step` when they are exact."""
    if step is None:
        return values, 1.0
    counts = np.round(values / step)
    if np.abs(counts).max(initial=0) > np.iinfo(np.int16).max:
        raise ValueError(f"sweep {sweep_id}: {name} exceeds the int16 range of quantization step {step:g}")
    if not np.array_equal(counts * step, values):
        raise ValueError(f"sweep {sweep_id}: {name} is not a multiple of the quantization step {step:g}; "
                         f"round it first (np.round(x / step) * step)")
    return counts.astype(np.int16), step


def _check_model_traces(recording: Recording, model_traces):
    if model_traces is None:
        return {}
    if not isinstance(model_traces, Mapping):
        raise TypeError("model_traces must map a name to one voltage trace [V] per sweep")
    checked = {}
    for name, traces in model_traces.items():
        traces = list(traces)
        if len(traces) != len(recording):
            raise ValueError(f"model_traces[{name!r}] has {len(traces)} traces for {len(recording)} sweeps")
        arrays = []
        for sw, trace in zip(recording.sweeps, traces):
            arr = np.asarray(trace, dtype=np.float64)
            if arr.shape != sw.voltage.shape or not np.all(np.isfinite(arr)):
                raise ValueError(f"model_traces[{name!r}] for sweep {sw.id} must be finite float[{sw.n_samples}]")
            arrays.append(arr)
        checked[str(name)] = arrays
    return checked


def _build(recording: Recording, model_traces, start: datetime.datetime, identifier: str,
           quantization: Mapping[str, float], subject: Mapping[str, str]):
    from pynwb import NWBFile, TimeSeries
    from pynwb.file import Subject
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries, IntracellularRecordingsTable

    info = recording.info
    cell = info.cell or "unknown"
    nwb = NWBFile(
        session_description=f"current-clamp recording, protocol {info.protocol or 'unknown'}",
        identifier=identifier, session_start_time=start, file_create_date=[start],
        experiment_description=f"cell {cell}, written by biofit from {info.source or 'memory'}",
        notes=info_to_json(recording),
    )
    # Age and sex are required by the NWB inspector; unknown here: sex "U", age "P0D/" (an open
    # ISO 8601 range, "at least 0 days"), unless the caller's `subject` says more.
    fields = {"subject_id": cell, "description": f"cell {cell}", "sex": "U", "age": "P0D/", **subject}
    nwb.subject = Subject(**fields)
    device = nwb.create_device(name="amplifier", description="current-clamp amplifier")
    electrode = nwb.create_icephys_electrode(name="electrode", description=f"recording electrode, cell {cell}",
                                             device=device, cell_id=cell)
    nwb.intracellular_recordings = IntracellularRecordingsTable()
    for sw in recording.sweeps:
        common = dict(starting_time=sw.start_time, rate=1.0 / sw.dt, electrode=electrode, gain=1.0,
                      sweep_number=np.uint32(sw.id))
        i_data, i_conv = _encode(sw.current, quantization.get("current"), "current", sw.id)
        v_data, v_conv = _encode(sw.voltage, quantization.get("voltage"), "voltage", sw.id)
        stim = CurrentClampStimulusSeries(name=f"stimulus_{sw.id:04d}", data=i_data, conversion=i_conv,
                                          description=f"injected current ({info.current_kind}), sweep {sw.id}",
                                          **common)
        resp = CurrentClampSeries(name=f"response_{sw.id:04d}", data=v_data, conversion=v_conv,
                                  description=f"membrane potential, sweep {sw.id}", **common)
        nwb.add_stimulus(stim)
        nwb.add_acquisition(resp)
        nwb.add_intracellular_recording(electrode=electrode, stimulus=stim, response=resp, id=sw.id)
    # A ragged column added whole, as a typed array with its end offsets; hdmf cannot store one
    # whose rows are all empty, so a recording without spikes has no column (load_nwb reads the
    # absence in a biofit file as "no spikes").
    ends = np.cumsum([sw.spike_times.size for sw in recording.sweeps])
    if ends[-1] > 0:
        flat = np.concatenate([sw.spike_times for sw in recording.sweeps]).astype(np.float64)
        nwb.intracellular_recordings.add_column(name="spike_times", data=flat, index=ends,
                                                description="spike times [s] from the sweep start")
    if model_traces:
        module = nwb.create_processing_module(name="model_traces", description="model voltage per sweep")
        for name, traces in model_traces.items():
            for sw, trace in zip(recording.sweeps, traces):
                module.add(TimeSeries(name=f"{name}_sweep_{sw.id:04d}", data=trace, unit="volts",
                                      starting_time=sw.start_time, rate=1.0 / sw.dt,
                                      description=f"{name}: model membrane potential, sweep {sw.id}"))
    return nwb


def write_nwb(recording: Recording, path, model_traces: Mapping[str, Sequence] | None = None, *,
              session_start_time: datetime.datetime | None = None,
              quantization: Mapping[str, float] | None = None,
              subject: Mapping[str, str] | None = None) -> Path:
    """Write `recording` to `path` as NWB (see the module docstring); returns the path.

    Parameters
    ----------
    recording : Recording
    path : path
        Target file (``.nwb``); its folder is created if missing.
    model_traces : mapping name -> sequence of float[n], optional
        One voltage trace [V] per sweep, in the recording's order.
    session_start_time : datetime, optional
        Timezone-aware; default 1970-01-01 UTC, so that equal recordings give equal files.
    quantization : mapping, optional
        ``{"voltage": step_V, "current": step_A}``: store that quantity as int16 counts of the step.
    subject : mapping, optional
        `pynwb.file.Subject` fields (``species``, ``age``, ``sex``, ...); the default says unknown.
    """
    from pynwb import NWBHDF5IO

    if not isinstance(recording, Recording):
        raise TypeError(f"recording must be a Recording, got {type(recording).__name__}")
    quantization = dict(quantization or {})
    unknown = sorted(set(quantization) - {"voltage", "current"})
    if unknown:
        raise ValueError(f"quantization keys must be 'voltage' or 'current', got {unknown}")
    start = EPOCH if session_start_time is None else session_start_time
    if start.tzinfo is None:
        raise ValueError("session_start_time must be timezone-aware")
    traces = _check_model_traces(recording, model_traces)
    nwb = _build(recording, traces, start, _content_id(recording), quantization,
                 dict(subject or {}))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex}.tmp.nwb")
    try:
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwb)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
