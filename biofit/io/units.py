"""Unit strings of electrophysiology files -> SI scale factors (s, V, A).

Files name their units in many spellings (``"mV"``, ``"millivolts"``, ``"pA"``, ``"amperes"``). This
module maps a unit string to the factor that turns a value in that unit into SI, and checks that it
measures the expected quantity, so a file that labels its voltage ``"pA"`` is refused instead of read
as a current.

>>> si_factor("mV", "voltage")
0.001
>>> si_factor("pA", "current")
1e-12
>>> si_factor("mV", "current")
Traceback (most recent call last):
...
ValueError: current unit 'mV' is a unit of voltage, expected one of current (A, mA, uA, nA, pA, fA)
"""

from __future__ import annotations

_PREFIX = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15,
           "k": 1e3}
_PREFIX_WORD = {"": "", "milli": "m", "micro": "u", "nano": "n", "pico": "p", "femto": "f", "kilo": "k"}
_BASE = {"voltage": ("V", ("volt", "volts")), "current": ("A", ("amp", "amps", "ampere", "amperes")),
         "time": ("s", ("second", "seconds", "sec"))}


def _parse(unit: str) -> tuple[str, float] | None:
    """(quantity, factor) of a unit string, or None when it is not a known unit."""
    text = unit.strip()
    for quantity, (symbol, words) in _BASE.items():
        for prefix, factor in _PREFIX.items():
            if text == prefix + symbol:
                return quantity, factor
        low = text.lower()
        for word_prefix, prefix in _PREFIX_WORD.items():
            if any(low == word_prefix + word for word in words):
                return quantity, _PREFIX[prefix]
    return None


def si_factor(unit: str, quantity: str) -> float:
    """Factor turning a value in `unit` into SI (V, A or s); `quantity` is the one expected.

    Parameters
    ----------
    unit : str
        A unit string: SI symbol with a prefix (``"mV"``, ``"pA"``, ``"ms"``, ``"uA"``) or the
        spelled-out name (``"volts"``, ``"millivolts"``, ``"amperes"``, ``"seconds"``).
    quantity : {"voltage", "current", "time"}
        What the value measures.

    Raises
    ------
    ValueError
        If the unit is unknown or measures another quantity; the message names the unit.
    """
    if quantity not in _BASE:
        raise ValueError(f"quantity must be one of {sorted(_BASE)}, got {quantity!r}")
    if not isinstance(unit, str):
        raise TypeError(f"{quantity} unit must be a string, got {type(unit).__name__}")
    parsed = _parse(unit)
    symbol = _BASE[quantity][0]
    known = ", ".join(p + symbol for p in ("", "m", "u", "n", "p", "f") if p != "f" or symbol == "A")
    if parsed is None:
        raise ValueError(f"unknown {quantity} unit {unit!r} (known: {known})")
    found, factor = parsed
    if found != quantity:
        raise ValueError(f"{quantity} unit {unit!r} is a unit of {found}, expected one of "
                         f"{quantity} ({known})")
    return factor
