"""biofit: fit neuron models to recordings, train spiking networks, classify spike data with LZC.

Subpackages (one job each; see ARCHITECTURE.md): ``models`` (one definition per neuron model),
``reference`` (Brian2 backend), ``neurons`` (PyTorch backend), ``encoding`` (Poisson generation,
Lempel-Ziv complexity), ``learning`` (STDP, Tempotron, three-factor, BPTT), ``io``, ``fitting``,
``datasets``, ``classify``.
"""

__version__ = "0.1.0"
