"""Generators of synthetic data sets with known ground truth, and loaders of shipped ones.

* `sources`: binary sources with closed-form entropy rates (Bernoulli, first-order Markov, binned
  Poisson), used to check LZC against its theoretical limit.
* `latency`: first-spike latency patterns for the tempotron (random labels, jittered templates).
* `rasters`: the example raster of ``data/example_raster.npy`` (Poisson vs bursty, equal rates).
"""

from biofit.datasets.latency import jittered_templates, random_latency_patterns
from biofit.datasets.rasters import example_raster, make_example_raster
from biofit.datasets.sources import (
    bernoulli_source,
    entropy_rate_bernoulli,
    entropy_rate_markov,
    entropy_rate_poisson,
    markov_source,
    poisson_source,
)

__all__ = [
    "bernoulli_source",
    "entropy_rate_bernoulli",
    "entropy_rate_markov",
    "entropy_rate_poisson",
    "example_raster",
    "jittered_templates",
    "make_example_raster",
    "markov_source",
    "poisson_source",
    "random_latency_patterns",
]
