r"""Perfusion quantification of contrast-enhanced ultrasound cine loops.

Pure functions from a cine loop (``frames`` of shape ``(n, rows, columns)``
and acquisition ``times`` in seconds after the injection) to the
time-intensity curve (TIC) of a region of interest, its bolus-model fit and
the perfusion parameters of Bracco's VueBox [1]_ (``PE``, ``TTP``, ``RT``,
``mTTI``, ``WiAUC``, ``WiR``, ``WiPI``, ``WoR``, ``WoAUC``, ``WiWoAUC``,
``FT``, ``QOF``), the EFSUMB liver phase windows [2]_, the CEUS LI-RADS
wash-out onset [3]_ and the choice of one arterial and one portal-venous
frame, so that the static (one frame per phase) pipeline runs on cine input.

The workflow for one ROI::

    intensity = time_intensity_curve(frames, mask, linearize="log")
    fit = fit_bolus(times, intensity, model="lognormal")
    parameters = perfusion_parameters(fit)

:class:`ceusradiomics.PerfusionExtractor` runs it over the records frame.
Only numpy and scipy are used here; the scikit-learn wrapper lives elsewhere.

References
----------
.. [1] Bracco Suisse SA, "VueBox quantification toolbox, instructions for
   use", bolus perfusion model and parameters (PE, WiAUC, RT, mTTI, TTP,
   WiR, WiPI, WoAUC, WiWoAUC, FT, WoR, QOF).
.. [2] C. F. Dietrich et al., "Guidelines and good clinical practice
   recommendations for contrast-enhanced ultrasound (CEUS) in the liver -
   update 2020 - WFUMB in cooperation with EFSUMB, AFSUMB, AIUM, and FLAUS,"
   Ultraschall Med., vol. 41, no. 5, pp. 562-585, 2020.
   :doi:`10.1055/a-1177-0530`
.. [3] Y. Kono et al., "Contrast enhanced ultrasound (CEUS) liver imaging
   reporting and data system (LI-RADS): the official version by the American
   College of Radiology (ACR)," Ultraschall Med., vol. 38, no. 1,
   pp. 85-86, 2017. :doi:`10.1055/s-0042-124369`
"""

from __future__ import annotations

import abc
import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np
from scipy import ndimage, optimize, special, stats

__all__ = [
    "BOLUS_MODELS",
    "LIVER_PHASE_WINDOWS",
    "PERFUSION_PARAMETERS",
    "BolusFit",
    "PhaseFrames",
    "fit_bolus",
    "frame_correlation",
    "gamma_variate",
    "ldrw_bolus",
    "linearize_intensity",
    "liver_phase",
    "lognormal_bolus",
    "perfusion_parameters",
    "select_phase_frames",
    "time_intensity_curve",
    "washout_onset",
]

#: The VueBox bolus parameters returned by :func:`perfusion_parameters`, in order.
PERFUSION_PARAMETERS = (
    "PE",
    "TTP",
    "RT",
    "mTTI",
    "WiAUC",
    "WiR",
    "WiPI",
    "WoR",
    "WoAUC",
    "WiWoAUC",
    "FT",
    "QOF",
)

#: EFSUMB/WFUMB liver phase windows, in seconds after the injection
#: (start inclusive, end exclusive). The guideline gives overlapping ranges
#: (arterial 10-20 s to 30-45 s, portal venous 30-45 s to 120 s, late after
#: 120 s until the bubbles disappear); these are the usual cut points.
LIVER_PHASE_WINDOWS = types.MappingProxyType(
    {"arterial": (10.0, 45.0), "portal": (45.0, 120.0), "late": (120.0, math.inf)}
)

# Frames of a cine are reduced ROI by ROI in chunks of this many frames, so
# that linearising a 1800-frame loop never holds all its ROI pixels in float64.
_CHUNK = 256
_STATISTICS = ("mean", "median")


class _DegenerateCurveError(ValueError):
    """A valid curve that holds no fittable bolus (flat, or peak not recorded).

    A ValueError for users of :func:`fit_bolus`; the extractor turns it into
    NaN features and a DegenerateROIWarning, since a non-enhancing lesion is a
    finding, not a mistake.
    """


# --------------------------------------------------------------------------
# Bolus models
# --------------------------------------------------------------------------


