"""LASSO selection: L1-penalised logistic regression tuned by k-fold CV."""

from __future__ import annotations

import copy
import inspect
import os
import threading
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted
from sklearn_compat.base import _fit_context
from sklearn_compat.utils._tags import ClassifierTags
from sklearn_compat.utils.validation import validate_data

from ceusradiomics.exceptions import EmptySelectionWarning, SmallSampleWarning
from ceusradiomics.selection._univariate import (
    _check_binary_target,
    _mann_whitney,
    _rank_sums,
)

__all__ = ["LassoSelector"]

# liblinear penalises the intercept like a coefficient of a constant column of
# this value; a large value makes that penalty negligible, as in glmnet, where
# the intercept is not penalised.
_INTERCEPT_SCALING = 1000.0

# liblinear draws its coordinate order from one generator per process, which
# scikit-learn seeds (from the estimator's random_state) just before each fit.
# Two fits in threads (the LASSO's folds, or the folds and branches of a
# StackingERClassifier with n_jobs) would seed and draw from it in turn, and
# each fit's result would depend on the other's timing. Every liblinear fit of
# this module holds this lock from the seeding to the end of the fit, so each
# fit draws from its own seed, whatever runs beside it.
_LIBLINEAR_LOCK = threading.Lock()


def _reset_lock_after_fork() -> None:
    # A fork while another thread holds the lock would leave the child's copy
    # locked forever.
    global _LIBLINEAR_LOCK
    _LIBLINEAR_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_after_fork)


def _fit_liblinear(model: LogisticRegression, X, y) -> LogisticRegression:
    """``model.fit(X, y)``, alone on liblinear's process-wide generator."""
    with _LIBLINEAR_LOCK:
        return model.fit(X, y)


def _sklearn_liblinear():
    """scikit-learn's liblinear driver, when its signature is the known one.

    ``LogisticRegression(solver="liblinear").fit`` validates its input and
    target and then calls ``sklearn.svm._base._fit_liblinear``; the LASSO's
    CV path (hundreds of fits on the same validated arrays) calls it directly,
    which halves the cost of a fit. It is private, so it is used only while
    its parameters are the ones expected (else ``LogisticRegression.fit``
    runs, with the same result), and a test pins the two to the same bits.
    """
    try:
        from sklearn.svm._base import _fit_liblinear as fit
    except ImportError:  # pragma: no cover - a future scikit-learn
        return None
    expected = [
        "X",
        "y",
        "C",
        "fit_intercept",
        "intercept_scaling",
        "class_weight",
        "penalty",
        "dual",
        "verbose",
        "max_iter",
        "tol",
        "random_state",
    ]
    names = list(inspect.signature(fit).parameters)
    return fit if names[: len(expected)] == expected else None


_LIBLINEAR_FIT = _sklearn_liblinear()


def _l1_kwargs(estimator_class) -> dict:
    """Keyword arguments selecting a pure L1 penalty on ``estimator_class``.

    scikit-learn 1.8 deprecated ``penalty`` in favour of ``l1_ratio`` /
    ``l1_ratios``, and 1.9 warns unless ``LogisticRegressionCV`` is told
    ``use_legacy_attributes``. Both are detected from the signature, so the
    same code runs warning-free from 1.6 on.
    """
    params = inspect.signature(estimator_class).parameters
    new_api = "penalty" not in params or params["penalty"].default == "deprecated"
    kwargs: dict = {}
    if not new_api:
        kwargs["penalty"] = "l1"
    elif "l1_ratios" in params:  # LogisticRegressionCV
        kwargs["l1_ratios"] = (1.0,)
    else:
        kwargs["l1_ratio"] = 1.0
    if "use_legacy_attributes" in params:
        kwargs["use_legacy_attributes"] = False
    return kwargs


