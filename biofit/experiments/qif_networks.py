r"""The networks of the QIF reproduction (`biofit.experiments.qif_vs_lif`): ``input -> hidden layer
-> spike-count readout``, the hidden layer QIF or LIF, with or without tdBN on its input.

Units. The QIF is the paper's map (`biofit.experiments.qif_map`, a = 0.25, u1 = 0, u2 = 0.5,
threshold 1, reset to u1) run by `biofit.neurons.QIF` with one unit of u = ``KAPPA`` = 30 mV, dt =
1 ms (so tau_mem = 8 ms, v_rest = -70 mV, v_c = -55 mV, v_peak = -40 mV). The LIF
(`biofit.neurons.LIF`) has the same resting potential, threshold, reset, time constant and dt, so
near rest the two neurons are the same (`biofit.models.qif`) and differ only by the quadratic term.

Input scale. ``I_th``, the current that moves a neuron at rest by the threshold distance in one
step: :math:`\kappa\tau/(R\,dt)` for the QIF's Euler step, :math:`(v_{th} - v_{rest}) / ((1 -
e^{-dt/\tau}) R)` for the LIF's exact one. With tdBN (`biofit.learning.tdbn`, ``threshold =
I_th``, alpha = 1) each neuron's input current is renormalised to s.d. ``I_th`` at every step of
training (Zheng et al.'s :math:`N(0, (\alpha V_{th})^2)`); without it, the projection's scale is set
once, before training, so that the input current has s.d. ``I_th`` on the first training samples
(what tdBN gives at initialisation) and then stays fixed. Weights :math:`W \sim N(0, 1/N_{in})`.

Surrogates. QIF: the boxcar of unit area on the window derived from the map,
:math:`[v_c, F(v_{peak})]` = [-55, -36.25] mV, or the hand-tuned rectangle (``window="hand"``)
:math:`|v - v_{peak}| < \kappa/2`, i.e. the rectangular surrogate of width 1 threshold unit
centred on the threshold of STBP and tdBN (Wu et al. 2018; Zheng et al. 2021) = [-55, -25] mV.
LIF: that same rectangle (biofit's ``boxcar``, half-width 15 mV).
"""

from __future__ import annotations

import math

import torch

from biofit.experiments.qif_map import PAPER, THRESHOLD, biofit_parameters
from biofit.learning.bptt import SpikeCountReadout, SpikingNetwork
from biofit.learning.tdbn import Normalized, TemporalBatchNorm
from biofit.neurons import LIF, QIF
from biofit.validation import torch_generator

DT = 1e-3  # s
KAPPA = 0.03  # V per unit of the map's u
WINDOWS = ("derived", "hand")
NEURONS = ("lif", "qif")


def qif_parameters() -> dict:
    """The biofit QIF parameters of the paper's map (SI), and ``current_per_unit`` (A)."""
    return biofit_parameters(**PAPER, threshold=THRESHOLD, dt=DT, kappa=KAPPA)


def hand_window() -> tuple[float, float]:
    """The hand-tuned rectangle (module docstring), volts."""
    v_peak = qif_parameters()["v_peak"]
    return v_peak - KAPPA / 2, v_peak + KAPPA / 2


def lif_parameters() -> dict:
    """LIF with the QIF's rest, threshold, reset and time constant (module docstring), SI."""
    q = qif_parameters()
    return dict(tau_mem=q["tau_mem"], R=q["R"], v_rest=q["v_rest"], v_reset=q["v_reset"], v_th=q["v_peak"], t_ref=0.0)


def threshold_current(neuron: str) -> float:
    """``I_th`` of the module docstring, A."""
    if neuron == "qif":
        return qif_parameters()["current_per_unit"] * (THRESHOLD - PAPER["u1"])
    p = lif_parameters()
    return (p["v_th"] - p["v_rest"]) / ((1.0 - math.exp(-DT / p["tau_mem"])) * p["R"])


def hidden_layer(neuron: str, n_hidden: int, window: str = "derived"):
    """The hidden layer: QIF with the derived or hand-tuned window, or the LIF."""
    if neuron == "qif":
        p = {k: v for k, v in qif_parameters().items() if k != "current_per_unit"}
        return QIF(n_hidden, DT, window=hand_window() if window == "hand" else None, **p)
    if neuron == "lif":
        return LIF(n_hidden, DT, surrogate="boxcar", width=KAPPA / 2, **lif_parameters())
    raise ValueError(f"unknown neuron {neuron!r}; expected one of {NEURONS}")


def model(neuron: str, window: str, tdbn: bool, n_inputs: int, n_hidden: int, n_classes: int, seed,
          x: torch.Tensor) -> torch.nn.Sequential:
    """The network of the module docstring; ``x[T, B, n_inputs]``: spikes on which the fixed scale
    (no tdBN) is set."""
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; expected one of {WINDOWS}")
    generator = torch_generator(seed)
    current = threshold_current(neuron)
    layer = hidden_layer(neuron, n_hidden, window)
    if tdbn:
        layer = Normalized(TemporalBatchNorm(n_hidden, threshold=current), layer)
    net = SpikingNetwork(n_inputs, [layer], scales=[1.0], init_std=1.0 / math.sqrt(n_inputs), seed=generator)
    if not tdbn:
        with torch.no_grad():
            spread = float((x @ net.weights[0]).std())
            net.scales[0] = current / spread if spread > 0 else current
    return torch.nn.Sequential(net, SpikeCountReadout(n_hidden, n_classes, seed=generator))
