"""biofit.parallel on a real Dask cluster (worker processes): fits equal the serial ones bit for
bit, a worker killed mid-task costs nothing but time, a bad recording is a summary row, a
finished fit is reused, sweeps equal their serial loop, and ``biofit fit --scheduler`` against a
scheduler and a worker started with the ``dask`` command.

The cells are tiny noise-free LIF recordings simulated here by Brian2 (two 0.3 s sweeps each) and
the fits cheap (10 gradient iterations on two parameters); one local cluster serves the module.
The command-line cluster test is `slow` (``-m slow``): it starts three fresh Python processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from biofit.fitting import Gradient, Prior, fit, load_result
from biofit.io import Recording, RecordingInfo, Sweep, write_npz
from biofit.parallel import FitFailure, fit_each, fit_many, sweep
from biofit.reference import simulate

DT = 1e-4
PRIORS = {"tau_mem": Prior(5e-3, 50e-3, log=True), "R": Prior(5e7, 5e8, log=True)}
OPTIONS = dict(method="gradient", optimizer=Gradient(iterations=10, seed=0), params=("tau_mem", "R"),
               priors=PRIORS, fixed={"t_ref": 0.0}, train_sweeps=[0], test_sweeps=[1], seed=0)
BIN = Path(sys.executable).parent


def lif_cell(k: int) -> Recording:
    """Cell k: two current steps (160, 220 pA) into a LIF cell with tau_mem = 12 + 2k ms."""
    currents = []
    for amplitude in (160e-12, 220e-12):
        c = np.zeros(3000)
        c[500:2500] = amplitude
        currents.append(c)
    truth = {"tau_mem": 12e-3 + 2e-3 * k, "R": 1.5e8}
    trace = simulate("lif", truth, np.stack(currents, axis=1), DT)
    sweeps = [Sweep(j, DT, currents[j], trace.v[:, j], trace.spike_times[j]) for j in range(2)]
    return Recording(sweeps, RecordingInfo(cell=f"cell{k}", extra={"true_parameters": truth}))


@pytest.fixture(scope="module")
def cells() -> list[Recording]:
    return [lif_cell(k) for k in range(4)]


@pytest.fixture(scope="module")
def serial(cells):
    """The reference: `fit` called here, one cell after another, torch at one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [fit(cell, "lif", progress=False, **OPTIONS) for cell in cells]
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        yield c


def assert_same_fit(got, want) -> None:
    assert got.parameters == want.parameters
    assert got.loss == want.loss and got.train == want.train and got.test == want.test
    untimed = lambda history: [{k: v for k, v in h.items() if k != "time_s"} for h in history]  # noqa: E731
    assert untimed(got.history) == untimed(want.history)
    assert got.extra["model_spike_times"] == want.extra["model_spike_times"]


def complete_folders(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if (p / "fit.json").is_file())


def test_fit_many_equals_the_serial_fits_bit_for_bit_and_reuses_them(client, cells, serial, tmp_path):
    results = fit_many(cells, model="lif", scheduler=client, out_dir=tmp_path, progress=False, **OPTIONS)
    for got, want in zip(results, serial):
        assert_same_fit(got, want)
    workers = {r.extra["run"]["worker"] for r in results}
    assert workers <= set(client.scheduler_info()["workers"])
    assert complete_folders(tmp_path) == [f"cell{k}" for k in range(4)]
    assert load_result(tmp_path / "cell2")["parameters"] == serial[2].parameters
    table = pd.read_csv(tmp_path / "summary.csv")
    assert list(table["status"]) == ["fitted"] * 4 and table["error"].isna().all()
    assert list(table["param.tau_mem"]) == [r.parameters["tau_mem"] for r in serial]
    # run again: every fit is reused (no task runs), the files untouched
    stamp = (tmp_path / "cell0" / "fit.nwb").stat().st_mtime_ns
    again = fit_many(cells, model="lif", scheduler=client, out_dir=tmp_path, progress=False, **OPTIONS)
    assert [r.parameters for r in again] == [r.parameters for r in serial]
    assert list(pd.read_csv(tmp_path / "summary.csv")["status"]) == ["reused"] * 4
    assert (tmp_path / "cell0" / "fit.nwb").stat().st_mtime_ns == stamp


