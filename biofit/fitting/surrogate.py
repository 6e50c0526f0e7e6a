r"""The surrogate optimizer: Adam through the free-running model, its own spikes, surrogate gradients.

This is the fit of 2311.11390 (Blocks, section "fitting electrophysiological recordings"): the model
runs freely on the recorded current (no spike is forced, unlike `biofit.fitting.gradient`), its
spikes are differentiated through the layer's surrogate, and the loss compares spike trains
smoothed by a Gaussian of sd ``sigma`` (10 ms, the window of the explained temporal variance
`biofit.fitting.metrics.explained_variance_blocks`):

.. math::

    L_\mathrm{spk} = \frac{\sum_{s,t} (G_\sigma * z^{model}_s - G_\sigma * z^{data}_s)^2}
                          {\sum_{s,t} (G_\sigma * z^{data}_s)^2},

the relative squared error of the smoothed trains (0: equal trains; 1: a silent model), weighted
by the `WeightedLoss`'s spike terms (Γ, van Rossum, count). With ``voltage=True`` the
subthreshold voltage RMSE per ``VoltageLoss.scale`` (data spikes masked as in `VoltageLoss`) is
added with the loss's voltage weight. It is off by default: measured on the shipped ALIF cell
(closing note of issue 12), the free-running voltage after a misplaced spike makes that term's
surrogate gradient point uphill, and the fit never improves on its start.

The start is the forced-spike fit of `Gradient` (``warm``; None: the given start), since the
free-running objective is only locally smooth (the surrogate gradient predicts the loss over
steps of ~1e-3 in the unconstrained coordinates): the subthreshold parameters come from the
forced fit, the spike timing is refined here. The smoothing is a zero-padded FFT convolution
(`gaussian_smooth`, the kernel cut at 8 sigma), so its cost does not grow with ``sigma``.

Coarse to fine (``anneal``): the descent runs first on trains smoothed at 100 ms, then 30 ms,
then ``sigma``, each from the best point of the one before (continuation, as in graduated
optimisation). At 10 ms the objective is a narrow well: measured on the shipped ALIF cell's
blocks-fit train sweeps at 0.1 ms (`biofit reproduce blocks-fit`'s protocol), it is 0.035 at the
true parameters, 0.08-0.09 with ``tau_mem`` 2 % off, 0.23-0.24 at 5 % and 0.36-0.39 with ``R``
2 % off, a plateau with no useful slope. The forced-spike fit lands 5-9 % from the truth (there:
``tau_mem`` -6.6 %, ``R`` -4.7 %, ``beta`` +8.8 %), on that plateau, and a 10 ms descent from it
never found the well (held-out explained variance 0.65-0.73, the truth's 0.95). Smoothed at 30 ms it
rises smoothly over tens of per cent (0.006 at the truth, 0.015-0.028 with ``tau_mem`` 10 % off,
0.06-0.08 with ``R`` 10 % off), so the descent reaches the well: with this schedule and ``lr``
0.003 the held-out explained variance is 0.947 at 0.1 ms (closing note of issue 12).

For ALIF with a refractory period of at least two steps the layer is `BlockALIF` (``block=None``
or True): the same spikes and gradients as the generated ALIF step (``block=False``), computed in
blocks of K = R + 1 steps, which is the point of 2311.11390. All train sweeps of a length run as
one batch every iteration; the best point by train loss is kept, and the fit stops after
``patience`` checks (every ``validate_every`` iterations) without a relative improvement of
``tolerance``; each smoothing of the schedule has its own ``iterations``.

Example
-------
>>> opt = Surrogate(iterations=20)
>>> opt.anneal, opt.sigma, opt.block
((0.1, 0.03), 0.01, None)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from biofit.fitting.data import FitData
from biofit.fitting.gradient import Gradient, block_alif_applies, sweep_grid, torch_weights, voltage_mask
from biofit.fitting.losses import VoltageLoss, WeightedLoss
from biofit.fitting.priors import SearchSpace
from biofit.neurons import BlockALIF, build_layer
from biofit.validation import check_positive, check_positive_int

_F64 = torch.float64


def gaussian_smooth(trains: torch.Tensor, dt: float, sigma: float) -> torch.Tensor:
    """``trains`` (``[T, B]``) convolved along time with a normalised Gaussian of sd `sigma` (s),
    cut at 8 sigma (the tail beyond is below 1e-14 of the peak), by a zero-padded FFT (no
    wrap-around); differentiable."""
    n = trains.shape[0]
    half = min(n, int(math.ceil(8 * sigma / dt)))
    lags = torch.arange(-half, half + 1, dtype=trains.dtype, device=trains.device) * dt
    kernel = torch.exp(-0.5 * (lags / sigma) ** 2)
    kernel = kernel / kernel.sum()
    size = n + kernel.numel() - 1
    size = 1 << (size - 1).bit_length()
    spectrum = torch.fft.rfft(trains, n=size, dim=0) * torch.fft.rfft(kernel, n=size)[:, None]
    return torch.fft.irfft(spectrum, n=size, dim=0)[half: half + n]


@dataclass(frozen=True)
class Surrogate:
    """Free-running surrogate-gradient settings (module docstring): ``iterations``, ``lr`` (Adam on
    the unconstrained coordinates of `Gradient.values`), ``sigma`` (s), ``anneal`` (the coarser
    smoothings run first, s, coarse to fine; ``()``: ``sigma`` only), ``block`` (None: BlockALIF
    where it applies; True: require it; False: the generated step), ``patience``,
    ``validate_every``, ``tolerance``, ``voltage`` (add the voltage term), ``warm`` (the
    `Gradient` run first; None: none)."""

    iterations: int = 150
    lr: float = 0.003
    sigma: float = 0.01
    anneal: tuple = (0.1, 0.03)
    block: bool | None = None
    voltage: bool = False
    warm: Gradient | None = field(default_factory=Gradient)
    patience: int = 4
    validate_every: int = 10
    tolerance: float = 2e-3

    def __post_init__(self):
        for name in ("iterations", "patience", "validate_every"):
            check_positive_int(getattr(self, name), name)
        check_positive(self.lr, "lr")
        check_positive(self.sigma, "sigma")
        if not isinstance(self.anneal, (tuple, list)):
            raise TypeError(f"anneal must be a tuple of smoothing widths (s), got {self.anneal!r}")
        for i, value in enumerate(self.anneal):
            check_positive(value, f"anneal[{i}]")
        if self.block not in (None, True, False):
            raise ValueError(f"block must be None, True or False, got {self.block!r}")

    def layer(self, space: SearchSpace, dt: float):
        """`BlockALIF` or the generated layer of the model, its fixed parameters set."""
        fixed = dict(space.fixed)
        blockable = block_alif_applies(space, dt)
        if self.block and not blockable:
            raise ValueError(f"block=True needs model 'alif' with t_ref fixed to >= 2 steps of dt = {dt} s; "
                             f"got model {space.model.name!r}, t_ref = {fixed.get('t_ref')!r}")
        if blockable and self.block is not False:
            return BlockALIF(1, dt, kernel="scan", **fixed)
        return build_layer(space.model, 1, dt, **fixed)

    def _targets(self, data: FitData, v_loss: VoltageLoss, sigma: float | None = None):
        """``(sigma, groups)``: the smoothing `sigma` (s; None: ``self.sigma``) and, per length
        group, current ``[T, B, 1]``, data trains smoothed at `sigma`, data voltage, voltage mask."""
        sigma = self.sigma if sigma is None else sigma
        out = []
        for group in data.groups:
            grids = [sweep_grid(data, s) for s in group.index]
            spikes = torch.tensor(np.stack([g[2] for g in grids], 1), dtype=_F64)
            voltage = torch.tensor(np.stack([g[1] for g in grids], 1), dtype=_F64)
            keep = np.stack([voltage_mask(voltage.shape[0], data.dt, g[3].spike_times, v_loss) for g in grids], 1)
            mask = torch.tensor(keep) & ~torch.isnan(voltage)
            current = torch.tensor(group.current, dtype=_F64)[:, :, None]
            out.append((current, gaussian_smooth(spikes, data.dt, sigma), torch.nan_to_num(voltage), mask))
        return sigma, out

    def objective(self, layer, values, targets, weights) -> torch.Tensor:
        """The loss of parameter `values` (module docstring) over the `targets` of `_targets`,
        the model's trains smoothed at the targets' sigma."""
        sigma, groups = targets
        w_volt, w_spk, v_loss = weights
        w_volt = w_volt if self.voltage else 0.0
        err = norm = v_err = torch.zeros((), dtype=_F64)
        n_v = 0
        with layer.using(values):
            for current, smooth_data, voltage, mask in groups:
                spikes, traces = layer.simulate(current)
                diff = gaussian_smooth(spikes[:, :, 0], layer.dt, sigma) - smooth_data
                err = err + diff.pow(2).sum()
                norm = norm + smooth_data.pow(2).sum()
                if w_volt:
                    dv = torch.where(mask, traces["v"][:, :, 0] - voltage, torch.zeros_like(voltage))
                    v_err = v_err + dv.pow(2).sum()
                    n_v += int(mask.sum())
        total = w_spk * err / norm.clamp(min=1e-12)
        if w_volt:
            total = total + w_volt * torch.sqrt(v_err / max(n_v, 1) + 1e-30) / v_loss.scale
        return total

    def run(self, space: SearchSpace, data: FitData, loss: WeightedLoss, start: np.ndarray, progress: bool = True):
        """Fit from unit point `start` (after the ``warm`` stage); ``(best unit point, best loss,
        history)``: the warm stage's rows (``"stage": "gradient"``), then one row per check
        ``{"stage": "surrogate", "sigma", "iteration", "train_loss", "time_s", "best"}`` (SI values
        so far; ``time_s`` counts from the start of the warm stage). Each smoothing of the schedule
        (``anneal``, then ``sigma``) starts from the best point of the one before; the best loss
        returned is the last one's."""
        weights = torch_weights(loss, "surrogate")
        data.require_spikes("the spike-train loss of the surrogate optimizer")
        history = []
        t0 = time.perf_counter()
        if self.warm is not None:
            start, _, first = self.warm.run(space, data, loss, start, progress)
            history = [dict(h, stage="gradient") for h in first]
        layer = self.layer(space, data.dt)
        best = (np.clip(np.asarray(start, dtype=np.float64), 1e-3, 1 - 1e-3), float("inf"))
        for sigma in (*self.anneal, self.sigma):
            best = self._descend(space, layer, self._targets(data, weights[2], sigma), weights, best[0], history, t0,
                                 progress)
        return best[0], best[1], history

    def _descend(self, space, layer, targets, weights, u0: np.ndarray, history: list, t0: float, progress: bool):
        """Adam on the objective over `targets` (smoothed at their sigma) from unit point `u0`:
        ``(best unit point, its loss)``; appends the check rows to `history`."""
        sigma = targets[0]
        u0 = np.clip(u0, 1e-3, 1 - 1e-3)
        z = torch.tensor(np.log(u0 / (1 - u0)), dtype=_F64, requires_grad=True)
        opt = torch.optim.Adam([z], lr=self.lr)
        best, checked, stale = (u0, float("inf")), float("inf"), 0
        bar = tqdm(total=self.iterations, desc=f"surrogate {space.model.name} ({1e3 * sigma:g} ms)",
                   disable=not progress)
        try:
            for it in range(self.iterations):
                opt.zero_grad()
                value = self.objective(layer, Gradient.values(space, z), targets, weights)
                value.backward()
                current = float(value.detach())
                if current < best[1]:
                    best = (torch.sigmoid(z.detach()).numpy().copy(), current)
                if torch.isfinite(z.grad).all():
                    opt.step()
                bar.update(1)
                if (it + 1) % self.validate_every and it + 1 != self.iterations:
                    continue
                history.append({"stage": "surrogate", "sigma": sigma, "iteration": it + 1, "train_loss": current,
                                "time_s": time.perf_counter() - t0,
                                "best": {k: float(v) for k, v in space.from_unit(best[0]).items()}})
                bar.set_postfix(loss=f"{best[1]:.4f}")
                if best[1] < checked * (1 - self.tolerance):
                    checked, stale = best[1], 0
                else:
                    stale += 1
                    if stale >= self.patience:
                        bar.update(self.iterations - it - 1)
                        break
        finally:
            bar.close()
        return best
