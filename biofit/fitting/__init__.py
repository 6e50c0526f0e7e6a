"""Fitting neuron models to recordings, and the spike-train / voltage metrics used to score fits.

`metrics`: coincidence factor Γ (Kistler et al. 1997; Jolivet et al. 2008), van Rossum distance,
voltage RMSE and explained temporal variance — pure numpy functions.
"""

from biofit.fitting.metrics import (
    count_coincidences,
    explained_temporal_variance,
    gamma_factor,
    van_rossum_distance,
    voltage_rmse,
)

__all__ = [
    "count_coincidences",
    "explained_temporal_variance",
    "gamma_factor",
    "van_rossum_distance",
    "voltage_rmse",
]
