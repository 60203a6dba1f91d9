"""Texture speed against pyradiomics (issue 18), same image and ROI, one core.

Run by hand (not part of the test suite)::

    python benchmarks/bench_texture_pyradiomics.py [--rounds 5] [--repeat 20]

pyradiomics is not a dependency. It builds from its sdist once numpy and
versioneer are present (its build imports them)::

    pip install versioneer SimpleITK pykwalify six PyWavelets
    pip install --no-build-isolation "pyradiomics==3.0.1"

Case: ``bench_texture.py``'s 512 x 512 8-bit speckle image and its ~150 x 100
elliptical ROI. Timed per ROI, alternately in each round:

- ours: :func:`ceusradiomics.texture.texture_features`, the full default MaZda
  set (histogram, gradient, run length, co-occurrence, AR, wavelets: 283
  features);
- pyradiomics: ``RadiomicsFeatureExtractor`` with first order, GLCM and GLRLM
  only (force2D, distances 1-5, binCount 64; no image filter), i.e. fewer
  families than ours, from numpy arrays already wrapped as SimpleITK images
  (the conversion is timed too, as a user would pay it).

Reported: ms per ROI (median over the rounds) and the ratio.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import ceusradiomics
from ceusradiomics.texture import texture_features

sys.path.insert(0, os.path.dirname(__file__))
from bench_texture import ellipse_mask, speckle_image


def pyradiomics_extractor():
    import radiomics
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    settings = {
        "force2D": True,
        "force2Ddimension": 0,
        "binCount": 64,
        "distances": [1, 2, 3, 4, 5],
        "label": 1,
        "additionalInfo": False,
    }
    extractor = featureextractor.RadiomicsFeatureExtractor(**settings)
    extractor.disableAllFeatures()
    for family in ("firstorder", "glcm", "glrlm"):
        extractor.enableFeatureClassByName(family)
    return extractor, radiomics.__version__


def time_per_roi(fn, repeat: int) -> float:
    fn()  # warm-up (numba compilation, caches)
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20, help="ROIs per round, ours")
    parser.add_argument(
        "--repeat-pyradiomics", type=int, default=3, help="ROIs per round, theirs"
    )
    args = parser.parse_args()
    try:
        import SimpleITK as sitk

        extractor, version = pyradiomics_extractor()
    except ImportError as exc:
        raise SystemExit(
            f"pyradiomics is not installed ({exc}); see the docstring"
        ) from None

    image = speckle_image()
    mask = ellipse_mask()

    def ours():
        return texture_features(image, mask)

    def theirs():
        # (1, H, W) volumes: force2D along the first axis.
        img = sitk.GetImageFromArray(image[None].astype(np.float32))
        roi = sitk.GetImageFromArray(mask[None].astype(np.uint8))
        return extractor.execute(img, roi)

    n_ours = len(ours())
    n_theirs = len(theirs())
    ours_s, theirs_s = [], []
    for _ in range(args.rounds):
        ours_s.append(time_per_roi(ours, args.repeat))
        theirs_s.append(time_per_roi(theirs, args.repeat_pyradiomics))
    ours_ms = 1000 * statistics.median(ours_s)
    theirs_ms = 1000 * statistics.median(theirs_s)
    print(
        f"{platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, ceusradiomics {ceusradiomics.__version__} "
        f"(texture backend: {ceusradiomics.texture._kernels.texture_backend()}), "
        f"pyradiomics {version}, one thread, {mask.sum()} ROI pixels, "
        f"median of {args.rounds} rounds"
    )
    print(f"ours (full MaZda set, {n_ours} features): {ours_ms:8.2f} ms/ROI")
    print(f"pyradiomics (firstorder+GLCM+GLRLM, {n_theirs}): {theirs_ms:8.2f} ms/ROI")
    print(f"ratio pyradiomics / ours: {theirs_ms / ours_ms:.0f}x")


if __name__ == "__main__":
    main()
