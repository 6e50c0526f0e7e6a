"""A sampled injected current as a Brian2 `Function`: ``I_drive(t, i)`` [A], piecewise constant.

``I_drive(t, i) = values[k, i]`` for ``t`` in ``[k*dt, (k+1)*dt)`` (the last sample is held past the
end), exactly like a 2-D `brian2.TimedArray` sampled at the simulation ``dt``. TimedArray writes the
array's shape and ``dt`` into its generated Cython code, so every new current length or neuron count
would cost a fresh compilation (~50 s here). This function reads them from a small ``layout`` array
at run time instead: the generated code is the same for every current, and Brian2's Cython cache
serves it after the first compilation.
"""

from __future__ import annotations

import numpy as np
from brian2 import Function, amp, check_units, second
from brian2.utils.caching import CacheKey

NAME = "I_drive"

_CYTHON_CODE = f"""
cdef double {NAME}(const double t, const int i):
    global _namespace{NAME}_values, _namespace{NAME}_layout
    cdef double step = _namespace{NAME}_layout[0]
    cdef int n_rows = <int>_namespace{NAME}_layout[1]
    cdef int n_cols = <int>_namespace{NAME}_layout[2]
    cdef int k = <int>(t / step + 0.5)
    if k >= n_rows:
        k = n_rows - 1
    return _namespace{NAME}_values[k * n_cols + i]
"""


def _row(t, dt: float, n_rows: int) -> np.ndarray:
    """Row index ``min(round(t/dt), n_rows - 1)`` (the rule of the Cython code below)."""
    return np.minimum((np.asarray(t) / dt + 0.5).astype(np.int64), n_rows - 1)


class SampledCurrent(Function, CacheKey):
    """``I_drive(t, i)`` returning ``values[k, i]`` amperes for ``k = round(t/dt)`` (see module doc).

    For Brian2's in-memory caches (state-updater derivation, code generation) two instances with
    the same ``dt`` are the same function whatever their values, as for `brian2.TimedArray`: the
    symbolic ``method="exact"`` solution (seconds of SymPy per model) is derived once per process.

    Parameters
    ----------
    values : float[T, N]
        Current [A] of each neuron at each step (finite; validated by the caller).
    dt : float
        Sampling step [s]; must equal the simulation step.
    """

    _cache_irrelevant_attributes = {"pyfunc", "implementations"}

    def __init__(self, values: np.ndarray, dt: float):
        values = np.ascontiguousarray(values, dtype=np.float64)
        n_rows, n_cols = values.shape
        self.dt = float(dt)

        @check_units(t=second, i=1, result=amp)
        def I_drive(t, i):
            return values[_row(t, dt, n_rows), i] * amp

        # The numpy target calls this one with unitless SI arrays (no unit checks in the loop).
        def unitless(t, i):
            return values[_row(t, dt, n_rows), i]

        unitless._arg_units = [second, 1]
        unitless._return_unit = amp

        super().__init__(I_drive)
        self.implementations.add_implementation("numpy", unitless)
        self.implementations.add_implementation(
            "cython",
            _CYTHON_CODE,
            namespace={
                f"{NAME}_values": values.ravel(),
                f"{NAME}_layout": np.array([dt, n_rows, n_cols], dtype=np.float64),
            },
            name=NAME,
        )

    def is_locally_constant(self, dt: float) -> bool:
        """Constant over a step when sampled at the simulation step (this allows ``method="exact"``)."""
        return abs(float(dt) - self.dt) <= 1e-9 * self.dt
