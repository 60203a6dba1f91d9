"""Texture extraction speed (issue 3): ROIs per second, 1 and 2 workers, vs a baseline.

Run by hand (not part of the test suite)::

    python benchmarks/bench_texture.py [--repeat 200]
    python benchmarks/bench_texture.py --against /path/to/other/checkout

``--against`` compares this tree with another checkout of the library (e.g.
``git worktree add /tmp/before <commit>``) in alternating rounds, each in a
fresh subprocess that imports one tree or the other: the per-ROI function and
the extractor, ROI/s and the ratio per round.

Cases: a 512x512 8-bit speckle image with (a) a ~150x100 elliptical ROI and
(b) a 400x400 square ROI; the full default MaZda feature set (283 features).

Baseline, measured in the same run: the same families assembled from
scikit-image (``graycomatrix`` with the extra-level mask trick + ``graycoprops``
and numpy for the sum/difference features) and PyWavelets (``wavedec2`` +
per-block validity), the other families (histogram, gradient, run length, AR)
being ours in both, since no library computes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import pywt
import scipy
import skimage
import sklearn
from scipy import ndimage
from skimage.feature import graycomatrix, graycoprops

import ceusradiomics
from ceusradiomics import TextureExtractor
from ceusradiomics.texture import (
    autoregressive_features,
    glcm_offsets,
    gradient_features,
    histogram_features,
    quantize,
    run_length_features,
    texture_features,
)


def speckle_image(size: int = 512, seed: int = 0) -> np.ndarray:
    """An 8-bit image with a Rayleigh speckle envelope (as B-mode ultrasound)."""
    rng = np.random.default_rng(seed)
    field = rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))
    field = ndimage.gaussian_filter(field.real, (1.0, 2.0)) + 1j * (
        ndimage.gaussian_filter(field.imag, (1.0, 2.0))
    )
    envelope = np.log1p(np.abs(field) * 4)
    envelope = (envelope - envelope.min()) / (envelope.max() - envelope.min())
    return np.clip(envelope * 255, 0, 255).astype(np.uint8)


def ellipse_mask(size: int = 512, axes=(75, 50)) -> np.ndarray:
    rows, cols = np.ogrid[:size, :size]
    c = size // 2 + 7  # off the 64-pixel grid, as a lesion would be
    return ((rows - c) / axes[1]) ** 2 + ((cols - c) / axes[0]) ** 2 <= 1


def square_mask(size: int = 512, side: int = 400) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    start = (size - side) // 2
    mask[start : start + side, start : start + side] = True
    return mask


def _skimage_glcm(work, mask, levels, distances=(1, 2, 3, 4, 5)):
    """The 220 co-occurrence features via scikit-image (mask trick)."""
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    work = work[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    mask = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    marked = np.where(mask, work, levels).astype(np.uint8)
    out = {}
    for label, dr, dc in glcm_offsets(distances):
        P = graycomatrix(
            marked,
            [np.hypot(dr, dc)],
            [np.arctan2(dr, dc)],
            levels=levels + 1,
            symmetric=True,
            normed=False,
        )[:levels, :levels].astype(float)
        P /= P.sum()
        for prop in ("ASM", "contrast", "correlation", "homogeneity", "variance"):
            out[label + prop] = graycoprops(P, prop)[0, 0]
        p = P[:, :, 0, 0]
        i = np.arange(1, levels + 1)
        s = np.bincount((i[:, None] + i[None, :]).ravel(), p.ravel())
        k = np.arange(s.size)
        d = np.bincount(np.abs(i[:, None] - i[None, :]).ravel(), p.ravel())
        nz = s[s > 0]
        out[label + "SumAverg"] = (k * s).sum()
        out[label + "SumEntrp"] = -(nz * np.log10(nz)).sum()
        out[label + "SumVarnc"] = ((k - out[label + "SumEntrp"]) ** 2 * s).sum()
        pz = p[p > 0]
        out[label + "Entropy"] = -(pz * np.log10(pz)).sum()
        kd = np.arange(d.size)
        mu = (kd * d).sum()
        out[label + "DifVarnc"] = ((kd - mu) ** 2 * d).sum()
        dz = d[d > 0]
        out[label + "DifEntrp"] = -(dz * np.log10(dz)).sum()
    return out


def _pywt_wavelets(work, mask, scales=6):
    """WavEn energies via PyWavelets on the ROI region aligned to the 2**S grid."""
    block = 2**scales
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    r0, c0 = rows[0] // block * block, cols[0] // block * block
    r1 = -(-(rows[-1] + 1) // block) * block
    c1 = -(-(cols[-1] + 1) // block) * block
    region = np.zeros((r1 - r0, c1 - c0))
    inside = np.zeros(region.shape, bool)
    h = min(r1, work.shape[0]) - r0
    w = min(c1, work.shape[1]) - c0
    region[:h, :w] = work[r0 : r0 + h, c0 : c0 + w]
    inside[:h, :w] = mask[r0 : r0 + h, c0 : c0 + w]
    coeffs = pywt.wavedec2(region, "haar", level=scales, mode="periodization")
    out = {}
    for s in range(1, scales + 1):
        cH, cV, cD = coeffs[-s]
        b = 2**s
        valid = inside.reshape(inside.shape[0] // b, b, -1, b).all(axis=(1, 3))
        LL = pywt.wavedec2(region, "haar", level=s, mode="periodization")[0]
        for band, c in (("LL", LL), ("LH", cH), ("HL", cV), ("HH", cD)):
            out[f"WavEn{band}_s-{s}"] = (
                (c[valid] ** 2).mean() if valid.any() else np.nan
            )
    return out


def baseline_features(image, mask):
    """The default feature set with GLCM from scikit-image and Haar from PyWavelets."""
    w8 = quantize(image, mask, bits=8)
    w6 = quantize(image, mask, bits=6)
    out = {}
    out.update(histogram_features(w8, mask))
    out.update(gradient_features(w8, mask))
    out.update(run_length_features(w6, mask, levels=64))
    out.update(_skimage_glcm(w6, mask, 64))
    out.update(autoregressive_features(w8, mask))
    out.update(_pywt_wavelets(w8, mask))
    return out


def per_second(fn, repeat: int) -> float:
    fn()  # warm up
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return 1.0 / best


def workers_throughput(
    image, mask, n_lesions: int, rounds: int = 5
) -> tuple[list[float], list[float]]:
    """ROI/s of TextureExtractor with n_jobs=1 and n_jobs=2, measured in turns.

    The VM's speed drifts by up to ~1.5x within a minute, so the two settings
    alternate (1, 2, 1, 2, ...) and each round gives one ratio; the medians
    are reported.
    """
    X = pd.DataFrame(
        {"US_image": [image] * n_lesions, "US_mask": [mask] * n_lesions},
        index=pd.Index([f"L{i:04d}" for i in range(n_lesions)], name="lesion_id"),
    )
    extractors = {n: TextureExtractor(n_jobs=n, cache=False).fit(X) for n in (1, 2)}
    for n, extractor in extractors.items():
        # Start the workers and let each load its compiled loops (numba's
        # import and on-disk cache: ~1 s once per worker process, then reused).
        extractor.transform(X.iloc[: 50 * n])
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for n, extractor in extractors.items():
            start = time.perf_counter()
            extractor.transform(X)
            rates[n].append(n_lesions / (time.perf_counter() - start))
    return rates[1], rates[2]


_AB_SCRIPT = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import numpy as np, pandas as pd
import ceusradiomics
from bench_texture import ellipse_mask, speckle_image
from ceusradiomics import TextureExtractor
from ceusradiomics.texture import texture_features
image, mask = speckle_image(), ellipse_mask()
n = int(sys.argv[3])
texture_features(image, mask)
start = time.perf_counter()
for _ in range(n):
    texture_features(image, mask)
function = n / (time.perf_counter() - start)
X = pd.DataFrame({"US_image": [image] * n, "US_mask": [mask] * n},
                 index=[f"L{i}" for i in range(n)])
extractor = TextureExtractor(cache=False).fit(X)
extractor.transform(X.iloc[:20])
start = time.perf_counter()
extractor.transform(X)
print(json.dumps({"file": ceusradiomics.__file__, "function": function,
                  "extractor": n / (time.perf_counter() - start)}))
"""


