"""Statistics of biofit.encoding.poisson against closed forms.

Every tolerance is a multiple (3, as the issue asks, or a chi-square bound) of the standard error
of the estimator, computed from the sampling distribution: binomial / Poisson variances for means,
the delta method with the sample's own central moments for CV and Fano factor, the chi-square
distribution for per-bin profiles. Seeds are fixed, so each test is deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from biofit.encoding.poisson import (
    _dead_time_filter,
    poisson_spike_counts,
    poisson_spike_tensor,
    poisson_spike_times,
    poisson_spike_trains,
    rate_code,
)

Z = 3.0  # sigma multiple for single-statistic checks


def _ratio_and_se(x: np.ndarray, kind: str) -> tuple[float, float]:
    """CV (std/mean) or Fano factor (var/mean) of i.i.d. samples ``x`` and its delta-method SE."""
    x = np.asarray(x, dtype=np.float64)
    n, m = x.size, x.mean()
    d = x - m
    v, mu3, mu4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    if kind == "cv":
        value, g_m, g_v = math.sqrt(v) / m, -math.sqrt(v) / m**2, 1 / (2 * m * math.sqrt(v))
    else:
        value, g_m, g_v = v / m, -v / m**2, 1 / m
    var = (g_m**2 * v + g_v**2 * (mu4 - v**2) + 2 * g_m * g_v * mu3) / n
    return value, math.sqrt(var)


def _isis(raster: np.ndarray) -> np.ndarray:
    """Inter-spike intervals (bins) pooled over the trains of a bool raster."""
    return np.concatenate([np.diff(np.flatnonzero(row)) for row in raster])


def _assert_within(value, expected, se, what):
    assert abs(value - expected) <= Z * se, f"{what}: {value} vs {expected} (3 sigma = {Z * se})"


@pytest.mark.parametrize("rate_hz", [5.0, 20.0, 100.0, 1000.0])
def test_binned_spike_probability_is_one_minus_exp_rate_dt(rate_hz):
    dt = 1e-3
    raster = poisson_spike_trains(rate_hz, 10.0, dt, n_trains=200, seed=11)
    p = -math.expm1(-rate_hz * dt)
    _assert_within(raster.mean(), p, math.sqrt(p * (1 - p) / raster.size), "P(spike in bin)")


@pytest.mark.parametrize("rate_hz", [5.0, 100.0, 1000.0])
def test_binned_isi_cv_is_geometric_sqrt_one_minus_p(rate_hz):
    """Bins are i.i.d. Bernoulli(p): ISI ~ Geometric(p), CV = sqrt(1 - p) (-> 1 as r dt -> 0)."""
    dt = 1e-3
    cv, se = _ratio_and_se(_isis(poisson_spike_trains(rate_hz, 20.0, dt, 200, seed=12)), "cv")
    _assert_within(cv, math.sqrt(math.exp(-rate_hz * dt)), se, "ISI CV")


@pytest.mark.parametrize("rate_hz", [5.0, 100.0, 1000.0])
def test_binned_fano_factor_is_binomial_one_minus_p(rate_hz):
    """Counts of spike bins in 100-bin windows are Binomial(100, p): Fano = 1 - p."""
    dt = 1e-3
    raster = poisson_spike_trains(rate_hz, 10.0, dt, 200, seed=13)
    counts = raster.reshape(200, -1, 100).sum(axis=2).ravel()
    fano, se = _ratio_and_se(counts, "fano")
    _assert_within(fano, math.exp(-rate_hz * dt), se, "Fano factor")


@pytest.mark.parametrize("rate_hz", [20.0, 1000.0])
def test_counts_have_poisson_mean_and_unit_fano_even_at_rate_dt_one(rate_hz):
    dt = 1e-3
    counts = poisson_spike_counts(rate_hz, 5.0, dt, n_trains=200, seed=14)
    mu = rate_hz * dt
    _assert_within(counts.mean(), mu, math.sqrt(mu / counts.size), "mean count per bin")
    fano, se = _ratio_and_se(counts.ravel(), "fano")
    _assert_within(fano, 1.0, se, "Fano factor of bin counts")


def test_binned_raster_is_the_event_indicator_of_the_counts():
    args = (np.linspace(0.0, 800.0, 2000), 2.0, 1e-3)
    trains = poisson_spike_trains(*args, n_trains=50, seed=7)
    counts = poisson_spike_counts(*args, n_trains=50, seed=7)
    np.testing.assert_array_equal(trains, counts > 0)


@pytest.mark.parametrize("rate_hz", [20.0, 1000.0])
def test_event_times_are_a_poisson_process(rate_hz):
    """Exact count r*T per train (3 sigma), exponential ISIs (KS test), Fano 1 in 50 ms windows."""
    duration = 20.0 if rate_hz < 100 else 2.0
    times = poisson_spike_times(rate_hz, duration, n_trains=200, seed=15)
    n = np.array([t.size for t in times])
    mu = rate_hz * duration
    _assert_within(n.mean(), mu, math.sqrt(mu / n.size), "events per train")
    assert all(np.all(np.diff(t) > 0) and t[0] >= 0 and t[-1] < duration for t in times)
    isi = np.concatenate([np.diff(t) for t in times])
    assert stats.kstest(isi, stats.expon(scale=1 / rate_hz).cdf).pvalue > 1e-3
    cv, se = _ratio_and_se(isi, "cv")
    _assert_within(cv, 1.0, se, "ISI CV")
    windows = np.concatenate([np.histogram(t, bins=int(duration / 0.05), range=(0, duration))[0]
                              for t in times])
    fano, se = _ratio_and_se(windows, "fano")
    _assert_within(fano, 1.0, se, "Fano factor")


@pytest.mark.parametrize("rate_hz, dt, refractory", [(50.0, 1e-3, 2e-3), (200.0, 1e-3, 2e-3),
                                                      (100.0, 1e-4, 3e-3)])
def test_dead_time_raster_has_requested_rate_and_discrete_renewal_cv(rate_hz, dt, refractory):
    """Output rate exactly r; ISI = k + Geometric(h): min k+1 bins, CV = (1 - k q) sqrt(1 - h)."""
    n_bins = round(10.0 / dt) if dt >= 1e-3 else round(2.0 / dt)
    raster = poisson_spike_trains(rate_hz, n_bins * dt, dt, 100, refractory=refractory, seed=16)
    q, k = rate_hz * dt, math.ceil(refractory / dt - 1e-9)
    h = q / (1 - k * q)
    cv_theory = (1 - k * q) * math.sqrt(1 - h)
    # renewal count: Var(N) -> CV^2 E[N] per train (Cox 1962, Renewal Theory, sec. 3.3)
    _assert_within(raster.mean(), q, cv_theory * math.sqrt(q / raster.size), "spike bins")
    isi = _isis(raster)
    assert isi.min() == k + 1
    cv, se = _ratio_and_se(isi, "cv")
    _assert_within(cv, cv_theory, se, "ISI CV")
    # the chain starts stationary: P(spike in the first bin) is already q
    first = poisson_spike_trains(rate_hz, 4 * dt, dt, 20000, refractory=refractory, seed=17)[:, 0]
    _assert_within(first.mean(), q, math.sqrt(q * (1 - q) / first.size), "P(spike in bin 0)")


@pytest.mark.parametrize("rate_hz, refractory", [(50.0, 2e-3), (300.0, 2e-3)])
def test_dead_time_event_times_have_cv_one_minus_rate_tau(rate_hz, refractory):
    duration = 10.0
    times = poisson_spike_times(rate_hz, duration, 100, refractory=refractory, seed=18)
    isi = np.concatenate([np.diff(t) for t in times])
    lam = rate_hz / (1 - rate_hz * refractory)
    assert stats.kstest(isi - refractory, stats.expon(scale=1 / lam).cdf).pvalue > 1e-3
    cv, se = _ratio_and_se(isi, "cv")
    _assert_within(cv, 1 - rate_hz * refractory, se, "ISI CV")
    # stationary start: the count in [0, tau) has mean r*tau, like any window of length tau
    early = poisson_spike_times(rate_hz, refractory, 4000, refractory=refractory, seed=19)
    n0 = np.array([t.size for t in early])
    p0 = rate_hz * refractory  # at most one event fits in [0, tau): Bernoulli(r tau)
    _assert_within(n0.mean(), p0, math.sqrt(p0 * (1 - p0) / n0.size), "count in [0, tau)")


@pytest.mark.parametrize("refractory", [0.0, 2e-3])
def test_event_times_match_elephant_isi_and_first_spike_distributions(refractory):
    """Peer: Elephant's StationaryPoissonProcess (rate = output rate, equilibrium start)."""
    elephant = pytest.importorskip("elephant.spike_train_generation")
    pq = pytest.importorskip("quantities")
    rate, duration, n = 300.0, 2.0, 200
    dead = refractory * pq.s if refractory else None
    proc = elephant.StationaryPoissonProcess(rate=rate * pq.Hz, t_stop=duration * pq.s,
                                             refractory_period=dead)
    global_state = np.random.get_state()
    np.random.seed(26)  # Elephant draws from numpy's global state; restored so that test order does not matter
    try:
        theirs = proc.generate_n_spiketrains(n, as_array=True)
    finally:
        np.random.set_state(global_state)
    ours = poisson_spike_times(rate, duration, n, refractory=refractory, seed=26)
    isi = [np.concatenate([np.diff(t) for t in trains]) for trains in (ours, theirs)]
    assert isi[0].min() >= refractory
    assert stats.ks_2samp(*isi).pvalue > 1e-3
    first = [np.array([t[0] for t in trains]) for trains in (ours, theirs)]
    assert stats.ks_2samp(*first).pvalue > 1e-3


