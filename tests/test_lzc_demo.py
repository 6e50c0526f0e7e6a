"""The LZC demo and the raster-features job of biofit.experiments.lzc_demo."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from biofit.datasets.rasters import example_raster, make_example_raster
from biofit.datasets.sources import entropy_rate_bernoulli
from biofit.encoding.features import LZCEncoder
from biofit.experiments.lzc_demo import COLUMNS, SOURCES, raster_features, run_demo
from biofit.io.rasters import load_raster

REPO = Path(__file__).resolve().parents[1]

# Normalized LZ76 of a fair coin at n = 20 000 (the demo's small size) is 1.0237 +- 0.0033
# (mean +- sd over 2000 sequences, measured with biofit.encoding.lzc.lzc_batch; LZ76 = antropy):
# the finite-size bias plus 5 sd gives the tolerance.
FAIR_COIN_TOL = 0.024 + 5 * 0.0033


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run_demo(out, small=True, seed=0, progress=False)


def test_demo_writes_a_png_and_a_csv_equal_to_the_returned_table(demo):
    out, table = demo
    png = (out / "lzc_demo.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    with open(out / "lzc_demo.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(SOURCES) == len(table)
    for row, entry in zip(rows, table):
        assert row["source"] == entry["source"] and int(row["n"]) == entry["n"] == 20_000
        for key in ("entropy_rate_bits", "lz76_norm", "lz78_norm"):
            assert float(row[key]) == entry[key]
    assert not list(out.glob(".*.tmp"))


def test_demo_lz76_of_a_fair_coin_is_near_one_and_follows_the_entropy_rates(demo):
    _, table = demo
    coin = next(r for r in table if r["source"] == "bernoulli" and r["params"] == "p=0.5")
    assert coin["entropy_rate_bits"] == entropy_rate_bernoulli(0.5) == 1.0
    assert abs(coin["lz76_norm"] - 1.0) <= FAIR_COIN_TOL
    # any two sources whose entropy rates differ by more than 0.1 bit are ranked alike by LZ76
    for a in table:
        for b in table:
            if a["entropy_rate_bits"] > b["entropy_rate_bits"] + 0.1:
                assert a["lz76_norm"] > b["lz76_norm"], (a, b)


def test_demo_is_reproducible_for_a_seed(demo, tmp_path):
    _, table = demo
    assert run_demo(tmp_path, small=True, seed=0, progress=False) == table


def _read_features(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=np.float64)


@pytest.mark.parametrize("layout", ["npy3d", "npy2d", "csv"])
def test_raster_features_round_trip_equals_the_encoder(tmp_path, layout):
    rng = np.random.default_rng(1)
    raster = rng.random((3, 4, 250)) < 0.1
    if layout == "npy3d":
        src = tmp_path / "r.npy"
        np.save(src, raster)
    elif layout == "npy2d":
        raster = raster[:1]
        src = tmp_path / "r.npy"
        np.save(src, raster[0].astype(np.int8))
    else:
        raster = raster[:1]
        src = tmp_path / "r.csv"
        np.savetxt(src, raster[0].astype(int), fmt="%d", delimiter=",")
    out = tmp_path / "features.csv"
    returned = raster_features(src, out, variant="lz78", bin_widths=[5])
    header, values = _read_features(out)
    encoder = LZCEncoder(variant="lz78", bin_widths=[5]).fit(raster)
    expected = encoder.transform(raster)
    assert header == ["sample", *encoder.get_feature_names_out()]
    np.testing.assert_array_equal(values[:, 0], np.arange(raster.shape[0]))
    np.testing.assert_array_equal(values[:, 1:], expected)  # 17 digits: exact float64 round trip
    np.testing.assert_array_equal(returned, expected)


def test_raster_features_errors_name_the_file_and_the_problem(tmp_path):
    missing = tmp_path / "nope.npy"
    with pytest.raises(FileNotFoundError, match="raster file not found: .*nope.npy"):
        raster_features(missing, tmp_path / "f.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("0,1,0\n1,2,0\n")
    with pytest.raises(ValueError, match=r"bad.csv: X has 1 value\(s\) other than 0 and 1 .*: 2.0"):
        raster_features(bad, tmp_path / "f.csv")
    text = tmp_path / "text.csv"
    text.write_text("0,1,a\n")
    with pytest.raises(ValueError, match="cannot read raster .*text.csv"):
        load_raster(text)
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros(10))
    with pytest.raises(ValueError, match=r"flat.npy has shape \(10,\)"):
        load_raster(flat)
    other = tmp_path / "r.mat"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match="unsupported extension '.mat'"):
        load_raster(other)
    assert not (tmp_path / "f.csv").exists()


def test_example_raster_is_reproducible_and_its_groups_differ_in_lzc_not_in_rate(tmp_path):
    shipped = np.load(REPO / "data" / "example_raster.npy")
    assert shipped.shape == (6, 8, 500) and shipped.dtype == bool
    made = make_example_raster(tmp_path / "ex.npy", seed=0)
    np.testing.assert_array_equal(made, np.load(tmp_path / "ex.npy"))
    np.testing.assert_array_equal(made, make_example_raster(tmp_path / "ex2.npy", seed=0))
    np.testing.assert_array_equal(example_raster(np.random.default_rng(0)), made)
    lz = LZCEncoder(population=False, rates=False).fit_transform(shipped).mean(axis=1)
    assert lz[:3].min() > lz[3:].max()  # Poisson (H = 0.14 bit) above bursty (H = 0.07 bit)
    # equal stationary rate: group totals over 12 000 bins each agree within 3 sigma of their
    # difference. Poisson bins: binomial variance. Markov chain: variance x (1 + lam)/(1 - lam),
    # lam = 1 - p01 - p10 its lag-1 autocorrelation (rho_k = lam^k).
    p, p10 = 1 - np.exp(-0.02), 0.3
    lam = 1 - p10 * p / (1 - p) - p10
    n = 3 * 8 * 500
    sd = np.sqrt(p * (1 - p) * n * (1 + (1 + lam) / (1 - lam)))
    assert abs(int(shipped[:3].sum()) - int(shipped[3:].sum())) <= 3 * sd
