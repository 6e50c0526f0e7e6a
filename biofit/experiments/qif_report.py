"""Tables and figures of the QIF reproduction (`biofit.experiments.qif_vs_lif`).

``map_analysis()``: the numbers of the map figure (`biofit.experiments.qif_map`, the paper's
parameters) and the same window read from biofit's QIF layer (`biofit.experiments.qif_networks`).
``summarize_runs(rows)``: per task and variant, mean test accuracy and 95 % t interval over seeds;
``paired(rows)``: the differences of `CONTRASTS`, paired by seed. `write_outputs` writes
``runs.csv``, ``summary.csv``, ``map.csv``, ``qif.md``, ``qif.png``, ``qif_map.png`` and
``meta.json`` atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from biofit.experiments.qif_map import PAPER, THRESHOLD, derived_window, fixed_points, multiplier, qif_map, rheobase
from biofit.experiments.qif_map import to_units
from biofit.experiments.qif_networks import KAPPA, hand_window, hidden_layer, qif_parameters
from biofit.experiments.snn_protocol import ci_text, csv_bytes, summarize
from biofit.experiments.stats import paired_gain
from biofit.io.atomic import write_atomic

KEYS = ("task", "neuron", "window", "tdbn")
CONTRASTS = (  # (name, variant B, variant A): B - A, paired by seed
    ("QIF - LIF (no tdBN)", ("qif", "derived", False), ("lif", "hand", False)),
    ("QIF - LIF (tdBN)", ("qif", "derived", True), ("lif", "hand", True)),
    ("derived - hand-tuned window (QIF, no tdBN)", ("qif", "derived", False), ("qif", "hand", False)),
    ("derived - hand-tuned window (QIF, tdBN)", ("qif", "derived", True), ("qif", "hand", True)),
    ("tdBN - none (QIF, derived window)", ("qif", "derived", True), ("qif", "derived", False)),
    ("tdBN - none (LIF)", ("lif", "hand", True), ("lif", "hand", False)),
)


def variant_name(neuron: str, window: str, tdbn: bool) -> str:
    """E.g. ``QIF + tdBN, derived window``; the LIF's window is the rectangle."""
    norm = " + tdBN" if tdbn else ""
    if neuron == "lif":
        return f"LIF{norm}, rectangle"
    return f"QIF{norm}, {'derived' if window == 'derived' else 'hand-tuned'} window"


def map_analysis() -> dict:
    """Fixed points, multipliers, window (map units) and the layer's window, in volts and map units."""
    stable, unstable = fixed_points(**PAPER)
    lower, upper = derived_window(**PAPER, threshold=THRESHOLD)
    p = qif_parameters()
    layer_lo, layer_hi = (float(e.mean()) for e in hidden_layer("qif", 1).window())
    return dict(**PAPER, threshold=THRESHOLD, stable=stable, unstable=unstable,
                stable_multiplier=multiplier(**PAPER, u=stable), unstable_multiplier=multiplier(**PAPER, u=unstable),
                window_lower=lower, window_upper=upper, window_height=1.0 / (upper - lower),
                rheobase=rheobase(**PAPER), tau_mem=p["tau_mem"], delta_v=p["delta_v"], v_rest=p["v_rest"],
                v_peak=p["v_peak"], kappa=KAPPA, layer_window_v=(layer_lo, layer_hi),
                layer_window_u=tuple(float(to_units(v, p["v_rest"], KAPPA, PAPER["u1"])) for v in (layer_lo, layer_hi)),
                hand_window_u=tuple(float(to_units(v, p["v_rest"], KAPPA, PAPER["u1"])) for v in hand_window()))


def summarize_runs(rows: list[dict]) -> list[dict]:
    """Mean and interval of the test accuracy per task and variant."""
    return summarize(rows, KEYS)


def paired(rows: list[dict]) -> list[dict]:
    """Per task and contrast of `CONTRASTS`: mean and 95 % t interval of B - A over seeds."""
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        def accuracies(variant):
            runs = sorted((r for r in rows if r["task"] == task and (r["neuron"], r["window"], r["tdbn"]) == variant),
                          key=lambda r: r["seed"])
            return [r["test_accuracy"] for r in runs]

        for name, b, a in CONTRASTS:
            mean, low, high = paired_gain(accuracies(a), accuracies(b))
            out.append(dict(task=task, contrast=name, mean=mean, low=low, high=high))
    return out