def _greedy_reference(rows, pos, n_trains, sep, start):
    """Dead time written out: walk each train's events in order, keep those >= sep after the last."""
    kept = np.zeros(rows.size, dtype=bool)
    for train in range(n_trains):
        last = start[train] - sep
        for i in np.flatnonzero(rows == train):
            if pos[i] >= last + sep:
                kept[i], last = True, pos[i]
    return kept


@settings(max_examples=60, deadline=None)
@given(n_trains=st.integers(1, 6), n_events=st.integers(0, 80), span=st.integers(1, 50),
       sep=st.floats(0.0, 10.0), integer=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_dead_time_filter_equals_sequential_reference(n_trains, n_events, span, sep, integer, seed):
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.integers(0, n_trains, n_events))
    pos = rng.random(n_events) * span
    if integer:  # the binned path: integer bins, duplicates, integer separation
        pos, sep = np.floor(pos), float(round(sep))
    order = np.lexsort((pos, rows))
    rows, pos = rows[order], pos[order]
    start = rng.random(n_trains) * sep
    kept = _greedy_reference(rows, pos, n_trains, sep, start)
    got_rows, got_pos = _dead_time_filter(rows, pos, n_trains, sep, start, float(span))
    np.testing.assert_array_equal(got_rows, rows[kept])
    np.testing.assert_array_equal(got_pos, pos[kept])


