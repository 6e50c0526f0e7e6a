"""Quadratic integrate-and-fire (QIF) neuron in membrane-time-constant form (Latham et al. 2000).

.. math::
    \\tau_{mem} \\frac{dv}{dt} = \\frac{(v - v_{rest})(v - v_{rest} - \\Delta_v)}{\\Delta_v}
                               + R\\, I_{ext}

With no input, ``v_rest`` is the stable fixed point and ``v_crit = v_rest + delta_v`` the unstable
one; near rest the equation reduces to the LIF's :math:`\\tau_{mem}\\dot v = v_{rest} - v + R I`,
so ``tau_mem`` and ``R`` keep their usual meaning. Writing the critical potential as
``v_rest + delta_v`` with ``delta_v > 0`` keeps the two fixed points ordered for every value inside
the bounds. Spike when :math:`v > v_{peak}`; then :math:`v \\leftarrow v_{reset}` and ``v`` is frozen
for ``t_ref``. The rheobase (saddle-node) current is :math:`I = \\Delta_v / (4R)`. Non-linear:
forward Euler (``method="euler"``).
"""

from __future__ import annotations

from biofit.models.base import NeuronModel, Parameter
from biofit.models.lif import R_MEM, V_REST, V_RESET

QIF = NeuronModel(
    name="qif",
    parameters=(
        Parameter("tau_mem", 10e-3, (1e-4, 1.0), "second", True, "membrane time constant at rest"),
        R_MEM,
        V_REST,
        Parameter("delta_v", 15e-3, (1e-3, 0.1), "volt", True, "critical minus resting potential"),
        V_RESET,
        Parameter("v_peak", 0.0, (-0.06, 0.05), "volt", False, "spike cut-off potential"),
        Parameter("t_ref", 0.0, (0.0, 0.05), "second", False, "absolute refractory period (v frozen)"),
    ),
    equations=(
        "dv/dt = ((v - v_rest)*(v - v_rest - delta_v)/delta_v + R*I_ext) / tau_mem"
        " : volt (unless refractory)"
    ),
    threshold="v > v_peak",
    reset="v = v_reset",
    refractory="t_ref",
    method="euler",
    state=("v",),
    initial={"v": "v_rest"},
)
