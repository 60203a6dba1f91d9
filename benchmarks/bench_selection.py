"""Timing of the selection chain at the study's sizes.

Run by hand, ``python benchmarks/bench_selection.py``; prints a table:

- the ICC of 172 lesions x 2 readers x 2,000 features, as the function on an
  array and as ``ICCFilter`` on the ``name@reader`` table (reader 2 on 60
  lesions, NaN elsewhere);
- the whole chain on 172 lesions x 7,000 correlated features (the width of
  the study's deep features), each step timed on the output of the one
  before, and as one ``Pipeline.fit``, with and without ``ICCFilter``.

Each figure is the best of ``--repeat`` runs (default 3).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd
import scipy
import sklearn
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ceusradiomics.selection import (
    CorrelationPruner,
    ICCFilter,
    LassoSelector,
    MannWhitneySelector,
    intraclass_correlation,
)

N_LESIONS = 172
N_POSITIVE = 68


def _best_time(func, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - start)
    return best, out


def _reader_table(n_features, n_repeated, rng):
    truth = rng.normal(size=(N_LESIONS, n_features))
    error = rng.uniform(0.05, 1.5, size=n_features)  # reliable to unreliable
    first = truth + error * rng.normal(size=truth.shape)
    second = truth + error * rng.normal(size=truth.shape)
    second[n_repeated:] = np.nan
    names = [f"US_f{j:04d}" for j in range(n_features)]
    X = pd.DataFrame(first, columns=names)
    return X.join(pd.DataFrame(second, columns=[f"{n}@r2" for n in names]))


def _deep_table(n_features, rng):
    """Correlated features from 200 latent factors, 5 tied to the outcome."""
    y = rng.permutation(np.repeat([0, 1], [N_LESIONS - N_POSITIVE, N_POSITIVE]))
    latent = rng.normal(size=(N_LESIONS, 200))
    latent[:, :5] += 0.8 * y[:, None]
    loadings = rng.normal(size=(200, n_features)) * (
        rng.uniform(size=(200, n_features)) < 0.02
    )
    X = latent @ loadings + 0.5 * rng.normal(size=(N_LESIONS, n_features))
    return X, y


def main(repeat=3):
    rng = np.random.default_rng(0)
    rows = []

    ratings = rng.normal(size=(N_LESIONS, 2, 2000)) + rng.normal(
        size=(N_LESIONS, 1, 2000)
    )
    t, _ = _best_time(lambda: intraclass_correlation(ratings), repeat)
    rows.append(("intraclass_correlation, ICC(2,1)", "172 x 2 x 2000", "-", t))
    table = _reader_table(2000, 60, rng)
    t, icc = _best_time(lambda: ICCFilter().fit(table), repeat)
    rows.append(("ICCFilter.fit (reader 2 on 60)", str(table.shape), "-", t))
    t, out = _best_time(lambda: icc.transform(table), repeat)
    rows.append(("ICCFilter.transform", str(table.shape), str(out.shape), t))

    X, y = _deep_table(7000, rng)
    steps = [
        ("StandardScaler", StandardScaler()),
        ("MannWhitneySelector", MannWhitneySelector(alpha=0.05)),
        ("CorrelationPruner", CorrelationPruner(threshold=0.6)),
        ("LassoSelector (cv=10, Cs=20)", LassoSelector(cv=10, random_state=0)),
    ]
    Xt = X
    for name, step in steps:
        t, fitted = _best_time(lambda step=step, Xt=Xt: step.fit(Xt, y), repeat)
        out = fitted.transform(Xt)
        rows.append((name, str(Xt.shape), str(out.shape), t))
        Xt = out
    pipe = make_pipeline(*(s for _, s in steps))
    t, fitted = _best_time(lambda: pipe.fit(X, y), repeat)
    rows.append(
        ("Pipeline.fit, 4 steps", str(X.shape), str(fitted.transform(X).shape), t)
    )

    names = [f"US_resnet50_{j:04d}" for j in range(7000)]
    second = X + 0.3 * rng.normal(size=X.shape)
    second[60:] = np.nan
    frame = pd.DataFrame(X, columns=names).join(
        pd.DataFrame(second, columns=[f"{n}@r2" for n in names])
    )
    full = make_pipeline(ICCFilter(), *(s for _, s in steps))
    t, fitted = _best_time(lambda: full.fit(frame, y), repeat)
    out_shape = str(fitted.transform(frame).shape)
    rows.append(("Pipeline.fit, ICCFilter + 4", str(frame.shape), out_shape, t))

    print(
        f"{platform.platform()} | {platform.processor() or platform.machine()} | "
        f"{os.cpu_count()} CPUs | load {os.getloadavg()[0]:.1f} | "
        f"Python {platform.python_version()} | numpy {np.__version__} | "
        f"scipy {scipy.__version__} | scikit-learn {sklearn.__version__} | "
        f"pandas {pd.__version__}"
    )
    print(f"best of {repeat}\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'input':>14}  {'output':>12}  {'seconds':>8}")
    for name, shape_in, shape_out, t in rows:
        print(f"{name:<{width}}  {shape_in:>14}  {shape_out:>12}  {t:8.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    main(parser.parse_args().repeat)
