"""Tables and figure of the meta-vs-LIF reproduction from its run rows (`biofit.experiments.meta_vs_lif`).

``summarize(rows)`` groups the seed runs by task, neuron, training and intrinsic setting: mean
and 95 % t interval of the test accuracy (LZC rule, and LZC+rate readout), mean spikes per test
sample and fit time, and per task/neuron/training the gain learned - fixed paired by seed
(`biofit.experiments.stats`). `write_outputs` writes ``runs.csv``, ``summary.csv``,
``meta_vs_lif.md``, ``meta_vs_lif.png`` and ``meta.json`` (settings, wall time) atomically.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from biofit.experiments.snn_protocol import csv_bytes
from biofit.experiments.stats import mean_ci, paired_gain
from biofit.io.atomic import write_atomic

GROUP = ("task", "neuron", "training")


def read_runs(path) -> list[dict]:
    """The rows of a ``runs.csv`` written by `write_outputs`, numbers as numbers (empty cells dropped)."""
    def value(text: str):
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    with open(path, newline="") as f:
        return [{k: value(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def summarize(rows: list[dict]) -> list[dict]:
    """One summary row per task, neuron and training (see the module docstring)."""
    seeds = [r for r in rows if r.get("method") == "snn" and r.get("phase") == "seed"]
    out = []
    keys = list(dict.fromkeys(tuple(r[k] for k in GROUP) for r in seeds))
    for key in keys:
        runs = {v: sorted((r for r in seeds if tuple(r[k] for k in GROUP) == key and r["intrinsic"] == v),
                          key=lambda r: r["seed"]) for v in ("fixed", "learned")}
        row = dict(zip(GROUP, key), n_hidden=runs["fixed"][0]["n_hidden"],
                   learning_rate=runs["fixed"][0]["learning_rate"], n_seeds=len(runs["fixed"]))
        for metric, tag in (("test_accuracy", "lzc"), ("test_accuracy_readout", "readout")):
            for v in ("fixed", "learned"):
                row.update(zip((f"{tag}_{v}_mean", f"{tag}_{v}_low", f"{tag}_{v}_high"),
                               mean_ci([r[metric] for r in runs[v]])))
            row.update(zip((f"{tag}_gain_mean", f"{tag}_gain_low", f"{tag}_gain_high"),
                           paired_gain([r[metric] for r in runs["fixed"]], [r[metric] for r in runs["learned"]])))
        for v in ("fixed", "learned"):
            row[f"spikes_{v}"] = float(np.mean([r["spikes_per_sample"] for r in runs[v]]))
            row[f"wall_time_s_{v}"] = float(np.mean([r["wall_time_s"] for r in runs[v]]))
        out.append(row)
    return out


def _ci(row: dict, prefix: str, signed: bool = False) -> str:
    mean, low, high = (row[f"{prefix}_{k}"] for k in ("mean", "low", "high"))
    fmt = "{:+.1f}" if signed else "{:.1f}"
    return f"{fmt.format(100 * mean)} [{fmt.format(100 * low)}, {fmt.format(100 * high)}]"


def markdown(summary: list[dict], rows: list[dict], meta: dict) -> str:
    """The Markdown report: settings, then one table per task with its baselines."""
    lines = ["# meta-vs-LIF (2508.11674): learned vs fixed intrinsic parameters", "",
             f"Size: {'small (CI)' if meta['small'] else 'full'}; seeds: {meta['seeds']}; device: "
             f"{meta['device']}; wall time: {meta['wall_time_s'] / 60:.1f} min. Test accuracy in %, mean "
             "[95 % t interval] over seeds; gain = learned - fixed, paired by seed. LZC = the "
             "nearest class-typical LZC rule; readout = logistic regression on LZC and rates of the "
             "output trains (same networks). Spikes: per test sample, all layers.", ""]
    lines += [f"Note: {n}" for n in meta.get("notes", [])]
    for task in dict.fromkeys(r["task"] for r in summary):
        base = {r["method"]: r["test_accuracy"] for r in rows if r["task"] == task and r.get("method") != "snn"}
        lines += ["", f"## {task}", "", "baselines (test): " + ", ".join(
            f"{name} {100 * acc:.1f}" for name, acc in base.items()), "",
            "| neuron | training | size | lr | LZC fixed | LZC learned | LZC gain | readout fixed | "
            "readout learned | readout gain | spikes fixed / learned | fit s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in (s for s in summary if s["task"] == task):
            lines.append(
                f"| {r['neuron']} | {r['training']} | {r['n_hidden']} | {r['learning_rate']:.3g} | "
                f"{_ci(r, 'lzc_fixed')} | {_ci(r, 'lzc_learned')} | {_ci(r, 'lzc_gain', True)} | "
                f"{_ci(r, 'readout_fixed')} | {_ci(r, 'readout_learned')} | {_ci(r, 'readout_gain', True)} | "
                f"{r['spikes_fixed']:.0f} / {r['spikes_learned']:.0f} | "
                f"{(r['wall_time_s_fixed'] + r['wall_time_s_learned']) / 2:.1f} |")
    return "\n".join(lines) + "\n"


def figure(summary: list[dict], rows: list[dict], path: Path) -> Path:
    """Test accuracy (LZC rule) with its interval, fixed vs learned, per task; baselines dashed."""
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    tasks = list(dict.fromkeys(r["task"] for r in summary))
    fig = Figure(figsize=(4.2 * len(tasks), 3.6))
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        groups = [s for s in summary if s["task"] == task]
        x = np.arange(len(groups))
        for j, (v, color) in enumerate((("fixed", "0.6"), ("learned", "C0"))):
            mean = np.array([g[f"lzc_{v}_mean"] for g in groups])
            err = np.array([[g[f"lzc_{v}_mean"] - g[f"lzc_{v}_low"], g[f"lzc_{v}_high"] - g[f"lzc_{v}_mean"]]
                            for g in groups]).T
            ax.bar(x + (j - 0.5) * 0.38, 100 * mean, 0.38, yerr=100 * np.nan_to_num(err), color=color, label=v,
                   capsize=2)
        for (name, style) in zip(("rate", "psth", "input_lzc"), (":", "--", "-.")):
            acc = [r["test_accuracy"] for r in rows if r["task"] == task and r.get("method") == name]
            if acc:
                ax.axhline(100 * acc[0], color="k", ls=style, lw=1, label=name)
        ax.set_xticks(x, [f"{g['neuron']}\n{g['training']}" for g in groups], fontsize=7)
        ax.set_title(task)
        ax.set_ylim(0, 105)
        ax.set_ylabel("test accuracy (%)")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=120))
    return path


def write_outputs(out: Path, rows: list[dict], meta: dict) -> Path:
    """Write the four outputs (module docstring) and ``meta.json``; returns the Markdown path."""
    summary = summarize(rows)
    write_atomic(out / "runs.csv", lambda f: f.write(csv_bytes(rows)))
    write_atomic(out / "summary.csv", lambda f: f.write(csv_bytes(summary)))
    write_atomic(out / "meta.json", lambda f: f.write(json.dumps(meta, indent=1).encode()))
    figure(summary, rows, out / "meta_vs_lif.png")
    table = out / "meta_vs_lif.md"
    write_atomic(table, lambda f: f.write(markdown(summary, rows, meta).encode()))
    return table

