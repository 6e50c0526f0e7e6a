"""LZC on real cortical spike data (Szabó & Barthó 2021, rat/mouse auditory cortex, ../shared/data).

Each row of D_A_I.csv is one trial: 500 bins of 1 ms holding 0, or the id of a cell that spiked in
that bin, then the label columns named in the header (their position differs between files of the
data set, so they are looked up by name). Our kernels must equal both peer packages on these real
sequences, not only on synthetic ones.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from antropy import lziv_complexity
from lempel_ziv_complexity import lempel_ziv_complexity as lz78_package

from biofit.encoding import LZCEncoder, lempel_ziv_complexity, lzc_batch

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def auditory_trials(shared_data):
    path = shared_data / "auditory_cortex" / "D_A_I.csv"
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    label_cols = [header.index("sound_ID"), header.index("role")]
    bin_cols = [i for i in range(len(header)) if i not in label_cols]
    values = np.array([[float(row[i]) for i in bin_cols] for row in rows[1:]])
    sound_id = np.array([int(float(row[label_cols[0]])) for row in rows[1:]])
    return values != 0, sound_id


def test_auditory_cortex_file_has_500_one_ms_bins_per_trial(auditory_trials):
    raster, sound_id = auditory_trials
    assert raster.shape == (len(sound_id), 500)
    assert 0 < raster.mean() < 0.5


def test_lz76_and_lz78_equal_peers_on_real_trials(auditory_trials):
    raster, _ = auditory_trials
    rows = raster[:: max(1, len(raster) // 300)]  # ~300 trials spread over the file
    ours_76 = lzc_batch(rows, variant="lz76", normalize=False)
    peer_76 = [lziv_complexity(row.astype(int)) for row in rows]
    np.testing.assert_array_equal(ours_76, peer_76)
    for row in rows[:100]:
        text = "".join("1" if b else "0" for b in row)
        assert lempel_ziv_complexity(row, variant="lz78", normalize=False) == lz78_package(text)


def test_lzc_encoder_transforms_real_trials(auditory_trials):
    raster, _ = auditory_trials
    X = raster[:50, None, :]  # one channel: the population's merged spikes
    features = LZCEncoder(population=False).fit_transform(X)
    assert features.shape == (50, 2)  # per-channel LZ76, rate
    np.testing.assert_allclose(features[:, 1], raster[:50].mean(axis=1))
    assert np.all(np.isfinite(features))
