"""The compiled (numba) loops and the numpy code give the same features, bit for bit.

With numba installed (the ``fast`` extra) every other texture test runs the
compiled loops; these tests pin them to the vectorised numpy implementations
they replace, on random ROIs with holes and on the degenerate cases: the same
integer counts and sums, and then the same features to the last bit on one
machine (``tests/test_feature_tables.py`` pins the table of either path to
1e-9: its last bits depend on the CPU's SIMD kernels).
They also check the switch that turns the loops off and
:func:`~ceusradiomics.texture._kernels.texture_backend`, which reports it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import warnings
from unittest import mock

import numpy as np
import pytest

from ceusradiomics.texture import _kernels, cooccurrence, gradient, texture_features
from ceusradiomics.texture import autoregressive as ar
from ceusradiomics.texture._common import crop_roi
from ceusradiomics.texture.cooccurrence import (
    _co_occurrence,
    _haralick,
    _layout,
    _padded_counts,
    _padded_counts_numpy,
    haralick_features,
)
from ceusradiomics.texture.runlength import _run_histograms, _run_histograms_numpy

needs_numba = pytest.mark.skipif(
    _kernels.compiled("glcm_counts_loop") is None,
    reason="numba is not installed (or CEUSRADIOMICS_DISABLE_NUMBA is set)",
)


@contextlib.contextmanager
def _quiet():
    """No DegenerateROIWarning noise (tiny ROIs and long offsets are meant)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _numpy_path():
    """Run the numpy code in this process (as CEUSRADIOMICS_DISABLE_NUMBA=1)."""
    return mock.patch.object(_kernels, "compiled", lambda name: None)


def assert_same_bits(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    differ = a.view(np.int64) != b.view(np.int64)
    assert not differ.any(), (
        f"{int(differ.sum())} of {a.size} values differ; first: "
        f"{a[differ][:3]!r} vs {b[differ][:3]!r}"
    )


def _random_roi(seed: int, levels: int, shape=(37, 53)):
    """Random levels and a ROI with holes and a detached island."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, levels, size=shape)
    # Smooth a little so that runs and equal neighbours exist.
    image[:, 1:] = np.where(
        rng.random(image[:, 1:].shape) < 0.4, image[:, :-1], image[:, 1:]
    )
    mask = rng.random(shape) < 0.85
    mask[:3] = False
    mask[-2:, -5:] = True
    return image, mask


@needs_numba
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [2, 16, 64])
def test_co_occurrence_counts_equal_numpy(seed, levels):
    image, mask = _random_roi(seed, levels)
    steps = _layout((1, 2, 3, 4, 5))[1]
    work = np.where(mask, image, 0)
    fast = _padded_counts(work, mask, steps, levels)
    slow = _padded_counts_numpy(work, mask, steps, levels)
    assert fast.dtype == slow.dtype == np.int64
    np.testing.assert_array_equal(fast, slow)


def _histograms(counts, levels, present=None):
    """The compiled loop's integer sums of the padded counts."""
    if present is None:
        present = np.arange(levels)
    n = counts.shape[0]
    top = 2 * int(counts.max(initial=0))
    dists = np.zeros((n, 3, 2 * levels - 1), dtype=np.int64)
    squares = np.zeros(n, dtype=np.int64)
    cells = np.zeros((n, top + 1), dtype=np.int64)
    _kernels.compiled("glcm_symmetric_histograms_loop")(
        counts, levels, 2 * levels, levels - 1, present, dists, squares, cells
    )
    return dists, squares, cells


@needs_numba
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [2, 16, 64])
@pytest.mark.parametrize("sparse", [False, True])
def test_symmetric_histograms_equal_numpy(seed, levels, sparse):
    image, mask = _random_roi(seed, levels)
    if sparse:  # every third level only: the loop skips the absent ones
        image = image // 3 * 3
    steps = _layout((1, 2, 3, 4, 5))[1]
    work = np.where(mask, image, 0)
    counts = _padded_counts_numpy(work, mask, steps, levels)
    present = np.unique(image[mask])
    fast_counts, seen = cooccurrence._compiled_counts(
        work, mask, steps, levels, 2 * levels, levels - 1, counts.shape[1], np.int64
    )
    np.testing.assert_array_equal(seen, present)
    np.testing.assert_array_equal(fast_counts, counts)
    dists, squares, cells = _histograms(counts, levels, present)
    C = counts.reshape(-1, levels + 1, 2 * levels)[:, :levels, levels - 1 : -1]
    S = C + C.transpose(0, 2, 1)
    np.testing.assert_array_equal(squares, (S * S).sum(axis=(1, 2)))
    np.testing.assert_array_equal(dists[:, 2, :levels], S.sum(axis=2))
    np.testing.assert_array_equal(dists[:, 1:, levels:], 0)
    i, j = np.indices((levels, levels))
    for k in range(S.shape[0]):
        np.testing.assert_array_equal(
            dists[k, 0], np.bincount((i + j).ravel(), S[k].ravel(), 2 * levels - 1)
        )
        np.testing.assert_array_equal(
            dists[k, 1, :levels],
            np.bincount(np.abs(i - j).ravel(), S[k].ravel(), levels),
        )
        tally = np.bincount(S[k].ravel(), minlength=cells.shape[1])
        tally[:2] = 0  # v log v = 0 for v = 0, 1: not counted
        np.testing.assert_array_equal(cells[k], tally)


