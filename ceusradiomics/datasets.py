"""The bundled synthetic CEUS cohort.

:func:`make_ceus_cohort` synthesises a cohort shaped like the study that the
library reproduces (172 hepatocellular carcinomas, 68 with early recurrence,
grey-scale ultrasound plus arterial and portal CEUS phases, a second reader on
part of the lesions, a clinical table like the study's Table 1), so that every
example, test and the ``demo`` run without patient data.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import fft as sp_fft
from scipy import ndimage, special
from scipy.spatial.distance import pdist

from ceusradiomics.perfusion import (
    PERFUSION_PARAMETERS,
    BolusFit,
    perfusion_parameters,
    washout_onset,
)

__all__ = ["make_ceus_cohort"]

_PHASES = ("US", "AP", "PP")

# Reference geometry: the generative model is written for a 256 x 256 frame and
# every length below scales with image_size / 256, so a smaller frame is the
# same field of view (12.8 cm deep) sampled more coarsely.
_REF_SIZE = 256
_PIXEL_SPACING_CM_REF = 0.05  # cm per pixel at image_size=256

# Display: log compression to a fixed dynamic range, as a scanner does.
_DYNAMIC_RANGE_DB = 60.0

# Mean tissue level of the liver (dB above the display floor) per phase: the
# arterial phase shows the liver before its portal supply has arrived (darker),
# the portal phase a fully enhanced liver.
_LIVER_DB = {"US": 34.0, "AP": 25.0, "PP": 33.0}

# Point-spread function (Gaussian sigma in pixels, rows = axial, cols =
# lateral) at the reference size: speckle grains are longer laterally than
# axially; contrast mode uses lower-frequency pulses, hence coarser grains.
_PSF_SIGMA = {"US": (0.8, 1.8), "AP": (1.0, 2.2), "PP": (1.0, 2.2)}

# The centres' scanners at center_effect=1 (make_ceus_cohort's Notes): gain in
# dB before log compression, display contrast around mid-grey, speckle size
# (PSF width factor) and the readers' ROI habit (pixels of dilation at the
# 256-pixel reference size; negative erodes). Centre "A" is the reference.
_CENTERS = (
    ("A", 0.0, 1.00, 1.00, 0),
    ("B", 4.0, 0.85, 1.35, 2),
    ("C", -3.0, 1.15, 0.80, -1),
    ("D", 2.0, 0.95, 1.20, 1),
    ("E", -2.0, 1.10, 0.90, -2),
    ("F", 5.0, 0.80, 1.50, 3),
)


@dataclass(frozen=True)
class _Center:
    """One centre's scanner and readers, scaled by ``center_effect``."""

    name: str
    gain_db: float
    contrast: float
    psf_factor: float
    roi_px: int

    @classmethod
    def of(cls, index: int, effect: float, scale: float) -> _Center:
        name, gain, contrast, psf, roi = _CENTERS[index]
        return cls(
            name,
            effect * gain,
            1.0 + effect * (contrast - 1.0),
            1.0 + effect * (psf - 1.0),
            round(effect * roi * scale),
        )

    def habit(self, mask: np.ndarray | None) -> np.ndarray | None:
        """A mask as this centre's readers draw it (dilated or eroded)."""
        if mask is None or self.roi_px == 0:
            return mask
        grow = ndimage.binary_dilation if self.roi_px > 0 else ndimage.binary_erosion
        out = grow(mask, iterations=abs(self.roi_px))
        return out if out.any() else mask  # never erode a small lesion away


# Convex-probe sector: apex above the frame, half-angle in radians.  With the
# apex 0.3*S above row 0 and a 40 degree half-angle the circle inscribed in the
# frame lies inside the sector, so a lesion kept inside that circle is never
# cut by the sector edge.
_FAN_APEX_ROW = -0.3
_FAN_HALF_ANGLE = np.deg2rad(40.0)

# Angular resolution of the lesion outline table (0.09 degree: far below a
# pixel at the largest radius).
_N_ANGLES = 4096

# Cine loops (cine=True): one contrast phase, its lesion ROI and a ring of
# liver around it as the LI-RADS reference.
_CINE_PHASE = "CEUS"
_CINE_COLUMNS = (
    f"{_CINE_PHASE}_cine",
    f"{_CINE_PHASE}_mask",
    f"{_CINE_PHASE}_reference_mask",
)
_CINE_NOISE_DB = 6.0  # electronic noise floor above the display floor
_CINE_TISSUE_DB = 12.0  # tissue signal left by the contrast-specific pulses
# Display ceiling in power units (the floor is 1): the unit of the truth.
_CINE_CEILING = 10.0 ** (_DYNAMIC_RANGE_DB / 10.0)

_SEX = pd.CategoricalDtype(["F", "M"])
_SIZE_GROUP = pd.CategoricalDtype(["<5", ">=5"], ordered=True)
_POSNEG = pd.CategoricalDtype(["negative", "positive"])
_AFP_GROUP = pd.CategoricalDtype(["<20", "20-400", ">400"], ordered=True)
# P(AFP group | ER): ER tumours more often secrete AFP > 400 ng/ml.  The
# mixture over 68/172 ER reproduces the study's marginal 32% / 23% / 45%.
# clinical_effect scales the log odds ratios between the two rows.
_AFP_PROBS = {0: (0.37, 0.24, 0.39), 1: (0.25, 0.22, 0.53)}


class _Shift(NamedTuple):
    """A latent Gaussian attribute ``mean + shift * e * y + sd * z``, clipped.

    `e` is the attribute's effect parameter of :func:`make_ceus_cohort` (1 by
    default), `y` the ER label and `z` a standard-normal draw of the lesion;
    the images show the value clipped to ``[low, high]``.
    """

    mean: float
    shift: float
    sd: float
    low: float = -np.inf
    high: float = np.inf

    def latent(self, effect_y: float, z: float) -> float:
        # The order of the operations is that of the original expressions
        # (mean + shift * y + sd * z), so the default cohort keeps its bits.
        return self.mean + self.shift * effect_y + self.sd * z


# The generating model of ER (Notes of make_ceus_cohort).  Size: the lesion's
# log equivalent radius in pixels at the 256-pixel reference (clipped to
# 20..75 px).  Texture: image attributes that do not involve size.  Cine: the
# lesion's time-intensity curve (only with cine=True), scaled like texture.
_SIZE_MODEL = {
    "log_radius": _Shift(np.log(40.0), 0.25, 0.30, np.log(20.0), np.log(75.0))
}
_TEXTURE_MODEL = {
    "irregularity": _Shift(0.055, 0.025, 0.03, 0.01, 0.18),
    "heterogeneity_db": _Shift(2.5, 1.0, 1.2, 0.5, 7.0),
    "washout_db": _Shift(-1.5, -2.0, 2.5),
}
_CINE_MODEL = {
    "t0": _Shift(14.0, -1.0, 2.0, 8.0, 22.0),
    "log_ttp": _Shift(np.log(11.0), -0.25, 0.2, np.log(4.0), np.log(30.0)),
    "sigma": _Shift(0.85, -0.15, 0.1, 0.35, 1.3),
}
# P(necrotic patches | ER) as (present, absent); texture_effect scales the log
# odds ratio.  0.1 + 0.25 is the probability the cohort has always used.
_NECROSIS_PROBS = {0: (0.1, 0.9), 1: (0.1 + 0.25, 1.0 - (0.1 + 0.25))}


class _Effects(NamedTuple):
    """The effect parameters of :func:`make_ceus_cohort` (1 = the defaults)."""

    size: float = 1.0
    clinical: float = 1.0
    texture: float = 1.0


_DEFAULT_EFFECTS = _Effects()


def _category_probs(probs: dict, er: int, effect: float) -> np.ndarray:
    """P(category | ER) with the log odds ratios of ``probs`` scaled by `effect`.

    An exponential tilt of the no-ER probabilities towards the ER ones,
    ``p0 ** (1 - effect) * p1 ** effect`` normalised, so ``log(p / p0)`` is
    ``effect`` times the tabulated log odds ratio (up to the normalising
    constant). At ``effect=1`` the ER row is returned as tabulated, bit for bit.
    """
    p0 = np.asarray(probs[0], dtype=float)
    if er == 0:
        return p0
    p1 = np.asarray(probs[1], dtype=float)
    if effect == 1.0:
        return p1
    weights = p0 ** (1.0 - effect) * p1**effect
    return weights / weights.sum()


