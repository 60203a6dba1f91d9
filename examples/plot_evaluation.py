"""Evaluate the three models like the study: Table 2 and its figures.

Fits the radiomics model, the ResNet-50 model and their stack on a stratified
7:3 split of a synthetic cohort, then reports, for each model on the test
split, the AUC with its DeLong 95% CI and the accuracy, sensitivity,
specificity, PPV and NPV (Wilson CIs) at the Youden threshold chosen on the
training lesions' out-of-fold scores; tests the stack against each single
model (DeLong); and draws the ROC curves, the calibration curves, the decision
curves and the radiomics model's LASSO coefficients.

Small settings keep it quick: 100 lesions at 128 pixels, 3-fold stacking, a
50-tree forest and a random ResNet-50 (``weights=None``) on 32-pixel crops;
``python -m ceusradiomics demo`` runs the study's sizes.

Run it as::

    python examples/plot_evaluation.py [output.png]

The figure goes to the path given as the first argument, or
``evaluation.png``.
"""

import sys
import warnings

import matplotlib

matplotlib.use("Agg")  # no display needed; must come before pyplot

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import train_test_split

from ceusradiomics import StackingERClassifier
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.ensemble import make_study_pipeline
from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.metrics import (
    binary_report,
    delong_test,
    roc_auc_ci,
    youden_threshold,
)
from ceusradiomics.plotting import (
    plot_calibration_curves,
    plot_decision_curves,
    plot_lasso_coefficients,
    plot_roc_curves,
)

NAMES = {"radiomics": "Radiomics", "deep": "ResNet50", "stack": "Stack"}


def main(path="evaluation.png"):
    # Wavelet scales that a small ROI cannot hold are NaN (imputed).
    warnings.simplefilter("ignore", DegenerateROIWarning)
    X, y, _ = make_ceus_cohort(n_lesions=100, image_size=128, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    radiomics = make_study_pipeline("radiomics", lasso_cv=5, random_state=0)
    radiomics.set_params(randomforestclassifier__n_estimators=50)
    deep = make_study_pipeline(
        "deep", weights=None, image_size=32, lasso_cv=5, random_state=0
    ).set_params(resnetfeaturizer__layer="layer2")
    stack = StackingERClassifier(
        estimators=[("radiomics", radiomics), ("deep", deep)],
        cv=3,
        random_state=0,
    ).fit(X_train, y_train)
    # Training scores are out-of-fold: a refitted forest would score its own
    # training lesions perfectly. The thresholds are chosen on them.
    train = stack.oof_proba_
    test = stack.branch_predict_proba(X_test)

    rows = []
    for key, name in NAMES.items():
        threshold = youden_threshold(y_train, train[key])
        auc = roc_auc_ci(y_test, test[key])
        report = binary_report(y_test, test[key], threshold=threshold)
        rows.append(
            {
                "model": name,
                "AUC": auc.auc,
                "95% CI": f"{auc.ci_lower:.3f}-{auc.ci_upper:.3f}",
                "accuracy": report.accuracy,
                "sensitivity": report.sensitivity,
                "specificity": report.specificity,
                "PPV": report.ppv,
                "NPV": report.npv,
            }
        )
    print(f"Test split ({len(y_test)} lesions, {int(y_test.sum())} ER):")
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for key in ("radiomics", "deep"):
        result = delong_test(y_test, test["stack"], test[key])
        print(
            f"DeLong, stack vs {NAMES[key]}: difference {result.difference:+.3f}, "
            f"p = {result.p_value:.3f}"
        )

    scores = {name: test[key] for key, name in NAMES.items()}
    fig, axes = plt.subplots(2, 2, figsize=(11, 10))
    plot_roc_curves(y_test, scores, ax=axes[0, 0])
    axes[0, 0].set_title("ROC, test split (DeLong 95% CI)")
    plot_calibration_curves(y_test, scores, ax=axes[0, 1])
    axes[0, 1].set_title("Calibration, test split")
    plot_decision_curves(y_test, scores, ax=axes[1, 0])
    axes[1, 0].set_title("Decision curves, test split")
    lasso = stack.named_estimators_["radiomics"].named_steps["lassoselector"]
    coef = pd.Series(lasso.coef_, index=lasso.feature_names_in_)
    plot_lasso_coefficients(coef, ax=axes[1, 1])
    axes[1, 1].set_title("Radiomics model: LASSO coefficients")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
