r"""The gradient optimizer: Adam through the generated torch layer, with the data's spikes forced.

The parameters are unconstrained numbers :math:`z` mapped into their priors
(:math:`u = \sigma(z)` in the unit cube, then linear or log per `Prior`), so every step stays
inside the search space. The model is the layer `biofit.neurons.build_layer` generates from the
model's Brian2 equations, run with the candidate values through `NeuronLayer.using`.

The objective is the one of spike-response model fitting (Jolivet, Lewis & Gerstner 2004; Mensi
et al. 2012, J. Neurophysiol. 107:1756), generalised to any model through its generated step:

* the model is run with the **data's spikes forced** (`NeuronLayer.simulate` ``spikes=``): the
  resets, jumps (``w += b``) and refractory periods happen when the cell spiked, so the
  subthreshold trajectory stays comparable with the data and the voltage error is a smooth
  function of the parameters. Its term is the subthreshold voltage MSE per mV² (samples within
  ``[-before, +after]`` of a data spike masked, `VoltageLoss`);
* the threshold is scored by how far its argument x lies on the wrong side at and between the
  data's spikes (`threshold_mismatch`, the sharp limit of an escape-noise likelihood; for
  ``v > v_th + a``, x = v - v_th - a on the forced
  trajectory), which makes the threshold parameters (``v_th``, ``beta``, ``tau_adapt``) smooth to
  fit too; for a spike that is the model's own run-away, the upswing term instead (below).
  The spike weight of the given `WeightedLoss` (its Γ, count and upswing terms) sets its weight.

Multiple shooting: the sweeps are cut into chunks of ``chunk`` seconds, all simulated in parallel
each iteration, each starting from the data's voltage (teacher forcing, except within 5 ms of a
data spike) and, for the other state variables, from where the preceding chunk of the same sweep
ended in the previous iteration (one full forced run sets them first). A chunk thus costs
``chunk / dt`` steps however long the sweeps are (truncated back-propagation through time; the
multiple-shooting idea of ODE parameter estimation, Bock 1983). 20 % of the chunks are held out
for early stopping (``patience`` validations without improvement); ``restarts`` starting points
(the data estimate first, then random points of the prior, seeded) keep the best.

Models with a fixed cut-off (AdEx, QIF) also reset at their own crossings during the forced runs
(``own_spikes``), so the membrane never runs away between two data spikes; such a reset sets the
threshold's variable only (the adaptation jump ``w += b`` follows the recorded spikes), and the
samples around it are masked as around a data spike. Where that spike is the model's own run-away
(`spikes_from_dynamics`: AdEx's exponential, QIF's square), the threshold mismatch is replaced by
the **upswing term** (`Gradient.upswing_error`): from each data sample within ``before`` of a data
spike, the model's step predicts the next sample, and the squared error is scored with the
measurement noise's share removed (:math:`e^2 - \sigma^2 (s^2 - 1)`, s the prediction's slope
in the starting voltage: a corrected score, Nakamura 1990, Biometrika 77:127; sigma from
`measurement_noise`). It is the dynamic I–V curve of Badel et al. (2008) through the model's own
step, and smooth in V_T and Delta_T, where a crossing of the cut-off a step early or late is not:
measured on the shipped AdEx cell, one Adam step from the true parameters took the threshold
mismatch from 0.034 to 1.5e6, and the fit settled at a -89 %.

Example
-------
>>> opt = Gradient(iterations=10, seed=0)
>>> opt.chunk, opt.lr
(0.05, 0.05)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import sympy
import torch
from tqdm.auto import tqdm

from biofit.fitting.data import FitData
from biofit.fitting.losses import (
    CountLoss,
    GammaLoss,
    UpswingLoss,
    VanRossumLoss,
    VoltageLoss,
    WeightedLoss,
)
from biofit.fitting.noise import measurement_noise
from biofit.fitting.priors import SearchSpace
from biofit.neurons import BlockALIF, build_layer
from biofit.validation import check_positive, check_positive_int

_F64 = torch.float64
TEACHER_GAP = 5e-3  # s: no teacher forcing of v within this distance of a data spike


@dataclass(frozen=True)
class Chunks:
    """Chunk tensors, ``[L, C, 1]`` each: current (A); data voltage on the simulation grid (V; NaN
    where no sample), data spikes (0/1 per step), loss mask (data spikes masked); per chunk: the
    teacher voltage (``[C]``, NaN: none) and where it starts (sweep, step)."""

    current: torch.Tensor
    voltage: torch.Tensor
    spikes: torch.Tensor
    mask: torch.Tensor
    teacher: torch.Tensor
    where: list
    upswing: tuple = ()
    noise_var: float = 0.0

    @property
    def v_range(self) -> tuple[float, float]:
        """Lowest and highest data voltage (V)."""
        v = self.voltage[~torch.isnan(self.voltage)]
        return float(v.min()), float(v.max())


def sweep_grid(data: FitData, s: int):
    sw, q = data.sweeps[s], data.ratios[s]
    n = sw.n_samples * q
    current = np.repeat(sw.current, q)
    voltage = np.full(n, np.nan)
    voltage[q - 1::q][: sw.n_samples - 1] = sw.voltage[1:]  # state after step k <-> sample (k + 1)/q
    spikes = np.zeros(n)
    steps = np.clip(np.round(sw.spike_times / data.dt).astype(int), 0, n - 1)
    spikes[steps] = 1.0
    return current, voltage, spikes, sw


def voltage_mask(n: int, dt: float, spike_times, loss: VoltageLoss) -> np.ndarray:
    """bool[n] on the simulation grid (step k holds the state at (k + 1) dt): False within
    ``[-loss.before, +loss.after]`` of a data spike, where the voltage error is not scored."""
    t = (np.arange(n) + 1) * dt
    keep = np.ones(n, dtype=bool)
    for ts in spike_times:
        keep &= ~((t >= ts - loss.before) & (t <= ts + loss.after))
    return keep


def block_alif_applies(space: SearchSpace, dt: float) -> bool:
    """Whether `BlockALIF` can run `space`'s model at step `dt`: ALIF with ``t_ref`` fixed to at
    least two steps (blocks of K = R + 1 >= 2 steps)."""
    t_ref = space.fixed.get("t_ref")
    return space.model.name == "alif" and t_ref is not None and math.floor(t_ref / dt + 1e-3) >= 2


def make_chunks(data: FitData, chunk_steps: int, loss: VoltageLoss) -> Chunks:
    """All chunks of the sweeps (the last incomplete one of each sweep dropped)."""
    cur, vol, spk, msk, teach, where = [], [], [], [], [], []
    for s in range(len(data.sweeps)):
        current, voltage, spikes, sw = sweep_grid(data, s)
        keep = voltage_mask(current.size, data.dt, sw.spike_times, loss)
        for k0 in range(0, current.size - chunk_steps + 1, chunk_steps):
            sl = slice(k0, k0 + chunk_steps)
            cur.append(current[sl]), vol.append(voltage[sl]), spk.append(spikes[sl]), msk.append(keep[sl])
            near = np.any(np.abs(sw.spike_times - k0 * data.dt) < TEACHER_GAP)
            sample = k0 // data.ratios[s]
            teach.append(np.nan if near or k0 % data.ratios[s] else sw.voltage[sample])
            where.append((s, k0))
    if not cur:
        raise ValueError(f"the sweeps are shorter than one chunk of {chunk_steps} steps")
    stack = lambda xs: torch.tensor(np.stack(xs, axis=1)[:, :, None], dtype=_F64)  # noqa: E731
    voltage = np.stack(vol, axis=1)
    return Chunks(stack(cur), stack(vol), stack(spk), torch.tensor(np.stack(msk, 1)[:, :, None]),
                  torch.tensor(teach, dtype=_F64), where, upswing_samples(data, where, voltage, loss.before),
                  measurement_noise(data, loss))


def upswing_samples(data: FitData, where: list, voltage: np.ndarray, window: float) -> tuple:
    """The one-sample predictions of the upswing term (`Gradient.chunk_loss`): per sampling ratio
    q, ``(q, chunk index, step index)`` (int64 tensors): the sample before step j of chunk c lies
    within `window` (s) before a data spike, it and the sample after step ``j + q - 1`` are data
    samples before that spike's step, and the data rise between them is below `UPSWING_DVDT`."""
    by_ratio: dict[int, tuple[list, list]] = {}
    steps = voltage.shape[0]
    for c, (s, k0) in enumerate(where):
        q, times = data.ratios[s], data.sweeps[s].spike_times
        if times.size == 0:
            continue
        j = np.arange(q, steps - q + 1, q)  # state before step j: the data sample at grid step j - 1
        t = (k0 + j) * data.dt
        nxt = np.searchsorted(times, t, side="right")  # the first data spike after that sample
        ok = nxt < times.size
        spike_step = np.round(times[np.minimum(nxt, times.size - 1)] / data.dt)
        ok &= (times[np.minimum(nxt, times.size - 1)] - t <= window) & (k0 + j + q - 1 < spike_step)
        rise = (voltage[j + q - 1, c] - voltage[j - 1, c]) / (q * data.dt)
        ok &= np.isfinite(rise) & (rise < UPSWING_DVDT)
        cs, js = by_ratio.setdefault(q, ([], []))
        cs.append(np.full(int(ok.sum()), c)), js.append(j[ok])
    out = []
    for q, (cs, js) in sorted(by_ratio.items()):
        c_idx, j_idx = np.concatenate(cs), np.concatenate(js)
        if c_idx.size:
            out.append((q, torch.as_tensor(c_idx, dtype=torch.int64), torch.as_tensor(j_idx, dtype=torch.int64)))
    return tuple(out)


