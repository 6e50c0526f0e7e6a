"""Parameters of the POLARA neuron (Lai & Cao, "Stabilizing Spiking Neurons Through Biologically
Inspired Polarization"; ``../shared/papers/polara-polarization-neuron.txt``).

POLARA is a discrete-time model: its membrane ``u`` and threshold are dimensionless, its input is a
dimensionless drive per step, and every time (kernel centre, width, rate) is in *time steps*. It has
no Brian2 equations, so `POLARA` is a `ParameterSet` (parameters only), kept out of
`biofit.models.MODELS` (the Brian2 backend cannot simulate it); the torch layer reads its
parameters through the same `IntrinsicParameters` machinery as every other layer.

The paper gives no constants. Ours (the defaults below) are chosen so that, with the paper's window
of k = 6 steps, a neuron driven at about its threshold fires graded spikes every few steps:

* decay factor :math:`\\lambda = 1 - A\\sum_{i=1}^{k} e^{-\\alpha i} + \\epsilon`. With
  ``decay_a <= 0.5`` and ``decay_alpha >= 0.5`` the sum stays below
  :math:`0.5 / (e^{0.5} - 1) = 0.77` for *any* window, so :math:`\\lambda > 0.23` (the paper requires
  the decay sum to be < 1); defaults give :math:`\\lambda = 0.884`.
* amplification :math:`a(\\delta) = B e^{\\beta \\delta}` (paper eq. 14 / Table 3), at most ``1 + B``.
* activation :math:`O(\\Delta) = \\min(\\Delta(1 + \\Delta e^{-\\gamma\\Delta}), o_{max})` (eq. 10).
* refractory kernel :math:`h(i) = \\sum_{j=1}^{3} D_j e^{-(i-\\mu_j)^2 / 2\\sigma_j^2}` (eq. 11): a fast
  strong, a medium and a slow weak inhibitory Gaussian (lags 1, 3, 5 steps).
* threshold kernel :math:`\\Theta(i) = E e^{-\\eta i}` (eq. 12).

Example
-------
>>> from biofit.models.polara import POLARA
>>> POLARA.defaults()["theta0"]
1.0
"""

from __future__ import annotations

from biofit.models.base import Parameter, ParameterSet

_DIMLESS = "1"

POLARA_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("decay_a", 0.2, (0.0, 0.5), _DIMLESS, True, "decay kernel magnitude A (eq. 7)"),
    Parameter("decay_alpha", 1.0, (0.5, 5.0), _DIMLESS, True, "decay kernel rate alpha, 1/step (eq. 7)"),
    Parameter("decay_eps", 1e-6, (0.0, 1e-2), _DIMLESS, False, "stabilising epsilon of eq. 7"),
    Parameter(
        "static_leak", 0.9, (0.0, 1.0), _DIMLESS, True,
        "leak factor per step replacing the decay kernel when decay=False (the paper's ablation)",
    ),
    Parameter("amp_b", 0.1, (0.0, 1.0), _DIMLESS, True, "amplification magnitude B (eq. 14)"),
    Parameter("amp_beta", 2.0, (0.01, 20.0), _DIMLESS, True, "amplification slope beta, 1/u (eq. 14)"),
    Parameter("act_gamma", 1.0, (0.01, 10.0), _DIMLESS, True, "activation decay gamma, 1/u (eq. 10)"),
    Parameter("act_omax", 4.0, (0.01, 100.0), _DIMLESS, False, "activation bound o_max (eq. 10)"),
    Parameter("refr_d1", -1.0, (-2.0, 1.0), _DIMLESS, True, "refractory Gaussian 1 amplitude D_1"),
    Parameter("refr_d2", -0.3, (-2.0, 1.0), _DIMLESS, True, "refractory Gaussian 2 amplitude D_2"),
    Parameter("refr_d3", -0.1, (-2.0, 1.0), _DIMLESS, True, "refractory Gaussian 3 amplitude D_3"),
    Parameter("refr_mu1", 1.0, (0.0, 20.0), _DIMLESS, True, "refractory Gaussian 1 centre mu_1, steps"),
    Parameter("refr_mu2", 3.0, (0.0, 20.0), _DIMLESS, True, "refractory Gaussian 2 centre mu_2, steps"),
    Parameter("refr_mu3", 5.0, (0.0, 20.0), _DIMLESS, True, "refractory Gaussian 3 centre mu_3, steps"),
    Parameter("refr_sigma1", 0.5, (0.1, 10.0), _DIMLESS, True, "refractory Gaussian 1 s.d. sigma_1, steps"),
    Parameter("refr_sigma2", 1.0, (0.1, 10.0), _DIMLESS, True, "refractory Gaussian 2 s.d. sigma_2, steps"),
    Parameter("refr_sigma3", 1.5, (0.1, 10.0), _DIMLESS, True, "refractory Gaussian 3 s.d. sigma_3, steps"),
    Parameter("theta0", 1.0, (0.01, 100.0), _DIMLESS, True, "baseline threshold theta_0"),
    Parameter("thr_e", 0.2, (0.0, 2.0), _DIMLESS, True, "threshold kernel magnitude E (eq. 12)"),
    Parameter("thr_eta", 0.5, (0.01, 10.0), _DIMLESS, True, "threshold kernel rate eta, 1/step (eq. 12)"),
)

# Parameter-only definition (see the module docstring): no Brian2 equations, not in MODELS.
POLARA = ParameterSet(name="polara", parameters=POLARA_PARAMETERS)
