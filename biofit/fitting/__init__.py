"""Fitting neuron models to recordings, and the metrics that score a fit.

`metrics`: the coincidence factor Γ as published (QSNMC 2007, Jolivet et al. 2008; Naud et al.
2011 without replacement), intrinsic reliability and Γ/Γ_int, brian2modelfitting's rate-penalised
loss, explained temporal variance (Teeter et al. 2018; 2311.11390), van Rossum distance, voltage
RMSE (whole or subthreshold) and spike-count error -- pure NumPy functions.
"""

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

__all__ = [
    "count_coincidences",
    "explained_variance_blocks",
    "explained_variance_teeter",
    "gamma_factor",
    "intrinsic_reliability",
    "normalised_gamma",
    "rate_penalised_gamma_loss",
    "spike_count_error",
    "subthreshold_voltage_rmse",
    "van_rossum_distance",
    "voltage_rmse",
]
