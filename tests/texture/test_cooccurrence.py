"""Co-occurrence matrix and Haralick features (MaZda 4.6 names).

References used here, independent of the code under test:

* hand-counted 4 x 4 matrices (the image of scikit-image's ``graycomatrix``
  docstring) and hand-computed features of tiny matrices;
* brute-force Python loops over pixel pairs and textbook formulas (the oracle
  style of mahotas' own tests);
* scikit-image ``graycomatrix``/``graycoprops`` and mahotas ``haralick``;
* the IBSI digital phantom's consensus values (``tests/data/ibsi``).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.texture.cooccurrence import (
    HARALICK_FEATURES,
    co_occurrence_feature_names,
    co_occurrence_features,
    co_occurrence_matrix,
    glcm_offsets,
    haralick_features,
)

IBSI = Path(__file__).resolve().parents[1] / "data" / "ibsi"

# scikit-image's graycomatrix docstring image.
IMAGE = np.array(
    [
        [0, 0, 1, 1],
        [0, 0, 1, 1],
        [0, 2, 2, 2],
        [2, 2, 3, 3],
    ]
)
FULL = np.ones((4, 4), bool)

# Non-symmetric counts C[a, b]: pixel of level a at (r, c), partner of level b
# at (r + dr, c + dc), counted by hand pair by pair.
HAND_COUNTS = {
    # rows: 0-0 0-1 1-1 | 0-0 0-1 1-1 | 0-2 2-2 2-2 | 2-2 2-3 3-3
    (0, 1): [[2, 2, 1, 0], [0, 2, 0, 0], [0, 0, 3, 1], [0, 0, 0, 1]],
    # columns: 0-0 0-0 0-2 | 0-0 0-2 2-2 | 1-1 1-2 2-3 | 1-1 1-2 2-3
    (1, 0): [[3, 0, 2, 0], [0, 2, 2, 0], [0, 0, 1, 2], [0, 0, 0, 0]],
    # "\": 0-0 0-1 1-1 | 0-2 0-2 1-2 | 0-2 2-3 2-3
    (1, 1): [[1, 1, 3, 0], [0, 1, 1, 0], [0, 0, 0, 2], [0, 0, 0, 0]],
    # "/": (1,0)->(0,1) 0-0, 0-1, 1-1 | 0-0 2-1 2-1 | 2-2 2-2 3-2
    (-1, 1): [[2, 1, 0, 0], [0, 1, 0, 0], [0, 2, 2, 0], [0, 0, 1, 0]],
    # distance 2 horizontal: 0-1 0-1 | 0-1 0-1 | 0-2 2-2 | 2-3 2-3
    (0, 2): [[0, 4, 1, 0], [0, 0, 0, 0], [0, 0, 1, 2], [0, 0, 0, 0]],
    # distance 2 "/": (2,0)->(0,2) 0-1, (2,1)->(0,3) 2-1, (3,0)->(1,2) 2-1,
    # (3,1)->(1,3) 2-1
    (-2, 2): [[0, 1, 0, 0], [0, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 0]],
}


# --------------------------------------------------------------------------
# oracles (loops, written independently of the vectorised code)
# --------------------------------------------------------------------------


def loop_counts(image, mask, step, levels, symmetric=True):
    """Count the pairs with both pixels in the image and the ROI, one by one."""
    dr, dc = step
    n_rows, n_cols = image.shape
    C = np.zeros((levels, levels), dtype=np.int64)
    for r in range(n_rows):
        for c in range(n_cols):
            r2, c2 = r + dr, c + dc
            if 0 <= r2 < n_rows and 0 <= c2 < n_cols and mask[r, c] and mask[r2, c2]:
                C[image[r, c], image[r2, c2]] += 1
    return C + C.T if symmetric else C


def loop_features(counts):
    """Haralick f1-f11 by their textbook formulas (1-based levels, log10)."""
    L = counts.shape[0]
    p = counts / counts.sum()
    px, py = p.sum(axis=1), p.sum(axis=0)
    g = np.arange(1, L + 1)
    mx, my = g @ px, g @ py
    sx = math.sqrt(((g - mx) ** 2) @ px)
    sy = math.sqrt(((g - my) ** 2) @ py)
    p_sum = np.zeros(2 * L + 1)
    p_dif = np.zeros(L)
    asm = corr = sos = idm = ent = 0.0
    for i in range(1, L + 1):
        for j in range(1, L + 1):
            v = p[i - 1, j - 1]
            p_sum[i + j] += v
            p_dif[abs(i - j)] += v
            asm += v * v
            corr += (i - mx) * (j - my) * v
            sos += (i - mx) ** 2 * v
            idm += v / (1 + (i - j) ** 2)
            ent -= v * math.log10(v) if v > 0 else 0.0
    k = np.arange(2 * L + 1)
    d = np.arange(L)
    sum_ent = -sum(v * math.log10(v) for v in p_sum if v > 0)
    mu_d = d @ p_dif
    return {
        "AngScMom": asm,
        "Contrast": (d**2) @ p_dif,
        "Correlat": corr / (sx * sy),
        "SumOfSqs": sos,
        "InvDfMom": idm,
        "SumAverg": k @ p_sum,
        "SumVarnc": ((k - sum_ent) ** 2) @ p_sum,
        "SumEntrp": sum_ent,
        "Entropy": ent,
        "DifVarnc": ((d - mu_d) ** 2) @ p_dif,
        "DifEntrp": -sum(v * math.log10(v) for v in p_dif if v > 0),
    }


def random_roi(seed, shape=None, levels=None, p_in=0.75):
    """A random image and an irregular mask with holes (touching the border)."""
    rng = np.random.default_rng(seed)
    if shape is None:
        shape = tuple(int(s) for s in rng.integers(6, 24, size=2))
    if levels is None:
        levels = int(rng.integers(2, 17))
    image = rng.integers(0, levels, size=shape)
    mask = rng.random(shape) < p_in
    mask[shape[0] // 2, :] = True  # a full row: the mask reaches both borders
    mask[1:3, 1:3] = False  # a hole
    return image, mask, levels


# --------------------------------------------------------------------------
# names and offsets
# --------------------------------------------------------------------------


def test_glcm_offsets_mazda_order_and_steps():
    offsets = glcm_offsets((1, 3))
    assert offsets == [
        ("S(1,0)", 0, 1),
        ("S(0,1)", 1, 0),
        ("S(1,1)", 1, 1),
        ("S(1,-1)", -1, 1),
        ("S(3,0)", 0, 3),
        ("S(0,3)", 3, 0),
        ("S(3,3)", 3, 3),
        ("S(3,-3)", -3, 3),
    ]
    assert len(glcm_offsets()) == 20


def test_feature_names_order():
    names = co_occurrence_feature_names()
    assert len(names) == 220 == len(set(names))
    assert names[:11] == ["S(1,0)" + f for f in HARALICK_FEATURES]
    assert names[11] == "S(0,1)AngScMom"
    assert names[33:35] == ["S(1,-1)AngScMom", "S(1,-1)Contrast"]
    assert names[-1] == "S(5,-5)DifEntrp"
    assert co_occurrence_feature_names((2,))[0] == "S(2,0)AngScMom"
    image, mask, levels = random_roi(0)
    assert list(co_occurrence_features(image, mask, levels=levels)) == names


# --------------------------------------------------------------------------
# hand-computed matrices and features
# --------------------------------------------------------------------------


@pytest.mark.parametrize("step", list(HAND_COUNTS))
def test_hand_counted_matrices(step):
    C = np.array(HAND_COUNTS[step])
    raw = co_occurrence_matrix(IMAGE, FULL, [step], 4, symmetric=False, normed=False)
    assert raw.shape == (4, 4, 1) and raw.dtype == np.int64
    np.testing.assert_array_equal(raw[:, :, 0], C)
    sym = co_occurrence_matrix(IMAGE, FULL, [step], 4, normed=False)
    np.testing.assert_array_equal(sym[:, :, 0], C + C.T)
    normed = co_occurrence_matrix(IMAGE, FULL, [step], 4)
    np.testing.assert_allclose(normed[:, :, 0], (C + C.T) / (2 * C.sum()), rtol=1e-15)


def test_opposite_step_gives_the_transpose():
    for dr, dc in HAND_COUNTS:
        P = co_occurrence_matrix(
            IMAGE, FULL, [(dr, dc), (-dr, -dc)], 4, symmetric=False, normed=False
        )
        np.testing.assert_array_equal(P[:, :, 1], P[:, :, 0].T)


def test_hand_counted_matrix_with_a_masked_pixel():
    mask = FULL.copy()
    mask[2, 1] = False  # removes the pairs 0-2 and 2-2 of row 2
    P = co_occurrence_matrix(IMAGE, mask, [(0, 1)], 4, symmetric=False, normed=False)
    expected = [[2, 2, 0, 0], [0, 2, 0, 0], [0, 0, 2, 1], [0, 0, 0, 1]]
    np.testing.assert_array_equal(P[:, :, 0], expected)


def test_offsets_accept_glcm_offsets_triples():
    a = co_occurrence_matrix(IMAGE, FULL, glcm_offsets((1, 2)), 4)
    b = co_occurrence_matrix(
        IMAGE, FULL, [(dr, dc) for _, dr, dc in glcm_offsets((1, 2))], 4
    )
    np.testing.assert_array_equal(a, b)


def test_offsets_accept_an_array():
    steps = np.array([[0, 1], [-1, 1]])
    a = co_occurrence_matrix(IMAGE, FULL, steps, 4)
    np.testing.assert_array_equal(
        a, co_occurrence_matrix(IMAGE, FULL, [(0, 1), (-1, 1)], 4)
    )


def test_hand_computed_features_of_a_two_level_matrix():
    # p = [[1/2, 1/4], [1/4, 0]] with levels 1 and 2 (1-based).
    f = haralick_features(np.array([[2, 1], [1, 0]]))
    # px = (3/4, 1/4): mu = 5/4, var = 3/16; cov = 1/2 (1/4)^2 - 2/4 (1/4)(3/4)
    sum_ent = math.log10(2)  # p_{x+y}(2) = p_{x+y}(3) = 1/2
    expected = {
        "AngScMom": 0.25 + 2 / 16,
        "Contrast": 0.5,
        "Correlat": (1 / 32 - 3 / 32) / (3 / 16),
        "SumOfSqs": 3 / 16,
        "InvDfMom": 0.5 + 0.5 / 2,
        "SumAverg": 2.5,
        "SumVarnc": 0.5 * (2 - sum_ent) ** 2 + 0.5 * (3 - sum_ent) ** 2,
        "SumEntrp": sum_ent,
        "Entropy": 0.5 * math.log10(2) + 0.5 * math.log10(4),
        "DifVarnc": 0.25,
        "DifEntrp": math.log10(2),
    }
    assert list(f) == list(HARALICK_FEATURES)
    for name, value in expected.items():
        assert isinstance(f[name], np.floating)
        assert f[name] == pytest.approx(value, rel=1e-13), name


def test_haralick_features_normalises_counts_and_stacks():
    rng = np.random.default_rng(3)
    C = rng.integers(0, 9, size=(5, 5, 3))
    by_counts = haralick_features(C)
    by_probs = haralick_features(C / C.sum(axis=(0, 1)))
    for name in HARALICK_FEATURES:
        assert by_counts[name].shape == (3,)
        np.testing.assert_allclose(by_counts[name], by_probs[name], rtol=1e-12)
        for k in range(3):
            assert by_counts[name][k] == pytest.approx(
                loop_features(C[:, :, k])[name], rel=1e-11
            )


def test_diagonal_convention_on_a_slash_stripe_image():
    # The grey level is r + c: constant along "/" lines (MaZda spec test T3).
    r, c = np.indices((6, 7))
    image = r + c
    f = co_occurrence_features(image, np.ones(image.shape, bool), levels=12)
    for d in range(1, 6):
        assert f[f"S({d},-{d})Contrast"] == 0.0  # "/": same level
        assert f[f"S({d},-{d})DifEntrp"] == 0.0
        assert f[f"S({d},{d})Contrast"] == pytest.approx(4 * d * d)  # "\"
        assert f[f"S({d},0)Contrast"] == pytest.approx(d * d)
        assert f[f"S(0,{d})Contrast"] == pytest.approx(d * d)
        assert f[f"S({d},-{d})Correlat"] == pytest.approx(1.0, rel=1e-14)


def test_checkerboard_entropy_is_base_10():
    # MaZda spec test T5: the S(1,0) matrix is two cells of 1/2.
    image = np.indices((8, 8)).sum(axis=0) % 2
    f = co_occurrence_features(image, np.ones((8, 8), bool), levels=2, distances=(1,))
    assert f["S(1,0)Entropy"] == pytest.approx(math.log10(2), rel=1e-14)
    assert f["S(1,0)Contrast"] == 1.0
    assert f["S(1,0)Correlat"] == pytest.approx(-1.0, rel=1e-14)
    assert f["S(1,1)Contrast"] == 0.0


# --------------------------------------------------------------------------
# brute-force oracles on random ROIs with holes
# --------------------------------------------------------------------------

EXTRA_STEPS = [(2, -3), (-4, 0), (0, -2), (-1, -1), (3, 1), (0, 0)]


@pytest.mark.parametrize("seed", range(6))
def test_matrices_equal_the_loop_oracle(seed):
    image, mask, levels = random_roi(seed)
    steps = [(dr, dc) for _, dr, dc in glcm_offsets()] + EXTRA_STEPS
    for symmetric in (True, False):
        P = co_occurrence_matrix(
            image, mask, steps, levels, symmetric=symmetric, normed=False
        )
        assert P.shape == (levels, levels, len(steps))
        for k, step in enumerate(steps):
            np.testing.assert_array_equal(
                P[:, :, k], loop_counts(image, mask, step, levels, symmetric)
            )


@pytest.mark.parametrize("seed", range(6))
def test_features_equal_the_loop_oracle(seed):
    image, mask, levels = random_roi(seed + 10)
    f = co_occurrence_features(image, mask, levels=levels)
    for label, dr, dc in glcm_offsets():
        expected = loop_features(loop_counts(image, mask, (dr, dc), levels))
        for name, value in expected.items():
            assert f[label + name] == pytest.approx(value, rel=1e-11, abs=1e-13), (
                label + name
            )


def test_non_symmetric_features_equal_the_loop_oracle():
    image, mask, levels = random_roi(42)
    steps = [(0, 1), (-2, 2), (3, 0)]
    P = co_occurrence_matrix(image, mask, steps, levels, symmetric=False)
    f = haralick_features(P)
    for k, step in enumerate(steps):
        expected = loop_features(loop_counts(image, mask, step, levels, False))
        for name, value in expected.items():
            assert f[name][k] == pytest.approx(value, rel=1e-11, abs=1e-13), name


def test_one_pixel_wide_and_tall_images():
    rng = np.random.default_rng(5)
    for shape in [(1, 17), (17, 1)]:
        image = rng.integers(0, 5, size=shape)
        mask = np.ones(shape, bool)
        steps = [(dr, dc) for _, dr, dc in glcm_offsets()]
        P = co_occurrence_matrix(image, mask, steps, 5, normed=False)
        for k, step in enumerate(steps):
            np.testing.assert_array_equal(P[:, :, k], loop_counts(image, mask, step, 5))


# --------------------------------------------------------------------------
# second libraries
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_matrices_and_props_equal_scikit_image(seed):
    skfeature = pytest.importorskip("skimage.feature")
    image, mask, levels = random_roi(seed + 20, shape=(19, 23), levels=16)
    ours = co_occurrence_features(image, mask, levels=levels)
    # Mask trick: outside pixels become an extra level, dropped afterwards.
    marked = np.where(mask, image, levels).astype(np.uint8)
    for label, dr, dc in glcm_offsets():
        # skimage puts the partner at (r + round(sin a * d), c + round(cos a * d)):
        # give the Euclidean length and the angle of the step (its pi/4 with an
        # integer distance d would be the step (d, d) only for d = 1).
        sk = skfeature.graycomatrix(
            marked,
            distances=[math.hypot(dr, dc)],
            angles=[math.atan2(dr, dc)],
            levels=levels + 1,
            symmetric=True,
        )[:levels, :levels]
        mine = co_occurrence_matrix(image, mask, [(dr, dc)], levels, normed=False)
        np.testing.assert_array_equal(mine[:, :, 0], sk[:, :, 0, 0])
        pairs = {
            "ASM": "AngScMom",
            "contrast": "Contrast",
            "correlation": "Correlat",
            "homogeneity": "InvDfMom",
            "variance": "SumOfSqs",
        }
        for prop, name in pairs.items():
            value = skfeature.graycoprops(sk, prop)[0, 0]
            assert ours[label + name] == pytest.approx(value, rel=1e-11), name
        # skimage's entropy uses the natural logarithm.
        entropy = skfeature.graycoprops(sk, "entropy")[0, 0]
        assert ours[label + "Entropy"] == pytest.approx(
            entropy / math.log(10), rel=1e-12
        )


@pytest.mark.parametrize("distance", [1, 2, 4])
def test_features_equal_mahotas(distance):
    mahotas = pytest.importorskip("mahotas")
    image, mask, levels = random_roi(30 + distance, shape=(21, 18), levels=12)
    ours = co_occurrence_features(image, mask, levels=levels, distances=(distance,))
    # ignore_zeros trick: levels shifted by one, outside pixels 0 and dropped,
    # so mahotas' matrix index is our 1-based level.
    shifted = np.where(mask, image + 1, 0).astype(np.intc)
    theirs = mahotas.features.haralick(
        shifted, ignore_zeros=True, distance=distance, use_x_minus_y_variance=True
    )
    d = distance
    # mahotas' directions: 0 (0, +d), 1 (+d, +d), 2 (+d, 0), 3 (+d, -d)
    labels = [f"S({d},0)", f"S({d},{d})", f"S(0,{d})", f"S({d},-{d})"]
    log2_10 = math.log2(10)
    for row, label in zip(theirs, labels, strict=True):
        f = {name: ours[label + name] for name in HARALICK_FEATURES}
        # Same definitions (mahotas' DifVarnc with use_x_minus_y_variance=True):
        for k, name in enumerate(
            ["AngScMom", "Contrast", "Correlat", "SumOfSqs", "InvDfMom", "SumAverg"]
        ):
            assert f[name] == pytest.approx(row[k], rel=1e-11), name
        assert f["DifVarnc"] == pytest.approx(row[9], rel=1e-11)
        # Entropies: mahotas uses log2.
        assert f["SumEntrp"] * log2_10 == pytest.approx(row[7], rel=1e-11)
        assert f["Entropy"] * log2_10 == pytest.approx(row[8], rel=1e-11)
        assert f["DifEntrp"] * log2_10 == pytest.approx(row[10], rel=1e-11)
        # mahotas centres SumVarnc on SumAverg; ours on SumEntrp (Haralick's
        # printed formula): they differ by exactly (SumAverg - SumEntrp)**2.
        shifted_var = row[6] + (f["SumAverg"] - f["SumEntrp"]) ** 2
        assert f["SumVarnc"] == pytest.approx(shifted_var, rel=1e-11)


# --------------------------------------------------------------------------
# IBSI digital phantom
# --------------------------------------------------------------------------

IBSI_NG = 6
# IBSI's 2D directions (x, y) = (1, 0), (1, 1), (0, 1), (-1, 1) as (dr, dc).
IBSI_STEPS = [(0, 1), (1, 1), (1, 0), (1, -1)]


def _entropy2(p):
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def ibsi_glcm_features(counts):
    """IBSI's GLCM features of one matrix (grey levels 1..Ng, log2 entropies)."""
    Ng = counts.shape[0]
    p = counts / counts.sum()
    g = np.arange(1, Ng + 1)
    i, j = np.meshgrid(g, g, indexing="ij")
    pi, pj = p.sum(axis=1), p.sum(axis=0)
    mu_i, mu_j = g @ pi, g @ pj
    s_i = math.sqrt(((g - mu_i) ** 2) @ pi)
    s_j = math.sqrt(((g - mu_j) ** 2) @ pj)
    mu = (i * p).sum()
    k = np.arange(Ng)
    p_dif = np.array([p[np.abs(i - j) == v].sum() for v in k])
    ks = np.arange(2, 2 * Ng + 1)
    p_sum = np.array([p[i + j == v].sum() for v in ks])
    dif_avg, sum_avg = k @ p_dif, ks @ p_sum
    hxy = _entropy2(p.ravel())
    outer = np.outer(pi, pj)
    log_outer = np.log2(np.where(outer > 0, outer, 1.0))
    hxy1 = -(p * log_outer).sum()
    hxy2 = -(outer * log_outer).sum()
    cl = i + j - mu_i - mu_j
    return {
        "Joint maximum": p.max(),
        "Joint average": mu,
        "Joint variance": ((i - mu) ** 2 * p).sum(),
        "Joint entropy": hxy,
        "Difference average": dif_avg,
        "Difference variance": ((k - dif_avg) ** 2) @ p_dif,
        "Difference entropy": _entropy2(p_dif),
        "Sum average": sum_avg,
        "Sum variance": ((ks - sum_avg) ** 2) @ p_sum,
        "Sum entropy": _entropy2(p_sum),
        "Angular second moment": (p**2).sum(),
        "Contrast": ((i - j) ** 2 * p).sum(),
        "Dissimilarity": (np.abs(i - j) * p).sum(),
        "Inverse difference": (p / (1 + np.abs(i - j))).sum(),
        "Normalised inverse difference": (p / (1 + np.abs(i - j) / Ng)).sum(),
        "Inverse difference moment": (p / (1 + (i - j) ** 2)).sum(),
        "Normalised inverse difference moment": (p / (1 + (i - j) ** 2 / Ng**2)).sum(),
        "Inverse variance": (p_dif[1:] / k[1:] ** 2).sum(),
        "Correlation": ((i - mu_i) * (j - mu_j) * p).sum() / (s_i * s_j),
        "Autocorrelation": (i * j * p).sum(),
        "Cluster tendency": (cl**2 * p).sum(),
        "Cluster shade": (cl**3 * p).sum(),
        "Cluster prominence": (cl**4 * p).sum(),
        "Information correlation 1": (hxy - hxy1) / _entropy2(pi),
        "Information correlation 2": math.sqrt(1 - math.exp(-2 * (hxy2 - hxy))),
    }