def _chi2_within_bound(observed, expected, variance, what):
    """Sum of squared z-scores of independent bins vs chi2(df): mean df, sd sqrt(2 df)."""
    chi2 = float(np.sum((observed - expected) ** 2 / variance))
    df = observed.size
    assert abs(chi2 - df) < 4 * math.sqrt(2 * df), f"{what}: chi2 {chi2:.0f} for {df} bins"


def test_inhomogeneous_raster_follows_the_rate_profile_bin_by_bin():
    dt, n_trains = 1e-3, 4000
    rate = 300.0 * (1 + np.sin(np.linspace(0, 4 * np.pi, 500)))  # 0 .. 600 Hz
    raster = poisson_spike_trains(rate, 0.5, dt, n_trains, seed=20)
    p = -np.expm1(-rate * dt)
    ok = p > 0
    _chi2_within_bound(raster.sum(0)[ok], n_trains * p[ok], n_trains * p[ok] * (1 - p[ok]),
                       "per-bin spike probability")
    assert not raster[:, ~ok].any()


def test_per_train_rates_give_each_train_its_own_rate():
    rate = np.repeat([[5.0], [50.0], [500.0]], 20000, axis=1)
    raster = poisson_spike_trains(rate, 20.0, 1e-3, seed=21)
    p = -np.expm1(-rate[:, 0] * 1e-3)
    for row, pi in zip(raster, p):
        _assert_within(row.mean(), pi, math.sqrt(pi * (1 - pi) / row.size), "per-train rate")


def test_inhomogeneous_event_times_histogram_matches_rate_times_dt():
    dt, n_trains = 1e-3, 2000
    rate = np.where(np.arange(400) < 200, 40.0, 400.0)
    times = poisson_spike_times(rate, 0.4, n_trains=n_trains, seed=22, dt=dt)
    hist = np.histogram(np.concatenate(times), bins=400, range=(0, 0.4))[0]
    _chi2_within_bound(hist, n_trains * rate * dt, n_trains * rate * dt, "event histogram")


