"""Why this lesion? Per-lesion explanations of the study's models.

The first piece (issue 19): the radiomics branch's linear score, explained
exactly. The LASSO's radiomics score of lesion :math:`i` is

.. math::

    \\mathrm{score}_i = b + \\sum_{j \\in S} w_j z_{ij},

with :math:`z_{ij}` feature :math:`j` of lesion :math:`i` standardised by the
training mean and SD and :math:`S` the selected features, so the
contribution of feature :math:`j` to lesion :math:`i`'s score is
:math:`w_j z_{ij}`, and the contributions plus the intercept are the score.
No approximation is involved (unlike SHAP values of the forest, which
explain the forest's probability, not the score).

The deep branch's LASSO score is linear in the network's pooled activations,
so its class-activation map (Zhou et al. 2016) is exact too:
:func:`activation_map` locates it on the image; Grad-CAM and Grad-CAM++
(through ``torchcam``) explain it at any earlier layer. For the random forest,
:func:`forest_shap_values` gives SHAP values (``shap``'s TreeExplainer) and
:func:`permutation_importances` scikit-learn's permutation importance, the
global view that needs no extra package. :class:`LesionExplanationDisplay`
draws one lesion's explanation. torch, torchcam, shap and matplotlib are
imported only when used.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "LesionExplanationDisplay",
    "PhasePanel",
    "activation_map",
    "forest_shap_values",
    "permutation_importances",
    "radiomics_contributions",
]

METHODS = ("cam", "gradcam", "gradcam++")


def radiomics_contributions(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Each selected feature's contribution to each lesion's radiomics score.

    Parameters
    ----------
    model : estimator
        A fitted model with a LASSO radiomics score: a
        :func:`~ceusradiomics.ensemble.make_study_pipeline` radiomics (or
        deep) pipeline, a radiomics nomogram, or a
        :class:`~ceusradiomics.StackingERClassifier` (its ``"radiomics"``
        branch is explained).
    X : DataFrame
        The lesions, as the model takes them (records frame or table).

    Returns
    -------
    DataFrame of shape (n_lesions, n_selected)
        ``coef_j * z_ij`` per lesion (rows, indexed like `X`) and selected
        feature (columns, from the most negative coefficient to the most
        positive). ``frame.attrs["intercept"]`` holds the intercept: the
        row sums plus it are the radiomics scores,
        :meth:`~ceusradiomics.LassoSelector.radiomics_score`.

    Raises
    ------
    ValueError
        If the model has no fitted LASSO selector.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ceusradiomics import LassoSelector
    >>> from ceusradiomics.explain import radiomics_contributions
    >>> X, y = make_classification(n_samples=80, n_features=6, random_state=0)
    >>> X = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    >>> model = make_pipeline(
    ...     StandardScaler(), LassoSelector(cv=5, random_state=0)
    ... ).set_output(transform="pandas").fit(X, y)
    >>> parts = radiomics_contributions(model, X)
    >>> score = parts.sum(axis=1) + parts.attrs["intercept"]
    >>> lasso = model[-1]
    >>> bool(abs(score - lasso.radiomics_score(model[:-1].transform(X))).max() < 1e-10)
    True
    """
    from ceusradiomics.card import _lasso_of, branches_of
    from ceusradiomics.ensemble import StackingERClassifier

    check_is_fitted(model)
    target = model
    if isinstance(model, StackingERClassifier):
        branches = branches_of(model)
        if "radiomics" not in branches:
            raise ValueError(
                "the stack has no 'radiomics' branch to explain; its branches are "
                f"{list(branches)}"
            )
        target = branches["radiomics"]
    found = _lasso_of(target)
    if found is None:
        raise ValueError(
            f"{type(model).__name__} has no fitted LassoSelector: there is no "
            "radiomics score to explain"
        )
    lasso, pipeline = found
    position = next(k for k, (_, s) in enumerate(pipeline.steps) if s is lasso)
    standardised = pipeline[:position].transform(X) if position else X
    values = np.asarray(standardised, dtype=np.float64)
    support = lasso.coef_ != 0
    coef = lasso.coef_[support]
    names = np.asarray(lasso.feature_names_in_, dtype=object)[support]
    order = np.argsort(coef, kind="stable")
    index = X.index if isinstance(X, pd.DataFrame) else None
    frame = pd.DataFrame(
        values[:, support][:, order] * coef[order],
        index=index,
        columns=[str(n) for n in names[order]],
    )
    frame.attrs["intercept"] = float(np.ravel(lasso.intercept_)[0])
    return frame