@needs_numba
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [2, 16, 64, 256])
@pytest.mark.parametrize("shape", [(37, 53), (120, 90), (4, 300)])
def test_co_occurrence_features_bit_identical(seed, levels, shape):
    image, mask = _random_roi(seed, levels, shape)
    work = np.where(mask, image, 0)
    distances = (1, 2, 3, 4, 5)
    with _quiet():
        fast = list(_co_occurrence(work, mask, levels, distances).values())
        with _numpy_path():
            slow = list(_co_occurrence(work, mask, levels, distances).values())
            counts = _padded_counts_numpy(work, mask, _layout(distances)[1], levels)
            also = _haralick(counts, levels, True).ravel()
    assert_same_bits(fast, slow)
    assert_same_bits(fast, also)


@needs_numba
@pytest.mark.parametrize("seed", range(4))
def test_haralick_features_of_any_matrices_bit_identical(seed):
    # The public function: matrices that are not symmetric, counts or floats.
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 9, size=(12, 12, 5)) * (rng.random((12, 12, 5)) < 0.6)
    counts[:, :, 4] = 0  # no pair at all
    for P in (counts, counts / 7.0, rng.random((5, 5, 3))):
        with _quiet():
            fast = haralick_features(P)
            with _numpy_path():
                slow = haralick_features(P)
        assert_same_bits(list(fast.values()), list(slow.values()))


@needs_numba
def test_empty_and_constant_matrices_bit_identical():
    # Offsets longer than the ROI have no pair (all NaN); a constant ROI has
    # zero marginal variance (Correlat NaN, the rest finite).
    image = np.full((3, 40), 5)
    mask = np.ones_like(image, dtype=bool)
    with _quiet():
        fast = np.array(list(_co_occurrence(image, mask, 8, (1, 4)).values()))
        with _numpy_path():
            slow = np.array(list(_co_occurrence(image, mask, 8, (1, 4)).values()))
    assert_same_bits(fast, slow)
    fast = fast.reshape(8, 11)
    assert np.isnan(fast[5]).all()  # S(0,4): 3 rows, no vertical pair
    assert fast[0, 0] == 1.0 and fast[0, 8] == 0.0  # AngScMom, Entropy
    assert np.isnan(fast[0, 2])  # Correlat


@needs_numba
def test_large_uniform_roi_takes_the_logarithm_per_cell():
    # Counts far above the number of cells: both paths skip the v log v tally
    # and sum v log v over the cells, with the same numpy code.
    levels = 4
    image = np.zeros((300, 300), dtype=np.intp)
    image[:, 150:] = 1
    image[::7, ::5] = 3
    mask = np.ones_like(image, dtype=bool)
    counts = _padded_counts_numpy(image, mask, _layout((1,))[1], levels)
    assert 2 * counts.max() >= levels * levels
    with _quiet():
        fast = list(_co_occurrence(image, mask, levels, (1,)).values())
        with _numpy_path():
            slow = _haralick(counts, levels, True).ravel()
    assert_same_bits(fast, slow)


