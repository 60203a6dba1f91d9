r"""ComBat harmonisation of features across centres (batches), inside a pipeline.

Radiomic features depend on the scanner, the probe and their settings, so a
model trained in one hospital degrades in the next. ComBat [1]_ models each
feature :math:`j` of lesion :math:`i` in batch (centre) :math:`k` as

.. math::

    y_{ij} = \alpha_j + x_i^\top \beta_j + \gamma_{kj} + \delta_{kj}\,
    \varepsilon_{ij}, \qquad \varepsilon_{ij} \sim N(0, \sigma_j^2),

with :math:`x_i` covariates whose effect is kept (e.g. outcome-free clinical
factors), an additive (:math:`\gamma`) and a multiplicative
(:math:`\delta`) batch effect, shrunk towards their mean over the features
by empirical Bayes, and removes the batch effects:

.. math::

    y^{*}_{ij} = \frac{y_{ij} - \hat\alpha_j - x_i^\top\hat\beta_j
    - \gamma^{*}_{kj}}{\delta^{*}_{kj}} + \hat\alpha_j + x_i^\top\hat\beta_j .

This is the algorithm of R's ``sva::ComBat`` and of Fortin et al.'s
neuroCombat [2]_, in the same order of operations, so the results agree to
rounding (tested against neuroCombat 0.2.12 to 1e-8). Why not reuse them:
neuroHarmonize requires ``numpy<2`` and ``pandas<3``; neuroCombat prints to
stdout, casts a DataFrame and continuous covariates to float32, uses the
removed ``np.int`` with a reference batch, and its
``neuroCombatFromTraining`` (new data from fitted estimates) gives new rows
the training rows' *mean* covariate effect instead of their own. Neither is
a scikit-learn transformer, so neither fits on the training folds only.

:class:`ComBat` learns on the training rows and applies the same estimates
to new rows of the batches it saw. For a batch it did not see (a new
hospital), ``unseen="estimate"`` estimates that batch's location and scale
from the rows being transformed (their features, never their outcomes), so a
lesion's harmonised values then depend on the other lesions of its centre
in the same call; the default refuses such rows.

References
----------
.. [1] W. E. Johnson, C. Li, A. Rabinovic, "Adjusting batch effects in
   microarray expression data using empirical Bayes methods",
   Biostatistics 8(1), 118-127, 2007. :doi:`10.1093/biostatistics/kxj037`
.. [2] J.-P. Fortin et al., "Harmonization of cortical thickness
   measurements across scanners and sites", NeuroImage 167, 104-120, 2018.
   :doi:`10.1016/j.neuroimage.2017.11.024`
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted
from sklearn_compat.base import _fit_context

from ceusradiomics.exceptions import CeusRadiomicsWarning

__all__ = ["ComBat", "HarmonizationWarning", "combat_apply", "combat_fit"]

# sva::ComBat's (and neuroCombat's) convergence threshold of the EB iteration.
_CONV = 1e-4
_MAX_ITER = 1000


class HarmonizationWarning(CeusRadiomicsWarning):
    """Features that ComBat leaves as they are (constant, or too few values)."""


# ----------------------------------------------------------- the maths


def _covariate_effect(covariates: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``covariates @ beta``, summed term by term in a fixed order: a row's
    value does not depend on the other rows (a BLAS product's blocking does)."""
    out = np.zeros((covariates.shape[0], beta.shape[1]))
    for k in range(covariates.shape[1]):
        out += covariates[:, k : k + 1] * beta[k]
    return out


def _priors(gamma_hat: np.ndarray, delta_hat: np.ndarray) -> tuple:
    """The EB hyper-parameters of one batch, over the features (method of moments).

    gamma ~ N(gamma_bar, t2); delta ~ InverseGamma(a, b) with a, b matching
    the mean and variance of delta_hat.
    """
    gamma_bar = gamma_hat.mean()
    t2 = gamma_hat.var(ddof=1)
    m = delta_hat.mean()
    s2 = delta_hat.var(ddof=1)
    return gamma_bar, t2, (2 * s2 + m**2) / s2, (m * s2 + m**3) / s2


