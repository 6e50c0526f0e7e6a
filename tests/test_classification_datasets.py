"""The classification data sets: sources, embedded patterns, coded digits, the auditory-cortex loader.

Statistics are checked against their closed forms (rates, lag-1 correlation, dead time, latency
bins), the loader against a brute-force reading of the same CSV text.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from sklearn.datasets import load_digits

from biofit.datasets.auditory import load_auditory_cortex
from biofit.datasets.digits import coded_digits, digit_images, latency_raster
from biofit.datasets.patterns import embedded_patterns
from biofit.datasets.source_tasks import SOURCE_KINDS, source_task


def _lag1_correlation(x: np.ndarray) -> float:
    a, b = x[:, :-1].ravel().astype(float), x[:, 1:].ravel().astype(float)
    return float(np.corrcoef(a, b)[0, 1])


def test_source_classes_share_the_rate_and_differ_in_structure_as_specified():
    X, y = source_task(n_per_class=60, n_channels=10, n_bins=2000, rate_hz=50.0, max_correlation=0.6,
                       max_dead_bins=8, seed=0)
    q = 0.05
    trains = {kind: X[y == i].reshape(-1, X.shape[2]) for i, kind in enumerate(SOURCE_KINDS)}
    for kind, x in trains.items():
        se = np.sqrt(q * (1 - q) / x.size) * (8 if kind == "markov" else 2)  # bursts inflate the s.e.
        assert abs(x.mean() - q) < 4 * se, kind
    assert abs(_lag1_correlation(trains["bernoulli"])) < 0.01
    assert _lag1_correlation(trains["markov"]) == pytest.approx(0.6, abs=0.02)
    isi = np.concatenate([np.diff(np.flatnonzero(row)) for row in trains["poisson"]])
    assert isi.min() == 9  # k = 8 silent bins after every spike


def test_difficulty_one_makes_every_class_bernoulli():
    X, y = source_task(n_per_class=20, n_channels=5, n_bins=1000, rate_hz=100.0, difficulty=1.0, seed=4)
    for label in range(3):  # every class: i.i.d. bins, P(1) = 0.1, no correlation, no dead time
        x = X[y == label].reshape(-1, 1000)
        assert abs(_lag1_correlation(x)) < 0.02 and x.mean() == pytest.approx(0.1, abs=0.005)
        isi = np.concatenate([np.diff(np.flatnonzero(row)) for row in x])
        assert np.mean(isi == 1) == pytest.approx(0.1, abs=0.01)  # geometric ISIs: P(ISI = 1) = q


def test_sources_are_reproducible_and_validate_arguments():
    a, b = source_task(n_per_class=3, n_bins=50, seed=1), source_task(n_per_class=3, n_bins=50, seed=1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="kinds"):
        source_task(kinds=("bernoulli", "wiener"))
    with pytest.raises(ValueError, match="too high"):
        source_task(rate_hz=200.0, max_dead_bins=10)
    with pytest.raises(ValueError, match="difficulty"):
        source_task(difficulty=1.5)


def test_patterns_without_jitter_copy_the_class_template_into_the_window():
    X, y = embedded_patterns(n_per_class=6, n_classes=2, n_channels=8, n_bins=120, rate_hz=30.0, pattern_bins=40,
                             jitter=0.0, onset=50, seed=2)
    window = X[:, :, 50:90]
    for c in (0, 1):
        same = window[y == c]
        assert (same == same[0]).all()  # one template per class
    assert not np.array_equal(window[y == 0][0], window[y == 1][0])
    assert not (X[:, :, :50] == X[0, :, :50]).all()  # the noise differs between samples


def test_noise_and_templates_fire_at_the_common_rate():
    p = -np.expm1(-20.0 * 1e-3)
    noise, window = [], []
    for seed in range(20):  # each draw has its own templates, each a Poisson raster at the rate
        X, _ = embedded_patterns(n_per_class=10, n_channels=20, n_bins=200, rate_hz=20.0, pattern_bins=50,
                                 jitter=0.0, onset=100, seed=seed)
        noise.append(X[:, :, :100].mean())
        window.append(X[:, :, 100:150].mean())
    assert np.mean(noise) == pytest.approx(p, rel=0.02)
    assert np.mean(window) == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / (20 * 2 * 20 * 50)))
    with pytest.raises(ValueError, match="onset"):
        embedded_patterns(n_bins=100, pattern_bins=50, onset=60)


def test_digits_latency_code_is_one_spike_per_lit_pixel_at_the_closed_form_bin():
    x, y = digit_images(classes=(3, 8), n_per_class=5, seed=0)
    raster = latency_raster(x, 100, 1e-3, 0.08)
    for s in range(x.shape[0]):
        for j in range(64):
            spikes = np.flatnonzero(raster[s, j])
            if x[s, j] == 0:
                assert spikes.size == 0
            else:
                assert spikes.tolist() == [int(np.floor((1 - x[s, j]) * 80 + 1e-9))]
    digits = load_digits()
    assert any(np.allclose(x[0], row / 16) for row in digits.data[digits.target == y[0]])


def test_digits_rate_code_fires_with_the_closed_form_probability_per_pixel_value():
    X, y = coded_digits(classes=(0, 1), n_per_class=50, n_bins=400, max_rate_hz=100.0, seed=1)
    assert X.shape == (100, 64, 400) and set(y.tolist()) == {0, 1}
    x, y_images = digit_images(classes=(0, 1), n_per_class=50, seed=1)  # the same draws come first
    assert np.array_equal(y, y_images)
    for value in (0.0, 0.5, 1.0):
        trains = X[np.isclose(x, value)]
        p = -np.expm1(-value * 100.0 * 1e-3)
        assert trains.mean() == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / trains.size) + 1e-12)
    with pytest.raises(ValueError, match="classes"):
        coded_digits(classes=(1,))
    with pytest.raises(ValueError, match="coding"):
        coded_digits(coding="phase")


def _csv_text(order, rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(order)
    for row in rows:
        writer.writerow([row[name] for name in order])
    return out.getvalue()


def test_loader_finds_the_label_columns_by_name_wherever_they_are():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(6):
        ids = np.where(rng.random(20) < 0.3, rng.integers(1, 4, 20), 0)
        rows.append({**{str(t): int(ids[t]) for t in range(20)}, "sound_ID": i % 3 + 1,
                     "role": ("train", "val", "test")[i % 3]})
    bins = [str(t) for t in range(20)]
    first = load_auditory_cortex(io.StringIO(_csv_text(bins + ["sound_ID", "role"], rows)))
    moved = load_auditory_cortex(io.StringIO(_csv_text(["role"] + bins[:7] + ["sound_ID"] + bins[7:], rows)))
    for data in (first, moved):
        assert data.raster.shape == (6, 3, 20) and data.unit_ids.tolist() == [1, 2, 3]
        for i, row in enumerate(rows):  # brute force: bin t of trial i holds unit id u
            for t in range(20):
                u = row[str(t)]
                assert data.raster[i, :, t].tolist() == [u == 1, u == 2, u == 3]
        assert data.labels.tolist() == [1, 2, 3, 1, 2, 3]
        assert data.split("val")[1].tolist() == [2, 2]


@pytest.mark.parametrize("text, match", [
    ("0,1,sound_ID\n0,1,2\n", "role column"),
    ("0,1,role\n0,1,train\n", "label column"),
    ("0,1,role,sound_ID\n0,1,train,nan\n", "label column 'sound_ID' must hold integers"),
    ("0,1,role,sound_ID\n0,1.5,train,2\n", "unit ids"),
    ("0,1,role,sound_ID\n0,1,holdout,2\n", "roles \\['holdout'\\]"),
    ("1,0,role,sound_ID\n0,1,train,2\n", "increasing integer headers"),
    ("0,1,role,sound_ID\n", "at least one trial"),
    ("0,1,role,sound_ID\n0,1,train\n", "cells"),
])
def test_loader_bad_files_raise_naming_the_problem(text, match):
    with pytest.raises(ValueError, match=match):
        load_auditory_cortex(io.StringIO(text))


@pytest.mark.realdata
def test_shared_auditory_file_loads_with_its_own_split(shared_data):
    path = shared_data / "auditory_cortex" / "D_A_I.csv"
    data = load_auditory_cortex(path)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        body = list(reader)
    role_at, label_at = header.index("role"), header.index("sound_ID")
    n_spikes = sum(int(v) != 0 for r in body for i, v in enumerate(r) if i not in (role_at, label_at))
    assert data.raster.shape == (len(body), data.unit_ids.size, len(header) - 2)
    assert int(data.raster.sum()) == n_spikes
    assert [int((data.roles == r).sum()) for r in ("train", "val", "test")] == [
        sum(r[role_at] == name for r in body) for name in ("train", "val", "test")]
    assert (data.raster.sum(1) <= 1).all()  # one unit id per bin