def markdown(summary: list[dict], contrasts: list[dict], analysis: dict, meta: dict) -> str:
    """The Markdown report: the map's numbers, then accuracies and paired differences per task."""
    m, c = analysis, meta["config"]
    sizes = "; ".join(f"{name}: {tr} / {va} / {te}" for name, (tr, va, te) in meta["sizes"].items())
    lines = ["# Discretized QIF (2510.05168) vs LIF", "",
             "## The map for null input", "",
             f"u[t+1] = u[t] + a (u[t] - u1)(u[t] - u2) + I[t], a = {m['a']}, u1 = {m['u1']}, u2 = {m['u2']} (the "
             f"paper's), threshold {m['threshold']} (ours; the text gives none).", "",
             "| quantity | value |", "|---|---|",
             f"| stable fixed point u1, multiplier F'(u1) | {m['stable']:g}, {m['stable_multiplier']:g} |",
             f"| unstable fixed point u2, multiplier F'(u2) | {m['unstable']:g}, {m['unstable_multiplier']:g} |",
             f"| rheobase a (u2 - u1)^2 / 4 | {m['rheobase']:g} |",
             f"| derived window [u2, F(threshold)], height | [{m['window_lower']:g}, {m['window_upper']:g}], "
             f"{m['window_height']:g} |",
             f"| hand-tuned window (rectangle of width 1 on the threshold) | [{m['hand_window_u'][0]:g}, "
             f"{m['hand_window_u'][1]:g}], 1 |",
             f"| biofit QIF: tau_mem, delta_v, v_rest, v_peak (1 unit = {1e3 * m['kappa']:g} mV, dt = 1 ms) | "
             f"{1e3 * m['tau_mem']:g} ms, {1e3 * m['delta_v']:g} mV, {1e3 * m['v_rest']:g} mV, {1e3 * m['v_peak']:g} mV |",
             f"| biofit QIF layer's derived window, mV (in map units) | [{1e3 * m['layer_window_v'][0]:.2f}, "
             f"{1e3 * m['layer_window_v'][1]:.2f}] ([{m['layer_window_u'][0]:.4g}, {m['layer_window_u'][1]:.4g}]) |",
             "", f"## Accuracy ({'small (CI)' if meta['small'] else 'full'} size)", "",
             f"Test accuracy in %, mean [95 % t interval] over {c['seeds']} network seeds (data fixed); one hidden "
             f"layer of {c['n_hidden']}, spike-count readout; Adam, learning rate {c['learning_rate']}, "
             f"{c['n_epochs']} epochs, batches of {c['batch_size']}, the epoch of lowest validation loss kept. "
             f"Train / validation / test samples: {sizes}. Device {meta['device']}; wall time "
             f"{meta['wall_time_s'] / 60:.1f} min."]
    for task in dict.fromkeys(r["task"] for r in summary):
        lines += ["", f"### {task}", "", "| variant | test accuracy | spikes / sample |", "|---|---|---|"]
        lines += [f"| {variant_name(r['neuron'], r['window'], r['tdbn'])} | {ci_text(r)} | {r['spikes_per_sample']:.0f} |"
                  for r in summary if r["task"] == task]
        lines += ["", "| paired difference (percentage points) | mean [95 % t interval] |", "|---|---|"]
        lines += [f"| {r['contrast']} | {100 * r['mean']:+.1f} [{100 * r['low']:+.1f}, {100 * r['high']:+.1f}] |"
                  for r in contrasts if r["task"] == task]
    return "\n".join(lines) + "\n"


def map_points(lo: float = -0.4, hi: float = 1.3, n: int = 341) -> list[dict]:
    """``u`` and ``F(u)`` for null input on a grid (the rows of ``map.csv``)."""
    u = np.linspace(lo, hi, n)
    return [dict(u=float(a), F=float(b)) for a, b in zip(u, qif_map(u, **PAPER))]


