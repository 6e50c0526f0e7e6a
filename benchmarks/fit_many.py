"""Many fits on a Dask cluster: wall time per fit and parallel efficiency with 1 and 2 workers.

N synthetic LIF cells (Brian2, known parameters, current steps and a smoothed-noise current) are
fitted by `biofit.parallel.fit_many` on a `LocalCluster` of 1 and of 2 worker processes (one thread
each, torch at one thread), every fit saved (fit.json, fit.nwb, fit.png) and recomputed on each
run (``force=True``); and by `biofit.parallel.fit_each` in this process, one after another, as the
baseline without Dask. The clusters are started and each worker has run one fit (its imports and
Brian2's code loaded) before the clock starts: their start-up is reported on its own. Reported:
median and range of the runs, wall time per fit, speed-up and efficiency ``T(1) / (n T(n))``
against the 1-worker cluster, the load average, and the bytes sent per task (the pickled task:
the recording as NPZ bytes, or only its path) and sent back (the fit's files).

Run it alone (no tests or other benchmarks beside it, see ../shared/PEERS.md): on a shared
machine the 2-worker time measures the neighbours as much as biofit.

    .venv/bin/python benchmarks/fit_many.py            # 8 cells x 4 s of data, CMA-ES 16 x 15, 3 runs
    .venv/bin/python benchmarks/fit_many.py --quick    # 4 tiny cells, 10 gradient steps, 1 run
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd

from biofit.fitting import CMAES, Gradient, Prior
from biofit.io import Recording, RecordingInfo, Sweep
from biofit.parallel import connect, fit_each, fit_many, plan, run_fit_task, write_csv
from biofit.reference import simulate

DT = 1e-4
PRIORS = {"tau_mem": Prior(5e-3, 50e-3, log=True), "R": Prior(5e7, 5e8, log=True)}


def lif_cell(k: int, sweep_s: float) -> Recording:
    """Cell k (tau_mem 12 + k ms): steps of 160 and 220 pA and, in the full size, two noisy
    currents (150 pA +- smoothed white noise, seeded by k); each sweep `sweep_s` long."""
    n = int(round(sweep_s / DT))
    rng = np.random.default_rng(k)
    currents = []
    for amplitude in (160e-12, 220e-12):
        c = np.zeros(n)
        c[n // 6:5 * n // 6] = amplitude
        currents.append(c)
    if sweep_s >= 1.0:
        for _ in range(2):
            currents.append(150e-12 + 400e-12 * np.convolve(rng.standard_normal(n), np.ones(50) / 50, "same"))
    truth = {"tau_mem": 12e-3 + 1e-3 * k, "R": 1.5e8, "t_ref": 0.0}
    trace = simulate("lif", truth, np.stack(currents, axis=1), DT)
    sweeps = [Sweep(j, DT, currents[j], trace.v[:, j], trace.spike_times[j]) for j in range(len(currents))]
    return Recording(sweeps, RecordingInfo(cell=f"cell{k}", extra={"true_parameters": truth}))


def options(quick: bool) -> dict:
    optimizer = Gradient(iterations=10, seed=0) if quick else CMAES(population=16, generations=15, seed=0)
    return dict(method="gradient" if quick else "cmaes", optimizer=optimizer, params=("tau_mem", "R"),
                priors=PRIORS, fixed={"t_ref": 0.0}, test_sweeps=[1], seed=0)


def warm_up(client, cell: Recording, fit_options: dict) -> None:
    """One fit on every worker, so that imports and Brian2's code loading are not timed."""
    task = plan([cell], "lif", None)[0].task("data", None)
    futures = [client.submit(run_fit_task, task, fit_options, 1, False, workers=[w], pure=False)
               for w in client.scheduler_info()["workers"]]
    client.gather(futures)


def timed_runs(run, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="biofit_bench_fit_many_") as out:
            start = time.perf_counter()
            results = run(Path(out))
            times.append(time.perf_counter() - start)
            failed = [r for r in results if not hasattr(r, "parameters")]
            if failed:
                raise RuntimeError(f"fits failed: {failed}")
    return times


