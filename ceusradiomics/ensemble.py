"""The study's models: radiomics and deep branches, and their late-fusion stack.

:func:`make_study_pipeline` builds one branch (the radiomics model: MaZda
texture -> ICC -> z-score -> U test -> correlation pruning -> LASSO -> random
forest; the deep model: ResNet-50 -> the same selection -> SVM) and
:class:`StackingERClassifier` stacks them with a logistic meta-learner on
out-of-fold predictions, as the study's "combined model". Every selection step
sits inside its branch's pipeline, so cross-validation refits it on each
training fold and nothing leaks from the held-out rows.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from joblib import parallel_config
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import RandomForestClassifier, StackingClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils import _safe_indexing
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from ceusradiomics._state import FrameState
from ceusradiomics.clinical import ScreenedLogisticRegression
from ceusradiomics.extractors import ResNetFeaturizer, TextureExtractor
from ceusradiomics.harmonize import ComBat
from ceusradiomics.selection import (
    CorrelationPruner,
    EmptyFeatureFilter,
    ICCFilter,
    LassoSelector,
    MannWhitneySelector,
)

__all__ = ["RadiomicsScore", "StackingERClassifier", "make_study_pipeline"]

#: Column patterns that tell the two branches apart in a precomputed table.
DEEP_COLUMNS = r"_resnet50_"
TEXTURE_COLUMNS = r"^(?!.*_resnet50_)"
#: The columns of the records frame that the image extractors read.
RECORD_COLUMNS = r"_(?:image|mask|frame)(?:_|$)"


class _Columns:
    """A picklable column selector: names matching `pattern`, less `exclude`."""

    def __init__(self, pattern: str, exclude: tuple[str, ...] = ()):
        self.pattern = pattern
        self.exclude = tuple(exclude)

    def __call__(self, X: pd.DataFrame) -> list[str]:
        chosen = make_column_selector(pattern=self.pattern)(X)
        return [c for c in chosen if c not in self.exclude]

    def __repr__(self) -> str:
        return f"_Columns({self.pattern!r}, exclude={list(self.exclude)!r})"


def _with_batch(name: str, step: Any, pattern: str, batch: str) -> tuple[str, Any]:
    """The extraction step with the batch column passed around it (to ComBat):
    `step` on the columns matching `pattern`, the `batch` column as it is."""
    return (
        "columntransformer",
        ColumnTransformer(
            [
                (name, step, _Columns(pattern, exclude=(batch,))),
                ("batch", "passthrough", [batch]),
            ],
            verbose_feature_names_out=False,
        ).set_output(transform="pandas"),
    )


def _rows(X, index):
    return _safe_indexing(X, index)


class RadiomicsScore(TransformerMixin, BaseEstimator):
    """The radiomics score of a fitted selection pipeline, as one feature.

    Fits `pipeline` (a radiomics branch that ends in a
    :class:`~ceusradiomics.LassoSelector`, e.g. ``make_study_pipeline(
    "radiomics")[:-1]``) on ``(X, y)`` and outputs the LASSO's linear
    predictor, :meth:`~ceusradiomics.LassoSelector.radiomics_score`, as the
    column ``radiomics_score``: the score of the "radiomics nomogram",
    computed inside each fit, so cross-validation never scores a lesion with
    a LASSO that saw it.

    ``fit_transform`` cross-fits, as scikit-learn's ``TargetEncoder`` does:
    the training rows' scores come from LASSOs fitted on the other folds, so
    the model that follows (the nomogram's logistic regression) learns the
    weight of an honest score, not of one that has seen its own lesions (a
    LASSO score on its training lesions separates them far better than on
    new ones). ``transform`` uses the LASSO fitted on all training rows.

    Parameters
    ----------
    pipeline : Pipeline
        Ends in a LassoSelector.
    cv : int, cross-validation generator or None, default=5
        Folds of the cross-fitting in ``fit_transform`` (stratified, shuffled
        with `random_state` for an int); ``None`` gives the training rows
        their in-sample scores, as most published nomograms do.
    random_state : int, RandomState instance or None, default=None
        Shuffles the cross-fitting folds.

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted clone of `pipeline`.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ceusradiomics import LassoSelector
    >>> from ceusradiomics.ensemble import RadiomicsScore
    >>> X, y = make_classification(n_samples=80, n_features=10, random_state=0)
    >>> X = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)])
    >>> score = RadiomicsScore(
    ...     make_pipeline(StandardScaler(), LassoSelector(cv=5, random_state=0))
    ... ).set_output(transform="pandas")
    >>> score.fit_transform(X, y).columns.tolist()
    ['radiomics_score']
    """

    _parameter_constraints: ClassVar[dict] = {
        "pipeline": [Pipeline],
        "cv": ["cv_object", None],
        "random_state": ["random_state"],
    }

    def __init__(self, pipeline: Pipeline, *, cv=5, random_state=None):
        self.pipeline = pipeline
        self.cv = cv
        self.random_state = random_state

    def fit(self, X, y):
        """Fit the pipeline (selection and LASSO) on ``(X, y)``.

        Parameters
        ----------
        X : DataFrame
            The pipeline's input (records frame or feature table).
        y : array-like of shape (n_samples,)
            Binary outcome.

        Returns
        -------
        self : RadiomicsScore
        """
        self._validate_params()
        if not isinstance(self.pipeline[-1], LassoSelector):
            raise TypeError(
                "RadiomicsScore needs a pipeline that ends in a LassoSelector; "
                f"got {type(self.pipeline[-1]).__name__}"
            )
        self.pipeline_ = clone(self.pipeline).fit(X, y)
        return self

    def fit_transform(self, X, y):
        """Fit, and the cross-fitted radiomics scores of the training rows.

        Parameters
        ----------
        X : DataFrame
            As in :meth:`fit`.
        y : array-like of shape (n_samples,)
            Binary outcome.

        Returns
        -------
        ndarray of shape (n_samples, 1)
            Each row's score from a LASSO that did not see it (``cv=None``:
            the in-sample scores).
        """
        self.fit(X, y)
        if self.cv is None:
            return self.transform(X)
        cv = self.cv
        if isinstance(cv, int):
            cv = StratifiedKFold(cv, shuffle=True, random_state=self.random_state)
        y = np.asarray(y)
        scores = np.empty(len(y))
        for train, test in cv.split(X, y):
            part = _rows(X, train)
            fold = clone(self.pipeline).fit(part, y[train])
            held = fold[:-1].transform(_rows(X, test))
            scores[test] = fold[-1].radiomics_score(held)
        return scores[:, None]

    def transform(self, X):
        """The radiomics score of each row, as a one-column array.

        Parameters
        ----------
        X : DataFrame
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, 1)
        """
        check_is_fitted(self)
        features = self.pipeline_[:-1].transform(X)
        return self.pipeline_[-1].radiomics_score(features)[:, None]

    def get_feature_names_out(self, input_features=None):
        """``["radiomics_score"]``."""
        return np.asarray(["radiomics_score"], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def make_study_pipeline(
    branch: str = "radiomics",
    *,
    input: str = "records",
    phases: tuple[str, ...] | None = ("US", "AP", "PP"),
    readers: str = "all",
    icc_threshold: float = 0.75,
    alpha: float = 0.05,
    correlation_threshold: float = 0.6,
    lasso_cv: int = 10,
    weights: str | None = "IMAGENET1K_V2",
    head: int | None = None,
    image_size: int = 224,
    n_jobs: int | None = None,
    random_state: int | None = None,
    verbose: bool = False,
    texture_params: dict[str, Any] | None = None,
    columns: list[str] | None = None,
    clinical_columns: list[str] | None = None,
    harmonize: str | None = None,
    harmonize_params: dict[str, Any] | None = None,
) -> Pipeline:
    """One of the study's single-branch models, as a scikit-learn Pipeline.

    ``"radiomics"``: :class:`~ceusradiomics.TextureExtractor` ->
    :class:`~ceusradiomics.ICCFilter` (inter-reader ICC > ``icc_threshold``) ->
    :class:`~ceusradiomics.selection.EmptyFeatureFilter` (drops, with one
    warning, the features NaN for every training lesion: wavelet scales that
    no ROI holds) -> median imputation (the scales that some ROIs cannot
    hold) ->
    :class:`~ceusradiomics.MannWhitneySelector` (p < ``alpha``) ->
    :class:`~ceusradiomics.CorrelationPruner` (|r| > ``correlation_threshold``)
    -> :class:`~sklearn.preprocessing.StandardScaler` (the z-score) ->
    :class:`~ceusradiomics.LassoSelector` (``lasso_cv``-fold CV) ->
    :class:`~sklearn.ensemble.RandomForestClassifier`.

    The study z-scores first; here the z-score comes after the U test and the
    correlation pruning, which do not depend on it (ranks and Pearson's r are
    unchanged by a per-column shift and positive scale), so the survivors are
    standardised with the same mean and SD and the model is the same, at a
    fraction of the cost on thousands of columns.

    ``"deep"``: :class:`~ceusradiomics.ResNetFeaturizer` -> the same selection
    (no ICC: the network's input is the ROI's bounding box, read once; no
    empty-feature filter or imputation: the network's features are never
    missing) -> an
    RBF support vector machine whose scores are mapped to probabilities by
    Platt scaling in an inner cross-validation (scikit-learn's replacement of
    ``SVC(probability=True)``).

    ``"clinical"``: the clinical factors `columns` of ``X`` (the records frame
    with the clinical table joined, ``X.join(clinical)``, or any table) ->
    :class:`~ceusradiomics.ScreenedLogisticRegression` (univariable screen at
    `alpha`, then the multivariable model; non-numeric columns one-hot
    encoded), as the study's clinical model.

    ``"nomogram"``: the "radiomics nomogram": the radiomics score
    (:class:`RadiomicsScore`: the radiomics branch up to its LASSO, refitted
    in every fit; the logistic regression learns from cross-fitted training
    scores) and the clinical factors `clinical_columns`, all kept, in
    one unpenalised logistic regression
    (:class:`~ceusradiomics.ScreenedLogisticRegression` with ``alpha=1``),
    whose odds ratios and :class:`~ceusradiomics.plotting.NomogramDisplay`
    read as the usual nomogram.

    Parameters
    ----------
    branch : {"radiomics", "deep", "clinical", "nomogram"}, default="radiomics"
        Which model.
    input : {"records", "table"}, default="records"
        ``"records"`` starts from the records frame (images and masks);
        ``"table"`` from a precomputed feature table, whose texture columns
        (names without ``_resnet50_``) or deep columns (with it) are selected.
    phases : tuple of str, default=("US", "AP", "PP")
        Phases to extract (records input).
    readers : {"all", "primary"}, default="all"
        ``"all"`` extracts every reader's ROI and keeps the ICC filter;
        ``"primary"`` skips it (for cohorts with a single reader).
    icc_threshold, alpha, correlation_threshold : float
        The study's thresholds: 0.75, 0.05, 0.6.
    lasso_cv : int, default=10
        Folds of the LASSO's cross-validation.
    weights, head, image_size
        Passed to :class:`~ceusradiomics.ResNetFeaturizer` (deep branch).
    n_jobs : int, default=None
        Workers for texture extraction and the random forest.
    random_state : int, default=None
        Seeds every random step (LASSO folds, forest, SVM calibration folds,
        the network's random weights when ``weights=None``).
    verbose : bool, default=False
        Progress bars of the extractors.
    texture_params : dict, optional
        Further :class:`~ceusradiomics.TextureExtractor` settings of the
        radiomics branch (``{"normalization": "minmax", "bits": 6}``,
        ``fill_outline``, ``mask_label``, ...), validated by the extractor.
        Ignored by the deep branch and with ``input="table"``.
    columns : list of str
        The clinical factors of the ``"clinical"`` branch (required there).
    clinical_columns : list of str
        The clinical factors of the ``"nomogram"`` branch (required there).
    harmonize : str, optional
        The batch column (e.g. ``"center"``) of a multi-centre cohort: the
        features are harmonised by :class:`~ceusradiomics.harmonize.ComBat`
        right after extraction (before the ICC filter), fitted on the
        training rows only. The column travels next to the extractor (which
        ignores it) into ComBat, which drops it. Radiomics and deep branches.
    harmonize_params : dict, optional
        Further :class:`~ceusradiomics.harmonize.ComBat` settings
        (``{"unseen": "estimate"}`` to score centres not seen in training,
        ``{"covariates": [...]}``, ...).

    Returns
    -------
    Pipeline
        Steps named as :func:`sklearn.pipeline.make_pipeline` would name them
        (``textureextractor``, ``iccfilter``, ..., ``lassoselector``,
        ``randomforestclassifier``), so nested parameters read like
        ``lassoselector__cv``.

    Examples
    --------
    >>> from ceusradiomics.ensemble import make_study_pipeline
    >>> model = make_study_pipeline("radiomics", random_state=0)
    >>> [name for name, _ in model.steps]  # doctest: +NORMALIZE_WHITESPACE
    ['textureextractor', 'iccfilter', 'emptyfeaturefilter', 'simpleimputer',
     'mannwhitneyselector', 'correlationpruner', 'standardscaler',
     'lassoselector', 'randomforestclassifier']
    """
    branches = ("radiomics", "deep", "clinical", "nomogram")
    if branch not in branches:
        raise ValueError(f"branch must be one of {list(branches)}; got {branch!r}")
    if input not in {"records", "table"}:
        raise ValueError(f"input must be 'records' or 'table'; got {input!r}")
    if readers not in {"all", "primary"}:
        raise ValueError(f"readers must be 'all' or 'primary'; got {readers!r}")
    taken = {"phases", "readers", "n_jobs", "verbose"} & set(texture_params or {})
    if taken:
        raise ValueError(
            f"texture_params must not hold {sorted(taken)}: they are arguments of "
            "make_study_pipeline itself"
        )

    if harmonize is not None and branch not in ("radiomics", "deep"):
        raise ValueError(
            f"harmonize applies to the radiomics and deep branches; got {branch!r}"
        )
    if branch == "clinical":
        return _clinical_pipeline(columns, alpha)
    if branch == "nomogram":
        if not clinical_columns:
            raise ValueError(
                "the nomogram needs clinical_columns=[...]: the clinical factors "
                "that join the radiomics score"
            )
        radiomics = make_study_pipeline(
            "radiomics",
            input=input,
            phases=phases,
            readers=readers,
            icc_threshold=icc_threshold,
            alpha=alpha,
            correlation_threshold=correlation_threshold,
            lasso_cv=lasso_cv,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            texture_params=texture_params,
        )
        clinical = list(clinical_columns)
        pattern = RECORD_COLUMNS if input == "records" else TEXTURE_COLUMNS
        return Pipeline(
            [
                (
                    "columntransformer",
                    ColumnTransformer(
                        [
                            (
                                "radiomicsscore",
                                RadiomicsScore(
                                    radiomics[:-1], random_state=random_state
                                ),
                                _Columns(pattern, exclude=tuple(clinical)),
                            ),
                            ("clinical", "passthrough", clinical),
                        ],
                        verbose_feature_names_out=False,
                    ),
                ),
                (
                    "screenedlogisticregression",
                    ScreenedLogisticRegression(alpha=1.0, categorical="auto"),
                ),
            ]
        ).set_output(transform="pandas")

    steps: list[tuple[str, Any]] = []
    if input == "table":
        pattern = TEXTURE_COLUMNS if branch == "radiomics" else DEEP_COLUMNS
        selector = ColumnTransformer(
            [("columns", "passthrough", make_column_selector(pattern=pattern))],
            verbose_feature_names_out=False,
        ).set_output(transform="pandas")
        steps.append(("columntransformer", selector))
    elif branch == "radiomics":
        steps.append(
            (
                "textureextractor",
                TextureExtractor(
                    phases=phases,
                    readers=readers,
                    n_jobs=n_jobs,
                    verbose=verbose,
                    **(texture_params or {}),
                ),
            )
        )
    else:
        steps.append(
            (
                "resnetfeaturizer",
                ResNetFeaturizer(
                    phases=phases,
                    weights=weights,
                    head=head,
                    image_size=image_size,
                    random_state=random_state,
                    verbose=verbose,
                ),
            )
        )
    if harmonize is not None:
        if input == "table":  # the feature columns pass as they are
            steps = [_with_batch("features", "passthrough", pattern, harmonize)]
        else:
            steps = [_with_batch(*steps[0], RECORD_COLUMNS, harmonize)]
        steps.append(("combat", ComBat(batch=harmonize, **(harmonize_params or {}))))
    if branch == "radiomics" and readers == "all":
        steps.append(("iccfilter", ICCFilter(threshold=icc_threshold)))
    if branch == "radiomics":
        # A wavelet scale that a small ROI cannot hold is NaN (the ResNet
        # features never are). One that no training lesion holds has nothing
        # to impute from: dropped first, with one package warning per fit
        # (SimpleImputer would drop it too, with a warning of its own).
        steps += [
            ("emptyfeaturefilter", EmptyFeatureFilter()),
            ("simpleimputer", SimpleImputer(strategy="median")),
        ]
    # The study z-scores before the U test and the correlation pruning, but
    # neither depends on it: ranks and Pearson's r are unchanged by a
    # per-column shift and positive scale. So the z-score comes right before
    # the LASSO (which needs it) and standardises only the survivors with the
    # same per-column mean and SD: the same selection and model (tested), and
    # scikit-learn's scaler no longer checks thousands of columns per call.
    steps += [
        ("mannwhitneyselector", MannWhitneySelector(alpha=alpha)),
        (
            "correlationpruner",
            CorrelationPruner(threshold=correlation_threshold),
        ),
        ("standardscaler", StandardScaler()),
        ("lassoselector", LassoSelector(cv=lasso_cv, random_state=random_state)),
    ]
    if branch == "radiomics":
        steps.append(
            (
                "randomforestclassifier",
                RandomForestClassifier(
                    n_estimators=500, random_state=random_state, n_jobs=n_jobs
                ),
            )
        )
    else:
        steps.append(
            (
                "calibratedclassifiercv",
                CalibratedClassifierCV(
                    SVC(kernel="rbf", random_state=random_state),
                    method="sigmoid",
                    cv=StratifiedKFold(5, shuffle=True, random_state=random_state),
                ),
            )
        )
    # pandas between the steps keeps the feature names (the radiomics score and
    # the selection report read them).
    return Pipeline(steps).set_output(transform="pandas")


@contextmanager
def _temporary_params(estimator: Any, **params: Any):
    """Set attributes for the duration of a block, then restore them."""
    saved = {name: getattr(estimator, name) for name in params}
    for name, value in params.items():
        setattr(estimator, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(estimator, name, value)


def _clinical_pipeline(columns: list[str] | None, alpha: float) -> Pipeline:
    if not columns:
        raise ValueError(
            "the clinical branch needs columns=[...]: the clinical factors of X"
        )
    return Pipeline(
        [
            (
                "columntransformer",
                ColumnTransformer(
                    [("clinical", "passthrough", list(columns))],
                    verbose_feature_names_out=False,
                ),
            ),
            (
                "screenedlogisticregression",
                ScreenedLogisticRegression(alpha=alpha, categorical="auto"),
            ),
        ]
    ).set_output(transform="pandas")


class StackingERClassifier(FrameState, StackingClassifier):
    """Late fusion of the study's radiomics and deep models (the "combined model").

    A :class:`~sklearn.ensemble.StackingClassifier` whose defaults are the
    study's: a radiomics branch and a deep branch (see
    :func:`make_study_pipeline`), each fitted on the whole training set and,
    through a seeded stratified 5-fold split, on each training fold to give
    out-of-fold probabilities, on which a logistic regression learns the
    fusion. Every selection step lives inside its branch, so it is refitted in
    each fold and nothing leaks from the held-out rows.

    The extractors cache each lesion's features (keyed on its pixels), so the
    six fits of a branch extract every lesion once.

    Parameters
    ----------
    estimators : list of (str, estimator), default=None
        The branches. ``None`` builds the study's ``[("radiomics", ...),
        ("deep", ...)]`` in ``fit`` with ``random_state``; setting a nested
        parameter such as ``radiomics__lassoselector__cv`` builds them first.
    final_estimator : estimator, default=None
        The meta-learner; ``LogisticRegression()`` by default.
    cv : int, cross-validation generator or iterable, default=None
        Splits for the out-of-fold predictions; ``None`` is
        ``StratifiedKFold(5, shuffle=True, random_state=random_state)``.
    stack_method : {"auto", "predict_proba", "decision_function", "predict"}, \
            default="auto"
        As in :class:`~sklearn.ensemble.StackingClassifier`.
    n_jobs : int, default=None
        Parallel fits of the branches and of their folds, in threads (the
        extractors' caches are per process, so processes would extract every
        lesion again). The fitted stack is the same, bit for bit, whatever
        its value: every fit draws from its own seeds, and
        :class:`~ceusradiomics.LassoSelector` runs its liblinear fits one at
        a time, since liblinear's random generator is shared by the process.
    passthrough : bool, default=False
        Also give the meta-learner the branches' input (rarely useful here).
    verbose : int, default=0
        Verbosity of the stacking's own fits.
    random_state : int, RandomState instance or None, default=None
        Seeds the default branches and the default splitter.
    nested_oof : bool, default=True
        Compute the stack's fully out-of-fold training scores (the
        ``"stack"`` column of `oof_proba_`), a nested cross-validation that
        refits the stack once per fold of `cv`. False skips it (the fit costs
        a sixth as much) and `oof_proba_` holds the branches' columns only.
    clinical_columns : list of str, optional
        Clinical factors of ``X`` (the records frame with the clinical table
        joined: ``X.join(clinical)``). With them, a third branch,
        ``("clinical", make_study_pipeline("clinical", columns=...))``, joins
        the stack (after the given or default branches, unless one is
        already named ``"clinical"``), so the combined model is clinical +
        imaging.

    Attributes
    ----------
    estimators_ : list of estimators
        The branches fitted on the whole training set.
    named_estimators_ : Bunch
        The same, by name.
    final_estimator_ : estimator
        The fitted meta-learner.
    stack_method_ : list of str
        The method used per branch.
    oof_proba_ : DataFrame of shape (n_lesions, n_branches + 1)
        Out-of-fold scores of the training lesions. Each branch's column is
        the meta-learner's input: the branch fitted on the other folds of
        `cv`. The ``"stack"`` column is fully out of fold: in each fold of
        `cv`, the whole stack (branches, their inner out-of-fold predictions
        and the meta-learner) is refitted on the other folds, so no step that
        produced a lesion's score saw it (a nested cross-validation; the
        extractors' caches keep its cost to the model fits). Use them, not
        the refitted models' scores, for honest training-set metrics and for
        choosing a threshold.
    classes_ : ndarray of shape (2,)
        The class labels.

    See Also
    --------
    make_study_pipeline : One branch on its own.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.datasets import make_classification
    >>> from ceusradiomics.ensemble import StackingERClassifier
    >>> X, y = make_classification(n_samples=60, random_state=0)
    >>> stack = StackingERClassifier(
    ...     estimators=[("a", LogisticRegression()), ("b", LogisticRegression(C=0.1))],
    ...     random_state=0,
    ... ).fit(X, y)
    >>> stack.branch_predict_proba(X).columns.tolist()
    ['a', 'b', 'stack']
    """

    _parameter_constraints: ClassVar[dict] = {
        **StackingClassifier._parameter_constraints,
        "estimators": [list, None],
        "random_state": ["random_state"],
        "nested_oof": ["boolean"],
        "clinical_columns": [list, tuple, None],
    }

    def __init__(
        self,
        estimators=None,
        final_estimator=None,
        *,
        cv=None,
        stack_method="auto",
        n_jobs=None,
        passthrough=False,
        verbose=0,
        random_state=None,
        nested_oof=True,
        clinical_columns=None,
    ):
        super().__init__(
            estimators=estimators,
            final_estimator=final_estimator,
            cv=cv,
            stack_method=stack_method,
            n_jobs=n_jobs,
            passthrough=passthrough,
            verbose=verbose,
        )
        self.random_state = random_state
        self.nested_oof = nested_oof
        self.clinical_columns = clinical_columns

    def _seed(self) -> int | None:
        if self.random_state is None or isinstance(self.random_state, int):
            return self.random_state
        # A RandomState instance: draw one seed, as sklearn's own estimators do.
        return int(np.random.RandomState(self.random_state).randint(2**31 - 1))

    def _default_estimators(self) -> list[tuple[str, Pipeline]]:
        seed = self._seed()
        return self._with_clinical(
            [
                ("radiomics", make_study_pipeline("radiomics", random_state=seed)),
                ("deep", make_study_pipeline("deep", random_state=seed)),
            ]
        )

    def _with_clinical(self, estimators: list) -> list:
        """`estimators`, and the clinical branch when `clinical_columns` asks."""
        if not self.clinical_columns or any(n == "clinical" for n, _ in estimators):
            return estimators
        branch = make_study_pipeline("clinical", columns=list(self.clinical_columns))
        return [*estimators, ("clinical", branch)]

    def set_params(self, **params):
        """Set parameters; nested defaults (``radiomics__...``) build the branches."""
        if self.estimators is None and "estimators" not in params:
            names = {name for name, _ in self._default_estimators()}
            if any(key.split("__", 1)[0] in names for key in params):
                self.estimators = self._default_estimators()
        return super().set_params(**params)

    def fit(self, X, y, **fit_params):
        """Fit the branches and the meta-learner on out-of-fold predictions.

        Parameters
        ----------
        X : DataFrame or array-like
            The records frame (for the default branches) or a feature table.
        y : array-like of shape (n_lesions,)
            Binary outcome (early recurrence).
        **fit_params : dict
            Passed on as :meth:`sklearn.ensemble.StackingClassifier.fit` does.

        Returns
        -------
        self : StackingERClassifier
        """
        target = type_of_target(y, input_name="y", raise_unknown=True)
        if target != "binary":
            raise ValueError(
                "Only binary classification is supported: StackingERClassifier "
                f"predicts a yes/no outcome; the type of the target is {target!r}."
            )
        classes = np.unique(np.asarray(y))
        if len(classes) < 2:
            raise ValueError(
                "StackingERClassifier needs a binary outcome with both classes "
                f"present; y has only one class {classes.tolist()}"
            )
        estimators = (
            self._with_clinical(list(self.estimators))
            if self.estimators is not None
            else self._default_estimators()
        )
        cv = (
            self.cv
            if self.cv is not None
            else StratifiedKFold(5, shuffle=True, random_state=self._seed())
        )
        # StackingClassifier reads both from self: lend it the resolved values
        # for the duration of the fit, so get_params() stays what the user set.
        self._capture_oof = True
        try:
            # Threads, not processes, for n_jobs: the extractors' feature
            # caches live in this process, so workers in other processes would
            # extract every lesion again. The forests and torch release the
            # GIL; liblinear does too, but its random generator is one per
            # process, so LassoSelector's fits take turns on it (a lock), and
            # the result does not depend on n_jobs.
            with (
                _temporary_params(self, estimators=estimators, cv=cv),
                parallel_config(prefer="threads"),
            ):
                super().fit(X, y, **fit_params)
        finally:
            del self._capture_oof
        if getattr(self, "_nested", False) or not self.nested_oof:
            return self  # e.g. an outer fold's stack: its scores are not needed
        # Out-of-fold probability of the stack itself, fully out of fold: in
        # each fold of `cv` the whole stack (branches, their inner
        # out-of-fold predictions and the meta-learner) is refitted on the
        # other folds and scores the held-out lesions, which nothing in that
        # fit has seen. The extractors' caches make the refits cost their
        # model fits only.
        self.oof_proba_["stack"] = self._nested_oof(X, y, cv, estimators)
        return self

    def _nested_oof(self, X, y, cv, estimators) -> np.ndarray:
        y = np.asarray(y)
        oof = np.full(len(y), np.nan)
        for train, test in check_cv(cv, y, classifier=True).split(X, y):
            outer = clone(self)
            outer.set_params(estimators=[(n, clone(e)) for n, e in estimators])
            outer.clinical_columns = None  # already among `estimators`
            outer._nested = True
            try:
                outer.fit(_rows(X, train), y[train])
            finally:
                del outer._nested
            oof[test] = outer.predict_proba(_rows(X, test))[:, 1]
        return oof

    def _concatenate_predictions(self, X, predictions):
        # StackingClassifier's hook that assembles the meta-features: during
        # fit, its first call receives the branches' out-of-fold predictions,
        # which are kept as ``oof_proba_`` (honest training-set scores at no
        # extra cost).
        X_meta = super()._concatenate_predictions(X, predictions)
        if getattr(self, "_capture_oof", False):
            self._capture_oof = False
            names = [
                n
                for n, e in zip(*self._validate_estimators(), strict=True)
                if e != "drop"
            ]
            oof = np.column_stack([p[:, -1] if p.ndim == 2 else p for p in predictions])
            index = X.index if isinstance(X, pd.DataFrame) else None
            self.oof_proba_ = pd.DataFrame(oof, columns=names, index=index)
        return X_meta

    def predict_proba(self, X):
        """Probability estimates of the stack (the meta-learner's).

        Always offered, also before ``fit``: the default meta-learner is a
        logistic regression (scikit-learn's stacking hides the method while
        ``final_estimator`` is None, which tools that check for it before
        fitting, such as :func:`~ceusradiomics.validation.cross_validate_models`,
        would read as "no probabilities").

        Parameters
        ----------
        X : DataFrame or array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self)
        return super().predict_proba(X)

    def branch_predict_proba(self, X) -> pd.DataFrame:
        """Probability of the positive class from each branch and from the stack.

        Parameters
        ----------
        X : DataFrame or array-like
            As in :meth:`fit`.

        Returns
        -------
        DataFrame of shape (n_lesions, n_branches + 1)
            One column per branch (by name) and ``"stack"``, indexed like ``X``
            when it is a DataFrame.
        """
        check_is_fitted(self, "estimators_")
        columns = {}
        for name, estimator in self.named_estimators_.items():
            if estimator == "drop":
                continue
            if hasattr(estimator, "predict_proba"):
                columns[name] = estimator.predict_proba(X)[:, 1]
            else:
                columns[name] = estimator.decision_function(X)
        columns["stack"] = self.predict_proba(X)[:, 1]
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(columns, index=index)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # early recurrence: yes / no
        if self.estimators is None:
            # The default branches read the records frame, not a 2-D table.
            tags.input_tags.two_d_array = False
        return tags
