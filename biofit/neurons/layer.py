r"""`NeuronLayer`: a torch layer whose step is generated from a model's Brian2 equations.

``build_layer(model, n_neurons, dt, ...)`` turns any `biofit.models.NeuronModel` -- a built-in
one by name, or one a user writes -- into a layer of N neurons: Brian2's parser and state updater
give the step (`biofit.neurons.codegen`), `biofit.neurons.torchgen` writes it as torch code, and
this module runs it, step by step, in Brian2's clock-driven order. At step n, with the inputs
held at their n-th sample:

1. refractoriness: count down, active = not refractory (`biofit.neurons.refractory`);
2. update every state variable from the old state (the generated ``step``); the variables flagged
   ``(unless refractory)`` keep their old value where the neuron is not active;
3. threshold on the updated state where active: ``z = H(x)`` with the surrogate gradient of the
   layer on ``x = lhs - rhs`` (``lhs > rhs``; ``lhs >= rhs`` fires at ``x = 0`` too). Brian2's
   escape-noise form ``rand() < p`` draws one uniform per neuron and step and fires where it is
   below p, with the straight-through gradient of p (Bengio et al. 2013, arXiv:1308.3432);
4. increments of the jump inputs (``g += input``, Brian2's ``synapses`` slot, after the threshold);
5. the reset statements, in order, where the neuron fired; the spike enters them as a constant
   (no gradient through the reset's dependence on z: that path multiplies the gradient by
   ``1 + (v_reset - v) g(x)`` at every near-threshold step and makes it explode over long
   sequences; Zenke & Vogels 2021, Neural Comput 33:899); then refractoriness starts.

``spikes[n]`` is the spike of step n (Brian2 spike time ``n*dt``); ``traces[name][n]`` the state
after step n, which a Brian2 ``StateMonitor`` records at ``(n + 1) dt``. Models whose step is a
one-variable affine map with a constant threshold and reset (LIF and any model of that form) run
the fused scan of `biofit.neurons.fused` instead of this loop: same bits (tested), faster.

Parameters are kept in bounds and optionally learned (`biofit.neurons.params`); constants of the
step are computed in float64 from them and cast to the input's dtype. Random draws (escape noise,
``xi`` in the equations) come from the layer's CPU generator (``seed=``), then move to the input's
device, so equal seeds give equal bits on every device.

Example
-------
>>> import torch
>>> from biofit.models import NeuronModel, Parameter
>>> izh = NeuronModel(
...     name="izhikevich",
...     parameters=(Parameter("a", 0.02, (0.0, 1.0), "1", True, "recovery rate, 1/ms"),
...                 Parameter("b", 0.2, (0.0, 1.0), "1", True, "recovery sensitivity"),
...                 Parameter("c", -65e-3, (-0.1, 0.0), "volt", False, "reset"),
...                 Parameter("d", 2e-3, (0.0, 0.02), "volt", True, "recovery jump")),
...     equations=("dv/dt = (0.04*v**2/mV + 5*v + 140*mV - u + I_ext*Mohm)/ms : volt\n"
...                "du/dt = a*(b*v - u)/ms : volt"),
...     threshold="v > 30*mV", reset="v = c; u += d", method="euler", state=("v", "u"),
...     initial={"v": "c", "u": "b*c"})
>>> from biofit.neurons import build_layer
>>> layer = build_layer(izh, 2, dt=1e-4, learn=("a", "d"))
>>> spikes = layer(torch.full((3000, 1, 2), 10e-9))     # 300 ms of 10 nA (x 1 Mohm = 10 mV)
>>> int(spikes.sum())                                   # tonic spiking, ~60 Hz in each neuron
36
"""

from __future__ import annotations

import collections
import contextlib
import functools
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn

from biofit.models import get_model
from biofit.models.base import NeuronModel
from biofit.neurons.codegen import step_definition
from biofit.neurons.forced_scan import forced_form, forced_scan
from biofit.neurons.fused import fused_form, fused_scan
from biofit.neurons.params import IntrinsicParameters
from biofit.neurons.refractory import hold, refractory_start, refractory_steps, refractory_tick
from biofit.neurons.surrogate import get_surrogate
from biofit.neurons.torchgen import GeneratedCode, generate
from biofit.validation import check_current, check_dt, check_n_neurons, torch_generator


@functools.lru_cache(maxsize=64)
def generated_code(model: NeuronModel) -> GeneratedCode:
    """The compiled torch step of `model` (cached: SymPy and Brian2 run once per model)."""
    return generate(step_definition(model))


