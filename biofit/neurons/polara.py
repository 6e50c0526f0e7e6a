"""The POLARA neuron (Lai & Cao, "Stabilizing Spiking Neurons Through Biologically Inspired
Polarization", ``../shared/papers/polara-polarization-neuron.txt``) as a PyTorch layer.

POLARA is a discrete-time neuron without reset: five components shape a dimensionless membrane ``u``
at every step t (time in steps; :math:`I = \\{1, \\dots, k\\}` the window of lags, k = 6 in the paper):

.. math::
    \\lambda &= 1 - \\sum_{i \\in I} A e^{-\\alpha i} + \\epsilon
        && \\text{decay (eq. 7); } \\lambda = \\lambda_{static} \\text{ when off}\\\\
    \\hat u_{s,t} &= \\lambda\\, u_{t-1} + x_t && \\text{integration (eq. 8)}\\\\
    \\vartheta_t &= \\vartheta_0 \\Big(1 + \\sum_{i \\in I} E e^{-\\eta i}\\, s_{t-i}\\Big)
        && \\text{adaptive threshold (eq. 12); } \\vartheta_0 \\text{ when off}\\\\
    \\hat u_{a,t} &= \\hat u_{s,t}\\,\\big(1 + 1[\\delta \\le 0]\\, B e^{\\beta \\delta}\\big),\\quad
        \\delta = \\hat u_{s,t} - \\vartheta_t && \\text{amplification (eq. 9, 14)}\\\\
    s_t &= 1[\\Delta > 0]\\; \\sigma\\big(\\hat u_{a,t}\\, O(\\Delta)\\big),\\quad
        \\Delta = \\hat u_{a,t} - \\vartheta_t,\\quad
        O(\\Delta) = \\min\\big(\\Delta(1 + \\Delta e^{-\\gamma\\Delta}), o_{max}\\big)
        && \\text{activation (eq. 10)}\\\\
    u_t &= \\hat u_{a,t}\\Big(1 + \\sum_{i \\in I} h(i)\\, s_{t+1-i}\\Big),\\quad
        h(i) = \\sum_{j=1}^{3} D_j e^{-(i-\\mu_j)^2 / 2\\sigma_j^2}
        && \\text{refractory inhibition (eq. 11)}

:math:`\\sigma` is the logistic function, so a spike is graded: :math:`s_t \\in \\{0\\} \\cup
[1/2, \\sigma(\\hat u_{a,t} o_{max})]`. Each component can be switched off (the paper's ablation,
Table 2): ``decay=False`` uses a static leak :math:`\\lambda_{static}`; ``amplification=False`` sets
:math:`\\hat u_a = \\hat u_s`; ``activation=False`` replaces the shaped spike by the step
:math:`1[\\Delta > 0]` with a surrogate gradient (`biofit.neurons.surrogate`);
``refractory=False`` sets :math:`u_t = \\hat u_{a,t}`; ``adaptive_threshold=False`` fixes
:math:`\\vartheta_t = \\vartheta_0`. ``gradient_mask=alpha`` applies eq. 17 (the paper's CIFAR
setting): forward unchanged, :math:`\\partial s / \\partial \\hat u_a = \\alpha\\,1[|\\Delta| < 1]`.
Otherwise gradients are those of the forward equations (autograd), which is the paper's claim
(eq. 13): no surrogate is needed while ``activation=True``.

Where the paper is ambiguous, and what we chose
-----------------------------------------------
1. Eq. 11 (refractory) and eq. 12 (threshold) contain no spike: read literally they multiply ``u``
   and :math:`\\vartheta` by constants at every step, and eq. 12 grows the threshold geometrically
   forever. The text says "after spiking ... graded inhibitory trace" and "in response to recent
   spiking ... post-spike rise", and the GLM eqs. 4-5 it builds on convolve kernels with the
   neuron's own spikes: we weight each lag i by the own spike :math:`s` emitted i steps before the
   step the kernel acts on.
2. Eq. 12 is recursive (:math:`\\vartheta_{t+1} = \\vartheta_t(\\dots)`), which never recovers; we
   anchor it at :math:`\\vartheta_0` (GLM eq. 5), so the threshold returns to :math:`\\vartheta_0`
   after k silent steps and stays in :math:`[\\vartheta_0, \\vartheta_0(1 + E\\sum_i e^{-\\eta i})]`.
3. Order of decay, integration and amplification: eqs. 8-9 amplify the *decayed* potential before
   the input is added, Algorithm 1 (lines 3-6) amplifies after integration; we follow Algorithm 1.
   Algorithm 1 line 6 amplifies unconditionally; we keep eq. 9's condition :math:`\\delta \\le 0`
   (unconditioned, :math:`e^{\\beta\\delta}` explodes above threshold).
4. "Stochastic" amplification: no equation of the paper draws a random number (eq. 9 and Table 3 are
   deterministic), so ours is deterministic and the layer needs no seed.
5. Eq. 7's decay over the window is a constant factor (it involves only :math:`u_{t-1}`); Algorithm
   1 line 3 writes :math:`u_{t-i}`, suggesting a filter over past potentials. We follow eq. 7 and
   Table 3 (:math:`u \\leftarrow u(1 - \\sum_i A e^{-\\alpha_i} + \\epsilon)`, whose
   :math:`\\alpha_i` we read as :math:`\\alpha i`, one rate).
6. Activation: eq. 10 gives :math:`\\sigma(\\hat u_a O(\\Delta))`, Table 3 gives
   :math:`\\sigma(u(1 + \\Delta(1 + \\Delta e^{-\\gamma\\Delta})))` without :math:`o_{max}`; we follow
   eq. 10. Eq. 13's derivative omits :math:`\\sigma'` and its :math:`\\partial O / \\partial \\Delta
   = (1-\\Delta)e^{-\\gamma\\Delta}` is not the derivative of its own :math:`O`; we use the exact
   derivative of the forward function. Eq. 10 fires at :math:`\\Delta \\ge 0`; we use the strict
   :math:`\\Delta > 0` of every biofit threshold (they differ on a set of measure zero).
7. Eq. 9's :math:`\\delta` uses :math:`\\vartheta_t`, Algorithm 1 uses :math:`\\vartheta_{t-1}`; both
   name the threshold computed before the step's spike, which is our :math:`\\vartheta_t`.
8. Sign of the refractory kernel: eq. 11 writes :math:`1 + \\sum h`, and the text calls it
   inhibitory, so our default amplitudes :math:`D_j` are negative; a large spike can make the factor
   negative (:math:`D_1 = -1`, :math:`s \\to 1`), i.e. a brief hyperpolarization below 0.
9. Constants: none are given (only k = 6 and the eq. 17 :math:`\\alpha = 0.3`); ours are in
   `biofit.models.polara`. The ablation's "static leak" value is not given either (we use 0.9).
10. Table 2 removes decay *and* amplification together, and activation *and* "gradient control"
    together, with an unnamed surrogate; we give one switch per component (the first row is
    ``decay=False, amplification=False``) and default to the fast-sigmoid surrogate of width 0.5.
11. Eq. 17 differentiates with respect to :math:`\\hat u_{h,t}`, defined nowhere; we read
    :math:`\\hat u_{a,t}`, the potential the spike is computed from.
12. The kernels are fed the graded :math:`s` (there is no other spike in the model), and the
    "bounded membrane" claim holds for our defaults but not for every value inside the bounds: with
    :math:`\\sum_i h(i) s_{t+1-i} < -2` the refractory factor has modulus > 1.

Example
-------
>>> import torch
>>> from biofit.neurons.polara import Polara
>>> layer = Polara(4, learn=("theta0", "decay_a"))
>>> spikes = layer(torch.full((50, 2, 4), 0.4))
>>> tuple(spikes.shape), bool(((spikes == 0) | (spikes >= 0.5)).all())
((50, 2, 4), True)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from biofit.models.polara import POLARA
from biofit.validation import check_current, check_n_neurons
from biofit.neurons.params import IntrinsicParameters
from biofit.neurons.surrogate import get_surrogate


@dataclass(frozen=True)
class PolaraComponents:
    """Which of POLARA's five components are on (all by default; off = the paper's ablation)."""

    decay: bool = True
    amplification: bool = True
    activation: bool = True
    refractory: bool = True
    adaptive_threshold: bool = True


class PolaraKernels(NamedTuple):
    """Per-step constants derived from the parameters (dimensionless; [N] or [] per parameter).

    leak: decay factor lambda, broadcastable to [B, N]. refractory: h(i), float[k, 1, N] (or
    [k, 1, 1]). threshold: Theta(i) = E exp(-eta i), same shape. The rest are the named parameters.
    """

    leak: Tensor
    amp_b: Tensor
    amp_beta: Tensor
    act_gamma: Tensor
    act_omax: Tensor
    theta0: Tensor
    refractory: Tensor
    threshold: Tensor


class PolaraState(NamedTuple):
    """State carried between steps: ``u`` float[B, N] (membrane after refractory inhibition) and
    ``history`` float[k, B, N] (own spikes; ``history[i - 1]`` was emitted i steps ago)."""

    u: Tensor
    history: Tensor


def polara_kernels(p: Mapping[str, Tensor], window: int, components: PolaraComponents) -> PolaraKernels:
    """The constants of eqs. 7, 11, 12 from the parameter values `p` (name -> [N] or [] tensor)."""
    ref = p["theta0"]
    lags = torch.arange(1, window + 1, dtype=ref.dtype, device=ref.device).view(window, 1, 1)
    if components.decay:
        leak = 1.0 - (p["decay_a"] * torch.exp(-p["decay_alpha"] * lags)).sum(0) + p["decay_eps"]
    else:
        leak = p["static_leak"]
    refractory = sum(
        p[f"refr_d{j}"] * torch.exp(-((lags - p[f"refr_mu{j}"]) ** 2) / (2.0 * p[f"refr_sigma{j}"] ** 2))
        for j in (1, 2, 3)
    )
    threshold = p["thr_e"] * torch.exp(-p["thr_eta"] * lags)
    return PolaraKernels(
        leak, p["amp_b"], p["amp_beta"], p["act_gamma"], p["act_omax"], p["theta0"], refractory, threshold
    )


def shaped_spike(u_pre: Tensor, overshoot: Tensor, gamma: Tensor, o_max: Tensor) -> Tensor:
    """Eq. 10: :math:`1[\\Delta > 0]\\,\\sigma(\\hat u_a \\min(\\Delta(1 + \\Delta e^{-\\gamma\\Delta}), o_{max}))`.

    The bound is applied to the non-negative part of the overshoot, so huge or very negative inputs
    give neither overflow nor NaN gradients.
    """
    d = overshoot.clamp(min=0.0)
    bounded = torch.minimum(d * (1.0 + d * torch.exp(-gamma * d)), o_max.expand_as(d))
    return torch.where(overshoot > 0, torch.sigmoid(u_pre * bounded), torch.zeros_like(d))


def polara_step(
    x: Tensor,
    state: PolaraState,
    k: PolaraKernels,
    components: PolaraComponents,
    fire: Callable[[Tensor, Tensor], Tensor],
) -> tuple[Tensor, PolaraState, Tensor, Tensor]:
    """One step of POLARA (module docstring).

    Parameters
    ----------
    x: input drive float[B, N] (dimensionless). state: the previous `PolaraState`.
    k: constants from `polara_kernels`. components: which components are on.
    fire: ``fire(u_pre, overshoot) -> s`` float[B, N], the spike function (activation or step).

    Returns
    -------
    (s_t, new state, u_pre, threshold), each float[B, N] except the state.
    """
    if components.adaptive_threshold:
        theta = k.theta0 * (1.0 + (k.threshold * state.history).sum(0))
    else:
        theta = k.theta0.expand_as(x)
    u_s = k.leak * state.u + x
    if components.amplification:
        delta = u_s - theta
        boost = k.amp_b * torch.exp(k.amp_beta * delta.clamp(max=0.0))
        u_pre = u_s * (1.0 + torch.where(delta <= 0, boost, torch.zeros_like(boost)))
    else:
        u_pre = u_s
    s = fire(u_pre, u_pre - theta)
    history = torch.cat((s.unsqueeze(0), state.history[:-1]))
    u = u_pre * (1.0 + (k.refractory * history).sum(0)) if components.refractory else u_pre
    return s, PolaraState(u, history), u_pre, theta


class Polara(nn.Module):
    """A layer of N POLARA neurons: ``layer(x[T, B, N]) -> spikes[T, B, N]`` (graded, in [0, 1)).

    Parameters
    ----------
    n_neurons: N.
    window: k, the number of lags of the refractory and threshold kernels and of the decay sum
        (the paper uses 6).
    learn: names of the parameters learned with the weights (bounded by reparametrization,
        `biofit.neurons.params`), e.g. ``("theta0", "decay_a")``.
    per_neuron: one value per neuron (shape [N]) or one shared scalar per parameter.
    decay, amplification, activation, refractory, adaptive_threshold: component switches (module
        docstring); all on is POLARA, one off is the corresponding row of the paper's Table 2.
    surrogate, width: the surrogate (`biofit.neurons.surrogate`) and its width (units of u), used
        only when ``activation=False``.
    gradient_mask: None, or eq. 17's alpha (the paper uses 0.3 on CIFAR).
    **params: values overriding the defaults of `biofit.models.polara.POLARA` (dimensionless;
        scalar, or N values with ``per_neuron=True``).

    The input ``x`` float[T, B, N] is a dimensionless drive per step (POLARA has no ``dt``: time is
    counted in steps). ``simulate`` returns ``(spikes, {"u", "u_pre", "threshold": float[T, B, N]})``;
    `forward` and `simulate` take ``state=`` (a `PolaraState`) to continue a run. Bad input raises
    as the other layers (`biofit.validation.check_current`).

    Example: see the module docstring.
    """

    def __init__(
        self,
        n_neurons: int,
        *,
        window: int = 6,
        learn: Iterable[str] = (),
        per_neuron: bool = True,
        decay: bool = True,
        amplification: bool = True,
        activation: bool = True,
        refractory: bool = True,
        adaptive_threshold: bool = True,
        surrogate: str = "fast_sigmoid",
        width: float = 0.5,
        gradient_mask: float | None = None,
        **params: object,
    ) -> None:
        super().__init__()
        self.n_neurons = check_n_neurons(n_neurons)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive int (steps), got {window!r}")
        if not width > 0:
            raise ValueError(f"surrogate width must be > 0, got {width!r}")
        if gradient_mask is not None and not gradient_mask > 0:
            raise ValueError(f"gradient_mask must be None or an alpha > 0, got {gradient_mask!r}")
        self.window = window
        self.components = PolaraComponents(decay, amplification, activation, refractory, adaptive_threshold)
        self.surrogate, self.width = surrogate, float(width)
        self._spike = functools.partial(get_surrogate(surrogate), width=self.width)
        self.gradient_mask = None if gradient_mask is None else float(gradient_mask)
        self.params = IntrinsicParameters(POLARA, self.n_neurons, params, learn, per_neuron)

    def intrinsic(self) -> dict[str, Tensor]:
        """Current (constrained) value of every intrinsic parameter, shape [N] or []."""
        return self.params()

    def initial_state(self, batch_size: int, dtype: torch.dtype = torch.float32) -> PolaraState:
        """Rest: u = 0 and no past spikes."""
        u = torch.zeros(batch_size, self.n_neurons, dtype=dtype)
        return PolaraState(u, u.new_zeros((self.window, batch_size, self.n_neurons)))

    def _fire(self, k: PolaraKernels) -> Callable[[Tensor, Tensor], Tensor]:
        def fire(u_pre: Tensor, overshoot: Tensor) -> Tensor:
            if self.components.activation:
                s = shaped_spike(u_pre, overshoot, k.act_gamma, k.act_omax)
            else:
                s = self._spike(overshoot)
            if self.gradient_mask is None:
                return s
            # eq. 17: keep the forward value, give ds/du_pre = alpha on |overshoot| < 1, 0 elsewhere
            proxy = self.gradient_mask * overshoot.clamp(-1.0, 1.0)
            return s.detach() + proxy - proxy.detach()

        return fire

    def _run(self, x: Tensor, state: PolaraState | None, record: bool):
        check_current(x, self.n_neurons)
        k = polara_kernels(self.params(x.dtype), self.window, self.components)
        fire = self._fire(k)
        if state is None:
            state = self.initial_state(x.shape[1], x.dtype)
            state = PolaraState(state.u.to(x.device), state.history.to(x.device))
        else:
            self._check_state(state, x.shape[1])
        spikes, traces = [], []
        for x_t in x.unbind(0):
            s, state, u_pre, theta = polara_step(x_t, state, k, self.components, fire)
            spikes.append(s)
            if record:
                traces.append((state.u, u_pre, theta))
        recorded = None
        if record:
            recorded = {name: torch.stack(v) for name, v in zip(("u", "u_pre", "threshold"), zip(*traces))}
        return torch.stack(spikes), recorded, state

    def _check_state(self, state: object, batch_size: int) -> None:
        if not isinstance(state, PolaraState):
            raise TypeError(f"state must be a PolaraState, got {type(state).__name__}")
        expected = {"u": (batch_size, self.n_neurons), "history": (self.window, batch_size, self.n_neurons)}
        for name, shape in expected.items():
            if tuple(getattr(state, name).shape) != shape:
                raise ValueError(f"state.{name} has shape {tuple(getattr(state, name).shape)}, expected {shape}")

    def simulate(self, x: Tensor, state: PolaraState | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Spikes float[T, B, N] and traces ``{"u", "u_pre", "threshold"}`` float[T, B, N].

        ``traces[name][t]`` is the value at step t (``u``: after refractory inhibition, the state
        carried to t + 1; ``u_pre``: the potential the spike is computed from; ``threshold``:
        the threshold of step t). Starts from rest unless `state` is given.
        """
        spikes, traces, _ = self._run(x, state, record=True)
        return spikes, traces

    def forward(self, x: Tensor, state: PolaraState | None = None, return_state: bool = False):
        """Spikes float[T, B, N] for drive ``x`` float[T, B, N]; with ``return_state=True`` also
        the final `PolaraState`."""
        spikes, _, final = self._run(x, state, record=False)
        return (spikes, final) if return_state else spikes

    def extra_repr(self) -> str:
        off = [name for name, on in vars(self.components).items() if not on]
        learned = ", ".join(self.params.learned) or "none"
        return f"n_neurons={self.n_neurons}, window={self.window}, off=({', '.join(off)}), learn=({learned})"
