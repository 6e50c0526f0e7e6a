"""Local learning rules: STDP, Tempotron, three-factor reward-modulated STDP.

* `stdp` — trace-based pair STDP (all-to-all / nearest-neighbour; additive, multiplicative with
  exponent mu; hard bounds), online (`stdp_step`, `STDP.step`) or on whole rasters (`STDP.run`).
* `tempotron` — Gütig & Sompolinsky (2006), a scikit-learn classifier.
* `three_factor` — reward-modulated STDP with eligibility traces (Izhikevich 2007; Florian 2007).
* `bptt` — surrogate-gradient training of spiking networks (`SpikingNetwork`, `fit`); imported as
  ``biofit.learning.bptt``, not here, since it loads the neuron layers (and Brian2).
"""

from biofit.learning.stdp import STDP, STDPParams, stdp_step, stdp_window
from biofit.learning.tempotron import Tempotron
from biofit.learning.three_factor import RewardModulatedSTDP, RSTDPParams

__all__ = [
    "STDP",
    "STDPParams",
    "stdp_step",
    "stdp_window",
    "Tempotron",
    "RewardModulatedSTDP",
    "RSTDPParams",
]