class LassoSelector(SelectorMixin, BaseEstimator):
    r"""Keep the features with a non-zero L1 logistic-regression coefficient.

    Fits the LASSO logistic regression of the binary target on the features,
    with the penalty chosen by stratified k-fold cross-validation (the
    ``cv.glmnet`` recipe of radiomics studies), and keeps the features whose
    coefficient is not zero. The fitted model also gives the *radiomics
    score*, the linear combination of the selected features,
    :meth:`radiomics_score`.

    Parameters
    ----------
    cv : int, cross-validation splitter, iterable or None, default=10
        An int gives ``StratifiedKFold(cv, shuffle=True,
        random_state=random_state)``, with fewer folds when the minority
        class has fewer than ``cv`` samples (see Notes); a splitter or an
        iterable of (train, test) splits is used as is; None gives
        scikit-learn's default, 5 stratified folds without shuffling.
    Cs : int or array-like of float, default=20
        Inverse penalties tried. An int gives that many values spaced
        evenly on a log scale from :math:`C_{min}`, where the first feature
        enters the model, up to :math:`100\,C_{min}` when there are more
        samples than features and :math:`10^4\,C_{min}` otherwise (glmnet's
        ``lambda.min.ratio``).
    scoring : str or callable, default="roc_auc"
        Score maximised over the CV folds, as in
        :func:`sklearn.metrics.get_scorer`.
    random_state : int, RandomState instance or None, default=None
        Seeds the fold shuffling and liblinear's coordinate order.
    n_jobs : int, default=None
        Folds fitted in parallel (joblib threads); the results are the same
        whatever its value. liblinear's random generator is shared by the
        whole process, so the fits themselves take turns (see Notes) and
        only the scoring runs side by side: the gain is small.
    max_iter : int, default=1000
        Iterations of the solver per fit.
    tol : float, default=1e-4
        Stopping tolerance of the CV fits. The final refit, whose zeros are
        the selection, stops at ``tol / 100``: liblinear's criterion is
        loose, and an unconverged L1 fit keeps spurious tiny coefficients.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features_in_,)
        Coefficient of every input feature in the model refitted on all the
        data at ``C_``; zero for the features dropped.
    intercept_ : float
        Intercept of that model.
    C_ : float
        The inverse penalty with the best mean CV score.
    Cs_ : ndarray of shape (n_Cs,)
        The inverse penalties tried, increasing.
    cv_scores_ : ndarray of shape (n_folds_, n_Cs)
        Test score of every fold at every ``Cs_`` value.
    n_folds_ : int
        Number of CV folds run: ``cv``, or fewer when the minority class
        is smaller than ``cv`` (an int ``cv``), or the splitter's.
    estimator_ : LogisticRegression
        The model refitted on all the data at ``C_``.
    n_iter_ : int
        Solver iterations of that refit.
    classes_ : ndarray of shape (2,)
        The two class labels, sorted; ``classes_[1]`` is the positive class.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.linear_model.LogisticRegressionCV : The CV path computed here.
    sklearn.feature_selection.SelectFromModel : The generic version.

    Notes
    -----
    For labels :math:`y_i \in \{0, 1\}`, the model minimises

    .. math::

        \|w\|_1 + C \sum_i \log\left(1 + e^{-(2 y_i - 1)(x_i^\top w + b)}\right)

    with scikit-learn's ``liblinear`` solver, the coordinate-descent method
    of glmnet's family, which is the fastest here on a few hundred samples.
    The CV paths are those of
    :class:`~sklearn.linear_model.LogisticRegressionCV` (the same fits, in
    the same order, with the same seeds), computed without its per-fit
    overhead, and with the ROC AUC computed exactly from ranks; ``C_`` is
    the value with the highest mean fold score (on ties the smallest, i.e.
    the sparsest); the final model is refitted on all the data with
    ``intercept_scaling`` set to 1000, so that the intercept is, in effect,
    not penalised.

    The penalty treats all coefficients alike, so the features should be on
    one scale: use a :class:`~sklearn.preprocessing.StandardScaler` before,
    as the study does. The radiomics score is then that of standardised
    features.

    With an int ``cv``, every test fold must hold a sample of each class
    (otherwise its AUC is undefined), so the folds are lowered to the size
    of the minority class when it is smaller than ``cv``, with one
    :class:`~ceusradiomics.exceptions.SmallSampleWarning` per fit; fewer
    than 2 samples of a class is a :class:`ValueError`. The folds are
    stratified either way. Where the minority class allows ``cv`` folds,
    nothing changes.

    liblinear draws the order of its coordinates from one generator per
    process, which scikit-learn seeds right before each fit. So that a fit
    gives the same coefficients whatever runs beside it in other threads
    (the folds here with ``n_jobs``, or the branches and folds of a
    :class:`~ceusradiomics.ensemble.StackingERClassifier`), the liblinear
    fits of this class hold a process-wide lock from their seeding to
    their end: they run one at a time, and each from its own seed. liblinear
    fits outside this class (a ``LogisticRegression(solver="liblinear")``
    or a ``LinearSVC`` in another thread) do not take the lock.

    If every coefficient is zero, the feature with the largest
    :math:`|AUC - 0.5|` is kept, with the coefficient and intercept of a
    univariate (L2, ``C=1``) logistic regression on it, and an
    :class:`~ceusradiomics.exceptions.EmptySelectionWarning`.

    References
    ----------
    .. [1] R. Tibshirani, "Regression shrinkage and selection via the
           lasso", J. R. Statist. Soc. B 58(1), 267-288, 1996.
           :doi:`10.1111/j.2517-6161.1996.tb02080.x`
    .. [2] J. Friedman, T. Hastie and R. Tibshirani, "Regularization paths
           for generalized linear models via coordinate descent",
           J. Stat. Softw. 33(1), 1-22, 2010. :doi:`10.18637/jss.v033.i01`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.selection import LassoSelector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 6))
    >>> y = (X[:, 0] - X[:, 1] + 0.5 * rng.normal(size=120) > 0).astype(int)
    >>> lasso = LassoSelector(cv=5, random_state=0).fit(X, y)
    >>> bool(lasso.get_support()[0] and lasso.get_support()[1])
    True
    >>> bool(lasso.coef_[0] > 0 > lasso.coef_[1])
    True
    >>> lasso.radiomics_score(X[:3]).shape
    (3,)
    """

    _parameter_constraints: ClassVar[dict] = {
        "cv": ["cv_object"],
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "scoring": [StrOptions(set(get_scorer_names())), callable],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        cv=10,
        Cs=20,
        *,
        scoring="roc_auc",
        random_state=None,
        n_jobs: int | None = None,
        max_iter: int = 1000,
        tol: float = 1e-4,
    ):
        self.cv = cv
        self.Cs = Cs
        self.scoring = scoring
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.max_iter = max_iter
        self.tol = tol

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Choose the penalty by CV, refit, and keep the non-zero coefficients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Standardised feature table, no NaN.
        y : array-like of shape (n_samples,)
            Binary target.

        Returns
        -------
        self : LassoSelector
            The fitted selector.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        self.classes_, positive = _check_binary_target(y, type(self).__name__)
        rng = check_random_state(self.random_state)
        if isinstance(self.cv, Integral):
            n_folds = self._n_folds(positive)
            cv = StratifiedKFold(n_folds, shuffle=True, random_state=rng)
        else:
            cv = check_cv(self.cv, y, classifier=True)

        if isinstance(self.Cs, Integral):
            # At w = 0 with the best intercept, the gradient of the loss for
            # feature j is C * x_j . (p - y); no feature can enter while that
            # is below 1 for all j.
            grad = np.abs(X.T @ (positive - positive.mean()))
            top = grad.max(initial=0.0)
            c_min = 1.0 / top if top > 0 else 1.0
            span = 2.0 if X.shape[0] > X.shape[1] else 4.0
            Cs = c_min * np.logspace(0.0, span, self.Cs)
        else:
            Cs = np.sort(np.asarray(self.Cs, dtype=np.float64).ravel())

        target = positive.astype(np.intp)
        folds = list(cv.split(X, target))
        scores = self._path_scores(X, target, folds, Cs, rng)
        # LogisticRegressionCV, which this path replaces, drew one more seed
        # for a refit at the best C that is redone below with
        # intercept_scaling; drawing it keeps the final model's seed, and so
        # its coefficients, what they were.
        rng.randint(np.iinfo("i").max)
        mean = np.nanmean(scores, axis=0) if np.isfinite(scores).any() else None
        best = 0 if mean is None else int(np.nanargmax(mean))

        self.Cs_ = Cs
        self.cv_scores_ = scores
        self.n_folds_ = len(folds)
        self.C_ = float(self.Cs_[best])
        self.estimator_ = _fit_liblinear(
            LogisticRegression(
                C=self.C_,
                solver="liblinear",
                intercept_scaling=_INTERCEPT_SCALING,
                max_iter=self.max_iter,
                tol=self.tol / 100.0,
                random_state=rng,
                **_l1_kwargs(LogisticRegression),
            ),
            X,
            positive.astype(np.intp),
        )
        self.n_iter_ = int(np.max(self.estimator_.n_iter_))
        coef = self.estimator_.coef_.ravel().astype(np.float64)
        intercept = float(self.estimator_.intercept_[0])

        if not np.any(coef != 0):
            statistic, _ = _mann_whitney(X, positive)
            auc = statistic / (positive.sum() * (~positive).sum())
            keep = int(np.argmax(np.abs(auc - 0.5)))
            uni = LogisticRegression().fit(X[:, [keep]], positive.astype(np.intp))
            coef[keep] = uni.coef_[0, 0]
            intercept = float(uni.intercept_[0])
            name = (
                self.feature_names_in_[keep]
                if hasattr(self, "feature_names_in_")
                else f"x{keep}"
            )
            warnings.warn(
                f"the LASSO kept no feature (every coefficient is zero at "
                f"C={self.C_:.3g}); keeping the single feature with the "
                f"largest |AUC - 0.5|, {name!r} (AUC = {auc[keep]:.3f}).",
                EmptySelectionWarning,
                stacklevel=3,  # past the _fit_context wrapper, to the caller
            )
        self.coef_ = coef
        self.intercept_ = intercept
        return self

    def _n_folds(self, positive: np.ndarray) -> int:
        """``cv``, or the size of the minority class if smaller (one warning)."""
        counts = np.bincount(positive.astype(np.intp), minlength=2)
        minority = int(np.argmin(counts))
        smallest = int(counts[minority])
        label = self.classes_[1 if minority else 0]
        if hasattr(label, "item"):
            label = label.item()
        if smallest < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples of each class "
                f"for its cross-validation (2 folds, each holding a sample of "
                f"either class); class {label!r} has {smallest}."
            )
        if smallest >= self.cv:
            return int(self.cv)
        warnings.warn(
            f"{type(self).__name__}: cv={self.cv} folds lowered to {smallest}: "
            f"class {label!r} has only {smallest} of the {counts.sum()} samples, "
            f"and every test fold needs one of each class.",
            SmallSampleWarning,
            stacklevel=4,  # past _n_folds, fit and the _fit_context wrapper
        )
        return smallest

    def _path_scores(self, X, target, folds, Cs, rng) -> np.ndarray:
        """Test score of every fold (rows) at every C (columns).

        What :class:`~sklearn.linear_model.LogisticRegressionCV` computes
        with liblinear, fit for fit: the same models, fitted in the same
        order, seeded by the same draws from ``rng`` (liblinear takes one per
        fit) and scored on the same decision values, but without the per-fit
        overhead of its scorer (which re-checks the target and builds the ROC
        curve each time), more costly than the fits on the study's tables.
        The ROC AUC is computed from the rank sum of the positive class: exact,
        where scikit-learn's trapezoids may differ in the last bit, so equal
        mean scores stay equal and "on ties the smallest C" holds.
        """
        kwargs = {
            "solver": "liblinear",
            "intercept_scaling": _INTERCEPT_SCALING,
            "max_iter": self.max_iter,
            "tol": self.tol,
            **_l1_kwargs(LogisticRegression),
        }
        scorer = get_scorer(self.scoring)

        def fold_scores(train, test, fold_rng):
            # C-ordered float64, as LogisticRegression.fit would pass them on.
            X_train, y_train = np.ascontiguousarray(X[train]), target[train]
            X_test, y_test = X[test], target[test]
            positive = y_test == 1
            exact_auc = self.scoring == "roc_auc" and 0 < positive.sum() < len(test)
            scores = np.empty(len(Cs))
            decisions = np.empty((len(Cs), len(test)))
            direct = exact_auc and _LIBLINEAR_FIT is not None
            for k, C in enumerate(Cs):
                if direct:
                    # LogisticRegression.fit's own call, without its checks.
                    with _LIBLINEAR_LOCK:
                        coef, intercept, _ = _LIBLINEAR_FIT(
                            X_train, y_train, C, True, _INTERCEPT_SCALING, None,
                            "l1", False, 0, self.max_iter, self.tol, fold_rng,
                        )  # fmt: skip
                    decisions[k] = X_test @ coef.ravel() + intercept[0]
                    continue
                model = LogisticRegression(C=C, random_state=fold_rng, **kwargs)
                _fit_liblinear(model, X_train, y_train)
                if exact_auc:
                    # As LogisticRegressionCV scores: x . w + b, w 1-D.
                    decisions[k] = X_test @ model.coef_.ravel() + model.intercept_[0]
                else:
                    scores[k] = scorer(model, X_test, y_test)
            if exact_auc:
                R1, _ = _rank_sums(decisions, positive)
                n1 = int(positive.sum())
                n0 = positive.size - n1
                scores = (R1 - n1 * (n1 + 1) / 2) / (n1 * n0)
            return scores

        # Each fit draws one seed from rng. Sequentially, the folds share it;
        # in parallel, each fold gets a copy in the state the shared one
        # would have at its first fit, so the seeds, and the results, do not
        # depend on n_jobs (and _fit_liblinear keeps each fit on its seed).
        with config_context(assume_finite=True, skip_parameter_validation=True):
            if self.n_jobs is None or self.n_jobs == 1 or len(folds) == 1:
                rows = [fold_scores(train, test, rng) for train, test in folds]
            else:
                fold_rngs = []
                for _ in folds:
                    fold_rngs.append(copy.deepcopy(rng))
                    for _ in Cs:
                        rng.randint(np.iinfo("i").max)
                rows = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                    delayed(fold_scores)(train, test, fold_rng)
                    for (train, test), fold_rng in zip(folds, fold_rngs, strict=True)
                )
        return np.array(rows, dtype=np.float64).reshape(len(folds), len(Cs))

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.coef_ != 0

    def radiomics_score(self, X) -> np.ndarray:
        r"""Radiomics score: the fitted linear combination of the features.

        .. math::

            \mathrm{score}(x) = b + \sum_{j \in S} w_j x_j

        over the selected features :math:`S`; it is the log-odds of the
        positive class (``classes_[1]``) under the LASSO model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            The same (standardised) features as in ``fit``, all of them, not
            only the selected ones.

        Returns
        -------
        score : ndarray of shape (n_samples,)
            The radiomics score of each sample.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        support = self.coef_ != 0
        return X[:, support] @ self.coef_[support] + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # Not a classifier, but binary-only like one: the tag tells
        # scikit-learn's common checks to pass two-class targets.
        tags.classifier_tags = ClassifierTags(multi_class=False)
        return tags
