"""Perfusion speed (issue 8): fitting the TIC of one ROI over a 3-minute loop.

Run by hand (not part of the test suite)::

    python benchmarks/bench_perfusion.py [--repeat 50]

Case: a 3-minute loop at 10 frames/s (1800 samples), a lognormal, gamma-variate
or LDRW bolus with 10% multiplicative noise and 10% of the frames dropped (NaN).
Timed: ``fit_bolus`` (grid start + bounded trust-region least squares with an
analytic Jacobian), ``perfusion_parameters`` on the fit, and the whole path
from frames (``time_intensity_curve`` with linearisation on 1800 frames of
256 x 256 uint8, a 60 x 60 px ROI) to parameters.

Baseline, measured in the same run: :func:`scipy.optimize.curve_fit` on the
same lognormal data with a finite-difference Jacobian, started from the usual
hand-made guess (baseline = first samples, peak time and height from the raw
maximum), as one would write it without this module. It is timed and its
parameter error reported; the target is "well under 50 ms" per ROI.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import scipy
from scipy.optimize import curve_fit

import ceusradiomics
from ceusradiomics.perfusion import (
    BolusFit,
    fit_bolus,
    gamma_variate,
    ldrw_bolus,
    lognormal_bolus,
    perfusion_parameters,
    time_intensity_curve,
)

TRUTH = {
    "lognormal": (
        lognormal_bolus,
        {"offset": 2.0, "auc": 600.0, "mu": np.log(14.0), "sigma": 0.7, "t0": 13.0},
    ),
    "gamma": (
        gamma_variate,
        {"offset": 2.0, "auc": 600.0, "alpha": 3.0, "beta": 5.0, "t0": 13.0},
    ),
    "ldrw": (
        ldrw_bolus,
        {"offset": 2.0, "auc": 600.0, "mu": 25.0, "lam": 3.0, "t0": 13.0},
    ),
}
TIMES = np.arange(0.0, 180.0, 0.1)  # 3 min at 10 frames/s


def noisy_curve(model: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    fn, params = TRUTH[model]
    y = fn(TIMES, **params) * rng.lognormal(0.0, 0.1, TIMES.size)
    y[rng.random(TIMES.size) < 0.1] = np.nan
    return y


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median and 90th percentile of the wall time in ms, and the last result."""
    times, result = [], None
    for k in range(repeat):
        start = time.perf_counter()
        result = fn(k)
        times.append(1e3 * (time.perf_counter() - start))
    return float(np.median(times)), float(np.percentile(times, 90)), result


def max_relative_error(model: str, fit: BolusFit) -> float:
    expected = perfusion_parameters(BolusFit(model, TRUTH[model][1]))
    got = perfusion_parameters(fit)
    return max(abs(got[k] / expected[k] - 1) for k in expected if k != "QOF")


def baseline_curve_fit(y: np.ndarray):
    """A hand-written lognormal fit: curve_fit, numeric Jacobian, heuristic p0."""
    keep = np.isfinite(y)
    t, y = TIMES[keep], y[keep]

    def model(t, offset, auc, mu, sigma, t0):
        return lognormal_bolus(t, offset=offset, auc=auc, mu=mu, sigma=sigma, t0=t0)

    offset0 = float(np.median(y[:20]))
    k = int(np.argmax(y))
    t0 = max(float(t[0]), float(t[k]) - 10.0)
    p0 = [offset0, float(y[k] - offset0) * 20.0, np.log(10.0) + 0.25, 0.5, t0 - 1.0]
    bounds = ([-np.inf, 0, -5, 0.05, t[0] - 180], [np.inf, np.inf, 8, 3, t[k]])
    params, _ = curve_fit(model, t, y, p0=p0, bounds=bounds, maxfev=5000)
    names = ("offset", "auc", "mu", "sigma", "t0")
    return BolusFit("lognormal", dict(zip(names, params, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    repeat = parser.parse_args().repeat
    print(
        f"ceusradiomics {ceusradiomics.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, Python {platform.python_version()}, "
        f"{platform.processor() or platform.machine()}"
    )
    print(f"loop: {TIMES.size} samples (180 s at 10 frames/s), 10% noise, 10% NaN")
    print(f"{'step':<44}{'median ms':>10}{'p90 ms':>9}{'max rel err':>13}")
    for model in TRUTH:
        curves = [noisy_curve(model, seed) for seed in range(repeat)]
        median, p90, _ = timed(
            lambda k, m=model, c=curves: fit_bolus(TIMES, c[k], model=m), repeat
        )
        errors = [
            max_relative_error(model, fit_bolus(TIMES, c, model=model)) for c in curves
        ]
        print(
            f"{'fit_bolus, ' + model:<44}{median:>10.2f}{p90:>9.2f}{max(errors):>13.3f}"
        )
    fit = fit_bolus(TIMES, noisy_curve("lognormal", 0))
    median, p90, _ = timed(lambda k: perfusion_parameters(fit), repeat)
    print(f"{'perfusion_parameters':<44}{median:>10.2f}{p90:>9.2f}{'':>13}")

    curves = [noisy_curve("lognormal", seed) for seed in range(repeat)]
    median, p90, _ = timed(lambda k: baseline_curve_fit(curves[k]), repeat)
    errors = []
    for c in curves:
        try:
            errors.append(max_relative_error("lognormal", baseline_curve_fit(c)))
        except RuntimeError:
            errors.append(np.inf)
    print(
        f"{'baseline: curve_fit, numeric Jacobian':<44}{median:>10.2f}{p90:>9.2f}"
        f"{max(errors):>13.3f}"
    )

    # Whole path: 1800 frames of 256 x 256 uint8 -> TIC -> fit -> parameters.
    rng = np.random.default_rng(0)
    level = lognormal_bolus(TIMES, **TRUTH["lognormal"][1])
    grey = 255 * (1 + 10 * np.log10(level / level.max()) / 60)
    frames = np.clip(
        grey[:, None, None] + rng.normal(0, 6, (1, 256, 256)), 0, 255
    ).astype(np.uint8)
    mask = np.zeros((256, 256), dtype=bool)
    mask[100:160, 90:150] = True

    def whole(_):
        curve = time_intensity_curve(frames, mask, linearize="log")
        return perfusion_parameters(fit_bolus(TIMES, curve))

    median, p90, _ = timed(whole, max(3, repeat // 10))
    print(
        f"{'frames -> TIC (linearised) -> fit -> params':<44}{median:>10.2f}{p90:>9.2f}"
    )


if __name__ == "__main__":
    main()
