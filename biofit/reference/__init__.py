"""Brian2 reference backend: simulate a model from biofit.models driven by a current or by spikes.

>>> from biofit.reference import simulate, simulate_spiking_input, Trace
"""

from biofit.reference.current import simulate
from biofit.reference.spiking import simulate_spiking_input
from biofit.reference.trace import Trace

__all__ = ["Trace", "simulate", "simulate_spiking_input"]
