"""Fitting a bolus model to a time-intensity curve."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

from ceusradiomics.perfusion._models import (
    BOLUS_MODELS,
    _check_model,
    _evaluate,
    _Model,
)


class _DegenerateCurveError(ValueError):
    """A valid curve that holds no fittable bolus (flat, or peak not recorded).

    A ValueError for users of :func:`fit_bolus`; the extractor turns it into
    NaN features and a DegenerateROIWarning, since a non-enhancing lesion is a
    finding, not a mistake.
    """


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
        flat, its smoothed maximum lies at the first or last valid sample
        (wash-in or peak not recorded), or the fitted arrival time ``t0``
        lies before the first valid sample (the start of the wash-in was not
        recorded: a loop too short to hold the bolus).

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
    t0 = float(result.x[-1])
    if t0 < t[0]:
        # A bolus that "arrives" before the loop starts is an extrapolation:
        # the start of the wash-in was not recorded (e.g. a loop of a second),
        # so the arrival-based parameters would be invented, however good the
        # fit of the few samples there are.
        raise _DegenerateCurveError(
            f"the fitted bolus arrives at t0 = {t0:.3g} s, before the first "
            f"usable sample (t = {t[0]:g} s): the start of the wash-in was not "
            f"recorded, so the loop ({t[-1] - t[0]:.3g} s, {t.size} samples) is "
            "too short to fit a bolus"
        )
    return BolusFit(
        spec.name,
        dict(zip(names, map(float, result.x), strict=True)),
        qof=qof,
        n_samples=int(t.size),
        t_first=float(t[0]),
        t_last=float(t[-1]),
    )