def _gaussian_llr(model: _Shift, x: float, effect: float) -> float:
    """log p(shown value | ER) - log p(shown value | no ER) of one attribute.

    `x` is the latent (unclipped) value; the images show it clipped, so a
    value beyond a bound is censored: its likelihood is the Gaussian tail
    mass beyond that bound, as for a Tobit model.
    """
    delta = model.shift * effect
    if x <= model.low:
        u = (model.low - model.mean) / model.sd
        return float(special.log_ndtr(u - delta / model.sd) - special.log_ndtr(u))
    if x >= model.high:
        u = (model.high - model.mean) / model.sd
        return float(special.log_ndtr(delta / model.sd - u) - special.log_ndtr(-u))
    return float(delta * (x - model.mean - 0.5 * delta) / model.sd**2)


def make_ceus_cohort(
    n_lesions: int = 172,
    *,
    er_fraction: float = 68 / 172,
    image_size: int = 256,
    second_reader_fraction: float = 0.3,
    cine: bool = False,
    cine_frame_rate: float = 1.0,
    cine_duration: float = 180.0,
    cine_size: int = 64,
    size_effect: float = 1.0,
    clinical_effect: float = 1.0,
    texture_effect: float = 1.0,
    clinical_in_X: bool = False,
    return_risk: bool = False,
    centers: int = 1,
    center_effect: float = 1.0,
    random_state: int | np.random.Generator | np.random.RandomState | None = 0,
) -> (
    tuple[pd.DataFrame, pd.Series, pd.DataFrame]
    | tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.DataFrame]
    | tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.DataFrame, pd.DataFrame]
):
    r"""Generate a synthetic CEUS cohort of hepatocellular carcinomas.

    Each lesion has three co-registered 2-D images, grey-scale ultrasound
    (``US``), arterial-phase (``AP``) and portal-phase (``PP``) contrast
    images, with the primary reader's region of interest (ROI) on each, and a
    second reader's ROIs on a random subset of the lesions, as in the study
    [1]_. The outcome, early recurrence (ER), shifts the lesion size, its
    internal heterogeneity, its margin irregularity, its necrosis and its
    portal wash-out, and the AFP group of the clinical table, each with a
    large overlap between the classes. The generating model is documented as
    a table of effect sizes (Notes), with one parameter per part of the ER
    risk (size, the other clinical factors, the size-independent image
    texture), and the true risk of each lesion under it is returned on
    request (`return_risk`).

    Parameters
    ----------
    n_lesions : int, default=172
        Number of lesions (one per patient), at least 2.
    er_fraction : float, default=68/172
        Fraction of lesions with early recurrence; exactly
        ``round(er_fraction * n_lesions)`` lesions are positive, and both
        classes must be present.
    image_size : int, default=256
        Side of the square images in pixels, at least 64. The field of view
        stays 12.8 cm, so the pixel spacing is ``12.8 / image_size`` cm and
        every length of the model scales with ``image_size / 256``.
    second_reader_fraction : float, default=0.3
        Fraction of lesions that the second reader also delineated (on all
        three phases), in [0, 1]. When it is positive, at least
        ``min(3, n_lesions)`` lesions are drawn, enough for an ICC.
    cine : bool, default=False
        Also synthesise a contrast cine loop per lesion (the ``CEUS_*``
        columns) and return its ground truth as a fourth value. The other
        columns, `y` and `clinical` are the same with or without it.
    cine_frame_rate : float, default=1.0
        Frames per second of the cine loops (clinical clips run at 8-15; the
        default keeps the cohort small, see Notes).
    cine_duration : float, default=180.0
        Length of the loops in seconds after the injection, at least 60.
    cine_size : int, default=64
        Side of the square cine frames in pixels (same 12.8 cm field of
        view), at least 32.
    size_effect : float, default=1.0
        Scales the label's shift of the lesion size (the log equivalent
        radius, hence ``size_cm`` and ``size_group``): 0 draws ER and non-ER
        lesions from the same size distribution, 2 doubles the shift.
    clinical_effect : float, default=1.0
        Scales the log odds ratios of the AFP groups between ER and non-ER
        patients. The other clinical factors (age, sex, hepatitis, cirrhosis)
        are independent of ER whatever its value.
    texture_effect : float, default=1.0
        Scales the label's effect on every image attribute that does not
        involve size: margin irregularity, AP heterogeneity, the log odds
        ratio of necrosis, PP wash-out and, with ``cine=True``, the lesion's
        time-intensity curve. With 0 the images carry no information about
        ER beyond the lesion's size ("imaging adds nothing"); above 1 they
        carry more ("imaging adds a lot"). The defaults 1.0 of the three
        effects are the documented effect sizes of the Notes, the study's
        premise that imaging carries information beyond size; they reproduce
        the cohort of earlier versions bit for bit. Any finite value is
        accepted (a negative one reverses the effect).
    clinical_in_X : bool, default=False
        Also join the clinical columns to `X` (``X.join(clinical)``), the
        records frame that carries them to clinical models; the image
        extractors ignore columns that are not theirs. `clinical` is
        returned as well.
    return_risk : bool, default=False
        Also return the true risk of ER of each lesion and its log odds split
        by part, as the last value (see Notes).
    centers : int, default=1
        Number of centres (hospitals), 1 to 6. With more than one, the
        lesions are spread evenly over centres ``"A"``, ``"B"``, ... at
        random (independently of ER), each centre's scanner and readers
        leave their mark on its images and ROIs (Notes), and `X` and
        `clinical` get a categorical ``center`` column. ``centers=1`` gives
        the single-centre cohort of earlier versions bit for bit, without the
        column.
    center_effect : float, default=1.0
        Scales every centre's scanner effect (>= 0): 0 makes the centres
        identical, 2 doubles their differences. Ignored with one centre.
    random_state : int, Generator, RandomState or None, default=0
        Seed of the cohort. An int gives the same cohort on every call; a
        generator is used once to draw such a seed; None draws fresh entropy.

    Returns
    -------
    X : pandas.DataFrame
        The records frame (one row per lesion, index ``lesion_id`` with ids
        ``"L001"``, ``"L002"``, ..., zero-padded to the width of
        ``n_lesions``), columns ``US_image``, ``US_mask``, ``AP_image``,
        ``AP_mask``, ``PP_image``, ``PP_mask``, ``US_mask_r2``,
        ``AP_mask_r2``, ``PP_mask_r2``. Images are ``uint8`` arrays of shape
        ``(image_size, image_size)``, like the BMP/PNG exports that MaZda
        reads; masks are ``bool`` arrays of the same shape. The ``_r2``
        cells are None for lesions without a second reading. With
        ``clinical_in_X=True`` the columns of `clinical` follow (after the
        ``CEUS_*`` columns of a cine cohort).
    y : pandas.Series
        Early recurrence (1) or not (0), ``int``, named ``"ER"``, indexed
        like `X`.
    clinical : pandas.DataFrame
        Indexed like `X`, the variables of the study's Table 1: ``age``
        (years, float), ``sex`` (``"F"``/``"M"``), ``size_cm`` (maximum
        diameter of the lesion in the images), ``size_group``
        (``"<5"``/``">=5"``), ``hepatitis`` and ``cirrhosis``
        (``"negative"``/``"positive"``) and ``afp_group`` (``"<20"``,
        ``"20-400"``, ``">400"`` ng/ml), as categoricals.
    perfusion : pandas.DataFrame
        Only with ``cine=True``: the ground truth of each lesion's cine,
        indexed like `X`. The true VueBox parameters of the lesion ROI's
        curve, named as :class:`~ceusradiomics.PerfusionExtractor` names its
        output (``CEUS_TIC_PE``, ``CEUS_TIC_TTP``, ..., ``CEUS_TIC_FT``, no
        QOF) plus ``CEUS_TIC_WashoutOnset`` (NaN when the lesion does not
        wash out within the loop), and the lognormal parameters that
        generated the lesion and reference curves (``lesion_offset``,
        ``lesion_auc``, ``lesion_mu``, ``lesion_sigma``, ``lesion_t0``,
        ``reference_offset``, ..., ``reference_t0``). Amplitudes are in
        linearised echo power relative to the top of the 60 dB display, the
        unit of ``PerfusionExtractor(linearize="log", dynamic_range_db=60)``.
    risk : pandas.DataFrame
        Only with ``return_risk=True``, last: indexed like `X`, column
        ``risk``, the posterior probability of ER given the lesion's
        generating attributes, and its log odds split into ``logit_prior``
        (the same on every row), ``logit_size``, ``logit_clinical``,
        ``logit_texture`` and, with ``cine=True``, ``logit_cine``; the
        ``logit_*`` columns add up to ``logit(risk)``.

    See Also
    --------
    ceusradiomics.io.load_cohort : The same records frame built from files.

    Notes
    -----
    **Images.** Every image is simulated as a scanner forms it. A tissue map
    :math:`D(\mathbf{x})` in dB holds the liver level of the phase, a
    smooth parenchymal texture (low-pass filtered Gaussian noise, coarser
    and stronger in a cirrhotic liver), a few vessels, the lesion and a mild
    depth-dependent gain. Fully developed speckle [2]_ follows from
    complex circular Gaussian scatterers weighted by the tissue amplitude and
    convolved with an anisotropic Gaussian point-spread function :math:`h`,

    .. math::

        E(\mathbf{x}) = \frac{\left|\left(h * \left[10^{D/20}\,
        (n_1 + i\,n_2)/\sqrt{2}\right]\right)(\mathbf{x})\right|}
        {\lVert h \rVert_2},

    whose envelope :math:`E` is Rayleigh distributed with
    :math:`\mathbb{E}[E^2] = 10^{D/10}` where the tissue is locally uniform
    [3]_. The envelope is log compressed to a 60 dB display range,
    ``pixel = 255 * clip(20 log10(E) / 60, 0, 1)`` (after a slight blur
    standing for scan conversion), and masked by the sector of a convex
    probe.

    **Lesion.** A star-shaped ellipse (equivalent radius :math:`R`, aspect
    ratio 1 to 1.35) whose radius is modulated by random Fourier harmonics,

    .. math::

        r(\theta) = \rho_{\text{ellipse}}(\theta)
        \Bigl(1 + \sum_{k=2}^{16} a_k \cos(k\theta + \phi_k)\Bigr),

    with :math:`\sum a_k^2 / 2 = \text{irr}^2` (the RMS relative margin
    irregularity). It is hypo- to iso-echoic on US (sometimes with a thin
    hypoechoic halo), hyper-enhancing and mottled in AP (log-normal
    heterogeneity on a smooth field, non-enhancing necrotic patches in some
    lesions) and washes out in PP; the same geometry appears in the three
    phases, shifted by at most 3 px (breathing) with its mask. With
    :math:`z \sim N(0, 1)` drawn per lesion and :math:`y` the ER label, at
    the 256-pixel reference size:

    ==========================  ==============================================
    attribute                   model
    ==========================  ==============================================
    equivalent radius (px)      :math:`\exp(\ln 40 + 0.25 s y + 0.3 z)`,
                                clipped to 20..75
    margin irregularity irr     :math:`0.055 + 0.025 t y + 0.03 z`, clipped
                                to 0.01..0.18
    AP heterogeneity (dB std)   :math:`2.5 + 1.0 t y + 1.2 z`, clipped to
                                0.5..7
    P(necrotic patches)         0.1 without ER, 0.35 with ER at
                                :math:`t = 1` (odds ratio :math:`4.85^t`)
    PP wash-out (dB vs liver)   :math:`-1.5 - 2 t y + 2.5 z`
    AP enhancement (dB)         :math:`10 + 2.5 z`
    US echogenicity (dB)        :math:`-3.5 + 2.5 z`, clipped to -10..1
    ==========================  ==============================================

    with :math:`s` = `size_effect` and :math:`t` = `texture_effect` (both 1
    by default).

    Each image also has its own random gain, N(0, 1.5) dB, as operators set
    the scanner differently.

    **Centres** (``centers > 1``). Each centre has its own scanner and
    reading habits, at ``center_effect = 1`` (centre A is the reference; a
    factor :math:`f` becomes :math:`1 + e (f - 1)` and the other effects
    :math:`e` times the value at ``center_effect`` :math:`e`):

    ======  =========  ================  ============  ==================
    centre  gain (dB)  display contrast  speckle size  ROI habit (px)
    ======  =========  ================  ============  ==================
    A       0          1.00              1.00          0
    B       +4         0.85              1.35          +2 (wider)
    C       -3         1.15              0.80          -1 (tighter)
    D       +2         0.95              1.20          +1
    E       -2         1.10              0.90          -2
    F       +5         0.80              1.50          +3
    ======  =========  ================  ============  ==================

    The gain is added to the tissue level before log compression (a shift
    of the grey levels); the display contrast stretches the grey levels
    about mid-grey (128) before clipping; the speckle size scales the
    point-spread function's widths (coarser or finer speckle, the same mean
    power); the ROI habit dilates (or erodes) every reader's mask by that
    many pixels at the 256-pixel reference size. The lesions, their labels
    and their clinical data are drawn as with one centre; the centre is
    assigned by a separate random stream, balanced over the centres.

    **Readers.** The primary mask is the true lesion outline. The second
    reader redraws each phase with a smooth radial jitter (harmonics 1..4,
    about 1 px RMS) and a dilation or erosion of 1 to 3 px, so features of
    the interior are reproducible and features of the margin much less.

    **Clinical table.** Age ~ N(50, 13) clipped to 18..85 and rounded to
    whole years, 85% male, hepatitis 93% and cirrhosis 75% positive,
    independent of ER; ``size_cm`` is the maximum (Feret) diameter of the
    lesion at the stated pixel spacing, rounded to 0.1 cm; the AFP group
    depends mildly on ER (P(<20, 20-400, >400) = 0.37, 0.24, 0.39 without
    ER and, at ``clinical_effect=1``, 0.25, 0.22, 0.53 with ER).

    **Cine loops** (``cine=True``). Columns ``CEUS_cine`` (a tuple
    ``(frames, times)``: ``uint8`` frames of shape ``(n, cine_size,
    cine_size)`` with ``n = floor(cine_duration * cine_frame_rate) + 1`` and
    their times in seconds after the injection, from 0), ``CEUS_mask`` (the
    lesion, centred in the frame) and ``CEUS_reference_mask`` (a ring of
    liver around the lesion, for the LI-RADS wash-out). The expected echo
    power of a pixel is

    .. math::

        P(\mathbf{x}, t) = N + B(\mathbf{x}) + M(\mathbf{x})\,
        b_{L|R}(t),

    with an electronic noise floor :math:`N` (6 dB), the residual tissue
    signal of contrast mode :math:`B` (12 dB in the liver, shifted by the
    lesion's echogenicity inside it), a perfusion texture :math:`M` of mean
    1 over each ROI, and the lognormal bolus :math:`b_L` of the lesion
    inside it and :math:`b_R` of the liver outside. Speckle, PSF and the
    60 dB log compression are those of the still images, drawn afresh in
    every frame (microbubbles move between frames). Per lesion, with
    :math:`z \sim N(0, 1)`:

    ==========================  ==============================================
    lesion curve                model
    ==========================  ==============================================
    arrival :math:`t_0` (s)     :math:`14 - t y + 2z`, clipped to 8..22
    arrival to peak (s)         :math:`\exp(\ln 11 - 0.25 t y + 0.2 z)`,
                                clipped to 4..30
    :math:`\sigma` (wash-out)   :math:`0.85 - 0.15 t y + 0.1 z`, clipped to
                                0.35..1.3
    peak (dB above the floor)   :math:`28 +` the AP enhancement above,
                                clipped to 30..46
    ==========================  ==============================================

    The liver arrives :math:`5 + z` s later, peaks :math:`25 + 3z` s after
    its arrival with :math:`\sigma = 1 + 0.05 z` and 31 + 1.5 z dB, a
    longer, lower plateau, so the lesion washes out below it: early recurrence
    means a faster wash-in and an earlier, faster wash-out. A 64-pixel,
    1 frame/s, 3-minute loop weighs 0.74 MB, 127 MB for the 172 lesions;
    the memory grows as ``cine_size**2 * cine_frame_rate * cine_duration``.

    **Generating model of ER.** The label is drawn first (an exact count);
    each attribute that depends on it is then drawn from its class's
    distribution, independently of the others given the label. Per unit of
    :math:`y`, at effect 1 (the defaults; the shift of each Gaussian
    attribute is multiplied by its effect parameter, a log odds ratio of a
    categorical one too):

    ====================  ==================  ===============================
    attribute             effect parameter    effect of ER (SMD: shift / SD)
    ====================  ==================  ===============================
    log radius            `size_effect`       +0.25 (radius x 1.28), SMD 0.83
    AFP group             `clinical_effect`   odds ratio vs ``<20``: 1.36
                                              (``20-400``), 2.01 (``>400``)
    margin irregularity   `texture_effect`    +0.025, SMD 0.83
    AP heterogeneity      `texture_effect`    +1.0 dB, SMD 0.83
    necrotic patches      `texture_effect`    odds ratio 4.85 (0.10 -> 0.35)
    PP wash-out           `texture_effect`    -2.0 dB, SMD -0.80
    cine :math:`t_0`      `texture_effect`    -1 s, SMD -0.50
    cine log TTP          `texture_effect`    -0.25, SMD -1.25
    cine :math:`\sigma`   `texture_effect`    -0.15, SMD -1.50
    ====================  ==================  ===============================

    An SMD of 0.83 alone separates the classes with an AUC of
    :math:`\Phi(0.83 / \sqrt 2) = 0.72`. Nothing else depends on ER: age,
    sex, hepatitis, cirrhosis, the AP enhancement, the US echogenicity, the
    halo, the outline's shape and position, the gains, the vessels and the
    liver's curve are drawn alike in both classes. So with
    ``texture_effect=0`` the images (and the cine loops) depend on the label
    only through the lesion's radius, and with ``size_effect=0`` too they do
    not depend on it at all. ``size_cm``, the Feret diameter of the outline,
    also grows a little with the margin irregularity (lobulated outlines
    reach further), so it carries a small part of the texture effect.

    **True risk** (``return_risk=True``). By Bayes' rule, the log odds of ER
    of a lesion given its attributes is the prior log odds plus one
    log-likelihood ratio per attribute,

    .. math::

        \operatorname{logit} P(y = 1 \mid a) = \ln\frac{\pi}{1 - \pi}
        + \sum_j \ln\frac{p(a_j \mid y = 1)}{p(a_j \mid y = 0)},

    with :math:`\pi` = ``n_ER / n_lesions`` (``er_fraction`` up to the
    rounding of the count; the labels are a random permutation, so each
    lesion's label is 1 with that probability): ``logit_prior``. The
    log-likelihood ratios are summed by part: ``logit_size`` (the log
    radius), ``logit_clinical`` (the AFP group), ``logit_texture`` (margin
    irregularity, AP heterogeneity, necrosis, PP wash-out) and, with
    ``cine=True``, ``logit_cine`` (:math:`t_0`, log TTP, :math:`\sigma`;
    so the risk of a cine cohort is the one given its loops too). A Gaussian
    attribute within its clip bounds contributes :math:`\delta (x - m -
    \delta / 2) / \tau^2`, with :math:`x` its value, :math:`m` its mean
    without ER, :math:`\delta` its scaled shift and :math:`\tau` its SD;
    one clipped at a bound (the images show the bound) contributes the log
    ratio of the Gaussian tail masses beyond that bound, so the risk is the
    posterior given the values the images show, not the unclipped draws. A
    categorical attribute contributes :math:`\ln p_1(k) / p_0(k)`. The risk
    is the Bayes-optimal prediction from the generating attributes; a model
    fitted to the images and the clinical table sees those attributes only
    through speckle, readers' outlines and the rounding of ``size_cm``, so
    it can approach it but, in expectation, not beat it. With the defaults
    its AUC is about 0.89 (about 0.72 for ``logit_size`` alone, 0.58 for
    ``logit_clinical``, 0.73 for the two together and 0.86 for
    ``logit_texture``): a consequence of the effect sizes above,
    not a target they were tuned to.

    **Randomness.** ``random_state`` gives a root entropy. The ER labels and
    the second-reader subset come from the stream ``SeedSequence(entropy,
    spawn_key=(0,))``; lesion ``i`` draws everything else from
    ``SeedSequence(entropy, spawn_key=(1, i))`` split into four streams
    (geometry and levels, image noise, second reader, clinical). Lesion
    ``i``'s standard-normal draws therefore do not depend on ``n_lesions``,
    on the other lesions or on the effect parameters; its label (from the
    cohort-level permutation) only shifts the attributes above, by the
    effects. The cine of lesion ``i`` draws from
    ``SeedSequence(entropy, spawn_key=(2, i))``, so asking for it changes no
    other value.

    References
    ----------
    .. [1] H. Zhang and F. Huo, "Prediction of early recurrence of HCC after
       hepatectomy by contrast-enhanced ultrasound-based deep learning
       radiomics," Front. Oncol., vol. 12, 930458, 2022.
       :doi:`10.3389/fonc.2022.930458`
    .. [2] J. W. Goodman, "Some fundamental properties of speckle," J. Opt.
       Soc. Am., vol. 66, no. 11, pp. 1145-1150, 1976.
       :doi:`10.1364/JOSA.66.001145`
    .. [3] R. F. Wagner, S. W. Smith, J. M. Sandrik and H. Lopez,
       "Statistics of speckle in ultrasound B-scans," IEEE Trans. Sonics
       Ultrason., vol. 30, no. 3, pp. 156-163, 1983.
       :doi:`10.1109/T-SU.1983.31404`

    Examples
    --------
    >>> from ceusradiomics.datasets import make_ceus_cohort
    >>> X, y, clinical = make_ceus_cohort(8, image_size=64, random_state=0)
    >>> X.shape
    (8, 9)
    >>> list(X.columns[:4])
    ['US_image', 'US_mask', 'AP_image', 'AP_mask']
    >>> X.index[:3].tolist()
    ['L1', 'L2', 'L3']
    >>> X.loc["L1", "AP_image"].dtype, X.loc["L1", "AP_image"].shape
    (dtype('uint8'), (64, 64))
    >>> int(y.sum()), y.name
    (3, 'ER')
    >>> int(X["AP_mask_r2"].notna().sum())
    3
    >>> list(clinical.columns)
    ['age', 'sex', 'size_cm', 'size_group', 'hepatitis', 'cirrhosis', 'afp_group']

    "Imaging adds nothing": the images depend on ER through the size only, and
    the true risk has no texture part.

    >>> X, y, clinical, risk = make_ceus_cohort(
    ...     8, image_size=64, texture_effect=0.0, return_risk=True, random_state=0
    ... )
    >>> list(risk.columns)
    ['risk', 'logit_prior', 'logit_size', 'logit_clinical', 'logit_texture']
    >>> bool((risk["logit_texture"] == 0).all())
    True
    >>> make_ceus_cohort(8, image_size=64, clinical_in_X=True)[0].shape
    (8, 16)
    """
    n_lesions, er_fraction, image_size, second_reader_fraction = _check_params(
        n_lesions, er_fraction, image_size, second_reader_fraction
    )
    if cine:
        cine_scanner = _CineScanner(
            *_check_cine_params(cine, cine_frame_rate, cine_duration, cine_size)
        )
    elif not isinstance(cine, (bool, np.bool_)):
        raise TypeError(f"cine must be a bool; got {cine!r}.")
    effects = _check_effects(size_effect, clinical_effect, texture_effect)
    centers, center_effect = _check_centers(centers, center_effect)
    for name, value in (("clinical_in_X", clinical_in_X), ("return_risk", return_risk)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool; got {value!r}.")
    entropy = _root_entropy(random_state)
    size = image_size
    scale = size / _REF_SIZE

    cohort_rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(0,)))
    n_pos = round(er_fraction * n_lesions)
    labels = cohort_rng.permutation(np.repeat([1, 0], [n_pos, n_lesions - n_pos]))
    n_r2 = 0
    if second_reader_fraction > 0:
        n_r2 = max(round(second_reader_fraction * n_lesions), min(3, n_lesions))
    has_r2 = np.zeros(n_lesions, dtype=bool)
    has_r2[cohort_rng.choice(n_lesions, size=n_r2, replace=False)] = True

    scanner = _Scanner(size)
    center_of = np.zeros(n_lesions, dtype=int)
    sites: list[_Center] = []
    scanners = [scanner]
    if centers > 1:
        # Its own stream: the single-centre cohort draws nothing more.
        center_rng = np.random.default_rng(
            np.random.SeedSequence(entropy, spawn_key=(3,))
        )
        center_of = center_rng.permutation(np.arange(n_lesions) % centers)
        sites = [_Center.of(c, center_effect, scale) for c in range(centers)]
        scanners = [_Scanner(size, site) for site in sites]
    width = len(str(n_lesions))
    ids = pd.Index([f"L{i + 1:0{width}d}" for i in range(n_lesions)], name="lesion_id")
    records, clinical_rows, truth_rows, risk_rows = [], [], [], []
    for i in range(n_lesions):
        streams = np.random.SeedSequence(entropy, spawn_key=(1, i)).spawn(4)
        rng_lesion, rng_noise, rng_reader, rng_clin = map(
            np.random.default_rng, streams
        )
        # Clinical first: cirrhosis changes the liver texture in the images.
        clin = _draw_clinical(rng_clin, int(labels[i]), effects.clinical)
        lesion = _Lesion(rng_lesion, int(labels[i]), scale, clin["cirrhosis"], effects)
        risk_rows.append(_log_likelihood_ratios(lesion, clin["afp_group"], effects))
        scanner = scanners[center_of[i]]
        geometry = scanner.lesion_box(lesion)
        record = scanner.acquire(lesion, geometry, rng_noise)
        for phase in _PHASES:
            record[f"{phase}_mask_r2"] = (
                scanner.second_reader_mask(lesion, geometry, phase, rng_reader)
                if has_r2[i]
                else None
            )
        if sites:
            site = sites[center_of[i]]
            for phase in _PHASES:
                for column in (f"{phase}_mask", f"{phase}_mask_r2"):
                    record[column] = site.habit(record[column])
        if cine:
            rng_cine = np.random.default_rng(
                np.random.SeedSequence(entropy, spawn_key=(2, i))
            )
            cine_record, truth, cine_latent = cine_scanner.acquire(
                lesion, int(labels[i]), rng_cine, size, effects.texture
            )
            record.update(cine_record)
            truth_rows.append(truth)
            risk_rows[-1]["logit_cine"] = sum(
                _gaussian_llr(model, cine_latent[name], effects.texture)
                for name, model in _CINE_MODEL.items()
            )
        records.append(record)
        clin["size_cm"] = round(lesion.feret_diameter * _pixel_spacing_cm(size), 1)
        clinical_rows.append(clin)

    columns = [f"{p}_{kind}" for p in _PHASES for kind in ("image", "mask")]
    columns += [f"{p}_mask_r2" for p in _PHASES]
    X = pd.DataFrame.from_records(records, index=ids, columns=columns)
    y = pd.Series(labels.astype(int), index=ids.copy(), name="ER")
    clinical = _clinical_frame(clinical_rows, ids.copy())
    if sites:
        names = [site.name for site in sites]
        center = pd.Categorical([names[c] for c in center_of], categories=names)
        X["center"] = pd.Series(center, index=X.index)
        clinical["center"] = pd.Series(center, index=clinical.index)
    result = [X, y, clinical]
    if cine:
        for column in _CINE_COLUMNS:
            # object Series: a (frames, times) tuple stays one cell.
            X[column] = pd.Series(
                [r[column] for r in records], index=X.index, dtype=object
            )
        result.append(pd.DataFrame.from_records(truth_rows, index=ids.copy()))
    if clinical_in_X:
        result[0] = X.join(clinical.drop(columns="center", errors="ignore"))
    if return_risk:
        result.append(_risk_frame(risk_rows, n_pos / n_lesions, ids.copy()))
    return tuple(result)


