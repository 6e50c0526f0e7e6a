"""biofit vs brian2modelfitting: wall time to a held-out Γ >= 0.8, and the final Γ, on one cell.

The cell: biofit's ALIF (`biofit.models` ``alif``) with the parameters of the shipped synthetic
ALIF cell (`biofit.io.synthetic.CELLS`), driven by Ornstein-Uhlenbeck currents (150 ± 250 pA,
τ = 10 ms; `biofit.io.synthetic.ou_process`), simulated by Brian2 at dt = 0.1 ms without noise
(``--noise``: with the shipped files' intrinsic and measurement noise, so that nothing can be read
off the data exactly): ``--train`` sweeps to fit, ``--test`` sweeps (other OU draws) to score. Five parameters are
fitted (``FITTED``, biofit's default search ranges `biofit.fitting.DEFAULT_PRIORS` for every
fitter); v_rest, v_reset and t_ref are fixed at the truth.

Fitters, each from the same data, the same Brian2 equations and the same bounds:

* biofit ``gradient`` and ``cmaes`` (`biofit.fitting.fit`, default settings of each method), and
  ``gradient`` with its torch model at dt = 1 ms (``BIOFIT``; ``fit(..., dt=1e-3)``, the current
  averaged over each 1 ms step, as `FitData` does for any step coarser than the sampling);
* brian2modelfitting 0.4 ``TraceFitter`` (voltage, ``MSEMetric``) and ``SpikeFitter`` (spike
  times, its ``GammaFactor`` at Δ = 4 ms), each with its default optimizer
  (``NevergradOptimizer()``: differential evolution) and its default 30 samples a round.
  brian2modelfitting does not import on NumPy 2, so it runs in its own virtual environment
  (``--b2mf-venv``; created on first use with ``numpy==1.23.5 brian2 brian2modelfitting
  "bayesian-optimization<2"``, see ../shared/PEERS.md), in a subprocess that gets the data as
  NumPy files and returns the best parameters after every round with its wall time.

Every fitter records the best parameters so far and the time they were reached (biofit: the
start it reads off the data, at the time that read takes, then its history's ``best``/``time_s``,
the optimizer's own clock, after the read; brian2modelfitting: a round callback, clock started
just before ``fit``). Afterwards, outside the clock, each recorded point is
simulated on the test sweeps by Brian2 and scored with the published Γ (QSNMC 2007, Δ = 4 ms;
`biofit.fitting.coincidence.gamma_factor`), averaged over the test sweeps. Reported per fitter:
time until the test Γ first reaches ``--target`` (median and range over ``--runs`` seeds; "—"
if never), final test Γ, total wall time of the fit call. Brian2's cython code is compiled (and
cached) by a warm-up before any clock starts, in both environments, and biofit's torch layers
are generated (and cached) by a warm-up fit of each of its fitters.

Run it alone (no tests or other benchmarks beside it, see ../shared/PEERS.md):

    .venv/bin/python benchmarks/fit_vs_brian2modelfitting.py             # 3 runs
    .venv/bin/python benchmarks/fit_vs_brian2modelfitting.py --quick     # 1 run, short data

Writes ``benchmarks/results/fit_vs_brian2modelfitting.csv`` (one row per fitter and run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from biofit.fitting import DEFAULT_PRIORS, SearchSpace, fit
from biofit.fitting.coincidence import gamma_factor
from biofit.fitting.data import FitData
from biofit.fitting.initial import initial_point
from biofit.fitting.simulate import simulate_candidates
from biofit.io import Recording, RecordingInfo, Sweep
from biofit.io.synthetic import CELLS, INTRINSIC_SD_PA, INTRINSIC_TAU, MEASUREMENT_SD, ou_process
from biofit.models import MODELS
from biofit.reference import simulate

HERE = Path(__file__).resolve().parent
DT = 1e-4  # s
TRUTH = dict(CELLS["alif"]["params"])
FITTED = ("tau_mem", "R", "v_th", "tau_adapt", "beta")
DELTA = 4e-3  # s, coincidence window of the scored Γ
# biofit's fitters: (method, simulation step in s; None: the data's 0.1 ms). The 1 ms fit runs its
# torch model at a 10x coarser step than the data (`biofit.fitting.data.FitData` resamples the
# current); every fitter's parameters are scored the same way, by Brian2 at 0.1 ms on the test sweeps.
BIOFIT = {"biofit gradient": ("gradient", None), "biofit gradient 1 ms": ("gradient", 1e-3),
          "biofit cmaes": ("cmaes", None)}
B2MF_PACKAGES = ("numpy==1.23.5", "brian2", "brian2modelfitting", "bayesian-optimization<2")

WORKER = r'''
import json, sys, time
import numpy as np
import brian2 as b2
from brian2 import prefs
from brian2modelfitting import TraceFitter, SpikeFitter, NevergradOptimizer, MSEMetric, GammaFactor

prefs.codegen.target = "cython"
job = json.load(open(sys.argv[1]))
units = {name: eval(unit, vars(b2)) for name, unit in job["units"].items()}
globals().update({name: value * units[name] for name, value in job["fixed"].items()})
eqs = job["equations"] + "".join(f"\n{name} : {job['unit_names'][name]} (constant)" for name in job["fitted"])
current = np.load(job["current"]) * b2.amp  # [sweeps, samples]
bounds = {name: [lo * units[name], hi * units[name]] for name, (lo, hi) in job["bounds"].items()}
common = dict(model=b2.Equations(eqs), input=current, dt=job["dt"] * b2.second, threshold=job["threshold"],
              reset=job["reset"], refractory=job["refractory"], method=job["method"],
              param_init={name: eval(value, vars(b2), globals()) for name, value in job["initial"].items()})


def make():
    if job["fitter"] == "trace":
        voltage = np.load(job["voltage"]) * b2.volt
        return TraceFitter(input_var="I_ext", output_var="v", output=voltage, **common), MSEMetric()
    spikes = [np.asarray(s) * b2.second for s in job["spikes"]]
    duration = current.shape[1] * job["dt"] * b2.second
    return (SpikeFitter(input_var="I_ext", output=spikes, **common),
            GammaFactor(delta=job["delta"] * b2.second, time=duration))


np.random.seed(job["seed"])
fitter, metric = make()
fitter.fit(n_rounds=1, optimizer=NevergradOptimizer(), metric=metric, callback=None, **bounds)  # warm-up
np.random.seed(job["seed"])
fitter, metric = make()
trajectory, t0 = [], time.perf_counter()


def record(params, errors, best_params, best_error, index):
    trajectory.append({"time_s": time.perf_counter() - t0,
                       "best": {k: float(v) for k, v in best_params.items()}})
    return trajectory[-1]["time_s"] > job["budget_s"]


fitter.fit(n_rounds=job["rounds"], optimizer=NevergradOptimizer(), metric=metric, callback=record, **bounds)
json.dump({"trajectory": trajectory, "wall_time_s": time.perf_counter() - t0}, open(sys.argv[2], "w"))
'''


def make_cell(n_train: int, n_test: int, duration: float, seed: int, noise: bool = False):
    """(train recording, test FitData): OU sweeps of the true ALIF cell simulated by Brian2; with
    `noise`, the shipped files' noise: an intrinsic OU current (5 pA sd, 5 ms) added to the command
    before the simulation but not recorded, and 0.2 mV of measurement noise on the voltage."""
    rng = np.random.default_rng(seed)
    n = int(round(duration / DT))
    current = np.stack([ou_process(n, DT, 150e-12, 250e-12, 10e-3, rng) for _ in range(n_train + n_test)], axis=1)
    drive = current
    if noise:
        drive = current + np.stack([ou_process(n, DT, 0.0, INTRINSIC_SD_PA * 1e-12, INTRINSIC_TAU, rng)
                                    for _ in range(n_train + n_test)], axis=1)
    trace = simulate("alif", TRUTH, drive, DT)
    measured = trace.v + (MEASUREMENT_SD * rng.standard_normal(trace.v.shape) if noise else 0.0)
    sweeps = [Sweep(k, DT, current[:, k], measured[:, k], np.asarray(trace.spike_times[k]))
              for k in range(n_train + n_test)]
    rec = Recording(sweeps, RecordingInfo(cell="benchmark_alif", protocol="ou", current_kind="command"))
    test = FitData.from_recordings([rec], [list(range(n_train, n_train + n_test))], DT)
    return rec, test


def test_gammas(points: list[dict], test: FitData) -> list[float]:
    """Mean test Γ (Δ = 4 ms) of each parameter set in `points` (one Brian2 run for all)."""
    if not points:
        return []
    params = {**TRUTH, **{k: np.array([p[k] for p in points]) for k in FITTED}}
    responses = simulate_candidates(MODELS["alif"], params, test, record_voltage=False)
    out = []
    for per_sweep in responses:
        values = []
        for response, sweep in zip(per_sweep, test.sweeps):
            model = response.spike_times
            values.append(0.0 if model.size == 0 else gamma_factor(model, sweep.spike_times, DELTA, sweep.duration))
        out.append(float(np.mean(values)))
    return out


def ensure_b2mf(venv: Path) -> Path:
    """The python of a virtual environment with brian2modelfitting, created if absent."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import brian2modelfitting"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {venv} with {' '.join(B2MF_PACKAGES)} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *B2MF_PACKAGES], check=True)
    return python


