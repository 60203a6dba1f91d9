"""Run-length matrix and Galloway's features (MaZda 4.6 names).

References used here, independent of the code under test: hand-walked 4 x 4
runs, a brute-force oracle that walks every digital line pixel by pixel, and
the IBSI digital phantom's consensus GLRLM values (``tests/data/ibsi``).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from ceusradiomics.texture.runlength import (
    RUN_LENGTH_DIRECTIONS,
    RUN_LENGTH_FEATURES,
    run_length_feature_names,
    run_length_features,
    run_length_matrix,
)

IBSI = Path(__file__).resolve().parents[1] / "data" / "ibsi"

IMAGE = np.array(
    [
        [0, 0, 1, 1],
        [0, 0, 1, 1],
        [0, 2, 2, 2],
        [2, 2, 3, 3],
    ]
)
FULL = np.ones((4, 4), bool)

# P[g, l - 1], walked by hand.
HAND = {
    # rows: (0,2)(1,2) | (0,2)(1,2) | (0,1)(2,3) | (2,2)(3,2)
    "Horzl": [[1, 2, 0, 0], [0, 2, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0]],
    # columns: (0,3)(2,1) | (0,2)(2,2) | (1,2)(2,1)(3,1) | (1,2)(2,1)(3,1)
    "Vertl": [[0, 1, 1, 0], [0, 2, 0, 0], [3, 1, 0, 0], [2, 0, 0, 0]],
    # "/" lines r + c = 0..6: (0,1) | (0,2) | (0,2)(1,1) | (2,2)(1,2) |
    # (2,2)(1,1) | (3,1)(2,1) | (3,1)
    "45dgr": [[1, 2, 0, 0], [2, 1, 0, 0], [1, 2, 0, 0], [2, 0, 0, 0]],
    # "\" lines c - r = -3..3: (2,1) | (0,1)(2,1) | (0,1)(2,1)(3,1) |
    # (0,2)(2,1)(3,1) | (0,1)(1,1)(2,1) | (1,2) | (1,1)
    "135dr": [[3, 1, 0, 0], [2, 1, 0, 0], [5, 0, 0, 0], [2, 0, 0, 0]],
}


# --------------------------------------------------------------------------
# oracles
# --------------------------------------------------------------------------


def loop_runs(image, mask, step):
    """Walk every digital line of ``step`` pixel by pixel; list (level, length)."""
    dr, dc = step
    n_rows, n_cols = image.shape
    runs = []
    for r in range(n_rows):
        for c in range(n_cols):
            if 0 <= r - dr < n_rows and 0 <= c - dc < n_cols:
                continue  # not the first pixel of its line
            level, length = None, 0
            rr, cc = r, c
            while 0 <= rr < n_rows and 0 <= cc < n_cols:
                if mask[rr, cc] and length and image[rr, cc] == level:
                    length += 1
                else:
                    if length:
                        runs.append((level, length))
                    level, length = (image[rr, cc], 1) if mask[rr, cc] else (None, 0)
                rr, cc = rr + dr, cc + dc
            if length:
                runs.append((level, length))
    return runs


def loop_matrix(image, mask, step, levels, max_run):
    P = np.zeros((levels, max_run), dtype=np.int64)
    for level, length in loop_runs(image, mask, step):
        P[level, length - 1] += 1
    return P


def loop_features(P, n_pixels):
    """Galloway's forms divided by the number of runs, from the matrix."""
    runs = P.sum()
    ell = np.arange(1, P.shape[1] + 1)
    return {
        "RLNonUni": (P.sum(axis=0) ** 2).sum() / runs,
        "GLevNonU": (P.sum(axis=1) ** 2).sum() / runs,
        "LngREmph": (P * ell**2).sum() / runs,
        "ShrtREmp": (P / ell**2).sum() / runs,
        "Fraction": runs / n_pixels,
    }