def _pixel_spacing_cm(image_size: int) -> float:
    """Pixel spacing in cm of a cohort image of side `image_size`."""
    return _PIXEL_SPACING_CM_REF * _REF_SIZE / image_size


def _check_params(n_lesions, er_fraction, image_size, second_reader_fraction):
    """Validate the parameters of :func:`make_ceus_cohort`; return them typed."""
    for name, value, low in (
        ("n_lesions", n_lesions, 2),
        ("image_size", image_size, 64),
    ):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(
                f"{name} must be an int >= {low}; got {value!r} of type "
                f"{type(value).__name__}."
            )
        if value < low:
            raise ValueError(f"{name} must be an int >= {low}; got {value}.")
    for name, value in (
        ("er_fraction", er_fraction),
        ("second_reader_fraction", second_reader_fraction),
    ):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(
                f"{name} must be a float; got {value!r} of type {type(value).__name__}."
            )
    if not 0 < er_fraction < 1:
        raise ValueError(
            f"er_fraction must be in the open interval (0, 1); got {er_fraction}."
        )
    n_pos = round(er_fraction * n_lesions)
    if not 1 <= n_pos <= n_lesions - 1:
        raise ValueError(
            f"er_fraction={er_fraction} gives {n_pos} ER lesions out of "
            f"n_lesions={n_lesions}; both classes need at least one lesion. "
            "Raise n_lesions or move er_fraction towards 0.5."
        )
    if not 0 <= second_reader_fraction <= 1:
        raise ValueError(
            f"second_reader_fraction must be in [0, 1]; got {second_reader_fraction}."
        )
    return (
        int(n_lesions),
        float(er_fraction),
        int(image_size),
        float(second_reader_fraction),
    )


