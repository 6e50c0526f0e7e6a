"""The probabilistic meta neuron: our definition of the neuron of 2508.11674.

2508.11674 (Learning Internal Biological Neuron Parameters and Complexity-Based Encoding) replaces
the LIF neuron by a "biologically inspired probabilistic meta neuron" whose internal parameters are
learned jointly with the weights, but it publishes no equations. This is *our* model of it, built
from textbook pieces: the current-based LIF with a synaptic current (`biofit.models.lif`
``lif_syn``), a soft relative refractoriness as a decaying threshold jump (the dynamic threshold
of the spike response model, Gerstner et al. 2014, *Neuronal Dynamics*, ch. 6), and
firing by an exponential escape-noise hazard (*Neuronal Dynamics*, ch. 9, "escape noise", with
the time constant :math:`\\tau_{esc}` the book calls :math:`\\tau_0`):

.. math::
    \\tau_{syn} \\frac{dI_{syn}}{dt} &= I_{ext} - I_{syn}, \\qquad
    \\tau_{mem} \\frac{dv}{dt} = v_{rest} - v + R\\, I_{syn}, \\qquad
    \\tau_{ref} \\frac{dq}{dt} = -q \\\\
    \\rho(t) &= \\frac{1}{\\tau_{esc}} \\exp\\!\\Big(\\frac{v - v_{th} - \\theta_{ref}\\, q}{\\Delta_u}\\Big), \\qquad
    P(\\text{spike in } [t, t + dt)) = 1 - e^{-\\rho(t)\\, dt}

After a spike :math:`v \\leftarrow v_{reset}`, :math:`q \\leftarrow 1`, and ``v`` is frozen for
``t_ref`` (absolute refractoriness, a whole number of steps, so not learnable). The learnable
refractoriness is the threshold jump :math:`\\theta_{ref}\\,e^{-(t - \\hat t)/\\tau_{ref}}` after the
last spike :math:`\\hat t`: it multiplies the hazard by :math:`\\exp(-\\theta_{ref} q / \\Delta_u)`
and is continuous (so differentiable) in ``tau_ref`` and ``theta_ref``. As
:math:`\\Delta_u \\to 0` the hazard becomes the deterministic threshold
:math:`v > v_{th} + \\theta_{ref} q`; with :math:`\\theta_{ref} = 0` it is the ``lif_syn`` neuron.

Brian2 reads the stochastic threshold below (``rand()`` once per neuron and step). `META_DET`
(``"meta_det"``) is the same neuron with the deterministic threshold of the
:math:`\\Delta_u \\to 0` limit, :math:`v > v_{th} + \\theta_{ref}\\, q` (the mode a
`biofit.neurons.MetaNeuron` runs in evaluation).

Example
-------
>>> from biofit.models.meta import META
>>> META.parameter("delta_u").unit
'volt'
"""

from __future__ import annotations

import dataclasses

from biofit.models.base import NeuronModel, Parameter
from biofit.models.lif import R_MEM, TAU_MEM, TAU_SYN, V_REST, V_RESET, V_TH

META = NeuronModel(
    name="meta",
    parameters=(
        TAU_MEM,
        R_MEM,
        V_REST,
        V_RESET,
        V_TH,
        Parameter(
            "t_ref", 0.0, (0.0, 0.05), "second", False,
            "absolute refractory period (v frozen); whole steps, so not learnable (see tau_ref)",
        ),
        TAU_SYN,
        Parameter("tau_ref", 5e-3, (1e-4, 0.5), "second", True, "decay time of the refractory threshold jump"),
        Parameter("theta_ref", 5e-3, (0.0, 0.05), "volt", True, "threshold jump right after a spike"),
        Parameter("delta_u", 1e-3, (1e-5, 0.02), "volt", True, "escape-noise softness (0: deterministic)"),
        Parameter(
            "tau_esc", 1e-3, (1e-5, 1.0), "second", True,
            "escape time constant: 1 / (hazard at the effective threshold)",
        ),
    ),
    equations=(
        "dv/dt = (v_rest - v + R*I_syn) / tau_mem : volt (unless refractory)\n"
        "dI_syn/dt = (I_ext - I_syn) / tau_syn : amp\n"
        "dq/dt = -q / tau_ref : 1"
    ),
    threshold="rand() < -expm1(-exp((v - v_th - theta_ref * q) / delta_u) * dt / tau_esc)",
    reset="v = v_reset; q = 1",
    refractory="t_ref",
    method="exact",
    state=("v", "I_syn", "q"),
    initial={"v": "v_rest", "I_syn": "0*amp", "q": "0"},
)

META_DET = dataclasses.replace(META, name="meta_det", threshold="v > v_th + theta_ref*q")
