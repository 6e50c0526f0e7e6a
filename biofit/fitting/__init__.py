"""Fitting neuron models to recordings, and the metrics that score a fit.

The fit is three swappable parts, as in brian2modelfitting: a model with search priors
(`SearchSpace`, `Prior`), a loss (`GammaLoss`, `VoltageLoss`, `VanRossumLoss`, `CountLoss`,
`UpswingLoss`, `WeightedLoss`), and an optimizer (`Gradient`: Adam through the generated torch layer;
`CMAES`: CMA-ES over Brian2 populations; `Hybrid`: the first, then the second; `Surrogate`: the
free-running model by surrogate gradient, BlockALIF for ALIF, as in 2311.11390). `fit` composes
them and returns a `FitResult`.

`metrics`: the coincidence factor Γ as published (QSNMC 2007, Jolivet et al. 2008; Naud et al.
2011 without replacement), intrinsic reliability and Γ/Γ_int, brian2modelfitting's rate-penalised
loss, explained temporal variance (Teeter et al. 2018; 2311.11390), van Rossum distance, voltage
RMSE (whole or subthreshold) and spike-count error -- pure NumPy functions.
"""

from biofit.fitting.cmaes import CMAES
from biofit.fitting.fit import DEFAULT_METHOD, METHODS, default_optimizer, fit
from biofit.fitting.gradient import Gradient
from biofit.fitting.hybrid import Hybrid
from biofit.fitting.losses import (
    LOSSES,
    CountLoss,
    GammaLoss,
    UpswingLoss,
    VanRossumLoss,
    VoltageLoss,
    WeightedLoss,
    count_loss,
    default_loss,
    upswing_loss,
)
from biofit.fitting.metrics import (
    count_coincidences,
    explained_variance_blocks,
    explained_variance_teeter,
    gamma_factor,
    intrinsic_reliability,
    normalised_gamma,
    rate_penalised_gamma_loss,
    spike_count_error,
    subthreshold_voltage_rmse,
    van_rossum_distance,
    voltage_rmse,
)
from biofit.fitting.priors import DEFAULT_PRIORS, Prior, SearchSpace
from biofit.fitting.result import FitResult, load_result
from biofit.fitting.surrogate import Surrogate

__all__ = [
    "CMAES", "CountLoss", "DEFAULT_METHOD", "LOSSES", "DEFAULT_PRIORS", "FitResult", "GammaLoss",
    "Gradient", "Hybrid", "Surrogate", "METHODS", "Prior", "SearchSpace", "UpswingLoss", "VanRossumLoss",
    "VoltageLoss", "WeightedLoss", "count_coincidences", "count_loss", "default_loss", "default_optimizer",
    "upswing_loss",
    "explained_variance_blocks", "explained_variance_teeter",
    "fit", "gamma_factor", "intrinsic_reliability", "load_result", "normalised_gamma",
    "rate_penalised_gamma_loss", "spike_count_error", "subthreshold_voltage_rmse",
    "van_rossum_distance", "voltage_rmse",
]
