"""The compiled (numba) loops give the same counts and features as the numpy code.

With numba installed (the ``fast`` extra) every other texture test runs the
compiled loops; these tests pin them to the vectorised numpy implementations
they replace, on random ROIs with holes and on the degenerate cases, and check
the switch that turns them off.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from ceusradiomics.texture import _kernels
from ceusradiomics.texture.cooccurrence import (
    _haralick,
    _layout,
    _padded_counts,
    _padded_counts_numpy,
)
from ceusradiomics.texture.runlength import _run_histograms, _run_histograms_numpy

pytestmark = pytest.mark.skipif(
    _kernels.compiled("glcm_counts_loop") is None,
    reason="numba is not installed (or CEUSRADIOMICS_DISABLE_NUMBA is set)",
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


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [2, 16, 64])
def test_symmetric_features_equal_numpy(seed, levels):
    image, mask = _random_roi(seed, levels)
    steps = _layout((1, 2, 3, 4, 5))[1]
    counts = _padded_counts_numpy(np.where(mask, image, 0), mask, steps, levels)
    out = np.empty((counts.shape[0], 11))
    _kernels.compiled("glcm_symmetric_features_loop")(
        counts, levels, 2 * levels, levels - 1, out
    )
    np.testing.assert_allclose(
        out, _haralick(counts, levels, True), rtol=1e-11, atol=1e-12
    )


def test_symmetric_features_of_empty_and_constant_matrices():
    # Offsets longer than the ROI have no pair (all NaN); a constant ROI has
    # zero marginal variance (Correlat NaN, the rest finite).
    levels = 8
    counts = np.zeros((2, (levels + 1) * 2 * levels), dtype=np.int64)
    counts[1, 3 * 2 * levels + levels - 1 + 3] = 40  # C[3, 3] = 40
    out = np.empty((2, 11))
    _kernels.compiled("glcm_symmetric_features_loop")(
        counts, levels, 2 * levels, levels - 1, out
    )
    ref = _haralick(counts, levels, True)
    assert np.isnan(out[0]).all()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_allclose(out[1], ref[1], rtol=1e-12, equal_nan=True)
    assert out[1, 0] == 1.0 and out[1, 8] == 0.0  # AngScMom, Entropy


def test_large_uniform_roi_takes_the_logarithm_per_cell():
    # Counts far above the number of cells: the kernel skips its v log v table.
    levels = 4
    image = np.zeros((300, 300), dtype=np.intp)
    image[:, 150:] = 1
    mask = np.ones_like(image, dtype=bool)
    steps = _layout((1,))[1]
    counts = _padded_counts_numpy(image, mask, steps, levels)
    assert counts.max() > 4 * levels * (levels + 1) // 2
    out = np.empty((counts.shape[0], 11))
    _kernels.compiled("glcm_symmetric_features_loop")(
        counts, levels, 2 * levels, levels - 1, out
    )
    np.testing.assert_allclose(
        out, _haralick(counts, levels, True), rtol=1e-11, equal_nan=True
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [2, 16, 64])
def test_run_histograms_equal_numpy(seed, levels):
    image, mask = _random_roi(seed, levels)
    for (fast_len, fast_lev), (slow_len, slow_lev) in zip(
        _run_histograms(image, mask, levels),
        _run_histograms_numpy(image, mask, levels),
        strict=True,
    ):
        n = max(fast_len.size, slow_len.size)
        np.testing.assert_array_equal(
            np.pad(fast_len, (0, n - fast_len.size)),
            np.pad(slow_len, (0, n - slow_len.size)),
        )
        np.testing.assert_array_equal(fast_lev, slow_lev)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2)])
def test_tiny_rois_equal_numpy(shape):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 4, size=shape)
    mask = np.ones(shape, bool)
    for fast, slow in zip(
        _run_histograms(image, mask, 4),
        _run_histograms_numpy(image, mask, 4),
        strict=True,
    ):
        np.testing.assert_array_equal(fast[1], slow[1])
        assert fast[0] @ np.arange(fast[0].size) == slow[0] @ np.arange(slow[0].size)
    steps = _layout((1, 2))[1]
    np.testing.assert_array_equal(
        _padded_counts(image, mask, steps, 4),
        _padded_counts_numpy(image, mask, steps, 4),
    )


def _features_in_subprocess(disable: str) -> dict:
    code = (
        "import json, numpy as np, sys\n"
        "from ceusradiomics.texture import texture_features, _kernels\n"
        "rng = np.random.default_rng(0)\n"
        "image = rng.integers(0, 256, size=(40, 50)).astype(np.uint8)\n"
        "mask = np.zeros((40, 50), bool); mask[5:35, 4:46] = True\n"
        "f = texture_features(image, mask, families=('rlm', 'glcm', 'ar'))\n"
        "compiled = _kernels.compiled('glcm_counts_loop') is not None\n"
        "print(json.dumps({'numba': 'numba' in sys.modules,\n"
        "                  'compiled': compiled, 'features': f}))\n"
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
    import json

    return json.loads(result.stdout)


def test_disable_switch_gives_the_same_features():
    on = _features_in_subprocess("0")
    off = _features_in_subprocess("1")
    assert on["compiled"] and not off["compiled"]
    assert not off["numba"], "numba imported although disabled"
    assert on["features"].keys() == off["features"].keys()
    np.testing.assert_allclose(
        list(on["features"].values()), list(off["features"].values()), rtol=1e-11
    )


def test_importing_the_package_does_not_import_numba():
    code = (
        "import sys, ceusradiomics, ceusradiomics.texture\n"
        "assert 'numba' not in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
