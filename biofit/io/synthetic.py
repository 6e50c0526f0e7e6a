"""Synthetic current-clamp recordings with known parameters: the files shipped in ``data/``.

Each cell (an AdEx and an ALIF neuron of `biofit.models`, parameters in `CELLS`) is simulated
with Brian2 (`biofit.reference.simulate`, cython target, dt = 0.1 ms) under two protocols:

* **steps** (the f–I protocol): 1.2 s sweeps, 0.1 s at 0 pA, a 1 s step, 0.1 s at 0 pA; amplitudes
  `STEPS_PA` (one hyperpolarising step for the passive properties); 4 repeats each;
  sweep id = 10 * amplitude index + repeat.
* **ou**: 4 s of an Ornstein–Uhlenbeck current (mean and sd per cell, τ = 10 ms), the same frozen
  command for the 4 repeats (sweep ids 100..103).

What differs between repeats is **intrinsic noise**: every sweep adds its own independent OU
current (sd `INTRINSIC_SD_PA`, τ = 5 ms) to the command before the simulation; it stands for
channel and synaptic noise, and it is *not* in the recorded current, which is the command
(``current_kind="command"``). **Measurement noise**: independent Gaussian white noise of sd 0.2 mV
is added to the recorded voltage. The recording is then digitised: voltage to 10 µV and current to
0.1 pA steps, stored as int16 counts (`write_nwb` ``quantization``). Spike times are the simulated
ones (given, not detected: the ALIF voltage has no spike shape). All noise comes from NumPy
generators spawned from one seed per cell (`numpy.random.SeedSequence`), so equal seeds give equal
files on the same platform; the true parameters, protocols, noise levels and seeds are in the NWB
``notes`` (JSON), read back as ``Recording.info.extra``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biofit.io.nwb_write import write_nwb
from biofit.io.recording import Recording, RecordingInfo, Sweep

DT = 1e-4  # s
STEPS_PA = (-100.0, 150.0, 250.0, 350.0, 450.0)
STEP_TIMING = (0.1, 1.0, 0.1)  # s: before, step, after
OU_DURATION = 4.0  # s
OU_TAU = 10e-3  # s
# intrinsic noise small enough that the OU repeats are reliable, as cortical cells under fluctuating
# current are (Mainen & Sejnowski 1995): mean pairwise Gamma (Delta 4 ms) ~0.95 (adex), ~0.99 (alif)
INTRINSIC_SD_PA, INTRINSIC_TAU = 5.0, 5e-3
MEASUREMENT_SD = 0.2e-3  # V
V_STEP, I_STEP = 1e-5, 1e-13  # V, A: digitiser resolution
REPEATS = 4
CELLS = {
    # Naud, Marcille, Clopath & Gerstner 2008 (Biol. Cybern. 99:335), Table 1, "adaptation"
    "adex": {"model": "adex", "seed": 2008, "ou_pA": (150.0, 250.0),
             "params": {"C": 200e-12, "g_L": 12e-9, "E_L": -70e-3, "V_T": -50e-3, "Delta_T": 2e-3,
                        "a": 2e-9, "tau_w": 0.3, "b": 60e-12, "V_reset": -58e-3}},
    "alif": {"model": "alif", "seed": 2023, "ou_pA": (150.0, 250.0),
             "params": {"tau_mem": 20e-3, "R": 1e8, "v_rest": -70e-3, "v_reset": -65e-3,
                        "v_th": -50e-3, "t_ref": 2e-3, "tau_adapt": 0.2, "beta": 3e-3}},
}


def ou_process(n: int, dt: float, mean: float, sd: float, tau: float, rng: np.random.Generator) -> np.ndarray:
    r"""Exact discretisation of an Ornstein–Uhlenbeck process, stationary from the first sample:
    :math:`x_{k+1} = \mu + (x_k - \mu) e^{-\Delta t/\tau} + \sigma\sqrt{1 - e^{-2\Delta t/\tau}}\,\xi_k`.

    >>> x = ou_process(200000, 1e-4, 1.0, 0.5, 5e-3, np.random.default_rng(0))
    >>> round(float(x.mean()), 1), round(float(x.std()), 1)
    (1.0, 0.5)
    """
    decay = np.exp(-dt / tau)
    kicks = sd * np.sqrt(1.0 - decay**2) * rng.standard_normal(n)
    x = np.empty(n)
    x[0] = mean + sd * rng.standard_normal()
    for k in range(1, n):
        x[k] = mean + (x[k - 1] - mean) * decay + kicks[k]
    return x


def _commands(cell: dict, rng: np.random.Generator) -> tuple[list[int], list[np.ndarray], dict]:
    """Sweep ids, command currents [A] (digitised), and the protocol table for the metadata."""
    before, step, after = STEP_TIMING
    n_step = int(round((before + step + after) / DT))
    on, off = int(round(before / DT)), int(round((before + step) / DT))
    ids, commands = [], []
    for a, amplitude in enumerate(STEPS_PA):
        wave = np.zeros(n_step)
        wave[on:off] = amplitude * 1e-12
        for r in range(REPEATS):
            ids.append(10 * a + r)
            commands.append(wave)
    mean, sd = cell["ou_pA"]
    ou = ou_process(int(round(OU_DURATION / DT)), DT, mean * 1e-12, sd * 1e-12, OU_TAU, rng)
    ou = np.round(ou / I_STEP) * I_STEP
    for r in range(REPEATS):
        ids.append(100 + r)
        commands.append(ou)
    table = {"steps": {"sweep_ids": ids[: len(STEPS_PA) * REPEATS], "amplitudes_pA": list(STEPS_PA),
                       "step_on_s": before, "step_off_s": before + step},
             "ou": {"sweep_ids": ids[len(STEPS_PA) * REPEATS:], "mean_pA": mean, "sd_pA": sd, "tau_s": OU_TAU}}
    return ids, commands, table


def _simulate(model: str, params: dict, drive: list[np.ndarray]) -> tuple[np.ndarray, tuple]:
    from biofit.reference import simulate

    trace = simulate(model, params, np.stack(drive, axis=1), DT)
    return trace.v, trace.spike_times


def synthetic_recording(name: str) -> Recording:
    """The synthetic recording of cell `name` (``"adex"`` or ``"alif"``), as `make_data` writes it."""
    if name not in CELLS:
        raise ValueError(f"unknown synthetic cell {name!r}; known: {sorted(CELLS)}")
    cell = CELLS[name]
    command_seq, intrinsic_seq, measure_seq = np.random.SeedSequence(cell["seed"]).spawn(3)
    ids, commands, table = _commands(cell, np.random.default_rng(command_seq))
    intrinsic_rngs = [np.random.default_rng(s) for s in intrinsic_seq.spawn(len(ids))]
    drives = [c + ou_process(c.size, DT, 0.0, INTRINSIC_SD_PA * 1e-12, INTRINSIC_TAU, g)
              for c, g in zip(commands, intrinsic_rngs)]
    measure = np.random.default_rng(measure_seq)
    sweeps = []
    n_steps = len(STEPS_PA) * REPEATS
    for group in (slice(0, n_steps), slice(n_steps, len(ids))):
        v, spikes = _simulate(cell["model"], cell["params"], drives[group])
        for col, k in enumerate(range(len(ids))[group]):
            noisy = v[:, col] + MEASUREMENT_SD * measure.standard_normal(v.shape[0])
            start = 0.0 if ids[k] < 100 else 100.0 + (ids[k] - 100) * OU_DURATION
            sweeps.append(Sweep(ids[k], DT, np.round(commands[k] / I_STEP) * I_STEP,
                                np.round(noisy / V_STEP) * V_STEP, spikes[col], start))
    extra = {"model": cell["model"], "true_parameters": cell["params"], "protocols": table,
             "seed": cell["seed"], "dt_s": DT,
             "intrinsic_noise": {"kind": "OU current added to the command, not recorded",
                                 "sd_pA": INTRINSIC_SD_PA, "tau_s": INTRINSIC_TAU},
             "measurement_noise": {"kind": "white Gaussian on the voltage", "sd_V": MEASUREMENT_SD},
             "digitiser": {"voltage_step_V": V_STEP, "current_step_A": I_STEP},
             "spikes": "simulated spike times (Brian2), not detected"}
    info = RecordingInfo(cell=f"synthetic_{name}", protocol="steps+ou", source="biofit data make",
                         units={"time": "s", "current": "A", "voltage": "V"}, current_kind="command",
                         spikes="given", extra=extra)
    return Recording(sweeps, info)


def make_data(out_dir="data", cells=tuple(CELLS)) -> list[Path]:
    """Write ``synthetic_<cell>.nwb`` for each cell into `out_dir`; returns the paths."""
    paths = []
    for name in cells:
        rec = synthetic_recording(name)
        paths.append(write_nwb(rec, Path(out_dir) / f"synthetic_{name}.nwb",
                               quantization={"voltage": V_STEP, "current": I_STEP}))
    return paths
