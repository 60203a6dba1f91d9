"""Internals shared by the texture families: ROI checks, bounding box, levels.

Every public function of the texture package (``texture_features``,
``histogram_features``, ``quantize``, ...) validates its ``(image, mask)``
through :func:`crop_roi`, i.e. through the package-wide
:func:`ceusradiomics._roi.validate_roi`, once, and then works on the ROI's
bounding box. The families' private computations (``_histogram``,
``_co_occurrence``, ...) take that validated crop and check nothing again;
:func:`~ceusradiomics.texture.texture_features` and the extractors call them
directly, so a ROI is validated once on its way to all its features.

The parameter checks that several families share (grey levels, distances,
wavelet scales, the Haar grid origin) live here too.
"""

from __future__ import annotations

import itertools
import numbers
import operator
from collections.abc import Iterable, Sequence

import numpy as np

from ceusradiomics import _roi
from ceusradiomics._roi import roi_bbox

__all__ = [
    "MAX_SCALE",
    "NORMALIZATIONS",
    "as_int",
    "check_bits",
    "check_distances",
    "check_image",
    "check_levels",
    "check_normalization",
    "check_origin",
    "check_scales",
    "crop_roi",
    "dot",
    "roi_bbox",
    "roi_levels",
]

#: The grey-level normalisations understood by
#: :func:`~ceusradiomics.texture.quantize` (the single source of the option
#: list: the extractor and the command line import it).
NORMALIZATIONS: tuple[str, ...] = ("none", "3sigma", "1-99", "minmax")

#: Coarsest Haar scale (blocks of 2**16 pixels a side).
MAX_SCALE = 16


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``sum(a * b)`` of two 1-D float arrays, without BLAS.

    OpenBLAS splits a dot product of more than 10,000 elements over its
    threads: on a busy machine (or next to joblib workers) that costs more
    than the sum itself, and the result's last bits depend on the thread
    count. numpy's own einsum loop is single-threaded and as fast, so a
    feature is the same whatever the process's BLAS threads are.
    """
    return float(np.einsum("i,i->", a, b))


def crop_roi(
    image: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """Validate ``(image, mask)`` and crop both to the ROI's bounding box.

    The one entry check of the package's public functions (see the module
    docstring). No margin is needed by the neighbourhood families: a pixel on
    the border of the box has a neighbour outside it, which is outside the
    ROI, so it never qualifies anyway.
    """
    image, mask = _roi.validate_roi(image, mask)
    box = roi_bbox(mask)
    return image[box], mask[box], box


# --------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------


def as_int(value: object, message: str) -> int:
    """Return ``value`` as an int; bools and non-integers raise TypeError."""
    if type(value) is int:  # fast path for the common case
        return value
    if not isinstance(value, (bool, np.bool_)):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{message}; got {value!r} of type {type(value).__name__}")


def check_normalization(normalization: str) -> str:
    if not isinstance(normalization, str) or normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {list(NORMALIZATIONS)}; "
            f"got {normalization!r}"
        )
    return normalization


def check_bits(bits: int) -> int:
    if (
        not isinstance(bits, numbers.Integral)
        or isinstance(bits, (bool, np.bool_))
        or not 1 <= bits <= 16
    ):
        raise ValueError(f"bits must be an integer between 1 and 16; got {bits!r}")
    return int(bits)


def check_levels(levels: int, max_levels: int) -> int:
    """Validate ``levels``: an integer in ``[1, max_levels]``."""
    if not isinstance(levels, numbers.Integral) or isinstance(levels, bool):
        raise TypeError(
            f"levels must be an integer (the number of grey levels, e.g. 64 for "
            f"6 bits); got {levels!r} of type {type(levels).__name__}"
        )
    if not 1 <= levels <= max_levels:
        raise ValueError(f"levels must be between 1 and {max_levels}; got {levels}")
    return int(levels)


def roi_levels(
    image: np.ndarray, mask: np.ndarray, levels: int, max_levels: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate a working image of grey levels and crop it to the ROI's box.

    For the public matrix functions (co-occurrence, run length), whose input
    must already hold the levels ``0 .. levels - 1`` inside the ROI. Returns
    the cropped grey levels as ``intp`` (pixels outside the ROI set to 0, so
    that they can never matter), the cropped bool mask and ``levels``.
    """
    levels = check_levels(levels, max_levels)
    image_c, mask_c, _ = crop_roi(image, mask)
    if image_c.dtype.kind == "f":
        roi = image_c[mask_c]
        if not np.array_equal(roi, np.floor(roi)):
            bad = float(roi[roi != np.floor(roi)][0])
            raise ValueError(
                "image must hold integer grey levels 0..levels-1 inside the mask; "
                f"got the non-integer value {bad:g}. Quantise it first with "
                "ceusradiomics.texture.quantize."
            )
    work = np.where(mask_c, image_c, 0)
    low, high = work.min(), work.max()
    if low < 0 or high >= levels:
        roi = image_c[mask_c]
        raise ValueError(
            f"image values inside the mask must lie in 0..levels-1 = 0..{levels - 1}; "
            f"got values from {roi.min()} to {roi.max()}. Quantise the image or "
            "raise levels."
        )
    return work.astype(np.intp, copy=False), mask_c, levels


