"""Several hospitals: the scanner's mark on the features, ComBat, validation by centre.

1. A synthetic cohort from three centres (``make_ceus_cohort(centers=3)``):
   each centre's scanner has its own gain, display contrast and speckle size,
   and its readers their own way of drawing the ROI.
2. The texture features by centre before and after ComBat: the share of
   features whose distribution differs between the centres (Kruskal-Wallis
   p < 0.05), and a PCA of them coloured by centre (``multicentre.png``).
3. Train on centres A and B, test on C, with and without ComBat inside the
   pipeline (``harmonize="center"``; C is a centre the model never saw, so
   ComBat estimates C's location and scale from C's own features:
   ``unseen="estimate"``, never from its outcomes).
4. Leave one centre out: each centre's AUC with its DeLong 95% CI, with and
   without ComBat.

The figures are those of this synthetic cohort and seed, whichever way they
fall; about a minute on a laptop CPU. Run it as::

    python examples/multicentre.py
"""

import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import kruskal
from sklearn.decomposition import PCA
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.preprocessing import StandardScaler

from ceusradiomics import TextureExtractor
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.ensemble import make_study_pipeline
from ceusradiomics.exceptions import (
    DegenerateROIWarning,
    EmptyFeatureWarning,
    SmallSampleWarning,
)
from ceusradiomics.harmonize import ComBat, HarmonizationWarning
from ceusradiomics.metrics import roc_auc_ci
from ceusradiomics.validation import cross_validate_models

# 128-pixel images keep it quick; their smallest ROIs hold no 32-pixel wavelet
# block, so some s-5 features are empty (imputed) or too sparse to harmonise.
warnings.simplefilter("ignore", DegenerateROIWarning)
warnings.simplefilter("ignore", EmptyFeatureWarning)
warnings.simplefilter("ignore", HarmonizationWarning)
warnings.simplefilter("ignore", SmallSampleWarning)


def differing(table, center):
    """The share of features whose distribution differs between the centres."""
    p = [kruskal(*(table[c][center == k] for k in "ABC")).pvalue for c in table]
    return np.mean(np.asarray(p) < 0.05)


def model(harmonize):
    """The radiomics model, with ComBat after extraction or without."""
    return make_study_pipeline(
        "radiomics",
        readers="primary",
        random_state=0,
        harmonize="center" if harmonize else None,
        harmonize_params={"unseen": "estimate"} if harmonize else None,
    )


def main(path="multicentre.png"):
    X, y, _ = make_ceus_cohort(150, image_size=128, centers=3, random_state=0)
    center = X["center"].to_numpy()
    print("lesions per centre:", X["center"].value_counts().sort_index().to_dict())
    print("ER per centre:", y.groupby(X["center"], observed=True).sum().to_dict())

    # 2. The scanner's mark on the features, before and after ComBat
    features = TextureExtractor(readers="primary").fit_transform(X)
    features = features.loc[:, features.notna().all()]  # complete features only
    harmonised = ComBat().fit_transform(features.assign(center=center))
    print(
        f"features differing between centres (Kruskal-Wallis p < 0.05, "
        f"{features.shape[1]} features): before ComBat "
        f"{differing(features, center):.0%}, after {differing(harmonised, center):.0%}"
    )
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharex=True, sharey=True)
    for ax, (title, table) in zip(
        axes, [("before ComBat", features), ("after ComBat", harmonised)], strict=True
    ):
        scores = PCA(2).fit_transform(StandardScaler().fit_transform(table))
        colours = ("tab:blue", "tab:orange", "tab:green")
        for k, colour in zip("ABC", colours, strict=True):
            ax.scatter(*scores[center == k].T, s=12, color=colour, label=f"centre {k}")
        ax.set_title(title)
        ax.set_xlabel("PC 1")
    axes[0].set_ylabel("PC 2")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"saved {path}")

    # 3. Train on A + B, test on C
    train = center != "C"
    for name, harmonize in (("without ComBat", False), ("with ComBat", True)):
        fitted = model(harmonize).fit(X[train], y[train])
        auc = roc_auc_ci(y[~train], fitted.predict_proba(X[~train])[:, 1])
        print(
            f"train A+B, test C, {name}: AUC {auc.auc:.3f} "
            f"({auc.ci_lower:.3f}-{auc.ci_upper:.3f})"
        )

    # 4. Leave one centre out
    result = cross_validate_models(
        {"without ComBat": model(False), "with ComBat": model(True)},
        X,
        y,
        cv=LeaveOneGroupOut(),
        groups=center,
    )
    table = result.per_group.sort_values(["model", "group"])
    print("leave one centre out (AUC of the held-out centre, DeLong 95% CI):")
    for row in table.itertuples():
        print(
            f"  {row.model:15s} centre {row.group}: {row.auc:.3f} "
            f"({row.auc_ci_lower:.3f}-{row.auc_ci_upper:.3f}), n={row.n}"
        )


if __name__ == "__main__":
    main(*sys.argv[1:2])
