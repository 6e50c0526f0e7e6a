r"""Numba kernels behind :mod:`biofit.encoding.lzc`: LZ76 and LZ78 phrase counts of binary sequences.

Both kernels take ``uint8`` symbols in {0, 1} (validated by the caller) and run in time linear in
the sequence length. They are compiled once with ``@njit(cache=True)``; the on-disk cache lives in
this package's ``__pycache__``, so only the first call on a machine pays the compile time.

LZ76 (Lempel & Ziv 1976, as computed by Kaspar & Schuster 1987, Phys. Rev. A 36, 842)
------------------------------------------------------------------------------------
A binary sequence :math:`s = s_0 \dots s_{n-1}` is cut into components. The first component is
:math:`s_0`. A component that starts at :math:`q \ge 1` is the shortest word
:math:`Q = s_q \dots s_j` that is *not* a substring of :math:`s_0 \dots s_{j-1}` (K&S: :math:`Q`
is not in the vocabulary of :math:`SQ\pi`, where :math:`\pi` deletes the last symbol), i.e. the
longest prefix of :math:`s_q s_{q+1} \dots` that also starts at some earlier position
:math:`p < q` (the copy may overlap :math:`Q` itself), plus one innovative symbol. If the
sequence ends while :math:`Q` can still be copied, that last, incomplete component is counted
too. The complexity :math:`c(n)` is the number of components; the empty sequence has
:math:`c = 0` (antropy returns 1 there).

Linear-time evaluation. Scanning all earlier starts for every component, as K&S and antropy do,
costs :math:`O(n^2)` in the worst case. Here the test ":math:`Q = s_q \dots s_j` is a substring
of :math:`s_0 \dots s_{j-1}`" is answered by the suffix automaton (SAM; Blumer et al. 1985,
Theor. Comput. Sci. 40, 31) of the text read so far, built online one symbol at a time. After
:math:`s_j` is appended, the suffix link of the automaton's last state points to the state of the
longest suffix of :math:`s_0 \dots s_j` that also ends at an earlier position, and its length
:math:`\ell_j` is ``len(link(last))`` (Blumer et al. 1985). A suffix of a word that
ends earlier also ends earlier, so the suffixes of :math:`s_0 \dots s_j` that occur in
:math:`s_0 \dots s_{j-1}` are exactly those of length :math:`\le \ell_j`. :math:`Q` is such a
suffix, hence :math:`Q` is copyable iff :math:`|Q| = j - q + 1 \le \ell_j`. The kernel keeps only
the length of the current partial component: per symbol it extends the automaton, reads
:math:`\ell_j` (free: the extension has just touched that state) and either grows the component
or closes it with :math:`s_j` as its innovative symbol.

Bound. Besides the extension, each symbol costs O(1). The online construction makes at most
:math:`2n - 1` states and :math:`3n - 4` transitions (Blumer et al. 1985, for n >= 3); the
loop that adds transitions adds one per iteration, so it runs at most :math:`3n` times in total,
and the loop that redirects transitions to a clone runs :math:`O(n)` times summed over the
construction because each of its iterations shortens the suffix-link depth of ``link(last)``
from which the next extension starts (the standard potential argument; Crochemore & Hancart
1997, Handbook of Formal Languages, vol. 2, ch. 9). Hence :math:`O(n)` time for the binary
alphabet and :math:`O(n)` memory: one 16-byte row per state, at most :math:`32 n` bytes (320 MB
for :math:`n = 10^7`). The constant is set by memory latency: beyond a few :math:`10^6` symbols
the automaton leaves the cache and each symbol costs a few cache misses.

LZ78 (Ziv & Lempel 1978), phrase convention of the ``lempel-ziv-complexity`` package
--------------------------------------------------------------------------------
The sequence is cut left to right into phrases, each the shortest word starting at the cut that
is not yet in the dictionary; it is then added. A trailing word that is already in the dictionary
when the sequence ends is not counted. The dictionary is prefix-closed, so it is a binary trie,
and each symbol costs one child lookup: :math:`O(n)` time, at most :math:`n + 1` nodes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Variant codes understood by :func:`lz_counts_of_segments`.
LZ76 = 0
LZ78 = 1


# Columns of the packed automaton table ``st: int32[n_states, 4]``: both transitions, the suffix
# link and the length of the state's longest string share one 16-byte row, so visiting a state
# touches one cache line (the automaton of a 10^7-symbol sequence does not fit in cache).
_LINK = 2
_LEN = 3


@njit(cache=True, inline="always")
def _sam_extend(c, last, size, st):
    """Append symbol ``c`` to the suffix automaton.

    Returns (new last state, new size, length of the longest suffix of the extended text that
    also occurs ending earlier, i.e. len(link(new last))).
    """
    cur = size
    size += 1
    st[cur, 0] = -1
    st[cur, 1] = -1
    st[cur, _LEN] = st[last, _LEN] + 1
    p = last
    while p != -1 and st[p, c] == -1:
        st[p, c] = cur
        p = st[p, _LINK]
    if p == -1:
        st[cur, _LINK] = 0
        return cur, size, 0
    q = st[p, c]
    if st[p, _LEN] + 1 == st[q, _LEN]:
        st[cur, _LINK] = q
    else:
        clone = size
        size += 1
        st[clone, 0] = st[q, 0]
        st[clone, 1] = st[q, 1]
        st[clone, _LINK] = st[q, _LINK]
        st[clone, _LEN] = st[p, _LEN] + 1
        while p != -1 and st[p, c] == q:
            st[p, c] = clone
            p = st[p, _LINK]
        st[q, _LINK] = clone
        st[cur, _LINK] = clone
    return cur, size, st[st[cur, _LINK], _LEN]


@njit(cache=True)
def _lz76_count(s, st):
    """LZ76 (Kaspar-Schuster) component count of ``s``; ``st`` holds >= 2 len(s) + 1 states."""
    n = s.shape[0]
    if n == 0:
        return 0
    st[0, 0] = -1
    st[0, 1] = -1
    st[0, _LINK] = -1
    st[0, _LEN] = 0
    size = 1
    last = 0
    partial = 0  # length of the current, still copyable component s[q:j]
    count = 0
    for j in range(n):
        last, size, copyable = _sam_extend(s[j], last, size, st)
        if partial + 1 <= copyable:
            partial += 1
        else:
            count += 1
            partial = 0
    if partial > 0:
        count += 1
    return count


@njit(cache=True)
def _lz78_count(s, child):
    """LZ78 distinct-phrase count of ``s`` (a trailing repeated word is not counted).

    ``child`` is the trie, room for >= len(s) + 1 nodes.
    """
    child[0, 0] = -1
    child[0, 1] = -1
    size = 1
    node = 0
    count = 0
    for j in range(s.shape[0]):
        c = s[j]
        target = child[node, c]
        if target == -1:
            child[size, 0] = -1
            child[size, 1] = -1
            child[node, c] = size
            size += 1
            count += 1
            node = 0
        else:
            node = target
    return count


def work_buffer(seg_len: int, variant: int) -> np.ndarray:
    """Scratch table for :func:`lz_counts_of_segments`: the LZ76 automaton or the LZ78 trie.

    Allocated by numpy rather than inside the kernel because numpy asks the kernel for
    transparent huge pages on large arrays, which spares TLB misses in the automaton's random
    accesses. int32[2 seg_len + 1, 4] (LZ76) or int32[seg_len + 1, 2] (LZ78).
    """
    if variant == LZ76:
        return np.empty((2 * seg_len + 1, 4), dtype=np.int32)
    return np.empty((seg_len + 1, 2), dtype=np.int32)


@njit(cache=True)
def lz_counts_of_segments(flat, starts, seg_len, variant, work):
    """Phrase counts of the segments ``flat[starts[i] : starts[i] + seg_len]``.

    flat: uint8[N] in {0, 1}; starts: int64[m]; seg_len: int; variant: LZ76 or LZ78;
    work: ``work_buffer(seg_len, variant)``, reused by every segment. Returns int64[m].
    """
    m = starts.shape[0]
    out = np.zeros(m, dtype=np.int64)
    for i in range(m):
        segment = flat[starts[i] : starts[i] + seg_len]
        if variant == LZ76:
            out[i] = _lz76_count(segment, work)
        else:
            out[i] = _lz78_count(segment, work)
    return out