def random_roi(seed, shape=None, levels=None):
    rng = np.random.default_rng(seed)
    if shape is None:
        shape = tuple(int(s) for s in rng.integers(5, 26, size=2))
    if levels is None:
        levels = int(rng.integers(2, 6))  # few levels: long runs occur
    image = rng.integers(0, levels, size=shape)
    mask = rng.random(shape) < 0.8
    mask[:, shape[1] // 2] = True  # a full column: the mask reaches both borders
    mask[1:3, 1:4] = False  # a hole
    return image, mask, levels


# --------------------------------------------------------------------------
# names, hand cases
# --------------------------------------------------------------------------


def test_feature_names_order():
    names = run_length_feature_names()
    assert len(names) == 20 == len(set(names))
    assert names[:5] == [
        "Horzl_RLNonUni",
        "Horzl_GLevNonU",
        "Horzl_LngREmph",
        "Horzl_ShrtREmp",
        "Horzl_Fraction",
    ]
    assert names[10] == "45dgr_RLNonUni" and names[-1] == "135dr_Fraction"
    assert list(RUN_LENGTH_DIRECTIONS) == ["Horzl", "Vertl", "45dgr", "135dr"]
    assert list(run_length_features(IMAGE, FULL, levels=4)) == names


@pytest.mark.parametrize("direction", list(HAND))
def test_hand_walked_matrices(direction):
    expected = np.array(HAND[direction])
    P = run_length_matrix(IMAGE, FULL, direction, 4)
    assert P.dtype == np.int64
    np.testing.assert_array_equal(P, expected)
    dr, dc = RUN_LENGTH_DIRECTIONS[direction]
    # The step, and the opposite step (same lines), give the same matrix.
    np.testing.assert_array_equal(run_length_matrix(IMAGE, FULL, (dr, dc), 4), P)
    np.testing.assert_array_equal(run_length_matrix(IMAGE, FULL, (-dr, -dc), 4), P)


def test_hand_walked_matrix_with_a_masked_pixel():
    mask = FULL.copy()
    mask[2, 1] = False  # row 2 becomes 0 | outside | 2 2
    P = run_length_matrix(IMAGE, mask, "Horzl", 4)
    np.testing.assert_array_equal(
        P, [[1, 2, 0, 0], [0, 2, 0, 0], [0, 2, 0, 0], [0, 1, 0, 0]]
    )


def test_hand_computed_horizontal_features():
    f = run_length_features(IMAGE, FULL, levels=4)
    # 8 runs: lengths 1 (x1), 2 (x6), 3 (x1); levels 0 (x3), 1 (x2), 2 (x2), 3 (x1)
    assert f["Horzl_RLNonUni"] == pytest.approx((1 + 36 + 1) / 8)
    assert f["Horzl_GLevNonU"] == pytest.approx((9 + 4 + 4 + 1) / 8)
    assert f["Horzl_LngREmph"] == pytest.approx((1 + 6 * 4 + 9) / 8)
    assert f["Horzl_ShrtREmp"] == pytest.approx((1 + 6 / 4 + 1 / 9) / 8)
    assert f["Horzl_Fraction"] == 8 / 16


def test_diagonal_convention_on_a_slash_stripe_image():
    # The grey level is r + c: every "/" line is one run (MaZda spec test T3).
    r, c = np.indices((5, 5))
    f = run_length_features(r + c, np.ones((5, 5), bool), levels=9)
    lengths = [1, 2, 3, 4, 5, 4, 3, 2, 1]
    assert f["45dgr_Fraction"] == 9 / 25
    assert f["45dgr_LngREmph"] == pytest.approx(sum(v * v for v in lengths) / 9)
    assert f["45dgr_ShrtREmp"] == pytest.approx(sum(1 / v**2 for v in lengths) / 9)
    assert f["45dgr_RLNonUni"] == pytest.approx((4 * 2**2 + 1) / 9)
    assert f["45dgr_GLevNonU"] == 1.0
    for direction in ["135dr", "Horzl", "Vertl"]:  # every run has length 1
        assert f[f"{direction}_Fraction"] == 1.0
        assert f[f"{direction}_LngREmph"] == 1.0
        assert f[f"{direction}_ShrtREmp"] == 1.0
        assert f[f"{direction}_RLNonUni"] == 25.0
        assert f[f"{direction}_GLevNonU"] == pytest.approx(85 / 25)
    P = run_length_matrix(r + c, np.ones((5, 5), bool), "45dgr", 9)
    np.testing.assert_array_equal(P[np.arange(9), np.array(lengths) - 1], 1)


def test_constant_roi_documented_values():
    f = run_length_features(np.full((3, 4), 7), np.ones((3, 4), bool), levels=8)
    # Horzl: 3 runs of 4; Vertl: 4 runs of 3; diagonals: lengths 1,2,3,3,2,1.
    assert [f[f"Horzl_{n}"] for n in RUN_LENGTH_FEATURES] == [
        3.0,
        3.0,
        16.0,
        1 / 16,
        0.25,
    ]
    assert [f[f"Vertl_{n}"] for n in RUN_LENGTH_FEATURES] == [
        4.0,
        4.0,
        9.0,
        1 / 9,
        1 / 3,
    ]
    for direction in ["45dgr", "135dr"]:
        assert f[f"{direction}_RLNonUni"] == pytest.approx(12 / 6)
        assert f[f"{direction}_GLevNonU"] == 6.0
        assert f[f"{direction}_LngREmph"] == pytest.approx(28 / 6)
        assert f[f"{direction}_Fraction"] == 0.5


def test_single_pixel_roi():
    mask = np.zeros((4, 4), bool)
    mask[1, 2] = True
    f = run_length_features(IMAGE, mask, levels=4)
    assert all(v == 1.0 for v in f.values())


# --------------------------------------------------------------------------
# brute-force oracle on random ROIs with holes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_matrices_and_features_equal_the_line_walking_oracle(seed):
    image, mask, levels = random_roi(seed)
    n_pixels = int(mask.sum())
    f = run_length_features(image, mask, levels=levels)
    longest = max(image.shape)
    for name, step in RUN_LENGTH_DIRECTIONS.items():
        P = run_length_matrix(image, mask, name, levels, max_run_length=longest)
        expected = loop_matrix(image, mask, step, levels, longest)
        np.testing.assert_array_equal(P, expected)
        # Every ROI pixel is in exactly one run.
        assert (P * np.arange(1, longest + 1)).sum() == n_pixels
        for feature, value in loop_features(expected, n_pixels).items():
            assert f[f"{name}_{feature}"] == pytest.approx(value, rel=1e-13)


@pytest.mark.parametrize("shape", [(1, 13), (13, 1), (2, 9), (9, 2)])
def test_thin_images_equal_the_oracle(shape):
    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 2, size=shape)
    mask = np.ones(shape, bool)
    for name, step in RUN_LENGTH_DIRECTIONS.items():
        P = run_length_matrix(image, mask, name, 2)
        np.testing.assert_array_equal(P, loop_matrix(image, mask, step, 2, P.shape[1]))