def against(other: str, n: int, rounds: int = 5) -> None:
    """This tree vs another checkout, alternating subprocess rounds."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bench_dir = os.path.dirname(os.path.abspath(__file__))
    results: dict[str, list[dict]] = {"this tree": [], "other": []}
    for _ in range(rounds):
        for name, tree in (("this tree", here), ("other", other)):
            out = subprocess.run(
                [sys.executable, "-c", _AB_SCRIPT, tree, bench_dir, str(n)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PYTHONPATH": ""},
            )
            results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"this tree: {results['this tree'][0]['file']}")
    print(f"other:     {results['other'][0]['file']}")
    print()
    print(
        "| ellipse 150x100, 283 features, 1 core | this tree (ROI/s, median) | "
        "other (ROI/s, median) | ratio (median of the rounds' ratios) |"
    )
    print("| --- | ---: | ---: | ---: |")
    for key, label in (
        ("function", "texture_features"),
        ("extractor", "TextureExtractor"),
    ):
        a = [r[key] for r in results["this tree"]]
        b = [r[key] for r in results["other"]]
        ratios = [x / y for x, y in zip(a, b, strict=True)]
        print(
            f"| {label} | {np.median(a):.0f} | {np.median(b):.0f} | "
            f"{np.median(ratios):.2f}x ({', '.join(f'{r:.2f}' for r in ratios)}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--lesions", type=int, default=1000)
    parser.add_argument(
        "--against", default=None, help="another checkout to compare with"
    )
    args = parser.parse_args()
    if args.against:
        against(args.against, args.lesions)
        return

    image = speckle_image()
    print(
        f"ceusradiomics {ceusradiomics.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-image {skimage.__version__}, "
        f"PyWavelets {pywt.__version__}, scikit-learn {sklearn.__version__}"
    )
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print()
    print("| ROI | ours, 1 core (ROI/s) | baseline skimage+pywt (ROI/s) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for label, mask in (
        ("ellipse 150x100", ellipse_mask()),
        ("square 400x400", square_mask()),
    ):
        repeat = args.repeat if mask.sum() < 50_000 else max(args.repeat // 10, 5)
        ours = per_second(lambda m=mask: texture_features(image, m), repeat)
        base = per_second(
            lambda m=mask: baseline_features(image, m), max(repeat // 5, 3)
        )
        print(f"| {label} | {ours:.0f} | {base:.0f} | {ours / base:.1f}x |")

    mask = ellipse_mask()
    one, two = workers_throughput(image, mask, args.lesions)
    ratios = [b / a for a, b in zip(one, two, strict=True)]
    print()
    print(
        f"| TextureExtractor, ellipse ROI ({args.lesions} lesions, 5 alternating "
        "rounds) | ROI/s (median) | speed-up (median of the rounds' ratios) |"
    )
    print("| --- | ---: | ---: |")
    print(f"| n_jobs=1 | {np.median(one):.0f} | 1.0x |")
    print(
        f"| n_jobs=2 | {np.median(two):.0f} | {np.median(ratios):.2f}x "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}) |"
    )


if __name__ == "__main__":
    main()