def test_a_worker_killed_mid_task_is_replaced_and_every_fit_is_made_once(client, cells, serial, tmp_path):
    pids = client.run(os.getpid)
    results, errors = [], []

    def run():
        try:
            results.extend(fit_many(cells[:3], model="lif", scheduler=client, out_dir=tmp_path,
                                    progress=False, **OPTIONS))
        except BaseException as exc:  # noqa: BLE001 -- re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    victim = key = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        stacks = client.call_stack()
        running = [(w, k) for w, tasks in stacks.items() for k in tasks if str(k).startswith("biofit-fit-")]
        if running:
            time.sleep(0.5)  # well inside the task (a fit takes seconds)
            victim, key = running[0]
        else:
            time.sleep(0.05)
    assert victim is not None, "no fit task was seen running"
    os.kill(pids[victim], signal.SIGKILL)
    thread.join(timeout=180)
    assert not thread.is_alive() and not errors, errors
    name = str(key).split("-")[2]  # biofit-fit-<name>-<model>-<token>
    killed = results[int(name.removeprefix("cell"))]
    assert killed.extra["run"]["worker"] != victim  # it ran again, elsewhere
    for got, want in zip(results, serial):
        assert_same_fit(got, want)
    assert len(results) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"cell{k}" for k in range(3)] + ["summary.csv"]
    for k in range(3):
        assert sorted(p.name for p in (tmp_path / f"cell{k}").iterdir()) == ["fit.json", "fit.nwb", "fit.png"]
    assert list(pd.read_csv(tmp_path / "summary.csv")["status"]) == ["fitted"] * 3


def test_a_corrupt_recording_is_a_failed_row_and_the_others_finish(client, cells, serial, tmp_path):
    paths = [write_npz(cells[k], tmp_path / "data" / f"cell{k}.npz") for k in (0, 1)]
    corrupt = tmp_path / "data" / "broken.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip archive")
    out = tmp_path / "fits"
    # send="path": the workers read the files, so the error is raised on a worker
    results = fit_many([paths[0], corrupt, paths[1]], model="lif", scheduler=client, out_dir=out,
                       send="path", progress=False, **OPTIONS)
    assert isinstance(results[1], FitFailure) and "not a readable NPZ file" in results[1].error
    assert results[1].worker in client.scheduler_info()["workers"]
    assert_same_fit(results[0], serial[0])
    assert_same_fit(results[2], serial[1])
    table = pd.read_csv(out / "summary.csv")
    assert list(table["name"]) == ["cell0", "broken", "cell1"]
    assert list(table["status"]) == ["fitted", "failed", "fitted"]
    assert "not a readable NPZ file" in table["error"][1] and not (out / "broken").exists()


def test_a_recording_the_client_cannot_read_is_reported_in_process(tmp_path):
    corrupt = tmp_path / "broken.npz"
    corrupt.write_bytes(b"garbage")
    missing = tmp_path / "missing.npz"
    results = fit_each([corrupt, missing], model="lif", out_dir=tmp_path / "fits", progress=False, **OPTIONS)
    assert [type(r) for r in results] == [FitFailure, FitFailure] and results[0].worker == ""
    table = pd.read_csv(tmp_path / "fits" / "summary.csv")
    assert list(table["status"]) == ["failed", "failed"]
    assert "not a readable NPZ file" in table["error"][0] and "FileNotFoundError" in table["error"][1]


def test_an_interrupted_run_resumes_and_force_recomputes(cells, serial, tmp_path, one_torch_thread):
    fit_each(cells[:2], model="lif", out_dir=tmp_path, progress=False, **OPTIONS)
    (tmp_path / "cell1" / "fit.json").unlink()  # as if stopped before cell1's fit.json was moved in
    resumed = fit_each(cells[:2], model="lif", out_dir=tmp_path, progress=False, **OPTIONS)
    assert list(pd.read_csv(tmp_path / "summary.csv")["status"]) == ["reused", "fitted"]
    assert_same_fit(resumed[1], serial[1])
    assert resumed[0].parameters == serial[0].parameters
    with pytest.raises(ValueError, match="holds a fit of 'lif', not 'alif'"):
        fit_each(cells[:2], model="alif", out_dir=tmp_path, progress=False)
    forced = fit_each(cells[:1], model="lif", out_dir=tmp_path / "cell0", force=True, progress=False, **OPTIONS)
    assert_same_fit(forced[0], serial[0])
    assert list(pd.read_csv(tmp_path / "cell0" / "summary.csv")["status"]) == ["fitted"]