def test_default_max_run_length_is_the_bounding_box():
    mask = np.zeros((20, 30), bool)
    mask[3:10, 5:25] = True  # 7 rows x 20 columns
    image = np.zeros((20, 30), int)
    shapes = {
        name: run_length_matrix(image, mask, name, 2).shape
        for name in RUN_LENGTH_DIRECTIONS
    }
    assert shapes == {
        "Horzl": (2, 20),
        "Vertl": (2, 7),
        "45dgr": (2, 7),
        "135dr": (2, 7),
    }


# --------------------------------------------------------------------------
# IBSI digital phantom
# --------------------------------------------------------------------------

IBSI_NG = 6
# IBSI's 2D directions (x, y) = (1, 0), (1, 1), (0, 1), (-1, 1).
IBSI_DIRECTIONS = ["Horzl", "135dr", "Vertl", "45dgr"]


def ibsi_glrlm_features(R, n_voxels):
    """IBSI's GLRLM features (grey levels 1..Ng as values, log2 entropy)."""
    runs = R.sum()
    g = np.arange(1, R.shape[0] + 1)[:, None]
    ell = np.arange(1, R.shape[1] + 1)[None, :]
    p = R / runs
    by_level, by_length = R.sum(axis=1), R.sum(axis=0)
    mu_g, mu_l = (g * p).sum(), (ell * p).sum()
    nonzero = p[p > 0]
    return {
        "Short runs emphasis": (R / ell**2).sum() / runs,
        "Long runs emphasis": (R * ell**2).sum() / runs,
        "Low grey level run emphasis": (R / g**2).sum() / runs,
        "High grey level run emphasis": (R * g**2).sum() / runs,
        "Short run low grey level emphasis": (R / (g**2 * ell**2)).sum() / runs,
        "Short run high grey level emphasis": (R * g**2 / ell**2).sum() / runs,
        "Long run low grey level emphasis": (R * ell**2 / g**2).sum() / runs,
        "Long run high grey level emphasis": (R * g**2 * ell**2).sum() / runs,
        "Grey level non-uniformity": (by_level**2).sum() / runs,
        "Normalised grey level non-uniformity": (by_level**2).sum() / runs**2,
        "Run length non-uniformity": (by_length**2).sum() / runs,
        "Normalised run length non-uniformity": (by_length**2).sum() / runs**2,
        "Run percentage": runs / n_voxels,
        "Grey level variance": ((g - mu_g) ** 2 * p).sum(),
        "Run length variance": ((ell - mu_l) ** 2 * p).sum(),
        "Run entropy": -(nonzero * np.log2(nonzero)).sum(),
    }


