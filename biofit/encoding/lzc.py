r"""Lempel-Ziv complexity (LZC) of binary spike sequences: LZ76 and LZ78, one row or many.

Variants (name the variant everywhere; they disagree on almost every input):

* ``"lz76"`` -- Lempel & Ziv (1976), IEEE Trans. Inf. Theory 22, 75, as computed by Kaspar &
  Schuster (1987), Phys. Rev. A 36, 842: the number of components of the exhaustive-history
  parse (each component is the longest word that can be copied from an earlier start, the copy
  allowed to overlap the component, plus one new symbol; an incomplete last component counts).
  Equal to ``antropy.lziv_complexity`` on every non-empty binary input.
  ``'1001111011000010'`` -> 6 (1 / 0 / 01 / 1110 / 1100 / 0010).
* ``"lz78"`` -- Ziv & Lempel (1978) distinct-phrase parse with the convention of the
  ``lempel-ziv-complexity`` package (a trailing word already in the dictionary is not counted);
  equal to ``lempel_ziv_complexity.lempel_ziv_complexity`` on every input.
  ``'1001111011000010'`` -> 8 (1 / 0 / 01 / 11 / 10 / 110 / 00 / 010).

Both run in :math:`O(n)` time (suffix automaton for LZ76, trie for LZ78; the proofs are in
:mod:`biofit.encoding._lz_kernels`).

Normalisation (both variants, the same formula): :math:`c_{norm} = c(n) \log_2(n) / n`, base 2
for the binary alphabet. Every function here (and :class:`~biofit.encoding.features.LZCEncoder`)
returns :math:`c_{norm}` by default, ``normalize=True``; ``normalize=False`` gives the phrase
count :math:`c`, the value antropy and lempel-ziv-complexity return. Lempel & Ziv (1976) bound :math:`c(n) < n / ((1 - \epsilon_n) \log_2 n)`
with :math:`\epsilon_n \to 0`, so a random sequence scores about 1 (slightly above at finite
n); for a stationary ergodic source :math:`c_{norm}` tends to the entropy rate in bits per
symbol (Zhang et al. 2009, J. Math. Chem. 46, 1203), slowly: the bias decays only
logarithmically in n (at n = 1e6, +1.2 % for Bernoulli p = 0.5, -2.3 % for p = 0.1).
For the empty sequence :math:`c = 0` and :math:`c_{norm} = 0.0` by definition (antropy returns
:math:`c = 1` there and raises ValueError when normalising); for :math:`n = 1` the formula gives
:math:`c_{norm} = 0.0` since :math:`\log_2 1 = 0` (antropy raises ZeroDivisionError).

Input: a str of '0'/'1', a bool / int / float array (or list) holding only 0 and 1, or a torch
tensor (converted with ``.detach().cpu().numpy()``; torch itself is never imported here).

Example
-------
>>> from biofit.encoding.lzc import lempel_ziv_complexity
>>> lempel_ziv_complexity("1001111011000010", normalize=False)  # phrase count c
6
>>> lempel_ziv_complexity("1001111011000010", "lz78", normalize=False)
8
>>> lempel_ziv_complexity("1001111011000010")  # c log2(n) / n = 6 * 4 / 16
1.5
"""

from __future__ import annotations

import numpy as np

from biofit.encoding._lz_kernels import LZ76, LZ78, lz_counts_of_segments, work_buffer
from biofit.validation import check_binary_array, check_bool, check_positive_int

_VARIANTS = {"lz76": LZ76, "lz78": LZ78}

# The LZ76 automaton uses int32 indices and holds up to 2n + 1 states.
_MAX_LZ76_LENGTH = 2**30 - 1


def _variant_code(variant) -> int:
    """Kernel code of ``variant`` ('lz76' or 'lz78'); ValueError naming any other value."""
    if not isinstance(variant, str) or variant not in _VARIANTS:
        raise ValueError(f"unknown LZ variant {variant!r}; expected 'lz76' or 'lz78'")
    return _VARIANTS[variant]


