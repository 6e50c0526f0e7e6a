"""Block-ALIF against the sequential ALIF: forward + backward time, ratios measured in one run.

Network (2311.11390's speed benchmark): 1000 Poisson inputs (20 Hz) -> 128 recurrent ALIF units,
batch 32 (``--batch 32 128`` for both), T in {512, 1024, 2048} steps of dt = 0.1 ms, absolute
refractory period R in {1, 2, 3, 5, 10, 20, 40, 80} steps, each BlockALIF kernel (``--kernel``:
``scan``, the CPU default, and ``toeplitz``, the parallel form; both by default). Times on CPU
are process-CPU seconds (``seq_s``, ``block_s``, ``speedup``; wall-clock ones beside them); on a
GPU both are wall-clock. Both models get the same input current: the input projection
``spikes @ W_in``, inside both timings (``--projection``: ``events``, the default,
`biofit.neurons.spike_input.project_spikes`, or ``sparse_mm``, `torch.sparse.mm` on a COO
tensor; its own time ``projection_s`` is printed, and ``speedup_layer`` is the ratio with it
subtracted from both) and the same recurrent weights (delay R + 1 steps). Sequential =
`BlockALIF.run_sequential` (the generated ALIF step of `biofit.neurons.layer` applied step by
step, plus ``W z[t - R - 1]``); block = `BlockALIF`. The
loss is ``spikes.sum()``; the time is forward + backward, the median of ``--repeats`` runs after
one warm-up.

A speedup is only meaningful if the baseline is linear in T (see PEERS.md): every row prints the
sequential time at T and at 2T. ``same_spikes`` says whether the two spike trains are identical
(float32; ties at threshold may differ by rounding, see `biofit.neurons.block_alif`).

Usage::

    python benchmarks/block_alif.py [--quick] [--device cpu|cuda] [--batch 32 128] [--threads 1]
        [--kernel scan toeplitz] [--arps 1 2 3 5 10 20 40 80] [--t-lens 512 1024 2048]
        [--projection events|sparse_mm]

Writes ``benchmarks/results/block_alif.csv`` (written to a temp file, then renamed).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from biofit.neurons.block_alif import BlockALIF
from biofit.neurons.spike_input import SpikeEvents, project_spikes

N_IN, N_REC, RATE_HZ, DT = 1000, 128, 20.0, 1e-4
LEARN = ("tau_mem", "tau_adapt", "beta", "v_th")
RESULTS = Path(__file__).resolve().parent / "results" / "block_alif.csv"


def make_inputs(t_len: int, batch: int, device: str, seed: int = 0, projection: str = "events"):
    """Poisson input spikes ``[T * B, N_IN]`` (`SpikeEvents`, or a sparse COO tensor for
    ``projection="sparse_mm"``) and input weights ``[N_IN, N_REC]`` (A)."""
    g = torch.Generator().manual_seed(seed)
    spikes = (torch.rand(t_len * batch, N_IN, generator=g) < RATE_HZ * DT).to(device)
    w_in = torch.randn(N_IN, N_REC, generator=g) * 1.5e-9 + 0.1e-9
    if projection == "sparse_mm":
        return spikes.float().to_sparse(), w_in.to(device).requires_grad_()
    return SpikeEvents.from_dense(spikes), w_in.to(device).requires_grad_()


def project(spikes_in, w_in):
    """The input current ``[T * B, N_REC]`` of either input form of `make_inputs`."""
    if isinstance(spikes_in, SpikeEvents):
        return project_spikes(spikes_in, w_in)
    return torch.sparse.mm(spikes_in, w_in)


def make_layer(arp: int, device: str, seed: int = 0, kernel: str = "auto") -> BlockALIF:
    layer = BlockALIF(N_REC, DT, arp_steps=arp, recurrent=True, learn=LEARN, beta=2e-3,
                      kernel=kernel)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.recurrent_weight.copy_(torch.randn(N_REC, N_REC, generator=g) * 2e-10)
    return layer.to(device)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_run(run, spikes_in, w_in, t_len, batch, device, repeats):
    """Median wall and process-CPU seconds of forward + backward of ``run(current)``, and the spikes.

    On a shared CPU the process time (all threads of this process) is the steadier measure: it
    excludes the time the process waits for a core.
    """
    wall, cpu, out = [], [], None
    for i in range(repeats + 1):
        w_in.grad = None
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        current = project(spikes_in, w_in).view(t_len, batch, N_REC)
        out = run(current)
        out.sum().backward()
        _sync(device)
        if i > 0:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    if not device.startswith("cpu"):  # the process time of a GPU run is the host's, not the GPU's
        cpu = wall
    return statistics.median(wall), statistics.median(cpu), out.detach()


def time_projection(spikes_in, w_in, device, repeats):
    """Median time (process-CPU on CPU, wall on a GPU) of the input projection's fwd + bwd alone."""
    clock = time.process_time if device.startswith("cpu") else time.perf_counter
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = clock()
        project(spikes_in, w_in).sum().backward()
        _sync(device)
        times.append(clock() - t0)
    return statistics.median(times)


