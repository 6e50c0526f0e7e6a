"""LIF network 784-100-10, T = 100, batch 128: forward + backward + Adam step on CPU.

Compares biofit's `LIF` layer with snnTorch (`snntorch.Leaky`) and Norse (`LIFBoxCell`, and
`LIFCell`, which adds a synaptic current) in the same run, with the same sizes and the same
structure for every framework: a `Linear` applied to the whole [T, B, in] sequence, then the
neuron loop over time, twice; loss = cross-entropy of the output spike counts. All neurons have a
membrane decay of exp(-0.1) per step (tau = 10 ms at dt = 1 ms) and no refractory period. A last
row times the same network with the neurons removed: the cost every framework shares. The
"generated step" row runs biofit's LIF without its fused fast path (the torch step generated from
the Brian2 equations, one autograd node per operation), to show what the fused scan buys.

Timing: each framework runs in its own subprocess (fresh allocator, separate memory high-water
mark); `--rounds` rounds interleave the frameworks to spread machine noise; each process times
`--repeats` iterations after 2 warm-up iterations. Reported: medians over all timed iterations of
the wall time and of the process CPU time (`time.process_time`). On a machine shared with other
jobs the wall time mostly measures the others' load; with ``--threads 1`` the CPU time is close to
the wall time an idle machine would show, so its ratio is the steadier one.

Memory: `tracemalloc` does not see torch's allocations, so each subprocess reads its resident set
size: the baseline (``VmRSS`` after imports, model and data construction, before any forward pass)
and the peak (``ru_maxrss`` after the timed iterations). "peak extra" = peak - baseline, the memory
that training the network itself needs (activations kept for backward, gradients, Adam state).

Threads: every framework runs with the same ``torch.set_num_threads``; by default one table for 1
thread and one for 2 (``--threads 1 2``).

Usage: ``python benchmarks/bench_lif_network.py [--quick] [--threads 1 2]``; writes
``benchmarks/results/bench_lif_network.csv`` too (all tables, a ``threads`` column).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T, B, N_IN, N_HID, N_OUT = 100, 128, 784, 100, 10
DT, TAU = 1e-3, 10e-3
BETA = math.exp(-DT / TAU)
FRAMEWORKS = ("biofit", "biofit_generated", "biofit_learn", "snntorch", "norse_box", "norse_lif", "linear_only")
LABELS = {
    "biofit": "biofit LIF (fused scan)",
    "biofit_generated": "biofit LIF, generated step (no fused scan)",
    "biofit_learn": "biofit LIF, learn=(tau_mem, v_th)",
    "snntorch": "snnTorch Leaky",
    "norse_box": "Norse LIFBoxCell",
    "norse_lif": "Norse LIFCell (with synapse)",
    "linear_only": "(floor: the two Linear layers, no neurons)",
}


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmRSS not found in /proc/self/status")


def _neuron_loop(framework: str, n: int):
    """A function current[T, B, n] -> spikes[T, B, n] for `framework` (imports inside: one per process)."""
    import torch

    if framework.startswith("biofit"):
        from biofit.neurons import LIF

        learn = ("tau_mem", "v_th") if framework == "biofit_learn" else ()
        layer = LIF(n, DT, tau_mem=TAU, t_ref=0.0, learn=learn)
        if framework == "biofit_generated":
            layer.fused = None  # the step generated from the Brian2 equations, without the fused scan
        # same regime as threshold-1 peers: one input unit moves v by (v_th - v_rest) per step
        p = layer.intrinsic()
        scale = float((p["v_th"] - p["v_rest"]).mean() / (p["R"].mean() * (1.0 - BETA)))
        return layer, lambda cur: layer(cur * scale)
    if framework == "linear_only":
        return torch.nn.Identity(), lambda cur: cur
    if framework == "snntorch":
        import snntorch as snn

        cell = snn.Leaky(beta=BETA)

        def run(cur):
            mem = cell.init_leaky()
            out = []
            for c in cur:
                s, mem = cell(c, mem)
                out.append(s)
            return torch.stack(out)

        return cell, run
    from norse.torch import LIFBoxCell, LIFBoxParameters, LIFCell, LIFParameters

    inv = torch.tensor(1.0 / TAU)
    if framework == "norse_box":
        cell = LIFBoxCell(LIFBoxParameters(tau_mem_inv=inv), dt=DT)
    else:
        cell = LIFCell(LIFParameters(tau_mem_inv=inv), dt=DT)

    def run(cur):
        state, out = None, []
        for c in cur:
            s, state = cell(c, state)
            out.append(s)
        return torch.stack(out)

    return cell, run


def worker(framework: str, repeats: int, threads: int) -> dict:
    """Time `repeats` training iterations of `framework`; returns times (ms) and memory (MB)."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(T, B, N_IN, generator=gen) < 0.1).float()
    labels = torch.randint(0, N_OUT, (B,), generator=gen)
    fc1, fc2 = torch.nn.Linear(N_IN, N_HID), torch.nn.Linear(N_HID, N_OUT)
    cell1, run1 = _neuron_loop(framework, N_HID)
    cell2, run2 = _neuron_loop(framework, N_OUT)
    modules = torch.nn.ModuleList([fc1, fc2, cell1, cell2])
    opt = torch.optim.Adam(modules.parameters(), lr=1e-3)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        counts = run2(fc2(run1(fc1(x)))).sum(0)
        loss = torch.nn.functional.cross_entropy(counts, labels)
        loss.backward()
        opt.step()
        return float(loss)

    baseline = _rss_mb()
    for _ in range(2):
        step()
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(1e3 * (time.perf_counter() - t0))
        cpu.append(1e3 * (time.process_time() - c0))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"framework": framework, "times_ms": times, "cpu_ms": cpu, "baseline_mb": baseline, "peak_mb": peak}


