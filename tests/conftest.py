"""Shared test fixtures: the location of ../shared/data and the `realdata` skip rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BIOFIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def pytest_configure(config):
    """Under pytest-xdist each worker runs torch at one intra-op thread: the workers already use
    the cores, and extra threads only contend (small tensors slow down many times over)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Skip `realdata` tests, with the reason, where ../shared/data is absent."""
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(
        reason=f"realdata: {SHARED_DATA} not found (set BIOFIT_SHARED_DATA to the shared data folder)"
    )
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the shared public recordings (tests using it must be marked `realdata`)."""
    return SHARED_DATA


@pytest.fixture
def one_torch_thread():
    """Run a test with torch at one intra-op thread, then restore the previous count.

    For tests on small tensors: extra threads only add contention on a shared 2-core runner (seen
    here: small elementwise ops up to 50x slower). Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def forbid_default_device():
    """A context in which a torch factory call (``zeros``, ``arange``, ...) without ``device=`` raises.

    For tests that code allocates on its inputs' device rather than on torch's default one (which
    is the CPU here, so a CPU-only run could not tell the two apart otherwise).
    """
    import torch
    from torch.overrides import TorchFunctionMode

    factories = {torch.zeros, torch.ones, torch.full, torch.empty, torch.arange, torch.tensor,
                 torch.as_tensor, torch.rand, torch.randn, torch.randint, torch.linspace, torch.eye}

    class ForbidDefaultDevice(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            copies_a_tensor = func is torch.as_tensor and isinstance(args[0], torch.Tensor)
            if func in factories and kwargs.get("device") is None and not copies_a_tensor:
                raise AssertionError(f"torch.{func.__name__} called without device= (args {args!r})")
            return func(*args, **kwargs)

    return ForbidDefaultDevice()
