"""Tables and figures of the POLARA reproduction from its run rows (`biofit.experiments.polara_vs_lif`).

``summarize_runs(rows)``: per phase, model, variant and learning rate, the mean test accuracy and
its 95 % t interval over seeds (`biofit.experiments.snn_protocol.summarize`), and for the ablation
the difference to the full model paired by seed (`biofit.experiments.stats.paired_gain`).
``gradient_summary(norms)``: per model, depth and layer, the median, smallest and largest gradient
norm over the SGD steps, and the medians over the first and over the last tenth of the steps.
`write_outputs` writes ``runs.csv``, ``summary.csv``, ``grad_norms.csv``, ``polara.md``,
``polara.png``, ``polara_gradients.png`` and ``meta.json`` atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from biofit.experiments.snn_protocol import ci_text, csv_bytes, summarize
from biofit.experiments.stats import paired_gain
from biofit.io.atomic import write_atomic

PAPER_TABLE1 = {"polara": 97.49, "lif": 96.39}  # MNIST test accuracy, %
PAPER_TABLE2 = {"polara": 97.49, "static_leak": 45.18, "step_surrogate": 96.80, "no_refractory": 94.24,
                "fixed_threshold": 94.25}
ABLATION_NAMES = {
    "polara": "none (full POLARA)",
    "static_leak": "decay and amplification -> static leak",
    "step_surrogate": "shaped spike -> step + surrogate",
    "no_refractory": "refractory inhibition removed",
    "fixed_threshold": "adaptive -> fixed threshold",
}
KEYS = ("phase", "model", "variant", "learning_rate")


def summarize_runs(rows: list[dict]) -> list[dict]:
    """Summary rows of the ``seed``, ``tuned`` and ``gradients`` phases (module docstring)."""
    kept = [r for r in rows if r["phase"] in ("seed", "tuned")]
    out = summarize(kept, KEYS)
    full = sorted((r for r in kept if r["phase"] == "seed" and r["variant"] == "polara"), key=lambda r: r["seed"])
    for row in out:
        if row["phase"] == "seed" and row["model"] == "polara":
            group = sorted((r for r in kept if r["phase"] == "seed" and r["variant"] == row["variant"]),
                           key=lambda r: r["seed"])
            row["diff_mean"], row["diff_low"], row["diff_high"] = paired_gain(
                [r["test_accuracy"] for r in full], [r["test_accuracy"] for r in group])
    return out


def gradient_summary(norms: list[dict]) -> list[dict]:
    """One row per model, depth and parameter of the gradient runs (module docstring)."""
    out = []
    for key in dict.fromkeys((n["model"], n["depth"], n["parameter"]) for n in norms):
        values = np.array([n["norm"] for n in norms if (n["model"], n["depth"], n["parameter"]) == key])
        tenth = max(1, len(values) // 10)
        out.append(dict(model=key[0], depth=key[1], parameter=key[2], steps=len(values),
                        median=float(np.median(values)), min=float(values.min()), max=float(values.max()),
                        first_tenth=float(np.median(values[:tenth])), last_tenth=float(np.median(values[-tenth:]))))
    return out


def _layer_name(parameter: str) -> str:
    """``0.weights.l`` -> ``hidden l+1``; the readout's ``1.weight`` -> ``readout``."""
    parts = parameter.split(".")
    return f"hidden {int(parts[2]) + 1}" if parts[:2] == ["0", "weights"] else "readout"


def markdown(summary: list[dict], grads: list[dict], rows: list[dict], meta: dict) -> str:
    """The Markdown report: settings, Table 1, Table 2, gradient health."""
    c = meta["config"]
    lines = ["# POLARA vs LIF (Lai & Cao, AAAI-26) on scikit-learn's digits", "",
             f"Size: {'small (CI)' if meta['small'] else 'full'}; {meta['n_train']} training / {meta['n_test']} "
             f"test images, rate-coded ({meta['max_rate_hz']:.0f} Hz x intensity, {c['n_bins']} steps of 1 ms); "
             f"{c['n_hidden']} hidden neurons; SGD, learning rate {meta['learning_rate']}, x{meta['lr_step'][1]} "
             f"every {meta['lr_step'][0]} epochs; {c['n_epochs']} epochs, batches of {c['batch_size']}; "
             f"device {meta['device']}; wall time {meta['wall_time_s'] / 60:.1f} min. Test accuracy in %, "
             "mean [95 % t interval] over seeds (network seeds; the data are fixed). Paper: MNIST.", "",
             "## Table 1: POLARA vs LIF", "",
             "| model | learning rate | test accuracy | seeds | spikes / sample | paper (MNIST) |",
             "|---|---|---|---|---|---|"]
    for r in summary:
        if r["variant"] in ("polara", "-") and r["phase"] in ("seed", "tuned"):
            how = "stated" if r["phase"] == "seed" else "chosen on validation"
            lines.append(f"| {r['model']} | {r['learning_rate']:g} ({how}) | {ci_text(r)} | {r['n']} | "
                         f"{r['spikes_per_sample']:.0f} | {PAPER_TABLE1[r['model']]:.2f} |")
    lines += ["", "## Table 2: ablation (stated learning rate)", "",
              "| component removed or replaced | test accuracy | difference to full (paired) | paper | paper difference |",
              "|---|---|---|---|---|"]
    for r in summary:
        if r["phase"] == "seed" and r["model"] == "polara":
            paper = PAPER_TABLE2[r["variant"]]
            lines.append(f"| {ABLATION_NAMES[r['variant']]} | {ci_text(r)} | "
                         f"{100 * r['diff_mean']:+.1f} [{100 * r['diff_low']:+.1f}, {100 * r['diff_high']:+.1f}] | "
                         f"{paper:.2f} | {paper - PAPER_TABLE2['polara']:+.2f} |")
    accuracy = {(r["model"], r["depth"]): r["test_accuracy"] for r in rows if r["phase"] == "gradients"}
    lines += ["", f"## Gradient health (seed 0, {c['gradient_epochs']} epochs, stated learning rate)", "",
              "L2 norm of each layer's weight gradient over the SGD steps: median, smallest, largest, and the "
              "medians over the first and the last tenth of the steps.", "",
              "| model | hidden layers | test accuracy | layer | median | min | max | first tenth | last tenth |",
              "|---|---|---|---|---|---|---|---|---|"]
    for g in grads:
        if g["parameter"].endswith("bias"):
            continue
        lines.append(f"| {g['model']} | {g['depth']} | {100 * accuracy[(g['model'], g['depth'])]:.1f} | "
                     f"{_layer_name(g['parameter'])} | {g['median']:.3g} | {g['min']:.3g} | {g['max']:.3g} | "
                     f"{g['first_tenth']:.3g} | {g['last_tenth']:.3g} |")
    return "\n".join(lines) + "\n"


