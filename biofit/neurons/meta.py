"""The probabilistic meta neuron (our model of 2508.11674's neuron) as a PyTorch layer.

2508.11674 publishes no equations for its "probabilistic meta neuron"; the model here is ours and
is defined in `biofit.models.meta` (read it first): a current-based LIF with a synaptic current
whose intrinsic parameters -- ``tau_mem``, ``tau_syn``, ``R``, ``v_rest``, ``v_reset``, ``v_th``,
the refractory jump ``theta_ref`` and its decay ``tau_ref``, the firing noise ``delta_u`` and
``tau_esc`` -- can all be learned with the weights (``learn=(...)``, kept in bounds by
`biofit.neurons.params`), and which fires by exponential escape noise (Gerstner et al. 2014,
*Neuronal Dynamics*, ch. 9).

Discrete-time scheme: both modes are generated from the Brian2 equations (`biofit.neurons.layer`):
the stochastic one from `biofit.models.meta.META`, whose threshold is Brian2's
``rand() < 1 - exp(-dt/tau_esc * exp(x / delta_u))`` with
:math:`x = v - v_{th} - \\theta_{ref} q`, the deterministic one from ``META_DET``
(:math:`x > 0`, the :math:`\\Delta_u \\to 0` limit). After a spike :math:`v \\leftarrow v_{reset}`,
:math:`q \\leftarrow 1`; ``v`` is frozen for ``t_ref``.

Gradients. Deterministic mode: the surrogate of `biofit.neurons.surrogate` on :math:`x` (as the
LIF layer). Stochastic mode: straight-through on the firing probability (Bengio et al. 2013,
arXiv:1308.3432): the forward value is the sample, the backward pass uses the gradient of
:math:`p`, the exact gradient of the expected spike for this step given the state (biased through
later steps, as every straight-through estimator). Its pseudo-derivative in :math:`x` is a bump of
width ~ :math:`\\Delta_u`: the noise sets the surrogate's width, and ``delta_u`` and ``tau_esc``
receive gradients too (they act only in stochastic mode). No gradient flows through the resets'
dependence on the spike, for ``v`` and for ``q``: through ``q`` the path spike -> q -> threshold ->
spike would multiply the gradient by ~ theta_ref dz/dx at every spike.

Randomness: one uniform per neuron, batch element and step (the whole [T, B, N] block drawn at the
start of a call) from the layer's CPU `torch.Generator` (``seed=``), then moved to the input's
device, so equal seeds give equal bits on every device. The generator advances with every
stochastic call (successive calls draw fresh noise).

Mode: ``stochastic=None`` (default) samples in training mode and thresholds in eval mode, like
dropout; ``True`` / ``False`` force one mode.

Example
-------
>>> import torch
>>> from biofit.neurons.meta import MetaNeuron
>>> layer = MetaNeuron(3, dt=1e-4, seed=0, learn=("tau_mem", "v_th", "delta_u", "tau_ref"))
>>> current = torch.full((2000, 4, 3), 300e-12)                  # 200 ms of 300 pA
>>> noisy = layer(current)                                        # training mode: stochastic
>>> exact = layer.eval()(current)                                 # eval mode: deterministic
>>> tuple(noisy.shape), bool((exact == MetaNeuron(3, dt=1e-4, stochastic=False)(current)).all())
((2000, 4, 3), True)
"""

from __future__ import annotations

from biofit.models.meta import META, META_DET
from biofit.neurons.layer import NeuronLayer, generated_code


class MetaNeuron(NeuronLayer):
    """Layer of N probabilistic meta neurons: ``layer(current[T, B, N]) -> spikes[T, B, N]``.

    Parameters: those of `biofit.neurons.layer.NeuronLayer` (``learn``: any parameter of
    `biofit.models.meta.META` except ``t_ref``; ``seed`` for the firing noise; ``surrogate`` and
    ``width`` for the deterministic mode), and ``stochastic``: None (sample in training mode,
    threshold in eval mode), True or False.

    `simulate` returns ``(spikes, {"v", "I_syn", "q": float[T, B, N]})``.
    """

    model = META

    def __init__(self, n_neurons: int, dt: float, *, stochastic: bool | None = None, **kwargs) -> None:
        if stochastic not in (None, True, False):
            raise TypeError(f"stochastic must be None, True or False, got {stochastic!r}")
        super().__init__(n_neurons, dt, **kwargs)
        self.stochastic = stochastic
        self.deterministic_code = generated_code(META_DET)

    @property
    def sampling(self) -> bool:
        """Whether the next call samples spikes (stochastic) or thresholds them."""
        return self.training if self.stochastic is None else self.stochastic

    def _active_code(self):
        return self.code if self.sampling else self.deterministic_code
