r"""Threshold-dependent batch normalization (tdBN; Zheng et al. 2021, AAAI, "Going Deeper With
Directly-Trained Larger Spiking Neural Networks", eqs. 5-6), the normalization 2510.05168 puts in
front of its QIF neurons.

Each neuron's input :math:`x` is normalized over the batch *and* time (one mean and variance per
neuron, from all T x B values of a mini-batch), to a spread set by the firing threshold:

.. math::
    \hat x = \frac{\alpha V_{th}\,(x - \mu)}{\sqrt{\sigma^2 + \epsilon}}, \qquad
    y = \lambda \hat x + \alpha V_{th}\,\beta,

with learned :math:`\lambda` (initially 1) and :math:`\beta` (initially 0). Zheng et al.'s shift
is our :math:`\alpha V_{th} \beta`: ours is dimensionless, so an optimizer's steps on it are of
order 1 whatever the unit of ``y`` (amperes for a biofit layer).
``threshold`` is :math:`V_{th}` in the unit of the layer's input: for a biofit layer that takes a
current, the current that corresponds to the threshold (e.g. the constant input that moves the
membrane by the threshold distance in one step). :math:`\alpha` is 1, or :math:`1/\sqrt 2` before
a residual addition (Zheng et al.). In eval mode the running mean and variance are used, as in
``torch.nn.BatchNorm1d`` (``momentum`` 0.1, unbiased running variance).

`Normalized` puts a tdBN in front of any spiking layer (``layer(tdbn(x))``), keeping the layer's
``n_neurons``, so it drops into `biofit.learning.bptt.SpikingNetwork`.

Example
-------
>>> import torch
>>> norm = TemporalBatchNorm(3, threshold=2.0)
>>> y = norm(torch.randn(50, 8, 3) * 7 + 4)
>>> bool(y.mean((0, 1)).abs().max() < 1e-5), [round(v, 2) for v in y.std((0, 1), unbiased=False).tolist()]
(True, [2.0, 2.0, 2.0])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from biofit.validation import check_positive, check_positive_int, check_probability


class TemporalBatchNorm(nn.Module):
    """tdBN of the module docstring: ``forward(x[T, B, N]) -> y[T, B, N]``.

    Parameters
    ----------
    n_neurons: N. threshold: :math:`V_{th}` (unit of ``x``'s consumer, > 0). alpha: > 0.
    eps: added to the variance. momentum: of the running statistics, in [0, 1].
    """

    def __init__(self, n_neurons: int, threshold: float, alpha: float = 1.0, eps: float = 1e-5,
                 momentum: float = 0.1) -> None:
        super().__init__()
        self.n_neurons = check_positive_int(n_neurons, "n_neurons")
        self.threshold, self.alpha = check_positive(threshold, "threshold"), check_positive(alpha, "alpha")
        self.eps, self.momentum = check_positive(eps, "eps"), check_probability(momentum, "momentum")
        self.weight = nn.Parameter(torch.ones(self.n_neurons))
        self.bias = nn.Parameter(torch.zeros(self.n_neurons))
        self.register_buffer("running_mean", torch.zeros(self.n_neurons))
        self.register_buffer("running_var", torch.ones(self.n_neurons))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[2] != self.n_neurons:
            raise ValueError(f"input must be [T, B, {self.n_neurons}], got shape {tuple(x.shape)}")
        flat = x.reshape(-1, self.n_neurons)
        y = nn.functional.batch_norm(flat, self.running_mean, self.running_var, self.weight, self.bias,
                                     self.training, self.momentum, self.eps)
        return (self.alpha * self.threshold) * y.reshape(x.shape)


class Normalized(nn.Module):
    """``layer(norm(x))``: a spiking layer behind a normalization; ``n_neurons`` is the layer's."""

    def __init__(self, norm: nn.Module, layer: nn.Module) -> None:
        super().__init__()
        self.norm, self.layer = norm, layer
        self.n_neurons = layer.n_neurons

    def forward(self, x: Tensor) -> Tensor:
        return self.layer(self.norm(x))
