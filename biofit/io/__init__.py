"""Recordings: validated sweeps in SI units, their loaders and writers, spikes and features.

* `Recording`, `Sweep`, `RecordingInfo` (`recording`): immutable, validated current-clamp data.
* `load_recording` (`load`): ABF 1/2 (pyABF), NWB icephys (pynwb), text (QSNMC 2007 / Blue Brain
  ``.asc``, eFEL columns, CSV), a folder of text files, NPZ written by biofit.
* `write_nwb` (`nwb_write`), `write_npz` (`npz`): writers, atomic; `recording_to_bytes` /
  `recording_from_bytes` (`npz`): the NPZ layout in memory (what `biofit.parallel` sends).
* `detect_spikes` (`spikes`); `sweep_features`, `fi_curve`, `passive_properties` (`features`).
* `write_atomic` (`atomic`): every file biofit writes goes through a temporary file and a rename.
* `load_raster` (`rasters`): binary spike rasters from ``.npy`` / ``.csv`` files.

Heavy readers (pyABF, pynwb) are imported only when a file of theirs is read or written.
"""

from biofit.io.atomic import write_atomic
from biofit.io.features import fi_curve, passive_properties, recording_features, sweep_features
from biofit.io.load import load_recording
from biofit.io.npz import recording_from_bytes, recording_to_bytes, write_npz
from biofit.io.nwb_write import write_nwb
from biofit.io.rasters import load_raster
from biofit.io.recording import Recording, RecordingInfo, Sweep
from biofit.io.spikes import detect_spikes

__all__ = [
    "Recording",
    "RecordingInfo",
    "Sweep",
    "detect_spikes",
    "fi_curve",
    "load_raster",
    "load_recording",
    "passive_properties",
    "recording_features",
    "recording_from_bytes",
    "recording_to_bytes",
    "sweep_features",
    "write_atomic",
    "write_npz",
    "write_nwb",
]
