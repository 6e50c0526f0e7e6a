"""Spike rasters from files: ``.npy`` arrays and ``.csv`` text, as ``[n_samples, n_channels, n_bins]``.

* ``.npy`` (``numpy.save``, no pickles): ``[n_channels, n_bins]`` for one sample or
  ``[n_samples, n_channels, n_bins]``.
* ``.csv`` / ``.txt``: one row per channel, comma-separated values, ``#`` comments allowed; one
  sample.

Values are returned as stored (bool, int or float); whether they are 0/1 is checked by whoever
uses them (e.g. :class:`biofit.encoding.LZCEncoder`), which names the first bad value.

Example
-------
>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     path = pathlib.Path(folder) / "r.csv"
...     _ = path.write_text("# two channels, four bins\\n0,1,0,0\\n1,1,0,1\\n")
...     load_raster(path).shape
(1, 2, 4)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_raster(path) -> np.ndarray:
    """Raster ``[n_samples, n_channels, n_bins]`` from ``.npy`` (2-D = one sample) or ``.csv``.

    Missing file: FileNotFoundError; another extension, unreadable content or another rank:
    ValueError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"raster file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            raster = np.load(path, allow_pickle=False)
        elif suffix in (".csv", ".txt"):
            raster = np.loadtxt(path, delimiter=",", ndmin=2)
        else:
            raise ValueError(f"unsupported extension {path.suffix!r}; expected .npy or .csv")
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"cannot read raster {path}: {err}") from err
    if raster.ndim not in (2, 3):
        raise ValueError(f"raster {path} has shape {raster.shape}; expected [n_channels, n_bins] "
                         "or [n_samples, n_channels, n_bins]")
    return raster[None] if raster.ndim == 2 else raster