class _Model(abc.ABC):
    """A bolus shape g(tau) of unit area, tau = t - t0 > 0, and its calculus.

    Each model has two shape parameters (a, b); `grid` holds the values of
    the one that sets the skewness, tried by the start of :func:`fit_bolus`.
    """

    name: ClassVar[str]
    shape_names: ClassVar[tuple[str, str]]
    grid: ClassVar[np.ndarray]

    @abc.abstractmethod
    def logpdf(self, tau, a, b):
        """log g(tau)."""

    @abc.abstractmethod
    def grad(self, tau, a, b):
        """d log g / d(a, b, tau)."""

    @abc.abstractmethod
    def mode(self, a, b):
        """tau of the peak."""

    @abc.abstractmethod
    def mean(self, a, b):
        """Mean transit time after t0."""

    @abc.abstractmethod
    def cdf(self, tau, a, b):
        """Integral of g from 0 to tau."""

    @abc.abstractmethod
    def quantile(self, q, a, b):
        """tau where the cdf reaches q."""

    @abc.abstractmethod
    def from_mode(self, shape, m):
        """(a, b) arrays of the grid candidates with skewness `shape`, mode `m`."""

    @abc.abstractmethod
    def bounds(self, span):
        """((a_lo, a_hi), (b_lo, b_hi)) for a recording `span` seconds long."""


class _Lognormal(_Model):
    name = "lognormal"
    shape_names = ("mu", "sigma")
    grid = np.geomspace(0.12, 1.6, 10)  # sigma

    def logpdf(self, tau, mu, sigma):
        z = (np.log(tau) - mu) / sigma
        return -0.5 * z * z - np.log(sigma * tau) - 0.5 * np.log(2.0 * np.pi)

    def grad(self, tau, mu, sigma):
        z = (np.log(tau) - mu) / sigma
        return z / sigma, (z * z - 1.0) / sigma, -(z / sigma + 1.0) / tau

    def mode(self, mu, sigma):
        return np.exp(mu - sigma**2)

    def mean(self, mu, sigma):
        return np.exp(mu + 0.5 * sigma**2)

    def cdf(self, tau, mu, sigma):
        tau = np.asarray(tau, dtype=float)
        with np.errstate(divide="ignore"):
            z = (np.log(np.maximum(tau, 0.0)) - mu) / sigma
        return special.ndtr(z)

    def quantile(self, q, mu, sigma):
        return np.exp(mu + sigma * special.ndtri(q))

    def from_mode(self, sigma, m):
        return np.log(m) + sigma**2, sigma

    def bounds(self, span):
        return (math.log(1e-3 * span), math.log(20.0 * span)), (0.05, 3.0)


class _Gamma(_Model):
    name = "gamma"
    shape_names = ("alpha", "beta")
    grid = np.geomspace(1.2, 40.0, 10)  # alpha

    def logpdf(self, tau, alpha, beta):
        return (
            alpha * np.log(tau)
            - tau / beta
            - special.gammaln(alpha + 1.0)
            - (alpha + 1.0) * np.log(beta)
        )

    def grad(self, tau, alpha, beta):
        return (
            np.log(tau) - special.digamma(alpha + 1.0) - np.log(beta),
            tau / beta**2 - (alpha + 1.0) / beta,
            alpha / tau - 1.0 / beta,
        )

    def mode(self, alpha, beta):
        return alpha * beta

    def mean(self, alpha, beta):
        return (alpha + 1.0) * beta

    def cdf(self, tau, alpha, beta):
        return special.gammainc(alpha + 1.0, np.maximum(tau, 0.0) / beta)

    def quantile(self, q, alpha, beta):
        return special.gammaincinv(alpha + 1.0, q) * beta

    def from_mode(self, alpha, m):
        return alpha, m / alpha

    def bounds(self, span):
        # alpha >= 1 keeps the wash-in slope finite at t0.
        return (1.0, 500.0), (1e-4 * span, 20.0 * span)


