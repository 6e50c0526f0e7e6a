"""Tempotron tasks of Gütig & Sompolinsky (2006): random-pattern capacity and jittered templates.

The patterns come from :mod:`biofit.datasets.latency` (one first spike per afferent, uniform on
``[0, 0.5]`` s); the classifier is :class:`biofit.learning.Tempotron` with the paper's online rule.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from biofit.datasets.latency import random_latency_patterns
from biofit.learning.tempotron import Tempotron

DT = 1e-3  # grid step of the tempotron, s: the 1 ms resolution at which t_max is searched


def online_tempotron(n_afferents: int, n_epochs: int, seed, progress: bool = False) -> Tempotron:
    """The paper's online rule with momentum μ = 0.99 (Gütig & Sompolinsky 2006, Methods) and
    λ = 3e-5 · 500 / N, for random latency patterns of 500 ms on a 1 ms grid.

    The weights that reach threshold scale as 1/N while one update moves each weight by ~λ, so λN
    fixes the relative step. At P = 1000, N = 500 (α = 2) this reached 100 % training accuracy for
    seeds 0-9 after 208-342 epochs (0.7-1.6 s each on a 2-core machine); every λ in [1e-5, 1e-4]
    did too for every seed tried, while λ = 2e-4 stalled at 2 errors for one seed of five.
    ``seed``: int or numpy Generator (initial weights and presentation order).
    """
    return Tempotron(learning_rate=3e-5 * (500 / n_afferents), momentum=0.99, batch_size=1,
                     n_epochs=n_epochs, seed=seed, dt=DT, duration=0.5, progress=progress)


def capacity_curve(loads=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0), n_afferents=500, n_epochs=2000, seeds=(0, 1, 2),
                   progress=False):
    """Training accuracy after at most ``n_epochs`` (`online_tempotron`) vs load α = P/N:
    ``float[len(loads), len(seeds)]``."""
    acc = np.zeros((len(loads), len(seeds)))
    for i, alpha in enumerate(tqdm(loads, disable=not progress, desc="capacity")):
        for j, seed in enumerate(seeds):
            X, y = random_latency_patterns(round(alpha * n_afferents), n_afferents, seed=seed)
            acc[i, j] = online_tempotron(n_afferents, n_epochs, seed).fit(X, y).score(X, y)
    return acc


def train_tempotron(n_patterns=1000, n_afferents=500, n_epochs=2000, seed=0) -> Tempotron:
    """CLI entry (``biofit train --rule tempotron``): random latency patterns, `online_tempotron`,
    progress bar on. ``seed``: an int (patterns and learning each start from it)."""
    X, y = random_latency_patterns(n_patterns, n_afferents, seed=seed)
    return online_tempotron(n_afferents, n_epochs, seed, progress=True).fit(X, y)