# ------------------------------------------------------------------ deep branch


@dataclass
class _DeepScore:
    """The deep branch's LASSO score, linear in each phase's pooled activations.

    ``score = intercept + sum over phases of (constants[p] + weights[p] @ pooled_p)``
    with ``pooled_p`` the featurizer's backbone activations of phase ``p``
    (before its head, if any).
    """

    featurizer: Any
    before: Any  # the pipeline steps before the featurizer (None if none)
    weights: dict[str, np.ndarray]
    constants: dict[str, float]
    intercept: float


def _deep_branch(model: Any) -> Any:
    from ceusradiomics.card import _branch_kind, branches_of

    check_is_fitted(model)
    branches = branches_of(model)
    deep = [b for b in branches.values() if _branch_kind(b) == "deep"]
    if not deep:
        raise ValueError(
            f"{type(model).__name__} has no deep branch (a fitted ResNetFeaturizer "
            f"followed by a LassoSelector); its branches are {list(branches)}"
        )
    return deep[0]


def _deep_score(model: Any) -> _DeepScore:
    """The weights of the deep score on the pooled activations, per phase."""
    from sklearn.preprocessing import StandardScaler

    from ceusradiomics.card import _lasso_of
    from ceusradiomics.extractors import ResNetFeaturizer

    branch = _deep_branch(model)
    found = _lasso_of(branch)
    steps = found[1].steps if found is not None else []
    position = next(
        (k for k, (_, s) in enumerate(steps) if isinstance(s, ResNetFeaturizer)), None
    )
    if found is None or position is None:
        steps_text = ", ".join(name for name, _ in steps) or type(branch).__name__
        raise ValueError(
            "activation maps need a deep pipeline whose ResNetFeaturizer is one of "
            "its steps, followed by column selections, a StandardScaler and a "
            f"LassoSelector; this branch's steps are: {steps_text} (a harmonised "
            "branch, with ComBat, is not supported)"
        )
    lasso, pipeline = found
    featurizer = pipeline.steps[position][1]
    end = next(k for k, (_, s) in enumerate(pipeline.steps) if s is lasso)
    between = [s for _, s in pipeline.steps[position + 1 : end]]
    scalers = [s for s in between if isinstance(s, StandardScaler)]
    if len(scalers) > 1:
        raise ValueError("the deep branch z-scores its features more than once")
    names = [str(n) for n in lasso.feature_names_in_]
    coef = np.ravel(lasso.coef_)
    mean = dict.fromkeys(names, 0.0)
    scale = dict.fromkeys(names, 1.0)
    if scalers:
        scaler = scalers[0]
        scaler_names = [str(n) for n in scaler.feature_names_in_]
        for k, name in enumerate(scaler_names):
            if name in mean:
                mean[name] = float(scaler.mean_[k]) if scaler.mean_ is not None else 0.0
                scale[name] = (
                    float(scaler.scale_[k]) if scaler.scale_ is not None else 1.0
                )
    head = getattr(featurizer, "head_", None)
    width = featurizer.n_backbone_features_
    weights = {p: np.zeros(width) for p in featurizer.phases_}
    constants = dict.fromkeys(featurizer.phases_, 0.0)
    for name, w in zip(names, coef, strict=True):
        if w == 0:
            continue
        phase, _, index = name.rpartition("_")
        phase = phase.removesuffix("_resnet50_head").removesuffix("_resnet50")
        if phase not in weights or not index.isdigit():
            raise ValueError(
                f"the deep branch's LASSO selected {name!r}, which is not a "
                "ResNetFeaturizer output: the score is not the network's alone"
            )
        k = int(index)
        per_unit = w / scale[name]
        if head is None:
            weights[phase][k] += per_unit
            constants[phase] -= per_unit * mean[name]
        else:
            params = head[phase]
            weights[phase] += per_unit * params["weight"][k]
            constants[phase] += per_unit * (params["bias"][k] - mean[name])
    return _DeepScore(
        featurizer=featurizer,
        before=pipeline[:position] if position else None,
        weights=weights,
        constants=constants,
        intercept=float(np.ravel(lasso.intercept_)[0]),
    )


