r"""Block-ALIF: the ALIF layer simulated in blocks of the refractory period (2311.11390).

A neuron with an absolute refractory period of R steps (`biofit.neurons.refractory`: refractory length
K = R + 1 steps, minimum inter-spike interval K) fires at most once in any K consecutive steps.
`BlockALIF` therefore advances K steps at a time: inside a block the membrane potential without
reset is one Toeplitz matmul, the spike is the first threshold crossing (found from a cumulative
count), the output is masked after it, and the adaptive threshold, the reset and the refractory
count are carried to the next block in closed form (equations in `biofit.neurons._block_kernels`).
The sequential depth drops from T to ceil(T / K); the spikes are those of `ALIF` (same parameters,
same learnable intrinsic parameters, same state types): identical in float64 in every test; in
float32 a spike can differ where the sequential ``v - v_th - a`` is within rounding (~1e-8 V) of 0.

Gradients: surrogate gradients as in `ALIF` at every step, except that the spike enters the reset
and the threshold jump ``a += beta z`` as a constant (2311.11390); the tests check that BlockALIF's
gradients equal back-propagation through the sequential model with ``z`` detached there.

Recurrence (``recurrent=True``): ``I[t] += W z[t - K]``, ``W: float[N, N]`` in ampere per
presynaptic spike (``W[i, j]``: from neuron j to neuron i), initialised to zero. The delay of K
steps is what lets a whole block be computed from the previous one. By default the recurrent spikes
enter as constants (``detach_recurrent=True``, 2311.11390's choice): ``W`` is learned, but no
gradient flows back through earlier spikes; with ``detach_recurrent=False`` it does.
`BlockALIF.run_sequential` is the definition both are tested against: the generated ALIF step
(`biofit.neurons.layer`) step by step.

Two kernels compute a block (``kernel=``; the tests check that they agree on spikes, traces, state
and every gradient). ``"toeplitz"`` is the parallel closed form above, in torch, for any device
(2311.11390's GPU algorithm). ``"scan"`` (`biofit.neurons._block_numba`, the default on CPU) keeps
the block model -- a step's recurrent input is known K steps ahead, and is added event-driven (N
operations per spike) -- but evaluates it by its recursion in one compiled, vectorized pass with
a hand-written adjoint, checkpointed per chunk of steps: on a CPU the parallel form gains no
depth, and costs O(L) elementwise passes per block where the scan makes one. Measured on one CPU
thread (benchmarks/block_alif.py: 1000 Poisson inputs -> 128 recurrent units, fwd + bwd, the
shared event-driven input projection included), the scan is 12-24x faster than
`run_sequential` at B = 32 for every R in 1..80 and T in 512..2048 (about 20x at T = 2048), so
no block length needs a fallback to the step loop; the toeplitz kernel is slower than the step
loop on CPU for R <= 2 and about even at R = 3.

Example
-------
>>> import torch
>>> from biofit.neurons import ALIF
>>> from biofit.neurons.block_alif import BlockALIF
>>> g = torch.Generator().manual_seed(0)
>>> current = 2e-9 * torch.rand(500, 2, 4, dtype=torch.float64, generator=g)   # A
>>> block = BlockALIF(4, dt=1e-4, arp_steps=20, learn=("tau_mem", "v_th"))
>>> seq = ALIF(4, dt=1e-4, t_ref=21e-4, learn=("tau_mem", "v_th"))
>>> bool(torch.equal(block(current), seq(current)))
True
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral
from typing import NamedTuple

import torch
from torch import Tensor, nn

import sympy

from biofit.neurons._block_kernels import BlockState, block_constants, block_update
from biofit.neurons._block_numba import scan_alif
from biofit.neurons.builtin import ALIF
from biofit.validation import check_current


KERNELS = ("auto", "scan", "toeplitz")


class ALIFCoefficients(NamedTuple):
    """The generated ALIF step's constants (``k`` of `biofit.neurons.torchgen`) by name.

    ``v' = (bias + gain I) + decay v`` (frozen while refractory), ``a' = decay_adapt a``, spike when
    ``v' - (v_th + a') > 0``, then ``v = v_reset``, ``a += beta``; ``ref_steps``: K (None: never
    refractory). Each ``[N]`` or ``[]``.
    """

    decay: Tensor
    gain: Tensor
    bias: Tensor
    decay_adapt: Tensor
    v_reset: Tensor
    v_th: Tensor
    beta: Tensor
    ref_steps: Tensor | None


def alif_coefficients(layer: ALIF, dtype: torch.dtype, device=None) -> ALIFCoefficients:
    """Read `ALIFCoefficients` off the layer's generated step (the same tensors it computes with).

    The generated ALIF step is affine; its threshold is ``v - (v_th + a)`` and its reset
    ``v = k[v_reset]``, ``a = a + k[beta]``: the kernels below repeat exactly that arithmetic.
    """
    code = layer.code
    k = tuple(c.to(device) if isinstance(c, Tensor) else c for c in layer.constants(dtype))
    aff, slot = code.affine, code.const_slots
    expected = (_sym("v"), _sym("v_th") + _sym("a"))
    if aff is None or code.step.threshold_parts != expected or aff.bias.get("v") is None:
        raise ValueError(f"BlockALIF needs the ALIF step of biofit.models, got\n{code.source}")
    ref = layer.refractory_length()
    return ALIFCoefficients(
        k[aff.coupling["v"]["v"]], k[aff.gain["v"]["I_ext"]], k[aff.bias["v"]], k[aff.coupling["a"]["a"]],
        k[slot[_sym("v_reset")]], k[slot[_sym("v_th")]], k[slot[_sym("beta")]],
        None if ref is None else ref.to(device=device, dtype=dtype),
    )


def _sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


def alif_drive(current: Tensor, c: ALIFCoefficients) -> Tensor:
    """The generated drive ``bias + gain I`` (V), elementwise in `current` (A, ``[..., N]``)."""
    return c.bias + c.gain * current


class RecurrentALIFState(NamedTuple):
    """State of a recurrent layer: the ALIF state's ``v``, ``a``, ``refractory`` (each ``[B, N]``) and
    ``pending: float[K, B, N]``, the spikes of the last K steps, still to be delivered."""

    v: Tensor
    a: Tensor
    refractory: Tensor
    pending: Tensor


def check_arp_steps(arp_steps: object) -> int:
    """`arp_steps` (absolute refractory period R, in steps) as an int; ValueError unless an int >= 0."""
    if isinstance(arp_steps, bool) or not isinstance(arp_steps, Integral):
        raise ValueError(f"arp_steps must be an integer number of steps >= 0, got {arp_steps!r}")
    if arp_steps < 0:
        raise ValueError(f"arp_steps must be >= 0, got {arp_steps}")
    return int(arp_steps)


def block_length(c: ALIFCoefficients) -> int:
    """Block length K: the shortest refractory length of the layer, in steps (at least 1)."""
    if c.ref_steps is None:
        return 1
    return max(int(c.ref_steps.min()), 1)


class BlockALIF(ALIF):
    """`ALIF` layer simulated in blocks of K = R + 1 steps: ``layer(current[T, B, N]) -> spikes``.

    Parameters
    ----------
    n_neurons, dt, learn, per_neuron, surrogate, width, **params: as `ALIF` (``t_ref`` in s sets
        the refractory length ``K = floor(t_ref / dt + 1e-3)``; with per-neuron ``t_ref`` the block
        length is the smallest K).
    arp_steps: alternative to ``t_ref``: the absolute refractory period R in steps (int >= 0),
        i.e. ``t_ref = (R + 1) dt``; R = 0 gives blocks of one step (the sequential scheme).
    recurrent: add recurrent input ``W z[t - K]`` (`recurrent_weight`, ``[N, N]``, A).
    detach_recurrent: treat the recurrent spikes as constants in the backward pass.
    kernel: how a block is computed. ``"toeplitz"``: the parallel closed form of
        `biofit.neurons._block_kernels` (torch, any device); ``"scan"``: the compiled CPU scan of
        `biofit.neurons._block_numba` (same spikes, same gradients, O(L) instead of O(L^2) per
        step, one fused pass); ``"auto"`` (default): scan on CPU, toeplitz elsewhere.

    ``forward``/``simulate`` are `ALIF`'s (``state``, ``return_state``, traces ``v`` and ``a``). A
    recurrent layer returns a `RecurrentALIFState` (it also carries the last K steps' spikes); an
    ``layer.State`` passed to it is taken to have no spikes pending.

    Raises ValueError for a bad `arp_steps` or `kernel`, or `arp_steps` given together with
    ``t_ref``; ``kernel="scan"`` on a non-CPU tensor raises ValueError.
    """

    def __init__(
        self,
        n_neurons: int,
        dt: float,
        *,
        arp_steps: int | None = None,
        recurrent: bool = False,
        detach_recurrent: bool = True,
        kernel: str = "auto",
        learn: Iterable[str] = (),
        per_neuron: bool = True,
        surrogate: str = "fast_sigmoid",
        width: float = 1e-3,
        **params: object,
    ) -> None:
        if arp_steps is not None:
            if "t_ref" in params:
                raise ValueError("give either arp_steps or t_ref, not both")
            params["t_ref"] = (check_arp_steps(arp_steps) + 1) * float(dt)
        super().__init__(n_neurons, dt, learn=learn, per_neuron=per_neuron, surrogate=surrogate,
                         width=width, **params)
        self.recurrent = bool(recurrent)
        self.detach_recurrent = bool(detach_recurrent)
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
        self.kernel = kernel
        if self.recurrent:
            self.recurrent_weight = nn.Parameter(torch.zeros(self.n_neurons, self.n_neurons))

    @property
    def arp_steps(self) -> int:
        """The absolute refractory period R = K - 1 (steps) the blocks are built on."""
        return block_length(alif_coefficients(self, torch.float64)) - 1

    def _start(self, current: Tensor, state):
        current = check_current(current, self.n_neurons)
        coeffs = alif_coefficients(self, current.dtype, current.device)
        length = block_length(coeffs)
        batch = current.shape[1]
        if state is None:
            state = self.initial_state(batch, current.dtype, current.device)
        else:
            self._check_state(state, batch)
        pending = getattr(state, "pending", None)
        if pending is None:
            pending = current.new_zeros(length, batch, self.n_neurons)
        elif tuple(pending.shape) != (length, batch, self.n_neurons):
            raise ValueError(f"state.pending has shape {tuple(pending.shape)}, expected "
                             f"[K, B, N] = {(length, batch, self.n_neurons)}")
        weight = self.recurrent_weight.to(current.dtype) if self.recurrent else None
        return current, coeffs, length, self.State(state.v, state.a, state.refractory), pending, weight

    def _check_state(self, state, batch_size: int) -> None:
        if not isinstance(state, (self.State, RecurrentALIFState)):
            raise TypeError(
                f"state must be an {self.State.__name__} or RecurrentALIFState, got {type(state).__name__}"
            )
        for name in self.State._fields:
            value = getattr(state, name)
            if tuple(value.shape) != (batch_size, self.n_neurons):
                raise ValueError(f"state.{name} has shape {tuple(value.shape)}, expected "
                                 f"[B, N] = {(batch_size, self.n_neurons)}")

    def _final(self, s, spikes: Tensor, pending: Tensor, length: int):
        if not self.recurrent:
            return s
        recent = torch.cat([pending, spikes[-length:]])[-length:]
        return RecurrentALIFState(s.v, s.a, s.refractory, recent)

    def _run(self, current: Tensor, state, record: bool, forced: Tensor | None = None, own_spikes: bool = False):
        if forced is not None:  # given spikes: no blocks to exploit, the generated step runs them
            if self.recurrent:
                raise ValueError("forced spikes are not supported by a recurrent BlockALIF")
            return super()._run(current, state, record, forced, own_spikes)
        current, c, length, s0, pending, weight = self._start(current, state)
        weight_v = None if weight is None else c.gain.reshape(-1, 1) * weight  # gain folded in
        on_cpu = current.device.type == "cpu"
        if self.kernel == "scan" and not on_cpu:
            raise ValueError(f"kernel='scan' runs on the CPU only, got a tensor on {current.device}")
        scan = self.kernel == "scan" or (self.kernel == "auto" and on_cpu)
        if scan:
            spikes, traces, final = self._run_scan(current, c, length, s0, pending, weight_v, record)
        else:
            spikes, traces, final = self._run_toeplitz(alif_drive(current, c), c, length, s0,
                                                       pending, weight_v, record)
        return spikes, traces, self._final(final, spikes, pending, length)

    def _run_scan(self, current: Tensor, c: ALIFCoefficients, length: int, s0,
                  pending: Tensor, weight_v: Tensor | None, record: bool):
        n = current.shape[2]
        ref = c.ref_steps if c.ref_steps is not None else torch.zeros_like(c.decay)
        gain, bias, *per_neuron = (torch.broadcast_to(x, (n,)) for x in
                                   (c.gain, c.bias, c.decay, c.decay_adapt, c.v_th, c.beta,
                                    c.v_reset, ref))
        spikes, v, a, refractory = scan_alif(current, gain, bias, *s0, *per_neuron, weight_v,
                                             pending, length, self.detach_recurrent,
                                             self.surrogate, self.width, record)
        traces = {"v": v, "a": a} if record else None
        return spikes, traces, self.State(v[-1], a[-1], refractory)

    def _run_toeplitz(self, drive: Tensor, c: ALIFCoefficients, length: int, s0,
                      pending: Tensor, weight_v: Tensor | None, record: bool):
        n = drive.shape[2]
        k = block_constants(c.decay, c.decay_adapt, c.v_reset, c.v_th, c.beta,
                            c.ref_steps if c.ref_steps is not None else torch.zeros_like(c.decay),
                            length)
        # blocks are [N, n, B] views of the [T, B, N] drive; the kernel's first op makes them contiguous
        blocks = [x.permute(2, 0, 1) for x in drive.split(length, dim=0)]
        s = BlockState(*(x.t().unsqueeze(1) for x in s0))
        previous = pending.permute(2, 0, 1)  # [N, K, B]
        out, v_tr, a_tr = [], [], []
        for x in blocks:
            if weight_v is not None:
                steps = x.shape[1]
                pre = previous[:, :steps].detach() if self.detach_recurrent else previous[:, :steps]
                x = torch.addmm(x.reshape(n, -1), weight_v, pre.reshape(n, -1)).view(n, steps, -1)
            z, s, tr = block_update(x, s, k, self.surrogate, self.width, record)
            out.append(z.permute(1, 2, 0))
            previous = z
            if record:
                v_tr.append(tr[0].permute(1, 2, 0))
                a_tr.append(tr[1].permute(1, 2, 0))
        spikes = torch.cat(out)
        final = self.State(*(x.squeeze(1).t() for x in s))
        traces = None
        if record:
            traces = {"v": torch.cat(v_tr), "a": torch.cat(a_tr)}
        return spikes, traces, final

    def run_sequential(self, current: Tensor, state=None, record: bool = False):
        """The reference: the generated ALIF step one step at a time, plus the recurrent input
        ``W z[t-K]``.

        Same arguments and state types as `forward`; returns ``(spikes[T, B, N], traces, final
        state)`` with traces as in `simulate` (None unless `record`). Slow (T sequential steps);
        it defines what the block simulation computes and is what the tests compare it with.
        """
        current, c, length, s0, pending, weight = self._start(current, state)
        code = self.code
        k = tuple(x.to(current.device) if isinstance(x, Tensor) else x for x in self.constants(current.dtype))
        fire = self._spike_function(code)
        history = list(pending.unbind(0))
        s, counter = (s0.v, s0.a), s0.refractory
        out, states = [], []
        for i_t in current.unbind(0):
            if weight is not None:
                pre = history[-length].detach() if self.detach_recurrent else history[-length]
                i_t = i_t + pre @ weight.t()
            d = tuple(x[0] for x in code.drive({"I_ext": i_t.unsqueeze(0)}, k))
            z, s, counter = self._step(code, fire, s, counter, d, k, c.ref_steps, None)
            history.append(z)
            out.append(z)
            if record:
                states.append(s)
        spikes = torch.stack(out)
        traces = None
        if record:
            traces = {name: torch.stack([x[i] for x in states]) for i, name in enumerate(("v", "a"))}
        return spikes, traces, self._final(self.State(*s, counter), spikes, pending, length)

    def extra_repr(self) -> str:
        rec = f", recurrent=True, detach_recurrent={self.detach_recurrent}" if self.recurrent else ""
        return super().extra_repr() + f", arp_steps={self.arp_steps}, kernel={self.kernel!r}{rec}"

