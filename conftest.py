"""Root pytest configuration, loaded for ``tests/`` and for the doctests of ``biofit/``.

Importing Brian2 imports ``brian2.tests``, which replaces pytest's ``DoctestModule`` with a subclass
that fails on package ``__init__`` docstrings (IndexError) and skips objects Brian2 marks. The hook
below puts pytest's own class back before each file is collected, so that doctests are collected
the same way whether or not Brian2 was already imported.
"""

from __future__ import annotations

import pytest
from _pytest import doctest as pytest_doctest

_DOCTEST_MODULE = pytest_doctest.DoctestModule
while _DOCTEST_MODULE.__module__ != pytest_doctest.__name__:  # already replaced by Brian2
    _DOCTEST_MODULE = _DOCTEST_MODULE.__bases__[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collect_file(file_path, parent):
    pytest_doctest.DoctestModule = _DOCTEST_MODULE