def _mean_features(dicts):
    return {name: float(np.mean([d[name] for d in dicts])) for name in dicts[0]}


@pytest.fixture(scope="module")
def ibsi_glcm():
    image = np.load(IBSI / "phantom_image.npy")
    mask = np.load(IBSI / "phantom_mask.npy").astype(bool)
    mosaic = np.load(IBSI / "phantom_mosaic_image.npy")
    mosaic_mask = np.load(IBSI / "phantom_mosaic_mask.npy").astype(bool)
    # Grey level g (1..6) -> index g - 1 with levels = 6; the 9 outside the ROI
    # becomes 8, which the mask hides. Symmetric count matrices per direction.
    per_slice = [
        co_occurrence_matrix(image[z] - 1, mask[z], IBSI_STEPS, IBSI_NG, normed=False)
        for z in range(image.shape[0])
    ]
    merged = co_occurrence_matrix(
        mosaic - 1, mosaic_mask, IBSI_STEPS, IBSI_NG, normed=False
    )
    # The mosaic's masked gap columns keep slices apart: its matrices are
    # exactly the per-slice sums (README section 5.4).
    np.testing.assert_array_equal(merged, sum(per_slice))
    return {
        "BTW3": _mean_features(
            [ibsi_glcm_features(P[:, :, k]) for P in per_slice for k in range(4)]
        ),
        "SUJT": _mean_features([ibsi_glcm_features(P.sum(axis=2)) for P in per_slice]),
        "JJUI": _mean_features([ibsi_glcm_features(merged[:, :, k]) for k in range(4)]),
        "ZW7Z": ibsi_glcm_features(merged.sum(axis=2)),
    }


