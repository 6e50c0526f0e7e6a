"""Current-based leaky integrate-and-fire (LIF) neuron, with and without a synaptic current.

``lif`` (e.g. Gerstner et al. 2014, *Neuronal Dynamics*, eq. 1.5):

.. math::
    \\tau_{mem} \\frac{dv}{dt} = v_{rest} - v + R\\, I_{ext}, \\qquad
    v > v_{th} \\Rightarrow v \\leftarrow v_{reset},\\ \\text{then } v \\text{ frozen for } t_{ref}

``lif_syn`` adds a first-order synaptic filter between the injected current and the membrane:

.. math::
    \\tau_{syn} \\frac{dI_{syn}}{dt} = I_{ext} - I_{syn}, \\qquad
    \\tau_{mem} \\frac{dv}{dt} = v_{rest} - v + R\\, I_{syn}

``I_syn`` keeps filtering during the refractory period; only ``v`` is frozen. Both models are
linear between spikes and are integrated exactly (``method="exact"``). For ``lif_syn`` the exact
propagator of the coupled system contains ``1 / (tau_mem - tau_syn)``: Brian2's symbolic solution
is singular when the two are equal (the torch backend uses the limit there).
"""

from __future__ import annotations

from biofit.models.base import NeuronModel, Parameter

TAU_MEM = Parameter("tau_mem", 20e-3, (1e-4, 1.0), "second", True, "membrane time constant")
R_MEM = Parameter("R", 1e8, (1e6, 1e10), "ohm", True, "membrane (input) resistance")
V_REST = Parameter("v_rest", -70e-3, (-0.1, 0.0), "volt", True, "resting potential")
V_RESET = Parameter("v_reset", -70e-3, (-0.1, 0.0), "volt", True, "reset potential after a spike")
V_TH = Parameter("v_th", -50e-3, (-0.08, 0.02), "volt", True, "firing threshold")
T_REF = Parameter(
    "t_ref", 2e-3, (0.0, 0.05), "second", False,
    "absolute refractory period (v frozen); not learnable: it acts as a whole number of steps",
)
TAU_SYN = Parameter("tau_syn", 5e-3, (1e-4, 0.5), "second", True, "synaptic current time constant")

LIF = NeuronModel(
    name="lif",
    parameters=(TAU_MEM, R_MEM, V_REST, V_RESET, V_TH, T_REF),
    equations="dv/dt = (v_rest - v + R*I_ext) / tau_mem : volt (unless refractory)",
    threshold="v > v_th",
    reset="v = v_reset",
    refractory="t_ref",
    method="exact",
    state=("v",),
    initial={"v": "v_rest"},
)

LIF_SYN = NeuronModel(
    name="lif_syn",
    parameters=(TAU_MEM, R_MEM, V_REST, V_RESET, V_TH, T_REF, TAU_SYN),
    equations=(
        "dv/dt = (v_rest - v + R*I_syn) / tau_mem : volt (unless refractory)\n"
        "dI_syn/dt = (I_ext - I_syn) / tau_syn : amp"
    ),
    threshold="v > v_th",
    reset="v = v_reset",
    refractory="t_ref",
    method="exact",
    state=("v", "I_syn"),
    initial={"v": "v_rest", "I_syn": "0*amp"},
)
