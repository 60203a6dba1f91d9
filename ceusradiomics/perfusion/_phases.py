"""Liver phases: EFSUMB windows, LI-RADS wash-out onset, AP and PP frame choice."""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
from scipy import ndimage, optimize

from ceusradiomics.perfusion._curves import _check_frames, time_intensity_curve
from ceusradiomics.perfusion._fit import BolusFit, _check_curve
from ceusradiomics.perfusion._parameters import perfusion_parameters

#: EFSUMB/WFUMB liver phase windows, in seconds after the injection
#: (start inclusive, end exclusive). The guideline gives overlapping ranges
#: (arterial 10-20 s to 30-45 s, portal venous 30-45 s to 120 s, late after
#: 120 s until the bubbles disappear); these are the usual cut points.
LIVER_PHASE_WINDOWS = types.MappingProxyType(
    {"arterial": (10.0, 45.0), "portal": (45.0, 120.0), "late": (120.0, math.inf)}
)


def _check_windows(windows: Any) -> dict[str, tuple[float, float]]:
    if windows is None:
        return dict(LIVER_PHASE_WINDOWS)
    if not isinstance(windows, Mapping) or not windows:
        raise TypeError(
            "windows must be a non-empty mapping of phase name to (start, end) "
            f"seconds; got {windows!r}"
        )
    out = {}
    for name, window in windows.items():
        try:
            start, end = (float(v) for v in window)
        except (TypeError, ValueError):
            raise ValueError(
                f"window {name!r} must be a (start, end) pair of seconds; got "
                f"{window!r}"
            ) from None
        if not start < end:
            raise ValueError(
                f"window {name!r} must have start < end; got ({start:g}, {end:g})"
            )
        out[name] = (start, end)
    return out


def liver_phase(
    times: np.ndarray, windows: Mapping[str, tuple[float, float]] | None = None
) -> np.ndarray:
    """Label each time with its EFSUMB liver phase.

    Parameters
    ----------
    times : array_like
        Seconds after the injection of the contrast agent.
    windows : mapping of str to (start, end), optional
        Phase windows in seconds, start inclusive and end exclusive; by
        default :data:`LIVER_PHASE_WINDOWS` (arterial 10-45 s, portal 45-120
        s, late from 120 s). The first window that holds a time wins.

    Returns
    -------
    ndarray of str
        The phase name of each time, ``""`` outside every window (e.g. before
        the arterial phase).

    References
    ----------
    .. [1] C. F. Dietrich et al., "Guidelines and good clinical practice
       recommendations for contrast-enhanced ultrasound (CEUS) in the liver -
       update 2020," Ultraschall Med., vol. 41, no. 5, pp. 562-585, 2020.
       :doi:`10.1055/a-1177-0530`

    Examples
    --------
    >>> from ceusradiomics.perfusion import liver_phase
    >>> liver_phase([5.0, 20.0, 60.0, 200.0]).tolist()
    ['', 'arterial', 'portal', 'late']
    """
    windows = _check_windows(windows)
    times = np.asarray(times, dtype=np.float64)
    width = max(len(name) for name in windows)
    labels = np.full(times.shape, "", dtype=f"<U{width}")
    unset = np.ones(times.shape, dtype=bool)
    for name, (start, end) in windows.items():
        hit = unset & (times >= start) & (times < end)
        labels[hit] = name
        unset &= ~hit
    return labels


def washout_onset(
    lesion: BolusFit, reference: BolusFit, *, t_max: float | None = None
) -> float:
    r"""Time at which the lesion becomes hypo-enhanced to the liver (LI-RADS).

    CEUS LI-RADS calls *wash-out* a reduction of a lesion's enhancement below
    that of the surrounding liver after its arterial phase, and separates
    early (< 60 s after injection, a feature of non-HCC malignancy, LR-M)
    from late (>= 60 s, with APHE typical of HCC, LR-5) wash-out [1]_. From
    the fitted curves of the lesion :math:`f_L` and of a liver reference ROI
    :math:`f_R` (same cine, same gain), the onset is

    .. math:: t_{wo} = \min\,\{t \ge TTP_L : f_L(t) < f_R(t)\},

    found on a 0.1 s grid and refined by root finding. A lesion that is
    already darker than the liver at its own peak gets its TTP.

    Parameters
    ----------
    lesion, reference : BolusFit
        Fits of the lesion ROI and of the liver reference ROI.
    t_max : float, optional
        Search up to this time (s); by default the last recorded sample of
        the lesion fit (``lesion.t_last``), so no wash-out is extrapolated.

    Returns
    -------
    float
        The onset in seconds after injection, NaN when the lesion does not
        wash out before `t_max`.

    References
    ----------
    .. [1] Y. Kono et al., "Contrast enhanced ultrasound (CEUS) liver imaging
       reporting and data system (LI-RADS): the official version by the
       American College of Radiology (ACR)," Ultraschall Med., vol. 38,
       no. 1, pp. 85-86, 2017. :doi:`10.1055/s-0042-124369`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.perfusion import BolusFit, washout_onset
    >>> lesion = BolusFit("lognormal", {"offset": 0.0, "auc": 300.0,
    ...                   "mu": np.log(10.0), "sigma": 0.5, "t0": 12.0})
    >>> liver = BolusFit("lognormal", {"offset": 0.0, "auc": 300.0,
    ...                  "mu": np.log(40.0), "sigma": 0.8, "t0": 16.0})
    >>> round(washout_onset(lesion, liver, t_max=180.0), 2)
    31.73
    """
    for name, fit in (("lesion", lesion), ("reference", reference)):
        if not isinstance(fit, BolusFit):
            raise TypeError(f"{name} must be a BolusFit; got {type(fit).__name__}")
    if t_max is None:
        t_max = lesion.t_last
    if not np.isfinite(t_max):
        raise ValueError(
            f"t_max must be finite; pass t_max= for a fit built by hand (got {t_max!r})"
        )
    ttp = perfusion_parameters(lesion)["TTP"]
    if ttp >= t_max:
        return math.nan

    def difference(t):
        return lesion(t) - reference(t)

    grid = np.append(np.arange(ttp, t_max, 0.1), t_max)
    below = np.flatnonzero(difference(grid) < 0)
    if below.size == 0:
        return math.nan
    k = int(below[0])
    if k == 0:
        return float(ttp)
    return float(optimize.brentq(lambda x: float(difference(x)), grid[k - 1], grid[k]))


