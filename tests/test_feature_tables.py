"""The feature tables of the bundled cohort, pinned.

Refactors of the extractor layer must not change a value. The references in
``tests/data/feature_tables/`` were recorded on main, where the values had
stood unchanged since the extractor-layer redesign (issue 13), and are checked
after every change: the full ``TextureExtractor(readers="all")`` table (its
column and row-block sums, NaN counts), the exact network input of every ROI
of ``ResNetFeaturizer(weights=None, random_state=0)`` and its output (to
1e-4: a CPU convolution's last bits depend on the thread count), and the
``PerfusionExtractor`` table of the cine cohort.

The tables are compared to 1e-9 of each column's (or block's) absolute sum,
not by a hash of their bytes: their last bits depend on the CPU. numpy's
``log10`` and ``exp`` (the co-occurrence entropies, the curve fits) and
OpenBLAS's kernels run other SIMD code on an AVX-512 CPU than on an AVX2 one;
the hashes recorded on an AVX-512 Intel failed on an AVX2 AMD EPYC. On one
machine both texture code paths give the same bits
(``tests/texture/test_kernels.py``), and a real change of a feature moves its
sums far beyond 1e-9.
"""

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest

from ceusradiomics import PerfusionExtractor, TextureExtractor, clear_feature_cache
from ceusradiomics.datasets import make_ceus_cohort

DATA = Path(__file__).parent / "data" / "feature_tables"

RESNET_INPUT_SHA256 = "65d476364e23511218952e49b37848cb0198592839a1fdf8b0f0b1f6ef4fdd92"


def _close_sums(values, reference, abs_reference, what):
    """``|values - reference| <= 1e-9 * sum |x|``, element by element.

    (``np.testing.assert_allclose`` takes only a scalar ``atol``.)
    """
    bad = np.flatnonzero(np.abs(values - reference) > 1e-9 * abs_reference)
    if bad.size:
        i = bad[0]
        pytest.fail(
            f"{what}: {bad.size} differ beyond 1e-9 of their absolute sums, "
            f"e.g. #{i}: {values.flat[i]!r}, pinned {reference.flat[i]!r}"
        )


@pytest.fixture(scope="module")
def cohort():
    return make_ceus_cohort(random_state=0)


def test_texture_table_unchanged(cohort):
    X, _, _ = cohort
    clear_feature_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = TextureExtractor(readers="all", cache=False).fit_transform(X)
    assert table.shape == (172, 1698)
    assert list(table.columns[[0, 283, -1]]) == [
        "US_Mean",
        "AP_Mean",
        "PP_WavEnHH_s-6@r2",
    ]
    assert list(table.index) == list(X.index)
    reference = np.load(DATA / "texture_summary.npz")
    values = table.to_numpy(np.float64)
    np.testing.assert_array_equal(np.isnan(values).sum(0), reference["column_nans"])
    _close_sums(
        np.nansum(values, 0),
        reference["column_sums"],
        reference["column_abs_sums"],
        "column sums",
    )
    blocks = values.reshape(172, 6, 283)
    _close_sums(
        np.nansum(blocks, 2), reference["row_sums"], reference["row_abs_sums"], "rows"
    )


def test_resnet_table_unchanged(cohort):
    torch = pytest.importorskip("torch")
    from ceusradiomics import ResNetFeaturizer

    X, _, _ = cohort
    inputs = hashlib.sha256()

    def record_input(module, args):
        # The network is a torch.fx GraphModule cut at the layer: hash what
        # reaches it, batch by batch, in order.
        if isinstance(module, torch.fx.GraphModule):
            batch = (
                args[0].detach().cpu().contiguous(memory_format=torch.contiguous_format)
            )
            inputs.update(batch.numpy().tobytes())

    handle = torch.nn.modules.module.register_module_forward_pre_hook(record_input)
    try:
        table = ResNetFeaturizer(
            weights=None, random_state=0, cache=False
        ).fit_transform(X)
    finally:
        handle.remove()
    assert table.shape == (172, 6144)
    assert inputs.hexdigest() == RESNET_INPUT_SHA256
    reference = np.load(DATA / "resnet_summary.npz")
    values = table.to_numpy(np.float64)
    np.testing.assert_allclose(
        values.sum(axis=0), reference["column_sums"], rtol=1e-4, atol=1e-3
    )
    np.testing.assert_allclose(
        values.reshape(172, 3, 2048).sum(axis=2), reference["row_sums"], rtol=1e-4
    )
    assert list(table.columns[:2]) == ["US_resnet50_0000", "US_resnet50_0001"]
    assert list(table.index) == list(X.index)


def test_perfusion_table_unchanged():
    X = make_ceus_cohort(random_state=0, cine=True)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = PerfusionExtractor().fit_transform(X)
    assert table.shape == (172, 13)
    reference = np.load(DATA / "perfusion_table.npz")
    assert list(table.columns) == reference["columns"].tolist()
    # The curve fits iterate: a last-bit difference of exp on another CPU can
    # end an iteration elsewhere within the fit's tolerance, hence 1e-6.
    np.testing.assert_allclose(
        table.to_numpy(np.float64), reference["values"], rtol=1e-6, atol=1e-12
    )