@needs_numba
def test_counts_beyond_the_log_table_bit_identical(monkeypatch):
    # ROIs so large that their counts pass the table's cap take numpy's log10
    # directly, on both paths.
    monkeypatch.setattr(cooccurrence, "_LOG10_CAP", 50)
    monkeypatch.setattr(cooccurrence, "_log10_cache", np.zeros(0))
    image, mask = _random_roi(1, 16, (60, 70))
    work = np.where(mask, image, 0)
    assert cooccurrence._log10_table(60) is None
    with _quiet():
        fast = list(_co_occurrence(work, mask, 16, (1, 2)).values())
        with _numpy_path():
            slow = list(_co_occurrence(work, mask, 16, (1, 2)).values())
    assert_same_bits(fast, slow)


@needs_numba
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [2, 16, 64])
def test_run_histograms_equal_numpy(seed, levels):
    image, mask = _random_roi(seed, levels)
    fast_len, fast_lev = _run_histograms(image, mask, levels)
    slow_len, slow_lev = _run_histograms_numpy(image, mask, levels)
    # The same sizes too, so that the features see the same arrays.
    np.testing.assert_array_equal(fast_len, slow_len)
    np.testing.assert_array_equal(fast_lev, slow_lev)


@needs_numba
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2)])
def test_tiny_rois_equal_numpy(shape):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 4, size=shape)
    mask = np.ones(shape, bool)
    fast = _run_histograms(image, mask, 4)
    slow = _run_histograms_numpy(image, mask, 4)
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])
    steps = _layout((1, 2))[1]
    np.testing.assert_array_equal(
        _padded_counts(image, mask, steps, 4),
        _padded_counts_numpy(image, mask, steps, 4),
    )


@needs_numba
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [2, 256, 2**15])
def test_gradient_bit_identical(seed, levels):
    image, mask = _random_roi(seed, levels, (41, 57))
    crop, mask_c, _ = crop_roi(image.astype(np.intp), mask)
    with _quiet():
        fast = gradient._gradient(crop, mask_c)
        with _numpy_path():
            slow = gradient._gradient(crop, mask_c)
    assert_same_bits(list(fast.values()), list(slow.values()))
    assert np.isfinite(list(fast.values())).all()


def _ar_images(seed):
    image, mask = _random_roi(seed, 256, (60, 70))
    yield image, mask  # int64 levels
    yield image.astype(np.uint8), mask
    yield image.astype(np.float32), mask  # whole numbers in floats
    yield image * 0.37 + 0.1, mask  # not whole: the numpy sums on both paths
    big = image.astype(np.int64) * 10**8  # too large for exact sums: numpy too
    yield big, mask
    nan_outside = image.astype(np.float64)
    nan_outside[~mask] = np.nan
    yield nan_outside, mask


@needs_numba
@pytest.mark.parametrize("seed", range(8))
def test_autoregressive_bit_identical(seed):
    for image, mask in _ar_images(seed):
        crop, mask_c, _ = crop_roi(image, mask)
        with _quiet():
            fast = list(ar._autoregressive(crop, mask_c).values())
            with _numpy_path():
                slow = list(ar._autoregressive(crop, mask_c).values())
        assert_same_bits(fast, slow)


