r"""The example raster shipped as ``data/example_raster.npy``: equal rates, different structure.

``bool[6, 8, 500]`` = ``[n_samples, n_channels, n_bins]``, bins of :data:`DT` = 1 ms (0.5 s per
sample). Samples 0-2: homogeneous Poisson at 20 Hz on every channel
(:func:`~biofit.encoding.poisson.poisson_spike_trains`). Samples 3-5: bursty binary Markov chains
(:func:`~biofit.datasets.sources.markov_source`) with the same stationary spike probability per
bin, :math:`p = 1 - e^{-0.02}`, and bursts of mean length 1/0.3 bins
(:math:`p_{10} = 0.3`, :math:`p_{01} = p_{10}\,p / (1 - p)`). The two groups have equal rates but
different temporal structure, which the LZC features separate.

Example
-------
>>> raster = example_raster(seed=0)
>>> raster.shape, raster.dtype
((6, 8, 500), dtype('bool'))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biofit.datasets.sources import markov_source
from biofit.encoding.poisson import poisson_spike_trains
from biofit.io.atomic import write_atomic
from biofit.validation import numpy_generator

DT = 1e-3  # bin width of the example raster, s


def example_raster(seed=0) -> np.ndarray:
    """The raster of the module docstring, ``bool[6, 8, 500]``. ``seed``: int or numpy Generator."""
    rng = numpy_generator(seed)
    n_channels, n_bins, p, p10 = 8, 500, -np.expm1(-20.0 * DT), 0.3
    poisson = poisson_spike_trains(20.0, n_bins * DT, DT, n_trains=3 * n_channels, seed=rng)
    p01 = p10 * p / (1 - p)  # stationary P(1) = p01 / (p01 + p10) = p
    bursty = [markov_source(p01, p10, n_bins, seed=rng) for _ in range(3 * n_channels)]
    return np.concatenate([poisson, np.array(bursty)]).reshape(6, n_channels, n_bins)


def make_example_raster(path, seed=0) -> np.ndarray:
    """Write :func:`example_raster` to ``path`` (``.npy``, atomically) and return it.

    ``data/example_raster.npy`` is ``make_example_raster("data/example_raster.npy", seed=0)``.
    """
    raster = example_raster(seed)
    write_atomic(Path(path), lambda f: np.save(f, raster, allow_pickle=False))
    return raster
