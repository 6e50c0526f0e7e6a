r"""The spiking layers of `SNNLZCClassifier` and the data-dependent scale of their input currents.

Neurons (`biofit.neurons`, SI defaults of `biofit.models`): ``"lif"`` (`biofit.models.lif`) and
``"meta"``, our probabilistic meta neuron of 2508.11674 (`biofit.models.meta`: escape noise,
sampled in training mode, thresholded in eval mode). With ``learn_intrinsic`` each neuron learns
its own (``per_neuron``) values of the parameters in `INTRINSIC`: time constants, threshold,
reset, and for the meta neuron the refractory threshold jump, its decay and the noise softness
(``t_ref`` acts as a whole number of steps and is never learned).

Scale. Layer l gets :math:`I = s_l\, z\, W_l` from the spikes ``z`` of the layer below (or the
input) with weights :math:`W_l \sim N(\bar w, \cdot)` of mean :math:`\bar w` > 0
(`biofit.learning.bptt.SpikingNetwork`). `calibrate` sets

.. math::  s_l = g\, I_{rh} / (N_{l-1}\, \bar r_{l-1}\, \bar w),
           \qquad I_{rh} = (v_{th} - v_{rest}) / R ,

so the mean input current is ``g`` (``input_gain``) times the rheobase :math:`I_{rh}` of a LIF
neuron of the layer's parameters, whatever the input's rate :math:`\bar r_{l-1}` (spikes per bin
and channel, measured on the training data, layer by layer in eval mode): the same network fires
on 8 Hz recordings and on 100 Hz coded digits.
"""

from __future__ import annotations

import numpy as np
import torch

from biofit.learning.bptt import SpikingNetwork
from biofit.neurons import build_layer

NEURONS = ("lif", "meta")
INTRINSIC = {
    "lif": ("tau_mem", "v_th", "v_reset"),
    "meta": ("tau_mem", "tau_syn", "v_th", "v_reset", "tau_ref", "theta_ref", "delta_u"),
}
MIN_RATE = 1e-4  # spikes per bin assumed for a silent input, so that its scale stays finite


def spiking_layer(neuron: str, n_neurons: int, dt: float, learn_intrinsic: bool, width: float, seed):
    """A layer of ``n_neurons`` neurons of kind ``neuron`` (see `INTRINSIC` for what it learns)."""
    if neuron not in NEURONS:
        raise ValueError(f"unknown neuron {neuron!r}; expected one of {NEURONS}")
    learn = INTRINSIC[neuron] if learn_intrinsic else ()
    return build_layer(neuron, n_neurons, dt, learn=learn, width=width, seed=seed)


def rheobase(layer) -> float:
    """:math:`(v_{th} - v_{rest}) / R` (A), averaged over the layer's neurons."""
    p = layer.intrinsic()
    return float(((p["v_th"] - p["v_rest"]) / p["R"]).mean())


def time_major(arr: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    """Spikes ``[n, C, T]`` (numpy) as the ``[T, n, C]`` tensor the layers take."""
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).to(dtype)


def calibrate(network: SpikingNetwork, x: torch.Tensor, gain: float, mean_weight: float,
              batch_size: int = 64) -> None:
    """Set ``network.scales`` layer by layer from the input spikes ``x[T, B, N_0]`` (module docstring)."""
    was_training = network.training
    network.eval()
    with torch.no_grad():
        for l, layer in enumerate(network.layers):
            rate = max(float(x.mean()), MIN_RATE)
            network.scales[l] = gain * rheobase(layer) / (x.shape[2] * rate * mean_weight)
            x = torch.cat([network.stage(l, x[:, i:i + batch_size]) for i in range(0, x.shape[1], batch_size)], 1)
    network.train(was_training)
