"""Escape-noise spike response neuron of Frémaux, Sprekeler & Gerstner (2010), J. Neurosci. 30:13326.

The model of the reward-learning experiment (`biofit.experiments.reward_patterns`; Gerstner &
Kistler 2002, ch. 5.3): in units of the PSP (dimensionless)

.. math::
    \\tau_m \\frac{du_{syn}}{dt} = -u_{syn}, \\qquad \\tau_m \\frac{dh}{dt} = -h, \\qquad
    u = u_{syn} - \\kappa_{self}\\, h - \\kappa_{inh}\\, h_{rival}, \\\\
    \\rho = \\min\\big(\\rho_0\\, e^{(u - \\theta)/\\Delta_u},\\ \\rho_{max}\\big), \\qquad
    P(\\text{spike in } [t, t + dt)) = 1 - e^{-\\rho\\, dt}

``u_syn`` is the weighted PSP trace: its input is the step's ``sum_i w_i x_i`` over the afferents'
spikes (each PSP jumps by its weight and decays with tau_m), added after the step's threshold
(Brian2's ``on_pre``). ``h`` is the neuron's own spike trace (``h += 1`` at a spike:
refractoriness) and ``h_rival`` the spike trace of the competing neuron (lateral inhibition), a
held input the caller passes in every step. The escape noise is what reward learning explores with.

Example
-------
>>> SRM_ESCAPE.defaults()["rho0"]
20.0
"""

from __future__ import annotations

from biofit.models.base import NeuronModel, Parameter

SRM_ESCAPE = NeuronModel(
    name="srm_escape",
    parameters=(
        Parameter("tau_m", 10e-3, (1e-4, 1.0), "second", True, "decay of the PSP and spike traces"),
        Parameter("theta", 10.0, (-1e3, 1e3), "1", True, "potential at which the rate is rho0 (PSP units)"),
        Parameter("delta_u", 1.5, (1e-3, 1e3), "1", True, "escape-noise width (PSP units)"),
        Parameter("rho0", 20.0, (1e-3, 1e4), "1/second", True, "rate at threshold"),
        Parameter("rho_max", 400.0, (1e-3, 1e5), "1/second", False, "rate ceiling"),
        Parameter("kappa_self", 3.0, (0.0, 1e3), "1", True, "refractoriness per own spike (PSP units)"),
        Parameter("kappa_inh", 3.0, (0.0, 1e3), "1", True, "lateral inhibition per rival spike (PSP units)"),
    ),
    equations=(
        "du_syn/dt = -u_syn / tau_m : 1\n"
        "dh/dt = -h / tau_m : 1"
    ),
    threshold=(
        "rand() < -expm1(-clip(rho0*exp((u_syn - kappa_self*h - kappa_inh*h_rival - theta)/delta_u),"
        " 0/second, rho_max) * dt)"
    ),
    reset="h += 1",
    method="exact",
    state=("u_syn", "h"),
    initial={},
    inputs=("u_syn", "h_rival"),
    input_units={"h_rival": "1"},
)