def _counts(flat: np.ndarray, starts: np.ndarray, seg_len: int, code: int) -> np.ndarray:
    """int64 phrase counts of the segments ``flat[s : s + seg_len]`` for s in ``starts``."""
    if code == LZ76 and seg_len > _MAX_LZ76_LENGTH:
        raise ValueError(
            f"sequence length {seg_len} exceeds {_MAX_LZ76_LENGTH}, the longest the LZ76 "
            "suffix automaton (int32 indices) supports"
        )
    work = work_buffer(seg_len, code)
    return lz_counts_of_segments(flat, np.asarray(starts, dtype=np.int64), seg_len, code, work)


def _normalized(counts: np.ndarray, n: int) -> np.ndarray:
    """c * log2(n) / n as float64; 0.0 for n <= 1 (n = 1 is the formula's value, n = 0 by definition)."""
    if n <= 1:
        return np.zeros(counts.shape, dtype=np.float64)
    return counts * (np.log2(n) / n)


def lempel_ziv_complexity(seq, variant: str = "lz76", normalize: bool = True) -> int | float:
    """Lempel-Ziv complexity of one binary sequence.

    Parameters
    ----------
    seq : str of '0'/'1', or 1-D bool/int/float array, list or torch tensor of 0/1, shape [n]
    variant : "lz76" (Kaspar-Schuster, = antropy) or "lz78" (= lempel-ziv-complexity package)
    normalize : True (default): return c * log2(n) / n (module docstring for n <= 1);
        False: the phrase count c

    Returns
    -------
    float (normalised) or int (phrase count c)

    Cost: O(n) time; scratch memory 32 bytes per symbol for LZ76 (suffix automaton), 8 for LZ78.

    Example
    -------
    >>> lempel_ziv_complexity([1, 0, 1, 0, 1, 0, 1, 0, 1, 0], normalize=False)
    3
    >>> round(lempel_ziv_complexity([1, 0, 1, 0, 1, 0, 1, 0, 1, 0]), 3)  # 3 * log2(10) / 10
    0.997
    """
    code = _variant_code(variant)
    normalize = check_bool(normalize, "normalize")
    s = check_binary_array(seq, "seq", ndim=1)
    c = _counts(s, np.zeros(1, dtype=np.int64), s.size, code)
    return float(_normalized(c, s.size)[0]) if normalize else int(c[0])


def lzc_batch(X, variant: str = "lz76", normalize: bool = True) -> np.ndarray:
    """Lempel-Ziv complexity of every row of a binary raster, in one compiled loop.

    X : bool/int/float [n_rows, n_bins] of 0/1 (numpy, nested list or torch tensor)
    Returns float64[n_rows], c * log2(n_bins) / n_bins (default ``normalize=True``), or the
    int64[n_rows] counts c with ``normalize=False``.

    Example
    -------
    >>> lzc_batch([[1, 0, 0, 1], [0, 0, 0, 0]], normalize=False)
    array([3, 2])
    >>> lzc_batch([[1, 0, 0, 1], [0, 0, 0, 0]])  # c * log2(4) / 4
    array([1.5, 1. ])
    """
    code = _variant_code(variant)
    normalize = check_bool(normalize, "normalize")
    x = check_binary_array(X, "X", ndim=2)
    n_rows, n_bins = x.shape
    c = _counts(x.reshape(-1), np.arange(n_rows) * n_bins, n_bins, code)
    return _normalized(c, n_bins) if normalize else c


def coarse_grain(x, bin_width: int) -> np.ndarray:
    """OR-pool a binary raster in non-overlapping bins of ``bin_width`` samples along the last axis.

    A coarse bin is 1 if any of its samples is 1 (at least one spike), i.e. the binary raster one
    would record with bins ``bin_width`` times wider. The ``n_bins % bin_width`` trailing samples
    that do not fill a bin are dropped, so every coarse bin spans the same time.

    x : bool/int/float [n_bins] or [n_rows, n_bins] of 0/1; bin_width : int samples, 1..n_bins
    Returns bool[n_bins // bin_width] or bool[n_rows, n_bins // bin_width].

    Example
    -------
    >>> coarse_grain([0, 1, 0, 0, 1, 1, 1], 2).astype(int)
    array([1, 0, 1])
    """
    arr = check_binary_array(x, "x", ndim=(1, 2))
    n_bins = arr.shape[-1]
    w = check_positive_int(bin_width, "bin_width", upper=n_bins, upper_name="n_bins")
    m = n_bins // w
    return arr[..., : m * w].reshape(*arr.shape[:-1], m, w).any(axis=-1)


