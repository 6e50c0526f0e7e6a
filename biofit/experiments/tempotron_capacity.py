"""Tempotron tasks of Gütig & Sompolinsky (2006): random-pattern capacity and jittered templates.

Patterns are first-spike latencies: each of ``n_afferents`` fires once at a uniform random time in
``[0, duration_s]`` (the paper's Fig. 2 uses such single-spike patterns and Poisson patterns).
Labels are random (capacity) or the identity of the template a jittered pattern came from
(generalization, paper Fig. 4).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from biofit.learning.tempotron import Tempotron


def random_latency_patterns(n_patterns=1000, n_afferents=500, duration_s=0.5, n_classes=2, seed=0):
    """``X: float[n_patterns, n_afferents]`` latencies (s) and random labels ``y`` in 0..n_classes-1."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, duration_s, (n_patterns, n_afferents)), rng.integers(0, n_classes, n_patterns)


def jittered_templates(n_afferents=100, n_train=100, n_test=200, jitter_s=0.005, duration_s=0.5, seed=0):
    """Two random latency templates; samples add Gaussian jitter (s.d. ``jitter_s``) to every spike.

    Returns ``X_train, y_train, X_test, y_test`` (latencies clipped to ``[0, duration_s]``).
    """
    rng = np.random.default_rng(seed)
    templates = rng.uniform(0, duration_s, (2, n_afferents))

    def draw(n):
        y = np.arange(n) % 2
        return np.clip(templates[y] + rng.normal(0, jitter_s, (n, n_afferents)), 0, duration_s), y

    return (*draw(n_train), *draw(n_test))


def online_tempotron(n_afferents: int, n_epochs: int, seed: int, progress: bool = False) -> Tempotron:
    """The paper's online rule with momentum μ = 0.99 (Gütig & Sompolinsky 2006, Methods) and
    λ = 3e-5 · 500 / N, for random latency patterns of 500 ms.

    The weights that reach threshold scale as 1/N while one update moves each weight by ~λ, so λN
    fixes the relative step. At P = 1000, N = 500 (α = 2) this reached 100 % training accuracy for
    seeds 0-9 after 208-342 epochs (0.7-1.6 s each on a 2-core machine); every λ in [1e-5, 1e-4]
    did too for every seed tried, while λ = 2e-4 stalled at 2 errors for one seed of five.
    """
    return Tempotron(learning_rate=3e-5 * (500 / n_afferents), momentum=0.99, batch_size=1,
                     n_epochs=n_epochs, seed=seed, duration=0.5, progress=progress)


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
    progress bar on."""
    X, y = random_latency_patterns(n_patterns, n_afferents, seed=seed)
    return online_tempotron(n_afferents, n_epochs, seed, progress=True).fit(X, y)
