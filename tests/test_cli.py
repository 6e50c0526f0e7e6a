"""The `biofit` console command: installed entry point, --version, info."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import brian2
import numpy
import torch

import biofit

BIOFIT = Path(sys.executable).with_name("biofit")


def run_biofit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIOFIT), *args], capture_output=True, text=True, timeout=300)


def test_version_flag_prints_package_version() -> None:
    done = run_biofit("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"biofit {biofit.__version__}"


def test_info_reports_installed_versions_and_cython_status() -> None:
    done = run_biofit("info")
    assert done.returncode == 0, done.stderr
    assert f"torch    {torch.__version__}" in done.stdout
    assert f"brian2   {brian2.__version__}" in done.stdout
    assert f"numpy    {numpy.__version__}" in done.stdout
    # the count a fresh interpreter gets in this environment (this test process may have changed its own)
    fresh = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert f"threads: {fresh.stdout.strip()}" in done.stdout
    assert "Brian2 cython target compiles" in done.stdout


def test_unknown_subcommand_is_a_usage_error() -> None:
    done = run_biofit("frobnicate")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


def test_lzc_demo_writes_figure_and_table(tmp_path: Path) -> None:
    done = run_biofit("lzc", "--demo", "--small", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    png = tmp_path / "lzc_demo.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = (tmp_path / "lzc_demo.csv").read_text().strip().splitlines()
    assert len(rows) > 3
    assert not list(tmp_path.glob("*.tmp*")), "temporary files left behind"


def test_lzc_file_features_match_the_encoder(tmp_path: Path) -> None:
    import csv

    from biofit.encoding import LZCEncoder

    raster_path = Path(__file__).resolve().parents[1] / "data" / "example_raster.npy"
    out = tmp_path / "features.csv"
    done = run_biofit("lzc", str(raster_path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    with out.open() as fh:
        rows = list(csv.reader(fh))
    raster = numpy.load(raster_path)
    encoder = LZCEncoder().fit(raster)
    expected = encoder.transform(raster)
    assert rows[0] == ["sample", *encoder.get_feature_names_out()]
    assert [int(row[0]) for row in rows[1:]] == list(range(raster.shape[0]))
    got = numpy.array([[float(v) for v in row[1:]] for row in rows[1:]])
    assert got.shape == expected.shape
    numpy.testing.assert_allclose(got, expected, rtol=1e-12)


def test_lzc_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.npy"
    done = run_biofit("lzc", str(missing))
    assert done.returncode == 2
    assert str(missing) in done.stderr


def test_train_tempotron_learns_a_low_load_task() -> None:
    done = run_biofit("train", "--rule", "tempotron", "--patterns", "50", "--afferents", "100",
                      "--epochs", "300", "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert "training accuracy 1.0000" in done.stdout  # load 0.5 is far below the capacity (~3)


def test_train_stdp_saves_weights_inside_their_bounds(tmp_path: Path) -> None:
    from biofit.experiments.song2000 import SongInputs

    out = tmp_path / "song.npz"
    done = run_biofit("train", "--rule", "stdp", "--duration-s", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    with numpy.load(out) as saved:
        weights = saved["weights"]
    assert weights.shape == (1, 1000)
    assert weights.min() >= 0.0 and weights.max() <= SongInputs().g_max


def test_train_rejects_an_unknown_rule() -> None:
    done = run_biofit("train", "--rule", "hebb")
    assert done.returncode == 2
    assert "invalid choice: 'hebb'" in done.stderr