def multiscale_lzc(X, bin_widths, variant: str = "lz76", normalize: bool = True) -> np.ndarray:
    """Lempel-Ziv complexity of every row after coarse-graining at each bin width.

    X : [n_rows, n_bins] binary raster; bin_widths : int or sequence of ints, each in 1..n_bins.
    Row i, scale k is ``lzc_batch(coarse_grain(X, bin_widths[k]))[i]`` (normalised with the
    coarse length n_bins // bin_widths[k]).
    Returns float64[n_rows, n_scales] (default ``normalize=True``), or int64 counts with
    ``normalize=False``.

    Example
    -------
    >>> multiscale_lzc([[1, 0, 0, 1, 1, 0, 1, 1]], [1, 2], normalize=False)
    array([[5, 2]])
    """
    code = _variant_code(variant)
    normalize = check_bool(normalize, "normalize")
    x = check_binary_array(X, "X", ndim=2)
    widths = np.atleast_1d(np.asarray(bin_widths, dtype=object))
    if widths.ndim != 1 or widths.size == 0:
        raise ValueError(f"bin_widths must be a non-empty 1-D sequence of ints, got {bin_widths!r}")
    widths = [check_positive_int(w, "bin_width", upper=x.shape[1], upper_name="n_bins") for w in widths]
    out = np.empty((x.shape[0], len(widths)), dtype=np.float64 if normalize else np.int64)
    for k, w in enumerate(widths):
        coarse = np.ascontiguousarray(coarse_grain(x, w).view(np.uint8))
        c = _counts(coarse.reshape(-1), np.arange(x.shape[0]) * coarse.shape[1], coarse.shape[1], code)
        out[:, k] = _normalized(c, coarse.shape[1]) if normalize else c
    return out


def sliding_lzc(x, window: int, step: int, variant: str = "lz76", normalize: bool = True) -> np.ndarray:
    """Lempel-Ziv complexity in sliding windows of one binary sequence.

    x : [n] binary; window : samples per window, 1..n; step : samples between window starts, >= 1.
    Window k covers ``x[k * step : k * step + window]``; windows that would run past the end are
    not formed, so n_windows = (n - window) // step + 1.
    Returns float64[n_windows] (default ``normalize=True``: normalised with n = window), or int64
    counts with ``normalize=False``.

    Example
    -------
    >>> sliding_lzc("0000111100001111", window=8, step=4, normalize=False)
    array([3, 3, 3])
    """
    code = _variant_code(variant)
    normalize = check_bool(normalize, "normalize")
    s = check_binary_array(x, "x", ndim=1)
    window = check_positive_int(window, "window", upper=s.size, upper_name="len(x)")
    step = check_positive_int(step, "step")
    starts = np.arange(0, s.size - window + 1, step)
    c = _counts(s, starts, window, code)
    return _normalized(c, window) if normalize else c


def population_lzc(raster, variant: str = "lz76", normalize: bool = True) -> int | float:
    """Population (spatiotemporal) Lempel-Ziv complexity of a raster read as one sequence.

    raster : [n_channels, n_bins] binary. The sequence is read time-major, column by column: all
    channels at bin 0 (channel 0 first), then all channels at bin 1, ...; i.e.
    ``raster.T.reshape(-1)``, of length n = n_channels * n_bins (the normalisation's n).
    Returns float (default ``normalize=True``: normalised) or int (count, ``normalize=False``).

    Example
    -------
    >>> population_lzc([[1, 1, 0], [0, 0, 0]], normalize=False)  # 1 0 1 0 0 0 -> 1 / 0 / 100 / 0
    4
    """
    code = _variant_code(variant)
    normalize = check_bool(normalize, "normalize")
    r = check_binary_array(raster, "raster", ndim=2)
    s = np.ascontiguousarray(r.T).reshape(-1)
    c = _counts(s, np.zeros(1, dtype=np.int64), s.size, code)
    return float(_normalized(c, s.size)[0]) if normalize else int(c[0])