def test_dead_time_with_varying_rate_keeps_the_dead_time_and_follows_slow_rate():
    rate = np.repeat([20.0, 150.0], 5000)  # a step, slow on the scale of the 3 ms dead time
    raster = poisson_spike_trains(rate, 10.0, 1e-3, n_trains=200, refractory=3e-3, seed=23)
    assert _isis(raster).min() == 4
    for half, r in ((raster[:, 100:5000], 20.0), (raster[:, 5100:], 150.0)):
        q = r * 1e-3  # renewal counts: variance of the mean ~ CV^2 q / size; CV < 1
        _assert_within(half.mean(), q, math.sqrt(q / half.size), f"rate in the {r} Hz half")


def test_same_seed_same_bits_and_generators_are_accepted():
    kw = dict(rate_hz=30.0, duration=1.0, dt=1e-3, n_trains=5)
    a = poisson_spike_trains(**kw, seed=3)
    np.testing.assert_array_equal(a, poisson_spike_trains(**kw, seed=3))
    np.testing.assert_array_equal(a, poisson_spike_trains(**kw, seed=np.random.default_rng(3)))
    assert not np.array_equal(a, poisson_spike_trains(**kw, seed=4))
    t1 = poisson_spike_times(30.0, 1.0, 3, refractory=1e-3, seed=5)
    t2 = poisson_spike_times(30.0, 1.0, 3, refractory=1e-3, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(t1, t2))
    g = torch.Generator().manual_seed(9)
    s1 = poisson_spike_tensor(torch.full((4, 6), 80.0), 1e-3, n_steps=50, seed=g)
    s2 = poisson_spike_tensor(torch.full((4, 6), 80.0), 1e-3, n_steps=50, seed=9)
    assert torch.equal(s1, s2)
    s3 = poisson_spike_tensor(torch.full((4, 6), 80.0), 1e-3, n_steps=50, seed=np.random.default_rng(2))
    assert torch.equal(s3, poisson_spike_tensor(torch.full((4, 6), 80.0), 1e-3, n_steps=50,
                                                seed=np.random.default_rng(2)))


@pytest.mark.parametrize(
    "call, old, new",
    [
        (lambda: poisson_spike_trains(30.0, duration_s=0.1, dt=1e-3, seed=0), "duration_s", "duration"),
        (lambda: poisson_spike_trains(30.0, 0.1, dt_s=1e-3, seed=0), "dt_s", "dt"),
        (lambda: poisson_spike_trains(30.0, 0.1, 1e-3, refractory_s=1e-3, seed=0), "refractory_s",
         "refractory"),
        (lambda: poisson_spike_counts(30.0, 0.1, dt_s=1e-3, seed=0), "dt_s", "dt"),
        (lambda: poisson_spike_times(30.0, duration_s=0.1, seed=0), "duration_s", "duration"),
        (lambda: poisson_spike_tensor(torch.ones(2, 3), dt_s=1e-3, n_steps=4, seed=0), "dt_s", "dt"),
        (lambda: rate_code(torch.ones(2, 3), 4, dt_s=1e-3, max_rate_hz=10.0, seed=0), "dt_s", "dt"),
        (lambda: rate_code(torch.ones(2, 3), 4, 1e-3, 10.0, generator=torch.Generator()), "generator",
         "seed"),
    ],
)
def test_old_argument_names_still_work_with_a_deprecation_warning_naming_the_new(call, old, new):
    with pytest.warns(DeprecationWarning, match=f"'{old}' is deprecated; use '{new}'"):
        call()


def test_old_and_new_name_together_is_a_type_error():
    with pytest.raises(TypeError, match="both 'generator' .deprecated. and 'seed'"):
        rate_code(torch.ones(2, 3), 4, 1e-3, 10.0, generator=torch.Generator(), seed=1)


