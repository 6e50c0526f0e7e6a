"""Figures: a recording's sweeps (voltage with spikes marked, current) and its f–I curve.

Matplotlib with the non-interactive Agg backend; figures are written atomically (PNG).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biofit.io.atomic import write_atomic
from biofit.io.features import fi_curve
from biofit.io.recording import Recording


def shown_sweeps(recording: Recording, max_sweeps: int = 8) -> list[int]:
    """Ids of at most `max_sweeps` sweeps spread evenly over the recording.

    >>> from biofit.io.recording import Sweep
    >>> rec = Recording([Sweep(k, 1e-3, np.zeros(5), np.zeros(5)) for k in range(20)])
    >>> shown_sweeps(rec, 4)
    [0, 6, 13, 19]
    """
    ids = recording.sweep_ids
    if len(ids) <= max_sweeps:
        return ids
    picks = np.unique(np.round(np.linspace(0, len(ids) - 1, max_sweeps)).astype(int))
    return [ids[k] for k in picks]


def plot_recording(recording: Recording, path, max_sweeps: int = 8) -> Path:
    """Write a PNG: voltage [mV] (spikes marked) and current [pA] of up to `max_sweeps` sweeps, and
    the f–I curve (rate in the first current step against its amplitude)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = shown_sweeps(recording, max_sweeps)
    fig = plt.figure(figsize=(11, 6.5), constrained_layout=True)
    grid = fig.add_gridspec(3, 3)
    ax_v = fig.add_subplot(grid[:2, :2])
    ax_i = fig.add_subplot(grid[2, :2], sharex=ax_v)
    ax_fi = fig.add_subplot(grid[:, 2])
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(ids)))
    for colour, sweep_id in zip(colours, ids):
        sw = recording.sweep(sweep_id)
        ax_v.plot(sw.t, sw.voltage * 1e3, lw=0.6, color=colour, label=f"sweep {sweep_id}")
        if sw.spike_times.size:
            k = np.minimum(np.round(sw.spike_times / sw.dt).astype(int), sw.n_samples - 1)
            ax_v.plot(sw.spike_times, sw.voltage[k] * 1e3, "v", ms=3, color=colour)
        ax_i.plot(sw.t, sw.current * 1e12, lw=0.6, color=colour)
    ax_v.set_ylabel("V [mV]")
    ax_v.set_title(f"{recording.info.cell or Path(recording.info.source).name}: "
                   f"{len(ids)} of {len(recording)} sweeps (▼ spikes, {recording.info.spikes})", fontsize=8)
    if len(ids) <= 10:
        ax_v.legend(fontsize=6, loc="upper right")
    ax_i.set_ylabel(f"I [pA] ({recording.info.current_kind})")
    ax_i.set_xlabel("time from sweep start [s]")
    amps, rates = fi_curve(recording)
    ax_fi.plot(amps * 1e12, rates, "o-", color="k")
    ax_fi.set_xlabel("step amplitude [pA]")
    ax_fi.set_ylabel("rate in the step [Hz]")
    ax_fi.set_title("f–I curve", fontsize=9)
    try:
        return write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110))
    finally:
        plt.close(fig)
