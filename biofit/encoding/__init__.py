"""Spike-train encoders: Poisson generation and Lempel-Ziv complexity features.

* `poisson` — homogeneous / inhomogeneous / dead-time Poisson spike trains (numpy rasters, spike times,
  counts) and torch rate coding.
* `lzc` — LZ76 (Kaspar & Schuster 1987) and LZ78 (phrase count) complexity kernels, batched,
  multiscale, sliding-window and population (time-major) variants.
* `features` — `LZCEncoder`, a scikit-learn transformer ``[n_samples, n_channels, n_bins] -> features``.

Torch is imported only inside the torch variants, so numpy-only users never load it.
"""

from biofit.encoding.features import LZCEncoder
from biofit.encoding.lzc import (
    coarse_grain,
    lempel_ziv_complexity,
    lzc_batch,
    multiscale_lzc,
    population_lzc,
    sliding_lzc,
)
from biofit.encoding.poisson import (
    poisson_spike_counts,
    poisson_spike_tensor,
    poisson_spike_times,
    poisson_spike_trains,
    rate_code,
)

__all__ = [
    "LZCEncoder",
    "coarse_grain",
    "lempel_ziv_complexity",
    "lzc_batch",
    "multiscale_lzc",
    "population_lzc",
    "sliding_lzc",
    "poisson_spike_counts",
    "poisson_spike_tensor",
    "poisson_spike_times",
    "poisson_spike_trains",
    "rate_code",
]
