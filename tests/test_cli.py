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
    assert f"threads: {torch.get_num_threads()}" in done.stdout
    assert "Brian2 cython target compiles" in done.stdout


def test_unknown_subcommand_is_a_usage_error() -> None:
    done = run_biofit("frobnicate")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