def _check_effects(size_effect, clinical_effect, texture_effect) -> _Effects:
    """Validate the effect parameters of :func:`make_ceus_cohort`."""
    values = {
        "size_effect": size_effect,
        "clinical_effect": clinical_effect,
        "texture_effect": texture_effect,
    }
    for name, value in values.items():
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(
                f"{name} must be a float; got {value!r} of type {type(value).__name__}."
            )
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value}.")
    return _Effects(*(float(v) for v in values.values()))


def _check_centers(centers, center_effect) -> tuple[int, float]:
    """Validate `centers` and `center_effect` of :func:`make_ceus_cohort`."""
    if not isinstance(centers, numbers.Integral) or isinstance(centers, bool):
        raise TypeError(f"centers must be an int; got {centers!r}.")
    if not 1 <= centers <= len(_CENTERS):
        raise ValueError(
            f"centers must be between 1 and {len(_CENTERS)}; got {centers}."
        )
    if not isinstance(center_effect, numbers.Real) or isinstance(center_effect, bool):
        raise TypeError(f"center_effect must be a float; got {center_effect!r}.")
    if not (np.isfinite(center_effect) and center_effect >= 0):
        raise ValueError(f"center_effect must be finite and >= 0; got {center_effect}.")
    return int(centers), float(center_effect)