class PhaseFrames(NamedTuple):
    """The representative arterial and portal-venous frames of a cine loop."""

    ap_index: int
    pp_index: int
    ap_time: float
    pp_time: float
    ap_image: np.ndarray
    pp_image: np.ndarray


def _window_frames(times, valid, window, name):
    start, end = window
    inside = np.flatnonzero(valid & (times >= start) & (times < end))
    if inside.size == 0:
        raise ValueError(
            f"no usable frame in the {name} window [{start:g}, {end:g}) s; the "
            f"loop covers {times[0]:g}-{times[-1]:g} s after injection (are the "
            "times counted from the injection?)"
        )
    return inside


def select_phase_frames(
    frames: np.ndarray,
    times: np.ndarray,
    mask: np.ndarray,
    *,
    arterial_window: tuple[float, float] = LIVER_PHASE_WINDOWS["arterial"],
    portal_window: tuple[float, float] = LIVER_PHASE_WINDOWS["portal"],
    portal_time: float | None = None,
    linearize: str | None = None,
    dynamic_range_db: float = 60.0,
    max_value: float = 255.0,
    motion_threshold: float | None = None,
) -> PhaseFrames:
    """Pick one arterial-phase and one portal-phase frame of a cine loop.

    So that the static pipeline (one image per phase, as in the study) can run
    on cine input, the rule is:

    - **AP**: the frame of peak ROI enhancement within `arterial_window`, i.e.
      the maximum of the time-intensity curve after a centred running median
      over 3 usable frames (one noisy or flashing frame cannot win);
    - **PP**: the usable frame closest to `portal_time`, by default the middle
      of `portal_window` (82.5 s with the EFSUMB windows).

    Frames dropped by `motion_threshold` are never picked.

    Parameters
    ----------
    frames : array_like of shape (n_frames, rows, columns)
        The cine.
    times : array_like of shape (n_frames,)
        Seconds after the injection, strictly increasing.
    mask : array_like of shape (rows, columns)
        The lesion ROI.
    arterial_window, portal_window : (float, float)
        Phase windows in seconds (start inclusive, end exclusive); EFSUMB
        defaults, see :data:`LIVER_PHASE_WINDOWS`.
    portal_time : float, optional
        The wanted portal-phase time in seconds; must lie in `portal_window`.
    linearize, dynamic_range_db, max_value, motion_threshold
        As in :func:`time_intensity_curve`.

    Returns
    -------
    PhaseFrames
        ``ap_index``, ``pp_index``, their times and the two frames (views of
        `frames`).

    Raises
    ------
    ValueError
        If a window holds no usable frame (the message gives the loop's time
        range), or as :func:`time_intensity_curve`.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.perfusion import lognormal_bolus, select_phase_frames
    >>> times = np.arange(0.0, 150.0, 1.0)
    >>> level = 10 + lognormal_bolus(times, auc=2000.0, mu=np.log(12.0),
    ...                              sigma=0.5, t0=12.0)
    >>> frames = level[:, None, None] * np.ones((1, 4, 4))
    >>> chosen = select_phase_frames(frames, times, np.ones((4, 4)))
    >>> chosen.ap_index, chosen.pp_index
    (21, 82)
    """
    frames = _check_frames(frames)
    times, _ = _check_curve(times, np.zeros(np.shape(times)))
    if times.shape != (frames.shape[0],):
        raise ValueError(
            f"times must have one value per frame; got {times.shape[0]} times "
            f"for {frames.shape[0]} frames"
        )
    windows = _check_windows({"arterial": arterial_window, "portal": portal_window})
    if portal_time is None:
        portal_time = 0.5 * sum(windows["portal"])
    elif not windows["portal"][0] <= portal_time < windows["portal"][1]:
        raise ValueError(
            f"portal_time must lie in portal_window {windows['portal']}; got "
            f"{portal_time!r}"
        )
    curve = time_intensity_curve(
        frames,
        mask,
        linearize=linearize,
        dynamic_range_db=dynamic_range_db,
        max_value=max_value,
        motion_threshold=motion_threshold,
    )
    valid = np.isfinite(curve)
    smooth = np.full(curve.shape, -np.inf)
    usable = np.flatnonzero(valid)
    if usable.size:
        smooth[usable] = ndimage.median_filter(curve[usable], size=3, mode="nearest")
    arterial = _window_frames(times, valid, windows["arterial"], "arterial")
    ap = int(arterial[np.argmax(smooth[arterial])])
    portal = _window_frames(times, valid, windows["portal"], "portal")
    pp = int(portal[np.argmin(np.abs(times[portal] - portal_time))])
    return PhaseFrames(
        ap, pp, float(times[ap]), float(times[pp]), frames[ap], frames[pp]
    )