def run_b2mf(python: Path, kind: str, rec: Recording, n_train: int, seed: int, rounds: int,
             budget_s: float, work: Path) -> dict:
    """One brian2modelfitting fit in its venv; returns its trajectory and wall time."""
    model = MODELS["alif"]
    train = rec.sweeps[:n_train]
    np.save(work / "current.npy", np.stack([s.current for s in train]))
    np.save(work / "voltage.npy", np.stack([s.voltage for s in train]))
    by_name = {p.name: p for p in model.parameters}
    job = {
        "fitter": kind, "seed": seed, "rounds": rounds, "budget_s": budget_s, "dt": DT, "delta": DELTA,
        "equations": model.equations, "threshold": model.threshold, "reset": model.reset,
        "refractory": model.refractory, "method": model.method,
        "initial": {k: v for k, v in model.initial.items()},
        "fitted": list(FITTED), "fixed": {k: v for k, v in TRUTH.items() if k not in FITTED},
        "units": {name: p.unit for name, p in by_name.items()},
        "unit_names": {name: by_name[name].unit for name in FITTED},
        "bounds": {name: [DEFAULT_PRIORS["alif"][name].lo, DEFAULT_PRIORS["alif"][name].hi] for name in FITTED},
        "current": str(work / "current.npy"), "voltage": str(work / "voltage.npy"),
        "spikes": [s.spike_times.tolist() for s in train],
    }
    (work / "job.json").write_text(json.dumps(job))
    (work / "worker.py").write_text(WORKER)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([str(python), str(work / "worker.py"), str(work / "job.json"), str(work / "out.json")],
                          capture_output=True, text=True, env=env, cwd=work)
    if done.returncode:
        raise RuntimeError(f"brian2modelfitting {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads((work / "out.json").read_text())


def run_biofit(method: str, rec: Recording, n_train: int, n_test: int, seed: int, dt: float | None = None) -> dict:
    """One biofit fit (simulation step `dt`, default the data's 0.1 ms); its trajectory: the start
    read off the train sweeps (`biofit.fitting.initial.initial_point`, the call `fit` makes), at the
    time that read takes, then the optimizer's history, its times after the read."""
    fixed = {k: v for k, v in TRUTH.items() if k not in FITTED}
    train = list(range(n_train))
    space = SearchSpace.build("alif", FITTED, None, fixed)
    t0 = time.perf_counter()
    start, _ = initial_point(space, rec.select(train))
    read_s = time.perf_counter() - t0
    result = fit(rec, model="alif", method=method, params=FITTED, fixed=fixed,
                 train_sweeps=train, test_sweeps=list(range(n_train, n_train + n_test)),
                 dt=dt, seed=seed, progress=False)
    first = {"time_s": read_s, "best": {k: float(v) for k, v in space.from_unit(start).items()}}
    return {"trajectory": [first] + [{"time_s": read_s + h["time_s"], "best": h["best"]} for h in result.history],
            "wall_time_s": result.wall_time_s}


def summarise(rows: list[dict], target: float) -> list[str]:
    """Markdown table: per fitter, median [min, max] over runs."""
    def med(values):
        values = [v for v in values if v is not None]
        if not values:
            return "—"
        return f"{statistics.median(values):.3g} [{min(values):.3g}, {max(values):.3g}]"

    lines = [f"| fitter | time to test Γ ≥ {target} (s) | runs reaching it | final test Γ | fit wall time (s) |",
             "|---|---|---|---|---|"]
    fitters = list(dict.fromkeys(r["fitter"] for r in rows))
    for name in fitters:
        mine = [r for r in rows if r["fitter"] == name]
        reached = [r["time_to_target_s"] for r in mine if r["time_to_target_s"] is not None]
        gam = [r["final_gamma"] for r in mine]
        lines.append(f"| {name} | {med(reached)} | {len(reached)}/{len(mine)} | "
                     f"{statistics.median(gam):.3f} [{min(gam):.3f}, {max(gam):.3f}] | "
                     f"{med([r['wall_time_s'] for r in mine])} |")
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="seeds per fitter (default 3)")
    ap.add_argument("--train", type=int, default=4, help="training sweeps (default 4)")
    ap.add_argument("--test", type=int, default=2, help="test sweeps (default 2)")
    ap.add_argument("--duration", type=float, default=2.0, help="sweep duration [s] (default 2)")
    ap.add_argument("--rounds", type=int, default=60, help="brian2modelfitting rounds at most (default 60)")
    ap.add_argument("--budget", type=float, default=300.0,
                    help="brian2modelfitting wall-time budget per fit [s] (default 300)")
    ap.add_argument("--target", type=float, default=0.8, help="test Γ to reach (default 0.8)")
    ap.add_argument("--b2mf-venv", type=Path, default=HERE / ".venv-b2mf",
                    help="virtual environment with brian2modelfitting (created if absent)")
    ap.add_argument("--noise", action="store_true",
                    help="the shipped files' intrinsic (5 pA OU, not recorded) and measurement (0.2 mV) noise")
    ap.add_argument("--quick", action="store_true", help="1 run, 1 s sweeps, 15 rounds")
    args = ap.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.rounds = 1, 1.0, 15
    python = ensure_b2mf(args.b2mf_venv)
    rec, test = make_cell(args.train, args.test, args.duration, seed=11, noise=args.noise)
    for method, dt in BIOFIT.values():  # warm-up: Brian2's cython code and the generated torch layers
        run_biofit(method, rec, args.train, args.test, 0, dt)
    rows = []
    for seed in range(args.runs):
        for name in (*BIOFIT, "b2mf TraceFitter", "b2mf SpikeFitter"):
            if name in BIOFIT:
                method, dt = BIOFIT[name]
                out = run_biofit(method, rec, args.train, args.test, seed, dt)
            else:
                with tempfile.TemporaryDirectory() as work:
                    kind = "trace" if "Trace" in name else "spike"
                    out = run_b2mf(python, kind, rec, args.train, seed, args.rounds, args.budget, Path(work))
            gammas = test_gammas([p["best"] for p in out["trajectory"]], test)
            hit = next((p["time_s"] for p, g in zip(out["trajectory"], gammas) if g >= args.target), None)
            rows.append({"fitter": name, "seed": seed, "time_to_target_s": hit,
                         "final_gamma": gammas[-1] if gammas else 0.0, "wall_time_s": out["wall_time_s"],
                         "points": len(gammas), "final": out["trajectory"][-1]["best"] if gammas else {}})
            print(f"  {name:18s} seed {seed}: time to Γ≥{args.target} = {hit}, final Γ = {rows[-1]['final_gamma']:.3f},"
                  f" wall {out['wall_time_s']:.1f} s", flush=True)
    print(f"\nALIF, {args.train} train / {args.test} test OU sweeps of {args.duration:g} s at dt = {DT * 1e3:g} ms"
          f"{', with noise' if args.noise else ', noise-free'}; "
          f"{args.runs} run(s); load average {os.getloadavg()[0]:.2f}")
    print("\n".join(summarise(rows, args.target)))
    print("truth:", {k: TRUTH[k] for k in FITTED})
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    import pandas as pd

    frame = pd.DataFrame([{k: v for k, v in r.items() if k != "final"} | {f"fit_{k}": v for k, v in r["final"].items()}
                          for r in rows])
    tmp = results / "fit_vs_brian2modelfitting.csv.tmp"
    frame.to_csv(tmp, index=False)
    tmp.replace(results / "fit_vs_brian2modelfitting.csv")


if __name__ == "__main__":
    main()
