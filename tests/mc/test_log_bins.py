"""Logarithmic binning of the thermalization series (sgpoison.mc.thermalization)."""

import numpy as np
import xarray as xr

from sgpoison.mc.parallel_tempering import log_bins
from sgpoison.mc.thermalization import log_bin_windows


def _binned_dataset(counts):
    k = np.arange(len(counts))
    start = np.where(k == 0, 0, 2 ** np.maximum(k - 1, 0))
    return xr.Dataset(coords={"log_bin": k, "log_bin_start": ("log_bin", start),
                              "log_bin_stop": ("log_bin", start + np.asarray(counts)),
                              "log_bin_count": ("log_bin", np.asarray(counts))})


def test_log_bin_windows_last_two_bins_and_partial_last_bin():
    windows = log_bin_windows(_binned_dataset([1, 1, 2, 4, 8]))
    assert windows["previous"]["bins"] == [3] and windows["last"]["bins"] == [4]
    assert (windows["last"]["start"], windows["last"]["stop"]) == (8, 16)
    # a run of 17 sweeps: the last bin holds 1 of 16 sweeps -> merged with bin 4, compared with bin 3
    windows = log_bin_windows(_binned_dataset([1, 1, 2, 4, 8, 1]))
    assert windows["previous"]["bins"] == [3] and windows["last"]["bins"] == [4, 5]
    np.testing.assert_allclose(windows["last"]["weights"][4:], [8 / 9, 1 / 9])
    assert log_bin_windows(_binned_dataset([1])) == {}


def test_log_bins_cover_every_sweep_once():
    start, stop, count = log_bins(17)
    np.testing.assert_array_equal(start, [0, 1, 2, 4, 8, 16])
    np.testing.assert_array_equal(stop, [1, 2, 4, 8, 16, 17])
    assert count.sum() == 17 and (stop - start == count).all()