def _mean_features(dicts):
    return {name: float(np.mean([d[name] for d in dicts])) for name in dicts[0]}


@pytest.fixture(scope="module")
def ibsi_glrlm():
    image = np.load(IBSI / "phantom_image.npy")
    mask = np.load(IBSI / "phantom_mask.npy").astype(bool)
    mosaic = np.load(IBSI / "phantom_mosaic_image.npy")
    mosaic_mask = np.load(IBSI / "phantom_mosaic_mask.npy").astype(bool)
    # Grey level g -> index g - 1 with 6 levels (the 9 outside the ROI is
    # hidden by the mask); 5 columns hold every run of a 4 x 5 slice.
    per_slice = [
        [
            run_length_matrix(image[z] - 1, mask[z], d, IBSI_NG, max_run_length=5)
            for d in IBSI_DIRECTIONS
        ]
        for z in range(image.shape[0])
    ]
    voxels = [int(m.sum()) for m in mask]
    merged = [
        run_length_matrix(mosaic - 1, mosaic_mask, d, IBSI_NG, max_run_length=5)
        for d in IBSI_DIRECTIONS
    ]
    # The masked gap columns of the mosaic break runs between slices.
    for k in range(4):
        np.testing.assert_array_equal(merged[k], sum(s[k] for s in per_slice))
    n_all = int(mask.sum())
    return {
        "BTW3": _mean_features(
            [
                ibsi_glrlm_features(R, voxels[z])
                for z, slice_ in enumerate(per_slice)
                for R in slice_
            ]
        ),
        # Merging the 4 directions of a slice counts its voxels 4 times.
        "SUJT": _mean_features(
            [
                ibsi_glrlm_features(sum(s), 4 * voxels[z])
                for z, s in enumerate(per_slice)
            ]
        ),
        "JJUI": _mean_features([ibsi_glrlm_features(R, n_all) for R in merged]),
        "ZW7Z": ibsi_glrlm_features(sum(merged), 4 * n_all),
    }


def _ibsi_rows():
    with open(IBSI / "reference_values.csv", newline="") as fh:
        rows = [
            r
            for r in csv.DictReader(fh)
            if r["family"] == "glrlm"
            and r["aggregation_code"] in {"BTW3", "SUJT", "JJUI", "ZW7Z"}
        ]
    return [pytest.param(r, id=f"{r['aggregation_code']}-{r['feature']}") for r in rows]


@pytest.mark.parametrize("row", _ibsi_rows())
def test_ibsi_phantom_glrlm(row, ibsi_glrlm):
    # MIRP's matching rule: rounded to 3 significant digits == printed value.
    value = ibsi_glrlm[row["aggregation_code"]][row["feature"]]
    assert float(f"{value:.3g}") == float(row["value"])


def test_ibsi_rows_cover_all_2d_and_25d_glrlm_values():
    assert len(_ibsi_rows()) == 4 * 16


def test_mazda_features_are_ibsi_features_per_slice():
    image = np.load(IBSI / "phantom_image.npy")
    mask = np.load(IBSI / "phantom_mask.npy").astype(bool)
    pairs = {
        "ShrtREmp": "Short runs emphasis",
        "LngREmph": "Long runs emphasis",
        "GLevNonU": "Grey level non-uniformity",
        "RLNonUni": "Run length non-uniformity",
        "Fraction": "Run percentage",
    }
    for z in range(image.shape[0]):
        f = run_length_features(image[z] - 1, mask[z], levels=IBSI_NG)
        for d in IBSI_DIRECTIONS:
            R = run_length_matrix(image[z] - 1, mask[z], d, IBSI_NG)
            ibsi = ibsi_glrlm_features(R, int(mask[z].sum()))
            for mazda, name in pairs.items():
                assert f[f"{d}_{mazda}"] == pytest.approx(ibsi[name], rel=1e-13)


# --------------------------------------------------------------------------
# invariants
# --------------------------------------------------------------------------


def test_pixels_outside_the_mask_do_not_matter():
    image, mask, levels = random_roi(40, shape=(15, 18))
    f = run_length_features(image, mask, levels=levels)
    other = image.astype(float)
    rng = np.random.default_rng(1)
    other[~mask] = rng.choice([-3.0, np.nan, 0.5, 99.0], size=int((~mask).sum()))
    assert run_length_features(other, mask, levels=levels) == f


