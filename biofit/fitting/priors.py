"""The model part of a fit: which parameters are searched, over which ranges, and the rest fixed.

Search priors are not validity bounds: ``Parameter.bounds`` (`biofit.models`) are physical limits
every published set passes, a `Prior` is where a fit looks -- narrower, and on a log scale where a
parameter spans decades (time constants, conductances, capacitances). A prior must lie inside the
parameter's bounds. `DEFAULT_PRIORS` holds ranges for the built-in models (cortical neurons,
current clamp); a user model's parameters need explicit priors.

A `SearchSpace` maps the searched parameters to the unit cube ``[0, 1]^d`` (linear or log per
prior), the coordinates both optimizers work in.

Example
-------
>>> space = SearchSpace.build("adex", params=("C", "g_L"), fixed={"V_peak": 0.0})
>>> space.names
('C', 'g_L')
>>> [round(float(x), 3) for x in space.to_unit({"C": 200e-12, "g_L": 10e-9})]
[0.5, 0.5]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from biofit.models import get_model
from biofit.models.base import NeuronModel


@dataclass(frozen=True)
class Prior:
    """Search range ``[lo, hi]`` (SI) of one parameter; ``log``: uniform in log(value)."""

    lo: float
    hi: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            raise ValueError(f"a prior needs finite lo < hi, got [{self.lo}, {self.hi}]")
        if self.log and self.lo <= 0:
            raise ValueError(f"a log-scale prior needs lo > 0, got lo = {self.lo}")

    def to_unit(self, value: float) -> float:
        if self.log:
            return (math.log(value) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        return (value - self.lo) / (self.hi - self.lo)

    def from_unit(self, u):
        u = np.clip(u, 0.0, 1.0)
        if self.log:
            return np.exp(np.log(self.lo) + u * (np.log(self.hi) - np.log(self.lo)))
        return self.lo + u * (self.hi - self.lo)


def _p(lo, hi, log=False):
    return Prior(lo, hi, log)


# Search ranges for cortical neurons in current clamp (SI units).
DEFAULT_PRIORS: dict[str, dict[str, Prior]] = {
    "lif": {"tau_mem": _p(2e-3, 0.1, True), "R": _p(2e7, 2e9, True), "v_rest": _p(-0.085, -0.05),
            "v_reset": _p(-0.085, -0.04), "v_th": _p(-0.06, -0.03)},
    "alif": {"tau_mem": _p(2e-3, 0.1, True), "R": _p(2e7, 2e9, True), "v_rest": _p(-0.085, -0.05),
             "v_reset": _p(-0.085, -0.04), "v_th": _p(-0.06, -0.03), "tau_adapt": _p(0.01, 2.0, True),
             "beta": _p(0.0, 0.02)},
    "adex": {"C": _p(20e-12, 2e-9, True), "g_L": _p(1e-9, 100e-9, True), "E_L": _p(-0.085, -0.05),
             "V_T": _p(-0.065, -0.035), "Delta_T": _p(0.2e-3, 6e-3, True), "a": _p(-15e-9, 15e-9),
             "tau_w": _p(10e-3, 1.0, True), "b": _p(0.0, 300e-12), "V_reset": _p(-0.08, -0.035)},
    "qif": {"tau_mem": _p(2e-3, 0.1, True), "R": _p(2e7, 2e9, True), "v_rest": _p(-0.085, -0.05),
            "delta_v": _p(2e-3, 40e-3, True), "v_reset": _p(-0.085, -0.04)},
}
DEFAULT_FITTED = {name: tuple(priors) for name, priors in DEFAULT_PRIORS.items()}


@dataclass(frozen=True)
class SearchSpace:
    """A model, the parameters a fit searches (with priors) and the fixed values of the others.

    Build it with `SearchSpace.build`, which checks names and that every prior lies within the
    parameter's validity bounds, before any simulation runs.
    """

    model: NeuronModel
    priors: dict = field(default_factory=dict)  # name -> Prior, in search order
    fixed: dict = field(default_factory=dict)  # name -> SI value, every other parameter

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.priors)

    @classmethod
    def build(cls, model, params: Iterable[str] | None = None, priors: Mapping[str, object] | None = None,
              fixed: Mapping[str, float] | None = None) -> SearchSpace:
        """`model` (name or `NeuronModel`); `params`: names to fit (default: those with a default
        prior); `priors`: name -> `Prior` or ``(lo, hi[, log])`` overriding the defaults;
        `fixed`: SI values of parameters not fitted (the others keep the model's defaults)."""
        spec = get_model(model) if isinstance(model, str) else model
        if not isinstance(spec, NeuronModel):
            raise TypeError(f"model must be a model name or a NeuronModel, got {type(model).__name__}")
        defaults = DEFAULT_PRIORS.get(spec.name, {}) if get_model_or_none(spec.name) == spec else {}
        given = {k: v if isinstance(v, Prior) else Prior(*v) for k, v in dict(priors or {}).items()}
        names = tuple(params) if params is not None else tuple(defaults) + tuple(k for k in given if k not in defaults)
        if not names:
            raise ValueError(f"no parameters to fit for model {spec.name!r}: pass params=(...) and priors")
        for name in (*names, *given, *dict(fixed or {})):
            spec.parameter(name)  # ValueError naming the known parameters
        chosen = {}
        for name in names:
            prior = given.get(name, defaults.get(name))
            if prior is None:
                raise ValueError(f"{spec.name}.{name} has no default search prior: give priors={{{name!r}: (lo, hi)}}")
            lo, hi = spec.parameter(name).bounds
            if prior.lo < lo or prior.hi > hi:
                raise ValueError(f"prior [{prior.lo}, {prior.hi}] of {spec.name}.{name} is outside its "
                                 f"validity bounds [{lo}, {hi}]")
            chosen[name] = prior
        overlap = sorted(set(names) & set(fixed or {}))
        if overlap:
            raise ValueError(f"parameters {overlap} are both fitted and fixed")
        values = spec.validate(dict(fixed or {}))
        return cls(spec, chosen, {k: float(v) for k, v in values.items() if k not in chosen})

    def to_unit(self, values: Mapping[str, float]) -> np.ndarray:
        """Unit-cube coordinates of the searched parameters' SI `values`."""
        return np.array([self.priors[n].to_unit(float(values[n])) for n in self.names])

    def from_unit(self, u) -> dict[str, np.ndarray]:
        """SI values of the searched parameters for unit coordinates ``u: float[..., d]``."""
        u = np.asarray(u, dtype=np.float64)
        return {n: self.priors[n].from_unit(u[..., i]) for i, n in enumerate(self.names)}

    def full(self, values: Mapping[str, object]) -> dict[str, object]:
        """Every parameter of the model: the fixed ones and `values` of the searched ones."""
        return {**self.fixed, **{k: values[k] for k in self.names}}

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` points ``float[n, d]`` drawn uniformly from the unit cube."""
        return rng.random((n, len(self.names)))


def get_model_or_none(name: str) -> NeuronModel | None:
    """The built-in model called `name`, or None (a user model may reuse no built-in name)."""
    try:
        return get_model(name)
    except ValueError:
        return None
