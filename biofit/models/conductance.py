"""Conductance-based LIF of Song, Miller & Abbott (2000), Nat. Neurosci. 3:919, Methods.

.. math::
    \\tau_m \\frac{dv}{dt} = v_{rest} - v + g_{ex}(E_{ex} - v) + g_{in}(E_{in} - v), \\qquad
    \\tau_{ex} \\frac{dg_{ex}}{dt} = -g_{ex}, \\quad \\tau_{in} \\frac{dg_{in}}{dt} = -g_{in}

Conductances are in units of the leak conductance (dimensionless). The inputs are the increments
of ``g_ex`` and ``g_in`` in each step (a presynaptic spike at excitatory synapse a adds its weight
:math:`g_a \\in [0, g_{max}]`, an inhibitory one adds :math:`\\bar g_{in}`), added after the
step's update and threshold, as Brian2's ``on_pre: g_ex += w``. Spike when :math:`v \\ge v_{th}`,
then :math:`v \\leftarrow v_{reset}`. The conductances decay exactly and ``v`` integrates
exactly with the conductances held over the step (``method="exponential_euler"``). Defaults are
the paper's (its Methods): tau_m = 20 ms, v_rest = -70 mV, v_th = -54 mV, v_reset = -60 mV,
E_ex = 0 mV, E_in = -70 mV, tau_ex = tau_in = 5 ms.

Example
-------
>>> LIF_COND.inputs
('g_ex', 'g_in')
"""

from __future__ import annotations

from biofit.models.base import NeuronModel, Parameter

LIF_COND = NeuronModel(
    name="lif_cond",
    parameters=(
        Parameter("tau_m", 20e-3, (1e-4, 1.0), "second", True, "membrane time constant"),
        Parameter("v_rest", -70e-3, (-0.1, 0.0), "volt", True, "resting potential"),
        Parameter("v_th", -54e-3, (-0.08, 0.02), "volt", True, "firing threshold"),
        Parameter("v_reset", -60e-3, (-0.1, 0.0), "volt", True, "reset potential"),
        Parameter("E_ex", 0.0, (-0.03, 0.05), "volt", False, "excitatory reversal potential"),
        Parameter("E_in", -70e-3, (-0.1, -0.04), "volt", False, "inhibitory reversal potential"),
        Parameter("tau_ex", 5e-3, (1e-4, 0.5), "second", True, "excitatory conductance decay"),
        Parameter("tau_in", 5e-3, (1e-4, 0.5), "second", True, "inhibitory conductance decay"),
    ),
    equations=(
        "dv/dt = (v_rest - v + g_ex*(E_ex - v) + g_in*(E_in - v)) / tau_m : volt\n"
        "dg_ex/dt = -g_ex / tau_ex : 1\n"
        "dg_in/dt = -g_in / tau_in : 1"
    ),
    threshold="v >= v_th",
    reset="v = v_reset",
    method="exponential_euler",
    state=("v", "g_ex", "g_in"),
    initial={"v": "v_rest"},
    inputs=("g_ex", "g_in"),
    input_units={},
)