def figure(summary: list[dict], path: Path) -> Path:
    """Table 1 and Table 2 as bars with their intervals; the paper's MNIST values as black marks."""
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    fig = Figure(figsize=(10, 3.8))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[2, 3]))
    table1 = [r for r in summary if r["variant"] in ("polara", "-") and r["phase"] in ("seed", "tuned")]
    table2 = [r for r in summary if r["phase"] == "seed" and r["model"] == "polara"]
    for ax, groups, labels, paper in (
            (ax1, table1, [f"{r['model']}\nlr {r['learning_rate']:g}" for r in table1],
             [PAPER_TABLE1[r["model"]] for r in table1]),
            (ax2, table2, [ABLATION_NAMES[r["variant"]].replace(" -> ", "\n-> ") for r in table2],
             [PAPER_TABLE2[r["variant"]] for r in table2])):
        x = np.arange(len(groups))
        mean = np.array([100 * r["mean"] for r in groups])
        err = np.nan_to_num(np.array([[100 * (r["mean"] - r["low"]), 100 * (r["high"] - r["mean"])] for r in groups]).T)
        ax.bar(x, mean, 0.6, yerr=err, capsize=3, color=["C0" if r["model"] == "polara" else "C1" for r in groups])
        ax.plot(x, paper, "k_", ms=18, mew=2, label="paper (MNIST)")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_ylim(0, 100)
        ax.set_ylabel("test accuracy (%)")
    ax1.set_title("POLARA vs LIF (digits)")
    ax2.set_title("ablation (digits)")
    ax1.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=120))
    return path


def gradient_figure(norms: list[dict], path: Path) -> Path:
    """Per model (rows) and depth (columns): each layer's weight-gradient norm over the SGD steps."""
    from matplotlib.figure import Figure

    models = list(dict.fromkeys(n["model"] for n in norms))
    depths = list(dict.fromkeys(n["depth"] for n in norms))
    fig = Figure(figsize=(3.6 * len(depths), 2.8 * len(models)))
    axes = fig.subplots(len(models), len(depths), squeeze=False, sharey=True)
    for i, model in enumerate(models):
        for j, depth in enumerate(depths):
            ax = axes[i][j]
            mine = [n for n in norms if n["model"] == model and n["depth"] == depth and not n["parameter"].endswith("bias")]
            for parameter in dict.fromkeys(n["parameter"] for n in mine):
                values = np.array([n["norm"] for n in mine if n["parameter"] == parameter])
                ax.plot(np.maximum(values, 1e-12), lw=0.8, label=_layer_name(parameter))
            ax.set_yscale("log")
            ax.set_title(f"{model}, {depth} hidden layer{'s' if depth > 1 else ''}", fontsize=9)
            ax.set_xlabel("SGD step")
            if j == 0:
                ax.set_ylabel("gradient L2 norm")
            ax.legend(fontsize=6)
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=120))
    return path


def write_outputs(out: Path, rows: list[dict], norms: list[dict], meta: dict) -> Path:
    """Write every output (module docstring); returns the Markdown path."""
    summary, grads = summarize_runs(rows), gradient_summary(norms)
    write_atomic(out / "runs.csv", lambda f: f.write(csv_bytes(rows)))
    write_atomic(out / "summary.csv", lambda f: f.write(csv_bytes(summary + grads)))
    write_atomic(out / "grad_norms.csv", lambda f: f.write(csv_bytes(norms)))
    write_atomic(out / "meta.json", lambda f: f.write(json.dumps(meta, indent=1).encode()))
    figure(summary, out / "polara.png")
    gradient_figure(norms, out / "polara_gradients.png")
    table = out / "polara.md"
    write_atomic(table, lambda f: f.write(markdown(summary, grads, rows, meta).encode()))
    return table