@functools.lru_cache(maxsize=2)
def _network(kind: str, source: Any, seed: int, layer: str, key: tuple) -> Any:
    """The frozen network up to `layer`, kept for the next phase and lesion.

    Up to a stage (``"layer4"``, ``"layer3"``, ...) module by module, so that
    the gradient methods' hooks see every module; up to any other node traced
    (exact CAM only). `key` (the featurizer's weights id: a file's size and
    mtime) keeps an edited weights file from matching.
    """
    from ceusradiomics.deep import _backbone

    device = _backbone.resolve_device("cpu")
    if layer in _backbone.STAGES:
        return _backbone.build_stages(
            kind, source, seed=seed, stage=layer, device=device
        )
    return _backbone.build_extractor(
        kind, source, seed=seed, layer=layer, device=device
    )


@dataclass
class _LesionMap:
    grid: np.ndarray  # on the network's feature grid
    image: np.ndarray  # aligned with the image, NaN outside the crop
    box: tuple[slice, slice]  # the crop the network saw
    roi: Any  # the ROI read (image and mask)
    score: float  # the phase's term of the deep score


def _lesion_row(X: Any, lesion: Any) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be the records DataFrame; got {type(X).__name__}")
    if lesion not in X.index:
        shown = ", ".join(map(repr, X.index[:5].tolist()))
        raise ValueError(
            f"lesion {lesion!r} is not in X's index ({len(X)} lesions: {shown}"
            f"{', ...' if len(X) > 5 else ''})"
        )
    return X.loc[[lesion]]


