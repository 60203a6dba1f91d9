"""Time-intensity curves of a ROI: input checks, linearisation, motion screening."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

# Frames of a cine are reduced ROI by ROI in chunks of this many frames, so
# that linearising a 1800-frame loop never holds all its ROI pixels in float64.
_CHUNK = 256
_STATISTICS = ("mean", "median")


def _check_frames(frames: Any) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 3:
        raise ValueError(
            "frames must be a cine of shape (n_frames, rows, columns); got an "
            f"array of shape {frames.shape}"
        )
    if frames.dtype.kind not in "uif":
        raise TypeError(
            f"frames must hold integers or floats; got dtype {frames.dtype}"
        )
    if frames.shape[0] == 0:
        raise ValueError("frames holds no frame (shape[0] == 0)")
    return frames


def _check_mask(mask: Any, frames: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != frames.shape[1:]:
        raise ValueError(
            f"mask must have the shape of one frame; got frames {frames.shape} "
            f"and mask {mask.shape}"
        )
    if mask.dtype != np.bool_:
        if mask.dtype.kind not in "uif":
            raise TypeError(
                f"mask must hold booleans or numbers (nonzero = inside); got "
                f"dtype {mask.dtype}"
            )
        mask = mask != 0
    if not mask.any():
        raise ValueError("mask is empty (no pixel inside the ROI)")
    return mask


def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a positive number; got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return float(value)


def linearize_intensity(
    values: np.ndarray,
    *,
    dynamic_range_db: float = 60.0,
    max_value: float = 255.0,
) -> np.ndarray:
    r"""Undo the log compression of ultrasound video: grey levels to echo power.

    A scanner displays the echo power :math:`P` in decibels over a dynamic
    range :math:`D` (dB) mapped onto grey levels ``0..max_value``,
    :math:`v = v_{\max}\,(1 + 10\log_{10}(P/P_{\max})/D)`. The inverse,

    .. math::

        P / P_{\max} = 10^{\,D\,(v / v_{\max} - 1)/10},

    is the *linearised* intensity, proportional to the microbubble
    concentration (VueBox works on it), in units of the echo power at the top
    of the display: a pixel at ``max_value`` gives 1, a pixel at 0 gives
    :math:`10^{-D/10}`.

    Parameters
    ----------
    values : array_like
        Grey levels, at most `max_value`.
    dynamic_range_db : float, default=60.0
        The display dynamic range :math:`D` of the scanner preset, in dB.
    max_value : float, default=255.0
        The grey level at the top of the dynamic range (255 for 8-bit video).

    Returns
    -------
    ndarray of float64
        Relative echo power, same shape as `values`.

    Raises
    ------
    ValueError
        If a value exceeds `max_value` (the compression law would be wrong),
        or `dynamic_range_db` / `max_value` is not positive.

    Notes
    -----
    The true compression curve of a scanner preset is proprietary and not
    stored in DICOM; a plain logarithm over the stated dynamic range is the
    model used by the open literature [1]_. Linearise per pixel *before*
    averaging over the ROI: the mean of log-compressed speckle is not the log
    of the mean power.

    References
    ----------
    .. [1] M. Arditi et al., "A new formalism for the quantification of tissue
       perfusion by the destruction-replenishment method in contrast
       ultrasound imaging," IEEE Trans. Ultrason. Ferroelectr. Freq. Control,
       vol. 53, no. 6, pp. 1118-1129, 2006. :doi:`10.1109/TUFFC.2006.1642510`

    Examples
    --------
    >>> from ceusradiomics.perfusion import linearize_intensity
    >>> linearize_intensity([255, 212.5, 0], dynamic_range_db=60.0)
    array([1.e+00, 1.e-01, 1.e-06])
    """
    dynamic_range_db = _check_positive("dynamic_range_db", dynamic_range_db)
    max_value = _check_positive("max_value", max_value)
    values = np.asarray(values, dtype=np.float64)
    if values.size and np.nanmax(values) > max_value:
        raise ValueError(
            f"intensities reach {np.nanmax(values):g}, above max_value="
            f"{max_value:g}; pass the grey level at the top of the display "
            "range as max_value= (e.g. 65535 for 16-bit data)"
        )
    return np.power(10.0, (dynamic_range_db / 10.0) * (values / max_value - 1.0))


def _roi_box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, mask.shape[0])),
        slice(max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, mask.shape[1])),
    )


def frame_correlation(
    frames: np.ndarray,
    mask: np.ndarray,
    *,
    sigma: float = 2.0,
    margin: int | None = None,
) -> np.ndarray:
    r"""Correlation of each frame with the loop's median frame around the ROI.

    A cheap motion indicator: the region around the ROI (its bounding box
    grown by `margin` pixels) is smoothed by a Gaussian of `sigma` pixels,
    which removes the speckle (it decorrelates from frame to frame anyway),
    and each frame is compared with the pixel-wise temporal median of the
    loop by Pearson's correlation coefficient

    .. math::

        r_k = \frac{\sum_x (F_k(x) - \bar F_k)(M(x) - \bar M)}
        {\sqrt{\sum_x (F_k(x) - \bar F_k)^2 \sum_x (M(x) - \bar M)^2}}.

    The median is unaffected by a minority of displaced frames (a breath, a
    probe slip), whose correlation then drops. Frames without structure
    (a uniform region, e.g. before the contrast arrives) give NaN: their
    position cannot be judged.

    Parameters
    ----------
    frames : array_like of shape (n_frames, rows, columns)
        The cine.
    mask : array_like of shape (rows, columns)
        The ROI (nonzero = inside).
    sigma : float, default=2.0
        Gaussian smoothing in pixels.
    margin : int, optional
        Pixels added around the ROI's bounding box; by default half its
        larger side, at least 4.

    Returns
    -------
    ndarray of shape (n_frames,)
        :math:`r_k` in [-1, 1], NaN where undefined.

    See Also
    --------
    time_intensity_curve : Drops frames below ``motion_threshold``.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.perfusion import frame_correlation
    >>> rng = np.random.default_rng(0)
    >>> scene = np.kron(rng.random((8, 8)), np.ones((4, 4)))
    >>> frames = np.stack([scene, scene, np.roll(scene, 8, axis=1), scene])
    >>> mask = np.zeros((32, 32), bool); mask[8:24, 8:24] = True
    >>> np.round(frame_correlation(frames, mask), 2)
    array([1.  , 1.  , 0.09, 1.  ])
    """
    frames = _check_frames(frames)
    mask = _check_mask(mask, frames)
    sigma = _check_positive("sigma", sigma)
    if margin is None:
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        margin = max(4, (max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1) // 2)
    elif (
        isinstance(margin, (bool, np.bool_))
        or not isinstance(margin, (int, np.integer))
        or margin < 0
    ):
        raise ValueError(f"margin must be a non-negative int or None; got {margin!r}")
    box = _roi_box(mask, int(margin))
    crop = frames[:, box[0], box[1]].astype(np.float64)
    crop = ndimage.gaussian_filter(crop, (0.0, sigma, sigma), mode="nearest")
    reference = np.median(crop, axis=0)
    crop = crop.reshape(len(crop), -1)
    crop -= crop.mean(axis=1, keepdims=True)
    reference = reference.ravel() - reference.mean()
    numerator = crop @ reference
    denominator = np.sqrt(np.einsum("ij,ij->i", crop, crop) * (reference @ reference))
    out = np.full(len(crop), np.nan)
    # A uniform frame (or reference) has no structure to correlate.
    scale = np.abs(crop).max(axis=1) * np.abs(reference).max() * crop.shape[1]
    ok = denominator > 1e-12 * np.maximum(scale, np.finfo(float).tiny)
    out[ok] = np.clip(numerator[ok] / denominator[ok], -1.0, 1.0)
    return out


def time_intensity_curve(
    frames: np.ndarray,
    mask: np.ndarray,
    *,
    statistic: str = "mean",
    linearize: str | None = None,
    dynamic_range_db: float = 60.0,
    max_value: float = 255.0,
    motion_threshold: float | None = None,
) -> np.ndarray:
    r"""Time-intensity curve of a ROI: one intensity per frame.

    .. math:: I_k = \operatorname{stat}_{x \in \text{ROI}}\, L(F_k(x)),

    with :math:`L` the identity or, with ``linearize="log"``, the inverse log
    compression of :func:`linearize_intensity`, applied per pixel before the
    ROI mean (or median). Frames whose :func:`frame_correlation` falls below
    `motion_threshold` are set to NaN, which :func:`fit_bolus` skips.

    Parameters
    ----------
    frames : array_like of shape (n_frames, rows, columns)
        The cine (grey levels).
    mask : array_like of shape (rows, columns)
        The ROI, drawn once for the whole loop (nonzero = inside).
    statistic : {"mean", "median"}, default="mean"
        The ROI statistic. VueBox uses the mean of the linearised signal.
    linearize : {None, "log"}, default=None
        ``None`` uses the grey levels as they are; ``"log"`` linearises
        log-compressed video (see Notes).
    dynamic_range_db : float, default=60.0
        Display dynamic range for ``linearize="log"``.
    max_value : float, default=255.0
        Grey level at the top of the display range for ``linearize="log"``.
    motion_threshold : float, optional
        Drop the frames whose correlation with the loop's median frame around
        the ROI is below this value (e.g. 0.5); by default no frame is dropped.

    Returns
    -------
    ndarray of shape (n_frames,)
        The curve, NaN for dropped frames (and for frames with NaN pixels in
        the ROI).

    Raises
    ------
    ValueError
        If `frames` is not 3-D, `mask` is empty or not of a frame's shape,
        `statistic` or `linearize` is unknown, or a pixel exceeds `max_value`
        with ``linearize="log"``.

    See Also
    --------
    fit_bolus : Fit a bolus model to the curve.

    Notes
    -----
    **Linearisation is off by default.** Bolus models describe the
    microbubble concentration, which is proportional to the echo power, not
    to its logarithm, so VueBox linearises the video. But the compression
    law and dynamic range belong to the scanner preset, are not stored in the
    DICOM header, and may already have been undone (linear research data,
    exported echo-power curves); a wrong guess silently biases every
    amplitude and timing parameter. State them when you know them:
    ``linearize="log", dynamic_range_db=...``. The synthetic cohort of
    :func:`ceusradiomics.datasets.make_ceus_cohort` is compressed over 60 dB.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.perfusion import time_intensity_curve
    >>> frames = np.stack([np.full((4, 4), v, dtype=np.uint8) for v in (0, 170, 255)])
    >>> mask = np.ones((4, 4), dtype=bool)
    >>> time_intensity_curve(frames, mask)
    array([  0., 170., 255.])
    >>> time_intensity_curve(frames, mask, linearize="log", dynamic_range_db=30.0)
    array([0.001, 0.1  , 1.   ])
    """
    frames = _check_frames(frames)
    mask = _check_mask(mask, frames)
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be 'mean' or 'median'; got {statistic!r}")
    if linearize not in (None, "log"):
        raise ValueError(f"linearize must be None or 'log'; got {linearize!r}")
    if linearize == "log":
        dynamic_range_db = _check_positive("dynamic_range_db", dynamic_range_db)
        max_value = _check_positive("max_value", max_value)
    reduce = np.mean if statistic == "mean" else np.median
    # 8- and 16-bit video: a lookup table of the 256 (65536) grey levels is
    # much cheaper than a power per pixel, and gives the same numbers.
    table = None
    if linearize == "log" and frames.dtype.kind == "u" and frames.dtype.itemsize <= 2:
        levels = np.arange(np.iinfo(frames.dtype).max + 1, dtype=np.float64)
        table = np.power(10.0, (dynamic_range_db / 10.0) * (levels / max_value - 1.0))
    curve = np.empty(len(frames))
    for start in range(0, len(frames), _CHUNK):
        pixels = frames[start : start + _CHUNK][:, mask]
        if table is not None:
            if pixels.size and pixels.max() > max_value:
                linearize_intensity(pixels, max_value=max_value)  # raises
            pixels = table[pixels]
        elif linearize == "log":
            pixels = linearize_intensity(
                pixels, dynamic_range_db=dynamic_range_db, max_value=max_value
            )
        curve[start : start + _CHUNK] = reduce(pixels.astype(np.float64), axis=1)
    if motion_threshold is not None:
        if isinstance(motion_threshold, (bool, np.bool_)) or not isinstance(
            motion_threshold, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                f"motion_threshold must be a float in [-1, 1] or None; got "
                f"{motion_threshold!r}"
            )
        if not -1.0 <= motion_threshold <= 1.0:
            raise ValueError(
                f"motion_threshold must be in [-1, 1]; got {motion_threshold}"
            )
        correlation = frame_correlation(frames, mask)
        with np.errstate(invalid="ignore"):
            curve[correlation < motion_threshold] = np.nan
    return curve
