r"""Torch source code for a `biofit.neurons.codegen.StepDefinition`, compiled once per model.

The symbolic step is written out as plain Python over torch tensors, in four functions that split
the work by what each value depends on (the loop-invariant hoisting Brian2's own code generator
does, one level further):

``constants(p, dt)``
    everything that depends on the parameters and ``dt`` only (``exp(-dt/tau_mem)``, ...): once
    per call, in float64, from ``p`` (name -> float64 tensor ``[N]`` or ``[]``); returns a tuple
    ``k``;
``drive(u, k)``
    everything that depends on the held inputs and the noise but not on the state: once per call
    for all T steps at once (``u``: name -> ``[T, B, N]``); returns a tuple ``d`` of ``[T, B, N]``;
``step(s, d, k)``
    the new value of every state variable from the old state ``s`` (a tuple in the order of
    ``StepDefinition.variables``) and the step's slices of ``d``;
``threshold(s, d, k)``, ``reset(s, k, f)``, ``initial(k)``, ``refractory(k)``
    the threshold's argument on the updated state; the reset statements applied in order where
    ``f`` (bool, the neurons that fired) is true; the initial state; the refractory period (s).

Affine steps (`codegen.Affine`) are written in a fixed canonical order, ``x_i' = d_i + M_i0 x_0 +
M_i1 x_1 + ...`` with ``d_i = b_i + C_i0 u_0 + ...`` (products then sums, never fused
multiply-adds, so every element is rounded the same way whatever the vector width): the
hand-optimised fast paths (`biofit.neurons.fused`, `biofit.neurons.block_alif`) take the same
``k`` and ``d`` and repeat that arithmetic, which is what makes them equal to this step bit for
bit. Other steps are written node by node from the SymPy tree, common subexpressions once.

An ``exp`` of something that changes in time is capped at ``exp(EXP_CAP)``: a membrane far above
an exponential threshold (AdEx) would otherwise overflow float32 and give ``inf * 0 = NaN``
gradients; at the cap the step has crossed any threshold by far, so no spike changes. Constants
are not capped (a non-finite constant raises ValueError in the layer).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import sympy
import torch

from biofit.neurons.codegen import Regularized, StepDefinition

EXP_CAP = 50.0
SINGULAR_H = 1e-5  # relative half-width of the interpolated band around a removable singularity
_CONST, _DRIVE, _STEP = 0, 1, 2


def _t(x):
    return x if isinstance(x, torch.Tensor) else torch.tensor(float(x), dtype=torch.float64)


def _capped_exp(x):
    return torch.exp(torch.clamp(x, max=EXP_CAP))


def _exprel(x):
    x = _t(x)
    small = x.abs() < 1e-8
    safe = torch.where(small, torch.ones_like(x), x)
    return torch.where(small, 1.0 + 0.5 * x, torch.expm1(safe) / safe)


def _clip(x, lo, hi):
    x = _t(x)
    lo, hi = (torch.as_tensor(b, dtype=x.dtype, device=x.device) for b in (lo, hi))
    return torch.minimum(torch.maximum(x, lo), hi)


def _int(x):
    x = _t(x)
    return x if x.dtype == torch.bool else torch.trunc(x)


def _unary(fn):
    return lambda x: fn(_t(x))


_FUNCTIONS = {
    "exp": _unary(torch.exp), "log": _unary(torch.log), "log10": _unary(torch.log10),
    "expm1": _unary(torch.expm1), "log1p": _unary(torch.log1p), "sqrt": _unary(torch.sqrt),
    "sin": _unary(torch.sin), "cos": _unary(torch.cos), "tan": _unary(torch.tan),
    "sinh": _unary(torch.sinh), "cosh": _unary(torch.cosh), "tanh": _unary(torch.tanh),
    "asin": _unary(torch.asin), "acos": _unary(torch.acos), "atan": _unary(torch.atan),
    "arcsin": _unary(torch.asin), "arccos": _unary(torch.acos), "arctan": _unary(torch.atan),
    "Abs": _unary(torch.abs), "sign": _unary(torch.sign), "floor": _unary(torch.floor),
    "ceiling": _unary(torch.ceil), "ceil": _unary(torch.ceil), "exprel": _exprel, "int_": _int,
}
_RELATIONS = {sympy.StrictGreaterThan: ">", sympy.GreaterThan: ">=", sympy.StrictLessThan: "<",
              sympy.LessThan: "<=", sympy.Equality: "==", sympy.Unequality: "!="}


@dataclass(frozen=True)
class AffineIndex:
    """Where the pieces of an affine step are: indices into ``k`` (constants) and ``d`` (drives).

    ``drive[var]``: index of ``d_var`` in ``d`` (None if the variable has no input term);
    ``bias[var]``/``gain[var][input]``/``coupling[var][other]``: indices into ``k``
    (None / absent where zero).
    """

    drive: dict
    bias: dict
    gain: dict
    coupling: dict


class _Scope:
    """One generated function: its level, its local lines and its memo of emitted nodes."""

    def __init__(self, level: int, state: dict | None = None):
        self.level, self.lines, self.memo = level, [], {}
        self.state = state or {}

    def new(self, code: str, prefix: str = "t") -> str:
        name = f"{prefix}{len(self.lines)}"
        self.lines.append(f"    {name} = {code}")
        return name


class _Writer:
    """Writes the generated module for one `StepDefinition` (module docstring)."""

    def __init__(self, step: StepDefinition):
        self.step = step
        self.kind = {name: _CONST for name in (*step.parameters, "dt")}
        self.kind.update({name: _DRIVE for name in (*step.held_inputs, *step.noise)})
        self.kind.update({name: _STEP for name in step.variables})
        self.pools = {_CONST: _Scope(_CONST), _DRIVE: _Scope(_DRIVE)}
        self.bound: dict[str, str] = {}  # names of substituted constants -> their code
        self.pool_names: dict = {_CONST: [], _DRIVE: []}

    # -- levels and references ------------------------------------------------------------
    def level(self, e) -> int:
        return max((self.kind[s.name] for s in e.free_symbols), default=_CONST)

    def ref(self, e, scope: _Scope) -> str:
        if isinstance(e, (sympy.Number, sympy.NumberSymbol)) or e in (sympy.true, sympy.false):
            return self.number(e)
        lv = self.level(e)
        if lv >= scope.level or lv == _CONST and scope.level == _CONST:
            return self.local(e, scope)
        return self.pooled(e, lv)

    def pooled(self, e, lv: int) -> str:
        """Reference (``k[i]`` or ``d[j]``) to `e` computed in the constant or drive function."""
        pool = self.pools[lv]
        name = self.local(e, pool)
        if not name.isidentifier():  # a bare parameter / input reference: give it a slot
            name = pool.memo[e] = pool.new(name, "c" if lv == _CONST else "e")
        if name not in self.pool_names[lv]:
            self.pool_names[lv].append(name)
        index = self.pool_names[lv].index(name)
        return f"{'k' if lv == _CONST else 'd'}[{index}]"

    @staticmethod
    def number(e) -> str:
        if e is sympy.true or e is sympy.false:
            return repr(bool(e))
        value = float(e)
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"

    # -- node emission ----------------------------------------------------------------------
    def local(self, e, scope: _Scope) -> str:
        if e in scope.memo:
            return scope.memo[e]
        code = self.node(e, scope)
        if isinstance(e, sympy.Symbol):
            name = code
        else:
            name = scope.new(code, {_CONST: "c", _DRIVE: "e", _STEP: "t"}[scope.level])
        scope.memo[e] = name
        return name

    def symbol(self, e, scope: _Scope) -> str:
        if e.name in self.bound:
            return self.bound[e.name]
        kind = self.kind.get(e.name)
        if kind is None:
            raise ValueError(f"model {self.step.model.name!r}: undeclared name {e.name!r}")
        if kind == _STEP:
            return scope.state[e.name]
        if e.name == "dt":
            return "dt"
        return f"{'p' if kind == _CONST else 'u'}[{e.name!r}]"

    def node(self, e, scope: _Scope) -> str:
        if isinstance(e, sympy.Symbol):
            return self.symbol(e, scope)
        if isinstance(e, (sympy.Number, sympy.NumberSymbol)):
            return self.number(e)
        if isinstance(e, sympy.Add):
            return self.add(e, scope)
        if isinstance(e, sympy.Mul):
            return self.mul(e, scope)
        if isinstance(e, sympy.Pow):
            return f"({self.ref(e.base, scope)} ** {self.ref(e.exp, scope)})"
        if type(e) in _RELATIONS:
            return f"({self.ref(e.lhs, scope)} {_RELATIONS[type(e)]} {self.ref(e.rhs, scope)})"
        if isinstance(e, (sympy.And, sympy.Or)):
            fn = "torch.logical_and" if isinstance(e, sympy.And) else "torch.logical_or"
            out = self.ref(e.args[0], scope)
            for arg in e.args[1:]:
                out = f"{fn}({out}, {self.ref(arg, scope)})"
            return out
        if isinstance(e, sympy.Not):
            return f"torch.logical_not({self.ref(e.args[0], scope)})"
        if isinstance(e, sympy.Function):
            return self.function(e, scope)
        raise ValueError(f"model {self.step.model.name!r}: cannot translate {e} ({type(e).__name__}) to torch")

    def regularized(self, e, scope: _Scope) -> str:
        """Code of `codegen.Regularized`: `e` away from ``p = q``, interpolated near it."""
        expr, p, q = e.args
        new = functools.partial(scope.new, prefix="c")
        q_ref, p_ref = self.ref(q, scope), self.ref(p, scope)
        half = new(f"{SINGULAR_H!r} * torch.abs(_t({q_ref}))")
        near = new(f"torch.abs(_t({p_ref}) - {q_ref}) < {half}")
        lo, hi = new(f"{q_ref} - {half}"), new(f"{q_ref} + {half}")
        safe = new(f"torch.where({near}, {hi}, {p_ref})")
        values = []
        for point in (safe, lo, hi):
            name = f"_sub{len(self.bound)}"
            self.bound[name] = point
            self.kind[name] = _CONST
            values.append(self.local(expr.xreplace({p: sympy.Symbol(name, real=True)}), scope))
        weight = new(f"(torch.where({near}, _t({p_ref}), {lo}) - {lo}) / (2.0 * {half})")
        return f"torch.where({near}, torch.lerp({values[1]}, {values[2]}, {weight}), {values[0]})"

    def function(self, e, scope: _Scope) -> str:
        if isinstance(e, Regularized):
            return self.regularized(e, scope)
        name = type(e).__name__
        args = [self.ref(a, scope) for a in e.args]
        if name == "clip":
            return f"_clip({args[0]}, {args[1]}, {args[2]})"
        if name == "exp" and scope.level != _CONST:
            return f"_capped_exp({args[0]})"
        if name not in _FUNCTIONS or len(args) != 1:
            raise ValueError(
                f"model {self.step.model.name!r}: the torch backend has no translation of the "
                f"function {name!r} (in {e})"
            )
        return f"_f[{name!r}]({args[0]})"

    def lower_group(self, args, scope: _Scope, combine):
        """Split `args` of a sum or product: one reference for those of lower level (numbers
        included), and the rest."""
        lower = [a for a in args if self.level(a) < scope.level]
        rest = [a for a in args if self.level(a) >= scope.level]
        if not lower:
            return None, rest
        group = lower[0] if len(lower) == 1 else combine(*lower)
        return group, rest

    def add(self, e, scope: _Scope) -> str:
        group, rest = self.lower_group(e.args, scope, sympy.Add)
        terms = [] if group is None else [("+", self.ref(group, scope))]
        for arg in rest:
            coeff, _ = arg.as_coeff_Mul()
            terms.append(("-", self.ref(-arg, scope)) if coeff < 0 else ("+", self.ref(arg, scope)))
        sign, out = terms[0]
        out = out if sign == "+" else f"(-{out})"
        for sign, term in terms[1:]:
            out = f"({out} {sign} {term})"
        return out

    def mul(self, e, scope: _Scope) -> str:
        group, local = self.lower_group(e.args, scope, sympy.Mul)
        negate = group == -1
        parts = [] if group is None or negate else [self.ref(group, scope)]
        den = []
        for f in local:
            if f == -1:
                negate = not negate
            elif isinstance(f, sympy.Pow) and f.exp.is_Number and f.exp < 0:
                den.append(f.base if f.exp == -1 else f.base ** (-f.exp))
            else:
                parts.append(self.ref(f, scope))
        out = parts[0] if parts else "1.0"
        for p in parts[1:]:
            out = f"({out} * {p})"
        for d in den:
            out = f"({out} / {self.ref(d, scope)})"
        return f"(-{out})" if negate else out

    # -- the generated functions ------------------------------------------------------------
    def const_index(self, e) -> int:
        return int(self.pooled(e, _CONST)[2:-1])

    def affine_step(self, scope: _Scope) -> tuple[list[str], AffineIndex]:
        st, aff = self.step, self.step.affine
        drive_pool = self.pools[_DRIVE]
        inputs = (*st.held_inputs, *st.noise)
        index = AffineIndex({}, {}, {}, {})
        outs = []
        for var in st.variables:
            if var not in st.updates:
                outs.append(scope.state[var])
                continue
            bias, gain = aff.bias.get(var), aff.gain.get(var, {})
            index.bias[var] = None if bias is None else self.const_index(bias)
            index.gain[var] = {name: self.const_index(gain[name]) for name in inputs if name in gain}
            index.coupling[var] = {o: self.const_index(c) for o, c in aff.coupling.get(var, {}).items()}
            parts = []
            if index.gain[var]:
                terms = [] if bias is None else [f"k[{index.bias[var]}]"]
                terms += [f"(k[{i}] * {self.ref(sympy.Symbol(name, real=True), drive_pool)})"
                          for name, i in index.gain[var].items()]
                name = drive_pool.new(_fold(terms), "e")
                self.pool_names[_DRIVE].append(name)
                index.drive[var] = len(self.pool_names[_DRIVE]) - 1
                parts.append(f"d[{index.drive[var]}]")
            else:
                index.drive[var] = None
                if bias is not None:
                    parts.append(f"k[{index.bias[var]}]")
            parts += [f"(k[{i}] * {scope.state[o]})" for o in st.variables
                      for o2, i in index.coupling[var].items() if o2 == o]
            outs.append(scope.new(_fold(parts) if parts else f"torch.zeros_like({scope.state[var]})"))
        return outs, index

    def write(self) -> tuple[str, AffineIndex | None]:
        st = self.step
        names = {v: f"s_{i}" for i, v in enumerate(st.variables)}
        unpack = f"    {', '.join(names.values())}, = s"
        step = _Scope(_STEP, dict(names))
        if st.affine is not None:
            outs, index = self.affine_step(step)
        else:
            index = None
            outs = [self.ref(st.updates[v], step) if v in st.updates else names[v] for v in st.variables]
        thr = _Scope(_STEP, dict(names))
        if st.threshold_kind == "escape":
            x = self.ref(st.threshold, thr)
            self.threshold_refs = ()
        else:
            self.threshold_refs = tuple(self.ref(part, thr) for part in st.threshold_parts)
            x = f"({self.threshold_refs[0]} - {self.threshold_refs[1]})"
        rst = _Scope(_STEP, dict(names))
        self.reset_refs = []
        for var, op, expr in st.resets:
            value = self.ref(expr, rst)
            self.reset_refs.append((var, op, value))
            if op != "=":
                value = f"({rst.state[var]} {op[0]} {value})"
            new = rst.new(f"torch.where(f, {value}, {rst.state[var]})", "r")
            rst.memo, rst.state[var] = {}, new
        init = [self.ref(st.initial[v], self.pools[_CONST]) for v in st.variables]
        init = [self.pooled(st.initial[v], _CONST) if not _is_literal(c) else c
                for v, c in zip(st.variables, init)]
        refr = "None" if st.refractory is None else self.pooled(st.refractory, _CONST)
        const, drive = self.pools[_CONST], self.pools[_DRIVE]
        src = [
            f"# generated by biofit.neurons.torchgen from the Brian2 model {st.model.name!r}",
            "def constants(p, dt):", *const.lines,
            f"    return ({''.join(n + ', ' for n in self.pool_names[_CONST])})",
            "def drive(u, k):", *drive.lines,
            f"    return ({''.join(n + ', ' for n in self.pool_names[_DRIVE])})",
            "def step(s, d, k):", unpack, *step.lines, f"    return ({''.join(o + ', ' for o in outs)})",
            "def threshold(s, d, k):", unpack, *thr.lines, f"    return {x}",
            "def reset(s, k, f):", unpack, *rst.lines,
            f"    return ({''.join(rst.state[v] + ', ' for v in st.variables)})",
            "def initial(k):", f"    return ({''.join(c + ', ' for c in init)})",
            "def refractory(k):", f"    return {refr}",
        ]
        return "\n".join(src) + "\n", index


def _fold(terms: list[str]) -> str:
    out = terms[0]
    for t in terms[1:]:
        out = f"({out} + {t})"
    return out


def _is_literal(code: str) -> bool:
    try:
        float(code)
    except ValueError:
        return code.startswith("float(")
    return True


@dataclass(frozen=True)
class GeneratedCode:
    """The compiled functions of one model (module docstring) and their source."""

    step: StepDefinition
    source: str
    affine: AffineIndex | None
    threshold_refs: tuple  # (lhs, rhs) as written in `source` ("s_0", "k[3]", ...); () for escape
    reset_refs: tuple  # ((variable, operator, value as written in `source`), ...)
    const_slots: dict  # SymPy expression -> its index in ``k``, for the expressions given a slot
    constants: object
    drive: object
    update: object
    threshold: object
    reset: object
    initial: object
    refractory: object


def generate(step: StepDefinition) -> GeneratedCode:
    """Write and compile the torch functions of `step`."""
    writer = _Writer(step)
    source, index = writer.write()
    namespace = {"torch": torch, "_t": _t, "_capped_exp": _capped_exp, "_clip": _clip, "_f": _FUNCTIONS}
    exec(compile(source, f"<biofit generated step of {step.model.name!r}>", "exec"), namespace)
    names = writer.pool_names[_CONST]
    slots = {e: names.index(n) for e, n in writer.pools[_CONST].memo.items() if n in names}
    return GeneratedCode(step, source, index, writer.threshold_refs, tuple(writer.reset_refs), slots,
                         namespace["constants"], namespace["drive"],
                         namespace["step"], namespace["threshold"], namespace["reset"],
                         namespace["initial"], namespace["refractory"])
