"""Surrogate spike functions: Heaviside forward, smooth pseudo-derivative backward.

Every surrogate is a `torch.autograd.Function` whose forward is the strict step
:math:`H(x) = 1[x > 0]` (strict, as Brian2's threshold ``v > v_th``: a membrane exactly at
threshold does not fire) and whose backward multiplies the incoming gradient by
:math:`g(x; w) = s'(x; w)`, the derivative of a smooth step :math:`s` of width ``w`` (same unit as
``x``, volt for a membrane potential, so ``g`` is in 1/V). All are normalised to
:math:`\\int g = 1` except the multi-Gaussian, whose integral is :math:`1 - h`:

=================  ====================================================  ==============================
name               :math:`g(x; w)`                                        source
=================  ====================================================  ==============================
``fast_sigmoid``   :math:`\\frac{1}{2w\\,(1 + |x|/w)^2}`                   SuperSpike, Zenke & Ganguli 2018
``atan``           :math:`\\frac{1}{2w\\,(1 + (\\pi x / 2w)^2)}`            Fang et al. 2021
``triangle``       :math:`\\max(0, 1 - |x|/w) / w`                         Bellec et al. 2018
``boxcar``         :math:`1[|x| < w] / (2w)`                               (straight-through window)
``multi_gaussian`` :math:`(1+h)N(x;0,w) - hN(x;w,6w) - hN(x;-w,6w)`       Yin et al. 2021, h = 0.15
=================  ====================================================  ==============================

``multi_gaussian`` is the surrogate of the Block-ALIF code of 2311.11390 (``MultiGaussSpike``: a
Gaussian of s.d. ``w`` scaled by 1.15 minus two Gaussians of s.d. ``6w`` centred at ``+-w``, each
scaled by 0.15); :math:`N(x; \\mu, \\sigma)` is the normal density.

Example
-------
>>> import torch
>>> from biofit.neurons.surrogate import get_surrogate
>>> spike = get_surrogate("fast_sigmoid")
>>> x = torch.tensor([-1e-3, 0.0, 2e-3], requires_grad=True)
>>> spike(x, 1e-3).tolist()
[0.0, 0.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

MULTI_GAUSSIAN_HEIGHT = 0.15
MULTI_GAUSSIAN_SCALE = 6.0
_SQRT2 = math.sqrt(2.0)


def _normal_pdf(x: Tensor, mu: float, sigma: float) -> Tensor:
    return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2.0 * math.pi))


def _normal_cdf(x: Tensor, mu: float, sigma: float) -> Tensor:
    return 0.5 * (1.0 + torch.erf((x - mu) / (sigma * _SQRT2)))


# Each surrogate: (derivative g, smooth step s with s' = g). `s` documents the form and is what the
# tests differentiate with autograd to check `g`.
# The derivatives allocate one tensor and work in place on it: the layers evaluate them on whole
# [T, B, N] sequences, where every extra temporary costs a pass over memory.
def _fast_sigmoid_grad(x: Tensor, w: float) -> Tensor:
    t = x.abs().div_(w).add_(1.0)
    return t.mul_(t).mul_(2.0 * w).reciprocal_()


def _fast_sigmoid_smooth(x: Tensor, w: float) -> Tensor:
    return 0.5 + x / (2.0 * (w + x.abs()))


def _atan_grad(x: Tensor, w: float) -> Tensor:
    t = x * (math.pi / (2.0 * w))
    return t.mul_(t).add_(1.0).mul_(2.0 * w).reciprocal_()


def _atan_smooth(x: Tensor, w: float) -> Tensor:
    return 0.5 + torch.atan(math.pi * x / (2.0 * w)) / math.pi


def _triangle_grad(x: Tensor, w: float) -> Tensor:
    return x.abs().div_(-w).add_(1.0).clamp_(min=0.0).div_(w)


def _triangle_smooth(x: Tensor, w: float) -> Tensor:
    y = torch.clamp(x / w, -1.0, 1.0)
    return 0.5 + y - 0.5 * y * y.abs()


def _boxcar_grad(x: Tensor, w: float) -> Tensor:
    return (x.abs() < w).to(x.dtype) / (2.0 * w)


def _boxcar_smooth(x: Tensor, w: float) -> Tensor:
    return torch.clamp(0.5 + x / (2.0 * w), 0.0, 1.0)


def _multi_gaussian_grad(x: Tensor, w: float) -> Tensor:
    h, s = MULTI_GAUSSIAN_HEIGHT, MULTI_GAUSSIAN_SCALE
    return (1.0 + h) * _normal_pdf(x, 0.0, w) - h * (
        _normal_pdf(x, w, s * w) + _normal_pdf(x, -w, s * w)
    )


def _multi_gaussian_smooth(x: Tensor, w: float) -> Tensor:
    h, s = MULTI_GAUSSIAN_HEIGHT, MULTI_GAUSSIAN_SCALE
    return (1.0 + h) * _normal_cdf(x, 0.0, w) - h * (
        _normal_cdf(x, w, s * w) + _normal_cdf(x, -w, s * w)
    )


_FORMS: dict[str, tuple[Callable[[Tensor, float], Tensor], Callable[[Tensor, float], Tensor]]] = {
    "fast_sigmoid": (_fast_sigmoid_grad, _fast_sigmoid_smooth),
    "atan": (_atan_grad, _atan_smooth),
    "triangle": (_triangle_grad, _triangle_smooth),
    "boxcar": (_boxcar_grad, _boxcar_smooth),
    "multi_gaussian": (_multi_gaussian_grad, _multi_gaussian_smooth),
}


def heaviside(x: Tensor) -> Tensor:
    """Strict step ``1[x > 0]`` in the dtype of `x` (comparison written straight into a float
    tensor: several times faster than ``(x > 0).to(x.dtype)`` on small tensors)."""
    return torch.gt(x, 0, out=torch.empty_like(x))


def _make_spike_function(name: str, grad: Callable[[Tensor, float], Tensor]) -> type:
    class _Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x: Tensor, width: float) -> Tensor:  # noqa: D401 - autograd API
            ctx.save_for_backward(x)
            ctx.width = width
            return heaviside(x)

        @staticmethod
        def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:
            (x,) = ctx.saved_tensors
            return grad_output * grad(x, ctx.width), None

    _Spike.__name__ = _Spike.__qualname__ = "".join(p.title() for p in name.split("_")) + "Spike"
    _Spike.__doc__ = f"Heaviside forward, ``{name}`` surrogate derivative backward (see module doc)."
    return _Spike


SURROGATES: dict[str, type] = {name: _make_spike_function(name, g) for name, (g, _) in _FORMS.items()}


def get_surrogate(name: str) -> Callable[[Tensor, float], Tensor]:
    """The spike function ``f(x, width) -> float 0/1 tensor`` called `name` (see `SURROGATES`).

    Raises ValueError listing the known names for an unknown `name`.
    """
    if name not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; known: {', '.join(SURROGATES)}")
    return SURROGATES[name].apply


def surrogate_grad(name: str, x: Tensor, width: float) -> Tensor:
    """The closed-form pseudo-derivative :math:`g(x; w)` of surrogate `name` (what backward uses)."""
    get_surrogate(name)
    return _FORMS[name][0](x, width)


def surrogate_smooth(name: str, x: Tensor, width: float) -> Tensor:
    """The smooth step :math:`s(x; w)` whose derivative is surrogate `name`'s backward."""
    get_surrogate(name)
    return _FORMS[name][1](x, width)
