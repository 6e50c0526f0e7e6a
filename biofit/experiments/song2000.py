r"""Song, Miller & Abbott (2000, Nat. Neurosci. 3:919): additive STDP makes weights bimodal.

The conductance-based integrate-and-fire neuron of the paper's Methods (`biofit.models.conductance`,
``lif_cond``, run as a generated `biofit.neurons` layer), driven by 1000 excitatory Poisson inputs
(plastic, additive STDP of :mod:`biofit.learning.stdp`) and 200 inhibitory Poisson inputs at
10 Hz (fixed), all drawn by `biofit.encoding.poisson.poisson_spike_tensor`
(P(spike in a bin) = 1 - exp(-rate dt)). A presynaptic spike at excitatory synapse a adds its
weight :math:`g_a \in [0, g_{max}]` to :math:`g_{ex}`, an inhibitory one adds :math:`\bar g_{in}`
(units of the leak conductance). The claims checked: the weights end bimodal (piled at 0 and
g_max) and the output rate is regulated (it varies much less than the input rate).

The weights are held for ``update_every`` (50 ms by default, << the minutes over which the
distribution forms); the STDP weight change over each such window is exact for the spikes of that
window (:func:`biofit.learning.stdp.stdp_raster`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from biofit.encoding.poisson import poisson_spike_tensor
from biofit.learning.stdp import STDPParams, init_state, stdp_raster
from biofit.models.conductance import LIF_COND
from biofit.neurons import build_layer
from biofit.validation import check_dt, check_positive, renamed_arguments, torch_generator


@dataclass(frozen=True)
class SongInputs:
    """The inputs of Song et al. (2000), Methods (conductances relative to the leak)."""

    g_max: float = 0.015
    g_in: float = 0.05
    n_ex: int = 1000
    n_in: int = 200
    rate_in_hz: float = 10.0


@renamed_arguments(duration_s="duration", update_every_s="update_every")
def simulate_song2000(
    input_rates_hz=(10.0, 40.0),
    duration: float = 100.0,
    dt: float = 1e-3,
    stdp: STDPParams | None = None,
    inputs: SongInputs = SongInputs(),
    seed=0,
    update_every: float = 0.05,
    progress: bool = False,
) -> dict:
    """Run one neuron per entry of ``input_rates_hz`` (a batch), all with plastic inputs.

    Args:
        input_rates_hz: excitatory input rate of each independent run, Hz (paper: 10-40 Hz).
        duration, dt: simulated time and time step, s.
        stdp: rule constants; default Song's additive rule A+ = 0.005, A-/A+ = 1.05, 20 ms,
            bounds [0, g_max].
        inputs: numbers and rates of the inputs; the neuron is ``lif_cond`` with its defaults.
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
    stdp = stdp or STDPParams(w_max=inputs.g_max)
    gen = torch_generator(seed)
    batch, n_ex = rates.size, inputs.n_ex
    w = torch.rand(batch, n_ex, 1, generator=gen, dtype=torch.float64) * (stdp.w_max - stdp.w_min) + stdp.w_min
    state = init_state(batch, n_ex, 1)
    neuron = build_layer(LIF_COND, 1, dt)
    v_state = None
    chunk = max(1, round(update_every / dt))
    n_chunks = max(1, round(duration / dt) // chunk)
    rate_ex = torch.as_tensor(rates, dtype=torch.float64)[:, None].expand(batch, n_ex)
    rate_in = torch.full((batch, inputs.n_in), inputs.rate_in_hz, dtype=torch.float64)
    rate_hz = np.zeros((batch, n_chunks))
    for c in tqdm(range(n_chunks), disable=not progress, desc="Song 2000"):
        pre = poisson_spike_tensor(rate_ex, dt, chunk, seed=gen)
        n_inh = poisson_spike_tensor(rate_in, dt, chunk, seed=gen).sum(-1, keepdim=True)
        drive = {"g_ex": torch.einsum("kbi,bi->kb", pre, w[:, :, 0])[:, :, None], "g_in": n_inh * inputs.g_in}
        with torch.no_grad():
            post, v_state = neuron(drive, state=v_state, return_state=True)
        rate_hz[:, c] = post[:, :, 0].sum(0).numpy() / (chunk * dt)
        w, state = stdp_raster(pre > 0, post > 0, state, w, stdp, dt)
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
    out["bimodality"] = bimodality(out["weights"], SongInputs().g_max)
    return out
