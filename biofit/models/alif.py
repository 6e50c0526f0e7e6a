"""Adaptive-threshold LIF (ALIF) with an absolute refractory period, the neuron of 2311.11390.

.. math::
    \\tau_{mem} \\frac{dv}{dt} = v_{rest} - v + R\\, I_{ext}, \\qquad
    \\tau_{adapt} \\frac{da}{dt} = -a

Spike when :math:`v > v_{th} + a`; then :math:`v \\leftarrow v_{reset}`,
:math:`a \\leftarrow a + \\beta`, and ``v`` is frozen for ``t_ref`` (the absolute refractory
period the Block-ALIF reformulation of 2311.11390 exploits: at most one spike per ``t_ref``).
The threshold adaptation ``a`` (volt) keeps decaying during the refractory period. Both equations
are linear and are integrated exactly.
"""

from __future__ import annotations

from biofit.models.base import NeuronModel, Parameter
from biofit.models.lif import R_MEM, T_REF, TAU_MEM, V_REST, V_RESET, V_TH

TAU_ADAPT = Parameter("tau_adapt", 0.2, (1e-3, 10.0), "second", True, "threshold adaptation time constant")
BETA = Parameter("beta", 2e-3, (0.0, 0.05), "volt", True, "threshold increment per spike")

ALIF = NeuronModel(
    name="alif",
    parameters=(TAU_MEM, R_MEM, V_REST, V_RESET, V_TH, T_REF, TAU_ADAPT, BETA),
    equations=(
        "dv/dt = (v_rest - v + R*I_ext) / tau_mem : volt (unless refractory)\n"
        "da/dt = -a / tau_adapt : volt"
    ),
    threshold="v > v_th + a",
    reset="v = v_reset; a += beta",
    refractory="t_ref",
    method="exact",
    state=("v", "a"),
    initial={"v": "v_rest", "a": "0*volt"},
)
