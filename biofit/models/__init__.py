"""Neuron model definitions: parameters (name, default, bounds, unit, learnable) and Brian2 equations.

Each model is defined once here; the Brian2 backend (`biofit.reference`) and the PyTorch backend
(`biofit.neurons`) both read it.

>>> from biofit.models import get_model
>>> get_model("alif").threshold
'v > v_th + a'
"""

from __future__ import annotations

from biofit.models.adex import ADEX
from biofit.models.alif import ALIF
from biofit.models.base import NeuronModel, Parameter, ParameterSet
from biofit.models.conductance import LIF_COND
from biofit.models.lif import LIF, LIF_SYN
from biofit.models.meta import META, META_DET
from biofit.models.qif import QIF
from biofit.models.srm import SRM_ESCAPE

MODELS: dict[str, NeuronModel] = {m.name: m for m in (LIF, LIF_SYN, ALIF, ADEX, QIF, META, META_DET, LIF_COND, SRM_ESCAPE)}
# POLARA (biofit.models.polara) is discrete-time with no Brian2 equations, so it is not listed here.


def get_model(name: str) -> NeuronModel:
    """The model called `name` (one of `MODELS`); ValueError listing the known models otherwise."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None


__all__ = ["MODELS", "NeuronModel", "Parameter", "ParameterSet", "get_model"]
