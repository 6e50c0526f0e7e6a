"""NPZ recordings written by biofit: every sweep's arrays plus the `RecordingInfo` as JSON.

Layout (all arrays float64 SI unless said): ``info`` (JSON text, as in the NWB ``notes``),
``sweep_ids`` int64[m], and per sweep k in that order ``dt_k``, ``start_time_k``, ``current_k``,
``voltage_k``, ``spike_times_k``. Written atomically through `biofit.io.atomic.write_atomic`;
no pickled objects (``allow_pickle=False`` on reading). `recording_to_bytes` /
`recording_from_bytes` are the same layout in memory: how a recording travels to a worker of
`biofit.parallel` (a `Recording` holds read-only mappings, which do not pickle, and the compressed
layout is smaller than a pickle would be).

>>> import numpy as np, tempfile, pathlib
>>> from biofit.io.recording import Recording, Sweep
>>> rec = Recording([Sweep(7, 1e-4, np.zeros(10), np.full(10, -0.07))])
>>> path = write_npz(rec, pathlib.Path(tempfile.mkdtemp()) / "r.npz")
>>> back = load_npz(path)
>>> back.sweep_ids, np.array_equal(back.sweeps[0].voltage, rec.sweeps[0].voltage)
([7], True)
>>> recording_from_bytes(recording_to_bytes(rec)).sweep_ids
[7]
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from biofit.io.atomic import write_atomic
from biofit.io.nwb_write import FORMAT_KEY, info_to_json
from biofit.io.recording import Recording, RecordingInfo, Sweep

FIELDS = ("dt", "start_time", "current", "voltage", "spike_times")


def _arrays(recording: Recording) -> dict[str, np.ndarray]:
    if not isinstance(recording, Recording):
        raise TypeError(f"recording must be a Recording, got {type(recording).__name__}")
    arrays = {"info": np.array(info_to_json(recording)), "sweep_ids": np.array(recording.sweep_ids)}
    for k, sw in enumerate(recording.sweeps):
        for name in FIELDS:
            arrays[f"{name}_{k}"] = np.asarray(getattr(sw, name))
    return arrays


def write_npz(recording: Recording, path) -> Path:
    """Write `recording` to `path` (``.npz``), atomically; returns the path."""
    arrays = _arrays(recording)
    return write_atomic(path, lambda f: np.savez_compressed(f, **arrays))


def recording_to_bytes(recording: Recording) -> bytes:
    """`recording` in the NPZ layout of `write_npz`, as bytes (compressed)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_arrays(recording))
    return buffer.getvalue()


def load_npz(path) -> Recording:
    """Read a recording written by `write_npz`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such NPZ file: {path}")
    return _read(path, path)


def recording_from_bytes(data: bytes, name: str = "NPZ bytes") -> Recording:
    """Read a recording from the bytes of `recording_to_bytes` (or of a file of `write_npz`);
    `name` says where they came from in error messages."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    return _read(io.BytesIO(data), name)


def _read(source, path) -> Recording:
    try:
        with np.load(source, allow_pickle=False) as data:
            contents = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable NPZ file ({type(exc).__name__}: {exc})") from exc
    for key in ("info", "sweep_ids"):
        if key not in contents:
            raise ValueError(f"{path}: not a biofit recording (no {key!r} array)")
    try:
        stored = json.loads(str(contents["info"]))[FORMAT_KEY]
    except (ValueError, KeyError) as exc:
        raise ValueError(f"{path}: the 'info' array is not biofit recording metadata") from exc
    sweeps = []
    for k, sweep_id in enumerate(contents["sweep_ids"].tolist()):
        missing = [f"{name}_{k}" for name in FIELDS if f"{name}_{k}" not in contents]
        if missing:
            raise ValueError(f"{path}: sweep {sweep_id} lacks {missing}")
        sweeps.append(Sweep(sweep_id, float(contents[f"dt_{k}"]), contents[f"current_{k}"],
                            contents[f"voltage_{k}"], contents[f"spike_times_{k}"],
                            float(contents[f"start_time_{k}"])))
    return Recording(sweeps, RecordingInfo(**stored))
