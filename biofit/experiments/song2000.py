r"""Song, Miller & Abbott (2000, Nat. Neurosci. 3:919): additive STDP makes weights bimodal.

A conductance-based integrate-and-fire neuron (paper, Methods)

.. math::

    \tau_m \frac{dV}{dt} = V_{rest} - V + g_{ex}(E_{ex} - V) + g_{in}(E_{in} - V),\qquad
    \tau_{ex}\frac{dg_{ex}}{dt} = -g_{ex},\quad \tau_{in}\frac{dg_{in}}{dt} = -g_{in}

(conductances in units of the leak conductance; a presynaptic spike at excitatory synapse a adds
:math:`g_a \in [0, g_{max}]` to :math:`g_{ex}`, an inhibitory spike adds :math:`\bar g_{in}`) with
V → V_reset at V_th, driven by 1000 excitatory Poisson inputs (plastic, additive STDP of
:mod:`biofit.learning.stdp`) and 200 inhibitory Poisson inputs at 10 Hz (fixed). The claims checked:
the weights end bimodal (piled at 0 and g_max) and the output rate is regulated (it varies much
less than the input rate).

The neuron is integrated (forward Euler, step ``dt``) with weights held for ``update_every`` s
(50 ms by default, ≪ the minutes over which the distribution forms); the STDP weight change over
each such window is exact for the spikes of that window (:func:`biofit.learning.stdp.stdp_raster`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import torch
from tqdm.auto import tqdm

from biofit.learning.stdp import STDPParams, init_state, stdp_raster
from biofit.validation import check_dt, check_positive, renamed_arguments, torch_generator


@dataclass(frozen=True)
class SongNeuron:
    """Neuron and input constants of Song et al. (2000), Methods (SI units; g relative to leak)."""

    tau_m: float = 0.020
    v_rest: float = -0.070
    v_th: float = -0.054
    v_reset: float = -0.060
    e_ex: float = 0.0
    e_in: float = -0.070
    tau_ex: float = 0.005
    tau_in: float = 0.005
    g_max: float = 0.015
    g_in: float = 0.05
    n_ex: int = 1000
    n_in: int = 200
    rate_in_hz: float = 10.0


@numba.njit(cache=False)
def _integrate(drive_ex, drive_in, v, g_ex, g_in, dt, tau_m, tau_ex, tau_in, v_rest, v_th, v_reset, e_ex, e_in):
    """Euler steps over ``drive[K, B]`` (conductance jumps per bin); returns spikes ``bool[K, B]``."""
    k, batch = drive_ex.shape
    spikes = np.zeros((k, batch), dtype=np.bool_)
    dec_ex, dec_in = math.exp(-dt / tau_ex), math.exp(-dt / tau_in)
    for t in range(k):
        for b in range(batch):
            g_ex[b] = g_ex[b] * dec_ex + drive_ex[t, b]
            g_in[b] = g_in[b] * dec_in + drive_in[t, b]
            v[b] += dt / tau_m * (v_rest - v[b] + g_ex[b] * (e_ex - v[b]) + g_in[b] * (e_in - v[b]))
            if v[b] >= v_th:
                v[b] = v_reset
                spikes[t, b] = True
    return spikes


@renamed_arguments(duration_s="duration", update_every_s="update_every")
def simulate_song2000(
    input_rates_hz=(10.0, 40.0),
    duration: float = 100.0,
    dt: float = 1e-3,
    stdp: STDPParams | None = None,
    neuron: SongNeuron = SongNeuron(),
    seed=0,
    update_every: float = 0.05,
    progress: bool = False,
) -> dict:
    """Run one neuron per entry of ``input_rates_hz`` (a batch), all with plastic inputs.

    Args:
        input_rates_hz: excitatory input rate of each independent run, Hz (paper: 10-40 Hz).
        duration, dt: simulated time and Euler step, s.
        stdp: rule constants; default Song's additive rule A+ = 0.005, A-/A+ = 1.05, 20 ms,
            bounds [0, g_max].
        seed: int, numpy or CPU torch Generator; seeds the Poisson inputs and the initial weights
            (uniform in [w_min, w_max]).
        update_every: how long weights are held while the neuron is integrated, s.

    Returns:
        dict with ``weights`` (float[B, n_ex], final, units of leak conductance), ``rate_hz``
        (float[B, n_windows], output rate per window), ``window_s`` and ``input_rates_hz``.

    Example:
        >>> out = simulate_song2000((10.0,), duration=2.0, seed=1)
        >>> out["weights"].shape
        (1, 1000)
    """
    rates = np.asarray(input_rates_hz, dtype=float).ravel()
    if rates.size == 0 or not np.all(np.isfinite(rates)) or np.any(rates <= 0):
        raise ValueError(f"input_rates_hz must be positive and finite, got {rates}")
    duration, dt = check_positive(duration, "duration"), check_dt(dt)
    stdp = stdp or STDPParams(w_max=neuron.g_max)
    gen = torch_generator(seed)
    batch, n_ex = rates.size, neuron.n_ex
    w = torch.rand(batch, n_ex, 1, generator=gen, dtype=torch.float64) * (stdp.w_max - stdp.w_min) + stdp.w_min
    state = init_state(batch, n_ex, 1)
    v, g_ex, g_in = np.full(batch, neuron.v_rest), np.zeros(batch), np.zeros(batch)
    chunk = max(1, round(update_every / dt))
    n_chunks = max(1, round(duration / dt) // chunk)
    p_ex = torch.as_tensor(rates * dt).view(1, batch, 1)
    rate_hz = np.zeros((batch, n_chunks))
    for c in tqdm(range(n_chunks), disable=not progress, desc="Song 2000"):
        pre = torch.rand(chunk, batch, n_ex, generator=gen, dtype=torch.float64) < p_ex
        n_inh = torch.binomial(
            torch.full((chunk, batch), float(neuron.n_in)),
            torch.full((chunk, batch), neuron.rate_in_hz * dt),
            generator=gen,
        )
        drive_ex = torch.einsum("kbi,bi->kb", pre.double(), w[:, :, 0]).numpy()
        post = _integrate(
            drive_ex, (n_inh * neuron.g_in).double().numpy(), v, g_ex, g_in, dt, neuron.tau_m,
            neuron.tau_ex, neuron.tau_in, neuron.v_rest, neuron.v_th, neuron.v_reset, neuron.e_ex, neuron.e_in,
        )
        rate_hz[:, c] = post.sum(0) / (chunk * dt)
        w, state = stdp_raster(pre, torch.from_numpy(post)[:, :, None], state, w, stdp, dt)
    return {
        "weights": w[:, :, 0].numpy(),
        "rate_hz": rate_hz,
        "window_s": chunk * dt,
        "input_rates_hz": rates,
    }


def bimodality(weights: np.ndarray, w_max: float, edge: float = 0.1) -> dict:
    """Fractions of ``weights[..., n]`` within ``edge·w_max`` of 0, of w_max, and in between."""
    u = np.asarray(weights) / w_max
    low, high = (u <= edge).mean(-1), (u >= 1 - edge).mean(-1)
    return {"low": low, "high": high, "middle": 1 - low - high}


@renamed_arguments(duration_s="duration")
def train_stdp(input_rate_hz: float = 20.0, duration: float = 100.0, dt: float = 1e-3, seed=0) -> dict:
    """CLI entry (``biofit train --rule stdp``): Song et al. (2000) at one input rate, progress bar on.

    Returns the :func:`simulate_song2000` dict plus ``bimodality`` (fractions near 0 / g_max).
    """
    out = simulate_song2000((input_rate_hz,), duration, dt, seed=seed, progress=True)
    out["bimodality"] = bimodality(out["weights"], SongNeuron().g_max)
    return out