def test_translation_changes_nothing():
    image, mask, levels = random_roi(41, shape=(11, 14))
    f = run_length_features(image, mask, levels=levels)
    big_image = np.random.default_rng(3).integers(0, levels, size=(30, 40))
    big_mask = np.zeros((30, 40), bool)
    big_image[5:16, 20:34] = image
    big_mask[5:16, 20:34] = mask
    assert run_length_features(big_image, big_mask, levels=levels) == f


@pytest.mark.parametrize(
    ("transform", "mapping"),
    [
        # np.rot90 turns rows into columns and "/" lines into "\" lines.
        (
            np.rot90,
            {"Horzl": "Vertl", "Vertl": "Horzl", "45dgr": "135dr", "135dr": "45dgr"},
        ),
        (
            np.fliplr,
            {"Horzl": "Horzl", "Vertl": "Vertl", "45dgr": "135dr", "135dr": "45dgr"},
        ),
        (
            np.transpose,
            {"Horzl": "Vertl", "Vertl": "Horzl", "45dgr": "45dgr", "135dr": "135dr"},
        ),
    ],
)
def test_rotations_and_flips_map_the_directions(transform, mapping):
    image, mask, levels = random_roi(42, shape=(12, 17))
    f = run_length_features(image, mask, levels=levels)
    g = run_length_features(transform(image), transform(mask), levels=levels)
    for before, after in mapping.items():
        for name in RUN_LENGTH_FEATURES:
            assert g[f"{after}_{name}"] == pytest.approx(
                f[f"{before}_{name}"], rel=1e-14
            )


def test_level_numbering_does_not_matter():
    image, mask, levels = random_roi(43)
    f = run_length_features(image, mask, levels=levels)
    relabelled = (levels - 1 - image) * 3 + 1  # an injective map of the levels
    g = run_length_features(relabelled, mask, levels=3 * levels + 1)
    assert g == pytest.approx(f, rel=1e-14)


def test_sixteen_bit_levels():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 2**16, size=(9, 9)).astype(np.uint16)
    image[2:5, :] = 60000  # some long horizontal runs
    mask = np.ones((9, 9), bool)
    f = run_length_features(image, mask, levels=2**16)
    P = loop_matrix(image.astype(np.int64), mask, (0, 1), 2**16, 9)
    assert f["Horzl_LngREmph"] == pytest.approx(loop_features(P, 81)["LngREmph"])


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def test_direction_accepts_an_array_step():
    P = run_length_matrix(IMAGE, FULL, np.array([1, -1]), 4)
    np.testing.assert_array_equal(P, HAND["45dgr"])


@pytest.mark.parametrize(
    "direction",
    [
        "diag",
        "horzl",
        (2, 0),
        (0, 0),
        (1,),
        5,
        None,
        (0.0, 1.0),
        (True, False),
        np.array([[0, 1], [1, 1]]),
    ],
)
def test_bad_direction(direction):
    with pytest.raises(ValueError, match="direction must be one of"):
        run_length_matrix(IMAGE, FULL, direction, 4)


def test_max_run_length_too_short():
    with pytest.raises(
        ValueError,
        match=r"max_run_length=2 is shorter than the longest run \(3 pixels\)",
    ):
        run_length_matrix(IMAGE, FULL, "Vertl", 4, max_run_length=2)


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_bad_max_run_length(value):
    with pytest.raises(ValueError, match="max_run_length must be a positive integer"):
        run_length_matrix(IMAGE, FULL, "Horzl", 4, max_run_length=value)


def test_levels_too_small_and_non_integer_image():
    with pytest.raises(
        ValueError, match=r"0\.\.levels-1 = 0\.\.1; got values from 0 to 3"
    ):
        run_length_features(IMAGE, FULL, levels=2)
    with pytest.raises(ValueError, match=r"non-integer value 0\.25"):
        run_length_features(IMAGE + 0.25, FULL, levels=8)
    with pytest.raises(ValueError, match=r"between 1 and 65536; got 65537"):
        run_length_features(IMAGE, FULL, levels=2**16 + 1)
    with pytest.raises(TypeError, match="levels must be an integer"):
        run_length_matrix(IMAGE, FULL, "Horzl", 4.0)


def test_shape_mismatch_and_empty_mask():
    with pytest.raises(ValueError, match=r"same shape as image; got image \(4, 4\)"):
        run_length_features(IMAGE, np.ones((3, 4), bool), levels=4)
    with pytest.raises(ValueError, match="at least one ROI pixel"):
        run_length_features(IMAGE, np.zeros((4, 4), bool), levels=4)
    assert math.isfinite(run_length_features(IMAGE, FULL, levels=4)["Vertl_Fraction"])
