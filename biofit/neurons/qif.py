r"""Quadratic integrate-and-fire layer (`biofit.models` ``qif``): a fixed-point-analysed discrete map
with a surrogate window derived from its parameters (in the spirit of 2510.05168).

Model: :math:`\tau\dot v = (v - v_r)(v - v_r - \Delta)/\Delta + R\,I` (``tau_mem``, ``v_rest``,
``delta_v``); spike when :math:`v > v_{peak}`, then :math:`v \leftarrow v_{reset}`, ``v`` frozen for
``t_ref``.

Discretization
--------------
The step is generated from the model's Brian2 equations (`biofit.neurons.layer`): forward Euler
with the input held at ``I[n]`` (Brian2's ``method="euler"``, refractory rule of
`biofit.neurons.refractory`); this module only supplies the spike function. With :math:`\varepsilon = dt/\tau` and the normalised potential
:math:`x = (v - v_r)/\Delta`, :math:`u = R I / \Delta`, one step is the quadratic map

.. math::
    x_{n+1} = F_u(x_n) = x_n + \varepsilon\,\big(x_n(x_n - 1) + u_n\big),

spike when :math:`x_{n+1} > x_p = (v_{peak} - v_r)/\Delta`.

Fixed points. :math:`F_u(x) = x \iff x^2 - x + u = 0`:
:math:`x_\pm = \tfrac12 \pm \sqrt{\tfrac14 - u}`, real for :math:`u \le 1/4` (the rheobase
:math:`I = \Delta/(4R)`; above it the map has no fixed point and the neuron fires tonically). They
do not depend on :math:`\varepsilon`: Euler keeps the ODE's fixed points. Their stability does:
:math:`F_u'(x) = 1 + \varepsilon(2x - 1)`, so :math:`F_u'(x_\pm) = 1 \pm \varepsilon\sqrt{1 - 4u}`;
:math:`x_+` is always unstable, :math:`x_-` is stable iff :math:`\varepsilon\sqrt{1 - 4u} < 2`
(for u = 0: dt < 2 tau). Without input, :math:`x_- = 0` (``v_rest``) and :math:`x_+ = 1`
(:math:`v_c = v_r + \Delta`).

Surrogate window. For u = 0 a state below :math:`x_+` decays back to rest and a state above it
escapes to a spike: :math:`x_+` is where the spike decision is really taken. :math:`F_0` is
increasing on :math:`[x_+, x_p]` (:math:`F_0' \ge 1 + \varepsilon > 0`), so the highest value a
non-spiking state can reach in one step is :math:`F_0(x_p)`. Every post-step membrane value in the
escape region therefore lies in

.. math::
    [v_c,\ F(v_{peak})], \qquad F(v_{peak}) = v_{peak} + \varepsilon\,
    \frac{(v_{peak} - v_r)(v_{peak} - v_c)}{\Delta},

and the surrogate derivative of :math:`H(v' - v_{peak})` is the boxcar of unit area on that
interval: :math:`g = 1/(F(v_{peak}) - v_c)` there, 0 elsewhere. Both edges are functions of
:math:`(\varepsilon, v_r, \Delta, v_{peak})` only: nothing is hand-tuned. (2510.05168's own
equations are not public; this is our derivation for this map.) Requires :math:`v_{peak} > v_c`;
should learning push :math:`v_c` past :math:`v_{peak}`, each edge is kept at least 0.1 mV from
:math:`v_{peak}`. ``window=(lower, upper)`` replaces the derived edges by fixed ones (volts,
absolute; a hand-tuned window, to compare against the derived one).

Example
-------
>>> import torch
>>> from biofit.neurons.qif import QIF
>>> layer = QIF(2, dt=1e-4, learn=("tau_mem", "delta_v"))
>>> lower, upper = layer.window()                     # volts, one per neuron
>>> [round(1e3 * lower[0].item(), 3), round(1e3 * upper[0].item(), 3)]
[-55.0, 2.567]
"""

from __future__ import annotations

import torch
from torch import Tensor

from biofit.models.qif import QIF as QIF_MODEL
from biofit.neurons.layer import NeuronLayer
from biofit.neurons.surrogate import heaviside

MIN_HALF_WINDOW = 1e-4  # V


