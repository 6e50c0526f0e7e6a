"""Event-driven input projection against the dense product ``S @ W`` (brute force) and autograd."""

from __future__ import annotations

import pytest
import torch

from biofit.neurons.spike_input import SpikeEvents, SpikeProjection, project_spikes


def _spikes(shape, p, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).to(torch.float64)


@pytest.mark.parametrize("p", [0.0, 0.02, 0.5])
def test_current_and_weight_gradient_equal_the_dense_product(p):
    spikes = _spikes((50, 3, 40), p, seed=1)  # [T, B, N_in]: rows t * B + b
    g = torch.Generator().manual_seed(2)
    weight = torch.randn(40, 7, generator=g, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(150, 7, generator=g, dtype=torch.float64)
    current = project_spikes(SpikeEvents.from_dense(spikes), weight)
    (grad,) = torch.autograd.grad(current, weight, grad_out)
    dense = spikes.reshape(150, 40) @ weight
    (grad_ref,) = torch.autograd.grad(dense, weight, grad_out)
    torch.testing.assert_close(current, dense, rtol=0, atol=1e-12)
    torch.testing.assert_close(grad, grad_ref, rtol=0, atol=1e-12)


def test_events_index_rows_and_inputs_both_ways():
    spikes = torch.tensor([[0, 1, 1], [0, 0, 0], [1, 0, 1]], dtype=torch.bool)
    e = SpikeEvents.from_dense(spikes)
    assert e.n_rows == 3 and e.n_inputs == 3
    assert e.row_offsets.tolist() == [0, 2, 2] and e.inputs.tolist() == [1, 2, 0, 2]
    assert e.input_offsets.tolist() == [0, 1, 2] and e.rows.tolist() == [2, 0, 0, 2]


def test_module_learns_weights_of_the_inputs_that_spiked_only():
    layer = SpikeProjection(4, 2)
    spikes = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]])
    layer(SpikeEvents.from_dense(spikes)).sum().backward()
    assert layer.weight.grad.tolist() == [[2.0, 2.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]


def test_non_binary_spikes_and_wrong_weight_shape_raise_value_error():
    with pytest.raises(ValueError, match=r"row 1, input 0 is 0\.5"):
        SpikeEvents.from_dense(torch.tensor([[1.0, 0.0], [0.5, 1.0]]))
    with pytest.raises(ValueError, match="nan"):
        SpikeEvents.from_dense(torch.tensor([[float("nan"), 0.0]]))
    with pytest.raises(ValueError, match=r"\[\.\.\., N_in\]"):
        SpikeEvents.from_dense(torch.ones(3))
    events = SpikeEvents.from_dense(torch.ones(2, 3))
    with pytest.raises(ValueError, match="N_in = 3"):
        project_spikes(events, torch.ones(4, 2))