def run_benchmark(t_lens, arps, batches, device, repeats, kernels, projection):
    rows = []
    for batch in batches:
        seq_time = {}
        for t_len in sorted(set(t_lens) | {2 * t for t in t_lens}):
            spikes_in, w_in = make_inputs(t_len, batch, device, projection=projection)
            layer = make_layer(arps[0], device)
            _, seq_time[t_len], _ = time_run(lambda x: layer.run_sequential(x)[0], spikes_in, w_in,
                                             t_len, batch, device, repeats)
            print(f"  sequential B={batch} T={t_len}: {seq_time[t_len]:.3f} s (cpu)", flush=True)
        for t_len in t_lens:
            spikes_in, w_in = make_inputs(t_len, batch, device, projection=projection)
            proj = time_projection(spikes_in, w_in, device, repeats)
            for arp in arps:
                layer = make_layer(arp, device)
                w_seq, t_seq, s_seq = time_run(lambda x: layer.run_sequential(x)[0], spikes_in,
                                               w_in, t_len, batch, device, repeats)
                for kernel in kernels:
                    layer = make_layer(arp, device, kernel=kernel)
                    w_blk, t_blk, s_blk = time_run(layer, spikes_in, w_in, t_len, batch, device,
                                                   repeats)
                    rows.append(_row(device, batch, t_len, arp, kernel, t_seq, t_blk, w_seq, w_blk,
                                     seq_time, proj, s_seq, s_blk) | {"projection": projection})
                    print(_format(rows[-1]), flush=True)
    return rows


def _row(device, batch, t_len, arp, kernel, t_seq, t_blk, w_seq, w_blk, seq_time, proj, s_seq,
         s_blk) -> dict:
    return {
        "device": device, "threads": torch.get_num_threads(), "batch": batch, "T": t_len,
        "arp_steps": arp, "kernel": kernel, "seq_s": round(t_seq, 4), "block_s": round(t_blk, 4),
        "speedup": round(t_seq / t_blk, 2), "seq_wall_s": round(w_seq, 4),
        "block_wall_s": round(w_blk, 4), "speedup_wall": round(w_seq / w_blk, 2),
        "seq_T_s": round(seq_time[t_len], 4), "seq_2T_s": round(seq_time[2 * t_len], 4),
        "projection_s": round(proj, 4),
        "speedup_layer": round((t_seq - proj) / max(t_blk - proj, 1e-9), 2),
        "spikes": int(s_blk.sum()), "same_spikes": bool(torch.equal(s_seq, s_blk)),
        "n_spikes_differ": int((s_seq != s_blk).sum()),
    }


def _format(r: dict) -> str:
    return (f"B={r['batch']:4d} T={r['T']:5d} R={r['arp_steps']:3d} {r['kernel']:8s} | cpu: seq "
            f"{r['seq_s']:7.3f} s "
            f"block {r['block_s']:6.3f} s speedup {r['speedup']:6.2f}x | wall speedup "
            f"{r['speedup_wall']:6.2f}x | seq(T) {r['seq_T_s']:.3f} s "
            f"seq(2T) {r['seq_2T_s']:.3f} s | proj {r['projection_s']:.4f} s, layer-only speedup "
            f"{r['speedup_layer']:6.2f}x | spikes {r['spikes']} "
            f"same={r['same_spikes']} (differ {r['n_spikes_differ']})")


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".csv.tmp")
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="T in {256, 512}, R in {1, 10, 40}, 1 repeat")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, nargs="+", default=[32])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--kernel", nargs="+", default=["scan", "toeplitz"],
                    choices=["scan", "toeplitz"], help="BlockALIF kernels to time (scan: CPU only)")
    ap.add_argument("--projection", default="events", choices=["events", "sparse_mm"],
                    help="input projection shared by both models (see the module docstring)")
    ap.add_argument("--arps", type=int, nargs="+", default=[1, 2, 3, 5, 10, 20, 40, 80],
                    help="refractory periods R (steps)")
    ap.add_argument("--t-lens", type=int, nargs="+", default=[512, 1024, 2048],
                    help="sequence lengths T (steps)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t_lens, arps, repeats = args.t_lens, args.arps, args.repeats
    if args.quick:
        t_lens, arps, repeats = [256, 512], [1, 10, 40], 1
    print(f"Block-ALIF vs sequential ALIF, fwd+bwd, {N_IN} Poisson inputs -> {N_REC} recurrent, "
          f"device={args.device}, threads={torch.get_num_threads()}, median of {repeats}, "
          f"projection={args.projection}")
    rows = run_benchmark(t_lens, arps, args.batch, args.device, repeats, args.kernel,
                         args.projection)
    write_csv(rows, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