def _forced_run(layer, current, state, forced):
    """``(spikes, final state)`` of `layer` with spikes `forced` (`NeuronLayer.forward`)."""
    return layer(current, state=state, return_state=True, spikes=forced, own_spikes=layer.own_spikes)


def near_steps(events: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """bool like `events` (``[L, C, 1]``): True at the steps from `before` steps before an event
    to `after` steps after it, along the first (time) axis."""
    count = torch.cumsum(events.to(torch.int64), dim=0)
    count = torch.cat([torch.zeros_like(count[:1]), count], dim=0)  # count[k]: events before step k
    n = events.shape[0]
    k = torch.arange(n)
    hi = (k + before + 1).clamp(max=n)
    lo = (k - after).clamp(min=0)
    return (count[hi] - count[lo]) > 0


def threshold_is_fitted(space: SearchSpace) -> bool:
    """Whether the threshold's right-hand side holds a fitted parameter or a state variable
    (``v > v_th``, ``v > v_th + a``). If not, the threshold is a fixed cut-off (AdEx's
    ``v > V_peak``) that the dynamics run up to: the forced runs then also reset at the model's own
    crossings, so that the membrane never runs away between two data spikes."""
    from biofit.neurons.layer import generated_code

    step = generated_code(space.model).step
    if step.threshold_kind == "escape":
        return True
    names = {s.name for s in step.threshold_parts[1].free_symbols}
    return bool(names & (set(space.names) | set(step.variables)))


def spikes_from_dynamics(space: SearchSpace) -> bool:
    """Whether the model's spike is its own run-away: a fixed cut-off (`threshold_is_fitted` False)
    on a variable whose update is non-linear in it (AdEx's exponential, QIF's square), so that the
    membrane's upswing, not a threshold, says when it fires. A LIF with a fixed threshold is not."""
    from biofit.neurons.layer import generated_code, threshold_variables

    if threshold_is_fitted(space):
        return False
    code = generated_code(space.model)
    for name in threshold_variables(code):
        update = code.step.updates[name]
        symbol = next(x for x in update.free_symbols if str(x) == name)
        if sympy.diff(update, symbol, 2) != 0:
            return True
    return False


def _shift(start, final, previous: torch.Tensor):
    """Next chunk starts: chunk c starts where chunk c - 1 of the same sweep ended (detached)."""
    fields = []
    for a, b in zip(start, final):
        moved = torch.cat([a[:1], b.detach()[:-1]], dim=0)
        fields.append(torch.where(previous.view(-1, 1), moved, a))
    return type(start)(*fields)


def threshold_mismatch(x: torch.Tensor, spikes: torch.Tensor, active, softness: float,
                       escape: bool, gap_weight: float = 1.0) -> torch.Tensor:
    r"""How far the threshold argument `x` lies on the wrong side, per chunk (``[C]``).

    A deterministic threshold fires where :math:`x > 0`, so at the data's spike steps `x` should be
    positive and at the other active steps negative:
    :math:`\sum_n z_n\,\Delta\,\mathrm{softplus}(-x_n/\Delta) + w\,(1 - z_n)\,\Delta\,
    \mathrm{softplus}(x_n/\Delta)`, in the units of x. It is the :math:`\Delta \to 0` limit of
    :math:`\Delta` times the negative log-likelihood of an exponential escape hazard (Jolivet, Lewis &
    Gerstner 2004, J. Neurophysiol. 92:959), zero when the model crosses exactly at the data's
    spikes, and smooth for :math:`\Delta > 0`. In that likelihood the steps between spikes enter
    as the integral of the hazard, a sum times the step, so `Gradient` passes ``gap_weight``
    :math:`w = \min(1, dt / \mathrm{GAP\_STEP})`: below 1 ms the balance of the two sums does not
    change with dt (measured on the shipped ALIF cell's demo sweeps at 0.1 ms: tau_adapt and beta
    off by 26 and 28 % without it, by 5 and 2 % with it); at 1 ms and coarser each step weighs 1
    (a weight above 1 fitted that cell worse at 2 and 4 ms). For an
    escape-noise model (``rand() < p``) `x` is the step's probability p and the term is its
    negative log-likelihood (``gap_weight`` unused: p already scales with dt).
    """
    if escape:
        p = x.clamp(1e-12, 1 - 1e-12)
        terms = -(spikes * torch.log(p) + (1 - spikes) * torch.log1p(-p))
    else:
        soft = torch.nn.functional.softplus
        terms = softness * (spikes * soft(-x / softness) + gap_weight * (1 - spikes) * soft(x / softness))
    if active is not None:
        terms = torch.where(active, terms, torch.zeros_like(terms))
    return terms.sum((0, 2))


@dataclass(frozen=True)
class Gradient:
    """Gradient-descent settings (module docstring): ``iterations`` per start, ``restarts``
    starting points, ``lr`` (Adam, on the unconstrained coordinates), ``chunk`` (s),
    ``patience`` (validations without a relative improvement of ``tolerance``),
    ``validate_every`` (iterations), ``seed``."""

    iterations: int = 300
    restarts: int = 1
    lr: float = 0.05
    chunk: float = 0.05
    patience: int = 5
    validate_every: int = 10
    tolerance: float = 2e-3
    seed: int = 0

    def __post_init__(self):
        for name in ("iterations", "restarts", "patience", "validate_every"):
            check_positive_int(getattr(self, name), name)
        check_positive(self.lr, "lr")
        check_positive(self.chunk, "chunk")

    # -- the model side -------------------------------------------------------------------
    def layer(self, space: SearchSpace, dt: float):
        model = space.model
        fixed = {k: v for k, v in space.fixed.items()}
        if block_alif_applies(space, dt):
            layer = BlockALIF(1, dt, **fixed)
        else:
            layer = build_layer(model, 1, dt, **fixed)
        layer.own_spikes = not threshold_is_fitted(space)
        layer.upswing = spikes_from_dynamics(space)
        return layer

    @staticmethod
    def values(space: SearchSpace, z: torch.Tensor) -> dict[str, torch.Tensor]:
        u = torch.sigmoid(z)
        out = {}
        for i, name in enumerate(space.names):
            p = space.priors[name]
            if p.log:
                out[name] = torch.exp(math.log(p.lo) + u[i] * (math.log(p.hi) - math.log(p.lo)))
            else:
                out[name] = p.lo + u[i] * (p.hi - p.lo)
        return out

    def chunk_states(self, layer, data: FitData, chunks: Chunks, steps: int, values):
        """The model's state at every chunk start (one state of batch C), from a run over the whole
        sweeps with the data's spikes forced (no gradient): adaptation and refractoriness then
        follow the recorded spike history, whatever the candidate's own spikes would be."""
        starts: dict = {}
        with torch.no_grad(), layer.using(values):
            for group in data.groups:
                current = torch.tensor(group.current, dtype=_F64)[:, :, None]
                forced = np.stack([sweep_grid(data, s)[2] for s in group.index], 1)
                forced = torch.as_tensor(forced, dtype=_F64)[:, :, None]
                state = layer.initial_state(len(group.index), _F64)
                for k0 in range(0, current.shape[0] - steps + 1, steps):
                    for col, s in enumerate(group.index):
                        starts[(s, k0)] = type(state)(*(x[col:col + 1] for x in state))
                    _, state = _forced_run(layer, current[k0:k0 + steps], state, forced[k0:k0 + steps])
        chosen = [starts[w] for w in chunks.where]
        return type(chosen[0])(*(torch.cat(x, dim=0) for x in zip(*chosen)))

    # -- the loss ---------------------------------------------------------------------------
    def chunk_loss(self, layer, values, softness, chunks: Chunks, masks, state, weights):
        """Losses of every chunk with the data's spikes forced, for parameter `values`: a tensor
        per entry of `masks` (bool ``[C]``: the chunks it sums over), and the chunks' final states."""
        w_volt, w_spk, v_loss = weights
        stacked = state._asdict()
        if "v" in stacked:
            teacher = chunks.teacher.view(-1, 1)
            stacked["v"] = torch.where(torch.isnan(teacher), stacked["v"], teacher)
        with layer.using(values):
            fired, traces, final = layer.simulate(chunks.current, state=type(state)(**stacked), spikes=chunks.spikes,
                                                  return_state=True, own_spikes=layer.own_spikes)
            upswing = None
            if w_spk and layer.upswing:
                upswing = self.upswing_error(layer, chunks, type(state)(**stacked), traces)
        per_chunk_v = per_chunk_s = torch.zeros(chunks.current.shape[1], dtype=_F64)
        ok = chunks.mask & ~torch.isnan(chunks.voltage)
        if layer.own_spikes:  # the model's own crossings are masked as the data's spikes are (`VoltageLoss`)
            own = (fired.detach() > 0) & (chunks.spikes == 0)
            ok = ok & ~near_steps(own, round(v_loss.before / layer.dt), round(v_loss.after / layer.dt))
        if w_volt and "v" in traces:
            # a membrane run away between forced spikes (AdEx past its cut-off) is clipped to the
            # data's range + 20 mV: the spike likelihood, not a 1e12 V error, says it fired early
            lo, hi = chunks.v_range
            model_v = traces["v"].clamp(lo - 0.02, hi + 0.02)
            diff = torch.where(ok, model_v - torch.nan_to_num(chunks.voltage), torch.zeros_like(chunks.voltage))
            per_chunk_v = diff.pow(2).sum((0, 2))
        n_spk = chunks.spikes.sum((0, 2))
        if upswing is not None:
            per_chunk_s, n_spk = upswing
            per_chunk_s = UPSWING_WEIGHT * per_chunk_s / v_loss.scale**2
        elif w_spk:
            escape = layer.code.step.threshold_kind == "escape"
            per_chunk_s = threshold_mismatch(traces["threshold_argument"], chunks.spikes, traces.get("active"),
                                             float(softness), escape, min(1.0, layer.dt / GAP_STEP))
            if not escape:
                per_chunk_s = per_chunk_s / v_loss.scale
        n_ok = ok.sum((0, 2)).to(_F64)
        out = []
        for m in masks:
            total = w_volt * per_chunk_v[m].sum() / n_ok[m].sum().clamp(min=1) / v_loss.scale**2
            out.append(total + w_spk * per_chunk_s[m].sum() / n_spk[m].sum().clamp(min=1.0))
        return out, final

    @staticmethod
    def upswing_error(layer, chunks: Chunks, start, traces) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Per chunk (``[C]`` each): the summed squared error (V²) of the model's one-sample
        predictions on the upswings (`upswing_samples`), and their number.

        Each prediction starts from the data's voltage and the other state variables of the forced
        run at that sample, and runs the model's own step over one sample without its threshold:
        :math:`\hat v_{k+1} = v_k + \int f(v_k, w_k, I_k)` against :math:`v_{k+1}`, the dynamic
        I–V curve of Badel et al. (2008, J. Neurophysiol. 99:656) scored through the model's step.
        """
        n_chunks = chunks.current.shape[1]
        total = torch.zeros(n_chunks, dtype=_F64)
        count = torch.zeros(n_chunks, dtype=_F64)
        first = start._asdict()
        names = [n for n in start._fields if n != "refractory"]
        before = {n: torch.cat([first[n][None], traces[n][:-1]], dim=0) for n in names if n in traces}
        lo, hi = chunks.v_range
        for q, c_idx, j_idx in chunks.upswing:
            fields = {n: (before[n][j_idx, c_idx] if n in before else first[n][c_idx]) for n in names}
            v0 = chunks.voltage[j_idx - 1, c_idx].clone().requires_grad_(True)
            fields["v"], fields["refractory"] = v0, torch.zeros_like(v0)
            rows = j_idx[None] + torch.arange(q)[:, None]
            current = chunks.current[rows, c_idx[None]]
            with torch.enable_grad():
                _, run = layer.simulate(current, state=type(start)(**fields), spikes=torch.zeros_like(current))
                predicted = run["v"][-1].clamp(lo - 0.02, hi + 0.02)
                slope, = torch.autograd.grad(predicted.sum(), v0, create_graph=True)
            residual = (predicted - chunks.voltage[j_idx + q - 1, c_idx]).pow(2)
            error = (residual - chunks.noise_var * (torch.nan_to_num(slope).pow(2) - 1.0)).sum(-1)
            total = total.index_add(0, c_idx, error)
            count = count.index_add(0, c_idx, torch.ones_like(error))
        return total, count

    # -- the loop ---------------------------------------------------------------------------
    def run(self, space: SearchSpace, data: FitData, loss: WeightedLoss, start: np.ndarray, progress: bool = True):
        """Fit from unit point `start` (then ``restarts - 1`` random points of the prior).

        Every iteration simulates all chunks (the held-out 20 % too) and takes the next
        iteration's chunk starts from the preceding chunks' final states (a relaxation of the
        multiple-shooting continuity); one full forced run per start sets them first.
        Returns ``(best unit point, best validation loss, history)``; history has one row per
        validation: ``{"restart", "iteration", "train_loss", "validation_loss", "time_s", "best"}``
        (``best``: the SI values of the best point so far, so a trajectory can be scored afterwards).
        """
        weights = self._weights(loss)
        if weights[1]:
            data.require_spikes("the spike term of the loss")
        lcm = int(np.lcm.reduce(data.ratios))
        steps = max(lcm, int(round(self.chunk / data.dt)) // lcm * lcm)
        chunks = make_chunks(data, steps, weights[2])
        n_chunks = chunks.current.shape[1]
        gen = torch.Generator().manual_seed(int(self.seed))
        held_out = torch.zeros(n_chunks, dtype=torch.bool)
        held_out[torch.randperm(n_chunks, generator=gen)[: n_chunks // 5]] = True
        masks = (~held_out, held_out if held_out.any() else ~held_out)
        previous = torch.tensor([c > 0 and chunks.where[c - 1][0] == w[0] for c, w in enumerate(chunks.where)])
        rng = np.random.default_rng(self.seed)
        starts = [np.asarray(start)] + [rng.uniform(0.1, 0.9, len(space.names)) for _ in range(self.restarts - 1)]
        layer = self.layer(space, data.dt)
        softness = SOFTNESS * layer.width
        best = (np.asarray(start), float("inf"))
        history, t0 = [], time.perf_counter()
        bar = tqdm(total=self.restarts * self.iterations, desc=f"gradient {space.model.name}", disable=not progress)
        try:
            for r, u0 in enumerate(starts):
                u0 = np.clip(u0, 1e-3, 1 - 1e-3)
                z = torch.tensor(np.log(u0 / (1 - u0)), dtype=_F64, requires_grad=True)
                opt = torch.optim.Adam([z], lr=self.lr)
                state = self.chunk_states(layer, data, chunks, steps, self.values(space, z.detach()))
                run_best, stale = (z.detach().clone(), float("inf")), 0
                for it in range(self.iterations):
                    opt.zero_grad()
                    (train, val), final = self.chunk_loss(layer, self.values(space, z), softness, chunks, masks,
                                                          state, weights)
                    train.backward()
                    if torch.isfinite(z.grad).all():
                        opt.step()
                    state = _shift(state, final, previous)
                    bar.update(1)
                    if (it + 1) % self.validate_every and it + 1 != self.iterations:
                        continue
                    val = float(val.detach())
                    if val < run_best[1] * (1 - self.tolerance):
                        run_best, stale = (z.detach().clone(), val), 0
                    else:
                        stale += 1
                    so_far = (torch.sigmoid(run_best[0]).numpy() if run_best[1] < best[1] else best[0])
                    history.append({"restart": r, "iteration": it + 1, "train_loss": float(train.detach()),
                                    "validation_loss": val, "time_s": time.perf_counter() - t0,
                                    "best": {k: float(v) for k, v in space.from_unit(so_far).items()}})
                    bar.set_postfix(loss=f"{val:.4f}", restart=r)
                    if stale >= self.patience:
                        bar.update(self.iterations - it - 1)
                        break
                if run_best[1] < best[1]:
                    best = (torch.sigmoid(run_best[0]).numpy(), run_best[1])
        finally:
            bar.close()
        return best[0], best[1], history

    def curvature(self, space: SearchSpace, data: FitData, loss: WeightedLoss, u: np.ndarray,
                  step: float = 0.01) -> tuple[np.ndarray, float]:
        """Diagonal curvature of the gradient objective at unit point `u` (central differences of
        its gradient, ``step`` in unit coordinates) and the objective's value there."""
        weights = self._weights(loss)
        lcm = int(np.lcm.reduce(data.ratios))
        steps = max(lcm, int(round(self.chunk / data.dt)) // lcm * lcm)
        chunks = make_chunks(data, steps, weights[2])
        layer = self.layer(space, data.dt)
        softness = SOFTNESS * layer.width
        everything = torch.ones(chunks.current.shape[1], dtype=torch.bool)
        u = np.clip(np.asarray(u, dtype=np.float64), 2 * step, 1 - 2 * step)
        state = self.chunk_states(layer, data, chunks, steps, self.values_unit(space, torch.tensor(u)))

        def grad_at(point):
            x = torch.tensor(point, dtype=_F64, requires_grad=True)
            (value,), _ = self.chunk_loss(layer, self.values_unit(space, x), softness, chunks, (everything,),
                                          state, weights)
            value.backward()
            return x.grad.numpy().copy(), float(value.detach())

        _, value = grad_at(u)
        out = np.empty(u.size)
        for i in range(u.size):
            e = np.zeros(u.size)
            e[i] = step
            out[i] = (grad_at(u + e)[0][i] - grad_at(u - e)[0][i]) / (2 * step)
        return out, value

    @staticmethod
    def values_unit(space: SearchSpace, u: torch.Tensor) -> dict[str, torch.Tensor]:
        """SI values of unit coordinates `u` (differentiable): `values` without the logistic map."""
        return Gradient.values(space, torch.logit(u.clamp(1e-9, 1 - 1e-9)))

    @staticmethod
    def _weights(loss: WeightedLoss):
        """`torch_weights` of `loss`, the spike weight in units of the voltage loss's scale."""
        w_volt, w_spk, v_loss = torch_weights(loss, "gradient")
        return w_volt, SPIKE_SCALE * w_spk, v_loss


def torch_weights(loss: WeightedLoss, optimizer: str):
    """``(voltage weight, spike weight, VoltageLoss)`` of a torch objective from `loss`: its
    voltage term, and its spike-timing, count and upswing terms together as the spike term. ValueError
    (naming `optimizer`) for a term with no torch form."""
    w_volt = w_spk = 0.0
    v_loss = VoltageLoss()
    for term, weight in loss.terms:
        if isinstance(term, VoltageLoss):
            w_volt, v_loss = w_volt + weight, term
        elif isinstance(term, (GammaLoss, VanRossumLoss, CountLoss, UpswingLoss)):
            w_spk += weight
        else:
            raise ValueError(f"the {optimizer} optimizer has no torch form of {term!r}")
    return w_volt, w_spk, v_loss


# softness Delta of the threshold mismatch per unit of the layer's surrogate width (0.1 mV for a
# 1 mV width, 1 mV for AdEx's 10 mV, whose membrane crosses its cut-off within a step or two)
SOFTNESS = 0.1
SPIKE_SCALE = 1.0  # mismatch per data spike, in units of the voltage loss's scale
# the step (s) below which the between-spike steps of the threshold mismatch weigh dt / GAP_STEP each
# (`threshold_mismatch`); at 1 ms and coarser each weighs 1: on the shipped ALIF cell a weight of
# dt / GAP_STEP above 1 (2 and 4 ms) fitted worse than 1
GAP_STEP = 1e-3
# V/s: the upswing term's one-sample predictions stop where the data rise faster (AdEx at 0.1 ms:
# about V_T + 6 Delta_T, where one Euler step moves the membrane by 5 mV)
UPSWING_DVDT = 50.0
UPSWING_WEIGHT = 3.0  # the upswing term's weight per mV², relative to the spike weight of the loss