def _parametric(sdat, gamma_hat, delta_hat, gamma_bar, t2, a, b):
    """Posterior means of gamma and delta of one batch (sva's ``it.sol``)."""
    n = np.isfinite(sdat).sum(axis=0)
    g_old, d_old = gamma_hat.copy(), delta_hat.copy()
    for _ in range(_MAX_ITER):
        g_new = (t2 * n * gamma_hat + d_old * gamma_bar) / (t2 * n + d_old)
        sum2 = np.nansum((sdat - g_new) ** 2, axis=0)
        d_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
        # sva's criterion, kept as it is (relative to the signed old value) so
        # that the iterations stop where the reference implementations stop.
        with np.errstate(divide="ignore", invalid="ignore"):
            change = max(
                np.nanmax(np.abs(g_new - g_old) / g_old),
                np.nanmax(np.abs(d_new - d_old) / d_old),
            )
        g_old, d_old = g_new, d_new
        if not change > _CONV:
            break
    return g_new, d_new


def _non_parametric(sdat, gamma_hat, delta_hat):
    """sva's ``int.eprior``: each feature's gamma and delta as the likelihood-
    weighted mean of the other features' estimates, in log space (the
    likelihoods underflow for batches of a few dozen rows)."""
    finite = np.isfinite(sdat)
    x = np.where(finite, sdat, 0.0)
    n = finite.sum(axis=0).astype(float)  # per feature
    sum_x = x.sum(axis=0)
    sum_x2 = (x * x).sum(axis=0)
    # sum2[i, j] = sum over the rows of (x_ri - gamma_j)^2
    sum2 = sum_x2[:, None] - 2.0 * gamma_hat[None, :] * sum_x[:, None]
    sum2 += n[:, None] * gamma_hat[None, :] ** 2
    log_lh = -0.5 * n[:, None] * np.log(2 * np.pi * delta_hat[None, :])
    log_lh -= sum2 / (2.0 * delta_hat[None, :])
    np.fill_diagonal(log_lh, -np.inf)  # leave the feature itself out
    log_lh -= log_lh.max(axis=1, keepdims=True)
    weights = np.exp(log_lh)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ gamma_hat, weights @ delta_hat


def _batch_effects(sdat, *, eb: bool, parametric: bool, mean_only: bool):
    """gamma* and delta* of one batch's standardised rows (rows x features)."""
    gamma_hat = np.nanmean(sdat, axis=0)
    if mean_only:
        delta_hat = np.ones(sdat.shape[1])
    else:
        delta_hat = np.nanvar(sdat, axis=0, ddof=1)
        delta_hat[delta_hat == 0] = 1.0
    if not eb:
        return gamma_hat, delta_hat
    if not parametric:
        return _non_parametric(sdat, gamma_hat, delta_hat)
    if mean_only:
        # sva's location-only shrinkage: postmean with n = 1 and d = 1.
        gamma_bar, t2 = gamma_hat.mean(), gamma_hat.var(ddof=1)
        return (t2 * gamma_hat + gamma_bar) / (t2 + 1.0), delta_hat
    gamma_bar, t2, a, b = _priors(gamma_hat, delta_hat)
    return _parametric(sdat, gamma_hat, delta_hat, gamma_bar, t2, a, b)


