"""Latency patterns for the tempotron (Gütig & Sompolinsky 2006, Nat. Neurosci. 9:420).

A pattern is one first spike per afferent: ``float[n_afferents]`` latencies in seconds, uniform on
``[0, duration]`` (the single-spike patterns of the paper's Fig. 2). Labels are random (the
capacity task) or the identity of the template a jittered pattern was drawn from (generalization,
paper Fig. 4). Rows of ``X`` are patterns, the layout :class:`biofit.learning.Tempotron` takes.

Example
-------
>>> X, y = random_latency_patterns(n_patterns=4, n_afferents=3, seed=0)
>>> X.shape, bool(((0 <= X) & (X <= 0.5)).all()), y.tolist()
((4, 3), True, [0, 1, 1, 0])
"""

from __future__ import annotations

import numpy as np

from biofit.validation import (
    check_nonnegative,
    check_positive,
    check_positive_int,
    numpy_generator,
    renamed_arguments,
)


@renamed_arguments(duration_s="duration")
def random_latency_patterns(n_patterns=1000, n_afferents=500, duration=0.5, n_classes=2, seed=0):
    """``X: float[n_patterns, n_afferents]`` latencies (s, uniform on ``[0, duration]``) and random
    labels ``y: int[n_patterns]`` in ``0 .. n_classes-1``. ``seed``: int or numpy Generator."""
    n_patterns = check_positive_int(n_patterns, "n_patterns")
    n_afferents = check_positive_int(n_afferents, "n_afferents")
    duration, n_classes = check_positive(duration, "duration"), check_positive_int(n_classes, "n_classes")
    rng = numpy_generator(seed)
    return rng.uniform(0, duration, (n_patterns, n_afferents)), rng.integers(0, n_classes, n_patterns)


@renamed_arguments(jitter_s="jitter", duration_s="duration")
def jittered_templates(n_afferents=100, n_train=100, n_test=200, jitter=0.005, duration=0.5, seed=0):
    """Two random latency templates; samples add Gaussian jitter (s.d. ``jitter``, s) to every spike.

    Returns ``X_train, y_train, X_test, y_test``: latencies clipped to ``[0, duration]`` (s) and
    labels 0/1 alternating (sample i belongs to template ``i % 2``). ``seed``: int or numpy Generator.
    """
    n_afferents = check_positive_int(n_afferents, "n_afferents")
    n_train, n_test = check_positive_int(n_train, "n_train"), check_positive_int(n_test, "n_test")
    jitter, duration = check_nonnegative(jitter, "jitter"), check_positive(duration, "duration")
    rng = numpy_generator(seed)
    templates = rng.uniform(0, duration, (2, n_afferents))

    def draw(n):
        y = np.arange(n) % 2
        return np.clip(templates[y] + rng.normal(0, jitter, (n, n_afferents)), 0, duration), y

    return (*draw(n_train), *draw(n_test))