def _ibsi_rows(family):
    with open(IBSI / "reference_values.csv", newline="") as fh:
        rows = [
            r
            for r in csv.DictReader(fh)
            if r["family"] == family
            and r["aggregation_code"] in {"BTW3", "SUJT", "JJUI", "ZW7Z"}
        ]
    return [pytest.param(r, id=f"{r['aggregation_code']}-{r['feature']}") for r in rows]


@pytest.mark.parametrize("row", _ibsi_rows("glcm"))
def test_ibsi_phantom_glcm(row, ibsi_glcm):
    # MIRP's matching rule: the value rounded to 3 significant digits equals
    # the printed consensus value (tolerance 0).
    value = ibsi_glcm[row["aggregation_code"]][row["feature"]]
    assert float(f"{value:.3g}") == float(row["value"])


def test_ibsi_rows_cover_all_2d_and_25d_glcm_values():
    assert len(_ibsi_rows("glcm")) == 4 * 25


def test_ibsi_values_agree_with_the_mazda_features(ibsi_glcm):
    # The features the two definitions share, from co_occurrence_features on
    # one slice (levels 1-based in both; MaZda's entropies are log10).
    image = np.load(IBSI / "phantom_image.npy")[0] - 1
    mask = np.load(IBSI / "phantom_mask.npy")[0].astype(bool)
    f = co_occurrence_features(image, mask, levels=IBSI_NG, distances=(1,))
    P = co_occurrence_matrix(image, mask, IBSI_STEPS, IBSI_NG, normed=False)
    labels = ["S(1,0)", "S(1,1)", "S(0,1)", "S(1,-1)"]
    for k, label in enumerate(labels):
        ibsi = ibsi_glcm_features(P[:, :, k])
        assert f[label + "AngScMom"] == pytest.approx(ibsi["Angular second moment"])
        assert f[label + "Contrast"] == pytest.approx(ibsi["Contrast"])
        assert f[label + "Correlat"] == pytest.approx(ibsi["Correlation"])
        assert f[label + "InvDfMom"] == pytest.approx(ibsi["Inverse difference moment"])
        assert f[label + "SumAverg"] == pytest.approx(ibsi["Sum average"])
        assert f[label + "SumOfSqs"] == pytest.approx(ibsi["Joint variance"])
        assert f[label + "DifVarnc"] == pytest.approx(ibsi["Difference variance"])
        for mazda, name in [
            ("Entropy", "Joint entropy"),
            ("SumEntrp", "Sum entropy"),
            ("DifEntrp", "Difference entropy"),
        ]:
            assert f[label + mazda] == pytest.approx(ibsi[name] * math.log10(2))


