"""The one validation of an (image, mask) pair, shared by every layer.

:func:`validate_roi` is what the extractors run once per lesion and column
(with the lesion and column, so that a problem raises a located
:class:`~ceusradiomics.exceptions.ROIError`), what :mod:`ceusradiomics.io`
exposes publicly, and what the public functions of the maths packages
(``texture_features(image, mask)``, ``histogram_features(image, mask)``, ...)
run for their direct callers. Their internals receive the validated, cropped
arrays and check nothing again. This module imports numpy and the exceptions
only, so the maths packages can use it without reaching the loaders.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ceusradiomics.exceptions import ROIError, ROITypeError

__all__ = ["binarise", "roi_bbox", "validate_roi"]


def _check_min_extent(min_extent: Any) -> int:
    if isinstance(min_extent, (bool, np.bool_)) or not isinstance(
        min_extent, (int, np.integer)
    ):
        raise TypeError(f"min_extent must be an int >= 1; got {min_extent!r}")
    if min_extent < 1:
        raise ValueError(f"min_extent must be an int >= 1; got {min_extent}")
    return int(min_extent)


def binarise(
    mask: np.ndarray, *, lesion: Any = None, column: str | None = None
) -> np.ndarray:
    """A boolean view of a numeric or boolean mask (nonzero = inside)."""
    if mask.dtype == np.bool_:
        return mask
    if mask.dtype.kind not in "uif":
        raise ROITypeError(
            "mask must be a bool or numeric array (nonzero = inside); got dtype "
            f"{mask.dtype}",
            lesion=lesion,
            column=column,
        )
    if mask.dtype.kind == "f":
        n_nan = int(np.count_nonzero(np.isnan(mask)))
        if n_nan:
            raise ROIError(
                f"mask holds {n_nan} NaN value(s); a mask must be boolean or hold "
                "labels (nonzero = inside)",
                lesion=lesion,
                column=column,
            )
    return mask != 0


def roi_bbox(mask: np.ndarray) -> tuple[slice, slice]:
    """Bounding box of the True pixels of a non-empty bool ``mask``.

    The first ROI row comes from ``argmax`` on the flat mask (which stops at
    the first True); the other limits from row/column projections restricted
    to the part of the mask from that row on, so the rows above the ROI are
    scanned once only.
    """
    n_rows, n_cols = mask.shape
    r0 = int(mask.reshape(-1).argmax()) // n_cols
    rows = mask[r0:].any(axis=1)
    r1 = n_rows - int(rows[::-1].argmax())
    cols = mask[r0:r1].any(axis=0)
    c0 = int(cols.argmax())
    c1 = n_cols - int(cols[::-1].argmax())
    return slice(r0, r1), slice(c0, c1)


def validate_roi(
    image: Any,
    mask: Any,
    *,
    lesion: Any = None,
    image_column: str | None = None,
    mask_column: str | None = None,
    min_extent: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Check that an image and its mask form a usable ROI.

    The image is returned unchanged (never copied); the mask is returned as a
    boolean array (the same object if it already is one).

    Parameters
    ----------
    image : array_like of shape (rows, columns)
        A grey-level image of integers or floats.
    mask : array_like of shape (rows, columns)
        The ROI: booleans or numbers, nonzero = inside.
    lesion : hashable, optional
        The lesion id, quoted in error messages.
    image_column, mask_column : str, optional
        The records-frame columns the image and the mask come from, quoted
        in error messages about each.
    min_extent : int, default=1
        The smallest extent, in pixels, that the ROI's bounding box must have
        along at least one axis. Families built on pixel pairs (co-occurrence,
        run length, gradient, ...) pass ``2``: a ROI whose bounding box is
        thinner than `min_extent` in both directions holds no pair at all.

    Returns
    -------
    image : ndarray of shape (rows, columns)
        `image`, unchanged.
    mask : ndarray of bool, shape (rows, columns)
        `mask` as booleans.

    Raises
    ------
    ROIError
        A :class:`ValueError` if the image or the mask is not 2-D, their
        shapes differ, the mask is empty or holds NaN, the image has NaN or
        infinite pixels inside the ROI, or the ROI is thinner than
        `min_extent` in both directions. Its ``lesion`` and ``column``
        attributes say where, and the message starts with
        ``lesion '<id>', column '<column>': ``.
    ROITypeError
        (also a :class:`TypeError`) if the image is not numeric (booleans
        included) or the mask holds neither booleans nor numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.io import validate_roi
    >>> image = np.arange(12.0).reshape(3, 4)
    >>> image_out, mask_out = validate_roi(image, [[0, 1, 1, 0]] * 3)
    >>> image_out is image, mask_out.dtype
    (True, dtype('bool'))
    >>> validate_roi(image, np.zeros((3, 5)), lesion="P017", mask_column="AP_mask")
    Traceback (most recent call last):
    ...
    ceusradiomics.exceptions.ROIError: lesion 'P017', column 'AP_mask': mask must have the same shape as image; got image (3, 4) and mask (3, 5)
    """  # noqa: E501
    min_extent = _check_min_extent(min_extent)
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.dtype.kind not in "uif":
        hint = " (is it the mask?)" if image.dtype == np.bool_ else ""
        raise ROITypeError(
            "image must be an array of integer or floating-point grey levels; got "
            f"dtype {image.dtype}{hint}",
            lesion=lesion,
            column=image_column,
        )
    if image.ndim != 2:
        hint = (
            "; convert colour images to grey levels (color=) or pick one frame"
            if image.ndim in (3, 4)
            else ""
        )
        raise ROIError(
            f"image must be a 2-D array; got an array of shape {image.shape}{hint}",
            lesion=lesion,
            column=image_column,
        )
    if mask.ndim != 2 or mask.shape != image.shape:
        raise ROIError(
            f"mask must have the same shape as image; got image {image.shape} and "
            f"mask {mask.shape}",
            lesion=lesion,
            column=mask_column,
        )
    mask = binarise(mask, lesion=lesion, column=mask_column)
    # argmax on a bool array stops at the first True: a cheap emptiness test.
    if mask.size == 0 or not mask.reshape(-1)[mask.reshape(-1).argmax()]:
        raise ROIError(
            "mask must contain at least one ROI pixel (nonzero): the mask is empty",
            lesion=lesion,
            column=mask_column,
        )
    if image.dtype.kind == "f" or min_extent >= 2:
        box = roi_bbox(mask)
        if image.dtype.kind == "f":
            roi = image[box][mask[box]]
            if not np.isfinite(roi).all():
                n_bad = int(np.count_nonzero(~np.isfinite(roi)))
                raise ROIError(
                    f"image must be finite inside the mask; got {n_bad} NaN or "
                    "infinite pixel(s) inside the ROI; fill them or exclude them "
                    "from the mask",
                    lesion=lesion,
                    column=image_column,
                )
        if min_extent >= 2:
            height = box[0].stop - box[0].start
            width = box[1].stop - box[1].start
            if height < min_extent and width < min_extent:
                raise ROIError(
                    f"ROI spans only {height} row(s) x {width} column(s); at least "
                    f"{min_extent} pixels along one axis are needed for pixel-pair "
                    "features",
                    lesion=lesion,
                    column=mask_column,
                )
    return image, mask