def check_distances(distances: Sequence[int] | int) -> tuple[int, ...]:
    """Validate GLCM distances: a non-empty sequence of unique positive integers."""
    if isinstance(distances, numbers.Integral) and not isinstance(distances, bool):
        distances = (distances,)
    try:
        values = tuple(distances)
    except TypeError:
        raise TypeError(
            f"distances must be a sequence of positive integers; got {distances!r}"
        ) from None
    if (
        not values
        or any(
            not isinstance(d, numbers.Integral) or isinstance(d, bool) or d < 1
            for d in values
        )
        or len(set(values)) != len(values)
    ):
        raise ValueError(
            f"distances must be a non-empty sequence of unique positive integers; "
            f"got {distances!r}"
        )
    return tuple(int(d) for d in values)


def check_scales(scales: Iterable[int]) -> tuple[int, ...]:
    """Validate Haar ``scales``: positive ints, strictly increasing, at most 16."""
    if isinstance(scales, (str, bytes)) or not isinstance(scales, Iterable):
        raise TypeError(
            "scales must be an iterable of positive integers such as range(1, 9); "
            f"got {scales!r}"
        )
    values = tuple(scales)
    if not values:
        raise ValueError("scales must contain at least one scale; got an empty set")
    values = tuple(as_int(k, "scales must contain integers") for k in values)
    if not all(1 <= k <= MAX_SCALE for k in values):
        raise ValueError(
            f"scales must lie between 1 and {MAX_SCALE} (block sizes 2 to "
            f"{2**MAX_SCALE} px); got {values}"
        )
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(
            f"scales must be strictly increasing without repeats; got {values}"
        )
    return values


def check_origin(origin: Iterable[int]) -> tuple[int, int]:
    """Validate ``origin``: two non-negative integers (row, column)."""
    try:
        values = tuple(origin)
    except TypeError:
        values = None
    if values is None or len(values) != 2:
        raise ValueError(
            "origin must be a pair (row0, col0) of non-negative integers; "
            f"got {origin!r}"
        )
    row0, col0 = (as_int(v, "origin must hold integers (row0, col0)") for v in values)
    if row0 < 0 or col0 < 0:
        raise ValueError(
            "origin must be a pair (row0, col0) of non-negative integers; "
            f"got {(row0, col0)}"
        )
    return row0, col0


def check_image(image: np.ndarray) -> np.ndarray:
    """A 2-D real-valued image without a mask (the whole-image transforms)."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(
            f"image must be a 2-D array; got an array of shape {image.shape}"
        )
    if image.dtype.kind not in "iuf":
        raise TypeError(
            "image must be an array of integer or floating-point grey levels; "
            f"got dtype {image.dtype}"
        )
    return image
