"""Cost of fitting the stack (issue 6) against one feature-extraction pass.

Run by hand (not part of the test suite)::

    python benchmarks/bench_stacking.py [--n-lesions 172] [--image-size 224]

Both timings start from empty feature caches, in the same run:

1. one extraction pass over the cohort: ``TextureExtractor(readers="all")`` and
   ``ResNetFeaturizer`` (random weights: the cost is the same as ImageNet's);
2. ``StackingERClassifier`` with its default 5-fold out-of-fold stacking, i.e.
   each branch fitted 6 times, with the extractors' per-lesion caches.

Target: (2) <= 1.5 x (1).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import sklearn
import torch

from ceusradiomics import (
    ResNetFeaturizer,
    StackingERClassifier,
    TextureExtractor,
    __version__,
    clear_feature_cache,
)
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.ensemble import make_study_pipeline
from ceusradiomics.exceptions import DegenerateROIWarning


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-lesions", type=int, default=172)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--n-jobs", type=int, default=None, help="stack's n_jobs")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DegenerateROIWarning)

    X, y, _ = make_ceus_cohort(n_lesions=args.n_lesions, random_state=0)
    print(
        f"ceusradiomics {__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}; {platform.machine()}, {os.cpu_count()} cores"
    )

    clear_feature_cache()
    start = time.perf_counter()
    TextureExtractor(readers="all").fit_transform(X)
    texture = time.perf_counter() - start
    start = time.perf_counter()
    ResNetFeaturizer(
        weights=None, image_size=args.image_size, random_state=0
    ).fit_transform(X)
    deep = time.perf_counter() - start
    extraction = texture + deep

    clear_feature_cache()
    stack = StackingERClassifier(
        estimators=[
            ("radiomics", make_study_pipeline("radiomics", random_state=0)),
            (
                "deep",
                make_study_pipeline(
                    "deep", weights=None, image_size=args.image_size, random_state=0
                ),
            ),
        ],
        random_state=0,
        n_jobs=args.n_jobs,
    )
    start = time.perf_counter()
    stack.fit(X, y)
    fit = time.perf_counter() - start

    print()
    print("| step | seconds |")
    print("| --- | ---: |")
    print(f"| texture extraction ({len(X)} lesions, 2 readers) | {texture:.1f} |")
    print(f"| ResNet-50 extraction ({args.image_size} px) | {deep:.1f} |")
    print(f"| one extraction pass | {extraction:.1f} |")
    print(
        f"| StackingERClassifier.fit, cv=5, n_jobs={args.n_jobs} (cold caches) "
        f"| {fit:.1f} |"
    )
    print(f"| ratio fit / extraction | {fit / extraction:.2f}x |")


if __name__ == "__main__":
    main()
