"""Low-precision ResNet-50 features (issue 18): speed, agreement, downstream AUC.

Run by hand (not part of the test suite)::

    python benchmarks/bench_precision.py [--n-lesions 172] [--device cpu]

On ``make_ceus_cohort(random_state=0)`` (3 phases, ROIs cropped and resized to
224 px), the ResNetFeaturizer's features are computed in float32 and under
each low precision (``precision="bfloat16"``, ``"float16"``), alternately,
with the cache off; reported:

- images/s of each and the ratio to float32 (same run);
- agreement with float32: per-feature Pearson r over the lesions (quantiles,
  the share of features with r >= 0.999, the features with no variance in
  one of them) and the largest absolute difference relative to the largest
  float32 value;
- downstream: the study's stack (radiomics + deep branches, on precomputed
  tables) fitted on the stratified 7:3 split with each precision's deep
  table, and its testing AUC; the radiomics table is the same for all.

The network has random weights (no ImageNet file on the build machine): the
agreement of the ImageNet network may differ, and can be checked with the
same script where the weights are in the torch hub cache (``--weights
IMAGENET1K_V2``).
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import ceusradiomics
from ceusradiomics import ResNetFeaturizer, StackingERClassifier, TextureExtractor
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.ensemble import make_study_pipeline

LOW = ("bfloat16", "float16")


def agreement(reference: np.ndarray, other: np.ndarray) -> dict:
    sd_ref, sd_other = reference.std(0), other.std(0)
    varying = sd_ref > 0
    r = np.array(
        [
            np.corrcoef(reference[:, j], other[:, j])[0, 1] if sd_other[j] > 0 else 0.0
            for j in np.flatnonzero(varying)
        ]
    )
    return {
        "features": int(varying.sum()),
        "flat": int((varying & (sd_other == 0)).sum()),
        "min": r.min(),
        "q0.1%": np.quantile(r, 0.001),
        "q1%": np.quantile(r, 0.01),
        "median": np.median(r),
        "share r>=0.999": (r >= 0.999).mean(),
        "max |diff| / max": np.abs(reference - other).max() / np.abs(reference).max(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-lesions", type=int, default=172)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--weights", default="none")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    weights = None if args.weights.lower() == "none" else args.weights
    warnings.simplefilter("ignore")
    X, y, _ = make_ceus_cohort(n_lesions=args.n_lesions, random_state=0)

    def featurizer(precision):
        return ResNetFeaturizer(
            weights=weights,
            precision=precision,
            device=args.device,
            cache=False,
            random_state=0,
        ).fit(X)

    models = {p: featurizer(p) for p in ("float32", *LOW)}
    for model in models.values():  # build the networks, prime the kernels
        model.transform(X.iloc[:16])
    seconds = {p: [] for p in models}
    tables = {}
    for _ in range(args.rounds):
        for precision, model in models.items():
            start = time.perf_counter()
            tables[precision] = model.transform(X)
            seconds[precision].append(time.perf_counter() - start)
    n_images = len(X) * 3
    rate = {p: n_images / min(s) for p, s in seconds.items()}

    texture = TextureExtractor(readers="all").fit_transform(X)
    train, test = train_test_split(
        X.index.tolist(), test_size=0.3, stratify=y, random_state=0
    )
    auc = {}
    for precision, deep in tables.items():
        table = texture.join(deep)
        stack = StackingERClassifier(
            estimators=[
                (
                    "radiomics",
                    make_study_pipeline("radiomics", input="table", random_state=0),
                ),
                ("deep", make_study_pipeline("deep", input="table", random_state=0)),
            ],
            random_state=0,
            nested_oof=False,
        ).fit(table.loc[train], y[train])
        proba = stack.branch_predict_proba(table.loc[test])
        auc[precision] = {
            name: roc_auc_score(y[test], proba[name]) for name in proba.columns
        }

    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, ceusradiomics "
        f"{ceusradiomics.__version__}, weights {args.weights}, device "
        f"{args.device}, {n_images} images at 224 px"
    )
    for precision in models:
        print(
            f"{precision:9s}: {rate[precision]:6.1f} images/s "
            f"({rate[precision] / rate['float32']:.2f}x float32); test AUC "
            + ", ".join(f"{k} {v:.3f}" for k, v in auc[precision].items())
        )
    reference = tables["float32"].to_numpy()
    for precision in LOW:
        stats = agreement(reference, tables[precision].to_numpy())
        print(
            f"{precision} vs float32: "
            + ", ".join(
                f"{k} {v:.5f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in stats.items()
            )
        )


if __name__ == "__main__":
    main()
