"""The ``biofit`` command.

Subcommands::

    biofit --version
    biofit info                         # versions, Brian2 cython check, torch threads
    biofit lzc --demo [--out DIR]       # LZ76/LZ78 of sources with known entropy rate + figure
    biofit lzc RASTER [--out FEATURES.csv] [--variant lz76|lz78]
    biofit train --rule stdp|tempotron|rstdp|rstdp-patterns [--seed S] [--out RESULT.npz] ...
    biofit inspect RECORDING [--format F] [--out FIG.png]   # sweeps, spikes, features + figure
    biofit data make [--out DIR]        # regenerate the synthetic recordings shipped in data/
    biofit fit RECORDING... [--model adex] [--method hybrid|gradient|cmaes|surrogate] [--loss default|counts|upswing]
               [--train-sweeps 0,2] [--test-sweeps 1,3] [--out DIR]   # fit a neuron model: fit.json, fit.nwb, fit.png
               [--scheduler ADDRESS] [--workers N] [--force]   # many cells on a Dask cluster
    biofit reproduce NAME [--small] [--device cuda] [--out DIR]   # a paper's table + figure

Each subcommand imports its (heavy) dependencies only when it runs, so ``biofit --version`` is instant.
The work itself lives in library modules and ``biofit.experiments``; this file only parses arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Sequence

from biofit import __version__


def _cmd_info(args: argparse.Namespace) -> int:
    import platform

    import brian2
    import numpy
    import torch

    print(f"biofit   {__version__}")
    print(f"python   {platform.python_version()} ({platform.machine()})")
    print(f"numpy    {numpy.__version__}")
    print(f"torch    {torch.__version__} (threads: {torch.get_num_threads()}, "
          f"cuda available: {torch.cuda.is_available()})")
    print(f"brian2   {brian2.__version__}")
    if args.no_compile_check:
        print("cython   (compile check skipped)")
        return 0
    from brian2.codegen.runtime.cython_rt import CythonCodeObject

    ok = CythonCodeObject.is_available()
    print(f"cython   Brian2 cython target {'compiles' if ok else 'DOES NOT compile (numpy fallback)'}")
    return 0 if ok else 1


def _cmd_lzc(args: argparse.Namespace) -> int:
    from biofit.experiments import lzc_demo

    if args.demo == (args.raster is not None):
        raise SystemExit("biofit lzc: give either --demo or a RASTER file (.npy or .csv), not both")
    if args.demo:
        out_dir = Path(args.out or "results")
        lzc_demo.run_demo(out_dir, seed=args.seed, small=args.small)
        return 0
    raster = Path(args.raster)
    out = Path(args.out) if args.out else raster.with_name(raster.stem + "_lzc.csv")
    lzc_demo.raster_features(raster, out, variant=args.variant)
    print(f"wrote {out}")
    return 0


def _save_npz(path: str, arrays: dict) -> None:
    import numpy as np

    from biofit.io.atomic import write_atomic

    write_atomic(path, lambda f: np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()}))
    print(f"wrote {path}")


def _cmd_train(args: argparse.Namespace) -> int:
    import numpy as np

    if args.rule == "stdp":
        from biofit.experiments.song2000 import train_stdp

        out = train_stdp(input_rate_hz=args.rate_hz, duration=args.duration_s, seed=args.seed)
        share = out["bimodality"]
        print(f"Song et al. (2000), {args.rate_hz:g} Hz inputs, {args.duration_s:g} s: output rate "
              f"{out['rate_hz'][0, -1]:.2f} Hz in the last window; weights near 0: "
              f"{float(share['low'][0]):.2f}, near g_max: {float(share['high'][0]):.2f}, "
              f"between: {float(share['middle'][0]):.2f}")
        result = {"weights": out["weights"], "rate_hz": out["rate_hz"]}
    elif args.rule == "tempotron":
        from biofit.datasets.latency import random_latency_patterns
        from biofit.experiments.tempotron_capacity import train_tempotron

        clf = train_tempotron(n_patterns=args.patterns, n_afferents=args.afferents,
                              n_epochs=args.epochs, seed=args.seed)
        X, y = random_latency_patterns(args.patterns, args.afferents, seed=args.seed)
        print(f"Tempotron, P = {args.patterns} patterns, N = {args.afferents} afferents "
              f"(load {args.patterns / args.afferents:g}): training accuracy {clf.score(X, y):.4f} "
              f"after {clf.n_iter_} epochs")
        result = {"coef": clf.coef_, "errors": np.asarray(clf.errors_)}
    elif args.rule == "rstdp-patterns":
        from biofit.experiments.reward_patterns import train_reward_patterns

        out = train_reward_patterns(n_trials=args.trials, seed=args.seed, progress=True)
        print(f"reward-only two-class patterns, {args.trials} trials: held-out accuracy "
              f"{out['test_accuracy']:.3f} (before learning {out['initial_test_accuracy']:.3f}; "
              f"chance 0.5)")
        result = {k: out[k] for k in ("weights", "accuracy_curve", "templates")}
    else:
        from biofit.experiments.distal_reward import train_rstdp

        out = train_rstdp(duration=args.duration_s, n_runs=args.runs, seed=args.seed)
        print(f"distal reward, {args.duration_s:g} s, {args.runs} run(s): rank of the rewarded "
              f"synapse among all (0 = strongest): {out['target_rank'].tolist()}")
        result = {k: out[k] for k in ("weights", "target_history", "others_mean_history", "target_rank")}
    if args.out:
        _save_npz(args.out, result)
    return 0


def _parse_pairs(text: str | None, name: str) -> dict | None:
    """``"time=s,current=pA"`` -> {"time": "s", "current": "pA"}."""
    if not text:
        return None
    pairs = [item.split("=", 1) for item in text.split(",")]
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"--{name} must look like time=s,current=pA,voltage=mV; got {text!r}")
    return {k.strip(): v.strip() for k, v in pairs}


def _cmd_inspect(args: argparse.Namespace) -> int:
    from biofit.io import load_recording
    from biofit.io.summary import format_summary
    from biofit.plotting import plot_recording

    options = {}
    if args.units:
        options["units"] = _parse_pairs(args.units, "units")
    if args.columns:
        options["columns"] = tuple(c.strip() for c in args.columns.split(","))
    rec = load_recording(args.recording, format=args.format, **options)
    if args.sweeps:
        rec = rec.select([int(s) for s in args.sweeps.split(",")])
    print(format_summary(rec))
    out = Path(args.out) if args.out else Path(Path(args.recording).resolve().name + "_inspect.png")
    plot_recording(rec, out)
    print(f"wrote {out}")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from biofit.io.synthetic import make_data

    for path in make_data(args.out):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def _ids(text: str | None):
    return None if text is None else [int(s) for s in text.split(",") if s.strip()]


def _with_budget(optimizer, iterations: int | None = None, cmaes: dict | None = None):
    """`optimizer` with the gradient stage's ``iterations`` and the CMA-ES stage's settings
    (`cmaes`: generations, population, intrinsic_noise) replaced where given (None: kept)."""
    cmaes = {k: v for k, v in (cmaes or {}).items() if v is not None}
    if hasattr(optimizer, "gradient"):  # Hybrid: the two stages
        return dataclasses.replace(optimizer, gradient=_with_budget(optimizer.gradient, iterations),
                                   cmaes=_with_budget(optimizer.cmaes, None, cmaes))
    changes = {k: v for k, v in cmaes.items() if hasattr(optimizer, k)}
    if iterations is not None and hasattr(optimizer, "iterations"):
        changes["iterations"] = iterations
    return dataclasses.replace(optimizer, **changes)


def _intrinsic_noise(text: str | None) -> tuple | str | None:
    """``"SD_PA,TAU_MS"`` as ``(sd A, tau s)``, or ``"auto"``; SystemExit naming a malformed value."""
    if text is None or text == "auto":
        return text
    parts = text.split(",")
    try:
        sd, tau = (float(p) for p in parts)
    except ValueError:
        raise SystemExit(f"biofit fit: --intrinsic-noise takes SD_PA,TAU_MS (e.g. 5,5) or auto, got {text!r}") from None
    if not (sd > 0 and tau > 0):
        raise SystemExit(f"biofit fit: --intrinsic-noise needs a positive sd and tau, got {text!r}")
    return sd * 1e-12, tau * 1e-3


def _cmd_fit(args: argparse.Namespace) -> int:
    from biofit.fitting import DEFAULT_METHOD, default_optimizer
    from biofit.fitting.report import format_fit
    from biofit.parallel import FitFailure, fit_each, fit_many

    fixed = {k: float(v) for k, v in _parse_pairs(args.fixed, "fixed").items()} if args.fixed else None
    params = [p.strip() for p in args.params.split(",")] if args.params else None
    models = [m.strip() for m in args.model.split(",")]
    method = args.method or (DEFAULT_METHOD.get(models[0], "hybrid") if len(models) == 1 else None)
    noise = _intrinsic_noise(args.intrinsic_noise)
    if noise is not None and method not in (None, "cmaes", "hybrid"):
        raise SystemExit(f"biofit fit: --intrinsic-noise applies to the cmaes and hybrid methods, not {method!r}")
    stage = {"generations": args.generations, "population": args.population, "intrinsic_noise": noise}
    settings = args.iterations is not None or any(v is not None for v in stage.values())
    if settings and method is None:
        raise SystemExit("biofit fit: --iterations/--generations/--population/--intrinsic-noise with several "
                         "models need --method")
    one_model = models[0] if len(models) == 1 else None
    optimizer = _with_budget(default_optimizer(method, args.seed, one_model), args.iterations,
                             stage) if settings else None
    options = dict(model=models[0] if len(models) == 1 else models, out_dir=args.out, force=args.force,
                   format=args.format, method=method, params=params, fixed=fixed,
                   train_sweeps=_ids(args.train_sweeps), test_sweeps=_ids(args.test_sweeps),
                   optimizer=optimizer, loss=args.loss, dt=args.dt, seed=args.seed)
    if args.scheduler or args.workers:
        results = fit_many(args.recording, scheduler=args.scheduler, workers=args.workers, **options)
    else:
        results = fit_each(args.recording, **options)
    failed = [r for r in results if isinstance(r, FitFailure)]
    for result in results:
        if not isinstance(result, FitFailure):
            print(format_fit(result))
    for failure in failed:
        print(f"FAILED {failure.source} ({failure.model}): {failure.error}", file=sys.stderr)
    print(f"wrote {Path(args.out) / 'summary.csv'} ({len(results) - len(failed)} fits, {len(failed)} failed)")
    return 1 if failed else 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from biofit.experiments.registry import reproduction

    out = args.out or str(Path("results") / args.name)
    table = reproduction(args.name)(out=out, small=args.small, device=args.device, seeds=args.seeds, data=args.data)
    print(f"wrote {table}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="biofit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"biofit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="versions, Brian2 cython compile check, torch threads")
    info.add_argument("--no-compile-check", action="store_true",
                      help="skip the Brian2 cython test compilation")
    info.set_defaults(func=_cmd_info)

    lzc = sub.add_parser("lzc", help="Lempel-Ziv complexity: demo, or features of a raster file")
    lzc.add_argument("raster", nargs="?", help="raster .npy ([channels, bins] or "
                     "[samples, channels, bins]) or .csv (rows = channels, 0/1)")
    lzc.add_argument("--demo", action="store_true",
                     help="sources with known entropy rates: table + results/lzc_demo.png")
    lzc.add_argument("--out", help="output folder (--demo) or CSV path (RASTER)")
    lzc.add_argument("--variant", choices=("lz76", "lz78"), default="lz76")
    lzc.add_argument("--seed", type=int, default=0, help="seed of the demo's sources")
    lzc.add_argument("--small", action="store_true", help="short sequences (quick check)")
    lzc.set_defaults(func=_cmd_lzc)

    train = sub.add_parser("train", help="local learning rules on their classic tasks",
                           description="Local learning rules on their classic tasks. A flag whose "
                                       "name ends in a unit takes that unit: --duration-s seconds, "
                                       "--rate-hz hertz.")
    train.add_argument("--rule", required=True, choices=("stdp", "tempotron", "rstdp", "rstdp-patterns"),
                       help="stdp: Song et al. 2000; tempotron: random latency patterns; "
                            "rstdp: Izhikevich 2007 distal reward; rstdp-patterns: two-class "
                            "patterns learned from reward alone")
    train.add_argument("--seed", type=int, default=0, help="int seed of inputs, weights and patterns")
    train.add_argument("--duration-s", type=float, default=100.0,
                       help="simulated time in seconds (stdp, rstdp; default 100)")
    train.add_argument("--rate-hz", type=float, default=20.0, help="input rate in hertz (stdp; default 20)")
    train.add_argument("--patterns", type=int, default=200, help="number of patterns (tempotron)")
    train.add_argument("--afferents", type=int, default=500, help="number of afferents (tempotron)")
    train.add_argument("--epochs", type=int, default=500, help="maximum epochs (tempotron)")
    train.add_argument("--runs", type=int, default=1, help="independent runs (rstdp)")
    train.add_argument("--trials", type=int, default=400, help="trials (rstdp-patterns)")
    train.add_argument("--out", help="save the learned weights and curves to this .npz")
    train.set_defaults(func=_cmd_train)

    inspect = sub.add_parser(
        "inspect", help="read a recording: table of sweeps, spikes and features, and a figure",
        description="Read a current-clamp recording (ABF, NWB, QSNMC/eFEL/CSV text or a folder of "
                    "them, biofit NPZ), print one row per sweep (duration, sampling, current range, "
                    "first step, spike count, rate, first-spike latency, ISI CV, adaptation index, "
                    "resting potential, input resistance and membrane time constant from "
                    "hyperpolarising steps) and write a figure (voltage and current per sweep, "
                    "spikes marked, f-I curve). Headerless 3-column text is read as eFEL's layout "
                    "t [s], I [pA], V [mV]; otherwise give --columns and --units.")
    inspect.add_argument("recording", help="file or folder")
    inspect.add_argument("--format", choices=("abf", "nwb", "npz", "text", "efel", "qsnmc", "csv"),
                         help="default: from the suffix (a folder is text)")
    inspect.add_argument("--out", help="figure path (.png); default ./<name>_inspect.png")
    inspect.add_argument("--sweeps", help="comma-separated sweep ids to keep (default: all)")
    inspect.add_argument("--columns", help="text files: column order, e.g. time,voltage,current")
    inspect.add_argument("--units", help="text files: units, e.g. time=ms,current=nA,voltage=mV")
    inspect.set_defaults(func=_cmd_inspect)

    data = sub.add_parser(
        "data", help="the synthetic recordings shipped in data/",
        description="biofit data make: simulate (Brian2) the AdEx and ALIF cells with known "
                    "parameters under current steps and an Ornstein-Uhlenbeck current, 4 repeats "
                    "each with intrinsic and measurement noise, and write data/synthetic_*.nwb "
                    "(true parameters in the file's notes). Deterministic: equal files' contents "
                    "on every run (see data/README.md).")
    data.add_argument("action", choices=("make",), help="make: (re)generate the files")
    data.add_argument("--out", default="data", help="output folder (default: data)")
    data.set_defaults(func=_cmd_data)

    fit = sub.add_parser(
        "fit", help="fit a neuron model to current-clamp recordings",
        description="Fit a neuron model (built-in name) to each RECORDING in turn (ABF, NWB, text "
                    "or a folder of text files, biofit NPZ): the parameters with a default search "
                    "prior are fitted, the others keep the model's defaults or --fixed values. "
                    "Methods: gradient (Adam through the torch layer generated from the model's "
                    "Brian2 equations, the data's spikes forced, voltage error + spike likelihood), "
                    "cmaes (CMA-ES over Brian2 populations, spike timing + voltage + spike count), "
                    "hybrid (gradient, then CMA-ES). Writes DIR/fit.json (parameters in SI under "
                    "the model's own names, train and test scores), DIR/fit.nwb (data and model "
                    "voltage) and DIR/fit.png; prints the parameter table (and the true values "
                    "of a synthetic recording) and the scores. Several recordings: DIR/<name>/ "
                    "(several models, comma-separated: DIR/<name>/<model>/); DIR/summary.csv has "
                    "one row a fit (model, parameters, scores, wall time, worker, error). A "
                    "recording that fails is a row with its error (exit status 1) and the others "
                    "go on; a complete fit already in its folder is reused (--force recomputes). "
                    "--scheduler or --workers run the fits on a Dask cluster.")
    fit.add_argument("recording", nargs="+", help="recording files or folders")
    fit.add_argument("--model", default="adex", help="model name (lif, alif, adex, qif, ...; default adex), "
                     "or several, comma-separated: each recording fitted with each")
    fit.add_argument("--method", choices=("hybrid", "gradient", "cmaes", "surrogate"),
                     help="optimizer (default: per model, hybrid for the built-ins; "
                     "surrogate: the free-running model by surrogate gradient, BlockALIF for alif, as in 2311.11390)")
    fit.add_argument("--loss", choices=("default", "counts", "upswing"),
                     help="what the fit minimises: default (spike timing 1 - Gamma, subthreshold voltage, "
                     "spike count), counts (spike count first: for current-step / f-I protocols, "
                     "best with --method cmaes) or upswing (default plus the mean voltage over the 2 ms "
                     "before the spikes: the spike initiation of adex or qif, for --method cmaes). "
                     "Default: upswing for adex with --method cmaes, else default")
    fit.add_argument("--params", help="comma-separated parameters to fit (default: all with a prior)")
    fit.add_argument("--fixed", help="fixed parameter values in SI, e.g. t_ref=0.002,V_peak=0")
    fit.add_argument("--train-sweeps", help="comma-separated sweep ids to fit (default: all not in test)")
    fit.add_argument("--test-sweeps", help="comma-separated held-out sweep ids (default: none)")
    fit.add_argument("--dt", type=float, help="simulation step in s (default: the sampling interval; "
                     "a divisor of it, the current held over each sample, or a multiple, the current "
                     "averaged over each step, e.g. 1e-3 for a faster fit)")
    fit.add_argument("--seed", type=int, default=0, help="seed of the optimizer (default 0)")
    fit.add_argument("--iterations", type=int, help="gradient (and hybrid's first stage): iterations "
                     "(default 300); surrogate: iterations per smoothing (default 150)")
    fit.add_argument("--generations", type=int, help="cmaes: generations (default 80; hybrid's second stage: 20)")
    fit.add_argument("--population", type=int, help="cmaes: candidates per generation (default 16, adex 32; "
                     "hybrid's second stage: 24)")
    fit.add_argument("--intrinsic-noise", metavar="SD_PA,TAU_MS|auto",
                     help="cmaes and hybrid's second stage: simulate every candidate with 8 draws of an OU "
                     "current of this sd (pA) and correlation time (ms) added to the command, the cell's own "
                     "noise, which removes the bias of a noise-free model toward spikes that noise fires "
                     "(about 6x the time; default: none). 'auto': the sd read off the train sweeps' spike-free "
                     "repeats (tau 5 ms), none where there are none")
    fit.add_argument("--format", choices=("abf", "nwb", "npz", "text", "efel", "qsnmc", "csv"),
                     help="recording format (default: from the suffix)")
    fit.add_argument("--out", default="results/fit", help="output folder (default results/fit)")
    fit.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                     "(default: fit one after another in this process)")
    fit.add_argument("--workers", type=int, help="without --scheduler: fit on a local Dask cluster of N "
                     "worker processes; with it: wait until N workers have joined")
    fit.add_argument("--force", action="store_true", help="recompute fits already complete in --out")
    fit.set_defaults(func=_cmd_fit)

    from biofit.experiments.registry import REPRODUCTIONS

    reproduce = sub.add_parser(
        "reproduce", help="re-run a paper's comparison: CSV, Markdown table and figure",
        description="Reproductions: " + "; ".join(f"{k}: {v[2]}" for k, v in REPRODUCTIONS.items()))
    reproduce.add_argument("name", choices=tuple(REPRODUCTIONS), help="which reproduction")
    reproduce.add_argument("--small", action="store_true", help="the CI size (about 2 minutes on 2 cores)")
    reproduce.add_argument("--device", default="cpu", help="cpu or cuda (falls back to the CPU)")
    reproduce.add_argument("--out", help="output folder (default: results/NAME)")
    reproduce.add_argument("--seeds", type=int, help="number of seeds (default: the reproduction's)")
    reproduce.add_argument("--data", nargs="+", help="data files the reproduction reads (meta-vs-lif: "
                           "auditory-cortex CSVs; default: ../shared/data/auditory_cortex/D_A_I.csv)")
    reproduce.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, ConnectionError) as exc:
        print(f"biofit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
