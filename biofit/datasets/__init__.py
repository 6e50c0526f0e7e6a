"""Generators of synthetic data sets with known ground truth, and loaders of shipped ones.

* `sources`: binary sources with closed-form entropy rates (Bernoulli, first-order Markov, binned
  Poisson), used to check LZC against its theoretical limit.
* `latency`: first-spike latency patterns for the tempotron (random labels, jittered templates).
* `rasters`: the example raster of ``data/example_raster.npy`` (Poisson vs bursty, equal rates).
* Classification tasks, rasters ``[n_samples, n_channels, n_bins]`` with labels: `source_tasks`
  (Bernoulli / Markov / dead-time Poisson classes at one rate), `patterns` (templates embedded
  in Poisson noise), `digits` (scikit-learn's digits, rate or latency coded) and `auditory` (the
  loader of the auditory-cortex recordings of Szabó & Barthó 2021, with the file's split).
"""

from biofit.datasets.auditory import LabelledRaster, load_auditory_cortex
from biofit.datasets.digits import coded_digits
from biofit.datasets.latency import jittered_templates, random_latency_patterns
from biofit.datasets.patterns import embedded_patterns
from biofit.datasets.rasters import example_raster, make_example_raster
from biofit.datasets.sources import (
    bernoulli_source,
    entropy_rate_bernoulli,
    entropy_rate_markov,
    entropy_rate_poisson,
    markov_source,
    poisson_source,
)
from biofit.datasets.source_tasks import source_task

__all__ = [
    "LabelledRaster",
    "bernoulli_source",
    "coded_digits",
    "embedded_patterns",
    "entropy_rate_bernoulli",
    "entropy_rate_markov",
    "entropy_rate_poisson",
    "example_raster",
    "jittered_templates",
    "load_auditory_cortex",
    "make_example_raster",
    "markov_source",
    "poisson_source",
    "random_latency_patterns",
    "source_task",
]
