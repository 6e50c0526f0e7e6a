"""Benchmark Poisson spike-train generation (biofit.encoding.poisson) against its peers.

Cases (medians of repeats, wall-clock ms; peers measured in the same run):
  1. 1000 trains x 10 s at 20 Hz, 1 ms bins: our bool raster, our int counts and our exact event
     times vs Elephant's StationaryPoissonProcess(...).generate_n_spiketrains(1000, as_array=True)
     (plain arrays of spike times, its fastest output). Also plain numpy event times (counts +
     sorted uniforms, the floor any event-times generator can reach) for scale.
  2. The same with a 2 ms absolute refractory period (Elephant's refractory_period).
  3. 100 Hz, to show how the costs grow with the number of spikes.
  4. Rate coding, 1000 steps x 1 x 1000 neurons (torch, CPU): rate_code vs snntorch.spikegen.rate
     (which draws a Bernoulli with p = feature per step; ours p = 1 - exp(-rate dt)).

Usage: python benchmarks/bench_poisson.py [--quick]   (also writes benchmarks/results/poisson.csv)
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from biofit.encoding.poisson import (
    poisson_spike_counts,
    poisson_spike_times,
    poisson_spike_trains,
    rate_code,
)

N_TRAINS, DURATION_S, DT_S = 1000, 10.0, 1e-3
ROWS: list[dict] = []


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up (imports, allocator)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def row(case: str, ours: float, peer: float | None, peer_name: str) -> None:
    ratio = peer / ours if peer is not None else None
    ROWS.append({"case": case, "biofit_ms": round(ours, 3), "peer": peer_name,
                 "peer_ms": None if peer is None else round(peer, 3),
                 "ratio": None if ratio is None else round(ratio, 2)})
    p = f"{peer:10.2f}" if peer is not None else " " * 10
    r = f"{ratio:8.1f}x" if ratio is not None else " " * 9
    print(f"| {case:<46} | {ours:9.2f} | {peer_name:<22} | {p} | {r} |")


def numpy_event_times(rate_hz: float, rng) -> list[np.ndarray]:
    """Reference floor: Poisson counts, then sorted uniform times per train."""
    counts = rng.poisson(rate_hz * DURATION_S, N_TRAINS)
    u = rng.random(counts.sum()) * DURATION_S
    return [np.sort(seg) for seg in np.split(u, np.cumsum(counts)[:-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 11")
    args = parser.parse_args()
    reps = 3 if args.quick else 11

    import quantities as pq
    from elephant.spike_train_generation import StationaryPoissonProcess

    def elephant(rate_hz, refractory_s=None):
        ref = None if refractory_s is None else refractory_s * pq.s
        proc = StationaryPoissonProcess(rate=rate_hz * pq.Hz, t_stop=DURATION_S * pq.s,
                                        refractory_period=ref)
        return lambda: proc.generate_n_spiketrains(N_TRAINS, as_array=True)

    print(f"{N_TRAINS} trains x {DURATION_S:g} s, dt = {DT_S * 1e3:g} ms; medians of {reps} "
          f"repeats, ms (torch threads: {torch.get_num_threads()})\n")
    print(f"| {'case':<46} | {'biofit ms':>9} | {'peer':<22} | {'peer ms':>10} | {'ratio':>9} |")
    print(f"|{'-' * 48}|{'-' * 11}|{'-' * 24}|{'-' * 12}|{'-' * 11}|")
    rng = np.random.default_rng(0)
    for rate in (20.0, 100.0):
        t_el = median_ms(elephant(rate), reps)
        kw = dict(duration=DURATION_S, n_trains=N_TRAINS, seed=rng)
        t = median_ms(lambda: poisson_spike_trains(rate, dt=DT_S, **kw), reps)
        row(f"{rate:g} Hz bool raster [1000, 10000]", t, t_el, "elephant (times)")
        t = median_ms(lambda: poisson_spike_counts(rate, dt=DT_S, **kw), reps)
        row(f"{rate:g} Hz int counts [1000, 10000]", t, t_el, "elephant (times)")
        row(f"{rate:g} Hz event times (list of arrays)",
            median_ms(lambda: poisson_spike_times(rate, **kw), reps), t_el, "elephant (times)")
        row(f"{rate:g} Hz event times (list of arrays)",
            median_ms(lambda: poisson_spike_times(rate, **kw), reps),
            median_ms(lambda: numpy_event_times(rate, rng), reps), "numpy counts+sort")
    t_el = median_ms(elephant(20.0, 2e-3), reps)
    kw = dict(duration=DURATION_S, n_trains=N_TRAINS, refractory=2e-3, seed=rng)
    t = median_ms(lambda: poisson_spike_trains(20.0, dt=DT_S, **kw), reps)
    row("20 Hz, 2 ms dead time, bool raster", t, t_el, "elephant (times)")
    row("20 Hz, 2 ms dead time, event times",
        median_ms(lambda: poisson_spike_times(20.0, **kw), reps), t_el, "elephant (times)")

    features = torch.rand(1, 1000)
    gen = torch.Generator().manual_seed(0)
    ours = median_ms(lambda: rate_code(features, 1000, DT_S, 100.0, seed=gen), reps)
    try:
        from snntorch import spikegen

        peer = median_ms(lambda: spikegen.rate(features * 0.1, num_steps=1000), reps)
    except ImportError:
        peer = None
    row("rate_code 1000 steps x 1000 neurons", ours, peer, "snntorch.spikegen.rate")

    out = Path(__file__).resolve().parent / "results" / "poisson.csv"
    out.parent.mkdir(exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