def combat_fit(
    Y: np.ndarray,
    batch: np.ndarray,
    covariates: np.ndarray | None = None,
    *,
    eb: bool = True,
    parametric: bool = True,
    mean_only: bool = False,
    reference: Any = None,
) -> dict[str, Any]:
    """ComBat's estimates from training rows (the maths of :class:`ComBat`).

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_features)
        Features, finite or NaN (a NaN is left out of every sum).
    batch : ndarray of shape (n_samples,)
        The batch label of each row; every batch needs two rows or more.
    covariates : ndarray of shape (n_samples, n_covariates), optional
        The design of the effects to keep (one-hot categories without their
        first level, continuous values), without an intercept.
    eb, parametric, mean_only : bool
        Empirical Bayes (else the per-batch estimates as they are),
        parametric priors (else sva's non-parametric ones), location only.
    reference : label, optional
        A batch whose rows stay as they are and to whose location and scale
        the others are moved (Zhang et al.'s reference-batch ComBat).

    Returns
    -------
    dict
        ``levels`` (sorted batch labels), ``grand_mean`` and ``var_pooled``
        (per feature), ``beta`` (covariate effects, n_covariates x
        n_features), ``gamma``, ``delta`` (levels x features) and
        ``reference``.
    """
    Y = np.asarray(Y, dtype=np.float64)
    batch = np.asarray(batch)
    levels, codes, counts = np.unique(batch, return_inverse=True, return_counts=True)
    n, m = Y.shape
    onehot = np.zeros((n, len(levels)))
    onehot[np.arange(n), codes] = 1.0
    ref = None
    if reference is not None:
        ref = int(np.flatnonzero(levels == reference)[0])
        onehot[:, ref] = 1.0  # sva's design with a reference batch
    cov = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, float)
    design = np.hstack([onehot, cov])
    finite = np.isfinite(Y)
    coefs = np.empty((design.shape[1], m))
    complete = finite.all(axis=0)
    if complete.any():
        # (D'D)^-1 D'Y as the references compute it (normal equations).
        gram_inv = np.linalg.inv(design.T @ design)
        coefs[:, complete] = gram_inv @ design.T @ Y[:, complete]
    for j in np.flatnonzero(~complete):
        rows = finite[:, j]
        d = design[rows]
        coefs[:, j] = np.linalg.inv(d.T @ d) @ d.T @ Y[rows, j]
    k = len(levels)
    # The pooled location: the batches' intercepts weighted by their sizes,
    # or the reference batch's own.
    grand_mean = (counts / n) @ coefs[:k] if ref is None else coefs[ref].copy()
    residual = Y - design @ coefs
    rows = slice(None) if ref is None else codes == ref
    var_pooled = np.nanmean(residual[rows] ** 2, axis=0)
    beta = coefs[k:]
    mod_mean = _covariate_effect(cov, beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        sdat = (Y - grand_mean - mod_mean) / np.sqrt(var_pooled)
    gamma = np.empty((k, m))
    delta = np.empty((k, m))
    for level in range(k):
        gamma[level], delta[level] = _batch_effects(
            sdat[codes == level], eb=eb, parametric=parametric, mean_only=mean_only
        )
    if ref is not None:
        gamma[ref], delta[ref] = 0.0, 1.0
    return {
        "levels": levels,
        "grand_mean": grand_mean,
        "var_pooled": var_pooled,
        "beta": beta,
        "gamma": gamma,
        "delta": delta,
        "reference": ref,
    }


def combat_apply(
    estimates: dict[str, Any],
    Y: np.ndarray,
    codes: np.ndarray,
    covariates: np.ndarray | None = None,
) -> np.ndarray:
    """Remove the fitted batch effects from rows of known batches.

    ``codes`` indexes ``estimates["levels"]``; each row is adjusted with its
    own covariates and its batch's ``gamma`` and ``delta``, independently
    of the other rows. Rows of the reference batch are returned unchanged.
    """
    Y = np.asarray(Y, dtype=np.float64)
    n = Y.shape[0]
    cov = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, float)
    mod_mean = _covariate_effect(cov, estimates["beta"])
    scale = np.sqrt(estimates["var_pooled"])
    with np.errstate(divide="ignore", invalid="ignore"):
        sdat = (Y - estimates["grand_mean"] - mod_mean) / scale
        out = (sdat - estimates["gamma"][codes]) / np.sqrt(estimates["delta"][codes])
    out = out * scale + estimates["grand_mean"] + mod_mean
    ref = estimates["reference"]
    if ref is not None:
        out[codes == ref] = Y[codes == ref]
    return out


# ----------------------------------------------------------- the estimator