def qif_window(eps: Tensor, v_rest: Tensor, delta_v: Tensor, v_peak: Tensor) -> tuple[Tensor, Tensor]:
    """Surrogate window edges ``(v_c, F(v_peak))`` in volts (see the module docstring)."""
    v_crit = v_rest + delta_v
    overshoot = v_peak + eps * (v_peak - v_rest) * (v_peak - v_crit) / delta_v
    return v_crit, overshoot


class WindowSpike(torch.autograd.Function):
    """Heaviside ``H(x > 0)`` forward; backward ``1[lo <= x <= hi] / (hi - lo)`` (lo < 0 < hi)."""

    @staticmethod
    def forward(ctx, x: Tensor, lo: Tensor, hi: Tensor) -> Tensor:  # noqa: D401 - autograd API
        ctx.save_for_backward(x, lo, hi)
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None, None]:
        x, lo, hi = ctx.saved_tensors
        inside = (x >= lo) & (x <= hi)
        return grad_output * inside.to(x.dtype) / (hi - lo), None, None


class QIF(NeuronLayer):
    """Layer of N QIF neurons: ``layer(current[T, B, N]) -> spikes[T, B, N]``.

    Parameters: those of `biofit.neurons.layer.NeuronLayer`, without a surrogate choice (the
    window is derived, see the module docstring); ``window``: None (derived) or fixed edges
    ``(lower, upper)``, volts, with ``lower < v_peak < upper``; ``**params``: ``tau_mem, R,
    v_rest, delta_v, v_reset, v_peak, t_ref`` (SI; defaults and bounds:
    ``biofit.models.get_model("qif")``). ValueError if ``v_peak <= v_rest + delta_v``.
    """

    model = QIF_MODEL

    def __init__(self, n_neurons: int, dt: float, *, window: tuple[float, float] | None = None, **kwargs) -> None:
        for name in ("surrogate", "width"):
            if name in kwargs:
                raise TypeError(f"QIF takes no {name!r}: its surrogate window follows from its parameters")
        super().__init__(n_neurons, dt, **kwargs)
        self.fixed_window = None if window is None else self._check_window(window)
        p = self.params()
        gap = p["v_peak"] - p["v_rest"] - p["delta_v"]
        if bool((gap <= 0).any()):
            raise ValueError(
                f"qif needs v_peak > v_rest + delta_v (the unstable fixed point); "
                f"v_peak - v_rest - delta_v = {gap.min().item():.4g} V"
            )

    def _check_window(self, window) -> tuple[float, float]:
        lower, upper = (float(edge) for edge in window)
        v_peak = self.intrinsic()["v_peak"]
        if not (bool((lower < v_peak).all()) and bool((v_peak < upper).all())):
            raise ValueError(f"window = ({lower}, {upper}) V must contain v_peak strictly (lower < v_peak < upper)")
        return lower, upper

    def window(self) -> tuple[Tensor, Tensor]:
        """Surrogate window edges ``(lower, upper)`` in volts, absolute (shape [N] or [])."""
        lo, hi = self._window_offsets(torch.float64)
        v_peak = self.intrinsic()["v_peak"]
        return v_peak + lo, v_peak + hi

    def _window_offsets(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """Window edges minus ``v_peak`` (V; lower < 0 < upper, at least 0.1 mV from it), detached."""
        p = self.intrinsic()
        if self.fixed_window is not None:
            lo, hi = (torch.full_like(p["v_peak"], edge) for edge in self.fixed_window)
        else:
            lo, hi = qif_window(self.dt / p["tau_mem"], p["v_rest"], p["delta_v"], p["v_peak"])
        lo = torch.clamp(lo - p["v_peak"], max=-MIN_HALF_WINDOW).detach()
        hi = torch.clamp(hi - p["v_peak"], min=MIN_HALF_WINDOW).detach()
        return lo.to(dtype), hi.to(dtype)

    def _spike_function(self, code):
        lo, hi = self._window_offsets(torch.float64)
        cache: dict = {}

        def fire(x: Tensor, uniform) -> Tensor:
            if x.dtype not in cache:
                cache[x.dtype] = (lo.to(x), hi.to(x))
            return WindowSpike.apply(x, *cache[x.dtype])

        return fire
