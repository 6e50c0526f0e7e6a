"""`load_recording`: one entry point for every format biofit reads.

The format is taken from ``format`` or else from the path: ``.abf`` (pyABF), ``.nwb`` (pynwb),
``.npz`` (biofit), ``.asc`` / ``.txt`` / ``.csv`` / ``.dat`` (text), a folder (text files, one sweep
each). Options go to the format's loader; ``detection`` (spike detection settings) is common to all
but NPZ, which always carries its spike times.

There is no ``neo`` adapter: neo's readers (Spike2, WinWCP, Igor, ...) return analog signals
without saying which one is the injected current and whether it is measured or commanded, so an
adapter would have to guess channel roles from units per file type. Convert such files to NWB
(neo or the vendor's tools) and read the NWB.

>>> load_recording("x.wav")
Traceback (most recent call last):
...
ValueError: cannot tell the format of 'x.wav' from its suffix; pass format= one of abf, nwb, npz, text, efel, qsnmc, csv
"""

from __future__ import annotations

import os
from pathlib import Path

from biofit.io.recording import Recording

FORMATS = ("abf", "nwb", "npz", "text", "efel", "qsnmc", "csv")
_BY_SUFFIX = {".abf": "abf", ".nwb": "nwb", ".npz": "npz", ".asc": "text", ".txt": "text",
              ".csv": "text", ".dat": "text"}


def guess_format(path) -> str:
    """The format name for `path` (a folder is ``"text"``)."""
    path = Path(path)
    if path.is_dir():
        return "text"
    try:
        return _BY_SUFFIX[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"cannot tell the format of {str(path)!r} from its suffix; pass format= one "
                         f"of {', '.join(FORMATS)}") from None


def load_recording(path: str | os.PathLike, format: str | None = None, **options) -> Recording:
    """Read a current-clamp recording as a validated `Recording`.

    Parameters
    ----------
    path : path
        A file, or a folder of text files (one sweep per file).
    format : {"abf", "nwb", "npz", "text", "efel", "qsnmc", "csv"}, optional
        Default: from the suffix. ``"efel"`` fixes the columns ``t [s], I [pA], V [mV]``;
        ``"qsnmc"`` and ``"csv"`` are the text loader with the units read from the file.
    **options
        ABF: ``voltage_channel``, ``current_channel``; text: ``columns``, ``units``, ``delimiter``,
        ``current_kind``; all but NPZ: ``detection`` (`biofit.io.spikes.detect_spikes` keywords).

    Raises
    ------
    FileNotFoundError
        If `path` does not exist.
    ValueError
        Unknown format or option, or a file that is empty, damaged or inconsistent (the message
        names the file, and the sweep and time where it applies).
    """
    path = Path(path)
    fmt = guess_format(path) if format is None else format
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    try:
        if fmt == "abf":
            from biofit.io.abf import load_abf

            return load_abf(path, **options)
        if fmt == "nwb":
            from biofit.io.nwb import load_nwb

            return load_nwb(path, **options)
        if fmt == "npz":
            from biofit.io.npz import load_npz

            return load_npz(path, **options)
        from biofit.io.text import EFEL_UNITS, NAMES, load_text

        if fmt == "efel":
            options = {"columns": NAMES, "units": EFEL_UNITS, **options}
        return load_text(path, **options)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc):
            raise ValueError(f"option not understood by the {fmt} loader: {exc}") from exc
        raise
