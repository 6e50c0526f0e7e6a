"""Brian2 reference backend vs the torch layers: one neuron, 10 s at dt = 0.1 ms, per model.

For each model (LIF, ALIF, AdEx, QIF) the same seeded noisy-step current drives
* `biofit.reference.simulate` (Brian2, Cython target): the first call compiles the code objects
  into a fresh, empty Cython cache directory (reported separately as "first run"), the following
  calls reuse them ("warm": the whole `simulate` call, building the network included);
* the torch layer (`layer.simulate`, CPU, no autograd) in float64 and float32.
Times are medians of the repeats; the table goes to stdout and to
benchmarks/results/bench_brian2_reference.csv.

    .venv/bin/python benchmarks/bench_brian2_reference.py            # 10 s runs, 5 repeats
    .venv/bin/python benchmarks/bench_brian2_reference.py --quick    # 1 s runs, 2 repeats, warm cache
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from brian2 import prefs

from biofit.neurons import ALIF, LIF, QIF, AdEx
from biofit.reference import simulate

DT = 1e-4
# model -> (torch layer, step amplitude [A]) giving a few tens of Hz with the default parameters
MODELS = {"lif": (LIF, 0.3e-9), "alif": (ALIF, 0.35e-9), "adex": (AdEx, 0.8e-9), "qif": (QIF, 80e-12)}


def noisy_step(amplitude: float, n_steps: int, seed: int = 0) -> np.ndarray:
    """float[T]: 0 for the first 10 %, then `amplitude` plus white noise of sd amplitude/6 [A]."""
    rng = np.random.default_rng(seed)
    base = np.where(np.arange(n_steps) >= n_steps // 10, amplitude, 0.0)
    return base + amplitude / 6 * rng.standard_normal(n_steps)


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_model(name: str, duration: float, repeats: int) -> dict:
    layer_cls, amplitude = MODELS[name]
    current = noisy_step(amplitude, int(round(duration / DT)))
    first, trace = timed(lambda: simulate(name, None, current, DT))
    warm = [timed(lambda: simulate(name, None, current, DT))[0] for _ in range(repeats)]
    row = {"model": name, "spikes": len(trace.spike_times[0]), "brian2_first_s": first,
           "brian2_warm_s": statistics.median(warm), "target": trace.target}
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        layer = layer_cls(1, DT)
        x = torch.tensor(current, dtype=dtype)[:, None, None]
        with torch.no_grad():
            times = [timed(lambda: layer.simulate(x))[0] for _ in range(repeats)]
        row[f"torch_{tag}_s"] = statistics.median(times)
    row["brian2_over_torch_f64"] = row["brian2_warm_s"] / row["torch_f64_s"]
    return row


def write_csv(rows: list[dict], path: Path) -> None:
    """Write via a temporary file and rename (never a half-written table)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s runs, 2 repeats, reuse the Cython cache")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    duration = 1.0 if args.quick else 10.0
    repeats = args.repeats or (2 if args.quick else 5)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="biofit_bench_cython_") as fresh_cache:
        if not args.quick:
            # A fresh cache: the first run of each model includes its Cython compilation.
            prefs.codegen.runtime.cython.cache_dir = fresh_cache
        rows = [bench_model(name, duration, repeats) for name in MODELS]
    first_label = "first run (disk cache)" if args.quick else "first run (compile)"
    print(f"one neuron, {duration:g} s at dt = {DT * 1e3:g} ms, medians of {repeats} repeats, torch 1 thread")
    print(f"{'model':6} {'spikes':>6} {first_label:>22} {'brian2 warm':>12} {'torch f64':>10} "
          f"{'torch f32':>10} {'brian2/torch f64':>17}")
    for r in rows:
        print(f"{r['model']:6} {r['spikes']:6d} {r['brian2_first_s']:21.2f}s {r['brian2_warm_s']:11.3f}s "
              f"{r['torch_f64_s']:9.3f}s {r['torch_f32_s']:9.3f}s {r['brian2_over_torch_f64']:17.2f}")
    out = Path(__file__).resolve().parent / "results" / "bench_brian2_reference.csv"
    write_csv(rows, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