def _log_likelihood_ratios(lesion: _Lesion, afp_group: str, effects: _Effects):
    """The ER log-likelihood ratios of one lesion's attributes, by part.

    The attributes are independent given the label, so the log odds of ER
    given all of them is the prior's plus the sum of these parts.
    """
    necrosis = _category_probs(_NECROSIS_PROBS, 1, effects.texture)
    present = 0 if lesion.necrotic else 1
    afp = _category_probs(_AFP_PROBS, 1, effects.clinical)
    k = _AFP_GROUP.categories.get_loc(afp_group)
    return {
        "logit_size": _gaussian_llr(
            _SIZE_MODEL["log_radius"], lesion.latent["log_radius"], effects.size
        ),
        "logit_clinical": float(np.log(afp[k]) - np.log(_AFP_PROBS[0][k])),
        "logit_texture": sum(
            _gaussian_llr(model, lesion.latent[name], effects.texture)
            for name, model in _TEXTURE_MODEL.items()
        )
        + float(np.log(necrosis[present]) - np.log(_NECROSIS_PROBS[0][present])),
    }


def _risk_frame(rows: list[dict], prior: float, index: pd.Index) -> pd.DataFrame:
    """The true risk of ER per lesion and its log odds split by part."""
    parts = pd.DataFrame.from_records(rows, index=index)
    parts.insert(0, "logit_prior", float(np.log(prior) - np.log1p(-prior)))
    logit = parts.sum(axis=1).to_numpy()
    parts.insert(0, "risk", special.expit(logit))
    return parts


