"""The fitting claim of 2311.11390 at small scale (`biofit reproduce blocks-fit`; issue 12).

Default run: the CI-size reproduction writes its outputs, BlockALIF and the sequential generated
ALIF step give the same parameters. Slow: three steps (0.1, 1, 4 ms) on three stimuli: the same
fit from both layers at 0.1 and 1 ms (the pair of 5 iterations per smoothing), BlockALIF the
faster by a wide margin (measured 106x at 0.1 ms and 43x at 1 ms here, 225x and 107x in the full
reproduction; the bound is 5x so that a loaded machine does not fail it), every
fit predicting the held-out trains (explained variance > 0.5), and the paper's ordering against
the coarse step: 0.1 ms predicts better than 4 ms (measured EV 0.909 vs 0.837; the true
parameters simulated at each step score 0.918 and 0.878). The 1 ms fit scores as well as the
0.1 ms one (0.924), so that part of the claim does not hold on this cell; it is printed, not
asserted (closing note of issue 12).
"""

from __future__ import annotations

import csv
import json

import pytest

from biofit.experiments.blocks_fit import Config, run


def _outputs(out):
    rows = list(csv.DictReader(open(out / "runs.csv")))
    meta = json.loads((out / "meta.json").read_text())
    return rows, meta


def test_the_small_reproduction_writes_its_table_and_both_layers_agree(tmp_path):
    table = run(out=tmp_path, small=True)
    rows, meta = _outputs(tmp_path)
    assert table.read_text().startswith("# 2311.11390")
    assert [(float(r["dt_ms"]), r["layer"]) for r in rows] == [(0.1, "BlockALIF"), (0.1, "ALIF (generated)"),
                                                              (4.0, "ALIF (generated)")]
    (pair,) = meta["block_vs_sequential"]
    assert pair["max_rel_diff"] < 1e-6


def test_bad_arguments_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="takes no seeds, got 3"):
        run(out=tmp_path, seeds=3)
    with pytest.raises(ValueError, match="runs on the CPU.*'cuda'"):
        run(out=tmp_path, device="cuda")
    with pytest.raises(ValueError, match="give one recording, got data=\\['a.nwb', 'b.nwb'\\]"):
        run(out=tmp_path, data=["a.nwb", "b.nwb"])


@pytest.mark.slow
def test_fine_steps_predict_held_out_spikes_better_and_blocks_give_the_same_fit_faster(tmp_path):
    config = Config(dts=(1e-4, 1e-3, 4e-3), stimuli=(2, 3, 4), warm_iterations=300, iterations=40)
    run(out=tmp_path, config=config)
    rows, meta = _outputs(tmp_path)
    print(open(tmp_path / "blocks_fit.md").read())
    assert len(meta["block_vs_sequential"]) == 2
    for pair in meta["block_vs_sequential"]:
        assert pair["max_rel_diff"] < 1e-6, pair
    fine = next(p for p in meta["block_vs_sequential"] if p["dt_ms"] == 0.1)
    assert fine["speedup"] > 5, fine
    ev = {float(r["dt_ms"]): float(r["test_ev"]) for r in rows if r["role"] == "main"}
    print("held-out explained variance by dt (ms):", ev)
    assert min(ev.values()) > 0.5, ev
    assert ev[0.1] > ev[4.0], ev
