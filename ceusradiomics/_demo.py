"""``python -m ceusradiomics demo``: the study end to end on a cohort.

Nothing in the library imports this module; it only composes the public API
the way a user would in a notebook.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ceusradiomics.exceptions import DegenerateROIWarning


def cohort_table(y: pd.Series, clinical: pd.DataFrame | None, split: pd.Series) -> str:
    """The study's Table 1: characteristics per split, as plain text."""
    lines = []
    groups = [("Training", split == "train"), ("Testing", split == "test")]
    header = f"{'Characteristic':<22}" + "".join(f"{name:>16}" for name, _ in groups)
    lines += [header, "-" * len(header)]

    def row(label, values):
        lines.append(f"{label:<22}" + "".join(f"{v:>16}" for v in values))

    row("Number", [int(sel.sum()) for _, sel in groups])
    if clinical is not None:
        row(
            "Age (mean +/- SD)",
            [
                f"{clinical.loc[sel, 'age'].mean():.1f} +/- "
                f"{clinical.loc[sel, 'age'].std():.1f}"
                for _, sel in groups
            ],
        )
        for column, title in [
            ("sex", "Sex"),
            ("size_group", "Size (cm)"),
            ("hepatitis", "Hepatitis"),
            ("cirrhosis", "Cirrhosis"),
            ("afp_group", "AFP (ng/ml)"),
        ]:
            if column not in clinical:
                continue
            lines.append(title)
            for level in sorted(clinical[column].dropna().unique()):
                row(
                    f"  {level}",
                    [
                        int((clinical.loc[sel, column] == level).sum())
                        for _, sel in groups
                    ],
                )
    lines.append("ER")
    row("  positive", [int(y[sel].sum()) for _, sel in groups])
    row("  negative", [int((1 - y[sel]).sum()) for _, sel in groups])
    return "\n".join(lines)


def run_demo(
    *,
    n_lesions: int = 172,
    random_state: int = 0,
    manifest: str | None = None,
    label_column: str = "ER",
    n_jobs: int | None = None,
    summary_only: bool = False,
) -> int:
    """Run the demo and print its report; returns the exit code."""
    from ceusradiomics.datasets import make_ceus_cohort
    from ceusradiomics.io import load_cohort

    start = time.perf_counter()
    if manifest is None:
        X, y, clinical = make_ceus_cohort(
            n_lesions=n_lesions, random_state=random_state
        )
        source = f"bundled synthetic CEUS cohort (random_state={random_state})"
    else:
        X, y = load_cohort(manifest, label_column=label_column)
        clinical = None
        source = f"manifest {manifest}"
    y = y.astype(int)
    train, test = train_test_split(
        X.index, test_size=0.3, stratify=y, random_state=random_state
    )
    split = pd.Series("train", index=X.index).where(~X.index.isin(test), "test")

    readers = [c for c in X.columns if "_mask_" in c]
    n_repeated = int(X[readers].notna().any(axis=1).sum()) if readers else 0
    print(f"Cohort: {source}")
    phases = [c.removesuffix("_image") for c in X.columns if c.endswith("_image")]
    print(
        f"  {len(X)} lesions, {int(y.sum())} with early recurrence (ER), "
        f"phases {phases}, {n_repeated} lesions with a second reader's ROI"
    )
    print(f"  built in {time.perf_counter() - start:.1f} s")
    print()
    print(cohort_table(y, clinical, split))
    if summary_only:
        return 0

    print()
    return _radiomics_model(X, y, train, test, n_jobs=n_jobs)


def _radiomics_model(X, y, train, test, *, n_jobs):
    """The study's radiomics branch: MaZda features -> selection -> random forest."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ceusradiomics import (
        CorrelationPruner,
        ICCFilter,
        LassoSelector,
        TextureExtractor,
    )
    from ceusradiomics.selection import MannWhitneySelector

    start = time.perf_counter()
    extractor = TextureExtractor(readers="all", n_jobs=n_jobs)
    with warnings.catch_warnings():
        # Constant or tiny ROIs are reported per lesion in the table as NaN.
        warnings.simplefilter("ignore", DegenerateROIWarning)
        features = extractor.fit_transform(X)
    primary = [c for c in features.columns if "@" not in c]
    print(
        f"Texture features: {len(primary)} per lesion "
        f"({len(primary) // len(extractor.phases_)} MaZda features x "
        f"{len(extractor.phases_)} phases), extracted in "
        f"{time.perf_counter() - start:.1f} s"
    )

    selection = make_pipeline(
        ICCFilter(threshold=0.75),
        SimpleImputer(strategy="median"),
        StandardScaler(),
        MannWhitneySelector(alpha=0.05),
        CorrelationPruner(threshold=0.6),
        LassoSelector(cv=10, random_state=0),
    ).set_output(transform="pandas")
    X_train, y_train = features.loc[train], y.loc[train]
    X_test, y_test = features.loc[test], y.loc[test]
    selected = selection.fit_transform(X_train, y_train)

    icc, imputer, _, mwu, pruner, lasso = (step for _, step in selection.steps)
    print("Feature selection on the training set:")
    print(f"  ICC(2,1) > 0.75 between readers: {len(icc.get_feature_names_out())}")
    print(f"  non-empty after imputation:      {len(imputer.get_feature_names_out())}")
    print(f"  Mann-Whitney U p < 0.05:          {len(mwu.get_feature_names_out())}")
    print(f"  |r| <= 0.6 after pruning:         {len(pruner.get_feature_names_out())}")
    print(f"  LASSO (10-fold CV) non-zero:      {selected.shape[1]}")
    coef = pd.Series(
        np.ravel(lasso.coef_)[lasso.get_support()], index=selected.columns
    ).sort_values()
    terms = " ".join(f"{c:+.3f} x {name}" for name, c in coef.items())
    print(f"  radiomics score = {np.ravel(lasso.intercept_)[0]:+.3f} {terms}")

    model = RandomForestClassifier(n_estimators=500, random_state=0)
    model.fit(selected, y_train)
    auc_train = roc_auc_score(y_train, model.predict_proba(selected)[:, 1])
    selected_test = selection.transform(X_test)
    auc_test = roc_auc_score(y_test, model.predict_proba(selected_test)[:, 1])
    pruned_test = selection[:-1].transform(X_test)
    score_test = roc_auc_score(y_test, lasso.radiomics_score(pruned_test))
    print()
    print("Radiomics model (random forest on the selected features):")
    print(f"  AUC training {auc_train:.3f}   AUC testing {auc_test:.3f}")
    print(f"  radiomics score alone, AUC testing {score_test:.3f}")
    return 0
