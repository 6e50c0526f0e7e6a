"""`FitResult`: a fit's parameters, scores and history, and the files it is saved as.

`FitResult.save(out_dir)` writes

* ``fit.json``: ``{"model", "parameters": {name: SI float, ...} (every parameter of the model, so
  ``biofit.reference.simulate(model, parameters, current, dt)`` reproduces the cell), "fitted",
  "method", "train", "test", "history", "wall_time_s", "dt", "seed", "sources", ...}``;
* ``fit.nwb`` (one file a recording: ``fit_<k>.nwb`` for several): the fitted sweeps with the
  model's voltage as a second trace per sweep (`biofit.io.write_nwb`, readable by pynwb);
* ``fit.png``: data against model voltage, spike rasters, f–I curves, the parameter table.

Nothing half-written is left: the files are built in a temporary folder beside `out_dir` and moved
in, ``fit.json`` last, so a folder holding ``fit.json`` holds a complete fit; an interruption
(Ctrl-C) removes the temporary folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from biofit.io.atomic import staged_folder, write_atomic


@dataclass
class FitResult:
    """What `biofit.fitting.fit` returns (module docstring); parameters and times in SI units."""

    model: str
    parameters: dict
    fitted: tuple
    method: str
    train: dict
    test: dict
    history: list
    wall_time_s: float
    dt: float
    seed: int
    sources: list
    train_sweeps: list
    test_sweeps: list
    loss: float
    true_parameters: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["fitted"] = list(self.fitted)
        return _jsonable(out)

    def recovery(self) -> dict[str, float] | None:
        """Relative error fitted / true - 1 of every fitted parameter, when the truth is known."""
        if not self.true_parameters:
            return None
        return {k: self.parameters[k] / self.true_parameters[k] - 1.0 for k in self.fitted
                if k in self.true_parameters and self.true_parameters[k] != 0}

    def save(self, out_dir, recordings=(), traces=None) -> Path:
        """Write the files of the module docstring into `out_dir`; returns it.

        `recordings`: the fitted recordings (only their fitted sweeps are written); `traces`:
        the model voltage ``{recording index: [float[n] per sweep]}`` in the same order.
        """
        from biofit.io.nwb_write import write_nwb
        from biofit.plotting import plot_fit

        out = Path(out_dir)
        with staged_folder(out, last="fit.json") as tmp:  # fit.json, the marker of a complete fit, last
            names = ["fit.nwb"] if len(recordings) == 1 else [f"fit_{k}.nwb" for k in range(len(recordings))]
            for k, (rec, name) in enumerate(zip(recordings, names)):
                model_traces = None if traces is None else {"model_voltage": traces[k]}
                write_nwb(rec, tmp / name, model_traces=model_traces)
            if recordings and traces is not None:
                plot_fit(self, recordings, traces, tmp / "fit.png")
            payload = json.dumps(self.to_dict(), indent=2, sort_keys=False).encode()
            write_atomic(tmp / "fit.json", lambda f: f.write(payload))
        return out


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def load_result(path) -> dict:
    """The content of a ``fit.json`` (a dict), from the file or its folder."""
    path = Path(path)
    path = path / "fit.json" if path.is_dir() else path
    return json.loads(path.read_text())
