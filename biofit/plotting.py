"""Figures: a recording's sweeps (voltage with spikes marked, current) and its f–I curve.

Matplotlib with the non-interactive Agg backend; figures are written atomically (PNG).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biofit.io.atomic import write_atomic
from biofit.io.features import fi_curve, find_step
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


def _step_rate(current, dt: float, spikes) -> tuple[float, float] | None:
    """(step amplitude [A], rate in the step [Hz]) of a sweep with a current step, else None."""
    step = find_step(current, dt)
    if step is None:
        return None
    start, end, amplitude = step
    inside = np.asarray(current)[int(start / dt):int(end / dt)]
    if end - start < 0.05 or np.std(inside) > 0.1 * abs(amplitude):  # not a step: a fluctuating current
        return None
    spikes = np.asarray(spikes)
    return amplitude, float(((spikes >= start) & (spikes < end)).sum() / (end - start))


def plot_fit(result, recordings, traces, path, max_sweeps: int = 4) -> Path:
    """Write a PNG of a fit: data (black) and model (red) voltage of up to `max_sweeps` sweeps,
    data and model spike rasters of all fitted sweeps, the f–I curves, and the parameter table
    (fitted values, and true ones when the recording carries them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps = [(rec, sw, tr) for rec, trs in zip(recordings, traces) for sw, tr in zip(rec.sweeps, trs)]
    test = set(result.test_sweeps)
    fig = plt.figure(figsize=(13, 7.5), constrained_layout=True)
    grid = fig.add_gridspec(max_sweeps, 3)
    shown = [sweeps[k] for k in np.unique(np.linspace(0, len(sweeps) - 1, max_sweeps).round().astype(int))]
    for row, (rec, sw, tr) in enumerate(shown):
        ax = fig.add_subplot(grid[row, 0])
        ax.plot(sw.t, sw.voltage * 1e3, color="k", lw=0.5, label="data")
        ax.plot(sw.t, np.asarray(tr) * 1e3, color="tab:red", lw=0.5, alpha=0.8, label="model")
        kind = "test" if f"{rec.info.cell}:{sw.id}" in test else "train"
        ax.set_title(f"{rec.info.cell} sweep {sw.id} ({kind})", fontsize=8)
        ax.set_ylabel("V [mV]", fontsize=8)
        if row == 0:
            ax.legend(fontsize=7, loc="upper right")
    ax.set_xlabel("time [s]")
    ax_r = fig.add_subplot(grid[:, 1])
    model_spikes = result.extra.get("model_spike_times", {})
    labels = []
    for k, (rec, sw, _) in enumerate(sweeps):
        label = f"{rec.info.cell}:{sw.id}"
        ax_r.plot(sw.spike_times, np.full(sw.spike_times.size, k + 0.15), "|", color="k", ms=4)
        ms = np.asarray(model_spikes.get(label, []))
        ax_r.plot(ms, np.full(ms.size, k - 0.15), "|", color="tab:red", ms=4)
        labels.append(label + (" *" if label in test else ""))
    ax_r.set_yticks(range(len(labels)), labels, fontsize=6)
    ax_r.set_xlabel("time [s]")
    ax_r.set_title("spikes: data (black), model (red); * test", fontsize=8)
    ax_fi = fig.add_subplot(grid[: max(1, max_sweeps // 2), 2])
    for who, colour in (("data", "k"), ("model", "tab:red")):
        pts = [_step_rate(sw.current, sw.dt, sw.spike_times if who == "data" else
                          model_spikes.get(f"{rec.info.cell}:{sw.id}", [])) for rec, sw, _ in sweeps]
        pts = sorted(p for p in pts if p is not None)
        if pts:
            amps, rates = np.array(pts).T
            levels = np.unique(amps)
            ax_fi.plot(levels * 1e12, [rates[amps == a].mean() for a in levels], "o-", color=colour, label=who)
    ax_fi.set_xlabel("step [pA]", fontsize=8)
    ax_fi.set_ylabel("rate [Hz]", fontsize=8)
    ax_fi.set_title("f–I curve", fontsize=9)
    ax_fi.legend(fontsize=7)
    ax_t = fig.add_subplot(grid[max(1, max_sweeps // 2):, 2])
    ax_t.axis("off")
    truth = result.true_parameters or {}
    rows = [[name, f"{result.parameters[name]:.4g}", f"{truth[name]:.4g}" if name in truth else ""]
            for name in result.fitted]
    table = ax_t.table(cellText=rows, colLabels=["parameter (SI)", "fitted", "true"], loc="center")
    table.set_fontsize(7)
    test_gamma = result.test.get("mean", {}).get("gamma")
    fig.suptitle(f"{result.model} fitted by {result.method} in {result.wall_time_s:.0f} s"
                 + (f"; test Γ = {test_gamma:.3f}" if test_gamma is not None else ""), fontsize=10)
    try:
        return write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
