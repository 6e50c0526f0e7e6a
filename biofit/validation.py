"""Checks at the package boundary and the seed helpers, shared by every biofit package.

Each ``check_*`` function returns the validated value (converted: a float, an int, a contiguous
array) or raises ``ValueError`` / ``TypeError`` whose message names the argument, the bad value
and, for arrays, how many entries are bad and where the first one is. Signatures are
``check_x(value, name, ...)``; the neuron-layer checks (`check_dt`, `check_n_neurons`,
`check_current`) name their argument themselves.

Seeds: `numpy_generator` and `torch_generator` turn the ``seed`` argument every random function
takes (an int, a Generator, or None) into a Generator; equal int seeds give equal bits on CPU.
`renamed_arguments` keeps an old keyword name working, with a ``DeprecationWarning``.

Neither torch nor Brian2 is imported here at module level: numpy-only users never load torch,
and the torch checks import it when they run.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import numpy as np


def _real(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def check_positive(value, name: str) -> float:
    """``value`` as a float; TypeError unless a real number, ValueError unless finite and > 0."""
    number = _real(value, name)
    if not (math.isfinite(number) and number > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def check_nonnegative(value, name: str) -> float:
    """``value`` as a float; TypeError unless a real number, ValueError unless finite and >= 0."""
    number = _real(value, name)
    if not (math.isfinite(number) and number >= 0.0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def check_probability(value, name: str) -> float:
    """``value`` as a float in [0, 1]; TypeError unless a real number, ValueError otherwise (NaN too)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1], got {value!r}")
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {number}")
    return number