# --------------------------------------------------------------------------
# invariants
# --------------------------------------------------------------------------


def test_pixels_outside_the_mask_do_not_matter():
    image, mask, levels = random_roi(50, shape=(17, 20))
    f = co_occurrence_features(image, mask, levels=levels)
    other = image.astype(float)
    other[~mask] = np.random.default_rng(1).choice(
        [-7.5, np.nan, np.inf, 1e9], size=(~mask).sum()
    )
    assert co_occurrence_features(other, mask, levels=levels) == f


def test_translation_changes_nothing():
    image, mask, levels = random_roi(51, shape=(12, 15))
    f = co_occurrence_features(image, mask, levels=levels)
    big_image = np.random.default_rng(2).integers(0, levels, size=(40, 50))
    big_mask = np.zeros((40, 50), bool)
    big_image[20:32, 30:45] = image
    big_mask[20:32, 30:45] = mask
    assert co_occurrence_features(big_image, big_mask, levels=levels) == f


def test_rotation_by_90_degrees_swaps_the_directions():
    image, mask, levels = random_roi(52, shape=(13, 16))
    f = co_occurrence_features(image, mask, levels=levels)
    g = co_occurrence_features(np.rot90(image), np.rot90(mask), levels=levels)
    # np.rot90 (counter-clockwise) turns rows into columns, and "/" into "\".
    for d in range(1, 6):
        swaps = [
            (f"S({d},0)", f"S(0,{d})"),
            (f"S(0,{d})", f"S({d},0)"),
            (f"S({d},{d})", f"S({d},-{d})"),
            (f"S({d},-{d})", f"S({d},{d})"),
        ]
        for before, after in swaps:
            for name in HARALICK_FEATURES:
                assert g[after + name] == pytest.approx(
                    f[before + name], rel=1e-12, nan_ok=True
                )