def _root_entropy(random_state) -> int:
    """Turn `random_state` into the root entropy of the cohort's seed tree."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        if random_state < 0:
            raise ValueError(
                f"random_state must be a non-negative int; got {random_state}."
            )
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31))
    raise TypeError(
        "random_state must be an int, a numpy Generator or RandomState, or None; "
        f"got {random_state!r} of type {type(random_state).__name__}."
    )


def _draw_clinical(rng: np.random.Generator, er: int, clinical_effect: float = 1.0):
    """Draw the Table-1 variables of one patient (size is set from the image)."""
    u = rng.random(4)
    afp_probs = _category_probs(_AFP_PROBS, er, clinical_effect)
    return {
        "age": float(np.round(np.clip(rng.normal(50.0, 13.0), 18.0, 85.0))),
        "sex": "M" if u[0] < 0.85 else "F",
        "hepatitis": "positive" if u[1] < 0.93 else "negative",
        "cirrhosis": "positive" if u[2] < 0.75 else "negative",
        "afp_group": _AFP_GROUP.categories[
            min(int(np.searchsorted(np.cumsum(afp_probs), u[3], side="right")), 2)
        ],
    }


def _clinical_frame(rows: list[dict], index: pd.Index) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, index=index)
    size_group = np.where(frame["size_cm"] >= 5.0, ">=5", "<5")
    return pd.DataFrame(
        {
            "age": frame["age"].astype(float),
            "sex": frame["sex"].astype(_SEX),
            "size_cm": frame["size_cm"].astype(float),
            "size_group": pd.Series(size_group, index=index).astype(_SIZE_GROUP),
            "hepatitis": frame["hepatitis"].astype(_POSNEG),
            "cirrhosis": frame["cirrhosis"].astype(_POSNEG),
            "afp_group": frame["afp_group"].astype(_AFP_GROUP),
        },
        index=index,
    )


def _smooth_field(rng: np.random.Generator, shape, sigma: float):
    """Zero-mean, unit-std stationary Gaussian field of correlation scale `sigma`.

    White noise filtered by a Gaussian of standard deviation `sigma` pixels,
    built directly in the Fourier domain: only the few coefficients where the
    Gaussian transfer function exceeds 1e-3 are drawn, so a smooth field costs
    one inverse FFT whatever `sigma` is (a spatial kernel for the parenchymal
    texture would be 130 taps wide). The field is periodic, which is harmless
    for a stationary texture.
    """
    index, transfer = _spectral_support(tuple(shape), float(sigma))
    noise = rng.standard_normal((2, transfer.size))
    spectrum = np.zeros((shape[0], shape[1] // 2 + 1), dtype=complex)
    spectrum.flat[index] = transfer * (noise[0] + 1j * noise[1])
    field = sp_fft.irfft2(spectrum, s=shape)
    field -= field.mean()
    std = field.std()
    return field / std if std > 0 else field


@functools.lru_cache(maxsize=16)
def _spectral_support(shape: tuple[int, int], sigma: float):
    """Flat indices and values of a Gaussian transfer function above 1e-3."""
    fy = sp_fft.fftfreq(shape[0])[:, None]
    fx = sp_fft.rfftfreq(shape[1])[None, :]
    transfer = np.exp(-2.0 * np.pi**2 * sigma**2 * (fy**2 + fx**2)).ravel()
    index = np.flatnonzero(transfer > 1e-3)
    index = index[index != 0]  # no DC term: the field has zero mean anyway
    return index, transfer[index]


def _interp_periodic(table, theta):
    """Linear interpolation of a closed table over [0, 2 pi] at angles `theta`."""
    n = table.size - 1
    position = np.mod(theta, 2.0 * np.pi) * (n / (2.0 * np.pi))
    index = np.minimum(position.astype(np.intp), n - 1)
    frac = position - index
    return table[index] * (1.0 - frac) + table[index + 1] * frac


def _smoothstep(t):
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


class _Lesion:
    """The random attributes of one lesion, drawn in a fixed order."""

    def __init__(
        self,
        rng: np.random.Generator,
        er: int,
        scale: float,
        cirrhosis: str,
        effects: _Effects = _DEFAULT_EFFECTS,
    ):
        z = rng.standard_normal(9)
        self.cirrhotic = cirrhosis == "positive"
        # The label's shifts, scaled by the effect parameters: size_effect * y
        # for the size, texture_effect * y for everything else that depends
        # on y (1.0 * y leaves the default cohort's values bit for bit).
        size_y, texture_y = effects.size * er, effects.texture * er
        self.latent = {
            "log_radius": _SIZE_MODEL["log_radius"].latent(size_y, z[0]),
            **{
                name: model.latent(texture_y, z[1 + k])
                for k, (name, model) in enumerate(_TEXTURE_MODEL.items())
            },
        }
        radius = np.clip(np.exp(self.latent["log_radius"]), 20.0, 75.0)
        self.irregularity = float(np.clip(self.latent["irregularity"], 0.01, 0.18))
        self.heterogeneity_db = float(
            np.clip(self.latent["heterogeneity_db"], 0.5, 7.0)
        )
        self.washout_db = float(self.latent["washout_db"])
        self.enhancement_db = float(10.0 + 2.5 * z[4])
        self.echogenicity_db = float(np.clip(-3.5 + 2.5 * z[5], -10.0, 1.0))
        self.gain_db = {p: 1.5 * z[6 + k] for k, p in enumerate(_PHASES)}
        p_necrosis = _category_probs(_NECROSIS_PROBS, er, effects.texture)[0]
        self.necrotic = rng.random() < p_necrosis
        self.halo = rng.random() < 0.35

        # Shape: ellipse of equivalent radius `radius`, plus margin harmonics
        # whose amplitudes fall off as 1/k (lobulation dominates roughness).
        aspect = rng.uniform(1.0, 1.35)
        self.semi_axes = (
            radius * np.sqrt(aspect) * scale,
            radius / np.sqrt(aspect) * scale,
        )
        self.orientation = rng.uniform(0.0, np.pi)
        k = np.arange(2, 17)
        weights = rng.rayleigh(1.0, k.size) / k
        self.harm_k = k
        self.harm_amp = weights * self.irregularity * np.sqrt(2.0 / np.sum(weights**2))
        self.harm_phase = rng.uniform(0.0, 2.0 * np.pi, k.size)

        theta = np.linspace(0.0, 2.0 * np.pi, _N_ANGLES + 1)
        self._radius_table = self._exact_radius(theta)  # closed: last = first
        r = self._radius_table[:-1]
        self.r_max = float(r.max())
        step = _N_ANGLES // 512  # 512 boundary points are plenty for the diameter
        t = theta[:-1:step]
        boundary = np.column_stack([r[::step] * np.cos(t), r[::step] * np.sin(t)])
        self.feret_diameter = float(pdist(boundary).max())

        # Position: the whole lesion, plus the room the second reader and the
        # breathing shift need, stays inside the circle inscribed in the frame,
        # hence inside the probe's sector.
        size = _REF_SIZE * scale
        room = max(size / 2 - self.r_max - 8.0 * scale - 2.0, 0.0)
        angle, frac = rng.uniform(0.0, 2.0 * np.pi), np.sqrt(rng.random())
        self.center = (
            size / 2 + room * frac * np.sin(angle),
            size / 2 + room * frac * np.cos(angle),
        )
        max_shift = round(3 * scale)
        self.shifts = {
            "US": (0, 0),
            "AP": tuple(int(s) for s in rng.integers(-max_shift, max_shift + 1, 2)),
            "PP": tuple(int(s) for s in rng.integers(-max_shift, max_shift + 1, 2)),
        }
        n_vessels = int(rng.integers(0, 3))
        self.vessels = [
            (
                rng.uniform(0, np.pi),  # direction
                rng.uniform(-0.45, 0.45) * size,  # offset of the axis from the centre
                rng.uniform(2.5, 5.0) * scale,  # lumen radius
                rng.uniform(-40.0, 40.0) * scale,  # bending (px at the frame's edge)
            )
            for _ in range(n_vessels)
        ]

    def radius(self, theta):
        """Boundary radius r(theta) in pixels (theta from the column axis)."""
        # Interpolated in a fine table: evaluating the 15 harmonics at every
        # pixel would dominate the cohort's run time.
        return _interp_periodic(self._radius_table, theta)

    def _exact_radius(self, theta):
        a, b = self.semi_axes
        t = theta - self.orientation
        ellipse = a * b / np.sqrt((b * np.cos(t)) ** 2 + (a * np.sin(t)) ** 2)
        modulation = np.cos(np.multiply.outer(theta, self.harm_k) + self.harm_phase)
        # The floor keeps the outline star-shaped for the rare extreme draw.
        return ellipse * np.maximum(1.0 + modulation @ self.harm_amp, 0.5)


class _Box(NamedTuple):
    """A lesion's box on the padded canvas, with polar coordinates in it."""

    slices: tuple[slice, slice]
    dist: np.ndarray  # distance to the lesion centre
    theta: np.ndarray  # angle from the column axis
    boundary: np.ndarray  # outline radius r(theta)