def check_positive_int(value, name: str, upper: int | None = None, upper_name: str = "") -> int:
    """``value`` as an int in ``[1, upper]``; ValueError for anything else (bools and floats too)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if upper is not None and value > upper:
        raise ValueError(f"{name} = {value} exceeds {upper_name} = {upper}")
    return int(value)


def check_bool(value, name: str) -> bool:
    """``value`` as a Python bool; TypeError for anything but a bool or numpy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def check_finite_array(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` unchanged if finite; ValueError counting the NaN/inf values and locating the first."""
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(k) for k in np.unravel_index(int(np.argmax(bad)), arr.shape))
        kinds = "NaN" if not np.isinf(arr).any() else "NaN/inf"
        raise ValueError(f"{name} has {int(bad.sum())} {kinds} values (first at index {first})")
    return arr


def _index(idx) -> str:
    idx = tuple(int(i) for i in idx)
    return str(idx[0]) if len(idx) == 1 else str(idx)


def _as_numpy(seq, name: str) -> np.ndarray:
    """str of '0'/'1' (checked here, uint8 result), list, numpy array or torch tensor -> numpy."""
    if isinstance(seq, str):
        codes = np.frombuffer(seq.encode("utf-32-le"), dtype="<u4")
        bad = np.flatnonzero((codes != ord("0")) & (codes != ord("1")))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{name} has {bad.size} characters other than '0' and '1' "
                             f"(first: {seq[i]!r} at index {i})")
        return (codes - ord("0")).astype(np.uint8)
    # torch is recognised by its module name so that numpy-only users never import it.
    if type(seq).__module__.split(".")[0] == "torch" and hasattr(seq, "detach"):
        seq = seq.detach().cpu()
        if str(seq.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            seq = seq.float()
        return seq.numpy()
    try:
        return np.asarray(seq)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} is not a rectangular array: {err}") from None


def check_binary_array(seq, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """``seq`` as a C-contiguous ``uint8`` array of 0s and 1s with ``ndim`` (or one of several) dims.

    Accepted: a str of '0'/'1' (1-D), bool arrays, integer or float arrays holding only 0 and 1,
    nested lists of those, torch tensors (any device). NaN, other values, other ranks and other
    dtypes raise, naming the first offending value and its index.
    """
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    arr = _as_numpy(seq, name)
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
        raise ValueError(f"{name} has {int(bad.sum())} non-binary values (first: {arr[first].item()!r} "
                         f"at index {_index(first)}); expected only 0 and 1")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def check_spike_tensor(spikes, name: str, ndim: int, dtype):
    """``spikes`` as a ``dtype`` tensor after checking that it is ``ndim``-D and holds only 0/1.

    Accepts bool or numeric tensors/arrays (kept on their device); raises ``ValueError`` naming the
    first value that is not 0 or 1 (a rate or a membrane potential passed by mistake).
    """
    import torch

    if not isinstance(spikes, torch.Tensor):
        spikes = torch.as_tensor(np.asarray(spikes), device="cpu")  # numpy lives on the CPU
    if spikes.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(spikes.shape)}")
    if spikes.dtype != torch.bool:
        bad = ~((spikes == 0) | (spikes == 1))
        if bool(bad.any()):
            idx = tuple(int(i) for i in torch.nonzero(bad)[0])
            raise ValueError(f"{name} must hold spikes (0/1 or bool); found {int(bad.sum())} other "
                             f"values, first {spikes[idx].item()!r} at index {idx}")
    return spikes.to(dtype)


def check_finite_tensor(values, name: str):
    """``values`` unchanged if finite; ValueError naming the number of NaN/inf and the first index."""
    import torch

    bad = ~torch.isfinite(values)
    if bool(bad.any()):
        idx = tuple(int(i) for i in torch.nonzero(bad)[0])
        raise ValueError(f"{name} has {int(bad.sum())} non-finite values (first at index {idx})")
    return values


def check_dt(dt: object) -> float:
    """`dt` (seconds) as a float; ValueError unless finite and > 0."""
    try:
        value = float(dt)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"dt must be a number of seconds, got {dt!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"dt must be a finite time step > 0 s, got {value!r}")
    return value


def check_n_neurons(n_neurons: object) -> int:
    """`n_neurons` as an int; ValueError unless a positive integer."""
    if isinstance(n_neurons, bool) or not isinstance(n_neurons, int) or n_neurons < 1:
        raise ValueError(f"n_neurons must be a positive int, got {n_neurons!r}")
    return n_neurons


def check_current(current: object, n_neurons: int):
    """Check an input current ``float[T, B, N]`` (ampere) and return it.

    Raises TypeError for a non-tensor or non-floating tensor, ValueError for a wrong rank, a last
    dimension other than `n_neurons`, T == 0, or NaN/inf values (the count and first index named).
    """
    import torch

    if not isinstance(current, torch.Tensor):
        raise TypeError(f"current must be a torch.Tensor [T, B, N], got {type(current).__name__}")
    if not current.is_floating_point():
        raise TypeError(f"current must be a floating tensor, got dtype {current.dtype}")
    if current.dim() != 3:
        raise ValueError(
            f"current must have rank 3 [T, B, N], got rank {current.dim()} (shape {tuple(current.shape)})"
        )
    if current.shape[2] != n_neurons:
        raise ValueError(f"current has {current.shape[2]} neurons (last dim), layer has {n_neurons}")
    if current.shape[0] == 0:
        raise ValueError("current has T = 0 time steps")
    with torch.no_grad():  # one pass, no [T, B, N] temporary: a NaN or inf would propagate
        if bool(torch.isfinite(current.sum())):
            return current
    bad = ~torch.isfinite(current)
    if bool(bad.any()):
        n_nan = int(torch.isnan(current).sum())
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"current has {n_nan} NaN and {int(bad.sum()) - n_nan} infinite values "
            f"(first at [t, b, n] = {first})"
        )
    return current


def _is_int(seed) -> bool:
    return isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_))


def numpy_generator(seed) -> np.random.Generator:
    """A ``numpy.random.Generator``: ``seed`` itself, ``default_rng(seed)`` for an int, or a freshly
    seeded one for None. TypeError for anything else (a float, a bool, a torch Generator)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or _is_int(seed):
        return np.random.default_rng(None if seed is None else int(seed))
    raise TypeError(f"seed must be an int, a numpy.random.Generator or None; got {seed!r}")


def torch_generator(seed, device="cpu"):
    """A ``torch.Generator`` on ``device`` (default the CPU).

    ``seed``: a torch Generator (returned as is; it must be on ``device``), an int (``manual_seed``),
    a numpy Generator (seeded with one number drawn from it) or None (seeded from the OS).
    TypeError for anything else, ValueError for a torch Generator on another device.
    """
    import torch

    device = torch.device(device)
    if isinstance(seed, torch.Generator):
        if seed.device.type != device.type:
            where = "the CPU" if device.type == "cpu" else f"device {device}"
            raise ValueError(f"seed generator must be on {where}, got device {seed.device}")
        return seed
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    elif isinstance(seed, np.random.Generator):
        generator.manual_seed(int(seed.integers(0, 2**63 - 1)))
    elif _is_int(seed):
        generator.manual_seed(int(seed))
    else:
        raise TypeError(f"seed must be an int, a numpy or torch Generator, or None; got {seed!r}")
    return generator


def renamed_arguments(**renames: str):
    """Decorator: keyword ``old=...`` still works for ``new=...``, with a ``DeprecationWarning``.

    ``@renamed_arguments(dt_s="dt")`` on ``f(rate, dt)`` makes ``f(rate, dt_s=1e-3)`` warn that
    ``dt_s`` is deprecated and call ``f(rate, dt=1e-3)``; passing both names is a TypeError.

    >>> @renamed_arguments(dt_s="dt")
    ... def steps(duration, dt):
    ...     return round(duration / dt)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     steps(1.0, dt_s=1e-3), str(caught[0].message)
    (1000, "steps(): argument 'dt_s' is deprecated; use 'dt'")
    """

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {old!r} (deprecated) and {new!r}")
                    warnings.warn(f"{func.__name__}(): argument {old!r} is deprecated; use {new!r}",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate
