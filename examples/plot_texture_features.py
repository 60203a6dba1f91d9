"""Texture features of one lesion, with the matrices behind them.

Takes one lesion of the bundled synthetic cohort (arterial phase), computes
its 283 MaZda features with :func:`ceusradiomics.texture.texture_features`,
prints the ones the study's radiomics score uses, and draws what the families
are computed from: the 6-bit working image, the co-occurrence matrix
``S(1,0)``, the run-length matrix ``135dr``, the absolute gradient and the
Haar band ``HL`` at scale 2.

Run it as::

    python examples/plot_texture_features.py [output.png]

The figure goes to the path given as the first argument, or
``texture_features.png``.
"""

import sys

import matplotlib

matplotlib.use("Agg")  # no display needed; must come before pyplot

import matplotlib.pyplot as plt
import numpy as np

from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.texture import (
    DEFAULT_BITS,
    absolute_gradient,
    co_occurrence_matrix,
    haar_decomposition,
    quantize,
    run_length_matrix,
    texture_features,
)

# The terms of the study's published radiomics score that this phase holds.
SCORE_TERMS = ["Perc.50%", "GrSkewness", "S(1,0)Correlat"]


def main(path="texture_features.png"):
    X, y, _ = make_ceus_cohort(n_lesions=4, random_state=0)
    lesion = X.index[0]
    image, mask = X.loc[lesion, "AP_image"], X.loc[lesion, "AP_mask"]

    features = texture_features(image, mask)  # MaZda defaults: "none", 6/8 bits
    print(f"lesion {lesion} (ER={y[lesion]}), AP phase: {len(features)} features")
    for name in SCORE_TERMS:
        print(f"  AP_{name:<16} {features[name]:10.4f}")

    # The working image of the matrix families: the ROI's grey levels on
    # 2**6 levels ("none" normalisation keeps the native 8-bit range).
    bits = DEFAULT_BITS["glcm"]
    levels = 2**bits
    working = quantize(image, mask, bits=bits)
    glcm = co_occurrence_matrix(working, mask, [(0, 1)], levels)[:, :, 0]  # S(1,0)
    rlm = run_length_matrix(working, mask, "135dr", levels)
    gradient, support = absolute_gradient(image, mask)
    rows, cols = np.nonzero(mask)
    box = np.s_[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    hl = haar_decomposition(image, 2)["HL"]  # one coefficient per 4 x 4 block

    fig, axes = plt.subplots(2, 3, figsize=(12, 8))
    ax = axes[0, 0]
    ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    ax.contour(mask, levels=[0.5], colors="tab:orange", linewidths=1)
    ax.set_title(f"AP image and ROI ({int(mask.sum())} px)")
    ax = axes[0, 1]
    ax.imshow(np.where(mask, working, np.nan)[box], cmap="gray")
    ax.set_title(f"working image, {levels} levels")
    ax = axes[0, 2]
    ax.imshow(np.where(support, gradient, np.nan)[box], cmap="magma")
    ax.set_title(f"absolute gradient (GrSkewness {features['GrSkewness']:.2f})")
    ax = axes[1, 0]
    ax.imshow(np.log10(glcm + 1e-6), cmap="viridis", origin="lower", vmin=-6)
    ax.set(xlabel="level j", ylabel="level i")
    ax.set_title(f"S(1,0), log10 (Correlat {features['S(1,0)Correlat']:.3f})")
    ax = axes[1, 1]
    longest = int(np.max(np.nonzero(rlm.sum(axis=0))[0])) + 1
    extent = (0.5, longest + 0.5, -0.5, levels - 0.5)
    ax.imshow(rlm[:, :longest], origin="lower", aspect="auto", extent=extent)
    ax.set(xlabel="run length", ylabel="level g")
    ax.set_title(f"135dr run lengths (GLevNonU {features['135dr_GLevNonU']:.0f})")
    ax = axes[1, 2]
    inside = mask[::4, ::4][: hl.shape[0], : hl.shape[1]]
    lim = np.percentile(np.abs(hl[inside]), 99)  # the sector's edge is far brighter
    ax.imshow(hl, cmap="coolwarm", vmin=-lim, vmax=lim)
    ax.contour(inside, levels=[0.5], colors="k", linewidths=1)
    ax.set_title(f"Haar HL, scale 2 (WavEnHL_s-2 {features['WavEnHL_s-2']:.0f})")
    for ax in (*axes[0], axes[1, 2]):  # pictures, not plots
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
