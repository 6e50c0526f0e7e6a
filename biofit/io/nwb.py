"""NWB icephys current-clamp recordings, read with pynwb.

Two layouts are read:

* the ``IntracellularRecordingsTable`` (NWB >= 2.4): one sweep per row, response and stimulus by
  reference (with their index ranges); sweep id = row id; spike times from a ``spike_times``
  column when the table has one (biofit writes it; none in a biofit file means no spikes), else
  detected;
* older files with only ``CurrentClampSeries`` in ``/acquisition`` and ``CurrentClampStimulusSeries``
  in ``/stimulus``: paired by ``sweep_number`` (every response needs exactly one stimulus).

Values are ``data * conversion + offset`` in the series' ``unit`` (``volts`` / ``amperes`` by the
NWB schema; another unit string is converted or refused by `biofit.io.units.si_factor`). The
sampling interval is ``1 / rate``, or the uniform step of ``timestamps``. The stimulus series are the
protocol's command (``current_kind="command"``) unless the file was written by biofit, whose
``notes`` carry the original `RecordingInfo`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from biofit.io.assemble import make_sweep, spike_source
from biofit.io.recording import Recording, RecordingInfo
from biofit.io.units import si_factor
from biofit.io.nwb_write import FORMAT_KEY


def _values(series, quantity: str, start: int = 0, count: int | None = None) -> np.ndarray:
    stop = None if count is None or count < 0 else start + count
    raw = np.asarray(series.data[start:stop], dtype=np.float64)
    scale = si_factor(series.unit, quantity)
    return (raw * float(series.conversion) + float(getattr(series, "offset", 0.0) or 0.0)) * scale


def _timing(series, start: int) -> tuple[float, float]:
    """(dt, start time) of a series in seconds."""
    if series.rate is not None:
        return 1.0 / float(series.rate), float(series.starting_time or 0.0) + start / float(series.rate)
    stamps = np.asarray(series.timestamps[:], dtype=np.float64)
    steps = np.diff(stamps)
    if stamps.size < 2 or not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise ValueError(f"series {series.name!r}: timestamps are not uniformly sampled")
    return float(steps[0]), float(stamps[start])


def _from_table(table, detection, written_by_biofit: bool):
    has_spikes = "spike_times" in table.colnames
    sweeps, hows = [], []
    responses = table["responses"]["response"]
    stimuli = table["stimuli"]["stimulus"]
    for row, sweep_id in enumerate(table.id[:]):
        resp, stim = responses[row], stimuli[row]
        if resp is None or resp.timeseries is None or stim is None or stim.timeseries is None:
            raise ValueError(f"sweep {sweep_id}: row {row} lacks a response or a stimulus")
        voltage = _values(resp.timeseries, "voltage", int(resp.idx_start), int(resp.count))
        current = _values(stim.timeseries, "current", int(stim.idx_start), int(stim.count))
        dt, t0 = _timing(resp.timeseries, max(int(resp.idx_start), 0))
        if has_spikes:
            spikes = np.asarray(table["spike_times"][row], dtype=np.float64)
        else:  # biofit omits the column when no sweep has a spike
            spikes = np.empty(0) if written_by_biofit else None
        sweep, how = make_sweep(int(sweep_id), dt, current, voltage, spikes, t0, detection)
        sweeps.append(sweep)
        hows.append(how)
    return sweeps, hows


def _by_sweep_number(nwb, path, detection):
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    responses = [s for s in nwb.acquisition.values() if isinstance(s, CurrentClampSeries)]
    stimuli = {}
    for s in nwb.stimulus.values():
        if isinstance(s, CurrentClampStimulusSeries):
            if s.sweep_number in stimuli:
                raise ValueError(f"{path}: two stimulus series with sweep_number {s.sweep_number}")
            stimuli[s.sweep_number] = s
    if not responses:
        raise ValueError(f"{path}: no CurrentClampSeries in /acquisition (no current-clamp data)")
    sweeps, hows = [], []
    for resp in sorted(responses, key=lambda s: (s.sweep_number is None, s.sweep_number or 0)):
        if resp.sweep_number is None:
            raise ValueError(f"{path}: response {resp.name!r} has no sweep_number to pair it with a stimulus")
        if resp.sweep_number not in stimuli:
            raise ValueError(f"{path}: no CurrentClampStimulusSeries with sweep_number {resp.sweep_number} "
                             f"for response {resp.name!r}")
        dt, t0 = _timing(resp, 0)
        sweep, how = make_sweep(int(resp.sweep_number), dt, _values(stimuli[resp.sweep_number], "current"),
                                _values(resp, "voltage"), None, t0, detection)
        sweeps.append(sweep)
        hows.append(how)
    return sweeps, hows


def _stored_info(nwb) -> dict | None:
    """The `RecordingInfo` fields biofit keeps in ``notes``, or None for other files."""
    try:
        return json.loads(nwb.notes or "")[FORMAT_KEY]
    except (ValueError, TypeError, KeyError):
        return None


def _info(nwb, path, hows) -> RecordingInfo:
    stored = _stored_info(nwb)
    if stored is not None:
        return RecordingInfo(cell=stored["cell"], protocol=stored["protocol"], source=stored["source"],
                             units=stored["units"], current_kind=stored["current_kind"],
                             spikes=spike_source(hows) if "given" not in hows else stored["spikes"],
                             extra=stored["extra"])
    electrodes = list(nwb.icephys_electrodes.values())
    cell = (getattr(electrodes[0], "cell_id", None) or "") if electrodes else ""
    return RecordingInfo(cell=cell, protocol=nwb.session_description or "", source=str(path),
                         units={"time": "s", "current": "amperes", "voltage": "volts", "format": "NWB"},
                         current_kind="command", spikes=spike_source(hows))


def load_nwb(path, *, detection=None) -> Recording:
    """A recording from an NWB icephys file (see the module docstring)."""
    from pynwb import NWBHDF5IO

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such NWB file: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file")
    try:
        io = NWBHDF5IO(str(path), "r", load_namespaces=True)
    except Exception as exc:  # h5py/hdmf raise OSError, KeyError, ... on a damaged file
        raise ValueError(f"{path}: not a readable NWB/HDF5 file ({type(exc).__name__}: {exc})") from exc
    with io:
        try:
            nwb = io.read()
            table = nwb.intracellular_recordings
            if table is not None and len(table) > 0:
                sweeps, hows = _from_table(table, detection, _stored_info(nwb) is not None)
            else:
                sweeps, hows = _by_sweep_number(nwb, path, detection)
            info = _info(nwb, path, hows)
        except ValueError:
            raise
        except Exception as exc:  # a truncated HDF5 file fails inside h5py while reading datasets
            raise ValueError(f"{path}: damaged NWB file ({type(exc).__name__}: {exc})") from exc
    return Recording(sweeps, info)


def read_model_traces(path) -> dict[str, dict[int, np.ndarray]]:
    """Model voltage traces [V] written by `write_nwb`: ``{name: {sweep_id: float[n]}}``."""
    from pynwb import NWBHDF5IO

    out: dict[str, dict[int, np.ndarray]] = {}
    with NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
        nwb = io.read()
        if "model_traces" not in nwb.processing:
            return out
        for name, series in nwb.processing["model_traces"].data_interfaces.items():
            model, _, sweep = name.rpartition("_sweep_")
            out.setdefault(model, {})[int(sweep)] = _values(series, "voltage")
    return out
