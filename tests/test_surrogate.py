"""Surrogate spike functions: strict Heaviside forward, backward = derivative of the smooth step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from biofit.neurons.surrogate import (
    MULTI_GAUSSIAN_HEIGHT,
    SURROGATES,
    get_surrogate,
    surrogate_smooth,
)


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_forward_is_strict_heaviside(name):
    x = torch.tensor([-1.0, -1e-12, 0.0, 1e-12, 1.0], dtype=torch.float64)
    np.testing.assert_array_equal(get_surrogate(name)(x, 1e-3).numpy(), [0, 0, 0, 1, 1])


@pytest.mark.parametrize("width", [5e-4, 2e-3])
@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_backward_equals_autograd_of_smooth_step(name, width):
    # grid avoiding the kinks of triangle/boxcar at |x| = w and x = 0
    x = torch.linspace(-5 * width, 5 * width, 1001, dtype=torch.float64)[1::2] + width / 7919
    x1 = x.clone().requires_grad_(True)
    get_surrogate(name)(x1, width).sum().backward()
    x2 = x.clone().requires_grad_(True)
    surrogate_smooth(name, x2, width).sum().backward()
    np.testing.assert_allclose(x1.grad.numpy(), x2.grad.numpy(), rtol=1e-10, atol=1e-8 / width)


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_backward_matches_finite_differences_of_smooth_step(name):
    width, h = 1e-3, 1e-9
    x = torch.tensor([-2.3e-3, -0.4e-3, 0.3e-3, 0.77e-3, 4.1e-3], dtype=torch.float64)
    fd = (surrogate_smooth(name, x + h, width) - surrogate_smooth(name, x - h, width)) / (2 * h)
    x1 = x.clone().requires_grad_(True)
    get_surrogate(name)(x1, width).sum().backward()
    np.testing.assert_allclose(x1.grad.numpy(), fd.numpy(), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_pseudo_derivative_integrates_to_the_step_height(name):
    """Numerical integral of the backward over [-L, L] equals s(L) - s(-L), and s goes from 0 to
    1 (unit area), except multi-Gaussian: (1 + h) - h - h = 1 - h (Yin et al. 2021's form)."""
    width, half = 1e-3, 50e-3
    x = torch.linspace(-half, half, 2_000_001, dtype=torch.float64, requires_grad=True)
    get_surrogate(name)(x, width).sum().backward()
    area = torch.trapezoid(x.grad, x).item()
    ends = surrogate_smooth(name, torch.tensor([-half, half], dtype=torch.float64), width)
    assert area == pytest.approx((ends[1] - ends[0]).item(), abs=1e-4)
    expected = 1.0 - MULTI_GAUSSIAN_HEIGHT if name == "multi_gaussian" else 1.0
    limits = surrogate_smooth(name, torch.tensor([-1e6, 1e6], dtype=torch.float64), width)
    assert limits[0].item() == pytest.approx(0.0, abs=1e-6)
    assert limits[1].item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_peak_scales_inversely_with_width(name):
    peaks = []
    for width in (1e-3, 2e-3):
        x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        get_surrogate(name)(x, width).sum().backward()
        peaks.append(x.grad.item())
    assert peaks[0] == pytest.approx(2 * peaks[1], rel=1e-12)
    assert math.isfinite(peaks[0]) and peaks[0] > 0


def test_unknown_surrogate_lists_known():
    with pytest.raises(ValueError, match="known: fast_sigmoid, atan, triangle, boxcar, multi_gaussian"):
        get_surrogate("erf")
