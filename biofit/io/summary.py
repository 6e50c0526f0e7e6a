"""A plain-text table of a recording: one row per sweep, then the recording's passive properties.

>>> import numpy as np
>>> from biofit.io.recording import Recording, Sweep
>>> i = np.zeros(3000); i[1000:2000] = -50e-12  # a -50 pA step into a 100 MOhm resistor
>>> row = format_summary(Recording([Sweep(0, 1e-4, i, -0.07 + 1e8 * i)])).splitlines()[3].split()
>>> row[6], row[7], row[-3], row[-2]  # step [pA], spikes, Vrest [mV], Rin [MOhm]
('-50.0', '0', '-70.00', '100.00')
"""

from __future__ import annotations

import numpy as np

from biofit.io.features import fi_curve, passive_properties, recording_features
from biofit.io.recording import Recording

_COLUMNS = (("sweep", 5), ("dur [s]", 8), ("dt [ms]", 6), ("I range [pA]", 16), ("step [pA]", 7),
            ("spikes", 6), ("rate [Hz]", 6), ("lat [ms]", 8), ("ISI CV", 8), ("adapt", 8),
            ("Vrest [mV]", 8), ("Rin [MΩ]", 8), ("tau [ms]", 8))


def _num(value: float, width: int, scale: float = 1.0, digits: int = 2) -> str:
    return f"{value * scale:{width}.{digits}f}" if np.isfinite(value) else f"{'-':>{width}}"


def format_summary(recording: Recording) -> str:
    """Header lines (repr, source, units, current kind, spike source), a table of sweeps with their
    features (`biofit.io.features.sweep_features`), the passive properties and the f–I curve."""
    info = recording.info
    lines = [repr(recording),
             f"source: {info.source or '-'}; units as read: {dict(info.units)}; current: {info.current_kind}; "
             f"spikes: {info.spikes}",
             "  ".join(f"{name:>{width}}" for name, width in _COLUMNS)]
    table = recording_features(recording)
    for sw in recording.sweeps:
        f = table[sw.id]
        lo, hi = sw.current.min() * 1e12, sw.current.max() * 1e12
        cells = [f"{sw.id:5d}", f"{sw.duration:8.3f}", f"{sw.dt * 1e3:6.3f}", f"{lo:8.1f} ..{hi:6.1f}",
                 _num(f["step_amplitude"], 7, 1e12, 1), f"{int(f['spike_count']):6d}", _num(f["rate"], 6),
                 _num(f["first_spike_latency"], 8, 1e3), _num(f["isi_cv"], 8, 1.0, 3),
                 _num(f["adaptation_index"], 8, 1.0, 3), _num(f["resting_potential"], 8, 1e3),
                 _num(f["input_resistance"], 8, 1e-6), _num(f["membrane_time_constant"], 8, 1e3)]
        lines.append("  ".join(cells))
    passive = passive_properties(recording)
    lines.append("passive (median over hyperpolarising steps without spikes): "
                 f"Vrest {_num(passive['resting_potential'], 1, 1e3).strip()} mV, "
                 f"Rin {_num(passive['input_resistance'], 1, 1e-6).strip()} MΩ, "
                 f"tau {_num(passive['membrane_time_constant'], 1, 1e3).strip()} ms")
    amps, rates = fi_curve(recording)
    pairs = ", ".join(f"{a * 1e12:.0f} pA: {r:.1f} Hz" for a, r in zip(amps, rates))
    lines.append(f"f-I curve: {pairs or '-'}")
    return "\n".join(lines)
