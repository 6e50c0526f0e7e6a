"""biofit.datasets.sources: empirical (plug-in) statistics against the closed-form entropy rates.

Tolerances come from the sampling distribution: 3 binomial standard errors for frequencies, a
Taylor bound (first + second order at 3 sigma) for the plug-in entropy of i.i.d. sources, and
batch means (50 batches) for the Markov chain, whose samples are correlated.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from biofit.datasets.sources import (
    bernoulli_source,
    binary_entropy,
    entropy_rate_bernoulli,
    entropy_rate_markov,
    entropy_rate_poisson,
    markov_source,
    poisson_source,
)

N = 1_000_000


def _h(p: float) -> float:
    """Binary entropy (bits) via scipy, independent of the module's formula."""
    return float(stats.entropy([p, 1 - p], base=2))


def _iid_entropy_tolerance(p: float, n: int) -> float:
    """|h(p_hat) - h(p)| bound when |p_hat - p| <= 3 sigma: |h'| 3s + max|h''| (3s)^2 / 2."""
    s3 = 3 * math.sqrt(p * (1 - p) / n)
    lo, hi = max(p - s3, 1e-12), min(p + s3, 1 - 1e-12)
    h1 = max(abs(math.log2((1 - q) / q)) for q in (lo, hi))
    h2 = max(1 / (math.log(2) * q * (1 - q)) for q in (lo, hi))
    return h1 * s3 + h2 * s3**2 / 2


def _markov_plugin(x: np.ndarray) -> tuple[float, float, float, int, int]:
    """Plug-in entropy rate sum_s pi_s h(P(s -> 1 - s)) from transition counts."""
    a, b = x[:-1], x[1:]
    n0, n1 = int((~a).sum()), int(a.sum())
    p01, p10 = (~a & b).sum() / n0, (a & ~b).sum() / n1
    return (n0 * _h(p01) + n1 * _h(p10)) / (n0 + n1), p01, p10, n0, n1


@pytest.mark.parametrize("p", [0.5, 0.2, 0.05])
def test_bernoulli_frequency_and_plugin_entropy_match_h_of_p(p):
    x = bernoulli_source(p, N, seed=1)
    assert x.dtype == bool and x.shape == (N,)
    assert abs(x.mean() - p) <= 3 * math.sqrt(p * (1 - p) / N)
    assert abs(_h(x.mean()) - entropy_rate_bernoulli(p)) <= _iid_entropy_tolerance(p, N)


@pytest.mark.parametrize("p01, p10", [(0.05, 0.2), (0.3, 0.6), (0.1, 0.1), (0.5, 0.5)])
def test_markov_transitions_and_plugin_entropy_rate_match_closed_form(p01, p10):
    x = markov_source(p01, p10, N, seed=2)
    h_hat, q01, q10, n0, n1 = _markov_plugin(x)
    # given the visits, the transitions out of each state are binomial
    assert abs(q01 - p01) <= 3 * math.sqrt(p01 * (1 - p01) / n0)
    assert abs(q10 - p10) <= 3 * math.sqrt(p10 * (1 - p10) / n1)
    batches = [_markov_plugin(b)[0] for b in np.array_split(x, 50)]
    se = np.std(batches, ddof=1) / math.sqrt(50)
    assert abs(h_hat - entropy_rate_markov(p01, p10)) <= 3 * se


def test_markov_source_is_first_order_the_past_beyond_one_step_does_not_matter():
    p01, p10 = 0.1, 0.3
    x = markov_source(p01, p10, N, seed=3)
    before, now, nxt = x[:-2], x[1:-1], x[2:]
    for past in (False, True):
        ctx = (before == past) & ~now
        q = (nxt & ctx).sum() / ctx.sum()
        assert abs(q - p01) <= 3 * math.sqrt(p01 * (1 - p01) / ctx.sum()), past


def test_markov_starts_in_the_stationary_law():
    p01, p10 = 0.05, 0.2
    first = np.array([markov_source(p01, p10, 1, seed=s)[0] for s in range(4000)])
    pi1 = p01 / (p01 + p10)
    assert abs(first.mean() - pi1) <= 3 * math.sqrt(pi1 * (1 - pi1) / first.size)


