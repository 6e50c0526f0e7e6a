"""PyTorch backend: torch layers generated from the models' Brian2 equations, and surrogates.

``build_layer(model, n_neurons, dt, ...)`` gives a layer for any `biofit.models.NeuronModel`:
its step is generated from the Brian2 equations with Brian2's own parser and state updaters
(`biofit.neurons.codegen`, `biofit.neurons.torchgen`) and run in Brian2's clock-driven order
(`biofit.neurons.layer`). ``layer(current[T, B, N]) -> spikes[T, B, N]``; ``layer.simulate(current)``
also returns the state traces. The built-in layers (`LIF`, `LIFSyn`, `ALIF`, `AdEx`, `QIF`,
`MetaNeuron`) are that layer with their model; `LIF` runs a fused fast path and `BlockALIF`
computes the ALIF in blocks of the refractory period (Taylor et al. 2023, arXiv:2311.11390), each
tested equal to the generated step. `Polara` (Lai & Cao) is a discrete-time neuron of its own.
`SpikeProjection` turns input spike events into a layer's current (event-driven ``S @ W``).
"""

from biofit.neurons.block_alif import BlockALIF
from biofit.neurons.builtin import ALIF, LIF, AdEx, LIFSyn, build_layer
from biofit.neurons.layer import NeuronLayer
from biofit.neurons.meta import MetaNeuron
from biofit.neurons.polara import Polara
from biofit.neurons.qif import QIF
from biofit.neurons.spike_input import SpikeEvents, SpikeProjection, project_spikes
from biofit.neurons.surrogate import SURROGATES, get_surrogate

__all__ = [
    "build_layer",
    "NeuronLayer",
    "LIF",
    "LIFSyn",
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
