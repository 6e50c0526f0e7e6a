"""Build `Sweep`s from arrays read by a loader: spike times given by the file, or detected.

Loaders hand over SI arrays; when the file carries no spike times, they are detected from the
voltage with `biofit.io.spikes.detect_spikes` and the settings given as ``detection`` (a mapping of
its keyword arguments), and `RecordingInfo.spikes` says so.

>>> import numpy as np
>>> v = np.full(50, -0.07); v[10] = 0.01
>>> sw, how = make_sweep(0, 1e-4, np.zeros(50), v)
>>> sw.spike_times.round(7).tolist(), how
([0.0009625], 'detected: threshold -20 mV, min dV/dt 10 V/s, refractory 1 ms, time of crossing')
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from biofit.io.recording import Sweep
from biofit.io.spikes import describe_detector, detect_spikes

DETECTION_KEYS = ("threshold", "min_dvdt", "refractory", "at")


def check_detection(detection: Mapping | None) -> dict:
    """Validate a ``detection`` mapping (keys of `detect_spikes`); returns a plain dict."""
    detection = {} if detection is None else dict(detection)
    unknown = sorted(set(detection) - set(DETECTION_KEYS))
    if unknown:
        raise ValueError(f"unknown spike detection settings {unknown}; known: {list(DETECTION_KEYS)}")
    return detection


def make_sweep(sweep_id, dt, current, voltage, spike_times=None, start_time=0.0,
               detection: Mapping | None = None) -> tuple[Sweep, str]:
    """A `Sweep`, and a description of where its spike times come from (``"given"`` or the detector).

    Parameters
    ----------
    sweep_id : int
    dt : float
        Sampling interval [s].
    current, voltage : float[n]
        Current [A] and voltage [V].
    spike_times : float[k] or None
        Spike times [s] from the sweep's start; None detects them from `voltage`.
    start_time : float
        Sweep start [s] from the recording's start.
    detection : mapping, optional
        Keyword arguments of `detect_spikes` (``threshold``, ``min_dvdt``, ``refractory``, ``at``).
    """
    detection = check_detection(detection)
    if spike_times is not None:
        return Sweep(sweep_id, dt, current, voltage, spike_times, start_time), "given"
    # Validate the samples first, so a NaN is reported with its sweep and time, not by the detector.
    probe = Sweep(sweep_id, dt, current, voltage, np.empty(0), start_time)
    times = detect_spikes(probe.voltage, probe.dt, **detection)
    return Sweep(sweep_id, dt, probe.current, probe.voltage, times, start_time), describe_detector(**detection)


def spike_source(descriptions: list[str]) -> str:
    """One description for a recording (they agree unless some sweeps carried spike times)."""
    unique = sorted(set(descriptions))
    return unique[0] if len(unique) == 1 else "; ".join(unique)