def test_markov_entropy_rate_equals_stationary_weighted_row_entropies_from_eigenvector():
    for p01, p10 in [(0.05, 0.2), (0.3, 0.6), (0.9, 0.02), (1.0, 1.0), (0.0, 0.4)]:
        P = np.array([[1 - p01, p01], [p10, 1 - p10]])
        w, v = np.linalg.eig(P.T)
        pi = np.real(v[:, np.argmin(abs(w - 1))])
        pi = pi / pi.sum()
        expected = sum(pi[i] * stats.entropy(P[i], base=2) for i in range(2))
        assert entropy_rate_markov(p01, p10) == pytest.approx(expected, abs=1e-12)
    # p01 + p10 = 1 makes the next symbol independent of the present: Bernoulli(p01)
    assert entropy_rate_markov(0.3, 0.7) == pytest.approx(_h(0.3), abs=1e-12)


@pytest.mark.parametrize("rate_hz", [20.0, 300.0, 1000.0])
def test_poisson_source_bins_are_iid_with_entropy_h_of_one_minus_exp(rate_hz):
    dt = 1e-3
    x = poisson_source(rate_hz, dt, N, seed=4)
    p = -math.expm1(-rate_hz * dt)
    assert x.shape == (N,) and abs(x.mean() - p) <= 3 * math.sqrt(p * (1 - p) / N)
    assert abs(_h(x.mean()) - entropy_rate_poisson(rate_hz, dt)) <= _iid_entropy_tolerance(p, N)
    lag1 = np.corrcoef(x[:-1], x[1:])[0, 1]
    assert abs(lag1) <= 3 / math.sqrt(N)


def test_closed_forms_at_known_points():
    assert binary_entropy(0.5) == 1.0 and binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    assert entropy_rate_bernoulli(0.11) == pytest.approx(_h(0.11), abs=1e-12)
    assert entropy_rate_poisson(0.0, 1e-3) == 0.0
    assert entropy_rate_poisson(100.0, 1e-3) == pytest.approx(_h(1 - math.exp(-0.1)), abs=1e-12)


def test_same_seed_same_sequence():
    first, again = markov_source(0.2, 0.3, 1000, seed=5), markov_source(0.2, 0.3, 1000, seed=5)
    assert np.array_equal(first, again)
    assert np.array_equal(bernoulli_source(0.2, 1000, seed=np.random.default_rng(6)),
                          bernoulli_source(0.2, 1000, seed=6))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: bernoulli_source(1.5, 10), ValueError,
         "p must be a probability in \\[0, 1\\], got 1.5"),
        (lambda: bernoulli_source(float("nan"), 10), ValueError, "got nan"),
        (lambda: bernoulli_source(0.5, 0), ValueError, "n must be an integer >= 1, got 0"),
        (lambda: markov_source(0.0, 0.0, 10), ValueError, "p01 \\+ p10 = 0"),
        (lambda: markov_source(0.1, -0.2, 10), ValueError, "p10 must be a probability .* got -0.2"),
        (lambda: entropy_rate_poisson(-1.0, 1e-3), ValueError, "rate_hz must be .* got -1.0"),
        (lambda: entropy_rate_poisson(1.0, 0.0), ValueError, "dt must be .* got 0.0"),
        (lambda: poisson_source(-5.0, 1e-3, 10), ValueError, "negative"),
        (lambda: bernoulli_source("0.5", 10), TypeError, "p must be a real number"),
    ],
)
def test_bad_input_names_the_value(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_dt_s_still_works_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="'dt_s' is deprecated; use 'dt'"):
        assert entropy_rate_poisson(100.0, dt_s=1e-3) == entropy_rate_poisson(100.0, 1e-3)
    with pytest.warns(DeprecationWarning, match="'dt_s' is deprecated; use 'dt'"):
        np.testing.assert_array_equal(poisson_source(20.0, dt_s=1e-3, n=50, seed=1),
                                      poisson_source(20.0, 1e-3, 50, seed=1))