class _LDRW(_Model):
    name = "ldrw"
    shape_names = ("mu", "lam")
    grid = np.geomspace(0.3, 60.0, 10)  # lam

    def logpdf(self, tau, mu, lam):
        return 0.5 * np.log(lam / (2.0 * np.pi * mu * tau)) - lam * (tau - mu) ** 2 / (
            2.0 * mu * tau
        )

    def grad(self, tau, mu, lam):
        return (
            -0.5 / mu + lam * (0.5 * tau / mu**2 - 0.5 / tau),
            0.5 / lam - (tau - mu) ** 2 / (2.0 * mu * tau),
            -0.5 / tau - lam * (0.5 / mu - 0.5 * mu / tau**2),
        )

    @staticmethod
    def _mode_factor(lam):
        # Root of lam tau^2 + mu tau - lam mu^2 = 0, divided by mu.
        return (np.sqrt(1.0 + 4.0 * lam**2) - 1.0) / (2.0 * lam)

    def mode(self, mu, lam):
        return mu * self._mode_factor(lam)

    def mean(self, mu, lam):
        return mu * (1.0 + 1.0 / lam)

    def cdf(self, tau, mu, lam):
        # 1/tau follows an inverse Gaussian of mean 1/mu and shape lam/mu
        # (the LDRW density is the generalised inverse Gaussian with p = 1/2).
        tau = np.asarray(tau, dtype=float)
        out = np.zeros(tau.shape)
        pos = tau > 0
        out[pos] = stats.invgauss.sf(1.0 / tau[pos], 1.0 / lam, scale=lam / mu)
        return out

    def quantile(self, q, mu, lam):
        return 1.0 / stats.invgauss.ppf(1.0 - q, 1.0 / lam, scale=lam / mu)

    def from_mode(self, lam, m):
        return m / self._mode_factor(lam), lam

    def bounds(self, span):
        return (1e-3 * span, 20.0 * span), (0.05, 500.0)


_MODELS: dict[str, _Model] = {m.name: m for m in (_Lognormal(), _Gamma(), _LDRW())}
#: The bolus models :func:`fit_bolus` knows, with their shape parameters.
BOLUS_MODELS = types.MappingProxyType(
    {name: ("offset", "auc", *m.shape_names, "t0") for name, m in _MODELS.items()}
)


def _check_model(model: Any) -> _Model:
    if not isinstance(model, str) or model not in _MODELS:
        raise ValueError(f"model must be one of {sorted(_MODELS)}; got {model!r}")
    return _MODELS[model]


def _evaluate(model: _Model, t, offset, auc, a, b, t0) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    tau = t - t0
    out = np.full(t.shape, float(offset))
    pos = tau > 0
    if auc != 0 and np.any(pos):
        with np.errstate(under="ignore"):
            out[pos] += auc * np.exp(model.logpdf(tau[pos], a, b))
    return out


def lognormal_bolus(
    t: np.ndarray,
    *,
    offset: float = 0.0,
    auc: float = 1.0,
    mu: float,
    sigma: float,
    t0: float = 0.0,
) -> np.ndarray:
    r"""Evaluate the lognormal bolus model (VueBox's default bolus model).

    .. math::

        f(t) = O + \frac{A}{\sqrt{2\pi}\,\sigma\,(t - t_0)}
        \exp\left(-\frac{(\ln(t - t_0) - \mu)^2}{2\sigma^2}\right),
        \quad t > t_0,

    and :math:`f(t) = O` for :math:`t \le t_0`. :math:`A` is the area under
    the bolus (above the offset :math:`O`); the peak lies at
    :math:`t_0 + e^{\mu - \sigma^2}` and the mean transit time after
    :math:`t_0` is :math:`e^{\mu + \sigma^2/2}`.

    Parameters
    ----------
    t : array_like
        Times in seconds.
    offset : float, default=0.0
        Baseline :math:`O` (pre-contrast intensity).
    auc : float, default=1.0
        Area :math:`A` under the bolus above the baseline.
    mu, sigma : float
        Mean and standard deviation of :math:`\ln(t - t_0)`; ``sigma > 0``.
    t0 : float, default=0.0
        Arrival time :math:`t_0` in seconds.

    Returns
    -------
    ndarray
        :math:`f(t)`, same shape as `t`.

    References
    ----------
    .. [1] M.-X. Tang et al., "Quantitative contrast-enhanced ultrasound
       imaging: a review of sources of variability," Interface Focus, vol. 1,
       no. 4, pp. 520-539, 2011. :doi:`10.1098/rsfs.2011.0026`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.perfusion import lognormal_bolus
    >>> np.round(lognormal_bolus([5.0, 20.0], mu=np.log(10.0), sigma=0.5, t0=5.0), 4)
    array([0.    , 0.0383])
    """
    return _evaluate(_MODELS["lognormal"], t, offset, auc, mu, sigma, t0)