def test_autoregressive_whole_number_sums_match_the_float_sums():
    # The exact (shifted, whole-number) Gram matrix and the float one centred
    # on the mean agree to rounding: the same model either way.
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(80, 90)).astype(np.uint8)
    image[:, 1:] = (image[:, 1:] // 2 + image[:, :-1] // 2).astype(np.uint8)
    mask = np.ones(image.shape, bool)
    exact = ar.autoregressive_features(image, mask)
    floats = ar.autoregressive_features(image + 1e-9 * rng.random(image.shape), mask)
    np.testing.assert_allclose(
        list(exact.values()), list(floats.values()), rtol=1e-6, atol=1e-9
    )


@needs_numba
@pytest.mark.parametrize("seed", range(3))
def test_all_texture_features_bit_identical(seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 4096, size=(70, 90)).astype(np.uint16)
    image[:, 1:] = image[:, :-1] // 2 + image[:, 1:] // 2
    mask = np.zeros(image.shape, bool)
    mask[6:64, 5:80] = rng.random((58, 75)) < 0.97
    with _quiet():
        fast = texture_features(image, mask)
        with _numpy_path():
            slow = texture_features(image, mask)
    assert fast.keys() == slow.keys()
    assert_same_bits(list(fast.values()), list(slow.values()))


def test_log10_table_is_the_same_whatever_its_growth():
    # Both paths look their logarithms up in one table, filled by numpy in
    # fixed blocks: a value never depends on how far the table had grown.
    block = cooccurrence._LOG10_BLOCK
    table = cooccurrence._log10_table(10)
    assert table[0] == 0.0 and table[1] == 0.0 and table[10] == 1.0
    first = table[:block].copy()
    grown = cooccurrence._log10_table(3 * block + 5)
    assert grown.size > 3 * block + 5 and not grown.flags.writeable
    np.testing.assert_array_equal(grown[:block], first)
    np.testing.assert_array_equal(
        grown[2 * block : 3 * block],
        np.log10(np.arange(2 * block, 3 * block, dtype=np.float64)),
    )
    assert cooccurrence._log10_table(cooccurrence._LOG10_CAP) is None


def _features_in_subprocess(disable: str) -> dict:
    code = (
        "import json, numpy as np, sys\n"
        "from ceusradiomics.texture import texture_features, _kernels\n"
        "rng = np.random.default_rng(0)\n"
        "image = rng.integers(0, 256, size=(40, 50)).astype(np.uint8)\n"
        "mask = np.zeros((40, 50), bool); mask[5:35, 4:46] = True\n"
        "f = texture_features(image, mask)\n"
        "compiled = _kernels.compiled('glcm_counts_loop') is not None\n"
        "print(json.dumps({'numba': 'numba' in sys.modules,\n"
        "                  'backend': _kernels.texture_backend(),\n"
        "                  'compiled': compiled,\n"
        "                  'features': {k: v.hex() for k, v in f.items()}}))\n"
    )
    env = {**os.environ, "CEUSRADIOMICS_DISABLE_NUMBA": disable}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@needs_numba
def test_disable_switch_gives_the_same_bits():
    on = _features_in_subprocess("0")
    off = _features_in_subprocess("1")
    assert on["compiled"] and not off["compiled"]
    assert (on["backend"], off["backend"]) == ("numba", "numpy")
    assert not off["numba"], "numba imported although disabled"
    assert on["features"] == off["features"]  # float.hex: every bit


def test_texture_backend_names_the_path_that_runs():
    expected = "numpy" if _kernels.compiled("glcm_counts_loop") is None else "numba"
    assert _kernels.texture_backend() == expected
    off = _features_in_subprocess("1")
    assert off["backend"] == "numpy" and not off["compiled"]


def test_importing_the_package_does_not_import_numba():
    code = (
        "import sys, ceusradiomics, ceusradiomics.texture\n"
        "assert 'numba' not in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@needs_numba
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("shape", [(37, 53), (120, 90), (3, 200), (70, 70)])
def test_wavelet_energies_bit_identical(seed, shape):
    """The one-pass Haar loop against the numpy levels, with the grid anchored
    at several origins, a subset of scales and integer or whole-float images."""
    from ceusradiomics.texture.wavelet import _wavelet

    image, mask = _random_roi(seed, 256, shape)
    rng = np.random.default_rng(seed)
    origin = (int(rng.integers(0, 9)), int(rng.integers(0, 9)))
    scales = (1, 2, 3, 4, 5, 6) if seed % 2 else (2, 3, 5)
    for values in (image, image.astype(np.float64)):
        fast = _wavelet(values, mask, scales, origin)
        with _numpy_path():
            slow = _wavelet(values, mask, scales, origin)
        assert list(fast) == list(slow)
        assert_same_bits(list(fast.values()), list(slow.values()))


@needs_numba
def test_wavelet_of_fractional_grey_levels_takes_the_numpy_path():
    from ceusradiomics.texture.wavelet import _wavelet

    image, mask = _random_roi(0, 256)
    values = image + 0.1  # not whole: sums of squares would not be exact
    fast = _wavelet(values, mask, (1, 2, 3), (0, 0))
    with _numpy_path():
        slow = _wavelet(values, mask, (1, 2, 3), (0, 0))
    assert_same_bits(list(fast.values()), list(slow.values()))
