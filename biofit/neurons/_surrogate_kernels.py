r"""The surrogate derivatives of `biofit.neurons.surrogate` as compiled loops (numba), for kernels
that evaluate them inside a scan (`biofit.neurons._block_numba`) instead of on whole tensors.

Same formulas, same order of operations, computed in the array's dtype (the width cast to it):

* ``fast_sigmoid``: :math:`g = 1 / ((1 + |x|/w)^2 \cdot 2w)` (Zenke & Ganguli 2018);
* ``atan``: :math:`g = 1 / ((1 + (\pi x / 2w)^2) \cdot 2w)` (Fang et al. 2021);
* ``triangle``: :math:`g = \max(0, 1 - |x|/w) / w` (Bellec et al. 2018);
* ``boxcar``: :math:`g = 1[|x| < w] / (2w)`;
* ``multi_gaussian``: :math:`g = (1+h)N(x; 0, w) - h N(x; w, 6w) - h N(x; -w, 6w)`, h = 0.15
  (Yin et al. 2021).

`tests/test_block_alif.py` checks each against `biofit.neurons.surrogate.surrogate_grad`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from biofit.neurons.surrogate import MULTI_GAUSSIAN_HEIGHT, MULTI_GAUSSIAN_SCALE

KINDS = ("fast_sigmoid", "atan", "triangle", "boxcar", "multi_gaussian")
"""Surrogate names in the order of their integer codes (`kind` of `surrogate_grad_into`)."""



def kind_code(name: str) -> int:
    """The integer code of the surrogate `name` (ValueError naming it if unknown)."""
    if name not in KINDS:
        raise ValueError(f"unknown surrogate {name!r}; known: {', '.join(KINDS)}")
    return KINDS.index(name)


def constants(width: float, dtype) -> np.ndarray:
    """The numbers `surrogate_grad_into` needs for width `width`, in `dtype`: w, 2w, pi / 2w, and
    for the multi-Gaussian the three amplitudes (h weights over sigma sqrt(2 pi)) and 1/sigma."""
    h, s = MULTI_GAUSSIAN_HEIGHT, MULTI_GAUSSIAN_SCALE
    root = math.sqrt(2.0 * math.pi)
    return np.array([width, 2.0 * width, math.pi / (2.0 * width), (1.0 + h) / (width * root),
                     h / (s * width * root), 1.0 / width, 1.0 / (s * width)], dtype=dtype)


@njit(cache=True, error_model="numpy")  # no zero-division check: it would stop vectorization
def surrogate_grad_into(kind, x, c, out, count):
    """``out[i] = g(x[i]; w)`` for i < `count` and the surrogate with code `kind`; `x`, `out`
    1-d, `c` the `constants` of their dtype. One branch-free loop per surrogate, so that each is
    vectorized."""
    w, w2, pi_w2, amp0, amp1, inv0, inv1 = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    one, zero, half = w / w, w - w, w / w2  # in the data's dtype (a Python float is float64)
    if kind == 0:
        for i in range(count):
            t = np.abs(x[i]) / w + one
            out[i] = one / (t * t * w2)
    elif kind == 1:
        for i in range(count):
            t = x[i] * pi_w2
            out[i] = one / ((t * t + one) * w2)
    elif kind == 2:
        for i in range(count):
            t = np.abs(x[i]) / -w + one
            t = t if t > zero else zero
            out[i] = t / w
    elif kind == 3:
        for i in range(count):
            inside = np.abs(x[i]) < w
            out[i] = (one if inside else zero) / w2
    else:
        for i in range(count):
            u0, u1, u2 = x[i] * inv0, (x[i] - w) * inv1, (x[i] + w) * inv1
            out[i] = amp0 * np.exp(-half * (u0 * u0)) - amp1 * (
                np.exp(-half * (u1 * u1)) + np.exp(-half * (u2 * u2)))
