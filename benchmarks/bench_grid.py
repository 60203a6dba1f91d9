"""Cost of a grid search over the radiomics pipeline (issue 18), in extraction passes.

Run by hand (not part of the test suite)::

    python benchmarks/bench_grid.py [--n-lesions 172] [--trees 100] [--profile]

On ``make_ceus_cohort(random_state=0)``, in one run:

1. one cold extraction pass: ``TextureExtractor(readers="all").fit_transform(X)``
   with the feature cache emptied first;
2. ``GridSearchCV(make_study_pipeline("radiomics", random_state=0), grid,
   cv=StratifiedKFold(5), scoring="roc_auc")`` over 8 settings (the ICC,
   U-test and correlation thresholds, 2 values each), i.e. 40 fits and the
   refit, starting from the same cold cache (the extractor's cache makes each
   lesion extracted once; the rest is selection and model fitting).

Reported: both times and the ratio (the issue's target: <= 6x). With
``--trees N``, the same grid search again with an N-tree random forest
(``randomforestclassifier__n_estimators``, 500 in the study pipeline), in the
same run: its time and ratio, and how far its mean CV AUC of each setting
lies from the 500-tree one's. With ``--profile``, the 25 most expensive
functions of one pipeline fit (cumulative time), to see where a fit spends its
time.
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import time
import warnings

import numpy as np
import sklearn
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import ceusradiomics
from ceusradiomics import TextureExtractor, clear_feature_cache
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.ensemble import make_study_pipeline

GRID = {
    "iccfilter__threshold": [0.75, 0.9],
    "mannwhitneyselector__alpha": [0.01, 0.05],
    "correlationpruner__threshold": [0.6, 0.8],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-lesions", type=int, default=172)
    parser.add_argument("--trees", type=int, default=None)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, y, _ = make_ceus_cohort(n_lesions=args.n_lesions, random_state=0)

    clear_feature_cache()
    start = time.perf_counter()
    TextureExtractor(readers="all").fit_transform(X)
    extraction_s = time.perf_counter() - start

    def grid_search(**params):
        clear_feature_cache()
        search = GridSearchCV(
            make_study_pipeline("radiomics", random_state=0).set_params(**params),
            GRID,
            cv=StratifiedKFold(5, shuffle=True, random_state=0),
            scoring="roc_auc",
        )
        start = time.perf_counter()
        search.fit(X, y)
        return search, time.perf_counter() - start

    search, grid_s = grid_search()
    print(
        f"{platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"ceusradiomics {ceusradiomics.__version__}, {len(y)} lesions"
    )
    print(f"cold extraction pass: {extraction_s:6.1f} s")
    n_fits = 8 * 5 + 1
    print(f"grid search, {n_fits} fits: {grid_s:6.1f} s = {grid_s / extraction_s:.1f}x")
    print(f"best {search.best_params_}, CV AUC {search.best_score_:.3f}")
    if args.trees is not None:
        fewer, fewer_s = grid_search(randomforestclassifier__n_estimators=args.trees)
        gap = np.abs(
            fewer.cv_results_["mean_test_score"] - search.cv_results_["mean_test_score"]
        )
        print(
            f"with {args.trees} trees: {fewer_s:6.1f} s = "
            f"{fewer_s / extraction_s:.1f}x;"
            f" best {fewer.best_params_}, CV AUC {fewer.best_score_:.3f}; mean CV "
            f"AUC per setting differs from 500 trees by {gap.mean():.4f} on average,"
            f" {gap.max():.4f} at most"
        )

    if args.profile:
        pipeline = make_study_pipeline("radiomics", random_state=0)
        profiler = cProfile.Profile()
        profiler.enable()
        pipeline.fit(X, y)  # the features come from the cache
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