def map_figure(analysis: dict, path: Path) -> Path:
    """The map with its fixed points and cobwebs, trajectories, and the two surrogate windows."""
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    m = analysis
    fig = Figure(figsize=(13, 3.9))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    pts = map_points()
    u, F = np.array([p["u"] for p in pts]), np.array([p["F"] for p in pts])
    ax1.plot(u, F, "C0", label="F(u), I = 0")
    ax1.plot(u, u, "k:", lw=1, label="identity")
    ax1.axhline(m["threshold"], color="C3", lw=1, ls="--", label="threshold (ours)")
    ax1.axhspan(m["window_lower"], m["window_upper"], color="C2", alpha=0.15, label="derived window (u[t+1])")
    ax1.axvspan(m["unstable"], m["threshold"], color="C3", alpha=0.07, label="escape region [u2, threshold]")
    for start, color in ((0.45, "C1"), (0.55, "C4")):
        x = start
        for _ in range(40):
            y = float(qif_map(x, **PAPER))
            ax1.plot([x, x, y], [x, y, y], color=color, lw=0.7)
            if y > m["threshold"]:
                break
            x = y
    ax1.plot(m["stable"], m["stable"], "ko", label=f"stable u1 (F' = {m['stable_multiplier']:g})")
    ax1.plot(m["unstable"], m["unstable"], "o", mfc="w", mec="k", label=f"unstable u2 (F' = {m['unstable_multiplier']:g})")
    ax1.set(xlabel="u[t]", ylabel="u[t+1]", title="discrete QIF map, a = 0.25, u1 = 0, u2 = 0.5",
            xlim=(u[0], u[-1]), ylim=(u[0], u[-1]))
    ax1.legend(fontsize=6)
    for start in (-0.3, 0.2, 0.45, 0.49, 0.51, 0.55, 0.8):
        traj = [start]
        while len(traj) < 60 and traj[-1] <= m["threshold"]:
            traj.append(float(qif_map(traj[-1], **PAPER)))
        ax2.plot(traj, ".-", ms=2, lw=0.8)
    ax2.axhline(m["unstable"], color="k", lw=0.8, ls=":")
    ax2.axhline(m["threshold"], color="C3", lw=1, ls="--")
    ax2.set(xlabel="step t", ylabel="u[t]", title="trajectories until the threshold", ylim=(-0.4, 1.4))
    grid = np.linspace(0.0, 1.8, 721)
    for (lo, hi), label, color in (((m["window_lower"], m["window_upper"]), "derived [u2, F(threshold)]", "C2"),
                                   (m["hand_window_u"], "hand-tuned rectangle", "C1")):
        ax3.plot(grid, np.where((grid >= lo) & (grid <= hi), 1.0 / (hi - lo), 0.0), color=color, label=label)
    ax3.plot(m["layer_window_u"], [0.02, 0.02], "k|", ms=12, label="biofit QIF layer's window")
    ax3.axvline(m["threshold"], color="C3", lw=1, ls="--")
    ax3.set(xlabel="u after the step", ylabel="surrogate dS/du", title="surrogate windows (unit area)")
    ax3.legend(fontsize=7)
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=120))
    return path


def figure(summary: list[dict], path: Path) -> Path:
    """Test accuracy per variant with its interval, one panel per task."""
    from matplotlib.figure import Figure

    task_names = list(dict.fromkeys(r["task"] for r in summary))
    fig = Figure(figsize=(5.2 * len(task_names), 3.8))
    axes = fig.subplots(1, len(task_names), squeeze=False)[0]
    for ax, task in zip(axes, task_names):
        groups = [r for r in summary if r["task"] == task]
        x = np.arange(len(groups))
        err = np.nan_to_num(np.array([[100 * (r["mean"] - r["low"]), 100 * (r["high"] - r["mean"])] for r in groups]).T)
        ax.bar(x, [100 * r["mean"] for r in groups], 0.6, yerr=err, capsize=3,
               color=["C1" if r["neuron"] == "lif" else ("C2" if r["window"] == "derived" else "C0") for r in groups],
               hatch=None)
        ax.set_xticks(x, [variant_name(r["neuron"], r["window"], r["tdbn"]).replace(", ", "\n") for r in groups],
                      fontsize=7)
        ax.set_ylim(0, 105)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(task)
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=120))
    return path


def write_outputs(out: Path, rows: list[dict], meta: dict) -> Path:
    """Write every output (module docstring); returns the Markdown path."""
    summary, contrasts, analysis = summarize_runs(rows), paired(rows), map_analysis()
    write_atomic(out / "runs.csv", lambda f: f.write(csv_bytes(rows)))
    write_atomic(out / "summary.csv", lambda f: f.write(csv_bytes(summary + contrasts)))
    write_atomic(out / "map.csv", lambda f: f.write(csv_bytes(map_points())))
    write_atomic(out / "meta.json", lambda f: f.write(json.dumps(meta | {"map": analysis}, indent=1).encode()))
    figure(summary, out / "qif.png")
    map_figure(analysis, out / "qif_map.png")
    table = out / "qif.md"
    write_atomic(table, lambda f: f.write(markdown(summary, contrasts, analysis, meta).encode()))
    return table
