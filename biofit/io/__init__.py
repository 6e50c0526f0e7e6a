"""Recordings and their loaders/writers.

`atomic.write_atomic`: every file biofit writes goes through a temporary file and a rename.
"""

from biofit.io.atomic import write_atomic

__all__ = ["write_atomic"]