def outline_of(mask: np.ndarray, box: tuple[slice, slice]) -> tuple[int, int] | None:
    """``(boundary pixels, enclosed pixels)`` if `mask` looks like an outline.

    A ROI exported as its contour (a closed line one or two pixels wide, as
    many drawing tools save it) is almost all boundary and encloses a hole;
    a filled ROI, or a thin open line, is not flagged. The cheap test (the
    share of pixels with all four neighbours inside) runs first; the hole
    filling only for masks that pass it.
    """
    crop = mask[box]
    n = int(np.count_nonzero(crop))
    if n < 8:
        return None
    interior = (
        crop[1:-1, 1:-1]
        & crop[:-2, 1:-1]
        & crop[2:, 1:-1]
        & crop[1:-1, :-2]
        & crop[1:-1, 2:]
    )
    if np.count_nonzero(interior) > 0.05 * n:
        return None
    from scipy import ndimage

    enclosed = int(np.count_nonzero(ndimage.binary_fill_holes(crop))) - n
    if enclosed <= 0:
        return None
    return n, enclosed


def fill_outline(mask: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """`mask` with the holes its outline encloses filled (a new array)."""
    from scipy import ndimage

    filled = mask.copy()
    filled[box] = ndimage.binary_fill_holes(mask[box])
    return filled
