"""The bolus models: unit-area shapes g(tau), their calculus and evaluators."""

from __future__ import annotations

import abc
import math
import types
from typing import Any, ClassVar

import numpy as np
from scipy import special, stats


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
