r"""A model's Brian2 equations as the symbolic pieces of one clock-driven step (`StepDefinition`).

Brian2 does the mathematics: its equation parser reads the model (`brian2.Equations`, with the
parameters declared ``(constant)`` as the reference backend declares them), its state updater for
the model's ``method`` (``exact``, ``euler``, ``rk2``, ``rk4``, ``heun``, ``milstein``,
``exponential_euler``) writes the *abstract code* of one step -- the statements its numpy target
would run -- and `brian2.parsing.sympytools.str_to_sympy` turns every expression into SymPy. This
module collects the result; `biofit.neurons.torchgen` writes the torch code from it.

What the step holds, per model (`StepDefinition`):

* ``updates``: variable -> SymPy expression of its value after the step, written in the old state,
  the held inputs, the parameters and ``dt`` (the abstract code's helper variables substituted);
* ``affine``: when every update is affine in the state, the held inputs and the noise -- the case
  of every ``exact`` (linear) model and of linear models under any explicit method -- the
  coefficients of :math:`x_i' = b_i + \sum_k C_{ik} u_k + \sum_j M_{ij} x_j`, each a function of the
  parameters and ``dt`` only (the torch step then evaluates the input terms for all steps at once
  and one product per non-zero :math:`M_{ij}` per step);
* ``threshold``: the argument whose sign decides a spike: ``lhs - rhs`` of ``lhs > rhs`` (the
  surrogate acts on it), or, for Brian2's escape-noise form ``rand() < p``, the probability ``p``;
* ``resets``: the reset statements in order, ``(variable, operator, expression)``;
* ``refractory``: the refractory period (an expression of the parameters, s) and the variables
  frozen during it (flag ``(unless refractory)``); Brian2's rule is applied by
  `biofit.neurons.refractory`.

Refractoriness is not left to the state updater: the equations go to it without the
``(unless refractory)`` flag, and the frozen variables keep their old value where a neuron is
refractory -- what Brian2's ``not_refractory`` factor does to them.

Unsupported (a ValueError says which): time-dependent equations (``t``), refractory conditions,
``lastspike``/``not_refractory`` in user expressions, thresholds other than one comparison.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import sympy

from biofit.models.base import NeuronModel

NOISE_PREFIX = "_noise_"
_NOT_SMOOTH = ("floor", "ceiling", "ceil", "int_", "sign", "Abs", "clip", "Min", "Max", "Piecewise")
_RESERVED = ("t", "lastspike", "not_refractory", "i", "N")


@dataclass(frozen=True)
class Affine:
    """Coefficients of an affine step: ``x_i' = bias[i] + sum_k gain[i][k] u_k + sum_j coupling[i][j] x_j``.

    Each value is a SymPy expression of the parameters and ``dt``; absent keys are zero. Keys:
    ``bias[var]``, ``gain[var][input or noise]``, ``coupling[var][state var]``.
    """

    bias: dict
    gain: dict
    coupling: dict


@dataclass(frozen=True)
class StepDefinition:
    """The symbolic step of a model (see the module docstring)."""

    model: NeuronModel
    variables: tuple[str, ...]  # every state variable, the model's `state` first
    parameters: tuple[str, ...]
    held_inputs: tuple[str, ...]
    jump_inputs: tuple[str, ...]
    noise: tuple[str, ...]  # noise symbols of the update (one standard normal per step each)
    updates: dict  # var -> SymPy expression
    affine: Affine | None
    threshold_kind: str  # "strict", "inclusive" or "escape"
    threshold: sympy.Expr  # lhs - rhs, or the firing probability for "escape"
    threshold_parts: tuple  # (lhs, rhs) for comparisons, () for escape
    resets: tuple  # ((var, op, SymPy expression), ...)
    refractory: sympy.Expr | None  # seconds; None: never refractory
    frozen: frozenset
    initial: dict  # var -> SymPy expression of the parameters
    units: dict  # unit and constant names -> SI float used in expressions
    abstract_code: str  # Brian2's abstract code, for inspection


def _namespace() -> dict:
    from brian2.core.namespace import DEFAULT_CONSTANTS, DEFAULT_UNITS

    values = {name: float(unit) for name, unit in DEFAULT_UNITS.items()}
    values.update({name: float(c.value) for name, c in DEFAULT_CONSTANTS.items()})
    return values


def brian2_equations(model: NeuronModel, keep_flags: bool = True):
    """The model's `brian2.Equations` with parameters and held inputs declared (SI base units).

    ``keep_flags=False`` drops the ``(unless refractory)`` flags (see the module docstring).
    """
    from brian2 import Equations
    from brian2.equations.equations import SingleEquation

    declarations = [f"{p.name} : {p.unit} (constant)" for p in model.parameters]
    declarations += [f"{name} : {model.input_units[name]}" for name in model.held_inputs]
    try:
        eqs = Equations("\n".join([model.equations, *declarations]))
    except Exception as exc:  # Brian2 raises EquationError, SyntaxError, ValueError, ...
        raise ValueError(f"model {model.name!r}: Brian2 cannot parse the equations: {exc}") from None
    if keep_flags:
        return eqs
    return Equations([
        SingleEquation(e.type, e.varname, e.dim, e.var_type, e.expr,
                       [f for f in e.flags if f != "unless refractory"])
        for e in eqs.values()
    ])


def _sympy(code: str, what: str, model: NeuronModel) -> sympy.Expr:
    from brian2.parsing.sympytools import str_to_sympy

    try:
        return str_to_sympy(code)
    except Exception as exc:
        raise ValueError(f"model {model.name!r}: cannot parse {what} {code!r}: {exc}") from None


def _number_noise(code: str) -> tuple[str, tuple[str, ...]]:
    """Replace each ``randn()`` of the abstract code by its own symbol ``_noise_<k>``."""
    names: list[str] = []

    def fresh(_match) -> str:
        names.append(f"{NOISE_PREFIX}{len(names)}")
        return names[-1]

    return re.sub(r"\brandn\(\s*\)", fresh, code), tuple(names)


def _abstract_code(model: NeuronModel, eqs) -> str:
    from brian2.stateupdaters.base import StateUpdateMethod

    try:
        return StateUpdateMethod.apply_stateupdater(eqs, {}, method=model.method)
    except Exception as exc:
        raise ValueError(
            f"model {model.name!r}: Brian2's state updater {model.method!r} cannot integrate the "
            f"equations: {exc}"
        ) from None


def _updates(model: NeuronModel, code: str, variables: tuple[str, ...]) -> dict:
    """Run the abstract code symbolically: var -> its new value in terms of the old state."""
    from brian2.parsing.statements import parse_statement

    known: dict = {}
    new: dict = {}
    for line in code.splitlines():
        if not line.strip():
            continue
        var, op, expr, _ = parse_statement(line)
        value = _sympy(expr, "abstract code", model).xreplace(known)
        if op != "=":
            raise ValueError(f"model {model.name!r}: unexpected abstract code line {line!r}")
        if var in variables:
            new[var] = value
        else:
            known[sympy.Symbol(var, real=True)] = value
    return new


def _affine(updates: dict, variables: tuple[str, ...], inputs: tuple[str, ...]) -> Affine | None:
    """The coefficients of an affine step (module docstring), or None if the step is not affine."""
    symbols = {name: sympy.Symbol(name, real=True) for name in (*variables, *inputs)}
    unknowns = set(symbols.values())
    bias, gain, coupling = {}, {}, {}
    for var, expr in updates.items():
        if any(type(f).__name__ in _NOT_SMOOTH for f in expr.atoms(sympy.Function)) or expr.atoms(
            sympy.Piecewise
        ):
            return None
        gain[var], coupling[var] = {}, {}
        for name, sym in symbols.items():
            c = sympy.diff(expr, sym)
            if c.free_symbols & unknowns:
                return None
            if c != 0:
                (coupling if name in variables else gain)[var][name] = c
        b = expr.xreplace({s: 0 for s in unknowns})
        if b != 0:
            bias[var] = b
    return Affine(bias, gain, coupling)


class Regularized(sympy.Function):
    r"""``Regularized(e, p, q)``: `e`, a constant with a removable singularity at ``p = q``.

    Brian2's exact solution of coupled linear equations divides by differences of parameters
    (``lif_syn``: :math:`1/(\tau_{mem} - \tau_{syn})`), where it is 0/0 although the propagator
    is smooth. The torch code evaluates `e` as written where :math:`|p - q| \ge h|q|`
    (:math:`h = 10^{-5}`; rounding error there at most ~ :math:`\epsilon/h \approx 2\cdot 10^{-11}`
    relative) and, closer to the singularity, interpolates linearly between `e` at
    :math:`q \pm h|q|` (error :math:`O(h^2)`), so values and gradients stay finite and continuous.
    """

    nargs = 3


def _regularize(expr: sympy.Expr, parameters: set) -> sympy.Expr:
    """`expr` with each denominator factor ``p - q`` (two parameters) made safe (`Regularized`)."""
    _, den = sympy.fraction(sympy.together(expr))
    for factor, _power in sympy.factor_list(den)[1]:
        terms = sympy.Add.make_args(factor)
        symbols = [t.as_coeff_Mul()[1] for t in terms]
        signs = sorted(t.as_coeff_Mul()[0] for t in terms)
        if len(terms) == 2 and signs == [-1, 1] and all(isinstance(x, sympy.Symbol) and x.name in parameters for x in symbols):
            positive = next(t for t in terms if t.as_coeff_Mul()[0] == 1)
            p = positive.as_coeff_Mul()[1]
            q = next(x for x in symbols if x != p)
            expr = Regularized(expr, p, q)
    return expr


def _comparison(model: NeuronModel) -> tuple[str, sympy.Expr, tuple]:
    """Threshold kind, argument, and (lhs, rhs) (module docstring)."""
    cond = _sympy(model.threshold, "threshold", model)
    rel = {sympy.StrictGreaterThan: "strict", sympy.GreaterThan: "inclusive",
           sympy.StrictLessThan: "strict", sympy.LessThan: "inclusive"}
    kind = rel.get(type(cond))
    if kind is None:
        raise ValueError(
            f"model {model.name!r}: the threshold must be one comparison (e.g. 'v > v_th' or "
            f"'rand() < p'), got {model.threshold!r}"
        )
    lhs, rhs = cond.lhs, cond.rhs
    if isinstance(cond, (sympy.StrictLessThan, sympy.LessThan)):
        lhs, rhs = rhs, lhs  # a < b  <=>  b > a
    rand = [f for f in cond.atoms(sympy.Function) if type(f).__name__ == "rand"]
    if rand:
        if kind != "strict" or rhs != rand[0] or rand[0] in lhs.atoms(sympy.Function):
            raise ValueError(
                f"model {model.name!r}: a stochastic threshold must read 'rand() < p' with rand() "
                f"once, got {model.threshold!r}"
            )
        return "escape", lhs, ()
    return kind, lhs - rhs, (lhs, rhs)


def _resets(model: NeuronModel, variables: tuple[str, ...]) -> tuple:
    from brian2.parsing.statements import parse_statement

    out = []
    for line in re.split(r"[;\n]", model.reset):
        if not line.strip():
            continue
        var, op, expr, _ = parse_statement(line.strip())
        if var not in variables:
            raise ValueError(f"model {model.name!r}: reset {line.strip()!r} assigns {var!r}, not a state variable")
        if op not in ("=", "+=", "-=", "*=", "/="):
            raise ValueError(f"model {model.name!r}: reset operator {op!r} in {line.strip()!r} is not supported")
        out.append((var, op, _sympy(expr, "reset", model)))
    return tuple(out)


def _check_names(model: NeuronModel, exprs, allowed: set) -> None:
    for expr in exprs:
        names = {s.name for s in expr.free_symbols}
        reserved = sorted(names & set(_RESERVED))
        if reserved:
            raise ValueError(
                f"model {model.name!r}: the torch backend does not support {reserved} in the "
                f"equations, threshold or reset"
            )
        unknown = sorted(names - allowed)
        if unknown:
            raise ValueError(f"model {model.name!r}: undeclared name(s) {unknown}")


def _subexpressions(model: NeuronModel, eqs) -> dict:
    """Subexpression symbol -> its SymPy expression (for thresholds and resets; Brian2's state
    updater substitutes them in the equations itself)."""
    return {sympy.Symbol(name, real=True): _sympy(eqs[name].expr.code, f"subexpression {name}", model)
            for name in eqs.subexpr_names}


def _expand(expr: sympy.Expr, subexpressions: dict) -> sympy.Expr:
    """`expr` with subexpressions (which may use each other) substituted until none is left."""
    for _ in range(len(subexpressions) + 1):
        if not expr.free_symbols & set(subexpressions):
            return expr
        expr = expr.xreplace(subexpressions)
    raise ValueError(f"circular subexpressions in {expr}")


def _substitute_units(expr: sympy.Expr, units: dict) -> sympy.Expr:
    table = {s: sympy.Float(units[s.name]) for s in expr.free_symbols if s.name in units}
    return expr.xreplace(table) if table else expr


@functools.lru_cache(maxsize=64)
def step_definition(model: NeuronModel) -> StepDefinition:
    """The symbolic step of `model` (cached per model; the SymPy work is done once per process)."""
    eqs = brian2_equations(model, keep_flags=True)
    diff_vars = tuple(sorted(eqs.diff_eq_names))
    jump_only = tuple(
        name for name in sorted(eqs.parameter_names)
        if name not in model.parameter_names and name not in model.held_inputs
    )
    variables = tuple(dict.fromkeys([*model.state, *diff_vars, *jump_only]))
    missing = [name for name in model.state if name not in variables]
    if missing:
        raise ValueError(f"model {model.name!r}: state {missing} is not a variable of the equations")
    frozen = frozenset(e.varname for e in eqs.values() if "unless refractory" in e.flags)
    code, noise = _number_noise(_abstract_code(model, brian2_equations(model, keep_flags=False)))
    declared = {*model.parameter_names, *variables, *model.held_inputs, "dt"}
    units = {name: value for name, value in _namespace().items() if name not in declared}
    updates = {
        var: _substitute_units(expr, units)
        for var, expr in _updates(model, code, diff_vars).items()
    }
    subexpressions = _subexpressions(model, eqs)
    kind, threshold, parts = _comparison(model)
    threshold = _substitute_units(_expand(threshold, subexpressions), units)
    parts = tuple(_substitute_units(_expand(p, subexpressions), units) for p in parts)
    resets = tuple((v, op, _substitute_units(_expand(e, subexpressions), units))
                   for v, op, e in _resets(model, variables))
    refractory = _substitute_units(_sympy(model.refractory, "refractory period", model), units)
    if refractory.atoms(sympy.Rel) or refractory.atoms(sympy.Function):
        raise ValueError(
            f"model {model.name!r}: the torch backend supports a refractory period (an expression "
            f"of the parameters), not the condition {model.refractory!r}"
        )
    initial = {
        var: _substitute_units(_sympy(model.initial.get(var, "0"), "initial value", model), units)
        for var in variables
    }
    params = set(model.parameter_names)
    dynamic = set(variables) | set(model.held_inputs) | set(noise) | {"dt"} | params
    _check_names(model, [*updates.values(), threshold, *(e for _, _, e in resets)], dynamic)
    _check_names(model, [refractory, *initial.values()], params | {"dt"})
    jump_inputs = tuple(name for name in model.inputs if name in variables)
    affine = _affine(updates, variables, (*model.held_inputs, *noise))
    if affine is not None:
        safe = functools.partial(_regularize, parameters=params)
        affine = Affine({v: safe(e) for v, e in affine.bias.items()},
                        {v: {k: safe(e) for k, e in g.items()} for v, g in affine.gain.items()},
                        {v: {k: safe(e) for k, e in c.items()} for v, c in affine.coupling.items()})
    return StepDefinition(
        model=model,
        variables=variables,
        parameters=model.parameter_names,
        held_inputs=model.held_inputs,
        jump_inputs=jump_inputs,
        noise=noise,
        updates=updates,
        affine=affine,
        threshold_kind=kind,
        threshold=threshold,
        threshold_parts=parts,
        resets=resets,
        refractory=None if refractory == 0 else refractory,
        frozen=frozen,
        initial=initial,
        units=units,
        abstract_code=code,
    )
