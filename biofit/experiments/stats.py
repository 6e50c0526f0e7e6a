r"""Summary statistics of repeated runs: mean with a Student-t confidence interval, paired gains.

For n runs with values :math:`x_i`, mean :math:`\bar x` and sample s.d. :math:`s`, the
two-sided interval at level ``level`` is :math:`\bar x \pm t_{(1+level)/2,\,n-1}\, s/\sqrt n`
(the t interval, e.g. Wasserman 2004, *All of Statistics*, sec. 10.2; it assumes roughly normal
run-to-run variation). The gain of B over A on runs paired by seed is the interval of the
differences :math:`b_i - a_i` (the paired t interval), which removes the variation the two
share. One run gives an interval of NaN width: no spread can be estimated from it.

Example
-------
>>> [round(v, 4) for v in mean_ci([0.8, 0.9, 1.0])]   # 0.9 +- t(0.975, 2) * 0.1 / sqrt(3)
[0.9, 0.6516, 1.1484]
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)`` of the t interval of ``values`` (finite numbers, at least one)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"values must be at least one finite number, got {x.tolist()}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def paired_gain(a, b, level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)`` of ``b - a`` over runs paired by position (same seed)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired runs need equal shapes, got {a.shape} and {b.shape}")
    return mean_ci(b - a, level)