@functools.lru_cache(maxsize=64)
def state_type(model: NeuronModel) -> type:
    """The state record of `model`'s layers: a NamedTuple of its variables and ``refractory``.

    Every field is a tensor ``[B, N]``; ``refractory`` counts the refractory steps still to come.
    """
    variables = step_definition(model).variables
    name = "".join(part.capitalize() for part in model.name.split("_")) + "State"
    cls = collections.namedtuple(name, (*variables, "refractory"))
    cls.__doc__ = f"State of a {model.name!r} layer, each [B, N]: {', '.join(variables)}, refractory."
    return cls


_FORCED_FORMS: dict = {}
_THRESHOLD_VARIABLES: dict = {}


def threshold_variables(code: GeneratedCode) -> frozenset:
    """The state variables on the left-hand side of the threshold (``v`` of ``v > V_peak``;
    memoised as `_forced_form`)."""
    if id(code) not in _THRESHOLD_VARIABLES:
        parts = code.step.threshold_parts
        names = {str(x) for x in parts[0].free_symbols} if parts else set()
        _THRESHOLD_VARIABLES[id(code)] = (code, frozenset(names & set(code.step.variables)))
    return _THRESHOLD_VARIABLES[id(code)][1]


def _forced_form(code: GeneratedCode):
    """`forced_form` of a generated step (memoised: the steps themselves are cached for good)."""
    if id(code) not in _FORCED_FORMS:
        _FORCED_FORMS[id(code)] = (code, forced_form(code))
    return _FORCED_FORMS[id(code)][1]


def resolve_model(model: str | NeuronModel) -> NeuronModel:
    """A `NeuronModel` from a model or its name (ValueError listing the known names otherwise)."""
    if isinstance(model, NeuronModel):
        return model
    if isinstance(model, str):
        return get_model(model)
    raise TypeError(f"model must be a model name or a NeuronModel, got {type(model).__name__}")