@pytest.mark.parametrize("rate_hz", [20.0, 1000.0])
def test_torch_spikes_have_probability_one_minus_exp_and_binomial_fano(rate_hz):
    dt = 1e-3
    spikes = poisson_spike_tensor(torch.full((50, 40), rate_hz), dt, n_steps=1000, seed=24)
    assert spikes.shape == (1000, 50, 40) and spikes.dtype == torch.float32
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    p = -math.expm1(-rate_hz * dt)
    _assert_within(spikes.mean().item(), p, math.sqrt(p * (1 - p) / spikes.numel()), "P(spike)")
    counts = spikes.reshape(10, 100, -1).sum(1).flatten().numpy()
    fano, se = _ratio_and_se(counts, "fano")
    _assert_within(fano, 1 - p, se, "Fano factor")


def test_rate_code_flattens_features_and_scales_to_max_rate():
    features = torch.zeros(3, 2, 2)
    features[:, 0, 1] = 1.0  # flattened neuron 1 fires at max_rate_hz, the others never
    spikes = rate_code(features, n_steps=20000, dt=1e-3, max_rate_hz=200.0, seed=25)
    assert spikes.shape == (20000, 3, 4)
    assert spikes[:, :, [0, 2, 3]].sum() == 0
    p = -math.expm1(-0.2)
    col = spikes[:, :, 1]
    _assert_within(col.mean().item(), p, math.sqrt(p * (1 - p) / col.numel()), "P(spike)")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_torch_spikes_stay_on_the_cuda_device():
    rate = torch.full((8, 16), 100.0, device="cuda")
    assert poisson_spike_tensor(rate, 1e-3, n_steps=10, seed=0).device.type == "cuda"
    with pytest.raises(ValueError, match="seed generator must be on device cuda, got device cpu"):
        poisson_spike_tensor(rate, 1e-3, n_steps=10, seed=torch.Generator())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: poisson_spike_trains([1.0, -2.0, 3.0, -4.0], 4e-3, 1e-3),
         r"2 negative value\(s\) \(first at index 1\): -2.0 Hz"),
        (lambda: poisson_spike_trains([[1.0, 2.0], [np.nan, np.inf]], 2e-3, 1e-3),
         r"2 NaN or infinite value\(s\) \(first at index \(1, 0\)\): nan"),
        (lambda: poisson_spike_trains(np.nan, 1.0, 1e-3), "1 NaN or infinite"),
        (lambda: poisson_spike_trains(10.0, 1.0, 0.0), "dt must be a finite time step > 0 s, got 0.0"),
        (lambda: poisson_spike_trains(10.0, -1.0, 1e-3), "duration must be .* got -1.0"),
        (lambda: poisson_spike_trains(10.0, 1e-4, 1e-3), "duration=0.0001 is shorter than one"),
        (lambda: poisson_spike_trains(10.0, 1.0, 1e-3, refractory=-1e-3),
         "refractory must be .* got -0.001"),
        (lambda: poisson_spike_trains(400.0, 1.0, 1e-3, refractory=2e-3),
         "rate_hz=400.0 Hz is impossible with refractory=0.002 .* = 333.333 Hz"),
        (lambda: poisson_spike_trains(600.0, 1.0, 1e-4, refractory=2e-3),
         "rate_hz=600.0 Hz is impossible"),
        (lambda: poisson_spike_times(600.0, 1.0, refractory=2e-3),
         "rate_hz=600.0 Hz is impossible with refractory=0.002: .* = 500 Hz"),
        (lambda: poisson_spike_trains(np.ones(999), 1.0, 1e-3), r"shape \(999,\).* n_bins = 1000"),
        (lambda: poisson_spike_trains(np.ones((3, 1000)), 1.0, 1e-3, n_trains=2),
         "n_trains=2 does not match rate_hz with 3 rows"),
        (lambda: poisson_spike_times(np.ones(10), 1.0), r"shape \(10,\): a time-varying rate"),
        (lambda: poisson_spike_tensor(torch.tensor([[1.0, -1.0]]), 1e-3, n_steps=3),
         r"1 negative value\(s\) \(first at index \(0, 1\): -1.0 Hz\)"),
        (lambda: poisson_spike_tensor(torch.ones(2, 3), 1e-3), "needs n_steps >= 1"),
        (lambda: poisson_spike_tensor(torch.ones(5, 2, 3), 1e-3, n_steps=4), r"shape \(5, 2, 3\)"),
        (lambda: rate_code(torch.tensor([[0.5, 1.5]]), 5, 1e-3, 100.0),
         r"1 value\(s\) outside \[0, 1\] \(first at index \(0, 1\): 1.5\)"),
    ],
)
def test_bad_input_raises_value_error_naming_the_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()