class _Scanner:
    """Fixed acquisition geometry of a convex probe for one image size."""

    def __init__(self, size: int, center: _Center | None = None):
        self.size = size
        self.scale = size / _REF_SIZE
        self.center = center
        # A padded canvas holds the tissue, which moves under the fixed probe
        # by the breathing shift of each phase.
        self.pad = round(3 * self.scale) + 1
        self.n = size + 2 * self.pad
        rows = np.arange(size, dtype=float)[:, None]
        cols = np.arange(size, dtype=float)[None, :]
        apex_row = _FAN_APEX_ROW * size
        r_apex = np.hypot(rows - apex_row, cols - size / 2)
        angle = np.arctan2(cols - size / 2, rows - apex_row)
        edge = 1.5 * self.scale + 0.5
        self.fan = _smoothstep((_FAN_HALF_ANGLE - np.abs(angle)) * r_apex / edge)
        self.fan *= _smoothstep((r_apex + apex_row) / edge)
        depth = (r_apex + apex_row) / size  # 0 at the probe face, about 1 at the bottom
        # Imperfect time-gain compensation: a bright near field, then a slow
        # loss with depth.
        depth_gain_db = 3.0 * np.exp(-depth / 0.06) - 6.0 * depth
        self.scan_sigma = 0.6 * self.scale
        widen = 1.0 if center is None else center.psf_factor
        self.psf = {
            p: (s[0] * self.scale * widen, s[1] * self.scale * widen)
            for p, s in _PSF_SIGMA.items()
        }
        # Per-phase constant part of the tissue level: the liver, the depth
        # gain, and the PSF's power gain ||h||^2 removed so that
        # E[E^2] = 10^(D/10); each part of the complex scatterer carries half
        # the power (-3 dB).
        self.phase_gain_db = {}
        delta = np.zeros((33, 33))
        delta[16, 16] = 1.0
        for phase, sigma in self.psf.items():
            kernel = ndimage.gaussian_filter(delta, sigma, truncate=3.0)
            psf_gain_db = 10.0 * np.log10(np.sum(kernel**2))
            self.phase_gain_db[phase] = (
                depth_gain_db + _LIVER_DB[phase] - psf_gain_db - 10 * np.log10(2)
            )

    def lesion_box(self, lesion: _Lesion) -> _Box:
        """Polar coordinates around the lesion in its box on the padded canvas.

        Only the box (the lesion plus a margin wider than every effect of the
        lesion on its surroundings) needs them; the second reader's masks
        reuse them.
        """
        margin = 16.0 * self.scale + 2.0
        cy, cx = lesion.center[0] + self.pad, lesion.center[1] + self.pad
        r0 = max(int(cy - lesion.r_max - margin), 0)
        r1 = min(int(np.ceil(cy + lesion.r_max + margin)) + 1, self.n)
        c0 = max(int(cx - lesion.r_max - margin), 0)
        c1 = min(int(np.ceil(cx + lesion.r_max + margin)) + 1, self.n)
        dy = np.arange(r0, r1, dtype=float)[:, None] - cy
        dx = np.arange(c0, c1, dtype=float)[None, :] - cx
        theta = np.arctan2(dy, dx)
        return _Box(
            (slice(r0, r1), slice(c0, c1)),
            np.hypot(dy, dx),
            theta,
            lesion.radius(theta),
        )

    def _crop(self, canvas, phase: str, lesion: _Lesion):
        dy, dx = lesion.shifts[phase]
        r0, c0 = self.pad - dy, self.pad - dx
        return canvas[r0 : r0 + self.size, c0 : c0 + self.size]

    def acquire(self, lesion: _Lesion, geometry: _Box, rng: np.random.Generator):
        """Images and primary masks of the three phases of one lesion."""
        n, s = self.n, self.scale
        box, dist, _, boundary = geometry
        inside_depth = boundary - dist  # > 0 inside, about the distance to the margin
        mask = np.zeros((n, n), dtype=bool)
        mask[box] = inside_depth >= 0
        # A slightly soft edge (the PSF blurs it further) so the margin is not
        # a one-pixel step in the scatterer strength.
        weight = _smoothstep(0.5 + inside_depth / (2.0 * s + 1.0))

        # Parenchyma: a fine and a coarse component, both stronger (and the
        # fine one coarser) in a cirrhotic, nodular liver.
        fine_sigma = (4.0 if lesion.cirrhotic else 2.5) * s
        fine_db = 1.8 if lesion.cirrhotic else 0.9
        coarse_db = 1.5 if lesion.cirrhotic else 1.0
        liver = fine_db * _smooth_field(rng, (n, n), fine_sigma)
        liver += coarse_db * _smooth_field(rng, (n, n), 16.0 * s)

        # Tumour: one smooth field for its vascular heterogeneity, shared by
        # the phases (the same tissue), and a coarser one for necrosis.
        mottle = _smooth_field(rng, (n, n), 3.0 * s + 0.5)[box]
        necrosis = 0.0
        if lesion.necrotic:
            coarse = _smooth_field(rng, (n, n), 7.0 * s + 0.5)[box]
            core = _smoothstep(inside_depth / (0.35 * lesion.r_max))
            necrosis = _smoothstep((coarse - 0.3) / 0.6) * core
        halo = 0.0
        if lesion.halo:
            halo = np.exp(-(((inside_depth - 1.5 * s) / (1.2 * s + 0.3)) ** 2))

        # Vessels: gently curved tubes (a parabola bent off a straight axis),
        # with a flat-topped lumen profile exp(-(d / lumen)^4).
        vessel = np.zeros((n, n))
        grid = np.arange(n, dtype=float) - n / 2
        for direction, offset, lumen, bend in lesion.vessels:
            cos, sin = np.cos(direction), np.sin(direction)
            along = grid[:, None] * (cos / n) + grid[None, :] * (sin / n)
            across = (grid[None, :] * cos - offset) - grid[:, None] * sin
            across -= bend * along * along
            u = across * across * (1.0 / lumen**2)
            np.maximum(vessel, np.exp(-u * u), out=vessel)
        # Vessels leave the image plane near the tumour instead of crossing it.
        vessel[box] *= _smoothstep((-inside_depth - 3.0 * s) / (10.0 * s + 1.0))

        het = lesion.heterogeneity_db
        # (liver texture weight, vessel level, lesion level in dB)
        phases = {
            "US": (
                1.0,
                -14.0,
                lesion.echogenicity_db + 0.5 * het * mottle - 3.0 * necrosis,
            ),
            "AP": (0.6, -3.0, lesion.enhancement_db + het * mottle - 14.0 * necrosis),
            "PP": (0.6, 4.0, lesion.washout_db + 0.6 * het * mottle - 10.0 * necrosis),
        }
        record = {}
        noise = rng.standard_normal((3, 2, self.size, self.size))
        for k, (phase, (liver_w, vessel_db, lesion_db)) in enumerate(phases.items()):
            tissue = liver_w * liver
            if lesion.vessels:
                tissue += vessel_db * vessel
            tissue[box] += weight * lesion_db
            if phase == "US":
                tissue[box] -= 6.0 * halo
            db = self._crop(tissue, phase, lesion) + self.phase_gain_db[phase]
            # Scatterer amplitude 10^(D/20), in place to spare full-frame copies.
            db += lesion.gain_db[phase]
            if self.center is not None:
                db += self.center.gain_db
            db *= np.log(10.0) / 20.0
            rf = noise[k] * np.exp(db, out=db)
            rf = ndimage.gaussian_filter(rf, (0.0, *self.psf[phase]), truncate=3.0)
            np.square(rf, out=rf)
            power = rf[0] + rf[1]
            # The floor keeps log10 finite; it lies 160 dB below the display.
            np.maximum(power, 1e-16, out=power)
            # 10 log10(power) = 20 log10(envelope), mapped to grey levels.
            grey = np.log10(power, out=power)
            grey *= 10.0 * 255.0 / _DYNAMIC_RANGE_DB
            # Scan conversion interpolates the detected lines: a slight blur
            # of the log image that softens the speckle's deepest nulls.
            grey = ndimage.gaussian_filter(grey, self.scan_sigma, truncate=2.0)
            if self.center is not None and self.center.contrast != 1.0:
                grey -= 128.0
                grey *= self.center.contrast
                grey += 128.0
            np.clip(grey, 0.0, 255.0, out=grey)
            grey *= self.fan
            record[f"{phase}_image"] = np.rint(grey, out=grey).astype(np.uint8)
            record[f"{phase}_mask"] = self._crop(mask, phase, lesion).copy()
        return record

    def second_reader_mask(
        self, lesion: _Lesion, geometry: _Box, phase: str, rng: np.random.Generator
    ):
        """The second reader's redrawing of the lesion on one phase."""
        s = self.scale
        box, dist, theta, boundary = geometry
        k = np.arange(1, 5)
        jitter_amp = rng.rayleigh(1.0, k.size) / k
        jitter_amp *= (1.0 * s + 0.3) * np.sqrt(2.0 / np.sum(jitter_amp**2))
        jitter_phase = rng.uniform(0.0, 2.0 * np.pi, k.size)
        offset = rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 3.0) * s
        grid = np.linspace(0.0, 2.0 * np.pi, 257)
        table = np.cos(np.multiply.outer(grid, k) + jitter_phase) @ jitter_amp
        mask = np.zeros((self.n, self.n), dtype=bool)
        mask[box] = dist <= boundary + offset + _interp_periodic(table, theta)
        return self._crop(mask, phase, lesion).copy()


