"""Speed of biofit's local rules against the closest peers runnable here, in one run.

1. Tempotron: fixed number of training epochs on 1000 latency patterns x 500 afferents.
   Peer: no tempotron package installs here (SpikingJelly's needs loguru/torchvision), so the
   baseline is the textbook implementation: online, one pattern at a time, V(t) as an explicit sum
   of kernels on the same grid (numpy), the same update rule and presentation order. Also printed
   (biofit only, below the table): the alpha = 2 acceptance task (P = 1000, N = 500, seed 0)
   trained to 100 % with `online_tempotron` (lambda = 3e-5, mu = 0.99, online), the CLI's setting.
2. STDP: additive all-to-all pair STDP, 1000 synapses (1000 Poisson inputs at 10 Hz -> 1 output
   at 20 Hz), 100 s at dt = 0.1 ms. Peer: Brian2 ``Synapses`` (cython target, event-driven traces,
   explicit Network and dt), timed on ``net.run`` after a warm-up build.

Medians of ``--repeats`` runs; ratio = peer / biofit (> 1: biofit faster). ``--quick`` shrinks the
work 10x. Writes benchmarks/results/local_rules.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from biofit.datasets.latency import random_latency_patterns
from biofit.experiments.tempotron_capacity import online_tempotron
from biofit.learning.stdp import STDP, STDPParams
from biofit.learning.tempotron import Tempotron, psp_kernel


def naive_tempotron_epochs(X, y, n_epochs, lr, dt, seed):
    """Online tempotron, one pattern at a time, V as an explicit kernel sum (the baseline)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1e-3, X.shape[1])
    grid = np.arange(int(np.ceil((0.5) / dt)) + 1) * dt
    for _ in range(n_epochs):
        for s in rng.permutation(len(X)):
            k = psp_kernel(grid[:, None] - X[s][None])
            v = k @ w
            crossed = np.flatnonzero(v >= 1.0)
            t_max = crossed[0] if crossed.size else int(v.argmax())
            fired = crossed.size > 0
            if fired != bool(y[s]):
                w += (1.0 if y[s] else -1.0) * lr * k[t_max]
    return w


def time_it(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_tempotron(n_patterns, n_afferents, n_epochs, repeats):
    X, y = random_latency_patterns(n_patterns, n_afferents, seed=0)
    Tempotron(dt=1e-3, n_epochs=1, seed=0, duration=0.5).fit(X[:10], y[:10])  # load the numba kernels from their cache
    clf = Tempotron(dt=1e-3, n_epochs=n_epochs, batch_size=1, momentum=0.0, seed=0, duration=0.5)
    ours = time_it(lambda: clf.fit(X, y), repeats)
    peer = time_it(lambda: naive_tempotron_epochs(X, y, n_epochs, 0.01, 1e-3, 0), repeats)
    return ours, peer


def tempotron_to_convergence(repeats):
    """Median seconds, epochs and training accuracy of the alpha = 2 task trained to 100 % (seed 0)."""
    X, y = random_latency_patterns(1000, 500, seed=0)

    def fit():
        return online_tempotron(500, n_epochs=2000, seed=0).fit(X, y)

    clf = fit()
    return time_it(fit, repeats), clf.n_iter_, clf.score(X, y)


def stdp_inputs(duration, dt, seed=0):
    rng = np.random.default_rng(seed)
    n_steps = round(duration / dt)
    pre = torch.from_numpy(rng.random((n_steps, 1, 1000), dtype=np.float32) < 10 * dt)
    post = torch.from_numpy(rng.random((n_steps, 1, 1), dtype=np.float32) < 20 * dt)
    pre[post[:, 0, 0]] = False  # same-bin pre/post pairs: Brian2 runs on_pre first, biofit pairs neither
    return pre, post


def bench_stdp_brian2(pre, post, dt, repeats):
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    t_pre, i_pre = np.nonzero(pre[:, 0].numpy())
    t_post, _ = np.nonzero(post[:, 0].numpy())
    clock = dt * b2.second

    def build_and_run():
        g_pre = b2.SpikeGeneratorGroup(1000, i_pre, t_pre * clock, dt=clock)
        g_post = b2.SpikeGeneratorGroup(1, np.zeros(len(t_post), int), t_post * clock, dt=clock)
        syn = b2.Synapses(
            g_pre, g_post,
            "w : 1\ndapre/dt = -apre/(20*ms) : 1 (event-driven)\ndapost/dt = -apost/(20*ms) : 1 (event-driven)",
            on_pre="w = clip(w - 0.00525 * apost, 0, 1)\napre += 1",
            on_post="w = clip(w + 0.005 * apre, 0, 1)\napost += 1", dt=clock,
        )
        syn.connect()
        syn.w = 0.5
        net = b2.Network(g_pre, g_post, syn)
        start = time.perf_counter()
        net.run(pre.shape[0] * clock)
        return time.perf_counter() - start, np.asarray(syn.w[:])

    build_and_run()
    runs = [build_and_run() for _ in range(repeats)]
    return float(np.median([r[0] for r in runs])), runs[-1][1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x less work")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    scale = 10 if args.quick else 1
    rows = []
    n_pat, n_ep = 1000 // scale, 3
    ours, peer = bench_tempotron(n_pat, 500, n_ep, args.repeats)
    rows.append((f"Tempotron {n_ep} online epochs, {n_pat} patterns x 500 afferents", "naive online numpy", ours, peer))
    converge_s, converge_epochs, converge_acc = tempotron_to_convergence(args.repeats)
    dt, duration = 1e-4, 100.0 / scale
    pre, post = stdp_inputs(duration, dt)
    w0 = torch.full((1000, 1), 0.5, dtype=torch.float64)
    rule = STDP(STDPParams(), dt=dt)
    ours = time_it(lambda: rule.run(pre, post, w0), args.repeats)
    peer, w_brian = bench_stdp_brian2(pre, post, dt, args.repeats)
    agree = float(np.max(np.abs(rule.run(pre, post, w0)[0].numpy().ravel() - w_brian)))
    rows.append((f"STDP 1000 synapses x {duration:g} s at 0.1 ms (max abs(w - w_Brian2) = {agree:.1e})",
                 "Brian2 Synapses (cython)", ours, peer))
    print(f"| work | peer | biofit (s) | peer (s) | peer / biofit |\n|---|---|---|---|---|")
    for work, name, ours, peer in rows:
        print(f"| {work} | {name} | {ours:.3f} | {peer:.3f} | {peer / ours:.2f} |")
    print(f"\nTempotron alpha = 2 (P = 1000, N = 500, seed 0), lambda = 3e-5, mu = 0.99: training accuracy "
          f"{converge_acc:.4f} after {converge_epochs} epochs, {converge_s:.2f} s (biofit only)")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out, delete=False, suffix=".tmp", newline="") as fh:
        csv.writer(fh).writerows([("work", "peer", "biofit_s", "peer_s", "ratio")] +
                                 [(w, n, o, p, p / o) for w, n, o, p in rows])
    os.replace(fh.name, out / "local_rules.csv")


if __name__ == "__main__":
    main()