def test_symmetric_normed_matrices_are_symmetric_and_sum_to_one():
    image, mask, levels = random_roi(53)
    steps = [(dr, dc) for _, dr, dc in glcm_offsets()]
    P = co_occurrence_matrix(image, mask, steps, levels)
    np.testing.assert_array_equal(P, P.transpose(1, 0, 2))
    np.testing.assert_allclose(P.sum(axis=(0, 1)), 1.0, rtol=1e-14)
    assert P.dtype == np.float64 and P.flags.c_contiguous


def test_float_image_with_integer_values_equals_int_image():
    image, mask, levels = random_roi(54)
    a = co_occurrence_features(image, mask, levels=levels)
    b = co_occurrence_features(
        image.astype(np.float32), mask.astype(np.uint8), levels=levels
    )
    assert a == b


def test_larger_levels_changes_no_feature():
    image, mask, levels = random_roi(55)
    a = co_occurrence_features(image, mask, levels=levels)
    b = co_occurrence_features(image, mask, levels=levels + 7)
    for name in a:
        assert b[name] == pytest.approx(a[name], rel=1e-12), name


# --------------------------------------------------------------------------
# degenerate ROIs
# --------------------------------------------------------------------------


def test_thin_roi_gives_nan_for_offsets_without_pairs():
    rng = np.random.default_rng(6)
    image = rng.integers(0, 8, size=(10, 30))
    mask = np.zeros((10, 30), bool)
    mask[4:6, 2:28] = True  # two rows: no vertical or diagonal pair beyond d = 1
    with pytest.warns(DegenerateROIWarning, match=r"no pixel pair .*S\(0,2\)"):
        f = co_occurrence_features(image, mask, levels=8)
    for label, dr, _ in glcm_offsets():
        values = [f[label + name] for name in HARALICK_FEATURES]
        if abs(dr) >= 2:
            assert all(math.isnan(v) for v in values), label
        else:
            assert all(math.isfinite(v) for v in values), label


