"""biofit.validation: the shared boundary checks, the seed helpers and the renamed-keyword decorator."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from biofit.validation import (
    check_binary_array,
    check_bool,
    check_dt,
    check_finite_array,
    check_finite_tensor,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_probability,
    check_spike_tensor,
    numpy_generator,
    renamed_arguments,
    torch_generator,
)


def test_scalar_checks_return_the_converted_value():
    assert check_positive(np.float32(0.5), "x") == 0.5 and type(check_positive(2, "x")) is float
    assert check_nonnegative(0, "x") == 0.0
    assert check_positive_int(np.int64(3), "n") == 3 and check_positive_int(5, "n", upper=5) == 5
    assert check_probability(1, "p") == 1.0
    assert check_bool(np.True_, "flag") is True
    assert check_dt(np.float64(1e-4)) == 1e-4


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: check_positive(0.0, "tau"), ValueError, "tau must be a finite number > 0, got 0.0"),
        (lambda: check_positive(float("nan"), "tau"), ValueError, "tau must be .* got nan"),
        (lambda: check_positive(True, "tau"), TypeError, "tau must be a real number, got bool True"),
        (lambda: check_positive("1", "tau"), TypeError, "got str '1'"),
        (lambda: check_nonnegative(-1e-3, "refractory"), ValueError, "refractory must be .* >= 0, got -0.001"),
        (lambda: check_nonnegative(float("inf"), "a"), ValueError, "got inf"),
        (lambda: check_positive_int(0, "n"), ValueError, "n must be an integer >= 1, got 0"),
        (lambda: check_positive_int(2.0, "n"), ValueError, "got 2.0"),
        (lambda: check_positive_int(True, "n"), ValueError, "got True"),
        (lambda: check_positive_int(11, "window", 10, "len(x)"), ValueError, r"window = 11 exceeds len\(x\) = 10"),
        (lambda: check_probability(1.5, "p"), ValueError, r"p must be a probability in \[0, 1\], got 1.5"),
        (lambda: check_probability(float("nan"), "p"), ValueError, "got nan"),
        (lambda: check_probability("0.5", "p"), TypeError, "p must be a real number"),
        (lambda: check_bool(1, "normalize"), TypeError, "normalize must be a bool, got 1"),
        (lambda: check_dt(0.0), ValueError, "dt must be a finite time step > 0 s, got 0.0"),
        (lambda: check_dt("fast"), TypeError, "dt must be a number of seconds, got 'fast'"),
    ],
)
def test_scalar_checks_name_the_argument_and_the_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_array_checks_count_and_locate_the_bad_values():
    with pytest.raises(ValueError, match=r"v has 2 NaN values \(first at index \(0, 1\)\)"):
        check_finite_array(np.array([[0.0, np.nan], [np.nan, 1.0]]), "v")
    with pytest.raises(ValueError, match=r"v has 1 NaN/inf values \(first at index \(1,\)\)"):
        check_finite_array(np.array([0.0, np.inf]), "v")
    with pytest.raises(ValueError, match=r"reward has 1 non-finite values \(first at index \(2,\)\)"):
        check_finite_tensor(torch.tensor([0.0, 1.0, float("nan")]), "reward")
    with pytest.raises(ValueError, match=r"pre must hold spikes .* first 0.5 at index \(0, 1\)"):
        check_spike_tensor(torch.tensor([[0.0, 0.5]]), "pre", 2, torch.float64)
    with pytest.raises(ValueError, match=r"pre must be 2-D, got shape \(3,\)"):
        check_spike_tensor(torch.zeros(3), "pre", 2, torch.float64)
    with pytest.raises(ValueError, match=r"x has 1 non-binary values \(first: 2 at index \(1, 0\)\)"):
        check_binary_array([[0, 1], [2, 0]], "x", 2)
    with pytest.raises(ValueError, match="x has 1 characters other than '0' and '1' .first: 'a' at index 2"):
        check_binary_array("01a", "x", 1)


def test_array_checks_convert_without_changing_the_values():
    x = np.array([1.0, 0.0, 1.0], dtype=np.float32)
    out = check_binary_array(x[::-1], "x", (1, 2))
    assert out.dtype == np.uint8 and out.flags.c_contiguous and out.tolist() == [1, 0, 1]
    assert check_binary_array(torch.tensor([True, False]), "x", 1).tolist() == [1, 0]
    spikes = check_spike_tensor(np.array([[True, False]]), "s", 2, torch.float32)
    assert spikes.dtype == torch.float32 and spikes.tolist() == [[1.0, 0.0]]
    a = np.arange(3.0)
    assert check_finite_array(a, "a") is a


def test_numpy_generator_accepts_int_generator_and_none_only():
    g = np.random.default_rng(1)
    assert numpy_generator(g) is g
    assert numpy_generator(7).random() == np.random.default_rng(7).random()
    assert numpy_generator(np.int64(7)).random() == np.random.default_rng(7).random()
    assert isinstance(numpy_generator(None), np.random.Generator)
    for bad in (1.5, True, torch.Generator(), "3"):
        with pytest.raises(TypeError, match="seed must be an int, a numpy.random.Generator or None"):
            numpy_generator(bad)


def test_torch_generator_gives_equal_bits_for_equal_seeds():
    assert torch.equal(torch.rand(5, generator=torch_generator(3)),
                       torch.rand(5, generator=torch.Generator().manual_seed(3)))
    a = torch.rand(5, generator=torch_generator(np.random.default_rng(4)))
    assert torch.equal(a, torch.rand(5, generator=torch_generator(np.random.default_rng(4))))
    g = torch.Generator()
    assert torch_generator(g) is g
    assert torch_generator(None).device.type == "cpu"
    for bad in (1.5, False, "3"):
        with pytest.raises(TypeError, match="seed must be an int, a numpy or torch Generator, or None"):
            torch_generator(bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_torch_generator_checks_the_device():
    with pytest.raises(ValueError, match="seed generator must be on the CPU, got device cuda"):
        torch_generator(torch.Generator(device="cuda"))
    assert torch_generator(0, "cuda").device.type == "cuda"


def test_renamed_arguments_warn_forward_and_refuse_both_names():
    @renamed_arguments(dt_s="dt", duration_s="duration")
    def steps(duration, dt=1e-3):
        """Number of bins."""
        return round(duration / dt)

    assert steps.__doc__ == "Number of bins." and steps.__name__ == "steps"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert steps(1.0, dt=0.01) == 100
    with pytest.warns(DeprecationWarning, match="steps\\(\\): argument 'duration_s' is deprecated; use 'duration'"):
        assert steps(duration_s=1.0) == 1000
    with pytest.raises(TypeError, match="steps\\(\\) got both 'dt_s' \\(deprecated\\) and 'dt'"):
        steps(1.0, dt=1e-3, dt_s=1e-3)


def test_importing_validation_loads_neither_torch_nor_brian2():
    code = "import sys, biofit.validation; print('torch' in sys.modules, 'brian2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
