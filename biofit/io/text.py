"""Text recordings: QSNMC 2007 / Blue Brain ``.asc``, eFEL columns, CSV/whitespace; a folder of them.

Layouts read (one sweep per file):

* **QSNMC 2007 / Blue Brain** ``.asc``: unit header lines in quotes (``"s"``, ``"pA"``, ``"mV"``), then
  tab-separated rows ``time current voltage``; the current is the measured one. File names
  ``traceascii_<cell>_<protocol>_<n>.asc`` give the cell, the protocol and the sweep id n.
* **eFEL** example traces: whitespace columns ``t [s]  I [pA]  V [mV]`` with no header; the layout is
  taken only when nothing else is given, and only if the voltage column reads as millivolts.
* **CSV / whitespace** with a header row (``time,current,voltage`` or ``t (s), V (mV), I (pA)``),
  or any columns given as options: ``columns=("time", "voltage", "current")`` and
  ``units={"time": "ms", "voltage": "mV", "current": "nA"}``.

The time column must be uniformly sampled (every step within 1 % of the median); its first value
is the sweep's start time. A folder is one recording: every ``.asc``/``.txt``/``.csv``/``.dat`` file
in it, in the order of their sweep ids (the trailing number of the name, else the sorted names).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from biofit.io.assemble import make_sweep, spike_source
from biofit.io.recording import Recording, RecordingInfo
from biofit.io.units import si_factor

SUFFIXES = (".asc", ".txt", ".csv", ".dat")
NAMES = ("time", "current", "voltage")
EFEL_UNITS = {"time": "s", "current": "pA", "voltage": "mV"}
_QSNMC_NAME = re.compile(r"^traceascii_(?P<cell>[^_]+)_(?P<protocol>.+)_(?P<n>\d+)$")
_HEADER_FIELD = re.compile(r"^\s*(?P<name>[A-Za-z_]+)\s*(?:[\(\[](?P<unit>[^\)\]]*)[\)\]])?\s*$")
_ALIASES = {"t": "time", "time": "time", "i": "current", "current": "current", "v": "voltage",
            "voltage": "voltage", "vm": "voltage"}


def _split(line: str, delimiter: str | None) -> list[str]:
    return [f.strip() for f in (line.split(delimiter) if delimiter else line.split())]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a text file ({exc.reason} at byte {exc.start})") from exc
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{path}: empty file")
    return lines


def _header(lines: list[str], delimiter: str | None):
    """(number of header lines, column names or None, units by name or None) of a text file."""
    n = 0
    while n < len(lines) and not all(_is_number(f) for f in _split(lines[n], delimiter)):
        n += 1
    head = lines[:n]
    if head and all(ln.strip().startswith('"') for ln in head):
        return n, None, [ln.strip().strip('"') for ln in head]  # QSNMC: one quoted unit a line
    if len(head) == 1:
        names, units = [], []
        for field in _split(head[0], delimiter):
            match = _HEADER_FIELD.match(field)
            if match is None or match["name"].lower() not in _ALIASES:
                raise ValueError(f"cannot read the header field {field!r} (expected time, current, "
                                 f"voltage, optionally with a unit: 'V (mV)')")
            names.append(_ALIASES[match["name"].lower()])
            units.append(match["unit"])
        return n, names, units
    if head:
        raise ValueError(f"{len(head)} header lines that are neither quoted units nor one row of "
                         f"column names: {head[0][:60]!r}")
    return 0, None, None


def _columns_and_units(path, header_names, header_units, columns, units):
    """Decide the column order and the unit of each quantity; every mismatch is an error."""
    if columns is not None:
        columns = tuple(columns)
        if sorted(columns) != sorted(NAMES):
            raise ValueError(f"columns must name each of {NAMES} once, got {columns}")
    if header_names is not None:
        if columns is not None and columns != tuple(header_names):
            raise ValueError(f"{path}: columns={columns} disagree with the header {header_names}")
        columns = tuple(header_names)
        if sorted(columns) != sorted(NAMES):
            raise ValueError(f"{path}: header must name each of {NAMES} once, got {list(columns)}")
    found: dict[str, str] = {}
    if header_units is not None:
        order = columns if columns is not None else NAMES
        if len(header_units) != len(order):
            raise ValueError(f"{path}: {len(header_units)} units in the header for {len(order)} columns")
        found = {name: u for name, u in zip(order, header_units) if u}
    given = dict(units or {})
    for name, unit in given.items():
        if name not in NAMES:
            raise ValueError(f"units has an unknown key {name!r}; keys: {NAMES}")
        if name in found and si_factor(found[name], name) != si_factor(unit, name):
            raise ValueError(f"{path}: the file says {name} is in {found[name]!r} but units "
                             f"says {unit!r}")
    merged = {**found, **given}
    missing = [name for name in NAMES if name not in merged]
    return columns, merged, missing


def _uniform_dt(path: Path, t: np.ndarray) -> float:
    if t.size < 2:
        raise ValueError(f"{path}: fewer than two samples")
    steps = np.diff(t)
    dt = float(np.median(steps))
    if not dt > 0:
        raise ValueError(f"{path}: time column does not increase")
    bad = np.abs(steps - dt) > 0.01 * dt
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{path}: time column is not uniformly sampled (step {steps[k]:.6g} s at "
                         f"t={t[k]:.6g} s, median step {dt:.6g} s)")
    return dt


def read_text_sweep(path, *, columns: Sequence[str] | None = None, units: Mapping[str, str] | None = None,
                    delimiter: str | None = None, sweep_id: int | None = None, detection=None):
    """One sweep from a text file; returns ``(sweep, spikes_description, info_fields)``."""
    path = Path(path)
    if delimiter is None and path.suffix.lower() == ".csv":
        delimiter = ","
    lines = _read_lines(path)
    n_head, header_names, header_units = _header(lines, delimiter)
    columns, unit_of, missing = _columns_and_units(path, header_names, header_units, columns, units)
    rows = lines[n_head:]
    if not rows:
        raise ValueError(f"{path}: a header but no data rows")
    widths = {len(_split(r, delimiter)) for r in rows}
    if widths != {3}:
        bad = next(i for i, r in enumerate(rows) if len(_split(r, delimiter)) != 3)
        raise ValueError(f"{path}: line {n_head + bad + 1} has {len(_split(rows[bad], delimiter))} "
                         f"fields, expected 3 (time, current, voltage); truncated or not a recording?")
    try:
        data = np.array([[float(f) for f in _split(r, delimiter)] for r in rows])
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric value in the data rows ({exc})") from exc
    assumed = False
    if missing:
        if header_names is not None or header_units is not None or columns is not None or units:
            raise ValueError(f"{path}: no unit for {missing}; pass units={{...}}")
        columns, unit_of, assumed = NAMES, dict(EFEL_UNITS), True
    columns = columns or NAMES
    col = {name: data[:, columns.index(name)] for name in NAMES}
    if assumed and not (-150.0 < np.median(col["voltage"]) < 80.0 and np.ptp(col["voltage"]) > 0.5):
        raise ValueError(f"{path}: no units in the file and the voltage column does not read as mV "
                         f"(eFEL layout t [s], I [pA], V [mV]); pass columns=... and units=...")
    t = col["time"] * si_factor(unit_of["time"], "time")
    dt = _uniform_dt(path, t)
    match = _QSNMC_NAME.match(path.stem)
    if sweep_id is None:
        sweep_id = int(match["n"]) if match else 0
    sweep, how = make_sweep(sweep_id, dt, col["current"] * si_factor(unit_of["current"], "current"),
                            col["voltage"] * si_factor(unit_of["voltage"], "voltage"),
                            start_time=float(t[0]), detection=detection)
    fields = {"cell": match["cell"] if match else "", "protocol": match["protocol"] if match else "",
              "units": {**unit_of, **({"layout": "eFEL (assumed)"} if assumed else {})}}
    return sweep, how, fields


def _sweep_number(path: Path) -> int | None:
    match = re.search(r"(\d+)$", path.stem)
    return int(match.group(1)) if match else None


def load_text(path, *, current_kind: str = "measured", detection=None, **options) -> Recording:
    """A recording from one text file or from a folder of them (one sweep per file).

    Options: ``columns``, ``units``, ``delimiter`` (see the module docstring); ``current_kind``
    ("measured", the default for text exports of the recorded channels, or "command");
    ``detection`` (settings of `biofit.io.spikes.detect_spikes`).
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
        if not files:
            raise ValueError(f"{path}: folder has no {'/'.join(SUFFIXES)} files")
        numbers = [_sweep_number(p) for p in files]
        if None in numbers or len(set(numbers)) != len(numbers):
            numbers = list(range(len(files)))
        order = np.argsort(numbers, kind="stable")
        files, numbers = [files[k] for k in order], [numbers[k] for k in order]
    else:
        files, numbers = [path], [None]
    sweeps, hows, cells, protocols, unit_sets = [], [], set(), set(), []
    for file, number in zip(files, numbers):
        sweep, how, fields = read_text_sweep(file, sweep_id=number, detection=detection, **options)
        sweeps.append(sweep)
        hows.append(how)
        cells.add(fields["cell"])
        protocols.add(fields["protocol"])
        unit_sets.append(fields["units"])
    if any(u != unit_sets[0] for u in unit_sets):
        raise ValueError(f"{path}: files use different units: {unit_sets[0]} and "
                         f"{next(u for u in unit_sets if u != unit_sets[0])}")
    info = RecordingInfo(cell="+".join(sorted(cells)), protocol="+".join(sorted(protocols)),
                         source=str(path), units=unit_sets[0], current_kind=current_kind,
                         spikes=spike_source(hows))
    return Recording(sweeps, info)
