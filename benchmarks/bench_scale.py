"""Extraction over a large on-disk cohort: throughput and peak memory (issue 7).

Run by hand (not part of the test suite)::

    python benchmarks/bench_scale.py [--sizes 500 1000 2000 4000] [--image-size 128]
                                     [--dir /tmp/ceus-scale] [--n-jobs 1]

Writes a synthetic cohort of PNG files (one grey-scale phase: a Rayleigh
speckle image with a brighter elliptical lesion, and its ROI mask) and a
manifest CSV per cohort size, then runs
``TextureExtractor(cache=False).fit_transform(load_cohort(manifest))`` over
each size in a fresh process and reports the lesions per second and the
process's peak resident memory, in two modes:

- ``lazy``: the records frame holds paths (what ``load_cohort`` returns); each
  lesion's image and mask are read when the extractor reaches it and dropped
  after, so the peak memory should not grow with the cohort beyond the output
  table (8 bytes per feature and lesion: 2.3 kB per lesion here);
- ``eager``: every image and mask is read into the frame first (a records
  frame of arrays, as ``make_ceus_cohort`` returns), for comparison: the
  peak grows with the cohort.

``RSS before`` is the process's resident memory after the imports, before any
lesion is read; ``peak RSS`` the highest resident memory during the run (the
kernel's high-water mark, reset after the imports; where that is not possible,
``ru_maxrss``, which includes the imports' own peak); ``peak - before`` is
what the run added.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0), so that the peak
    measured afterwards is the run's own, not the imports'."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float:
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    # Elsewhere: ru_maxrss, in kB on Linux and bytes on macOS.
    scale = 1 / 1024**2 if sys.platform == "darwin" else 1 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def lesion(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic lesion: an 8-bit speckle image and its elliptical ROI."""
    rng = np.random.default_rng(seed)
    field = rng.normal(size=(2, size, size))
    field = ndimage.gaussian_filter(field, (0, 1.0, 1.5))
    envelope = np.hypot(field[0], field[1])
    rows, cols = np.mgrid[:size, :size]
    centre = size / 2 + rng.uniform(-size / 10, size / 10, 2)
    axes = size * rng.uniform(0.18, 0.32, 2)
    mask = ((rows - centre[0]) / axes[0]) ** 2 + (
        (cols - centre[1]) / axes[1]
    ) ** 2 <= 1
    envelope = envelope * np.where(mask, rng.uniform(1.2, 1.8), 1.0)
    image = np.clip(envelope / envelope.mean() * 70, 0, 255).astype(np.uint8)
    return image, mask


def write_cohort(folder: Path, n_lesions: int, size: int) -> Path:
    """PNG files of ``n_lesions`` lesions and the manifest of all of them."""
    manifest = folder / f"cohort_{n_lesions}_{size}px.csv"
    if manifest.exists():
        return manifest
    images = folder / f"{size}px"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n_lesions):
        lesion_id = f"L{k:05d}"
        image_path = images / f"{lesion_id}_us.png"
        mask_path = images / f"{lesion_id}_us_roi.png"
        if not (image_path.exists() and mask_path.exists()):
            image, mask = lesion(k, size)
            Image.fromarray(image).save(image_path)
            Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
        rows.append(
            {
                "lesion_id": lesion_id,
                "US_image": str(image_path.relative_to(folder)),
                "US_mask": str(mask_path.relative_to(folder)),
            }
        )
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def run_one(manifest: str, mode: str, n_jobs: int) -> dict:
    """Extract the cohort of ``manifest`` in this process; timings and memory."""
    from ceusradiomics import TextureExtractor
    from ceusradiomics.io import load_cohort, read_image, read_mask

    reset = _reset_peak()
    before_mb = _status_mb("VmRSS") if reset else _peak_mb()
    start = time.perf_counter()
    X = load_cohort(manifest)
    if mode == "eager":
        X = X.assign(
            US_image=[read_image(p) for p in X["US_image"]],
            US_mask=[read_mask(p) for p in X["US_mask"]],
        )
    features = TextureExtractor(cache=False, n_jobs=n_jobs).fit_transform(X)
    seconds = time.perf_counter() - start
    return {
        "lesions": len(X),
        "features": features.shape[1],
        "seconds": seconds,
        "before_mb": before_mb,
        "peak_mb": _peak_mb(),
        "table_mb": features.memory_usage(deep=True).sum() / 1024**2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--dir", default="/tmp/ceus-scale")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=["lazy", "eager"])
    parser.add_argument(
        "--one", nargs=2, metavar=("MANIFEST", "MODE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.one:  # a child process: one measurement, as JSON on stdout
        print(json.dumps(run_one(args.one[0], args.one[1], args.n_jobs)))
        return

    import ceusradiomics

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    manifests = {
        n: write_cohort(folder, n, args.image_size) for n in sorted(args.sizes)
    }
    largest = pd.read_csv(manifests[max(args.sizes)])
    disk = sum(
        (folder / path).stat().st_size
        for path in [*largest["US_image"], *largest["US_mask"]]
    )
    print(
        f"cohort of {max(args.sizes)} lesions ({args.image_size}x{args.image_size} PNG "
        f"+ mask, {disk / 1024**2:.0f} MB) ready in {time.perf_counter() - start:.0f} s"
    )
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, ceusradiomics "
        f"{ceusradiomics.__version__}, {os.cpu_count()} CPUs, n_jobs={args.n_jobs}, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print()
    columns = ["lesions", "mode", "seconds", "lesions/s", "RSS before MB"]
    columns += ["peak RSS MB", "peak - before MB", "table MB"]
    print("| " + " | ".join(columns) + " |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sorted(args.sizes):
        for mode in args.modes:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    str(manifests[n]),
                    mode,
                    "--n-jobs",
                    str(args.n_jobs),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"| {r['lesions']} | {mode} | {r['seconds']:.1f} | "
                f"{r['lesions'] / r['seconds']:.0f} | {r['before_mb']:.0f} | "
                f"{r['peak_mb']:.0f} | {r['peak_mb'] - r['before_mb']:.0f} | "
                f"{r['table_mb']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
