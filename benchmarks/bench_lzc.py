"""Benchmark the Lempel-Ziv complexity kernels (biofit.encoding.lzc) against their peers.

Tables (medians of repeats, wall-clock seconds, peers measured in the same run):
  1. lzc_batch (LZ76) on a 1000 x 10 000 Bernoulli(0.5) raster vs antropy.lziv_complexity per row.
  2. LZ76 of one sequence, n = 1e4 ... 1e7, time and time/n: Bernoulli p = 0.5 and p = 0.01 (a
     10 Hz spike train in 1 ms bins), all zeros and periodic. antropy is timed while it finishes
     in reasonable time: its scan costs ~n^2 / log n on random input and more on sparse input,
     but only O(n * period) on constant and periodic input, where it is faster than ours.
  3. LZ78 vs the lempel-ziv-complexity package at n = 1e5, 1e6.
  0. numba compile cost: first call in a fresh process with an empty cache, then with the cache.

Usage: python benchmarks/bench_lzc.py [--quick]   (also writes benchmarks/results/lzc.csv)
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from biofit.encoding.lzc import lempel_ziv_complexity, lzc_batch

ROWS: list[dict] = []


def median_time(fn, repeats: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of ``repeats`` calls of ``fn``.

    CPU time is reported beside wall time because on a busy shared machine wall time is
    inflated by waiting for a core.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def record(table: str, case: str, ours: tuple[float, float], peer: float | None, note: str = "") -> None:
    """Print one row and keep it for the CSV; ``ours`` = (wall s, cpu s), ``peer`` = wall s."""
    wall, cpu = ours
    ROWS.append(
        {"table": table, "case": case, "biofit_s": wall, "biofit_cpu_s": cpu, "peer_s": peer, "note": note}
    )
    ratio = f"{peer / wall:9.1f}x" if peer else " " * 10
    p = f"{peer:10.4f}" if peer is not None else " " * 10
    print(f"{case:<44}{wall:10.4f}{cpu:10.4f}{p}{ratio}  {note}")


def header(title: str, peer: str) -> None:
    print(f"\n## {title}\n{'case':<44}{'biofit s':>10}{'(cpu s)':>10}{peer:>10}{'ratio':>10}  note")


def compile_cost() -> None:
    header("0. numba compile cost (fresh process, first call of lempel_ziv_complexity)", "")
    code = (
        "import time; t0 = time.perf_counter(); "
        "from biofit.encoding.lzc import lempel_ziv_complexity as f; t1 = time.perf_counter(); "
        "f('0110', 'lz76'); f('0110', 'lz78'); print(t1 - t0, time.perf_counter() - t1)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("empty cache (compile)", "warm cache (load)"):
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            t_import, t_first = map(float, out.stdout.split())
            note = f"import lzc {t_import:.2f} s; wall time of the child, cpu column n/a"
            record("compile", f"first call, {label}", (t_first, float("nan")), None, note)


def batch_table(quick: bool) -> None:
    header("1. lzc_batch LZ76 on a 1000 x 10 000 Bernoulli(0.5) raster", "antropy")
    X = np.random.default_rng(0).random((1000, 10_000)) < 0.5
    lzc_batch(X[:2], normalize=False)
    ours = median_time(lambda: lzc_batch(X, normalize=False), 3 if quick else 5)
    import antropy  # imported here: its import compiles numba code for ~10 s

    n_peer = 50 if quick else 1000
    Xi = X[:n_peer].astype(np.int64)
    antropy.lziv_complexity(Xi[0, :10])
    t0 = time.perf_counter()
    peer_counts = [antropy.lziv_complexity(row) for row in Xi]
    peer = (time.perf_counter() - t0) * (1000 / n_peer)
    assert np.array_equal(lzc_batch(X[:n_peer], normalize=False), peer_counts)
    note = "peer: all 1000 rows, 1 run" if n_peer == 1000 else f"peer: {n_peer} rows timed, x{1000 // n_peer}"
    record("batch", "1000 x 10000, p = 0.5", ours, peer, note + "; counts equal")


def single_table(quick: bool) -> None:
    header("2. LZ76 of one sequence (time/n in ns per symbol)", "antropy")
    import antropy

    rng = np.random.default_rng(1)
    word = rng.random(37) < 0.5
    inputs = {
        "random p=0.5": lambda n: rng.random(n) < 0.5,
        "sparse p=0.01": lambda n: rng.random(n) < 0.01,
        "all zeros": lambda n: np.zeros(n, dtype=bool),
        "periodic (period 37)": lambda n: np.resize(word, n),
    }
    sizes = [10**4, 10**5, 10**6] + ([] if quick else [10**7])
    for name, make in inputs.items():
        peer_ok = True
        for n in sizes:
            x = make(n)
            repeats = 3 if n >= 10**7 else 5
            ours = median_time(lambda: lempel_ziv_complexity(x, normalize=False), repeats)
            peer = None
            if peer_ok:
                xi = x.astype(np.int64)
                peer = median_time(lambda: antropy.lziv_complexity(xi), 1 if n >= 10**5 else 3)[0]
                peer_ok = peer < 1.0  # the next size would take > 10-100x longer
            note = f"{ours[0] / n * 1e9:6.1f} ns/symbol wall, {ours[1] / n * 1e9:6.1f} cpu"
            record("single", f"{name}, n = {n:.0e}", ours, peer, note if peer else note + "; peer skipped")


def lz78_table(quick: bool) -> None:
    header("3. LZ78 (same string input) vs lempel-ziv-complexity", "package")
    from lempel_ziv_complexity import lempel_ziv_complexity as lz78_package

    rng = np.random.default_rng(2)
    for n in [10**5, 10**6]:
        s = "".join(np.where(rng.random(n) < 0.5, "1", "0"))
        peer = median_time(lambda: lz78_package(s), 1 if quick else 3)[0]
        ours = median_time(lambda: lempel_ziv_complexity(s, "lz78", normalize=False), 5)
        assert lempel_ziv_complexity(s, "lz78", normalize=False) == lz78_package(s)
        record("lz78", f"random p=0.5, n = {n:.0e}", ours, peer, "counts equal")


def write_csv(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    os.replace(f.name, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run: no n = 1e7, peer on 50 rows")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} (timings are noisy when > 0)")
    compile_cost()
    batch_table(args.quick)
    single_table(args.quick)
    lz78_table(args.quick)
    out = Path(__file__).resolve().parent / "results" / "lzc.csv"
    write_csv(out)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
