"""PyTorch backend: surrogate spike functions and spiking layers.

``layer(current[T, B, N]) -> spikes[T, B, N]``; ``layer.simulate(current)`` also returns the state
traces. Each layer reads its model from `biofit.models`; LIF, ALIF, AdEx and QIF reproduce Brian2's
clock-driven scheme (see the docstring of `biofit.neurons.lif`). `BlockALIF` computes the ALIF in
blocks of the refractory period (Taylor et al. 2023, arXiv:2311.11390) with identical spikes;
`MetaNeuron` (our escape-noise model of arXiv:2508.11674) and `Polara` (Lai & Cao) are documented
in their modules. `SpikeProjection` turns input spike events into a layer's current
(event-driven ``S @ W``).
"""

from biofit.neurons.adex import AdEx
from biofit.neurons.alif import ALIF
from biofit.neurons.block_alif import BlockALIF
from biofit.neurons.lif import LIF
from biofit.neurons.meta import MetaNeuron
from biofit.neurons.polara import Polara
from biofit.neurons.qif import QIF
from biofit.neurons.spike_input import SpikeEvents, SpikeProjection, project_spikes
from biofit.neurons.surrogate import SURROGATES, get_surrogate

__all__ = [
    "LIF",
    "ALIF",
    "BlockALIF",
    "AdEx",
    "QIF",
    "MetaNeuron",
    "Polara",
    "SpikeEvents",
    "SpikeProjection",
    "project_spikes",
    "SURROGATES",
    "get_surrogate",
]
