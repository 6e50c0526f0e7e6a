"""Input validation for :mod:`biofit.encoding.lzc`: binary sequences and rasters, variants, sizes.

Everything that reaches the numba kernels passes through here: a C-contiguous ``uint8`` array of
0s and 1s. Bad input raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) whose
message names the offending value and where it is.
"""

from __future__ import annotations

import numbers

import numpy as np

from biofit.encoding._lz_kernels import LZ76, LZ78

_VARIANTS = {"lz76": LZ76, "lz78": LZ78}


def variant_code(variant) -> int:
    """Kernel code of ``variant`` ('lz76' or 'lz78'); ValueError naming any other value."""
    if not isinstance(variant, str) or variant not in _VARIANTS:
        raise ValueError(f"unknown LZ variant {variant!r}; expected 'lz76' or 'lz78'")
    return _VARIANTS[variant]


def check_bool(value, name: str) -> bool:
    """``value`` as a Python bool; TypeError for anything but bool / numpy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def positive_int(value, name: str, upper: int | None = None, upper_name: str = "") -> int:
    """``value`` as an int in [1, upper]; ValueError naming the value otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a positive integer number of samples, got {value!r}")
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    if upper is not None and value > upper:
        raise ValueError(f"{name} = {value} exceeds {upper_name} = {upper}")
    return value


def _to_numpy(seq, name: str) -> np.ndarray:
    """str / list / numpy / torch -> numpy array; a str is checked here and becomes uint8 0/1."""
    if isinstance(seq, str):
        codes = np.frombuffer(seq.encode("utf-32-le"), dtype="<u4")
        bad = np.flatnonzero((codes != ord("0")) & (codes != ord("1")))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{name} has {bad.size} characters other than '0' and '1' "
                f"(first: {seq[i]!r} at index {i})"
            )
        return (codes - ord("0")).astype(np.uint8)
    # torch is recognised by its module name so that numpy-only users never import it.
    if type(seq).__module__.split(".")[0] == "torch" and hasattr(seq, "detach"):
        seq = seq.detach().cpu()
        if str(seq.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            seq = seq.float()
        return seq.numpy()
    try:
        arr = np.asarray(seq)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} is not a rectangular array: {err}") from None
    return arr


def binary_array(seq, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """Validate ``seq`` as a binary array of ``ndim`` dimensions (or one of several); return uint8.

    The result is C-contiguous.
    Accepted: a str of '0'/'1' (ndim 1 only), bool arrays, integer or float arrays holding only
    0 and 1 (floats: no NaN/inf), nested lists of those, torch tensors (any device).
    """
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    arr = _to_numpy(seq, name)
    if arr.ndim not in allowed:
        dims = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {dims}, got a {arr.ndim}-D array of shape {arr.shape}")
    kind = arr.dtype.kind
    if kind == "b":
        return np.ascontiguousarray(arr.view(np.uint8))
    if kind not in "iuf":
        raise TypeError(f"{name} must hold numbers 0/1 or booleans, got dtype {arr.dtype}")
    if kind == "f":
        nan = np.isnan(arr)
        if nan.any():
            first = np.unravel_index(int(np.argmax(nan)), arr.shape)
            raise ValueError(f"{name} has {int(nan.sum())} NaN values (first at index {_index(first)})")
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad)), arr.shape)
        raise ValueError(
            f"{name} has {int(bad.sum())} non-binary values "
            f"(first: {arr[first].item()!r} at index {_index(first)}); expected only 0 and 1"
        )
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _index(idx: tuple) -> str:
    return str(int(idx[0])) if len(idx) == 1 else str(tuple(int(i) for i in idx))
