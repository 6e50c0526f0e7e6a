"""scikit-learn classifiers built on spiking networks and LZC features.

* `SNNLZCClassifier` (`snn_lzc`): input spikes -> spiking network (LIF or meta neuron; trained by
  backprop, STDP or Tempotron; intrinsic parameters fixed or learned, `paths`) -> output spike
  trains -> Lempel-Ziv complexity -> decision (`decision`: the LZC rule or a readout).
* Baselines (`baselines`): rate, binned-rate (PSTH) and input-LZC features + logistic regression.
"""

from biofit.classify.baselines import InputLZCLogistic, PSTHLogistic, RateLogistic
from biofit.classify.decision import LZCNearestCentroid
from biofit.classify.snn_lzc import SNNLZCClassifier

__all__ = ["SNNLZCClassifier", "LZCNearestCentroid", "RateLogistic", "PSTHLogistic", "InputLZCLogistic"]