def _measure(threads: int, rounds: int, repeats: int) -> list[tuple]:
    """Run every framework `rounds` times (interleaved) with `threads` torch threads; table rows."""
    results: dict[str, dict] = {
        f: {"times_ms": [], "cpu_ms": [], "baseline_mb": [], "peak_mb": []} for f in FRAMEWORKS
    }
    for _ in range(rounds):
        for fw in FRAMEWORKS:
            cmd = [sys.executable, __file__, "--worker", fw, "--repeats", str(repeats),
                   "--threads", str(threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            results[fw]["times_ms"] += r["times_ms"]
            results[fw]["cpu_ms"] += r["cpu_ms"]
            results[fw]["baseline_mb"].append(r["baseline_mb"])
            results[fw]["peak_mb"].append(r["peak_mb"])
    rows = []
    ref_wall = statistics.median(results["snntorch"]["times_ms"])
    ref_cpu = statistics.median(results["snntorch"]["cpu_ms"])
    for fw in FRAMEWORKS:
        wall = statistics.median(results[fw]["times_ms"])
        cpu = statistics.median(results[fw]["cpu_ms"])
        peak = statistics.median(results[fw]["peak_mb"])
        extra = statistics.median(p - b for p, b in zip(results[fw]["peak_mb"], results[fw]["baseline_mb"]))
        rows.append((threads, LABELS[fw], wall, ref_wall / wall, cpu, ref_cpu / cpu, extra, peak))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 round x 3 repeats (smoke run)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                    help="torch thread counts, one table each (the same for every framework)")
    ap.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeats, args.threads[0])))
        return
    rounds, repeats = (1, 3) if args.quick else (args.rounds, args.repeats)
    rows = []
    for threads in args.threads:
        table = _measure(threads, rounds, repeats)
        rows += table
        print(f"LIF 784-{N_HID}-{N_OUT}, T={T}, B={B}, fwd+bwd+Adam, CPU, {threads} thread(s), "
              f"{rounds} rounds x {repeats} repeats (medians)")
        print(f"| {'framework':42s} | wall ms | snnTorch/this | CPU ms | snnTorch/this | peak extra MB | peak RSS MB |")
        print(f"|{'-' * 44}|---------|---------------|--------|---------------|---------------|-------------|")
        for _, label, wall, r_wall, cpu, r_cpu, extra, peak in table:
            print(f"| {label:42s} | {wall:7.1f} | {r_wall:13.2f} | {cpu:6.1f} | {r_cpu:13.2f} | {extra:13.0f} | {peak:11.0f} |")
        print()
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".csv")
    with os.fdopen(fd, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["threads", "framework", "wall_ms", "snntorch_over_this_wall", "cpu_ms",
                    "snntorch_over_this_cpu", "peak_extra_mb", "peak_rss_mb"])
        w.writerows(rows)
    os.replace(tmp, out_dir / "bench_lif_network.csv")


if __name__ == "__main__":
    main()