def _check_cine_params(cine, frame_rate, duration, size):
    """Validate the cine parameters of :func:`make_ceus_cohort`."""
    if not isinstance(cine, (bool, np.bool_)):
        raise TypeError(f"cine must be a bool; got {cine!r}.")
    for name, value, low in (
        ("cine_frame_rate", frame_rate, 0.0),
        ("cine_duration", duration, 60.0),
    ):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(
                f"{name} must be a float; got {value!r} of type {type(value).__name__}."
            )
        if not (np.isfinite(value) and value > low if low == 0 else value >= low):
            bound = "> 0" if low == 0 else f">= {low:g} s (a wash-out must fit)"
            raise ValueError(f"{name} must be {bound}; got {value}.")
    if not isinstance(size, numbers.Integral) or isinstance(size, bool):
        raise TypeError(
            f"cine_size must be an int >= 32; got {size!r} of type "
            f"{type(size).__name__}."
        )
    if size < 32:
        raise ValueError(f"cine_size must be an int >= 32; got {size}.")
    n_frames = int(np.floor(duration * frame_rate + 1e-9)) + 1
    return int(size), float(frame_rate), n_frames


def _lognormal_for_peak(peak: float, mode: float, sigma: float) -> tuple[float, float]:
    """(auc, mu) of the lognormal bolus whose peak `peak` lies `mode` s after t0."""
    mu = np.log(mode) + sigma**2
    density_at_mode = np.exp(-0.5 * sigma**2) / (np.sqrt(2.0 * np.pi) * sigma * mode)
    return float(peak / density_at_mode), float(mu)


class _CineScanner:
    """Contrast cine loops of a lesion centred in a small square frame."""

    def __init__(self, size: int, frame_rate: float, n_frames: int):
        self.size = size
        self.times = np.arange(n_frames) / frame_rate
        scale = size / _REF_SIZE
        self.psf = tuple(s * scale for s in _PSF_SIGMA["AP"])
        delta = np.zeros((33, 33))
        delta[16, 16] = 1.0
        # ||h||^2 of the PSF, divided out so that E[power] = P.
        self.psf_gain = float(
            np.sum(ndimage.gaussian_filter(delta, self.psf, truncate=3.0) ** 2)
        )
        centre = (size - 1) / 2.0
        grid = np.arange(size, dtype=float) - centre
        self.dy, self.dx = grid[:, None], grid[None, :]

    def _curves(
        self, lesion: _Lesion, er: int, rng: np.random.Generator, texture_effect: float
    ):
        """Lognormal parameters (offset, auc, mu, sigma, t0) of lesion and liver.

        Also the latent (unclipped) values of the lesion's curve attributes
        that depend on ER, for the true risk.
        """
        z = rng.standard_normal(7)
        texture_y = texture_effect * er
        latent = {
            name: model.latent(texture_y, z[k])
            for k, (name, model) in enumerate(_CINE_MODEL.items())
        }
        t0 = float(np.clip(latent["t0"], 8.0, 22.0))
        mode = float(np.clip(np.exp(latent["log_ttp"]), 4.0, 30.0))
        sigma = float(np.clip(latent["sigma"], 0.35, 1.3))
        peak_db = float(np.clip(28.0 + lesion.enhancement_db, 30.0, 46.0))
        auc, mu = _lognormal_for_peak(10.0 ** (peak_db / 10.0), mode, sigma)
        ref_t0 = t0 + float(np.clip(5.0 + z[3], 2.0, 8.0))
        ref_mode = float(np.clip(25.0 + 3.0 * z[4], 15.0, 40.0))
        ref_sigma = float(np.clip(1.0 + 0.05 * z[5], 0.85, 1.15))
        ref_auc, ref_mu = _lognormal_for_peak(
            10.0 ** ((31.0 + 1.5 * z[6]) / 10.0), ref_mode, ref_sigma
        )
        noise = 10.0 ** (_CINE_NOISE_DB / 10.0)
        liver = 10.0 ** (_CINE_TISSUE_DB / 10.0)
        tumour = 10.0 ** ((_CINE_TISSUE_DB + lesion.echogenicity_db) / 10.0)
        return (
            (noise + tumour, auc, mu, sigma, t0),
            (noise + liver, ref_auc, ref_mu, ref_sigma, ref_t0),
            latent,
        )

    def acquire(
        self,
        lesion: _Lesion,
        er: int,
        rng: np.random.Generator,
        size: int,
        texture_effect: float = 1.0,
    ):
        """The cine columns of one lesion, the ground truth of its curves and
        the latent values of its curve attributes."""
        n = self.size
        lesion_curve, liver_curve, latent = self._curves(
            lesion, er, rng, texture_effect
        )
        theta = np.arctan2(self.dy, self.dx)
        dist = np.hypot(self.dy, self.dx)
        boundary = lesion.radius(theta) * (n / size)
        mask = dist <= boundary
        r_eq = np.sqrt(mask.sum() / np.pi)
        gap, width = max(1.0, 0.15 * r_eq), max(2.0, 0.5 * r_eq)
        reference = (dist > boundary + gap) & (dist <= boundary + gap + width)

        # Perfusion textures of mean exactly 1 over each ROI, so the ROI's
        # expected mean is the generating curve.
        texture = np.where(
            mask,
            10.0 ** (0.05 * lesion.heterogeneity_db * _smooth_field(rng, (n, n), 1.5)),
            10.0 ** (0.1 * _smooth_field(rng, (n, n), 2.5)),
        )
        texture[mask] /= texture[mask].mean()
        texture[~mask] /= texture[reference].mean()
        baseline = np.where(mask, lesion_curve[0], liver_curve[0])
        lesion_bolus = BolusFit("lognormal", _named(lesion_curve))
        liver_bolus = BolusFit("lognormal", _named(liver_curve))
        frames = np.empty((self.times.size, n, n), dtype=np.uint8)
        chunk = 64
        for start in range(0, self.times.size, chunk):
            t = self.times[start : start + chunk]
            bolus = np.where(
                mask,
                lesion_bolus(t)[:, None, None] - lesion_curve[0],
                liver_bolus(t)[:, None, None] - liver_curve[0],
            )
            power = baseline + texture * bolus
            # Complex circular Gaussian scatterers of power P, through the PSF.
            rf = rng.standard_normal((t.size, 2, n, n))
            rf *= np.sqrt(0.5 * power)[:, None]
            rf = ndimage.gaussian_filter(rf, (0.0, 0.0, *self.psf), truncate=3.0)
            detected = np.einsum("fcij,fcij->fij", rf, rf) / self.psf_gain
            np.maximum(detected, 1e-16, out=detected)
            grey = np.log10(detected) * (10.0 * 255.0 / _DYNAMIC_RANGE_DB)
            np.clip(grey, 0.0, 255.0, out=grey)
            frames[start : start + t.size] = np.rint(grey)

        truth = _cine_truth(lesion_bolus, liver_bolus, self.times[-1])
        record = dict(
            zip(
                _CINE_COLUMNS,
                ((frames, self.times.copy()), mask, reference),
                strict=True,
            )
        )
        return record, truth, latent


def _named(curve) -> dict[str, float]:
    return dict(zip(("offset", "auc", "mu", "sigma", "t0"), curve, strict=True))


def _cine_truth(lesion: BolusFit, liver: BolusFit, t_last: float) -> dict:
    """Ground-truth parameters, in echo power relative to the display ceiling."""

    def relative(fit: BolusFit) -> BolusFit:
        params = dict(fit.params)
        params["offset"] /= _CINE_CEILING
        params["auc"] /= _CINE_CEILING
        return BolusFit("lognormal", params, t_first=0.0, t_last=t_last)

    lesion, liver = relative(lesion), relative(liver)
    values = perfusion_parameters(lesion)
    truth = {
        f"{_CINE_PHASE}_TIC_{name}": values[name]
        for name in PERFUSION_PARAMETERS
        if name != "QOF"
    }
    truth[f"{_CINE_PHASE}_TIC_WashoutOnset"] = washout_onset(lesion, liver)
    for prefix, fit in (("lesion", lesion), ("reference", liver)):
        truth.update({f"{prefix}_{k}": v for k, v in fit.params.items()})
    return truth