class NeuronLayer(nn.Module):
    """A layer of N neurons of one `NeuronModel`: ``layer(current[T, B, N]) -> spikes[T, B, N]``.

    Parameters
    ----------
    n_neurons: N.
    dt: time step, s.
    learn: names of intrinsic parameters to learn, e.g. ``("tau_mem", "v_th")``.
    per_neuron: one value per neuron (shape [N]) or one shared scalar per parameter.
    surrogate: surrogate gradient of the threshold (`biofit.neurons.surrogate.SURROGATES`).
    width: its width, in SI units of the threshold's quantity (V for ``v > v_th``); None: the
        model's ``surrogate_width``, or 1e-3 of that unit.
    seed: int, numpy or CPU torch Generator for the model's random draws (None: random).
    model: the model (name or `NeuronModel`); subclasses set it as the class attribute ``model``.
    **params: parameter values, SI (scalars, or N values with ``per_neuron=True``); defaults and
        bounds from the model.

    Inputs: a tensor ``float[T, B, N]`` for the model's single input (``I_ext``, A), or a mapping
    input name -> tensor for models with several (`NeuronModel.inputs`). The layer stores no state
    between calls: pass ``state=`` (``layer.State``) to continue a simulation.
    """

    model: NeuronModel | None = None  # the class's model; an instance's own one after __init__

    def __init__(
        self,
        n_neurons: int,
        dt: float,
        *,
        learn: Iterable[str] = (),
        per_neuron: bool = True,
        surrogate: str = "fast_sigmoid",
        width: float | None = None,
        seed=None,
        model: str | NeuronModel | None = None,
        **params: object,
    ) -> None:
        super().__init__()
        model = resolve_model(model if model is not None else type(self).model)
        self.n_neurons = check_n_neurons(n_neurons)
        self.dt = check_dt(dt)
        self.model = model
        self.params = IntrinsicParameters(model, self.n_neurons, params, learn, per_neuron)
        self.code = generated_code(model)
        self.fused = fused_form(self.code)
        self.State = state_type(model)
        if width is None:
            width = model.surrogate_width if model.surrogate_width is not None else 1e-3
        if not width > 0:
            raise ValueError(f"surrogate width must be > 0, got {width!r}")
        self.surrogate, self.width = surrogate, float(width)
        self._spike = functools.partial(get_surrogate(surrogate), width=self.width)
        self.generator = torch_generator(seed)
        self.constants(torch.float64)  # a non-finite constant of the step is an error here already

    # -- public helpers ---------------------------------------------------------------------
    @property
    def generated_source(self) -> str:
        """The torch code generated from the model's Brian2 equations (`biofit.neurons.torchgen`)."""
        return self.code.source

    def intrinsic(self) -> dict[str, Tensor]:
        """Current (constrained) value of every intrinsic parameter, SI units, shape [N] or [].

        Inside `using`, the given values replace the layer's own."""
        values = self.params()
        override = getattr(self, "_override", None)
        return values if override is None else {**values, **override}

    @contextlib.contextmanager
    def using(self, values: Mapping[str, Tensor]):
        """Run the layer with parameter `values` (name -> float64 tensor ``[]`` or ``[N]``, SI, may
        carry gradients) instead of its own, for the calls inside the block: a functional call,
        as a fit needs to differentiate with respect to parameters it maps itself.

        >>> import torch
        >>> from biofit.neurons import LIF
        >>> layer, tau = LIF(1, dt=1e-4), torch.tensor(5e-3, dtype=torch.float64, requires_grad=True)
        >>> with layer.using({"tau_mem": tau}):
        ...     v = layer.simulate(torch.full((100, 1, 1), 1e-10, dtype=torch.float64))[1]["v"]
        >>> v.sum().backward(); bool(tau.grad < 0)    # a faster membrane charges faster
        True
        """
        unknown = sorted(set(values) - set(self.model.parameter_names))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown} for model {self.model.name!r}")
        previous = getattr(self, "_override", None)
        self._override = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in values.items()}
        try:
            yield self
        finally:
            self._override = previous

    def constants(self, dtype: torch.dtype, code: GeneratedCode | None = None) -> tuple:
        """The step's constants (``k`` of `biofit.neurons.torchgen`), float64, cast to `dtype`.

        ValueError if one is not finite (e.g. the exact propagator of ``lif_syn`` at
        ``tau_mem == tau_syn``, where Brian2's closed form divides by zero).
        """
        code = code or self.code
        k = code.constants(self.intrinsic(), self.dt)
        for i, c in enumerate(k):
            if isinstance(c, Tensor) and not bool(torch.isfinite(c).all()):
                raise ValueError(
                    f"the step of model {self.model.name!r} has a non-finite constant (k[{i}]) for "
                    f"these parameters and dt = {self.dt} s; check the parameter values (Brian2's "
                    f"closed-form solution may be singular there)\n{code.source}"
                )
        return tuple(c.to(dtype) if isinstance(c, Tensor) else c for c in k)

    def refractory_length(self) -> Tensor | None:
        """K, the refractory length in steps (float64 [N] or []); None if never refractory."""
        t_ref = self.code.refractory(self.code.constants(self.intrinsic(), self.dt))
        return None if t_ref is None else refractory_steps(t_ref, self.dt)

    def initial_state(self, batch_size: int, dtype: torch.dtype = torch.float32, device=None):
        """The model's initial state (`NeuronModel.initial`), tensors of shape [B, N]."""
        return self._initial_state(batch_size, self.constants(dtype), dtype, device)

    # -- running ----------------------------------------------------------------------------
    def forward(self, inputs, state=None, return_state: bool = False, spikes: Tensor | None = None,
                own_spikes: bool = False):
        """Spikes ``float[T, B, N]`` for inputs ``float[T, B, N]``; with ``return_state=True``
        returns ``(spikes, final_state)``; `spikes` forces them (see `simulate`)."""
        out, _, final = self._run(inputs, state, record=False, forced=spikes, own_spikes=own_spikes)
        return (out, final) if return_state else out

    def simulate(self, inputs, state=None, spikes: Tensor | None = None, return_state: bool = False,
                 own_spikes: bool = False):
        """Spikes and state traces: ``(spikes[T, B, N], {name: float[T, B, N]})`` for the model's
        ``state`` names (see the module docstring for the alignment with Brian2); with
        ``return_state=True`` also the final state.

        `spikes` (0/1 ``[T, B, N]``, optional) forces the spikes: the reset and refractoriness
        follow the given spikes (e.g. a recording's, to fit the subthreshold dynamics between
        them; Mensi et al. 2012, J. Neurophysiol. 107:1756), and the traces add
        ``"threshold_argument"`` (``lhs - rhs`` of the threshold, or ``p`` of ``rand() < p``, at
        every step) and, for refractory models, ``"active"`` (bool: not refractory). With
        ``own_spikes=True`` the model's own threshold crossings reset the variables of the
        threshold's left-hand side too (AdEx's ``v`` at its cut-off ``V_peak``, which the membrane
        then never runs past between two given spikes); the other reset statements (``w += b``)
        follow the given spikes only, so that the adaptation keeps the recorded spike history.
        """
        out, traces, final = self._run(inputs, state, record=True, forced=spikes, own_spikes=own_spikes)
        return (out, traces, final) if return_state else (out, traces)

    def _inputs(self, inputs) -> dict[str, Tensor]:
        names = self.model.inputs
        if isinstance(inputs, Tensor):
            if len(names) != 1:
                raise TypeError(
                    f"model {self.model.name!r} has inputs {list(names)}: pass a mapping name -> tensor"
                )
            inputs = {names[0]: inputs}
        if not isinstance(inputs, Mapping):
            raise TypeError(f"inputs must be a torch.Tensor [T, B, N] or a mapping name -> tensor, got {type(inputs).__name__}")
        if set(inputs) != set(names):
            raise ValueError(f"model {self.model.name!r} takes inputs {list(names)}, got {sorted(inputs)}")
        out = {}
        for name in names:
            try:
                out[name] = check_current(inputs[name], self.n_neurons)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"input {name!r}: {exc}") from None
        shapes = {tuple(x.shape) for x in out.values()}
        if len(shapes) > 1:
            raise ValueError(f"inputs of different shapes: { {k: tuple(v.shape) for k, v in out.items()} }")
        return out

    def _initial_state(self, batch_size: int, k: tuple, dtype, device, code: GeneratedCode | None = None):
        shape = (batch_size, self.n_neurons)
        values = [torch.as_tensor(v, dtype=dtype).to(device).expand(shape).clone()
                  for v in (code or self.code).initial(k)]
        return self.State(*values, torch.zeros(shape, dtype=dtype, device=device))

    def _check_state(self, state, batch_size: int) -> None:
        if not isinstance(state, self.State):
            raise TypeError(f"state must be a {self.State.__name__}, got {type(state).__name__}")
        for name, value in zip(state._fields, state):
            if tuple(value.shape) != (batch_size, self.n_neurons):
                raise ValueError(
                    f"state.{name} has shape {tuple(value.shape)}, expected "
                    f"[B, N] = {(batch_size, self.n_neurons)}"
                )

    def _active_code(self) -> GeneratedCode:
        """The generated step this call runs (`MetaNeuron` switches it by mode)."""
        return self.code

    def _noise(self, code: GeneratedCode, shape, dtype, device) -> dict[str, Tensor]:
        """One standard normal per noise symbol, and the uniforms of an escape threshold."""
        names = code.step.noise + (("_uniform",) if code.step.threshold_kind == "escape" else ())
        draws = {}
        for name in names:
            draw = torch.rand if name == "_uniform" else torch.randn
            draws[name] = draw(shape, generator=self.generator, dtype=dtype).to(device)
        return draws

    def _run(self, inputs, state, record: bool, forced: Tensor | None = None, own_spikes: bool = False):
        u = self._inputs(inputs)
        first = next(iter(u.values()))
        n_steps, batch = first.shape[:2]
        dtype, device = first.dtype, first.device
        code = self._active_code()
        k, ref = self._call_constants(code, dtype, device)
        if state is None:
            state = self._initial_state(batch, k, dtype, device, code)
        else:
            self._check_state(state, batch)
        noise = self._noise(code, first.shape, dtype, device)
        held = {name: u[name] for name in code.step.held_inputs}
        drive = code.drive({**held, **noise}, k)
        if forced is not None:
            if tuple(forced.shape) != tuple(first.shape):
                raise ValueError(f"forced spikes have shape {tuple(forced.shape)}, the inputs {tuple(first.shape)}")
            return self._scan(code, u, drive, noise, k, ref, state, record, forced.to(first), own_spikes)
        return self._scan(code, u, drive, noise, k, ref, state, record)

    def _call_constants(self, code: GeneratedCode, dtype, device) -> tuple:
        """``(k, K)`` for one call: the step's constants on `device` and the refractory length.

        Recomputed from the parameters unless no gradient can flow to them (grad mode off, or no
        learnable parameter) and neither they nor the buffers changed since the last call: a
        layer driven one step at a time then skips the constant work.
        """
        tensors = [*self.parameters(), *self.buffers()]
        key = (id(code), dtype, str(device), tuple(t._version for t in tensors), tuple(id(t) for t in tensors))
        reusable = getattr(self, "_override", None) is None and not (
            torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()))
        cached = getattr(self, "_constants_cache", None)
        if reusable and cached is not None and cached[0] == key:
            return cached[1]
        k = tuple(c.to(device) if isinstance(c, Tensor) else c for c in self.constants(dtype, code))
        ref = self.refractory_length()
        out = (k, None if ref is None else ref.to(device=device, dtype=dtype))
        self._constants_cache = (key, out) if reusable else None
        return out

    def _spike_function(self, code: GeneratedCode):
        """``fire(x, uniform) -> z``: spikes from the threshold argument x (module docstring, step 3)."""
        kind, spike = code.step.threshold_kind, self._spike
        if kind == "escape":
            return lambda p, uniform: (uniform < p).to(p.dtype) + (p - p.detach())
        if kind == "inclusive":
            return lambda x, uniform: 1.0 - spike(-x)
        return lambda x, uniform: spike(x)

    def _step(self, code: GeneratedCode, fire, s: tuple, counter: Tensor, d: tuple, k: tuple,
              ref: Tensor | None, uniform: Tensor | None, jumps: tuple = (), forced: Tensor | None = None,
              sink: list | None = None, own: bool = False):
        """One step (module docstring): ``(z, new state tuple, refractory counter)``.

        `d`: the step's drive values; `jumps`: ``(variable index, increment [B, N])`` pairs;
        `forced`: this step's spikes, replacing the threshold's; `sink`: a list that receives
        ``(threshold argument, active)`` of the step when spikes are forced.
        """
        new = code.update(s, d, k)
        if ref is not None:
            counter, active = refractory_tick(counter)
            new = tuple(hold(active, n, o) if name in code.step.frozen else n
                        for n, o, name in zip(new, s, code.step.variables))
        if forced is None:
            z = fire(code.threshold(new, d, k), uniform)
            if ref is not None:
                z = z * active
        else:
            z = forced
            if sink is not None or own:
                x = code.threshold(new, d, k)
                if sink is not None:
                    sink.append((x, active if ref is not None else None))
                if own:
                    crossed = (x.detach() > 0) if code.step.threshold_kind != "escape" else torch.zeros_like(z, dtype=torch.bool)
                    if ref is not None:
                        crossed = crossed & active
                    given, z = z, torch.where(crossed, torch.ones_like(z), z)
        if jumps:
            new = list(new)
            for i, increment in jumps:
                new[i] = new[i] + increment
        s = code.reset(tuple(new), k, z.detach() > 0)
        if own and forced is not None:  # own crossings reset the threshold's variables only
            kept = code.reset(tuple(new), k, given.detach() > 0)
            lhs = threshold_variables(code)
            s = tuple(a if name in lhs else b for a, b, name in zip(s, kept, code.step.variables))
        if ref is not None:
            counter = refractory_start(z, counter, ref)
        return z, s, counter

    def _scan(self, code: GeneratedCode, u, drive, noise, k, ref, state, record: bool, forced=None,
              own_spikes: bool = False):
        """The loop over time: ``(spikes[T, B, N], traces or None, final state)``."""
        if self.fused is not None and code is self.code and forced is None:
            return fused_scan(self.fused, drive, k, ref, state, self.State, self.surrogate, self.width, record)
        if forced is not None and not own_spikes:
            form = _forced_form(code)
            if form is not None:
                z, traces, final, counter = forced_scan(code, form, drive, k, ref, state, forced, record)
                return z, traces, self.State(*final, counter)
        forced = None if forced is None else forced.unbind(0)
        st = code.step
        fire = self._spike_function(code)
        jumps = [(st.variables.index(name), u[name].unbind(0)) for name in st.jump_inputs]
        uniforms = noise["_uniform"].unbind(0) if "_uniform" in noise else None
        steps = [x.unbind(0) for x in drive]
        s, counter = tuple(state[:-1]), state.refractory
        spikes, trace = [], []
        sink = [] if forced is not None and record else None
        for t in range(next(iter(u.values())).shape[0]):
            z, s, counter = self._step(code, fire, s, counter, tuple(x[t] for x in steps), k, ref,
                                       None if uniforms is None else uniforms[t],
                                       tuple((i, values[t]) for i, values in jumps),
                                       None if forced is None else forced[t], sink, own_spikes)
            spikes.append(z)
            if record:
                trace.append(s)
        traces = None
        if record:
            index = {name: i for i, name in enumerate(st.variables)}
            traces = {name: torch.stack([x[index[name]] for x in trace]) for name in self.model.state}
        if sink:
            traces["threshold_argument"] = torch.stack([x for x, _ in sink])
            if sink[0][1] is not None:
                traces["active"] = torch.stack([a for _, a in sink])
        return torch.stack(spikes), traces, self.State(*s, counter)

    def extra_repr(self) -> str:
        learned = ", ".join(self.params.learned) or "none"
        return f"model={self.model.name}, n_neurons={self.n_neurons}, dt={self.dt:g} s, learn=({learned})"

