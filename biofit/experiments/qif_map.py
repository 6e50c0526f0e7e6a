r"""The discrete QIF recurrence of 2510.05168 (Jahns et al.) in the paper's normalised units, and its
correspondence with biofit's QIF layer (`biofit.neurons.qif`).

The paper's text gives, for its figure of "the discrete QIF recurrence relation (11) for null
input", only :math:`a = 0.25`, :math:`u_1 = 0`, :math:`u_2 = 0.5`. We read relation (11) as the
forward-Euler QIF map with the resting and critical potentials as its roots,

.. math::
    u_{t+1} = F(u_t) = u_t + a\,(u_t - u_1)(u_t - u_2) + I_t ,
    \qquad \text{spike when } u_{t+1} > \vartheta,\ \text{then } u \leftarrow u_r ,

the form whose fixed points for :math:`I = 0` are exactly :math:`u_1` and :math:`u_2` (the only
reading under which the three named numbers fix the figure). :math:`F'(u) = 1 + a(2u - u_1 - u_2)`,
so :math:`F'(u_1) = 1 - a(u_2 - u_1) = 0.875` (stable: :math:`|F'| < 1` iff
:math:`0 < a(u_2 - u_1) < 2`) and :math:`F'(u_2) = 1 + a(u_2 - u_1) = 1.125` (unstable). With
input the fixed points are :math:`\tfrac{u_1 + u_2}{2} \pm \sqrt{(u_2 - u_1)^2/4 - I/a}`, real up
to the rheobase :math:`I^* = a (u_2 - u_1)^2 / 4`.

Surrogate window. Below :math:`u_2` the state returns to :math:`u_1`, above it escapes to a
spike, and :math:`F` is increasing above :math:`u_2`, so a state that has not yet fired
(:math:`u \le \vartheta`) reaches at most :math:`F(\vartheta)`: the window is
:math:`[u_2, F(\vartheta)]`, the boxcar of unit area on it. The threshold is not among the given
numbers; we take :math:`\vartheta = 1` (the unit threshold of the deep-SNN literature the paper
compares with), giving :math:`[0.5, 1.125]`, height 1.6.

Correspondence with biofit's ``qif`` (:math:`\tau\dot v = (v - v_r)(v - v_r - \Delta)/\Delta + RI`,
Euler step ``dt``): with :math:`v = v_r + \kappa (u - u_1)`, the layer's step is the map above iff

.. math::
    \frac{dt}{\tau} = a (u_2 - u_1), \qquad \Delta = \kappa (u_2 - u_1), \qquad
    I_t = \frac{dt}{\tau}\, \frac{R\, I}{\kappa}
    \quad (\text{so } I = I_t\, \kappa \tau / (R\, dt)),

and :math:`v_{peak} = v_r + \kappa(\vartheta - u_1)`, :math:`v_{reset} = v_r + \kappa(u_r - u_1)`.
`biofit_parameters` gives these (``kappa`` is free: one unit of u in volts); the layer's derived
window (`biofit.neurons.qif.QIF.window`) is then this window, in volts (tested).

Example
-------
>>> stable, unstable = fixed_points(0.25, 0.0, 0.5)
>>> stable, unstable, multiplier(0.25, 0.0, 0.5, stable), multiplier(0.25, 0.0, 0.5, unstable)
(0.0, 0.5, 0.875, 1.125)
>>> derived_window(0.25, 0.0, 0.5, threshold=1.0)
(0.5, 1.125)
"""

from __future__ import annotations

import math

import numpy as np

PAPER = dict(a=0.25, u1=0.0, u2=0.5)  # the parameters of the paper's figure (its text gives no others)
THRESHOLD = 1.0  # our choice: the paper's figure caption names no threshold


def _check(a: float, u1: float, u2: float) -> None:
    if not (a > 0 and u2 > u1):
        raise ValueError(f"the QIF map needs a > 0 and u2 > u1, got a = {a}, u1 = {u1}, u2 = {u2}")


def qif_map(u, a: float, u1: float, u2: float, current=0.0):
    """:math:`F(u) = u + a(u - u_1)(u - u_2) + I` (elementwise; no threshold, no reset)."""
    _check(a, u1, u2)
    u = np.asarray(u, dtype=np.float64)
    return u + a * (u - u1) * (u - u2) + current


def fixed_points(a: float, u1: float, u2: float, current: float = 0.0) -> tuple[float, float]:
    """``(stable, unstable)`` roots of :math:`F(u) = u`; ValueError above the rheobase."""
    _check(a, u1, u2)
    disc = (u2 - u1) ** 2 / 4.0 - current / a
    if disc < 0:
        raise ValueError(f"no fixed point: current {current} is above the rheobase {rheobase(a, u1, u2)}")
    mid = 0.5 * (u1 + u2)
    return mid - math.sqrt(disc), mid + math.sqrt(disc)


def multiplier(a: float, u1: float, u2: float, u: float) -> float:
    """:math:`F'(u) = 1 + a(2u - u_1 - u_2)`: a fixed point is stable iff its multiplier has modulus < 1."""
    _check(a, u1, u2)
    return 1.0 + a * (2.0 * u - u1 - u2)


def rheobase(a: float, u1: float, u2: float) -> float:
    """:math:`I^* = a(u_2 - u_1)^2/4`, the largest constant input with a fixed point."""
    _check(a, u1, u2)
    return a * (u2 - u1) ** 2 / 4.0


def derived_window(a: float, u1: float, u2: float, threshold: float = THRESHOLD) -> tuple[float, float]:
    """The surrogate window :math:`[u_2, F(\\vartheta)]` (module docstring); needs threshold > u2."""
    _check(a, u1, u2)
    if not threshold > u2:
        raise ValueError(f"the threshold {threshold} must lie above the unstable fixed point u2 = {u2}")
    return u2, float(qif_map(threshold, a, u1, u2))


def biofit_parameters(a: float, u1: float, u2: float, threshold: float = THRESHOLD, dt: float = 1e-3,
                      kappa: float = 0.03, v_rest: float = -0.07, u_reset: float | None = None,
                      R: float = 1e8) -> dict:
    """Parameters of `biofit.neurons.QIF` (SI) whose Euler step of ``dt`` is the paper's map, with
    one unit of u = ``kappa`` volts (module docstring); ``u_reset`` defaults to ``u1``. Also
    ``"current_per_unit"``: the current (A) that is one unit of the map's input :math:`I_t`."""
    _check(a, u1, u2)
    eps = a * (u2 - u1)
    u_reset = u1 if u_reset is None else u_reset
    tau = dt / eps
    return dict(tau_mem=tau, R=R, v_rest=v_rest, delta_v=kappa * (u2 - u1),
                v_peak=v_rest + kappa * (threshold - u1), v_reset=v_rest + kappa * (u_reset - u1), t_ref=0.0,
                current_per_unit=kappa * tau / (R * dt))


def to_units(v, v_rest: float, kappa: float, u1: float) -> np.ndarray:
    """Membrane potentials (V) of the biofit layer in the map's units: :math:`u = u_1 + (v - v_r)/\\kappa`."""
    return u1 + (np.asarray(v, dtype=np.float64) - v_rest) / kappa
