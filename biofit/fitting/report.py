"""Plain-text reports of a fit: the parameter table (start, fitted, true, error) and the scores.

>>> from biofit.fitting.result import FitResult
>>> r = FitResult("lif", {"tau_mem": 0.021}, ("tau_mem",), "gradient", {}, {"mean": {"gamma": 0.93}},
...               [], 12.0, 1e-4, 0, [], [], [], 0.1, true_parameters={"tau_mem": 0.02})
>>> print(format_fit(r).splitlines()[2])
tau_mem       0.021            0.02         +5.0 %
"""

from __future__ import annotations

from biofit.fitting.result import FitResult

_SCORES = (("gamma", "Γ (Δ 4 ms), sweeps with spikes"), ("gamma_2ms", "Γ (Δ 2 ms)"),
           ("gamma_normalised", "Γ / Γ_int (repeated sweeps)"), ("explained_variance", "explained variance"),
           ("abs_spike_count_error", "|spike count error|"), ("subthreshold_rmse_mV", "subthreshold RMSE [mV]"))


def format_fit(result: FitResult) -> str:
    """The table of fitted parameters (SI), with the true values and errors when known, and the
    mean train and test scores."""
    truth = result.true_parameters or {}
    lines = [f"{result.model} fitted by {result.method} in {result.wall_time_s:.1f} s (dt {result.dt:g} s, "
             f"seed {result.seed})",
             f"{'parameter':<13} {'fitted':<16} {'true' if truth else '':<12} {'error' if truth else ''}".rstrip()]
    for name in result.fitted:
        value = result.parameters[name]
        row = f"{name:<13} {value:<16.4g}"
        if name in truth and truth[name]:
            row += f" {truth[name]:<12.4g} {100 * (value / truth[name] - 1):+.1f} %"
        lines.append(row.rstrip())
    for label, scores in (("train", result.train), ("test", result.test)):
        mean = scores.get("mean", {}) if scores else {}
        if mean:
            parts = [f"{text} {mean[key]:.3f}" for key, text in _SCORES if key in mean]
            lines.append(f"{label} ({len(result.train_sweeps if label == 'train' else result.test_sweeps)} sweeps): "
                         + "; ".join(parts))
    return "\n".join(lines)