class ComBat(TransformerMixin, BaseEstimator):
    """ComBat harmonisation of the features across batches (centres, scanners).

    Learns each feature's additive and multiplicative batch effects on the
    training rows (empirical Bayes, Johnson et al. 2007; the neuroimaging
    implementation of Fortin et al. 2018) and removes them from any rows of
    those batches, keeping the effect of `covariates`. Read more in
    ``docs/guide/harmonize.md``.

    The batch (and covariate) columns travel in `X` next to the features and
    are dropped from the output; a :class:`~ceusradiomics.TextureExtractor`
    drops every column that is not its own, so in a records pipeline pass
    them around it (:func:`~ceusradiomics.ensemble.make_study_pipeline`'s
    ``harmonize="center"`` does).

    Parameters
    ----------
    batch : str, default="center"
        The column of `X` holding each lesion's batch.
    covariates : list of str, optional
        Columns whose effect on the features is kept (estimated jointly and
        added back): outcome-free factors such as age or the liver's
        cirrhosis. Non-numeric columns are categorical (one-hot, first level
        dropped). Never the outcome: new lesions do not have it.
    parametric : bool, default=True
        Parametric EB priors (normal / inverse gamma), else sva's
        non-parametric priors.
    eb : bool, default=True
        Shrink the batch effects by empirical Bayes; False uses each
        batch's own mean and variance.
    mean_only : bool, default=False
        Remove the location effect only.
    reference_batch : label, optional
        A batch left unchanged, to which the others are moved.
    unseen : {"error", "estimate"}, default="error"
        Rows of a batch absent from ``fit``: ``"error"`` raises a
        ``ValueError`` naming them; ``"estimate"`` estimates that batch's
        effects from the rows being transformed (at least 2; their features
        only) against the fitted pooled mean and variance.

    Attributes
    ----------
    batches_ : ndarray
        The batches seen in ``fit`` (sorted).
    feature_names_in_ : ndarray of str
        All columns of `X` in ``fit``.
    features_ : ndarray of str
        The harmonised columns (the others but the batch and covariates).
    harmonised_ : ndarray of str
        The features harmonised (`features_` less `passthrough_`).
    gamma_ : ndarray of shape (n_batches, n_harmonised)
        The additive effects (rows `batches_`, columns `harmonised_`), in
        units of the pooled SD.
    delta_ : ndarray of shape (n_batches, n_harmonised)
        The multiplicative effects on the variance.
    grand_mean_, var_pooled_ : ndarray of shape (n_harmonised,)
        The pooled location and variance of each harmonised feature.
    passthrough_ : ndarray of str
        Features left as they were: constant in the training rows, or with
        fewer than two values in a batch (a :class:`HarmonizationWarning`
        names them), or without any value (silently).

    See Also
    --------
    combat_fit, combat_apply : The maths on arrays.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from ceusradiomics.harmonize import ComBat
    >>> rng = np.random.default_rng(0)
    >>> center = np.repeat(["A", "B"], 50)
    >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["f1", "f2", "f3"])
    >>> X.loc[center == "B", :] = X.loc[center == "B", :] * 2 + 5  # scanner B
    >>> X["center"] = center
    >>> Z = ComBat().fit_transform(X)
    >>> list(Z.columns)
    ['f1', 'f2', 'f3']
    >>> gap = Z.groupby(center).mean().diff().iloc[-1].abs()
    >>> bool((gap < 0.3).all())
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "batch": [str],
        "covariates": [None, list, tuple],
        "parametric": ["boolean"],
        "eb": ["boolean"],
        "mean_only": ["boolean"],
        "reference_batch": "no_validation",
        "unseen": [StrOptions({"error", "estimate"})],
    }

    def __init__(
        self,
        batch: str = "center",
        covariates: list[str] | None = None,
        *,
        parametric: bool = True,
        eb: bool = True,
        mean_only: bool = False,
        reference_batch: Any = None,
        unseen: str = "error",
    ):
        self.batch = batch
        self.covariates = covariates
        self.parametric = parametric
        self.eb = eb
        self.mean_only = mean_only
        self.reference_batch = reference_batch
        self.unseen = unseen

    # ------------------------------------------------------------- helpers

    def _check_frame(self, X: Any) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                "ComBat needs a DataFrame holding the features and the batch "
                f"column {self.batch!r}; got {type(X).__name__}"
            )
        needed = [self.batch, *(self.covariates or ())]
        missing = [c for c in needed if c not in X.columns]
        if missing:
            raise ValueError(
                f"X lacks the column(s) {missing}: ComBat reads the batch "
                f"({self.batch!r}) and the covariates from X"
            )
        batch = X[self.batch]
        if batch.isna().any():
            lesions = X.index[batch.isna()].tolist()
            raise ValueError(
                f"lesion(s) {lesions[:5]} have no batch in column {self.batch!r}"
            )
        return X

    def _covariate_design(self, X: pd.DataFrame, fit: bool) -> np.ndarray | None:
        names = list(self.covariates or ())
        if not names:
            return None
        if fit:
            self.covariate_levels_ = {}
            for name in names:
                column = X[name]
                if not pd.api.types.is_numeric_dtype(column) or isinstance(
                    column.dtype, pd.CategoricalDtype
                ):
                    self.covariate_levels_[name] = np.unique(column.astype(str))
        blocks = []
        for name in names:
            column = X[name]
            if column.isna().any():
                raise ValueError(
                    f"covariate {name!r} is missing for lesion(s) "
                    f"{X.index[column.isna()].tolist()[:5]}"
                )
            levels = self.covariate_levels_.get(name)
            if levels is None:
                blocks.append(column.to_numpy(dtype=np.float64)[:, None])
                continue
            values = column.astype(str).to_numpy()
            unknown = sorted(set(values) - set(levels))
            if unknown:
                raise ValueError(
                    f"covariate {name!r} has level(s) {unknown} not seen in fit "
                    f"(levels {levels.tolist()})"
                )
            blocks.append((values[:, None] == levels[None, 1:]).astype(np.float64))
        return np.hstack(blocks)

    # ----------------------------------------------------------------- API

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: pd.DataFrame, y: Any = None) -> ComBat:
        """Learn the batch effects from the training rows.

        Parameters
        ----------
        X : DataFrame
            Features plus the batch column (and the covariates).
        y : ignored
            Not used: ComBat never reads the outcome.

        Returns
        -------
        self : ComBat
        """
        X = self._check_frame(X)
        others = {self.batch, *(self.covariates or ())}
        features = [c for c in X.columns if c not in others]
        if not features:
            raise ValueError("X has no feature column besides the batch and covariates")
        values = X[features]
        non_numeric = [
            c for c in features if not pd.api.types.is_numeric_dtype(values[c])
        ]
        if non_numeric:
            raise TypeError(
                f"ComBat harmonises numeric features; columns {non_numeric[:5]} are "
                "not numeric (name them in covariates, or drop them)"
            )
        Y = values.to_numpy(dtype=np.float64)
        if np.isinf(Y).any():
            raise ValueError("X holds infinite feature values")
        batch = X[self.batch].to_numpy()
        levels, codes, counts = np.unique(
            batch, return_inverse=True, return_counts=True
        )
        if len(levels) < 2:
            raise ValueError(
                f"ComBat needs at least 2 batches in {self.batch!r}; got only "
                f"{levels.tolist()}"
            )
        if (counts < 2).any():
            raise ValueError(
                f"every batch needs at least 2 lesions; {levels[counts < 2].tolist()} "
                "have 1"
            )
        if self.reference_batch is not None and self.reference_batch not in levels:
            raise ValueError(
                f"reference_batch={self.reference_batch!r} is not a batch of X "
                f"({levels.tolist()})"
            )
        covariates = self._covariate_design(X, fit=True)
        if covariates is not None:
            design = np.hstack([np.eye(len(levels))[codes], covariates])
            if np.linalg.matrix_rank(design) < design.shape[1]:
                raise ValueError(
                    "the covariates are collinear with the batches (e.g. a "
                    "covariate constant within each batch): their effect cannot "
                    "be told apart from the batch effect"
                )
        # Features ComBat cannot estimate stay as they are.
        finite = np.isfinite(Y)
        per_batch = np.stack(
            [finite[codes == k].sum(axis=0) for k in range(len(levels))]
        )
        varies = np.where(finite, Y, -np.inf).max(axis=0) > np.where(
            finite, Y, np.inf
        ).min(axis=0)
        usable = (per_batch >= 2).all(axis=0) & varies
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.features_ = np.asarray(features, dtype=object)
        self.passthrough_ = self.features_[~usable]
        # Features without any value (a wavelet scale no ROI holds) pass
        # through silently: the EmptyFeatureFilter after ComBat reports them.
        odd = ~usable & finite.any(axis=0)
        if odd.any():
            warnings.warn(
                f"ComBat leaves {int(odd.sum())} of {len(features)} features "
                "as they are (constant in the training rows, or fewer than 2 values "
                f"in a batch): {self.features_[odd][:5].tolist()}",
                HarmonizationWarning,
                stacklevel=2,
            )
        if not usable.any():
            raise ValueError("no feature can be harmonised (all constant or empty)")
        self._usable = usable
        estimates = combat_fit(
            Y[:, usable],
            batch,
            covariates,
            eb=self.eb,
            parametric=self.parametric,
            mean_only=self.mean_only,
            reference=self.reference_batch,
        )
        self._estimates = estimates
        self.batches_ = levels
        # Arrays, not frames: a model file (skops) stores arrays, not pandas.
        self.harmonised_ = self.features_[usable]
        self.gamma_ = estimates["gamma"]
        self.delta_ = estimates["delta"]
        self.grand_mean_ = estimates["grand_mean"]
        self.var_pooled_ = estimates["var_pooled"]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Remove the batch effects from the rows of `X`.

        Parameters
        ----------
        X : DataFrame
            The fitted feature columns plus the batch column (and the
            covariates).

        Returns
        -------
        DataFrame of shape (n_lesions, n_features)
            The harmonised features (`features_`), indexed like `X`.

        Raises
        ------
        ValueError
            For rows of a batch not seen in ``fit`` (with ``unseen="error"``),
            missing columns, or covariate levels not seen in ``fit``.
        """
        check_is_fitted(self)
        X = self._check_frame(X)
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks {len(missing)} fitted feature(s): {missing[:5]}")
        Y = X[list(self.features_)].to_numpy(dtype=np.float64)
        batch = X[self.batch].to_numpy()
        known = np.isin(batch, self.batches_)
        if not known.all() and self.unseen == "error":
            new = sorted(set(batch[~known].tolist()), key=str)
            lesions = X.index[~known].tolist()
            raise ValueError(
                f"batch(es) {new} of lesion(s) {lesions[:5]} were not seen in fit "
                f"(batches {self.batches_.tolist()}); refit with them, or use "
                "unseen='estimate' to estimate a new batch's effects from its rows"
            )
        covariates = self._covariate_design(X, fit=False)
        usable = self._usable
        out = Y.copy()
        part = Y[:, usable]
        harmonised = np.empty_like(part)
        if known.any():
            codes = np.searchsorted(self.batches_, batch[known])
            harmonised[known] = combat_apply(
                self._estimates,
                part[known],
                codes,
                None if covariates is None else covariates[known],
            )
        for level in pd.unique(batch[~known]):
            rows = batch == level
            if rows.sum() < 2:
                raise ValueError(
                    f"unseen batch {level!r} has {int(rows.sum())} lesion; "
                    "unseen='estimate' needs at least 2 to estimate its effects"
                )
            harmonised[rows] = self._estimate_new_batch(
                part[rows], None if covariates is None else covariates[rows]
            )
        out[:, usable] = harmonised
        return pd.DataFrame(out, index=X.index, columns=list(self.features_))

    def _estimate_new_batch(self, Y: np.ndarray, covariates) -> np.ndarray:
        """A batch unseen in fit, from its own rows: its gamma and delta
        against the fitted pooled mean and variance. Features with fewer than
        2 values in these rows keep their values (nothing to estimate)."""
        est = self._estimates
        cov = np.zeros((len(Y), 0)) if covariates is None else covariates
        with np.errstate(divide="ignore", invalid="ignore"):
            sdat = (Y - est["grand_mean"] - _covariate_effect(cov, est["beta"])) / (
                np.sqrt(est["var_pooled"])
            )
        enough = np.isfinite(sdat).sum(axis=0) >= 2
        gamma = np.zeros(Y.shape[1])
        delta = np.ones(Y.shape[1])
        gamma[enough], delta[enough] = _batch_effects(
            sdat[:, enough],
            eb=self.eb,
            parametric=self.parametric,
            mean_only=self.mean_only,
        )
        new = {**est, "gamma": gamma[None], "delta": delta[None], "reference": None}
        return combat_apply(new, Y, np.zeros(len(Y), dtype=int), covariates)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The harmonised feature names (the batch and covariates dropped)."""
        check_is_fitted(self)
        return self.features_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