def test_single_pixel_roi_is_all_nan():
    mask = np.zeros((5, 5), bool)
    mask[2, 2] = True
    with pytest.warns(DegenerateROIWarning, match="too small or too thin"):
        f = co_occurrence_features(
            IMAGE.repeat(2, 0).repeat(2, 1)[:5, :5], mask, levels=4
        )
    assert len(f) == 220 and all(math.isnan(v) for v in f.values())


def test_no_pair_matrix_is_all_zero_not_nan():
    mask = np.zeros((4, 4), bool)
    mask[0, 0] = True
    P = co_occurrence_matrix(IMAGE, mask, [(0, 1)], 4)
    assert P.shape == (4, 4, 1) and not P.any()


@pytest.mark.parametrize("g", [0, 5])
def test_constant_roi_documented_values(g):
    image = np.full((9, 11), g)
    mask = np.ones((9, 11), bool)
    with pytest.warns(DegenerateROIWarning, match="Correlat is NaN"):
        f = co_occurrence_features(image, mask, levels=8)
    for label, _, _ in glcm_offsets():
        assert math.isnan(f[label + "Correlat"])
        assert f[label + "AngScMom"] == pytest.approx(1.0, rel=1e-15)
        assert f[label + "InvDfMom"] == 1.0
        assert f[label + "SumAverg"] == 2 * (g + 1)  # 1-based levels
        assert f[label + "SumVarnc"] == 4 * (g + 1) ** 2  # centred on SumEntrp = 0
        for name in ["Contrast", "SumOfSqs", "SumEntrp", "DifVarnc", "DifEntrp"]:
            assert f[label + name] == 0.0, name
        # log10(T) - T log10(T) / T: zero up to rounding.
        assert f[label + "Entropy"] == pytest.approx(0.0, abs=1e-14)


