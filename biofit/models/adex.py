"""Adaptive exponential integrate-and-fire (AdEx) neuron, Brette & Gerstner (2005) J Neurophysiol 94:3637.

.. math::
    C \\frac{dv}{dt} = g_L (E_L - v) + g_L \\Delta_T e^{(v - V_T)/\\Delta_T} - w + I_{ext}, \\qquad
    \\tau_w \\frac{dw}{dt} = a (v - E_L) - w

Spike when :math:`v > V_{peak}`; then :math:`v \\leftarrow V_{reset}`, :math:`w \\leftarrow w + b`,
and ``v`` is frozen for ``t_ref`` (0 by default, as in the original model; ``w`` keeps evolving).
Defaults are the regular-spiking values of Brette & Gerstner (2005), Table 1; ``V_peak = 0 mV``
follows Naud et al. (2008) Biol Cybern 99:335. Non-linear: forward Euler (``method="euler"``).
The bounds are physical limits, wide enough for every published set (Naud et al. 2008, Table 1:
``a`` down to -11 nS; fits that degenerate to the LIF with ``Delta_T`` well below 0.1 mV).
"""

from __future__ import annotations

from biofit.models.base import NeuronModel, Parameter

ADEX = NeuronModel(
    name="adex",
    parameters=(
        Parameter("C", 281e-12, (1e-12, 1e-8), "farad", True, "membrane capacitance"),
        Parameter("g_L", 30e-9, (1e-10, 1e-6), "siemens", True, "leak conductance"),
        Parameter("E_L", -70.6e-3, (-0.1, 0.0), "volt", True, "leak reversal potential"),
        Parameter("V_T", -50.4e-3, (-0.08, 0.0), "volt", True, "threshold slope factor's midpoint"),
        Parameter("Delta_T", 2e-3, (1e-6, 0.02), "volt", True, "slope factor (spike sharpness)"),
        Parameter("a", 4e-9, (-1e-6, 1e-6), "siemens", True, "subthreshold adaptation conductance"),
        Parameter("tau_w", 144e-3, (1e-4, 10.0), "second", True, "adaptation time constant"),
        Parameter("b", 80.5e-12, (0.0, 1e-8), "amp", True, "spike-triggered adaptation increment"),
        Parameter("V_reset", -70.6e-3, (-0.1, 0.0), "volt", True, "reset potential"),
        Parameter("V_peak", 0.0, (-0.06, 0.05), "volt", False, "spike detection (cut-off) potential"),
        Parameter("t_ref", 0.0, (0.0, 0.05), "second", False, "absolute refractory period (v frozen)"),
    ),
    equations=(
        "dv/dt = (g_L*(E_L - v) + g_L*Delta_T*exp((v - V_T)/Delta_T) - w + I_ext) / C"
        " : volt (unless refractory)\n"
        "dw/dt = (a*(v - E_L) - w) / tau_w : amp"
    ),
    threshold="v > V_peak",
    reset="v = V_reset; w += b",
    refractory="t_ref",
    method="euler",
    state=("v", "w"),
    initial={"v": "E_L", "w": "0*amp"},
    # the membrane crosses V_peak in one or two steps: a wide window (5 default Delta_T)
    surrogate_width=10e-3,
)