def gamma_variate(
    t: np.ndarray,
    *,
    offset: float = 0.0,
    auc: float = 1.0,
    alpha: float,
    beta: float,
    t0: float = 0.0,
) -> np.ndarray:
    r"""Evaluate the gamma-variate bolus model.

    .. math::

        f(t) = O + \frac{A\,(t - t_0)^{\alpha}\, e^{-(t - t_0)/\beta}}
        {\Gamma(\alpha + 1)\,\beta^{\alpha + 1}}, \quad t > t_0,

    and :math:`f(t) = O` for :math:`t \le t_0` (Thompson's gamma variate
    with its amplitude written as the area :math:`A`). The peak lies at
    :math:`t_0 + \alpha\beta`, the mean transit time after :math:`t_0` is
    :math:`(\alpha + 1)\beta`.

    Parameters
    ----------
    t : array_like
        Times in seconds.
    offset : float, default=0.0
        Baseline :math:`O`.
    auc : float, default=1.0
        Area :math:`A` under the bolus above the baseline.
    alpha : float
        Shape, ``alpha >= 1`` when fitted (finite wash-in slope).
    beta : float
        Time scale in seconds, ``beta > 0``.
    t0 : float, default=0.0
        Arrival time in seconds.

    Returns
    -------
    ndarray
        :math:`f(t)`, same shape as `t`.

    References
    ----------
    .. [1] H. K. Thompson et al., "Indicator transit time considered as a
       gamma variate," Circ. Res., vol. 14, pp. 502-515, 1964.
       :doi:`10.1161/01.RES.14.6.502`

    Examples
    --------
    >>> from ceusradiomics.perfusion import gamma_variate
    >>> float(gamma_variate(6.0, alpha=2.0, beta=2.0, t0=2.0).round(4))
    0.1353
    """
    return _evaluate(_MODELS["gamma"], t, offset, auc, alpha, beta, t0)


def ldrw_bolus(
    t: np.ndarray,
    *,
    offset: float = 0.0,
    auc: float = 1.0,
    mu: float,
    lam: float,
    t0: float = 0.0,
) -> np.ndarray:
    r"""Evaluate the local density random walk (LDRW) bolus model.

    .. math::

        f(t) = O + A\, e^{\lambda} \sqrt{\frac{\lambda}{2\pi\mu\,(t - t_0)}}
        \exp\left(-\frac{\lambda}{2}\left(\frac{\mu}{t - t_0}
        + \frac{t - t_0}{\mu}\right)\right), \quad t > t_0,

    and :math:`f(t) = O` for :math:`t \le t_0`: the indicator-dilution curve
    of a convective-diffusive transport [1]_. The bolus has area :math:`A`,
    its mean transit time after :math:`t_0` is :math:`\mu(1 + 1/\lambda)` and
    its peak lies at :math:`t_0 + \mu(\sqrt{1 + 4\lambda^2} - 1)/(2\lambda)`.

    Parameters
    ----------
    t : array_like
        Times in seconds.
    offset : float, default=0.0
        Baseline :math:`O`.
    auc : float, default=1.0
        Area :math:`A` under the bolus above the baseline.
    mu : float
        Time scale in seconds, ``mu > 0``.
    lam : float
        Skewness parameter :math:`\lambda > 0` (small = skewed).
    t0 : float, default=0.0
        Arrival time in seconds.

    Returns
    -------
    ndarray
        :math:`f(t)`, same shape as `t`.

    References
    ----------
    .. [1] C. Strouthos et al., "Indicator dilution models for the
       quantification of microvascular blood flow with bolus administration
       of ultrasound contrast agents," IEEE Trans. Ultrason. Ferroelectr.
       Freq. Control, vol. 57, no. 6, pp. 1296-1310, 2010.
       :doi:`10.1109/TUFFC.2010.1550`

    Examples
    --------
    >>> from ceusradiomics.perfusion import ldrw_bolus
    >>> float(ldrw_bolus(12.0, mu=10.0, lam=2.0, t0=2.0).round(4))
    0.0564
    """
    return _evaluate(_MODELS["ldrw"], t, offset, auc, mu, lam, t0)


