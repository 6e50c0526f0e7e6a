"""The built-in layers, one per model of `biofit.models`, and `build_layer` for any model.

Each built-in layer is `biofit.neurons.layer.NeuronLayer` with its model as the class attribute:
the step is generated from the model's Brian2 equations. `LIF` runs the fused fast path of
`biofit.neurons.fused` (chosen automatically for its form); `QIF` adds its derived surrogate
window (`biofit.neurons.qif`), `MetaNeuron` its stochastic / deterministic modes
(`biofit.neurons.meta`). Adding a built-in model means writing its definition in `biofit.models`
(and a test); `build_layer(name, ...)` then gives its layer.

Example
-------
>>> import torch
>>> layer = LIF(2, dt=1e-4, learn=("tau_mem", "v_th"))
>>> spikes = layer(torch.full((1000, 1, 2), 300e-12))   # 100 ms of 300 pA
>>> int(spikes.sum())
8
>>> type(build_layer("alif", 3, dt=1e-4)).__name__
'ALIF'
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

from biofit.models import MODELS
from biofit.models.adex import ADEX
from biofit.models.alif import ALIF as ALIF_MODEL
from biofit.models.base import NeuronModel
from biofit.models.lif import LIF as LIF_MODEL
from biofit.models.lif import LIF_SYN
from biofit.neurons.layer import NeuronLayer, resolve_model
from biofit.neurons.meta import MetaNeuron
from biofit.neurons.qif import QIF


class LIF(NeuronLayer):
    """Leaky integrate-and-fire layer (`biofit.models` ``lif``; the fused fast path).

    ``synaptic=True`` is deprecated: use `LIFSyn` or ``build_layer("lif_syn", ...)``.
    """

    model = LIF_MODEL

    def __init__(self, n_neurons: int, dt: float, *, synaptic: bool = False, **kwargs) -> None:
        if synaptic:
            warnings.warn("LIF(synaptic=True) is deprecated; use LIFSyn(...) or build_layer('lif_syn', ...)",
                          DeprecationWarning, stacklevel=2)
            kwargs["model"] = LIF_SYN
        super().__init__(n_neurons, dt, **kwargs)


class LIFSyn(NeuronLayer):
    """LIF layer driven through a first-order synaptic current (`biofit.models` ``lif_syn``)."""

    model = LIF_SYN


class ALIF(NeuronLayer):
    """Adaptive-threshold LIF layer (`biofit.models` ``alif``, the neuron of 2311.11390)."""

    model = ALIF_MODEL


class AdEx(NeuronLayer):
    """Adaptive exponential integrate-and-fire layer (`biofit.models` ``adex``; Brette & Gerstner 2005)."""

    model = ADEX


LAYERS: dict[str, type] = {
    "lif": LIF, "lif_syn": LIFSyn, "alif": ALIF, "adex": AdEx, "qif": QIF, "meta": MetaNeuron,
}


def build_layer(
    model: str | NeuronModel,
    n_neurons: int,
    dt: float,
    *,
    learn: Iterable[str] = (),
    per_neuron: bool = True,
    surrogate: str = "fast_sigmoid",
    width: float | None = None,
    seed=None,
    **params: object,
) -> NeuronLayer:
    """A torch layer of `n_neurons` neurons of `model`, its step generated from the Brian2 equations.

    Parameters
    ----------
    model: a name of `biofit.models.MODELS` (its built-in class is used: ``"lif"`` gives a
        `LIF`) or any `NeuronModel`, including one a user writes.
    n_neurons, dt, learn, per_neuron, surrogate, width, seed, **params: as for
        `biofit.neurons.layer.NeuronLayer` (``dt`` in s, parameters in SI).

    See `biofit.neurons.layer` for the scheme and an example with a user-written model.
    """
    spec = resolve_model(model)
    kwargs = dict(learn=learn, per_neuron=per_neuron, width=width, seed=seed, **params)
    cls = LAYERS.get(spec.name) if MODELS.get(spec.name) == spec else None
    if cls is QIF:
        if surrogate != "fast_sigmoid" or width is not None:
            raise ValueError("the qif layer derives its surrogate window; it takes no surrogate or width")
        del kwargs["width"]
        return cls(n_neurons, dt, **kwargs)
    if cls is not None:
        return cls(n_neurons, dt, surrogate=surrogate, **kwargs)
    return NeuronLayer(n_neurons, dt, model=spec, surrogate=surrogate, **kwargs)