def test_haralick_features_warns_for_an_empty_matrix():
    P = np.zeros((3, 3, 2))
    P[:, :, 0] = [[1, 2, 0], [2, 0, 1], [0, 1, 3]]
    with pytest.warns(DegenerateROIWarning, match=r"P\[:, :, 1\]"):
        f = haralick_features(P)
    assert all(math.isfinite(v[0]) and math.isnan(v[1]) for v in f.values())


def test_haralick_features_warns_for_zero_variance():
    with pytest.warns(DegenerateROIWarning, match="Correlat is NaN"):
        f = haralick_features(np.diag([0.0, 4.0, 0.0]))
    assert math.isnan(f["Correlat"]) and f["AngScMom"] == 1.0


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def test_levels_too_small_for_the_values():
    with pytest.raises(
        ValueError, match=r"0\.\.levels-1 = 0\.\.2; got values from 0 to 3"
    ):
        co_occurrence_features(IMAGE, FULL, levels=3)
    with pytest.raises(ValueError, match=r"got values from -1 to 2"):
        co_occurrence_matrix(IMAGE - 1, FULL, [(0, 1)], 4)


def test_non_integer_image():
    with pytest.raises(ValueError, match=r"non-integer value 0\.5"):
        co_occurrence_features(IMAGE + 0.5, FULL, levels=8)