def sizes(cells: list[Recording], fit_options: dict, out: Path) -> dict:
    """Bytes of the pickled task (recording as data / as a path) and of the files sent back."""
    job = plan(cells, "lif", None)[0]
    sent = len(cloudpickle.dumps((job.task("data", None), fit_options, 1, True)))
    by_path = plan([out / "cell0.npz"], "lif", None)[0].task("path", None)
    returned = sum(p.stat().st_size for p in (out / "cell0").iterdir())
    return {"sent_data_B": sent, "sent_path_B": len(cloudpickle.dumps((by_path, fit_options, 1, True))),
            "returned_B": returned}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 tiny cells, 10 gradient steps, 1 run")
    parser.add_argument("--cells", type=int, help="number of cells (default 8, quick 4)")
    parser.add_argument("--repeats", type=int, help="timed runs per setting (default 3, quick 1)")
    args = parser.parse_args()
    n_cells = args.cells or (4 if args.quick else 8)
    repeats = args.repeats or (1 if args.quick else 3)
    cells = [lif_cell(k, 0.3 if args.quick else 1.0) for k in range(n_cells)]
    fit_options = options(args.quick)
    rows = []
    times = timed_runs(lambda out: fit_each(cells, model="lif", out_dir=out, progress=False, **fit_options),
                       repeats)
    rows.append({"setting": "in process (fit_each)", "workers": 1, "start_s": 0.0, "times": times})
    for workers in (1, 2):
        start = time.perf_counter()
        with connect(None, workers) as client:
            warm_up(client, cells[0], fit_options)
            start_s = time.perf_counter() - start
            times = timed_runs(lambda out: fit_many(cells, model="lif", scheduler=client, out_dir=out,
                                                    force=True, progress=False, **fit_options), repeats)
        rows.append({"setting": f"LocalCluster, {workers} worker(s)", "workers": workers, "start_s": start_s,
                     "times": times})
    one = statistics.median(rows[1]["times"])
    table = []
    for r in rows:
        median = statistics.median(r["times"])
        table.append({"setting": r["setting"], "cells": n_cells, "runs": repeats, "wall_s": median,
                      "min_s": min(r["times"]), "max_s": max(r["times"]), "per_fit_s": median / n_cells,
                      "speedup_vs_1_worker": one / median, "efficiency": one / (r["workers"] * median),
                      "cluster_start_s": r["start_s"]})
    with tempfile.TemporaryDirectory() as tmp:
        from biofit.io import write_npz

        write_npz(cells[0], Path(tmp) / "cell0.npz")
        fit_each(cells[:1], model="lif", out_dir=Path(tmp) / "cell0", progress=False, **fit_options)
        size = sizes(cells, fit_options, Path(tmp))
    load = os.getloadavg()
    print(f"{n_cells} LIF cells x {len(cells[0])} sweeps of {cells[0].sweeps[0].duration:g} s, "
          f"{fit_options['method']}, {repeats} run(s) each; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'setting':28} {'wall':>8} {'range':>15} {'per fit':>8} {'speed-up':>9} {'efficiency':>10} "
          f"{'start-up':>9}")
    for t in table:
        print(f"{t['setting']:28} {t['wall_s']:7.2f}s {t['min_s']:6.2f}-{t['max_s']:6.2f}s {t['per_fit_s']:7.2f}s "
              f"{t['speedup_vs_1_worker']:9.2f} {t['efficiency']:10.2f} {t['cluster_start_s']:8.1f}s")
    print(f"per task: sent {size['sent_data_B'] / 1e3:.1f} kB (recording as NPZ bytes) or "
          f"{size['sent_path_B'] / 1e3:.1f} kB (path only); sent back {size['returned_B'] / 1e3:.1f} kB "
          f"(fit.json, fit.nwb, fit.png)")
    out = Path(__file__).resolve().parent / "results" / "fit_many.csv"
    write_csv(pd.DataFrame([{**t, **size, "load_1min": load[0]} for t in table]), out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