def test_bad_options_fail_before_anything_runs(cells, tmp_path):
    cases = [
        (dict(model="lif", iterations=3), TypeError, "unknown fit option"),
        (dict(model="lif", method="annealing"), ValueError, "unknown method"),
        (dict(model="lif", send="ftp"), ValueError, "send must be one of"),
        (dict(model="hodgkin_huxley"), ValueError, "unknown model"),
        (dict(model="lif", torch_threads=0), ValueError, "torch_threads must be an integer >= 1"),
        (dict(model="lif", params=("tau",)), ValueError, "has no parameter 'tau'"),
    ]
    for kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            fit_many(cells, scheduler="tcp://127.0.0.1:1", out_dir=tmp_path, **kwargs)
    with pytest.raises(ValueError, match="would both write to the folder 'a'"):
        fit_many([tmp_path / "x" / "a.nwb", tmp_path / "y" / "a.nwb"], scheduler="tcp://127.0.0.1:1")
    with pytest.raises(TypeError, match="must be a path or a Recording"):
        fit_many([cells[0], 3], scheduler="tcp://127.0.0.1:1")
    with pytest.raises(TypeError, match="scheduler must be None"):
        fit_many(cells, model="lif", scheduler=8786, **OPTIONS)
    assert list(tmp_path.iterdir()) == []


def spike_count(tau_mem: float, R: float) -> dict:
    """The sweep's function: spikes of a LIF cell under a 200 pA step of 0.2 s (Brian2)."""
    if R > 3e8:
        raise ValueError("R above 300 MOhm")
    trace = simulate("lif", {"tau_mem": tau_mem, "R": R, "t_ref": 0.0}, np.full(2000, 200e-12), DT)
    return {"n_spikes": len(trace.spike_times[0]), "first_s": float(trace.spike_times[0][0])
            if len(trace.spike_times[0]) else -1.0}


def test_sweep_equals_the_serial_loop_and_reports_failed_points(client, tmp_path):
    grid = {"tau_mem": [0.01, 0.02], "R": [1.5e8, 2.5e8, 4e8]}
    table = sweep(spike_count, grid, scheduler=client, out=tmp_path / "sweep.csv", progress=False)
    assert list(table.columns) == ["tau_mem", "R", "n_spikes", "first_s", "error"]
    k = 0
    for tau in grid["tau_mem"]:
        for r in grid["R"]:
            row = table.iloc[k]
            assert (row["tau_mem"], row["R"]) == (tau, r)
            if r > 3e8:
                assert row["error"] == "ValueError: R above 300 MOhm" and np.isnan(row["n_spikes"])
            else:
                want = spike_count(tau, r)
                assert (row["n_spikes"], row["first_s"], row["error"]) == (want["n_spikes"], want["first_s"], "")
            k += 1
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "sweep.csv", keep_default_na=False,
                                              na_values={"n_spikes": [""], "first_s": [""]}), table)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


@pytest.mark.slow  # three fresh Python processes (scheduler, worker, biofit) import dask, torch and Brian2
def test_biofit_fit_runs_on_a_scheduler_and_worker_started_from_the_command_line(cells, tmp_path):
    paths = [write_npz(cells[k], tmp_path / f"cell{k}.npz") for k in (0, 3)]
    address = f"tcp://127.0.0.1:{free_port()}"
    logs = open(tmp_path / "dask.log", "w")
    started = []
    try:
        started.append(subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                                         address.rsplit(":", 1)[1], "--no-dashboard"], stdout=logs, stderr=logs))
        started.append(subprocess.Popen([str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads",
                                         "1", "--no-dashboard", "--local-directory", str(tmp_path / "scratch")],
                                        stdout=logs, stderr=logs))
        out = tmp_path / "fits"
        done = subprocess.run(
            [str(BIN / "biofit"), "fit", *map(str, paths), "--scheduler", address, "--workers", "1",
             "--model", "lif", "--method", "gradient", "--iterations", "10", "--params", "tau_mem,R",
             "--fixed", "t_ref=0", "--train-sweeps", "0", "--test-sweeps", "1", "--out", str(out)],
            capture_output=True, text=True, timeout=240)
    finally:
        for process in reversed(started):
            stop(process)
        logs.close()
    assert done.returncode == 0, done.stderr + (tmp_path / "dask.log").read_text()[-3000:]
    table = pd.read_csv(out / "summary.csv")
    assert list(table["name"]) == ["cell0", "cell3"] and list(table["status"]) == ["fitted"] * 2
    assert table["worker"].str.startswith("tcp://127.0.0.1:").all()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        want = fit(cells[3], "lif", method="gradient", optimizer=Gradient(iterations=10, seed=0),
                   params=("tau_mem", "R"), fixed={"t_ref": 0.0}, train_sweeps=[0], test_sweeps=[1],
                   progress=False)
    finally:
        torch.set_num_threads(before)
    assert load_result(out / "cell3")["parameters"] == want.parameters
    assert "wrote" in done.stdout and "summary.csv (2 fits, 0 failed)" in done.stdout