# --------------------------------------------------------------------------
# Time-intensity curve
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BolusFit:
    """A bolus model fitted to a time-intensity curve.

    Call it on times to evaluate the fitted curve. Built by
    :func:`fit_bolus`; build one by hand to compute the parameters of a known
    curve.

    Attributes
    ----------
    model : str
        ``"lognormal"``, ``"gamma"`` or ``"ldrw"``.
    params : dict of str to float
        ``offset`` (baseline), ``auc`` (area under the bolus above it), the
        two shape parameters of the model (``mu``/``sigma``,
        ``alpha``/``beta`` or ``mu``/``lam``) and ``t0`` (arrival time, s).
    qof : float
        Quality of fit in percent, :math:`100\\,(1 - SS_{res}/SS_{tot})`,
        clipped to [0, 100].
    n_samples : int
        Samples the fit used (NaN samples excluded).
    t_first, t_last : float
        The time range of those samples.

    Examples
    --------
    >>> from ceusradiomics.perfusion import BolusFit
    >>> fit = BolusFit("gamma", {"offset": 1.0, "auc": 10.0, "alpha": 2.0,
    ...                          "beta": 3.0, "t0": 5.0})
    >>> float(fit(11.0).round(4))
    1.9022
    """

    model: str
    params: dict[str, float]
    qof: float = 100.0
    n_samples: int = 0
    t_first: float = -math.inf
    t_last: float = math.inf
    _spec: _Model = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        spec = _check_model(self.model)
        expected = BOLUS_MODELS[self.model]
        if not isinstance(self.params, Mapping) or set(self.params) != set(expected):
            got = (
                sorted(self.params) if isinstance(self.params, Mapping) else self.params
            )
            raise ValueError(
                f"params of a {self.model} fit must have the keys {list(expected)}; "
                f"got {got}"
            )
        object.__setattr__(self, "params", {k: float(self.params[k]) for k in expected})
        object.__setattr__(self, "_spec", spec)

    def _shape(self) -> tuple[float, float]:
        a, b = self._spec.shape_names
        return self.params[a], self.params[b]

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Evaluate the fitted curve (offset included) at times `t`."""
        p = self.params
        return _evaluate(self._spec, t, p["offset"], p["auc"], *self._shape(), p["t0"])


def _check_curve(times: Any, intensity: Any) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(times, dtype=np.float64)
    intensity = np.asarray(intensity, dtype=np.float64)
    if times.ndim != 1:
        raise ValueError(f"times must be 1-D; got shape {times.shape}")
    if intensity.shape != times.shape:
        raise ValueError(
            "intensity must have one value per time; got times "
            f"{times.shape} and intensity {intensity.shape}"
        )
    if not np.all(np.isfinite(times)):
        raise ValueError("times must be finite")
    steps = np.diff(times)
    if np.any(steps <= 0):
        k = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(
            f"times must be strictly increasing; got {times[k]:g} then "
            f"{times[k + 1]:g} at index {k + 1}"
        )
    if np.any(np.isinf(intensity)):
        raise ValueError("intensity must be finite or NaN (dropped frames)")
    return times, intensity


def _smoothed(y: np.ndarray) -> np.ndarray:
    """Centred moving average over ~5% of the samples (at least 3)."""
    w = max(3, (len(y) // 20) | 1)
    kernel = np.ones(w)
    return np.convolve(y, kernel, mode="same") / np.convolve(
        np.ones_like(y), kernel, mode="same"
    )


def _valid_samples(
    times: np.ndarray, intensity: np.ndarray, spec: _Model
) -> tuple[np.ndarray, np.ndarray, int]:
    """The finite samples, after the too-short/flat/no-peak checks."""
    keep = np.isfinite(intensity)
    t, y = times[keep], intensity[keep]
    n_params = 2 + len(spec.shape_names) + 1
    needed = 3 * n_params
    if len(y) < needed:
        raise ValueError(
            f"the time-intensity curve has {len(y)} valid sample(s); fitting the "
            f"{n_params}-parameter {spec.name} model needs at least {needed} "
            "(3 per parameter). Record a longer loop, use a higher frame rate or "
            "drop fewer frames."
        )
    spread = float(np.ptp(y))
    if spread <= 1e-12 * max(float(np.max(np.abs(y))), np.finfo(float).tiny):
        raise _DegenerateCurveError(
            f"the time-intensity curve is flat (every valid sample is {y[0]:g}): "
            "there is no contrast bolus to fit"
        )
    peak = int(np.argmax(_smoothed(y)))
    if peak == len(y) - 1:
        raise _DegenerateCurveError(
            f"the time-intensity curve still rises at its last sample (t = "
            f"{t[-1]:g} s): the peak was not recorded, so the loop is too short "
            "to fit a bolus"
        )
    if peak == 0:
        raise _DegenerateCurveError(
            f"the time-intensity curve peaks at its first sample (t = {t[0]:g} s): "
            "the wash-in was not recorded"
        )
    return t, y, peak


def _initial_guess(spec: _Model, t, y, peak, bounds):
    """Best (offset, auc, a, b, t0) over a grid of shapes and arrival times.

    For each candidate shape and arrival time the model is linear in the
    offset and the area, which are solved for exactly (variable projection);
    the candidate with the least squared error seeds the non-linear fit.
    """
    stride = max(1, len(t) // 400)  # a coarse grid needs no more samples
    ts, ys = t[::stride], y[::stride]
    t_peak = t[peak]
    rise = t_peak - t[0]
    m = rise * np.geomspace(0.05, 1.5, 12)  # time from arrival to peak
    shape = np.repeat(spec.grid, m.size)
    m = np.tile(m, spec.grid.size)
    a, b = spec.from_mode(shape, m)
    (a_lo, a_hi), (b_lo, b_hi) = bounds
    a = np.clip(a, a_lo, a_hi)
    b = np.clip(b, b_lo, b_hi)
    t0 = t_peak - m
    tau = ts[None, :] - t0[:, None]
    g = np.zeros(tau.shape)
    pos = tau > 0
    rows = np.nonzero(pos)[0]
    with np.errstate(under="ignore", over="ignore", divide="ignore"):
        g[pos] = np.exp(spec.logpdf(tau[pos], a[rows], b[rows]))
    n = ys.size
    sg, sgg, sgy = g.sum(1), (g * g).sum(1), g @ ys
    sy, syy = ys.sum(), ys @ ys
    det = n * sgg - sg * sg
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (n * sgy - sg * sy) / det
        offset = (sy - auc * sg) / n
        sse = syy - offset * sy - auc * sgy
    sse[~np.isfinite(sse) | (auc <= 0) | (det <= 0)] = np.inf
    k = int(np.argmin(sse))
    if not np.isfinite(sse[k]):  # no candidate fits a positive bolus
        return np.array([np.min(y), np.ptp(y) * rise, a[0], b[0], t_peak - 0.5 * rise])
    return np.array([offset[k], auc[k], a[k], b[k], t0[k]])


def fit_bolus(
    times: np.ndarray,
    intensity: np.ndarray,
    *,
    model: str = "lognormal",
) -> BolusFit:
    r"""Fit a bolus model to a time-intensity curve by bounded least squares.

    The model :math:`f(t) = O + A\,g(t - t_0)` (offset, area under the
    bolus, arrival time and the two shape parameters of `model`, see
    :func:`lognormal_bolus`, :func:`gamma_variate` and :func:`ldrw_bolus`)
    minimises :math:`\sum_k (f(t_k) - I_k)^2` over the finite samples, with
    :func:`scipy.optimize.least_squares` (trust-region reflective, analytic
    Jacobian, bounds keeping the shape physical and the area non-negative).
    It starts from the best point of a grid of shapes and arrival times,
    on which the offset and the area are solved exactly (variable
    projection), so no starting values are needed.

    Parameters
    ----------
    times : array_like of shape (n,)
        Acquisition times in seconds, strictly increasing.
    intensity : array_like of shape (n,)
        The curve; NaN marks dropped frames, which are skipped.
    model : {"lognormal", "gamma", "ldrw"}, default="lognormal"
        The bolus model: lognormal (VueBox's default), gamma variate or
        local density random walk.

    Returns
    -------
    BolusFit
        The fitted model, with its quality of fit (QOF).

    Raises
    ------
    ValueError
        If the arrays do not match or `times` is not strictly increasing, the
        curve has fewer than 3 valid samples per parameter (too short), is
        flat, or its smoothed maximum lies at the first or last valid sample
        (wash-in or peak not recorded).

    See Also
    --------
    perfusion_parameters : The VueBox parameters of the fit.

    Notes
    -----
    The quality of fit is the coefficient of determination in percent,

    .. math:: \mathrm{QOF} = 100\,\max\left(0,\ 1 - \frac{\sum_k (I_k -
       f(t_k))^2}{\sum_k (I_k - \bar I)^2}\right),

    100 % for a perfect fit, as VueBox's QOF (whose exact formula Bracco
    does not publish).

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.perfusion import fit_bolus, lognormal_bolus
    >>> t = np.arange(0.0, 120.0, 0.5)
    >>> curve = lognormal_bolus(t, offset=2.0, auc=300.0, mu=np.log(15.0),
    ...                         sigma=0.6, t0=10.0)
    >>> fit = fit_bolus(t, curve)
    >>> {k: round(v, 3) for k, v in fit.params.items()}
    {'offset': 2.0, 'auc': 300.0, 'mu': 2.708, 'sigma': 0.6, 't0': 10.0}
    >>> round(fit.qof, 1)
    100.0
    """
    spec = _check_model(model)
    times, intensity = _check_curve(times, intensity)
    t, y, peak = _valid_samples(times, intensity, spec)
    span = float(t[-1] - t[0])
    shape_bounds = spec.bounds(span)
    lower = np.array(
        [-np.inf, 0.0, shape_bounds[0][0], shape_bounds[1][0], t[0] - span]
    )
    upper = np.array(
        [np.inf, np.inf, shape_bounds[0][1], shape_bounds[1][1], float(t[peak])]
    )
    x0 = _initial_guess(spec, t, y, peak, shape_bounds)
    # Strictly inside the bounds, as the trust-region reflective method needs.
    width = upper - lower
    inset = np.where(np.isfinite(width), 1e-9 * width, 0.0)
    x0 = np.clip(x0, lower + inset, upper - inset)
    x0[1] = max(x0[1], 1e-12 * max(np.ptp(y), 1e-300) * span)

    def residuals(x):
        return _evaluate(spec, t, *x) - y

    def jacobian(x):
        _, auc, a, b, t0 = x
        jac = np.zeros((t.size, 5))
        jac[:, 0] = 1.0
        tau = t - t0
        pos = tau > 0
        if np.any(pos):
            with np.errstate(under="ignore"):
                g = np.exp(spec.logpdf(tau[pos], a, b))
            da, db, dtau = spec.grad(tau[pos], a, b)
            jac[pos, 1] = g
            jac[pos, 2] = auc * g * da
            jac[pos, 3] = auc * g * db
            jac[pos, 4] = -auc * g * dtau
        return jac

    result = optimize.least_squares(
        residuals,
        x0,
        jac=jacobian,
        bounds=(lower, upper),
        method="trf",
        x_scale="jac",
        ftol=1e-12,
        xtol=1e-12,
        gtol=1e-12,
        max_nfev=400,
    )
    ss_res = float(result.fun @ result.fun)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    qof = 100.0 * max(0.0, 1.0 - ss_res / ss_tot)
    names = BOLUS_MODELS[spec.name]
    return BolusFit(
        spec.name,
        dict(zip(names, map(float, result.x), strict=True)),
        qof=qof,
        n_samples=int(t.size),
        t_first=float(t[0]),
        t_last=float(t[-1]),
    )


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------


def _slope_extremum(spec: _Model, a: float, b: float, lo: float, hi: float, sign):
    """tau in [lo, hi] where sign * g'(tau) is largest, and g, g' there."""
    grid = np.geomspace(lo, hi, 2048)

    def slope(tau):
        tau = np.asarray(tau, dtype=float)
        with np.errstate(under="ignore"):
            g = np.exp(spec.logpdf(tau, a, b))
        return g * spec.grad(tau, a, b)[2]

    values = sign * slope(grid)
    k = int(np.argmax(values))
    left, right = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    if right > left:
        res = optimize.minimize_scalar(
            lambda x: -sign * float(slope(x)),
            bounds=(left, right),
            method="bounded",
            options={"xatol": 1e-10 * right},
        )
        tau = float(res.x) if -res.fun >= values[k] else float(grid[k])
    else:
        tau = float(grid[k])
    with np.errstate(under="ignore"):
        g = float(np.exp(spec.logpdf(tau, a, b)))
    return tau, g, float(slope(tau))


def perfusion_parameters(fit: BolusFit) -> dict[str, float]:
    r"""The VueBox bolus parameters of a fitted time-intensity curve.

    All parameters are computed on the fitted curve :math:`f(t) = O +
    b(t)`, amplitudes on its bolus part :math:`b = f - O` (the enhancement
    above the pre-contrast baseline). With :math:`t_{WiR}` and
    :math:`t_{WoR}` the times of the steepest rise and fall,

    ===========  ==========================================================
    ``PE``       peak enhancement, :math:`\max_t b(t)`
    ``TTP``      time to peak, :math:`\arg\max_t b(t)` (s after injection)
    ``WiR``      wash-in rate, :math:`b'(t_{WiR}) = \max_t b'(t)` (per s)
    ``WoR``      wash-out rate, :math:`b'(t_{WoR}) = \min_t b'(t) < 0`
    ``TI``       (internal) wash-in start: the tangent at :math:`t_{WiR}`
                 meets the baseline, :math:`t_{WiR} - b(t_{WiR})/WiR`
    ``TO``       (internal) wash-out end: the tangent at :math:`t_{WoR}`
                 meets the baseline, :math:`t_{WoR} - b(t_{WoR})/WoR`
    ``RT``       rise time, :math:`TTP - TI`
    ``FT``       fall time, :math:`TO - TTP`
    ``mTTI``     local mean transit time, :math:`mTT - TI`, with
                 :math:`mTT = t_0 + \int \tau g / \int g` the mean transit
                 time of the bolus
    ``WiAUC``    wash-in area, :math:`\int_{TI}^{TTP} b(t)\,dt`
    ``WoAUC``    wash-out area, :math:`\int_{TTP}^{TO} b(t)\,dt`
    ``WiWoAUC``  :math:`WiAUC + WoAUC`
    ``WiPI``     wash-in perfusion index, :math:`WiAUC / RT`
    ``QOF``      the fit's quality of fit, % (see :func:`fit_bolus`)
    ===========  ==========================================================

    as defined in the VueBox manual [1]_ and reviewed by Tang et al. [2]_.
    Times are in the units of the fitted times (seconds), amplitudes in the
    units of the curve (linearised echo power with ``linearize="log"``).

    Parameters
    ----------
    fit : BolusFit
        A fitted (or hand-built) bolus model.

    Returns
    -------
    dict of str to float
        The parameters, keyed and ordered as :data:`PERFUSION_PARAMETERS`.

    Notes
    -----
    The peak, the mean transit time and the areas come from the closed forms
    of the model (mode, mean, cumulative distribution); the steepest slopes
    from a log-spaced search of :math:`b'` refined by a bounded scalar
    minimisation. Parameters describe the fitted model, so they exist even
    where the recording ends before ``TO``: check ``QOF`` and the recorded
    range (``fit.t_last``) before trusting an extrapolated wash-out.

    References
    ----------
    .. [1] Bracco Suisse SA, "VueBox quantification toolbox, instructions for
       use": bolus perfusion parameters.
    .. [2] M.-X. Tang et al., "Quantitative contrast-enhanced ultrasound
       imaging: a review of sources of variability," Interface Focus, vol. 1,
       no. 4, pp. 520-539, 2011. :doi:`10.1098/rsfs.2011.0026`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.perfusion import BolusFit, perfusion_parameters
    >>> fit = BolusFit("lognormal", {"offset": 0.0, "auc": 100.0,
    ...                              "mu": np.log(10.0), "sigma": 0.5, "t0": 10.0})
    >>> p = perfusion_parameters(fit)
    >>> round(p["TTP"], 3), round(p["PE"], 3), round(p["WiR"], 3)
    (17.788, 9.041, 2.484)
    >>> round(p["WoR"], 3) < 0
    True
    """
    if not isinstance(fit, BolusFit):
        raise TypeError(
            f"fit must be a BolusFit (from fit_bolus); got {type(fit).__name__}"
        )
    spec = fit._spec
    p = fit.params
    a, b = fit._shape()
    auc, t0 = p["auc"], p["t0"]
    if not auc > 0:
        raise ValueError(f"the fit has no bolus (auc = {auc:g}); nothing to measure")
    mode = float(spec.mode(a, b))
    with np.errstate(under="ignore"):
        g_peak = float(np.exp(spec.logpdf(mode, a, b)))
    upper = float(spec.quantile(1.0 - 1e-6, a, b))
    lower = min(mode * 1e-6, float(spec.quantile(1e-9, a, b)))
    tau_in, g_in, s_in = _slope_extremum(spec, a, b, lower, mode, +1)
    tau_out, g_out, s_out = _slope_extremum(spec, a, b, mode, upper, -1)
    ti = max(tau_in - g_in / s_in, 0.0)  # tau of the wash-in start
    to = tau_out - g_out / s_out  # tau of the wash-out end
    cdf = spec.cdf(np.array([ti, mode, to]), a, b)
    wi_auc = auc * float(cdf[1] - cdf[0])
    wo_auc = auc * float(cdf[2] - cdf[1])
    rt = mode - ti
    values = {
        "PE": auc * g_peak,
        "TTP": t0 + mode,
        "RT": rt,
        "mTTI": float(spec.mean(a, b)) - ti,
        "WiAUC": wi_auc,
        "WiR": auc * s_in,
        "WiPI": wi_auc / rt,
        "WoR": auc * s_out,
        "WoAUC": wo_auc,
        "WiWoAUC": wi_auc + wo_auc,
        "FT": to - mode,
        "QOF": float(fit.qof),
    }
    return {name: float(values[name]) for name in PERFUSION_PARAMETERS}


# --------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------


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
