"""ROI preprocessing for the ResNet-50: crop, scale, resize, normalise, augment.

The NumPy part (bounding box, intensity scaling, masking) runs without torch;
the resize, normalisation and augmentation import torch when called, so this
module can be imported without it.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "crop_box",
    "preprocess_roi",
    "roi_crop",
]

# torchvision's ImageNet statistics (the weights' ``transforms()`` use them).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Augmentation ranges (the study names the operations, not their ranges).
MAX_ROTATION_DEG = 15.0
MIN_CROP_SCALE = 0.8
MAX_CHANNEL_SHIFT = 0.1


def _check_settings(crop_margin: Any, mask_context: Any, image_size: Any) -> None:
    if (
        isinstance(crop_margin, bool)
        or not isinstance(crop_margin, Real)
        or not crop_margin >= 0
    ):
        raise ValueError(
            "crop_margin must be a float >= 0 (a fraction of the ROI's bounding "
            f"box) or an int >= 0 (pixels); got {crop_margin!r}"
        )
    if mask_context not in ("keep", "zero"):
        raise ValueError(f"mask_context must be 'keep' or 'zero'; got {mask_context!r}")
    if (
        isinstance(image_size, bool)
        or not isinstance(image_size, Integral)
        or image_size < 32
    ):
        raise ValueError(f"image_size must be an int >= 32; got {image_size!r}")


def crop_box(mask: np.ndarray, crop_margin: float = 0.1) -> tuple[slice, slice]:
    """The ROI's bounding box enlarged by a margin, clipped to the image.

    Parameters
    ----------
    mask : ndarray of bool, shape (rows, columns)
        A non-empty ROI.
    crop_margin : float or int, default=0.1
        A float is a fraction of the bounding box's height (added above and
        below) and width (added left and right); an int is a number of pixels
        on every side.

    Returns
    -------
    rows, columns : slice
        The crop, ``image[rows, columns]``.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.deep import crop_box
    >>> mask = np.zeros((20, 20), dtype=bool)
    >>> mask[5:15, 0:10] = True
    >>> crop_box(mask, 0.2)
    (slice(3, 17, None), slice(0, 12, None))
    >>> crop_box(mask, 1)
    (slice(4, 16, None), slice(0, 11, None))
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    if isinstance(crop_margin, Integral):
        dr = dc = int(crop_margin)
    else:
        dr = round(crop_margin * (r1 - r0))
        dc = round(crop_margin * (c1 - c0))
    return (
        slice(max(r0 - dr, 0), min(r1 + dr, mask.shape[0])),
        slice(max(c0 - dc, 0), min(c1 + dc, mask.shape[1])),
    )


def _unit_scale(crop: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Grey levels on [0, 1]: by the dtype's range for uint8/uint16, else min-max."""
    if crop.dtype == np.uint8:
        return crop.astype(np.float32) / np.float32(255)
    if crop.dtype == np.uint16:
        return crop.astype(np.float32) / np.float32(65535)
    values = crop.astype(np.float64)
    finite = np.isfinite(values) & keep
    out = np.zeros(values.shape, dtype=np.float32)
    if not finite.any():
        return out
    lo, hi = values[finite].min(), values[finite].max()
    if hi > lo:
        with np.errstate(invalid="ignore"):
            out[:] = (values - lo) / (hi - lo)
        out[~np.isfinite(values)] = 0.0
    # A constant crop has no contrast to stretch: it stays black (all zero).
    return np.clip(out, 0.0, 1.0)


def roi_crop(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    crop_margin: float = 0.1,
    mask_context: str = "keep",
) -> np.ndarray:
    """The ROI's crop with grey levels on [0, 1], before resizing.

    Parameters
    ----------
    image : ndarray of shape (rows, columns)
        The grey-level image.
    mask : ndarray of bool, shape (rows, columns)
        A non-empty ROI.
    crop_margin : float or int, default=0.1
        See :func:`crop_box`.
    mask_context : {"keep", "zero"}, default="keep"
        ``"zero"`` sets the pixels of the crop outside the ROI to 0 (black).

    Returns
    -------
    crop : ndarray of float32, shape (crop rows, crop columns)
        ``uint8`` images are divided by 255 and ``uint16`` ones by 65535;
        other dtypes are min-max scaled over the kept pixels (the whole crop,
        or the ROI with ``mask_context="zero"``), with non-finite pixels at 0.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.deep import roi_crop
    >>> image = np.arange(16, dtype=np.uint8).reshape(4, 4) * 17
    >>> mask = np.zeros((4, 4), dtype=bool)
    >>> mask[1:3, 1:3] = True
    >>> roi_crop(image, mask, crop_margin=0) * 255  # uint8: divided by 255
    array([[ 85., 102.],
           [153., 170.]], dtype=float32)
    >>> roi_crop(image.astype(float), mask, crop_margin=0)  # float: min-max
    array([[0. , 0.2],
           [0.8, 1. ]], dtype=float32)
    """
    _check_settings(crop_margin, mask_context, 32)
    rows, cols = crop_box(mask, crop_margin)
    crop = np.asarray(image)[rows, cols]
    inside = np.asarray(mask, dtype=bool)[rows, cols]
    keep = inside if mask_context == "zero" else np.ones_like(inside)
    out = _unit_scale(crop, keep)
    if mask_context == "zero":
        out[~inside] = 0.0
    return out


def resize_crop(crop: np.ndarray, image_size: int) -> Any:
    """``crop`` as a ``(1, 1, image_size, image_size)`` float32 tensor.

    Bilinear with antialiasing (a triangle filter as wide as the scale factor
    when shrinking), so a large ROI is low-passed rather than aliased; the
    aspect ratio is not kept, as in the study ("resized to 224 x 224").
    """
    import torch
    from torch.nn import functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float32))
    return F.interpolate(
        tensor[None, None],
        size=(image_size, image_size),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )


def normalize(batch: Any) -> Any:
    """``(N, 1, S, S)`` grey on [0, 1] -> ``(N, 3, S, S)`` ImageNet-normalised."""
    import torch

    mean = torch.tensor(IMAGENET_MEAN, dtype=batch.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=batch.dtype).view(1, 3, 1, 1)
    return (batch.expand(-1, 3, -1, -1) - mean) / std


def augment(base: Any, rngs: list[np.random.Generator]) -> Any:
    """Random views of one resized crop, one per generator.

    Each view draws, in this order: a rotation angle uniform in +/-15
    degrees, a crop scale uniform in [0.8, 1] (the side of the random crop as
    a fraction of the base crop), a crop offset uniform within the base crop,
    a horizontal and a vertical flip with probability 1/2 each, and a channel
    shift uniform in +/-0.1 (on the [0, 1] scale) added to the three
    channels alike and clipped to the crop's own range, as Keras's
    ``channel_shift_range`` does. Rotation, crop and flips are one affine
    resampling (bilinear); pixels that come from outside the crop repeat its
    border (Keras's ``fill_mode="nearest"``).

    Parameters
    ----------
    base : Tensor of shape (1, 1, S, S)
        The resized crop on [0, 1].
    rngs : list of numpy.random.Generator
        One generator per view.

    Returns
    -------
    views : Tensor of shape (len(rngs), 1, S, S)
    """
    import torch
    from torch.nn import functional as F

    thetas, shifts = [], []
    for rng in rngs:
        angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
        scale = rng.uniform(MIN_CROP_SCALE, 1.0)
        offset = rng.uniform(-(1.0 - scale), 1.0 - scale, size=2)
        flips = np.where(rng.random(2) < 0.5, -1.0, 1.0)
        shifts.append(rng.uniform(-MAX_CHANNEL_SHIFT, MAX_CHANNEL_SHIFT))
        rotation = np.array(
            [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
        )
        linear = rotation @ np.diag(scale * flips)
        thetas.append(np.column_stack([linear, offset]))
    n = len(rngs)
    size = base.shape[-1]
    theta = torch.from_numpy(np.stack(thetas).astype(np.float32))
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    views = F.grid_sample(
        base.expand(n, -1, -1, -1),
        grid,
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    lo, hi = base.min(), base.max()
    shift = torch.tensor(shifts, dtype=views.dtype).view(n, 1, 1, 1)
    return torch.clamp(views + shift, min=lo, max=hi)


def preprocess_roi(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    crop_margin: float = 0.1,
    mask_context: str = "keep",
    image_size: int = 224,
) -> np.ndarray:
    r"""The ResNet-50 input of one ROI: crop, grey -> RGB, resize, normalise.

    The ROI's bounding box plus `crop_margin` (clipped at the image border)
    is cropped, its grey levels are put on [0, 1] (see :func:`roi_crop`),
    resized to ``image_size x image_size`` (bilinear, antialiased; the
    aspect ratio is not kept), copied to 3 channels and normalised with the
    ImageNet statistics used to train torchvision's weights:

    .. math:: x_c = (g - \mu_c) / \sigma_c, \quad
              \mu = (0.485, 0.456, 0.406),\ \sigma = (0.229, 0.224, 0.225)

    Needs PyTorch (for the antialiased resize).

    Parameters
    ----------
    image : ndarray of shape (rows, columns)
        The grey-level image.
    mask : ndarray of bool, shape (rows, columns)
        A non-empty ROI.
    crop_margin : float or int, default=0.1
        A float is a fraction of the bounding box's height and width added on
        each side; an int is pixels.
    mask_context : {"keep", "zero"}, default="keep"
        ``"zero"`` blacks out the pixels of the crop outside the ROI.
    image_size : int, default=224
        Side of the network input, in pixels (>= 32).

    Returns
    -------
    tensor : ndarray of float32, shape (3, image_size, image_size)

    See Also
    --------
    ResNetFeaturizer : Runs this on every lesion, then the network.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.deep import preprocess_roi
    >>> image = np.full((40, 40), 255, dtype=np.uint8)
    >>> mask = np.zeros((40, 40), dtype=bool)
    >>> mask[10:30, 10:30] = True
    >>> x = preprocess_roi(image, mask, image_size=32)
    >>> x.shape
    (3, 32, 32)
    >>> np.round(x[:, 0, 0], 3)  # white: (1 - mean) / std per channel
    array([2.249, 2.429, 2.64 ], dtype=float32)
    """
    _check_settings(crop_margin, mask_context, image_size)
    image = np.asarray(image)
    mask = np.asarray(mask, dtype=bool)
    if image.ndim != 2 or mask.shape != image.shape or not mask.any():
        raise ValueError(
            "image must be 2-D and mask a non-empty boolean array of the same "
            f"shape; got image {image.shape} and mask {mask.shape} with "
            f"{int(mask.sum())} pixel(s) inside"
        )
    crop = roi_crop(image, mask, crop_margin=crop_margin, mask_context=mask_context)
    return normalize(resize_crop(crop, image_size))[0].numpy()
