"""Reader agreement (ICC) and feature selection on the bundled cohort.

The study's selection chain, one step at a time, on the synthetic cohort of
172 lesions (a second reader drew the ROIs of about 30 % of them):

1. MaZda texture features of every phase and every reader's ROI;
2. the inter-reader ICC(2,1) of each feature, keeping ICC > 0.75;
3. on the training split only: median imputation, z-score, Mann-Whitney U
   test (p < 0.05), correlation pruning (|r| > 0.6) and LASSO with 10-fold CV,
   whose coefficients make the radiomics score.

Inside a model, the same steps go into one scikit-learn ``Pipeline`` so that
cross-validation refits them on every fold (see ``study_pipeline_cv.py``).

Run it as::

    python examples/icc_and_selection.py [output.png]

The figure (ICC of every feature; LASSO coefficients) goes to the path given
as the first argument, or ``icc_and_selection.png``.
"""

import sys
import warnings

import matplotlib

matplotlib.use("Agg")  # no display needed; must come before pyplot

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ceusradiomics import (
    CorrelationPruner,
    ICCFilter,
    LassoSelector,
    MannWhitneySelector,
    TextureExtractor,
)
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.plotting import plot_lasso_coefficients
from ceusradiomics.selection import intraclass_correlation


def main(path="icc_and_selection.png"):
    X, y, _ = make_ceus_cohort(random_state=0)
    with warnings.catch_warnings():
        # Wavelet scales that a small ROI cannot hold are NaN, with a warning.
        warnings.simplefilter("ignore", DegenerateROIWarning)
        features = TextureExtractor(readers="all").fit_transform(X)
    n_primary = sum("@" not in c for c in features.columns)
    print(f"{len(X)} lesions: {n_primary} features per reader (3 phases)")

    # One feature by hand: the lesions that both readers outlined.
    pair = features[["US_S(1,0)Correlat", "US_S(1,0)Correlat@r2"]].dropna()
    icc = intraclass_correlation(pair.to_numpy(), kind="ICC(2,1)")
    print(
        f"US_S(1,0)Correlat on {len(pair)} lesions read twice: ICC(2,1) = "
        f"{icc.icc:.3f} (95% CI {icc.ci_lower:.3f}-{icc.ci_upper:.3f})"
    )

    # Every feature: the ICC filter reads the @r2 columns and keeps the primary
    # ones that agree. Reader agreement does not use the outcome, so it may
    # see the whole cohort.
    icc_filter = ICCFilter(threshold=0.75).set_output(transform="pandas")
    icc_filter.fit(features)
    reproducible = icc_filter.transform(features)
    print(f"ICC > 0.75: {reproducible.shape[1]} of {n_primary} features kept")

    X_train, X_test, y_train, _ = train_test_split(
        reproducible, y, test_size=0.3, stratify=y, random_state=0
    )
    steps = make_pipeline(
        SimpleImputer(strategy="median"),
        StandardScaler(),
        MannWhitneySelector(alpha=0.05),
        CorrelationPruner(threshold=0.6),
        LassoSelector(cv=10, random_state=0),
    ).set_output(transform="pandas")
    steps.fit(X_train, y_train)
    kept = [f"{reproducible.shape[1]} (ICC)"] + [
        f"{step.get_support().sum()} ({name})"
        for step, name in zip(steps[2:], ["U test", "|r| <= 0.6", "LASSO"], strict=True)
    ]
    print("training split: " + " -> ".join(kept))
    lasso = steps[-1]
    coef = pd.Series(lasso.coef_, index=lasso.feature_names_in_)
    coef = coef[coef != 0].sort_values(key=abs, ascending=False)
    terms = "".join(f"\n    {c:+.3f} x {name}" for name, c in coef.items())
    print(f"radiomics score = {lasso.intercept_:.3f}{terms}")
    score = lasso.radiomics_score(steps[:-1].transform(X_test))
    print(f"test split: radiomics score of the first lesions {score[:3].round(2)}")

    fig, (ax_icc, ax_coef) = plt.subplots(1, 2, figsize=(12, 5))
    ax_icc.hist(icc_filter.icc_[~pd.isna(icc_filter.icc_)], bins=40, color="0.6")
    ax_icc.axvline(0.75, color="tab:red", linestyle="--", label="threshold 0.75")
    ax_icc.set(xlabel="ICC(2,1)", ylabel="features")
    ax_icc.set_title(f"Inter-reader agreement of {n_primary} features")
    ax_icc.legend()
    plot_lasso_coefficients(coef, ax=ax_coef)
    ax_coef.set_title("LASSO coefficients (z-scored features)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
