"""Throughput of ResNetFeaturizer against a bare torchvision ResNet-50 forward.

Both run the same network (random weights: the arithmetic is that of the
ImageNet weights, and nothing is downloaded) at the same batch size, in the
same process, alternately, so that a busy machine slows both alike:

- *bare*: ``resnet50()`` in eval mode, channels_last, under
  ``torch.inference_mode()``, on the already preprocessed ``(N, 3, S, S)``
  tensors (made once with :func:`ceusradiomics.deep.preprocess_roi`);
- *featurizer*: ``ResNetFeaturizer(cache=False).transform(X)`` on the records
  frame of the same ROIs, i.e. crop + resize + normalise + forward + table.

The featurizer's target is >= 0.9x the bare throughput. ``--precision``
runs both in that arithmetic (the featurizer through its own ``precision``
parameter, the bare forward under :func:`torch.autocast`); ``--compile``
compiles the bare network with :func:`torch.compile` and ``--contiguous``
feeds it NCHW instead of channels-last tensors, to measure what they bring.
Usage::

    python benchmarks/bench_resnet.py --n-images 64 --batch-size 8
    python benchmarks/bench_resnet.py --precision bfloat16
    python benchmarks/bench_resnet.py --device cuda --precision bfloat16 \\
        --n-images 2048 --batch-size 64
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import time

import numpy as np
import pandas as pd
import torch
from torchvision.models import resnet50

from ceusradiomics import ResNetFeaturizer
from ceusradiomics.deep import preprocess_roi

AMP_DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def make_records(n: int, size: int, seed: int = 0) -> pd.DataFrame:
    """``n`` uint8 speckle frames of ``size x size`` with elliptic ROIs."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[:size, :size]
    images, masks = [], []
    for _ in range(n):
        centre = rng.uniform(0.3, 0.7, size=2) * size
        radii = rng.uniform(0.1, 0.25, size=2) * size
        mask = ((rr - centre[0]) / radii[0]) ** 2 + (
            (cc - centre[1]) / radii[1]
        ) ** 2 <= 1
        image = rng.gamma(2.0, 30.0, (size, size))
        image[mask] *= 1.5
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        masks.append(mask)
    return pd.DataFrame(
        {"US_image": images, "US_mask": masks}, index=[f"L{i}" for i in range(n)]
    )


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, amp: str):
    dtype = AMP_DTYPES[amp]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def time_bare(model, tensors, batch_size, device, amp, layout) -> float:
    synchronize(device)
    start = time.perf_counter()
    with torch.inference_mode(), autocast(device, amp):
        for i in range(0, len(tensors), batch_size):
            batch = tensors[i : i + batch_size].to(
                device, memory_format=layout, non_blocking=True
            )
            model(batch).float().cpu()
    synchronize(device)
    return time.perf_counter() - start


def time_featurizer(featurizer, X, device) -> float:
    synchronize(device)
    start = time.perf_counter()
    featurizer.transform(X)
    synchronize(device)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--source-size", type=int, default=256, help="frame side")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--precision", choices=tuple(AMP_DTYPES), default="float32")
    parser.add_argument("--compile", action="store_true", help="torch.compile bare")
    parser.add_argument(
        "--contiguous", action="store_true", help="NCHW bare input, not channels-last"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA device here")
    X = make_records(args.n_images, args.source_size)
    tensors = torch.from_numpy(
        np.stack(
            [
                preprocess_roi(image, mask, image_size=args.image_size)
                for image, mask in zip(X["US_image"], X["US_mask"], strict=True)
            ]
        )
    )
    if device.type == "cuda":
        tensors = tensors.pin_memory()

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        bare = resnet50().eval().requires_grad_(False)
    layout = torch.contiguous_format if args.contiguous else torch.channels_last
    bare = bare.to(device, memory_format=layout)
    if args.compile:
        bare = torch.compile(bare)
    featurizer = ResNetFeaturizer(
        weights=None,
        image_size=args.image_size,
        device=args.device,
        batch_size=args.batch_size,
        precision=args.precision,
        cache=False,
        random_state=0,
    ).fit(X)
    amp = args.precision

    # Warm-up: builds the featurizer's network, primes oneDNN / cuDNN kernels
    # (and compiles the bare network).
    warm = X.iloc[: args.batch_size]
    time_featurizer(featurizer, warm, device)
    time_bare(bare, tensors[: args.batch_size], args.batch_size, device, amp, layout)

    bare_s, feat_s = [], []
    for _ in range(args.repeats):
        bare_s.append(time_bare(bare, tensors, args.batch_size, device, amp, layout))
        feat_s.append(time_featurizer(featurizer, X, device))
    n = args.n_images
    bare_rate = n / statistics.median(bare_s)
    feat_rate = n / statistics.median(feat_s)

    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine()
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"device {device} ({name}), precision {args.precision}, bare "
        f"{'compiled, ' if args.compile else ''}"
        f"{'NCHW' if args.contiguous else 'channels-last'}"
    )
    print(
        f"{n} images {args.source_size}px -> {args.image_size}px, batch "
        f"{args.batch_size}, median of {args.repeats}"
    )
    print(f"bare resnet50 forward : {bare_rate:8.1f} images/s")
    print(f"ResNetFeaturizer      : {feat_rate:8.1f} images/s")
    print(f"ratio                 : {feat_rate / bare_rate:8.3f}")


if __name__ == "__main__":
    main()
