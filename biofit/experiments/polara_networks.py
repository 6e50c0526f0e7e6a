r"""The two networks of the POLARA reproduction (`biofit.experiments.polara_vs_lif`): POLARA and the
SpyTorch-style LIF baseline, each ``input -> L hidden layers -> LeakyMaxReadout``.

Both read out through SpyTorch's leaky-integrator max-over-time readout
(`biofit.learning.readout.LeakyMaxReadout`, tau_syn 5 ms, tau_mem 10 ms, dt 1 ms): the paper's
hidden layer of 100 neurons is SpyTorch's tutorial network, whose LIF is the paper's baseline.
Hidden weights start at :math:`W_1 \sim N(0, (g / \sqrt{N_0})^2)`, one draw per seed (the
readout's weights follow from the same generator). A deeper layer's weights are drawn likewise,
then scaled so that, on the first training samples, the standard deviation of its input (drive or
current, over steps, samples and neurons) equals the first layer's (`balance_depth`; LSUV-like,
Mishkin & Matas 2016): without it the second and later POLARA layers, fed graded spikes at a
lower rate than the pixels', start silent, and below threshold POLARA's gradient is exactly 0.

* POLARA (`biofit.neurons.Polara`, window 6, its default constants): the drive of layer l is
  :math:`z_{l-1} W_l` (dimensionless, scale 1); ``g = POLARA_INIT_GAIN`` = 1.6 (the paper gives
  no initialisation; 1.6 makes about two thirds of the hidden neurons fire on the first trials,
  as SpyTorch's initialisation does for its LIF).
* LIF, SpyTorch's (tutorial 1): current-based with a synaptic filter (biofit's ``lif_syn``:
  tau_syn 5 ms, tau_mem 10 ms, reset to rest, no refractory period, threshold 20 mV above rest),
  SuperSpike's fast-sigmoid surrogate with SpyTorch's steepness 100 per threshold distance
  (width :math:`w = 0.2` mV). SpyTorch's weights :math:`w_s` add to a dimensionless synaptic
  variable with unit threshold; biofit integrates ``lif_syn`` exactly in volts, and the two agree
  for the current scale :math:`s_{spy} = \Delta V / ((1 - \alpha)(1 - \beta) R)` (per unit weight
  and spike; :math:`\alpha = e^{-dt/\tau_{syn}}`, :math:`\beta = e^{-dt/\tau_{mem}}`) and
  :math:`g = 7 (1 - \beta)` (SpyTorch's ``weight_scale``). biofit's surrogates have unit area, so
  its derivative is :math:`k^2 = \Delta V / (2w) = 50` times SpyTorch's un-normalised one; we
  store the weights as :math:`W = k w_s` with the scale :math:`s_{spy}/k`: the forward pass is
  SpyTorch's and an SGD step on W is SpyTorch's SGD step on :math:`w_s` at the same learning rate.
"""

from __future__ import annotations

import math

import torch

from biofit.learning.bptt import SpikingNetwork
from biofit.learning.readout import LeakyMaxReadout
from biofit.neurons import LIFSyn, Polara
from biofit.validation import torch_generator

DT = 1e-3  # s, SpyTorch's time step; POLARA counts steps
WINDOW = 6  # POLARA's temporal window (the paper's)
POLARA_INIT_GAIN = 1.6
SPYTORCH_LIF = dict(tau_mem=10e-3, tau_syn=5e-3, t_ref=0.0, v_rest=-70e-3, v_reset=-70e-3, v_th=-50e-3)
SPYTORCH_STEEPNESS = 100.0  # SuperSpike's beta, per threshold distance
SPYTORCH_WEIGHT_GAIN = 7.0


def _rescale(network: SpikingNetwork, gain: float) -> SpikingNetwork:
    """Weights drawn N(0, 1) scaled to N(0, (gain / sqrt(N_in))^2), layer by layer."""
    with torch.no_grad():
        for w in network.weights:
            w.mul_(gain / math.sqrt(w.shape[0]))
    return network


def balance_depth(network: SpikingNetwork, x: torch.Tensor) -> SpikingNetwork:
    """Scale the weights of layers 2..L so that the s.d. of each layer's input on the spikes
    ``x[T, B, N_0]`` equals the first layer's (module docstring)."""
    with torch.no_grad():
        reference = None
        for l, w in enumerate(network.weights):
            spread = float(((x @ w) * network.scales[l].to(x.dtype)).std())
            if reference is None:
                reference = spread
            elif spread > 0:
                w.mul_(reference / spread)
            x = network.stage(l, x)
    return network


def polara_model(n_inputs: int, n_hidden: int, depth: int, n_classes: int, seed, x: torch.Tensor,
                 **switches) -> torch.nn.Sequential:
    """POLARA network, deeper layers balanced on the spikes ``x[T, B, n_inputs]``; ``switches``:
    `biofit.neurons.Polara` component switches (the ablation)."""
    generator = torch_generator(seed)
    layers = [Polara(n_hidden, window=WINDOW, **switches) for _ in range(depth)]
    net = _rescale(SpikingNetwork(n_inputs, layers, scales=[1.0] * depth, seed=generator), POLARA_INIT_GAIN)
    return torch.nn.Sequential(balance_depth(net, x), LeakyMaxReadout(n_hidden, n_classes, dt=DT, seed=generator))


def lif_model(n_inputs: int, n_hidden: int, depth: int, n_classes: int, seed, x: torch.Tensor) -> torch.nn.Sequential:
    """SpyTorch's LIF network in biofit's units (module docstring), deeper layers balanced on ``x``."""
    p = SPYTORCH_LIF
    threshold = p["v_th"] - p["v_rest"]
    width = threshold / SPYTORCH_STEEPNESS
    layers = [LIFSyn(n_hidden, dt=DT, width=width, **p) for _ in range(depth)]
    R = float(layers[0].intrinsic()["R"].mean())
    alpha, beta = math.exp(-DT / p["tau_syn"]), math.exp(-DT / p["tau_mem"])
    k = math.sqrt(threshold / (2.0 * width))
    scale = threshold / ((1.0 - alpha) * (1.0 - beta) * R) / k
    generator = torch_generator(seed)
    net = SpikingNetwork(n_inputs, layers, scales=[scale] * depth, seed=generator)
    _rescale(net, k * SPYTORCH_WEIGHT_GAIN * (1.0 - beta))
    return torch.nn.Sequential(balance_depth(net, x), LeakyMaxReadout(n_hidden, n_classes, dt=DT, seed=generator))
