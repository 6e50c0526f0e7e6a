r"""The leaky-integrator max-over-time readout of SpyTorch (Zenke's tutorials; Zenke & Vogels 2021).

A layer of non-spiking output units integrates the spikes :math:`z(t)` of the layer below through
dimensionless weights ``W: [N, K]`` with a synaptic and a membrane filter, and the logits are the
highest membrane value of each unit over the trial:

.. math::
    h_t &= z_t W, \qquad
    f_{t} = \alpha f_{t-1} + h_t, \qquad
    m_{t} = \beta m_{t-1} + f_{t-1}, \qquad f_0 = m_0 = 0,\\
    \text{logit}_k &= \max_{0 \le t \le T} m_{t,k},
    \qquad \alpha = e^{-dt/\tau_{syn}},\ \beta = e^{-dt/\tau_{mem}}

(``spytorch/tutorial 1``, ``run_snn``: the membrane is updated with the filter's *previous* value,
and the recording starts with :math:`m_0 = 0`, so a silent unit's logit is 0.) The weights are
drawn :math:`W \sim N(0, (7 (1 - \beta))^2 / N)` (SpyTorch's ``weight_scale / sqrt(nb_hidden)``).
It is a readout, not a neuron model: there is no threshold and no state carried between calls.

Example
-------
>>> import torch
>>> readout = LeakyMaxReadout(3, 2, dt=1e-3, seed=0)
>>> readout(torch.zeros(20, 4, 3)).tolist() == [[0.0, 0.0]] * 4
True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from biofit.validation import check_dt, check_positive, check_positive_int, torch_generator

SPYTORCH_WEIGHT_GAIN = 7.0  # weight_scale = 7 (1 - beta) in SpyTorch's tutorials


class LeakyMaxReadout(nn.Module):
    """``forward(spikes[T, B, N]) -> logits[B, K]``: the readout of the module docstring.

    Parameters
    ----------
    n_inputs, n_outputs: N (spiking units below) and K (classes).
    dt: time step, s. tau_syn, tau_mem: the filters' time constants, s (SpyTorch: 5 ms, 10 ms).
    seed: int, numpy or torch Generator for the initial weights.
    """

    def __init__(self, n_inputs: int, n_outputs: int, dt: float = 1e-3, tau_syn: float = 5e-3,
                 tau_mem: float = 10e-3, seed=None) -> None:
        super().__init__()
        n_inputs, n_outputs = check_positive_int(n_inputs, "n_inputs"), check_positive_int(n_outputs, "n_outputs")
        dt = check_dt(dt)
        self.alpha = math.exp(-dt / check_positive(tau_syn, "tau_syn"))
        self.beta = math.exp(-dt / check_positive(tau_mem, "tau_mem"))
        std = SPYTORCH_WEIGHT_GAIN * (1.0 - self.beta) / math.sqrt(n_inputs)
        self.weight = nn.Parameter(std * torch.randn(n_inputs, n_outputs, generator=torch_generator(seed)))

    def forward(self, spikes: Tensor) -> Tensor:
        if spikes.dim() != 3 or spikes.shape[2] != self.weight.shape[0]:
            raise ValueError(f"spikes must be [T, B, {self.weight.shape[0]}], got shape {tuple(spikes.shape)}")
        h = spikes.to(self.weight.dtype) @ self.weight
        f = m = h.new_zeros(h.shape[1:])
        best = m
        for h_t in h.unbind(0):
            f, m = self.alpha * f + h_t, self.beta * m + f
            best = torch.maximum(best, m)
        return best
