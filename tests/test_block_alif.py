"""BlockALIF against the sequential ALIF: identical spikes, the documented gradients, training.

References: the sequential `ALIF` layer (feed-forward), `BlockALIF.run_sequential` (the
`alif_update` step applied T times plus the delayed recurrent input), and `_sequential_detached`
below, a brute-force step loop written here from the model equations with the spike detached in
the reset and the threshold jump (the gradient convention BlockALIF documents).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biofit.neurons import ALIF
from biofit.neurons.block_alif import BlockALIF, RecurrentALIFState

DT = 1e-4
LEARN = ("tau_mem", "R", "v_rest", "v_reset", "v_th", "tau_adapt", "beta")


def _current(seed: int, t_len: int, batch: int, n: int, dtype=torch.float64, scale=1.6e-9):
    g = torch.Generator().manual_seed(seed)
    drive = torch.rand(t_len, batch, n, generator=g, dtype=dtype)
    bias = torch.rand(1, 1, n, generator=g, dtype=dtype)
    return scale * (0.4 * drive + 0.8 * bias)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pair(n: int, arp: int, seed: int, recurrent: bool = False, **kw):
    block = BlockALIF(n, DT, arp_steps=arp, recurrent=recurrent, **kw)
    if recurrent:
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            block.recurrent_weight.copy_(torch.randn(n, n, generator=g) * 3e-10)
    return block


def _sequential_detached(layer: BlockALIF, current: torch.Tensor) -> torch.Tensor:
    """Model equations step by step (exact integration), spike detached in reset and adaptation."""
    p = layer.params(current.dtype)
    alpha = torch.exp(-layer.dt / p["tau_mem"])
    rho = torch.exp(-layer.dt / p["tau_adapt"])
    k = torch.floor((p["t_ref"] + 1e-3 * layer.dt) / layer.dt)
    t_len, batch, n = current.shape
    v = p["v_rest"].expand(batch, n)
    a = torch.zeros(batch, n, dtype=current.dtype)
    left = torch.zeros(batch, n, dtype=current.dtype)
    delay = max(int(k.min()), 1)
    weight = layer.recurrent_weight.to(current.dtype) if layer.recurrent else None
    out = []
    for t in range(t_len):
        i_t = current[t]
        if weight is not None and t >= delay:
            pre = out[t - delay].detach() if layer.detach_recurrent else out[t - delay]
            i_t = i_t + pre @ weight.t()
        v_new = p["v_rest"] + (v - p["v_rest"]) * alpha + p["R"] * (1 - alpha) * i_t
        a = a * rho
        left = (left - 1).clamp(min=0)
        active = left == 0
        v_new = torch.where(active, v_new, v)
        z = layer._spike(v_new - p["v_th"] - a) * active
        fired = z.detach() > 0
        left = torch.where(fired, k.expand(batch, n), left)
        v = torch.where(fired, p["v_reset"].expand(batch, n), v_new)
        a = a + fired * p["beta"]
        out.append(z)
    return torch.stack(out)


def _isi_ok(spikes: torch.Tensor, min_isi: int) -> bool:
    s = spikes.reshape(spikes.shape[0], -1).t().bool()
    for train in s:
        times = torch.nonzero(train).flatten()
        if times.numel() > 1 and int(times.diff().min()) < min_isi:
            return False
    return True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arp=st.sampled_from([0, 1, 3, 7, 20]),
    adapt=st.booleans(),
    per_neuron=st.booleans(),
    t_len=st.integers(1, 130),
    batch=st.integers(1, 3),
    n=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1),
    kernel=st.sampled_from(["scan", "toeplitz"]),
)
def test_block_alif_matches_sequential_alif_spikes_and_traces(
    arp, adapt, per_neuron, t_len, batch, n, seed, kernel
):
    params = {"beta": 4e-3 if adapt else 0.0, "tau_adapt": 0.02}
    block = BlockALIF(n, DT, arp_steps=arp, per_neuron=per_neuron, kernel=kernel, **params)
    seq = ALIF(n, DT, t_ref=(arp + 1) * DT, per_neuron=per_neuron, **params)
    current = _current(seed, t_len, batch, n)
    s_blk, tr_blk = block.simulate(current)
    s_seq, tr_seq = seq.simulate(current)
    assert torch.equal(s_blk, s_seq)
    for name in ("v", "a"):
        torch.testing.assert_close(tr_blk[name], tr_seq[name], rtol=0, atol=1e-13)
    assert _isi_ok(s_blk, arp + 1)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arp=st.sampled_from([0, 1, 3, 7, 20]),
    adapt=st.booleans(),
    t_len=st.integers(1, 130),
    batch=st.integers(1, 3),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
    kernel=st.sampled_from(["scan", "toeplitz"]),
)
def test_recurrent_block_alif_matches_sequential_recurrence(arp, adapt, t_len, batch, n, seed,
                                                            kernel):
    block = _pair(n, arp, seed, recurrent=True, beta=4e-3 if adapt else 0.0, kernel=kernel)
    current = _current(seed, t_len, batch, n)
    s_blk = block(current)
    s_seq, _, _ = block.run_sequential(current)
    assert torch.equal(s_blk, s_seq)
    assert _isi_ok(s_blk, arp + 1)


def test_block_alif_spikes_a_lot_and_still_matches_with_long_blocks():
    """Strong drive: most blocks contain a spike, and refractoriness crosses block boundaries."""
    current = _current(3, 600, 4, 8, scale=1e-8)
    for arp in (1, 7, 20):
        for kernel in ("scan", "toeplitz"):
            block = _pair(8, arp, 3, recurrent=True, beta=2e-4, tau_adapt=0.02, kernel=kernel)
            s_blk = block(current).detach()
            assert float(s_blk.sum()) > 0.2 * s_blk.numel() / (arp + 1)  # a fifth of the maximum
            assert torch.equal(s_blk, block.run_sequential(current)[0])


def test_per_neuron_refractory_lengths_use_the_shortest_as_block():
    t_ref = np.array([3, 5, 4, 9]) * DT
    block = BlockALIF(4, DT, t_ref=t_ref)
    seq = ALIF(4, DT, t_ref=t_ref)
    current = _current(5, 300, 2, 4, scale=5e-9)
    assert block.arp_steps == 2
    assert torch.equal(block(current), seq(current))


@pytest.mark.parametrize("kernel", ["scan", "toeplitz"])
@pytest.mark.parametrize("recurrent", [False, True])
def test_split_run_with_returned_state_equals_one_run(recurrent, kernel):
    block = _pair(5, 6, 11, recurrent=recurrent, beta=3e-3, kernel=kernel)
    current = _current(11, 200, 2, 5, scale=4e-9)
    whole = block(current)
    first, state = block(current[:93], return_state=True)
    second = block(current[93:], state=state)
    assert torch.equal(torch.cat([first, second]), whole)
    assert isinstance(state, RecurrentALIFState) == recurrent


def test_alif_state_dict_loads_into_block_alif():
    seq = ALIF(3, DT, t_ref=5 * DT, learn=("tau_mem", "v_th"))
    block = BlockALIF(3, DT, t_ref=5 * DT, learn=("tau_mem", "v_th"))
    with torch.no_grad():
        seq.params.raw_v_th.add_(0.3)
    block.load_state_dict(seq.state_dict())
    current = _current(2, 120, 2, 3, scale=3e-9)
    assert torch.equal(block(current), seq(current))


@pytest.mark.parametrize("kernel", ["scan", "toeplitz"])
@pytest.mark.parametrize("recurrent, detach", [(False, True), (True, True), (True, False)])
@pytest.mark.parametrize("arp, per_neuron", [(0, True), (3, False), (20, True)])
def test_block_gradients_equal_sequential_with_detached_reset(recurrent, detach, arp, per_neuron,
                                                              kernel):
    block = _pair(5, arp, 7, recurrent=recurrent, detach_recurrent=detach, learn=LEARN,
                  per_neuron=per_neuron, beta=4e-3, width=4e-3, kernel=kernel)
    current = _current(7, 150, 3, 5, scale=4e-9).requires_grad_()
    readout = torch.randn(150, 3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def grads(run):
        block.zero_grad()
        current.grad = None
        spikes = run()
        (spikes * readout).sum().backward()
        out = {name: p.grad.clone() for name, p in block.named_parameters()}
        out["current"] = current.grad.clone()
        return spikes.detach(), out

    s_blk, g_blk = grads(lambda: block(current))
    s_ref, g_ref = grads(lambda: _sequential_detached(block, current))
    assert torch.equal(s_blk, s_ref) and float(s_blk.sum()) > 20
    for name, g in g_ref.items():
        assert torch.isfinite(g_blk[name]).all(), name
        assert float(g.abs().max()) > 0, name
        torch.testing.assert_close(g_blk[name], g, rtol=1e-8, atol=1e-8 * float(g.abs().max()))


@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "multi_gaussian"])
@pytest.mark.parametrize("recurrent, detach", [(False, True), (True, True), (True, False)])
@pytest.mark.parametrize("arp", [0, 1, 5])
def test_scan_and_toeplitz_kernels_agree_on_spikes_traces_state_and_gradients(
    arp, recurrent, detach, surrogate
):
    """The CPU scan (`_block_numba`) and the parallel closed form (`_block_kernels`) are two
    algorithms for one model: same spikes, same gradients, also through the v and a traces and
    the returned state, on a run split in two (the second part starts from the first's state;
    the first part records no traces, the second does)."""
    current = _current(13, 97, 3, 6, scale=5e-9).requires_grad_()
    g = torch.Generator().manual_seed(1)
    weights = [torch.randn(n_t, 3, 6, dtype=torch.float64, generator=g) for n_t in (97, 57, 57)]
    out = {}
    for kernel in ("scan", "toeplitz"):
        block = _pair(6, arp, 13, recurrent=recurrent, detach_recurrent=detach, learn=LEARN,
                      beta=3e-3, width=4e-3, surrogate=surrogate, kernel=kernel)
        current.grad = None
        z1, _, state = block._run(current[:40], None, record=False)
        z2, traces, final = block._run(current[40:], state, record=True)
        spikes, v, a = torch.cat([z1, z2]), traces["v"], traces["a"]
        loss = sum((x * w).sum() for x, w in zip((spikes, v * 1e3, a * 1e3), weights))
        loss = loss + final.v.sum() * 1e3 + final.a.sum() * 1e3
        loss.backward()
        grads = {name: p.grad.clone() for name, p in block.named_parameters()}
        grads["current"] = current.grad.clone()
        out[kernel] = spikes.detach(), v.detach(), grads
    (s_scan, v_scan, g_scan), (s_toep, v_toep, g_toep) = out["scan"], out["toeplitz"]
    assert torch.equal(s_scan, s_toep) and float(s_scan.sum()) > 10
    torch.testing.assert_close(v_scan, v_toep, rtol=0, atol=1e-13)
    for name, g in g_toep.items():
        assert float(g.abs().max()) > 0, name
        torch.testing.assert_close(g_scan[name], g, rtol=1e-8, atol=1e-8 * float(g.abs().max()))


def test_scan_kernel_backward_can_run_twice_with_retained_graph():
    block = _pair(4, 3, 2, recurrent=True, detach_recurrent=False, learn=("tau_mem",), beta=3e-3)
    current = _current(2, 60, 2, 4, scale=5e-9)
    loss = block(current).sum() + 0.0 * block.recurrent_weight.sum()
    loss.backward(retain_graph=True)
    once = block.params.raw_tau_mem.grad.clone()
    loss.backward()
    torch.testing.assert_close(block.params.raw_tau_mem.grad, 2 * once)


def test_float32_spikes_differ_only_after_a_tie_within_rounding():
    """float32: block and sequential membrane potentials differ by rounding, so spikes can differ
    only where v - theta is within a few float32 ulps of 0 in the sequential run."""
    n_runs, n_differ = 12, 0
    for seed in range(n_runs):
        block = BlockALIF(16, DT, arp_steps=10, beta=2e-3)
        current = _current(seed, 400, 8, 16, dtype=torch.float32, scale=4e-9)
        s_blk = block(current)
        seq = ALIF(16, DT, t_ref=11 * DT, beta=2e-3)
        s_seq, tr = seq.simulate(current)
        diff = torch.nonzero(s_blk != s_seq)
        if diff.numel() == 0:
            continue
        n_differ += 1
        t, b, i = (int(x) for x in diff[0])
        # the sequential potential just before any reset at step t, minus the threshold
        alpha = math.exp(-DT / 0.02)
        v_prev = float(tr["v"][t - 1, b, i]) if t > 0 else -0.07
        a_t = float(tr["a"][t - 1, b, i]) * math.exp(-DT / 0.2) if t > 0 else 0.0
        v_t = -0.07 * (1 - alpha) + 1e8 * (1 - alpha) * float(current[t, b, i]) + alpha * v_prev
        assert abs(v_t - (-0.05) - a_t) < 1e-6
    assert n_differ <= n_runs // 2


def _temporal_task(seed: int, n_samples: int, t_len: int = 80, n_in: int = 12):
    """Two classes with equal rates: channel group A fires early and B late, or the reverse."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n_samples,), generator=g)
    rate = torch.full((t_len, n_samples, n_in), 0.02)
    half = t_len // 2
    early = torch.zeros(t_len, n_samples, n_in, dtype=torch.bool)
    early[:half, :, : n_in // 2] = True
    early[half:, :, n_in // 2 :] = True
    flip = labels.bool().view(1, -1, 1)
    rate = torch.where(early ^ flip, torch.full_like(rate, 0.25), rate)
    return (torch.rand(rate.shape, generator=g) < rate).to(torch.float64), labels


def _train(layer_cls, seed: int, **kw) -> float:
    torch.manual_seed(seed)
    n_in, n_hid = 12, 16
    layer = layer_cls(n_hid, 1e-3, learn=("tau_mem", "v_th", "tau_adapt"), beta=2e-3, width=3e-3,
                      **kw).double()
    w_in = torch.nn.Parameter(torch.randn(n_in, n_hid, dtype=torch.float64) * 0.4e-9 + 0.25e-9)
    readout = torch.nn.Linear(n_hid, 2).double()
    opt = torch.optim.Adam([w_in, *layer.parameters(), *readout.parameters()], lr=0.02)
    for step in range(30):
        x, y = _temporal_task(1000 + step, 32)
        # temporal readout: spikes weighted by a ramp, so the order of activity matters
        ramp = torch.linspace(-1.0, 1.0, x.shape[0], dtype=torch.float64).view(-1, 1, 1)
        feats = (layer(x @ w_in) * ramp).sum(0)
        loss = torch.nn.functional.cross_entropy(readout(feats), y)
        opt.zero_grad()
        loss.backward()
        for p in layer.parameters():
            assert torch.isfinite(p.grad).all()
        opt.step()
    x, y = _temporal_task(7, 256)
    with torch.no_grad():
        ramp = torch.linspace(-1.0, 1.0, x.shape[0], dtype=torch.float64).view(-1, 1, 1)
        pred = readout((layer(x @ w_in) * ramp).sum(0)).argmax(1)
    return float((pred == y).double().mean())


def test_training_with_block_alif_reaches_the_accuracy_of_sequential_alif():
    acc_block = _train(BlockALIF, 0, arp_steps=3)
    acc_seq = _train(ALIF, 0, t_ref=4e-3)
    assert acc_seq > 0.8 and acc_block > 0.8
    assert abs(acc_block - acc_seq) <= 0.1


@pytest.mark.parametrize("bad", [-1, 2.5, 3.0, "3", True])
def test_bad_arp_steps_raise_value_error(bad):
    with pytest.raises(ValueError, match="arp_steps"):
        BlockALIF(3, DT, arp_steps=bad)


def test_unknown_kernel_raises_value_error():
    with pytest.raises(ValueError, match="kernel must be one of"):
        BlockALIF(3, DT, arp_steps=2, kernel="fft")


def test_arp_steps_and_t_ref_together_raise():
    with pytest.raises(ValueError, match="either arp_steps or t_ref"):
        BlockALIF(3, DT, arp_steps=2, t_ref=3e-4)


def test_bad_current_raises_value_error_naming_the_problem():
    block = BlockALIF(3, DT, arp_steps=2)
    with pytest.raises(ValueError, match="rank 3"):
        block(torch.zeros(10, 3))
    bad = torch.zeros(10, 2, 3)
    bad[4, 1, 2] = float("nan")
    with pytest.raises(ValueError, match="1 NaN"):
        block(bad)
    with pytest.raises(ValueError, match="neurons"):
        block(torch.zeros(10, 2, 4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_block_alif_on_cuda_matches_cpu():
    block = _pair(6, 7, 1, recurrent=True, beta=3e-3)
    current = _current(1, 300, 4, 6)
    s_cpu = block(current)
    s_gpu = block.to("cuda")(current.cuda())
    assert torch.equal(s_gpu.cpu(), s_cpu)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arp=st.sampled_from([0, 1, 3, 7, 20, 40]),
    recurrent=st.booleans(),
    adapt=st.booleans(),
    t_len=st.integers(1, 1500),
    seed=st.integers(0, 2**31 - 1),
)
def test_slow_long_runs_match_sequential(arp, recurrent, adapt, t_len, seed):
    block = _pair(12, arp, seed, recurrent=recurrent, beta=4e-3 if adapt else 0.0)
    current = _current(seed, t_len, 4, 12, scale=3e-9)
    s_blk = block(current)
    assert torch.equal(s_blk, block.run_sequential(current)[0])
    assert _isi_ok(s_blk, arp + 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_surrogate_derivatives_equal_the_torch_ones(dtype):
    """The scan evaluates the surrogate inside its compiled backward: same values as
    `biofit.neurons.surrogate.surrogate_grad` (the formulas; ulp-level for the exponentials)."""
    from biofit.neurons._surrogate_kernels import KINDS, constants, kind_code, surrogate_grad_into
    from biofit.neurons.surrogate import SURROGATES, surrogate_grad

    assert set(KINDS) == set(SURROGATES)
    x = (np.random.default_rng(3).standard_normal(999) * 2e-3).astype(dtype)
    x[:3] = (0.0, 1e-3, -1e-3)  # the kinks of the triangle and the edges of the boxcar
    for name in KINDS:
        out = np.full_like(x, np.nan)
        surrogate_grad_into(kind_code(name), x, constants(1e-3, dtype), out, x.size - 1)
        ref = surrogate_grad(name, torch.from_numpy(x[:-1]), 1e-3).numpy()
        tol = 4 * np.finfo(dtype).eps * np.abs(ref).max()
        np.testing.assert_allclose(out[:-1], ref, rtol=0, atol=tol, err_msg=name)
        assert np.isnan(out[-1])  # `count` elements only
    with pytest.raises(ValueError, match="unknown surrogate 'relu'"):
        kind_code("relu")
