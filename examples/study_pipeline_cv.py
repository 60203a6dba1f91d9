"""The study's models in cross-validation and a grid search.

Every step of the study, from the images to the prediction, is one
scikit-learn estimator, so ``cross_val_score`` and ``GridSearchCV`` refit the
whole chain (ICC filter, U test, correlation pruning, LASSO, classifier) on
each training fold: nothing is selected on the held-out lesions.

1. the radiomics model (MaZda texture -> ICC -> z-score -> U test ->
   correlation pruning -> LASSO -> random forest) in ``cross_val_score``;
2. the stacked model (radiomics + ResNet-50 branches, logistic meta-learner)
   in ``GridSearchCV`` over the radiomics branch's correlation threshold.

Settings are small so that it runs in about half a minute on a laptop CPU: a
72-lesion cohort, 3 folds, a 50-tree forest, and a randomly initialised
ResNet-50 (``weights=None``; use ``"IMAGENET1K_V2"`` for real work) on 32-pixel
crops, read at ``layer2``. The texture and network features of each lesion are
computed once and cached, so the folds and candidates only refit the
selection and the classifiers.

Run it as::

    python examples/study_pipeline_cv.py
"""

import time
import warnings

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ceusradiomics import (
    CorrelationPruner,
    ICCFilter,
    LassoSelector,
    MannWhitneySelector,
    StackingERClassifier,
    TextureExtractor,
)
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.ensemble import make_study_pipeline
from ceusradiomics.exceptions import DegenerateROIWarning


def main():
    # Wavelet scales that a small ROI cannot hold are NaN (imputed below).
    warnings.simplefilter("ignore", DegenerateROIWarning)
    X, y, _ = make_ceus_cohort(n_lesions=72, image_size=128, random_state=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)

    # 1. The radiomics model, step by step (make_study_pipeline("radiomics")
    #    builds the same chain).
    radiomics = make_pipeline(
        TextureExtractor(phases=("US", "AP", "PP"), readers="all"),
        ICCFilter(threshold=0.75),
        SimpleImputer(strategy="median"),
        StandardScaler(),
        MannWhitneySelector(alpha=0.05),
        CorrelationPruner(threshold=0.6),
        LassoSelector(cv=3, random_state=0),
        RandomForestClassifier(n_estimators=50, random_state=0),
    )
    start = time.perf_counter()
    auc = cross_val_score(radiomics, X, y, cv=cv, scoring="roc_auc")
    print(
        f"radiomics model, 3-fold CV: AUC {auc.mean():.3f} +/- {auc.std():.3f} "
        f"({time.perf_counter() - start:.0f} s)"
    )

    # 2. The stack of the two branches, tuned by a grid search. Nested
    #    parameters read branch__step__parameter.
    deep = make_study_pipeline(
        "deep", weights=None, image_size=32, lasso_cv=3, random_state=0
    ).set_params(resnetfeaturizer__layer="layer2")
    stack = StackingERClassifier(
        estimators=[("radiomics", radiomics), ("deep", deep)], cv=3, random_state=0
    )
    grid = GridSearchCV(
        stack,
        {"radiomics__correlationpruner__threshold": [0.6, 0.8]},
        cv=cv,
        scoring="roc_auc",
    )
    start = time.perf_counter()
    grid.fit(X, y)
    results = pd.DataFrame(grid.cv_results_)[
        ["param_radiomics__correlationpruner__threshold", "mean_test_score"]
    ]
    print(f"stacked model, grid search ({time.perf_counter() - start:.0f} s):")
    print(results.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"best: {grid.best_params_}, AUC {grid.best_score_:.3f}")
    # The refitted best model predicts new lesions from their images.
    print(grid.best_estimator_.branch_predict_proba(X.iloc[:3]).round(3))


if __name__ == "__main__":
    main()
