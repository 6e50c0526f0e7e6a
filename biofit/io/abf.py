"""Axon Binary Format (ABF 1 and 2) current-clamp recordings, read with pyABF.

The voltage is the first ADC channel in volts (or the one named by ``voltage_channel``). The current
is an ADC channel recorded in amperes when the file has one (``current_channel``, found by its unit),
so measured; otherwise pyABF's ``sweepC``, the command waveform the protocol asked the amplifier for
(``current_kind="command"``): the two differ by the amplifier's series-resistance and bridge errors.
Sweep ids are pyABF's sweep numbers; start times come from ``sweepTimesSec``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biofit.io.assemble import make_sweep, spike_source
from biofit.io.recording import Recording, RecordingInfo
from biofit.io.units import si_factor


def _open(path: Path):
    import pyabf

    if not path.is_file():
        raise FileNotFoundError(f"no such ABF file: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file")
    try:
        abf = pyabf.ABF(str(path))
        abf.setSweep(abf.sweepList[-1])  # reads the last sweep: a truncated file fails here
    except Exception as exc:  # pyABF raises many kinds (struct, index, value errors) on bad files
        raise ValueError(f"{path}: not a readable ABF file ({type(exc).__name__}: {exc})") from exc
    return abf


def _quantity(unit: str) -> str | None:
    for quantity in ("voltage", "current"):
        try:
            si_factor(unit, quantity)
        except ValueError:
            continue
        return quantity
    return None


def load_abf(path, *, voltage_channel: int | None = None, current_channel: int | None = None,
             detection=None) -> Recording:
    """A recording from an ABF file (see the module docstring).

    Parameters
    ----------
    path : path
    voltage_channel : int, optional
        ADC channel of the membrane potential (default: the first one in volts).
    current_channel : int, optional
        ADC channel of a measured current (default: the first one in amperes, if any; else the
        command waveform is used).
    detection : mapping, optional
        Spike detection settings (`biofit.io.spikes.detect_spikes` keywords).
    """
    path = Path(path)
    abf = _open(path)
    kinds = [_quantity(u) for u in abf.adcUnits]
    if voltage_channel is None:
        if "voltage" not in kinds:
            raise ValueError(f"{path}: no ADC channel in volts (units {abf.adcUnits}); is it a "
                             f"voltage-clamp recording?")
        voltage_channel = kinds.index("voltage")
    elif not 0 <= voltage_channel < abf.channelCount or kinds[voltage_channel] != "voltage":
        raise ValueError(f"{path}: voltage_channel {voltage_channel} is not a voltage channel "
                         f"(units {abf.adcUnits})")
    if current_channel is None and "current" in kinds:
        current_channel = kinds.index("current")
    if current_channel is not None and (not 0 <= current_channel < abf.channelCount
                                        or kinds[current_channel] != "current"):
        raise ValueError(f"{path}: current_channel {current_channel} is not a current channel "
                         f"(units {abf.adcUnits})")
    v_unit = abf.adcUnits[voltage_channel]
    if current_channel is None:
        i_unit = abf.dacUnits[voltage_channel] if voltage_channel < len(abf.dacUnits) else ""
        abf.setSweep(abf.sweepList[0], channel=voltage_channel)
        if _quantity(i_unit) != "current" or not np.all(np.isfinite(abf.sweepC)):
            raise ValueError(f"{path}: no current: no ADC channel in amperes (units {abf.adcUnits}) "
                             f"and no command waveform in amperes in the protocol (DAC unit {i_unit!r})")
    else:
        i_unit = abf.adcUnits[current_channel]
    v_scale, i_scale = si_factor(v_unit, "voltage"), si_factor(i_unit, "current")
    sweeps, hows = [], []
    for number in abf.sweepList:
        abf.setSweep(number, channel=voltage_channel)
        voltage = abf.sweepY.astype(float) * v_scale
        command = abf.sweepC.astype(float)
        if current_channel is not None:
            abf.setSweep(number, channel=current_channel)
            current = abf.sweepY.astype(float) * i_scale
        else:
            current = command * i_scale
        sweep, how = make_sweep(number, 1.0 / abf.dataRate, current, voltage,
                                start_time=float(abf.sweepTimesSec[number]), detection=detection)
        sweeps.append(sweep)
        hows.append(how)
    info = RecordingInfo(
        cell=abf.abfID, protocol=str(abf.protocol), source=str(path),
        units={"time": "s", "current": i_unit, "voltage": v_unit, "format": f"ABF {abf.abfVersionString}"},
        current_kind="measured" if current_channel is not None else "command",
        spikes=spike_source(hows),
        extra={"abf_recorded": abf.abfDateTime.isoformat() if hasattr(abf.abfDateTime, "isoformat") else ""},
    )
    return Recording(sweeps, info)
