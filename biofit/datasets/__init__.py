"""Generators of synthetic data sets with known ground truth, and loaders of shipped ones.

`sources`: binary sources with closed-form entropy rates (Bernoulli, first-order Markov, binned
Poisson), used to check LZC against its theoretical limit.
"""

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
    "markov_source",
    "poisson_source",
]
