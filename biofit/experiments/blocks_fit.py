r"""``biofit reproduce blocks-fit``: the fitting claim of 2311.11390 (Blocks) at small scale.

The claim: an ALIF neuron fitted by surrogate gradient through the free-running model predicts
held-out spike trains better at a sub-millisecond step (0.1 ms) than at the coarse steps that
make sequential simulation affordable (1, 4 ms), and `BlockALIF` makes the fine step affordable:
the same fit as the sequential (generated) ALIF step, faster.

Protocol: the shipped synthetic ALIF cell (`data/synthetic_alif.nwb`, known parameters, 4 repeats
per stimulus, intrinsic noise), fitted with ``fit(..., method="surrogate")`` (`Surrogate`: the
forced-spike `Gradient` fit first, then the free-running model, Gaussian-smoothed spike trains,
coarse to fine: sd 100, 30, then 10 ms) on repeats 0 and 1 of each stimulus at each step
``dt``; scored on repeats 2 and 3 with the explained temporal variance of 2311.11390
(`explained_variance_blocks`, trains binned at 0.1 ms, normalised by the data's own) and Γ (4 ms).
The held-out model trains are the fitted parameters simulated by Brian2 at the fit's own ``dt``
(what a user of that model gets). Where `BlockALIF` applies (a refractory period of at least
two steps: 0.1 and 1 ms for t_ref = 2 ms) a pair of shorter fits (``Config.pair_iterations``)
runs with ``block=True`` and ``block=False``: same start, same iterations, so equal gradients
give the same parameters; the surrogate stage's wall time is compared.

Outputs (``out``, atomically): ``runs.csv`` (one row a fit), ``blocks_fit.md``, ``meta.json``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biofit.experiments.snn_protocol import csv_bytes, single_threaded
from biofit.fitting import Gradient, SearchSpace, Surrogate, explained_variance_blocks, fit
from biofit.fitting.gradient import block_alif_applies
from biofit.io import load_recording
from biofit.io.atomic import write_atomic

DATA = Path(__file__).resolve().parents[2] / "data" / "synthetic_alif.nwb"
EV_BIN = 1e-4  # s: the trains are binned at the recording's sampling interval


@dataclass(frozen=True)
class Config:
    """Steps ``dts`` (s), stimuli (index into the steps protocol: sweep id = 10 x index + repeat;
    100 + repeat for the OU sweep if ``ou``), iterations of the two stages (the surrogate's per
    smoothing), whether to run the sequential ALIF beside BlockALIF, and ``pair_iterations``: the
    surrogate iterations (per smoothing) of that comparison's two fits. They are shorter than the
    main fits because the sequential step is slow at 0.1 ms (about 13 s an iteration on the full
    protocol here); where they equal ``iterations`` the main BlockALIF fit is one of the pair."""

    dts: tuple = (1e-4, 1e-3, 4e-3)
    stimuli: tuple = (1, 2, 3, 4)
    ou: bool = False
    warm_iterations: int = 300
    iterations: int = 60
    sequential: bool = True
    pair_iterations: int = 5


FULL = Config(ou=True)
SMALL = Config(dts=(1e-4, 4e-3), stimuli=(3,), warm_iterations=40, iterations=5)


def sweeps(config: Config) -> tuple[list[int], list[int]]:
    """Train ids (repeats 0, 1) and held-out ids (repeats 2, 3) of the chosen stimuli."""
    bases = [10 * k for k in config.stimuli] + ([100] if config.ou else [])
    return [b + r for b in bases for r in (0, 1)], [b + r for b in bases for r in (2, 3)]


def held_out_ev(result, recording, test: list[int]) -> float:
    """Mean over stimuli of `explained_variance_blocks` of the model trains vs the held-out repeats."""
    cell = recording.info.cell or "recording0"
    by_base: dict[int, list[int]] = {}
    for i in test:
        by_base.setdefault(i - i % 10 if i < 100 else 100, []).append(i)
    values = []
    for ids in by_base.values():
        data = [recording.sweep(i).spike_times for i in ids]
        model = [np.asarray(result.extra["model_spike_times"][f"{cell}:{i}"]) for i in ids]
        values.append(explained_variance_blocks(model, data, EV_BIN, recording.sweep(ids[0]).duration))
    return float(np.mean(values))


def fit_row(recording, dt: float, block: bool | None, config: Config, train, test, role: str = "main") -> dict:
    """One fit and its row: times of the two stages, held-out scores, parameter errors; `role`
    "main" (``iterations``) or "pair" (``pair_iterations``, the BlockALIF-vs-sequential twins)."""
    iterations = config.iterations if role == "main" else config.pair_iterations
    optimizer = Surrogate(iterations=iterations, block=block, warm=Gradient(iterations=config.warm_iterations))
    result = fit(recording, "alif", method="surrogate", optimizer=optimizer, train_sweeps=train,
                 test_sweeps=test, dt=dt, seed=0, progress=False)
    stages = {h["stage"]: h["time_s"] for h in result.history}  # the last row of each stage, s from the start
    truth = recording.info.extra["true_parameters"]
    row = {"dt_ms": dt * 1e3, "layer": "BlockALIF" if block else "ALIF (generated)", "role": role,
           "iterations": iterations, "gradient_s": stages.get("gradient", 0.0),
           "surrogate_s": stages.get("surrogate", 0.0) - stages.get("gradient", 0.0),
           "train_loss": result.loss, "test_ev": held_out_ev(result, recording, test),
           "test_gamma": result.test["mean"].get("gamma", float("nan"))}
    row |= {f"{k}_error_pct": 100 * (result.parameters[k] / truth[k] - 1) for k in result.fitted if truth[k]}
    row |= {k: result.parameters[k] for k in result.fitted}
    return row


def run_all(config: Config, recording) -> list[dict]:
    train, test = sweeps(config)
    rows = []
    space = SearchSpace.build("alif")  # the space fit builds: t_ref fixed to the model's default
    for dt in config.dts:
        blockable = block_alif_applies(space, dt)
        rows.append(fit_row(recording, dt, True if blockable else None, config, train, test))
        if blockable and config.sequential:
            if config.pair_iterations != config.iterations:
                rows.append(fit_row(recording, dt, True, config, train, test, "pair"))
            rows.append(fit_row(recording, dt, False, config, train, test, "pair"))
    return rows


def markdown(rows: list[dict], meta: dict) -> str:
    lines = ["# 2311.11390 fitting claim, small scale: ALIF by surrogate gradient", "",
             f"Data: {meta['data']}; train sweeps {meta['train']}, held-out {meta['test']}. Wall time "
             f"{meta['wall_time_s']:.0f} s.", "",
             "| dt (ms) | layer | iterations per smoothing | surrogate stage (s) | forced-spike stage (s) | "
             "train loss | held-out EV | held-out Γ |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dt_ms']:g} | {r['layer']} | {r['iterations']} | {r['surrogate_s']:.1f} | "
                     f"{r['gradient_s']:.1f} | {r['train_loss']:.4f} | {r['test_ev']:.3f} | {r['test_gamma']:.3f} |")
    for pair in meta["block_vs_sequential"]:
        lines += ["", f"dt = {pair['dt_ms']:g} ms, {pair['iterations']} iterations per smoothing: BlockALIF "
                  f"{pair['speedup']:.1f}x faster than the sequential step; largest relative parameter difference "
                  f"{pair['max_rel_diff']:.2e}."]
    return "\n".join(lines) + "\n"


def compare(rows: list[dict], names) -> list[dict]:
    """BlockALIF vs sequential at each dt where both ran the same iterations: speed-up and
    parameter agreement."""
    out = []
    for s in rows:
        if s["role"] != "pair" or s["layer"] == "BlockALIF":
            continue
        b = next(r for r in rows if r["dt_ms"] == s["dt_ms"] and r["layer"] == "BlockALIF"
                 and r["iterations"] == s["iterations"])
        diff = max(abs(b[k] - s[k]) / max(abs(s[k]), 1e-30) for k in names)
        out.append({"dt_ms": s["dt_ms"], "iterations": s["iterations"], "speedup": s["surrogate_s"] / b["surrogate_s"],
                    "max_rel_diff": diff})
    return out


def run(out="results/blocks_fit", small: bool = False, device="cpu", seeds: int | None = None, data=None,
        config: Config | None = None) -> Path:
    """Run the reproduction and write its outputs under ``out``; returns the Markdown table's path.

    ``small``: the CI size (`SMALL`); ``data``: another synthetic ALIF recording (one path, its
    true parameters in the file); ``device``: "cpu" only (the fits run on the CPU); ``seeds``: not
    used (the fits are deterministic; a value raises).
    """
    if seeds is not None:
        raise ValueError(f"the blocks-fit reproduction is deterministic and takes no seeds, got {seeds!r}")
    if str(device) != "cpu":
        raise ValueError(f"the blocks-fit reproduction runs on the CPU (BlockALIF's scan kernel), got {device!r}")
    paths = list(data) if data else [DATA]
    if len(paths) != 1:
        raise ValueError(f"give one recording, got data={paths!r}")
    recording = load_recording(paths[0])
    if not (recording.info.extra or {}).get("true_parameters"):
        raise ValueError(f"{paths[0]}: no true parameters in the file (a synthetic recording of biofit data make)")
    config = config or (SMALL if small else FULL)
    start = time.perf_counter()
    with single_threaded():
        rows = run_all(config, recording)
    train, test = sweeps(config)
    names = [k for k in rows[0] if k in recording.info.extra["true_parameters"]]
    meta = dict(small=small, data=str(paths[0]), train=train, test=test, config=dataclasses.asdict(config),
                wall_time_s=time.perf_counter() - start, block_vs_sequential=compare(rows, names))
    out = Path(out)
    write_atomic(out / "runs.csv", lambda f: f.write(csv_bytes(rows)))
    write_atomic(out / "meta.json", lambda f: f.write(json.dumps(meta, indent=1).encode()))
    table = out / "blocks_fit.md"
    write_atomic(table, lambda f: f.write(markdown(rows, meta).encode()))
    print(table.read_text())
    return table
