"""Model files (issue 17): size and save/load time of a fitted default stack.

Run by hand (not part of the test suite)::

    python benchmarks/bench_model_file.py [--n-lesions 172]

Fits the default ``StackingERClassifier`` (radiomics + deep branches, nested
out-of-fold scores) on ``make_ceus_cohort(random_state=0)`` with a random
network (``weights=None``: no ImageNet weights on this machine; the file is
the same size with them, since named weights are not stored), then writes it
with :func:`ceusradiomics.save_model` (skops, deflate-compressed, with its
card) and, as the baseline, with :mod:`pickle`; reports the sizes, the save
and load times, and checks the loaded model predicts bit for bit the same.
"""

from __future__ import annotations

import argparse
import io
import pickle
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import skops

import ceusradiomics
from ceusradiomics import StackingERClassifier, load_model, save_model
from ceusradiomics.card import ModelCard
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.ensemble import make_study_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-lesions", type=int, default=172)
    args = parser.parse_args()
    X, y, _ = make_ceus_cohort(n_lesions=args.n_lesions, random_state=0)
    stack = StackingERClassifier(
        estimators=[
            ("radiomics", make_study_pipeline("radiomics", random_state=0)),
            ("deep", make_study_pipeline("deep", weights=None, random_state=0)),
        ],
        random_state=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stack.fit(X, y)
    fit_s = time.perf_counter() - start

    folder = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    card = ModelCard.from_model(stack, X, y)
    card_s = time.perf_counter() - start
    start = time.perf_counter()
    path = save_model(stack, folder / "stack.skops", card=card)
    save_s = time.perf_counter() - start
    start = time.perf_counter()
    loaded = load_model(path)
    load_s = time.perf_counter() - start

    buffer = io.BytesIO()
    start = time.perf_counter()
    pickle.dump(stack, buffer)
    pickle_save_s = time.perf_counter() - start
    start = time.perf_counter()
    pickle.loads(buffer.getvalue())
    pickle_load_s = time.perf_counter() - start

    same = np.array_equal(loaded.predict_proba(X), stack.predict_proba(X))
    mb = 2**20
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, ceusradiomics "
        f"{ceusradiomics.__version__}, scikit-learn {sklearn.__version__}, "
        f"skops {skops.__version__}"
    )
    print(f"default stack fitted on {len(y)} lesions in {fit_s:.0f} s")
    print(f"card built in {card_s:.2f} s (reads every training ROI once)")
    print(
        f"skops file: {path.stat().st_size / mb:.2f} MB, saved in {save_s:.2f} s, "
        f"loaded (audit + construct) in {load_s:.2f} s"
    )
    print(
        f"pickle:     {len(buffer.getvalue()) / mb:.2f} MB, saved in "
        f"{pickle_save_s:.2f} s, loaded in {pickle_load_s:.2f} s"
    )
    print(f"loaded model predicts the same probabilities bit for bit: {same}")


if __name__ == "__main__":
    main()