def _activation_map(
    model: Any,
    X: pd.DataFrame,
    lesion: Any,
    phase: str,
    *,
    method: str = "cam",
    layer: str | None = None,
    score: _DeepScore | None = None,
) -> _LesionMap:
    """:func:`activation_map` with its grid, crop box and ROI."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    score = _deep_score(model) if score is None else score
    featurizer = score.featurizer
    if phase not in featurizer.phases_:
        raise ValueError(
            f"phase {phase!r} is not one of the deep branch's phases "
            f"{list(featurizer.phases_)}"
        )
    from ceusradiomics.deep import _backbone, _cam
    from ceusradiomics.deep._preprocess import (
        crop_box,
        normalize,
        resize_crop,
        roi_crop,
    )
    from ceusradiomics.deep._weights import resolve_weights

    spatial = _cam.spatial_layer(featurizer.layer)
    if method == "cam" and layer not in (None, spatial):
        raise ValueError(
            f"the exact CAM is at the featurizer's spatial layer {spatial!r}; got "
            f"layer={layer!r}. Use method='gradcam' or 'gradcam++' for another layer"
        )
    if method != "cam" and spatial not in _backbone.STAGES:
        raise ValueError(
            f"gradient maps hook the network's modules, so they need the "
            f"featurizer's layer at a stage ('layer1' ... 'layer4', 'avgpool'); "
            f"got {featurizer.layer!r}. method='cam' works at any node"
        )
    row = _lesion_row(X, lesion)
    if score.before is not None:
        row = score.before.transform(row)
    layout = featurizer._fitted_layout(row)
    slot = next(s for s in layout.slots if s.phase == phase)
    record = dict(zip(row.columns, next(row.itertuples(index=False)), strict=True))
    roi = featurizer._read_slot(lesion, record, slot)[0]
    margin = featurizer._crop_margin()
    crop = roi_crop(
        roi.image, roi.mask, crop_margin=margin, mask_context=featurizer.mask_context
    )
    x = normalize(resize_crop(crop, featurizer.image_size))
    kind, source = resolve_weights(featurizer.weights)
    network = _network(
        kind,
        source,
        featurizer.network_seed_,
        spatial,
        featurizer._weights_id(kind, source),
    )
    weights, constant = score.weights[phase], score.constants[phase]
    exact = _cam.class_activation_map(
        _cam.activations_of(network, x), weights, constant
    )
    if method == "cam":
        grid = exact
    else:
        grid = _cam.gradient_map(
            _cam.ScoreNetwork(network, weights, constant),
            x,
            spatial if layer is None else layer,
            method,
        )
    box = crop_box(roi.mask, margin)
    image = np.full(roi.mask.shape, np.nan)
    image[box] = _cam.upsample(grid, crop.shape)
    return _LesionMap(grid=grid, image=image, box=box, roi=roi, score=exact.mean())


def activation_map(
    model: Any,
    X: pd.DataFrame,
    lesion: Any,
    phase: str,
    *,
    method: str = "cam",
    layer: str | None = None,
) -> np.ndarray:
    r"""Where on the image the deep branch's score comes from, for one lesion.

    The deep branch's LASSO score is linear in the network's globally
    average-pooled activations (directly, or through the head's fully
    connected layer, whose outputs it takes before their ReLU). So its
    class-activation map [1]_ is exact:

    .. math::

        M_p(x, y) = c_p + \sum_k v_k A_k(x, y),

    with :math:`A_k` the activation maps of phase :math:`p`'s crop at the
    featurizer's last spatial layer (``"layer4"`` for ``layer="avgpool"``),
    :math:`v_k` the LASSO coefficients divided by the training SDs (through
    the head's weights with a head) and :math:`c_p` the phase's share of the
    centring, so that the map's mean over the feature grid is the phase's term
    of the score (the score is the intercept plus the three phases' terms).
    Positive regions push the lesion's score above the average training
    lesion's, towards the positive class.

    ``method="gradcam"`` and ``"gradcam++"`` [2]_, [3]_ explain the same score
    by its gradients at `layer` (any module of the network up to the
    featurizer's layer, e.g. ``"layer3"`` or ``"layer4.1"``), through torchcam
    (the ``explain`` extra); they keep only the positive evidence (ReLU). At
    the last spatial layer, Grad-CAM is the exact map without its constant,
    clipped at 0 and divided by the number of grid cells.

    Parameters
    ----------
    model : estimator
        A fitted deep-branch pipeline
        (``make_study_pipeline("deep")``: a
        :class:`~ceusradiomics.ResNetFeaturizer`, a column selection, a
        :class:`~sklearn.preprocessing.StandardScaler` and a
        :class:`~ceusradiomics.LassoSelector`), or a stack with such a branch.
    X : DataFrame
        The records frame holding `lesion`.
    lesion : label
        The lesion (an index label of `X`).
    phase : str
        ``"US"``, ``"AP"`` or ``"PP"`` (a phase of the featurizer).
    method : {"cam", "gradcam", "gradcam++"}, default="cam"
    layer : str, optional
        The layer of the gradient methods (default: the last spatial one).

    Returns
    -------
    ndarray of float64, shape of the phase's image (rows, columns)
        The map on the image's pixels: the network's grid resized (bilinear)
        onto the crop it saw (the ROI's bounding box plus the featurizer's
        `crop_margin`), NaN outside the crop. Computed in float32 on the CPU,
        whatever the featurizer's `precision` and `device`; deterministic.

    Raises
    ------
    ValueError
        If the model has no deep branch with a LASSO score, `lesion` is not in
        `X`, `phase` is not a fitted phase, or the featurizer's layer is
        ``"fc"``.
    ImportError
        Without torch (any method) or torchcam (the gradient methods).

    References
    ----------
    .. [1] B. Zhou et al., "Learning deep features for discriminative
       localization", CVPR 2016. :doi:`10.1109/CVPR.2016.319`
    .. [2] R. R. Selvaraju et al., "Grad-CAM: Visual explanations from deep
       networks via gradient-based localization", ICCV 2017.
       :doi:`10.1109/ICCV.2017.74`
    .. [3] A. Chattopadhay et al., "Grad-CAM++: Generalized gradient-based
       visual explanations for deep convolutional networks", WACV 2018.
       :doi:`10.1109/WACV.2018.00097`

    Examples
    --------
    >>> from ceusradiomics.datasets import make_ceus_cohort
    >>> from ceusradiomics.ensemble import make_study_pipeline
    >>> from ceusradiomics.explain import activation_map
    >>> X, y, _ = make_ceus_cohort(n_lesions=40, image_size=64, random_state=0)
    >>> model = make_study_pipeline(
    ...     "deep", weights=None, image_size=64, random_state=0
    ... ).fit(X, y)
    >>> heat = activation_map(model, X, "L01", "AP")
    >>> heat.shape == X.loc["L01", "AP_image"].shape
    True
    """
    return _activation_map(model, X, lesion, phase, method=method, layer=layer).image


# -------------------------------------------------------------- the forest


def _final_classifier(model: Any) -> tuple[Any, Any, str]:
    """(classifier, the pipeline before it, branch name) of the tree branch."""
    from sklearn.pipeline import Pipeline

    from ceusradiomics.card import branches_of

    check_is_fitted(model)
    branches = branches_of(model)
    for name, branch in branches.items():
        if isinstance(branch, Pipeline) and hasattr(branch[-1], "estimators_"):
            return branch[-1], branch[:-1], name
        if hasattr(branch, "estimators_") and not isinstance(branch, Pipeline):
            return branch, None, name
    raise ValueError(
        f"{type(model).__name__} has no tree-ensemble branch (a pipeline ending in "
        f"a random forest) to explain; its branches are {list(branches)}"
    )


def forest_shap_values(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    r"""SHAP values of the radiomics branch's forest, per lesion and feature.

    ``shap``'s TreeExplainer [1]_ computes the exact Shapley values of the
    forest's probability of the positive class (interventional on the tree
    paths, "tree path dependent"): for each lesion, the values plus the
    expected value are the forest's predicted probability.

    Parameters
    ----------
    model : estimator
        A fitted pipeline ending in a tree ensemble (the
        ``make_study_pipeline("radiomics")`` random forest), or a stack with
        such a branch.
    X : DataFrame
        The lesions, as the model takes them.

    Returns
    -------
    DataFrame of shape (n_lesions, n_forest_inputs)
        Indexed like `X`; columns the forest's input features (the LASSO's
        survivors). ``attrs["expected_value"]`` holds the base value.

    Raises
    ------
    ImportError
        Without shap (``pip install 'ceusradiomics[explain]'``); see
        :func:`permutation_importances` for a global view without it.

    References
    ----------
    .. [1] S. M. Lundberg et al., "From local explanations to global
       understanding with explainable AI for trees", Nat. Mach. Intell. 2,
       56-67, 2020. :doi:`10.1038/s42256-019-0138-9`
    """
    try:
        import shap
    except ImportError as exc:
        raise ImportError(
            "forest_shap_values needs shap: pip install 'ceusradiomics[explain]'; "
            "permutation_importances gives a global ranking without it"
        ) from exc
    forest, before, _ = _final_classifier(model)
    inputs = before.transform(X) if before is not None else X
    values = np.asarray(inputs, dtype=np.float64)
    explainer = shap.TreeExplainer(forest)
    raw = np.asarray(explainer.shap_values(values, check_additivity=True))
    positive = list(forest.classes_).index(forest.classes_[1])
    # shap >= 0.45 returns (n, features, classes); older versions a list.
    shap_values = raw[..., positive] if raw.ndim == 3 else raw[positive]
    names = (
        [str(c) for c in inputs.columns]
        if isinstance(inputs, pd.DataFrame)
        else [f"x{k}" for k in range(values.shape[1])]
    )
    frame = pd.DataFrame(
        shap_values,
        index=X.index if isinstance(X, pd.DataFrame) else None,
        columns=names,
    )
    frame.attrs["expected_value"] = float(np.ravel(explainer.expected_value)[positive])
    return frame


def permutation_importances(
    model: Any,
    X: pd.DataFrame,
    y: Any,
    *,
    scoring: str = "roc_auc",
    n_repeats: int = 10,
    random_state: Any = None,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Permutation importance of the tree branch's input features (global).

    scikit-learn's :func:`~sklearn.inspection.permutation_importance` on the
    forest's inputs (the LASSO's survivors): the drop in `scoring` when one
    feature's values are shuffled across lesions. Pass held-out lesions: on
    the training lesions a forest that fits them perfectly overstates every
    feature.

    Parameters
    ----------
    model : estimator
        As :func:`forest_shap_values`.
    X : DataFrame
        The lesions, as the model takes them.
    y : array-like of shape (n_lesions,)
        Their outcomes.
    scoring : str, default="roc_auc"
    n_repeats : int, default=10
    random_state : int, RandomState instance or None, default=None
    n_jobs : int, optional

    Returns
    -------
    DataFrame
        One row per feature, sorted by decreasing ``importance_mean``, with
        ``importance_mean`` and ``importance_std``.
    """
    from sklearn.inspection import permutation_importance

    forest, before, _ = _final_classifier(model)
    inputs = before.transform(X) if before is not None else X
    result = permutation_importance(
        forest,
        inputs,
        y,
        scoring=scoring,
        n_repeats=n_repeats,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    names = (
        [str(c) for c in inputs.columns]
        if isinstance(inputs, pd.DataFrame)
        else [f"x{k}" for k in range(np.shape(inputs)[1])]
    )
    frame = pd.DataFrame(
        {
            "importance_mean": result.importances_mean,
            "importance_std": result.importances_std,
        },
        index=pd.Index(names, name="feature"),
    )
    return frame.sort_values("importance_mean", ascending=False, kind="stable")


# ------------------------------------------------------------------- display


@dataclass
class PhasePanel:
    """One phase of a lesion's explanation: the crop the network saw.

    ``image`` and ``mask`` are the crop of the phase image and of the ROI;
    ``heat`` the activation map on it (None without a deep branch);
    ``score`` the phase's term of the deep score (NaN without one).
    """

    phase: str
    image: np.ndarray
    mask: np.ndarray
    heat: np.ndarray | None = None
    score: float = float("nan")


def _records_extractor(model: Any) -> Any:
    from ceusradiomics.card import iter_estimators
    from ceusradiomics.extractors._base import RecordsTransformer

    for _, estimator in iter_estimators(model):
        if isinstance(estimator, RecordsTransformer) and hasattr(estimator, "layout_"):
            return estimator
    return None


def _plain_panels(model: Any, row: pd.DataFrame, lesion: Any) -> list[PhasePanel]:
    """The phases' ROI crops read by the model's first extractor (no maps)."""
    from ceusradiomics.deep._preprocess import crop_box

    extractor = _records_extractor(model)
    if extractor is None:
        return []
    layout = extractor._fitted_layout(row)
    record = dict(zip(row.columns, next(row.itertuples(index=False)), strict=True))
    panels, seen = [], set()
    for slot in layout.slots:
        if slot.phase in seen or not slot.phase:
            continue
        seen.add(slot.phase)
        roi = extractor._read_slot(lesion, record, slot)[0]
        plane = np.asarray(extractor._image_of(roi.image))
        box = crop_box(roi.mask, 0.1)
        panels.append(PhasePanel(slot.phase, plane[box], roi.mask[box]))
    return panels


def _top(series: pd.Series, top: int) -> pd.Series:
    order = series.abs().sort_values(ascending=False, kind="stable").index[:top]
    return series[order][::-1]  # largest at the top of a barh


class LesionExplanationDisplay:
    """One lesion's explanation: where the network looked, what drove the score.

    The figure has the lesion's phases (the crop the network saw, the ROI
    outline and, with a deep branch, its activation map: red where the crop
    pushes the deep score up, blue where it pulls it down), a bar chart of
    the largest contributions to the radiomics score (or the forest's SHAP
    values) and the branches' and the stack's probabilities.

    Build it with :meth:`from_estimator`; :meth:`plot` draws it. matplotlib
    is imported only when drawing.

    Parameters
    ----------
    lesion : label
    panels : list of PhasePanel
    contributions : Series
        Per feature, sorted for a horizontal bar chart.
    probabilities : Series
        Per branch (and ``"stack"``), the probability of the positive class.
    contribution_label : str, default="contribution to the radiomics score"
    method : str, default="cam"

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : dict of str to matplotlib Axes
        ``"<phase>"`` per phase, ``"contributions"`` and ``"probabilities"``.

    Examples
    --------
    >>> from ceusradiomics.explain import LesionExplanationDisplay
    >>> display = LesionExplanationDisplay.from_estimator(
    ...     model, X, "L017"
    ... )  # doctest: +SKIP
    >>> display.figure_.savefig("p017.png")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        lesion: Any,
        panels: list[PhasePanel],
        contributions: pd.Series,
        probabilities: pd.Series,
        contribution_label: str = "contribution to the radiomics score",
        method: str = "cam",
    ):
        self.lesion = lesion
        self.panels = panels
        self.contributions = contributions
        self.probabilities = probabilities
        self.contribution_label = contribution_label
        self.method = method

    @classmethod
    def from_estimator(
        cls,
        model: Any,
        X: pd.DataFrame,
        lesion: Any,
        *,
        method: str = "cam",
        layer: str | None = None,
        contributions: str = "lasso",
        top: int = 10,
        plot: bool = True,
    ) -> LesionExplanationDisplay:
        """Explain lesion `lesion` of `X` by the fitted `model` and draw it.

        Parameters
        ----------
        model : estimator
            A fitted stack (:class:`~ceusradiomics.StackingERClassifier`) or
            single-branch pipeline.
        X : DataFrame
            The records frame holding the lesion.
        lesion : label
        method : {"cam", "gradcam", "gradcam++"}, default="cam"
            The deep branch's map (see :func:`activation_map`).
        layer : str, optional
            The gradient methods' layer.
        contributions : {"lasso", "shap"}, default="lasso"
            ``"lasso"``: the exact terms of the radiomics score
            (:func:`radiomics_contributions`; the deep branch's LASSO score
            when there is no radiomics branch); ``"shap"``: the forest's SHAP
            values (:func:`forest_shap_values`).
        top : int, default=10
            Bars shown (the largest in absolute value).
        plot : bool, default=True
            Draw the figure.
        """
        from ceusradiomics.card import _branch_kind, branches_of
        from ceusradiomics.ensemble import StackingERClassifier

        if contributions not in ("lasso", "shap"):
            raise ValueError(
                f"contributions must be 'lasso' or 'shap'; got {contributions!r}"
            )
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}")
        check_is_fitted(model)
        row = _lesion_row(X, lesion)
        branches = branches_of(model)
        kinds = {name: _branch_kind(b) for name, b in branches.items()}
        panels: list[PhasePanel] = []
        if "deep" in kinds.values():
            score = _deep_score(model)
            for phase in score.featurizer.phases_:
                found = _activation_map(
                    model, row, lesion, phase, method=method, layer=layer, score=score
                )
                image = np.asarray(score.featurizer._image_of(found.roi.image))
                panels.append(
                    PhasePanel(
                        phase,
                        image[found.box],
                        found.roi.mask[found.box],
                        found.image[found.box],
                        found.score,
                    )
                )
        else:
            panels = _plain_panels(model, row, lesion)

        if contributions == "shap":
            values = forest_shap_values(model, row).iloc[0]
            label = "SHAP value (forest probability)"
        else:
            lasso_branch = next(
                (
                    branches[n]
                    for kind in ("radiomics", "nomogram", "deep")
                    for n, k in kinds.items()
                    if k == kind and _has_lasso(branches[n])
                ),
                None,
            )
            if lasso_branch is None:
                values, label = pd.Series(dtype=float), ""
            else:
                values = radiomics_contributions(lasso_branch, row).iloc[0]
                kind = _branch_kind(lasso_branch)
                label = (
                    "contribution to the deep score"
                    if kind == "deep"
                    else "contribution to the radiomics score"
                )
        if isinstance(model, StackingERClassifier):
            probabilities = model.branch_predict_proba(row).iloc[0]
        else:
            probabilities = pd.Series({"model": float(model.predict_proba(row)[0, 1])})
        display = cls(
            lesion=lesion,
            panels=panels,
            contributions=_top(values.astype(float), top),
            probabilities=probabilities.astype(float),
            contribution_label=label,
            method=method,
        )
        return display.plot() if plot else display

    def plot(self, *, figure: Any = None, cmap: str = "RdBu_r", alpha: float = 0.5):
        """Draw the panels, the contributions and the probabilities.

        Parameters
        ----------
        figure : matplotlib Figure, optional
            Drawn into (cleared first); a new one by default.
        cmap : str, default="RdBu_r"
            The maps' colours: diverging around 0 for ``method="cam"``.
        alpha : float, default=0.5
            Opacity of the map over the image.

        Returns
        -------
        self
        """
        from ceusradiomics.plotting import _pyplot

        plt = _pyplot()
        n = max(len(self.panels), 1)
        if figure is None:
            figure = plt.figure(figsize=(3.2 * max(n, 3), 6.4), layout="constrained")
        else:
            figure.clear()
        grid = figure.add_gridspec(2, max(n, 3), height_ratios=(1.15, 1))
        axes: dict[str, Any] = {}
        # One colour scale for all phases, so their maps compare.
        heats = [p.heat for p in self.panels if p.heat is not None]
        reach = max((float(np.nanmax(np.abs(h))) for h in heats), default=0.0)
        signed = self.method == "cam"
        image_artist = None
        for k, panel in enumerate(self.panels):
            ax = figure.add_subplot(grid[0, k])
            ax.imshow(panel.image, cmap="gray", interpolation="nearest")
            if panel.heat is not None and reach > 0:
                image_artist = ax.imshow(
                    panel.heat,
                    cmap=cmap if signed else "inferno",
                    vmin=-reach if signed else 0.0,
                    vmax=reach,
                    alpha=alpha,
                    interpolation="bilinear",
                )
            ax.contour(
                panel.mask.astype(float), levels=[0.5], colors="yellow", linewidths=1.0
            )
            title = panel.phase
            if np.isfinite(panel.score):
                title += f"  (deep score term {panel.score:+.2f})"
            ax.set_title(title, fontsize=9)
            ax.set_axis_off()
            axes[panel.phase] = ax
        if image_artist is not None:
            label = "map (score units)" if signed else f"{self.method} map"
            figure.colorbar(
                image_artist,
                ax=axes[self.panels[-1].phase],
                shrink=0.8,
                label=label,
            )

        width = max(n, 3)
        bars = figure.add_subplot(grid[1, : width - 1])
        values = self.contributions
        if len(values):
            colours = ["#b2182b" if v > 0 else "#2166ac" for v in values]
            bars.barh(range(len(values)), values.to_numpy(), color=colours)
            bars.set_yticks(
                range(len(values)), [str(i) for i in values.index], fontsize=7
            )
            bars.axvline(0.0, color="black", linewidth=0.8)
        bars.set_xlabel(self.contribution_label or "no linear score to decompose")
        axes["contributions"] = bars

        proba = figure.add_subplot(grid[1, width - 1])
        probabilities = self.probabilities
        proba.barh(range(len(probabilities)), probabilities.to_numpy(), color="#636363")
        proba.set_yticks(
            range(len(probabilities)), [str(i) for i in probabilities.index], fontsize=8
        )
        proba.set_xlim(0, 1)
        for i, v in enumerate(probabilities.to_numpy()):
            inside = v > 0.85  # no room right of the bar: write on it, in white
            proba.text(
                v - 0.02 if inside else v + 0.02,
                i,
                f"{v:.2f}",
                va="center",
                ha="right" if inside else "left",
                color="white" if inside else "black",
                fontsize=8,
            )
        proba.set_xlabel("probability of the positive class")
        axes["probabilities"] = proba
        figure.suptitle(f"Lesion {self.lesion}")
        self.figure_ = figure
        self.axes_ = axes
        return self


def _has_lasso(branch: Any) -> bool:
    from ceusradiomics.card import _lasso_of

    return _lasso_of(branch) is not None
