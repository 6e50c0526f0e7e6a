"""PyTorch backend: surrogate spike functions and spiking layers.

``layer(current[T, B, N]) -> spikes[T, B, N]``; ``layer.simulate(current)`` also returns the state
traces. Each layer reads its model from `biofit.models` and reproduces Brian2's clock-driven
scheme (see the docstring of `biofit.neurons.lif`).
"""

from biofit.neurons.adex import AdEx
from biofit.neurons.alif import ALIF
from biofit.neurons.lif import LIF
from biofit.neurons.qif import QIF
from biofit.neurons.surrogate import SURROGATES, get_surrogate

__all__ = ["LIF", "ALIF", "AdEx", "QIF", "SURROGATES", "get_surrogate"]
