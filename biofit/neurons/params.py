"""Intrinsic neuron parameters for torch layers: learnable ones kept inside their bounds.

Learning a neuron's internal parameters together with the weights is the core idea of 2508.11674.
A learnable parameter :math:`p` with closed bounds :math:`[lo, hi]` (from `biofit.models`) is stored
as an unconstrained tensor :math:`r` and mapped into the bounds on every use, so no gradient step,
however large, can take it outside:

========================  ============================================================
bounds                    :math:`p = c(r)`
========================  ============================================================
``0 < lo < hi < inf``     :math:`\\exp(\\ln lo + (\\ln hi - \\ln lo)\\,\\sigma(r))` (log scale: time
                          constants, resistances, capacitances span decades)
``lo <= 0 < hi < inf``    :math:`lo + (hi - lo)\\,\\sigma(r)` (potentials, signed conductances)
``lo > -inf, hi = inf``   :math:`lo + k\\,\\mathrm{softplus}(r)`
``lo = -inf, hi < inf``   :math:`hi - k\\,\\mathrm{softplus}(-r)`
``(-inf, inf)``           :math:`p_0 + k\\, r`
========================  ============================================================

:math:`\\sigma` is the logistic function; :math:`k` is the distance of the initial value
:math:`p_0` from the finite bound (or :math:`|p_0|`, or 1 if that is 0), which keeps :math:`r` of
order 1 whatever the SI magnitude of :math:`p`. The result is clamped to :math:`[lo, hi]` to absorb
the last-ulp rounding of the maps at saturation. An initial value exactly on a finite bound is moved
inside by :math:`10^{-9}` of the range (a logit is infinite there).

Values are stored in float64 (a learnable parameter's unconstrained tensor too) and cast to the
input's dtype at each forward pass, so a float64 simulation sees the exact SI values.

Example
-------
>>> from biofit.models import get_model
>>> from biofit.neurons.params import IntrinsicParameters
>>> p = IntrinsicParameters(get_model("lif"), 3, {"tau_mem": 0.01}, learn=("tau_mem",))
>>> [round(x, 6) for x in p()["tau_mem"].tolist()]
[0.01, 0.01, 0.01]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from biofit.models.base import Parameter, ParameterSet

_EDGE = 1e-9


def _scale(p0: float, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    ref = lo if math.isfinite(lo) else hi
    k = abs(p0 - ref) if math.isfinite(ref) else abs(p0)
    return k if k > 0 else 1.0


def constrain(raw: Tensor, bounds: tuple[float, float], scale: float, p0: float = 0.0) -> Tensor:
    """Map unconstrained `raw` into the closed interval `bounds` (see the module table)."""
    lo, hi = bounds
    if math.isfinite(lo) and math.isfinite(hi):
        if lo > 0:
            value = torch.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * torch.sigmoid(raw))
        else:
            value = lo + (hi - lo) * torch.sigmoid(raw)
    elif math.isfinite(lo):
        value = lo + scale * nn.functional.softplus(raw)
    elif math.isfinite(hi):
        value = hi - scale * nn.functional.softplus(-raw)
    else:
        return p0 + scale * raw
    return torch.clamp(value, lo, hi)


def unconstrain(value: Tensor, bounds: tuple[float, float], scale: float, p0: float = 0.0) -> Tensor:
    """Inverse of `constrain` (values on a finite bound are first moved inside by 1e-9 of the range)."""
    lo, hi = bounds
    value = value.to(torch.float64)
    if math.isfinite(lo) and math.isfinite(hi):
        if lo > 0:
            frac = (torch.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            frac = (value - lo) / (hi - lo)
        return torch.logit(frac.clamp(_EDGE, 1.0 - _EDGE))
    if math.isfinite(lo):
        y = ((value - lo) / scale).clamp_min(_EDGE)
        return y + torch.log(-torch.expm1(-y))
    if math.isfinite(hi):
        y = ((hi - value) / scale).clamp_min(_EDGE)
        return -(y + torch.log(-torch.expm1(-y)))
    return (value - p0) / scale


class IntrinsicParameters(nn.Module):
    """The parameters of one model (`NeuronModel` or `ParameterSet`) for a layer of `n_neurons`.

    Parameters
    ----------
    model: the definition (names, defaults, bounds, learnability).
    n_neurons: number of neurons N of the layer.
    values: name -> SI value (scalar or, with ``per_neuron=True``, an array of N values);
        missing names take the model default.
    learn: names of the parameters to learn; each must be learnable in `model`.
    per_neuron: True: every parameter has shape [N] (one value per neuron, learned independently);
        False: every parameter is a shared scalar (shape []).

    Learnable parameter ``name`` is the `nn.Parameter` ``raw_<name>`` (unconstrained, float64);
    fixed ones are float64 buffers called ``name``. Calling the module returns the constrained
    values (differentiable with respect to the ``raw_*`` tensors).

    Raises ValueError for unknown or non-learnable names in `learn`, values outside the bounds,
    arrays with ``per_neuron=False`` or of a length other than N.
    """

    def __init__(
        self,
        model: ParameterSet,
        n_neurons: int,
        values: Mapping[str, object] | None = None,
        learn: Iterable[str] = (),
        per_neuron: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(learn, str):
            learn = (learn,)
        learn = tuple(learn)
        checked = model.validate(dict(values or {}))
        for name in learn:
            if not model.parameter(name).learnable:
                learnable = [p.name for p in model.parameters if p.learnable]
                raise ValueError(
                    f"{model.name}.{name} is not learnable; learnable: {', '.join(learnable)}"
                )
        self.model = model
        self.n_neurons = int(n_neurons)
        self.per_neuron = bool(per_neuron)
        self.learned = learn
        shape = (self.n_neurons,) if per_neuron else ()
        for p in model.parameters:
            value = self._as_tensor(p, checked[p.name], shape)
            if p.name in learn:
                p0 = float(value.mean())
                k = _scale(p0, p.bounds)
                # k and p0 are part of the map: saved with the state dict
                self.register_buffer("affine_" + p.name, torch.tensor([k, p0], dtype=torch.float64))
                self.register_parameter("raw_" + p.name, nn.Parameter(unconstrain(value, p.bounds, k, p0)))
            else:
                self.register_buffer(p.name, value)

    def _as_tensor(self, p: Parameter, value: np.ndarray | float, shape: tuple[int, ...]) -> Tensor:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1:
            if not self.per_neuron:
                raise ValueError(
                    f"{self.model.name}.{p.name} has {arr.size} values but per_neuron=False "
                    "(pass a scalar, or per_neuron=True)"
                )
            if arr.size != self.n_neurons:
                raise ValueError(
                    f"{self.model.name}.{p.name} has {arr.size} values, expected n_neurons={self.n_neurons}"
                )
        return torch.as_tensor(arr, dtype=torch.float64).expand(shape).clone()

    def forward(self, dtype: torch.dtype | None = None) -> dict[str, Tensor]:
        """Constrained value of every parameter (SI, shape [N] or []), cast to `dtype` if given."""
        out: dict[str, Tensor] = {}
        for p in self.model.parameters:
            if p.name in self.learned:
                k, p0 = getattr(self, "affine_" + p.name).tolist()
                value = constrain(getattr(self, "raw_" + p.name), p.bounds, k, p0)
            else:
                value = getattr(self, p.name)
            out[p.name] = value if dtype is None else value.to(dtype)
        return out