def test_non_finite_roi_value():
    image = IMAGE.astype(float)
    image[1, 1] = np.nan
    with pytest.raises(ValueError, match="finite inside the mask"):
        co_occurrence_features(image, FULL, levels=4)


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape as image; got image \(4, 4\)"):
        co_occurrence_features(IMAGE, np.ones((4, 5), bool), levels=4)


def test_empty_mask():
    with pytest.raises(ValueError, match="at least one ROI pixel"):
        co_occurrence_matrix(IMAGE, np.zeros((4, 4), bool), [(0, 1)], 4)


def test_not_2d_and_not_numeric():
    with pytest.raises(ValueError, match="2-D array"):
        co_occurrence_features(np.zeros((2, 3, 4), int), np.ones((2, 3, 4)), levels=4)
    with pytest.raises(TypeError, match="integer or floating-point"):
        co_occurrence_features(IMAGE.astype(str), FULL, levels=4)


@pytest.mark.parametrize(
    ("levels", "error", "match"),
    [
        (0, ValueError, "between 1 and 256; got 0"),
        (257, ValueError, "between 1 and 256; got 257"),
        (6.0, TypeError, "levels must be an integer"),
        (True, TypeError, "levels must be an integer"),
    ],
)
def test_bad_levels(levels, error, match):
    with pytest.raises(error, match=match):
        co_occurrence_features(IMAGE, FULL, levels=levels)


@pytest.mark.parametrize("distances", [(), (0, 1), (1, 1), (1.5,), ("1",)])
def test_bad_distances(distances):
    with pytest.raises(ValueError, match="distances must be a non-empty sequence"):
        co_occurrence_features(IMAGE, FULL, levels=4, distances=distances)


def test_distances_not_a_sequence():
    with pytest.raises(TypeError, match="distances must be a sequence"):
        glcm_offsets(None)


@pytest.mark.parametrize("offsets", [[], [(1,)], [(1, 2, 3)], [(0.5, 1)], [("a", 1)]])
def test_bad_offsets(offsets):
    with pytest.raises(ValueError, match="offsets must be a non-empty sequence"):
        co_occurrence_matrix(IMAGE, FULL, offsets, 4)


def test_offsets_not_a_sequence():
    with pytest.raises(TypeError, match="offsets must be a sequence"):
        co_occurrence_matrix(IMAGE, FULL, 3, 4)


@pytest.mark.parametrize(
    ("P", "match"),
    [
        (np.ones((3, 4)), "square matrices"),
        (np.ones((3,)), "square matrices"),
        (-np.ones((2, 2)), "non-negative"),
        (np.full((2, 2), np.nan), "finite"),
        (np.ones((2, 2), complex), "real numbers"),
    ],
)
def test_haralick_features_bad_input(P, match):
    with pytest.raises(ValueError, match=match):
        haralick_features(P)
