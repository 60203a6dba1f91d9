"""What a fitted model is: its model card and the inputs it was trained on.

A model shared with another hospital must say what it is: which images and
ROIs it reads, how its features were extracted and selected, how well it did
in internal validation, at which threshold it calls a lesion positive and
why, and which versions built it. :class:`ModelCard` gathers this from a
fitted model (and, when given, its training cohort and out-of-fold scores);
:func:`ceusradiomics.persist.save_model` stores it inside the model file and
``python -m ceusradiomics train`` writes it beside the file as Markdown.

:class:`InputSchema` records the inputs seen in training (per phase: image
data types, the grey levels inside the ROIs, ROI and image sizes) and, for a
new lesion, lists what lies outside them, so that ``predict`` warns per lesion
instead of scoring a 16-bit image with an 8-bit model in silence.

The card is plain JSON (:meth:`ModelCard.to_dict`): it never runs code when
read.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from ceusradiomics._version import package_versions
from ceusradiomics.clinical import ScreenedLogisticRegression
from ceusradiomics.ensemble import RadiomicsScore, StackingERClassifier
from ceusradiomics.exceptions import ROIError
from ceusradiomics.extractors import ResNetFeaturizer, TextureExtractor
from ceusradiomics.extractors._base import RecordsTransformer
from ceusradiomics.selection import LassoSelector

__all__ = [
    "InputSchema",
    "ModelCard",
    "branches_of",
    "format_steps",
    "iter_estimators",
    "radiomics_score_terms",
    "score_formula",
    "selection_steps",
]

#: Packages whose versions the card records.
_DEPENDENCIES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "skops",
    "torch",
    "torchvision",
)

_STEP_LABELS = {
    "textureextractor": "extracted",
    "resnetfeaturizer": "extracted",
    "iccfilter": "ICC filter",
    "emptyfeaturefilter": "non-empty",
    "simpleimputer": "imputed",
    "mannwhitneyselector": "U test",
    "correlationpruner": "correlation pruning",
    "lassoselector": "LASSO",
    "columntransformer": "columns",
    "combat": "ComBat",
}

#: How far outside the training range a new lesion may lie before a warning:
#: ROI areas within [min / 2, 2 x max], grey levels within the training span
#: widened by 10% on each side.
AREA_FACTOR = 2.0
GREY_MARGIN = 0.10


def iter_estimators(model: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every estimator inside `model` (itself first), with a ``__`` path.

    Follows pipelines' steps, column transformers' transformers, a stack's
    fitted branches (``named_estimators_``) or its unfitted ones, a
    :class:`~ceusradiomics.ensemble.RadiomicsScore`'s fitted pipeline and a
    search's ``best_estimator_``. Each object is visited once.
    """
    seen: set[int] = set()

    def walk(obj: Any, where: str) -> Iterator[tuple[str, Any]]:
        if id(obj) in seen or not isinstance(obj, BaseEstimator):
            return
        seen.add(id(obj))
        yield where, obj
        children: list[tuple[str, Any]] = []
        if isinstance(obj, Pipeline):
            children = list(obj.steps)
        elif hasattr(obj, "transformers_"):
            children = [(name, t) for name, t, _ in obj.transformers_]
        elif hasattr(obj, "transformers"):
            children = [(name, t) for name, t, _ in obj.transformers]
        if hasattr(obj, "named_estimators_"):
            children += list(obj.named_estimators_.items())
        if isinstance(getattr(obj, "estimators", None), list):
            # The unfitted branches too: a refit clones them.
            children += [(n, e) for n, e in obj.estimators if e != "drop"]
        for attribute in ("pipeline_", "best_estimator_", "final_estimator_"):
            if hasattr(obj, attribute):
                children.append((attribute.rstrip("_"), getattr(obj, attribute)))
        for name, child in children:
            yield from walk(child, f"{where}__{name}" if where else name)

    yield from walk(model, path)


def branches_of(model: Any) -> dict[str, Any]:
    """The model's branches by name: a stack's fitted branches, else the model."""
    if isinstance(model, StackingERClassifier) and hasattr(model, "named_estimators_"):
        return dict(model.named_estimators_)
    kind = _branch_kind(model)
    return {kind: model}


def _branch_kind(model: Any) -> str:
    found = {type(e) for _, e in iter_estimators(model)}
    if RadiomicsScore in found:
        return "nomogram"
    if TextureExtractor in found:
        return "radiomics"
    if ResNetFeaturizer in found:
        return "deep"
    if ScreenedLogisticRegression in found:
        return "clinical"
    return type(model).__name__


def selection_steps(pipeline: Any) -> list[tuple[str, int]]:
    """Number of features after each selection step of a fitted branch.

    The extractors count features (a second reader's ``@``-suffixed columns,
    used only by the ICC filter, are not counted); the scaler, which keeps
    every column, is left out.
    """
    if not isinstance(pipeline, Pipeline):
        return []
    steps = []
    harmonised = "combat" in pipeline.named_steps
    for name, step in pipeline.steps[:-1]:
        if name == "standardscaler" or not hasattr(step, "get_feature_names_out"):
            continue
        try:
            names = step.get_feature_names_out()
        except (NotFittedError, AttributeError, ValueError):
            continue  # an unfitted or name-less step: nothing to count
        harmonising = name == "columntransformer" and harmonised
        if isinstance(step, RecordsTransformer) or harmonising or name == "combat":
            # the extracted features, less the second reader's (and the batch
            # column that the extractor's ColumnTransformer passes to ComBat)
            count = sum("@" not in n for n in names) - int(harmonising)
        else:
            count = len(names)
        label = "extracted" if harmonising else _step_label(name, step)
        steps.append((label, int(count)))
    return steps


def format_steps(steps: list) -> str:
    """``"849 (extracted) -> 819 (ICC > 0.75) -> ..."``: :func:`selection_steps`."""
    return " -> ".join(f"{n} ({label})" for label, n in steps)


def _step_label(name: str, step: Any) -> str:
    """A step's label, with its threshold: ``"ICC > 0.75"``, ``"U test p < 0.05"``."""
    if name == "iccfilter":
        return f"ICC > {step.threshold:g}"
    if name == "mannwhitneyselector":
        return f"U test p < {step.alpha:g}"
    if name == "correlationpruner":
        return f"|r| <= {step.threshold:g}"
    return _STEP_LABELS.get(name, name)


def _lasso_of(model: Any) -> tuple[LassoSelector, Any] | None:
    """The fitted LASSO of a branch and the pipeline it ends (None if none)."""
    for _, estimator in iter_estimators(model):
        if isinstance(estimator, Pipeline):
            for _, step in estimator.steps:
                if isinstance(step, LassoSelector) and hasattr(step, "coef_"):
                    return step, estimator
    return None


def score_formula(terms: dict[str, Any], digits: int = 3) -> str:
    """``"+b +w1 x name1 ..."``: the terms of :func:`radiomics_score_terms`."""
    parts = [f"{terms['intercept']:+.{digits}f}"]
    parts += [f"{w:+.{digits}f} x {name}" for name, w in terms["coefficients"].items()]
    return " ".join(parts)


def radiomics_score_terms(model: Any) -> dict[str, Any] | None:
    """The radiomics score of a fitted branch: intercept and coefficients.

    The score is ``intercept + sum(coef * z)``, with ``z`` each selected
    feature standardised by the training mean and SD (the pipeline's
    scaler): the LASSO's log-odds. None when the model has no LASSO.
    """
    found = _lasso_of(model)
    if found is None:
        return None
    lasso, _ = found
    names = np.asarray(lasso.get_feature_names_out(), dtype=object)
    coef = np.ravel(lasso.coef_)[lasso.get_support()]
    order = np.argsort(coef, kind="stable")
    intercept = float(np.ravel(lasso.intercept_)[0])
    terms = {str(names[i]): float(coef[i]) for i in order}
    found = {"intercept": intercept, "coefficients": terms}
    return {**found, "formula": score_formula(found, digits=4)}


def _selected_features(model: Any) -> list[str]:
    """The features the branch's final model reads."""
    pipeline = model if isinstance(model, Pipeline) else None
    if pipeline is not None and hasattr(pipeline[-1], "feature_names_in_"):
        return [str(n) for n in pipeline[-1].feature_names_in_]
    for _, estimator in iter_estimators(model):
        if isinstance(estimator, ScreenedLogisticRegression) and hasattr(
            estimator, "selected_"
        ):
            return [str(n) for n in estimator.selected_]
    return []


def _plain(value: Any) -> Any:
    """`value` as JSON: tuples to lists, numpy scalars and arrays to Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _extractor_settings(extractor: RecordsTransformer) -> dict[str, Any]:
    params = extractor.get_params(deep=False)
    for speed_only in ("n_jobs", "verbose", "cache", "batch_size", "device"):
        params.pop(speed_only, None)
    if isinstance(extractor, TextureExtractor):
        # The families' settings spelled out in full, as fit resolves them.
        plan = extractor._settings()
        params.pop("family_params", None)
        params.update(
            families=list(plan.families),
            normalization=plan.normalization,
            bits=dict(plan.bits),
            **dict(plan.params),
        )
    return _plain(params)


def _network(featurizer: ResNetFeaturizer) -> dict[str, Any]:
    from ceusradiomics.deep._weights import describe_weights

    return _plain(
        {
            "architecture": "ResNet-50 (torchvision)",
            **describe_weights(
                featurizer.weights, seed=getattr(featurizer, "network_seed_", None)
            ),
            "layer": featurizer.layer,
            "image_size": featurizer.image_size,
            "head": featurizer.head,
            "crop_margin": featurizer.crop_margin,
            "mask_context": featurizer.mask_context,
        }
    )


# ----------------------------------------------------------------- schema


@dataclass
class InputSchema:
    """The inputs a model saw in training, per phase, and checks of new ones.

    Attributes
    ----------
    phases : dict of str to dict
        Per phase: ``image_column`` and ``mask_column`` (the primary ROI),
        ``dtypes`` (image data types seen), ``grey_min`` / ``grey_max``
        (extreme grey levels inside the ROIs), ``area_min`` / ``area_max``
        (ROI pixels), ``shape_min`` / ``shape_max`` (image rows and columns).
    n_lesions : int
        Lesions profiled.
    """

    phases: dict[str, dict[str, Any]]
    n_lesions: int

    @classmethod
    def from_records(cls, model: Any, X: pd.DataFrame) -> InputSchema:
        """Profile the training records `X` as `model`'s extractors read them.

        Each lesion's primary ROI of each phase is read and validated by the
        fitted extractor itself (frames, mask labels and outlines as in
        ``fit``), so the profile is of what the model saw.

        Raises
        ------
        ValueError
            If `model` holds no fitted records extractor.
        """
        profiles: dict[str, dict[str, Any]] = {}
        for _lesion, slot, roi in _primary_rois(model, X):
            if isinstance(roi, ROIError):
                raise roi
            stats = _roi_stats(roi)
            p = profiles.setdefault(
                slot.phase,
                {
                    "image_column": slot.image,
                    "mask_column": slot.masks[0],
                    "dtypes": [],
                    "grey_min": np.inf,
                    "grey_max": -np.inf,
                    "area_min": np.inf,
                    "area_max": 0,
                    "shape_min": [np.inf, np.inf],
                    "shape_max": [0, 0],
                },
            )
            if stats["dtype"] not in p["dtypes"]:
                p["dtypes"].append(stats["dtype"])
            p["grey_min"] = min(p["grey_min"], stats["grey_min"])
            p["grey_max"] = max(p["grey_max"], stats["grey_max"])
            p["area_min"] = min(p["area_min"], stats["area"])
            p["area_max"] = max(p["area_max"], stats["area"])
            shape = stats["shape"]
            pairs = list(zip(p["shape_min"], p["shape_max"], shape, strict=True))
            p["shape_min"] = [min(low, n) for low, _, n in pairs]
            p["shape_max"] = [max(high, n) for _, high, n in pairs]
        return cls(phases=_plain(profiles), n_lesions=len(X))

    def check(self, model: Any, X: pd.DataFrame) -> dict[Any, list[str]]:
        """What lies outside the training inputs, per lesion of `X`.

        Returns
        -------
        dict
            Lesion id -> list of messages (empty when the lesion looks like
            the training data). A lesion whose ROI cannot be read is left
            out: the prediction reports it as an error.
        """
        found: dict[Any, list[str]] = {lesion: [] for lesion in X.index}
        for lesion, slot, roi in _primary_rois(model, X):
            if isinstance(roi, ROIError):
                continue
            trained = self.phases.get(slot.phase)
            if trained is None:
                continue
            found[lesion] += _outside(slot.image, _roi_stats(roi), trained)
        return found

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))


def _primary_rois(model: Any, X: pd.DataFrame):
    """(lesion, slot, ROI or ROIError) for each lesion and phase's primary ROI."""
    extractor = next(
        (
            e
            for _, e in iter_estimators(model)
            if isinstance(e, RecordsTransformer) and hasattr(e, "layout_")
        ),
        None,
    )
    if extractor is None:
        raise ValueError(
            "the model reads no images (no fitted TextureExtractor or "
            "ResNetFeaturizer): it has no input schema"
        )
    columns = list(X.columns)
    slots = [
        (slot, replace(slot, masks=slot.masks[:1]))
        for slot in extractor._fitted_layout(X).slots
    ]
    for lesion, row in zip(X.index.tolist(), X.itertuples(index=False), strict=True):
        record = dict(zip(columns, row, strict=True))
        for slot, primary in slots:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    rois = extractor._read_slot(lesion, record, primary)
            except ROIError as exc:
                yield lesion, slot, exc
                continue
            yield lesion, slot, rois[0]


def _roi_stats(roi: Any) -> dict[str, Any]:
    image = np.asarray(roi.image)
    plane = image if image.ndim == 2 else image[0]
    inside = plane[roi.mask]
    return {
        "dtype": str(image.dtype),
        "grey_min": float(inside.min()),
        "grey_max": float(inside.max()),
        "area": int(roi.mask.sum()),
        "shape": list(plane.shape[:2]),
    }


def _outside(column: str, stats: dict, trained: dict) -> list[str]:
    messages = []
    if stats["dtype"] not in trained["dtypes"]:
        messages.append(
            f"{column}: {stats['dtype']} image, but the model was trained on "
            f"{'/'.join(trained['dtypes'])} images"
        )
    low, high = trained["grey_min"], trained["grey_max"]
    margin = GREY_MARGIN * max(high - low, 1.0)
    if stats["grey_min"] < low - margin or stats["grey_max"] > high + margin:
        messages.append(
            f"{column}: ROI grey levels {stats['grey_min']:g}..{stats['grey_max']:g} "
            f"outside the training range {low:g}..{high:g}"
        )
    area_min, area_max = trained["area_min"], trained["area_max"]
    if not area_min / AREA_FACTOR <= stats["area"] <= area_max * AREA_FACTOR:
        messages.append(
            f"{column}: ROI of {stats['area']} pixels, far outside the training "
            f"range {area_min}..{area_max}"
        )
    return messages


# ------------------------------------------------------------------- card


@dataclass
class ModelCard:
    """The card of a fitted model: what it is, how it was built, how well it did.

    Build it with :meth:`from_model`; :meth:`to_markdown` renders it for
    people, :meth:`to_dict` / :meth:`from_dict` as JSON.

    Attributes
    ----------
    model : str
        The estimator's class and branches.
    intended_use : str
    created : str
        UTC time of the card, ISO 8601.
    versions : dict
        Python, the library and its dependencies.
    training : dict or None
        ``n_lesions``, ``n_positive``, ``outcome_rate``, ``classes``.
    phases : list of str
    readers : dict
        Per phase, the mask columns read (primary first).
    texture : dict or None
        The texture extractor's settings, spelled out.
    network : dict or None
        The network's architecture, weights (name or file, SHA-256), layer,
        input size and head.
    branches : dict
        Per branch: ``steps`` (features after each selection step),
        ``selected`` (the features its final model reads) and, for a LASSO
        branch, ``radiomics_score`` (intercept, coefficients, formula).
    validation : dict or None
        Internal validation of the training scores: ``method``, ``auc``,
        ``ci_lower``, ``ci_upper``.
    threshold : float
        The probability at or above which a lesion is called positive.
    threshold_method : str
        How the threshold was chosen.
    input_schema : dict or None
        :class:`InputSchema` of the training records.
    """

    model: str
    intended_use: str
    created: str
    versions: dict[str, Any]
    training: dict[str, Any] | None = None
    phases: list[str] = field(default_factory=list)
    readers: dict[str, list[str]] = field(default_factory=dict)
    texture: dict[str, Any] | None = None
    network: dict[str, Any] | None = None
    branches: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] | None = None
    threshold: float = 0.5
    threshold_method: str = "0.5 (no out-of-fold scores to choose it on)"
    input_schema: dict[str, Any] | None = None

    DEFAULT_USE = (
        "Research use: estimate the probability of early recurrence (within two "
        "years) of hepatocellular carcinoma after hepatectomy from pre-operative "
        "CEUS images (grey-scale US, arterial and portal phase) with ROIs drawn "
        "as in training. Not a medical device; not validated for clinical "
        "decisions; check every input warning."
    )

    @classmethod
    def from_model(
        cls,
        model: Any,
        X: pd.DataFrame | None = None,
        y: Any = None,
        *,
        oof_proba: Any = None,
        threshold: float | str | None = "youden",
        intended_use: str | None = None,
        validation_method: str | None = None,
    ) -> ModelCard:
        """The card of a fitted `model`, with its training cohort when given.

        Parameters
        ----------
        model : estimator
            A fitted model of the library (a stack or a study pipeline) or
            any fitted classifier.
        X : DataFrame, optional
            The training records: the card then holds the input schema.
        y : array-like, optional
            The training labels: cohort size and outcome rate.
        oof_proba : array-like, optional
            Out-of-fold probabilities of the positive class for the training
            lesions (e.g. from :func:`sklearn.model_selection.cross_val_predict`).
            A fitted :class:`~ceusradiomics.StackingERClassifier` supplies its
            own fully out-of-fold ``oof_proba_["stack"]`` when this is None.
            With `y`, they give the internal-validation AUC (DeLong 95% CI)
            and the threshold.
        threshold : float, "youden" or None, default="youden"
            A number is stored as given; ``"youden"`` maximises Youden's
            index on the out-of-fold probabilities (0.5 without them).
        intended_use : str, optional
            Replaces :attr:`DEFAULT_USE`.
        validation_method : str, optional
            How `oof_proba` were obtained, for the card.
        """
        from ceusradiomics.metrics import roc_auc_ci, youden_threshold

        branches = branches_of(model)
        card = cls(
            model=_describe(model, branches),
            intended_use=intended_use or cls.DEFAULT_USE,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            versions=package_versions(_DEPENDENCIES),
        )
        extractors = [
            e
            for _, e in iter_estimators(model)
            if isinstance(e, RecordsTransformer) and hasattr(e, "layout_")
        ]
        for extractor in extractors:
            for slot in extractor.layout_.slots:
                if slot.phase not in card.phases:
                    card.phases.append(slot.phase)
                masks = card.readers.setdefault(slot.phase, [])
                masks += [m for m in slot.masks if m not in masks]
            if isinstance(extractor, TextureExtractor) and card.texture is None:
                card.texture = _extractor_settings(extractor)
            if isinstance(extractor, ResNetFeaturizer) and card.network is None:
                card.network = _network(extractor)
        for name, branch in branches.items():
            entry: dict[str, Any] = {
                "steps": [[label, n] for label, n in selection_steps(branch)],
                "selected": _selected_features(branch),
            }
            score = radiomics_score_terms(branch)
            if score is not None:
                entry["radiomics_score"] = score
            card.branches[name] = entry

        positive = None
        if y is not None:
            y = np.asarray(y)
            classes = getattr(model, "classes_", np.unique(y))
            positive = y == classes[-1]
            card.training = {
                "n_lesions": len(y),
                "n_positive": int(positive.sum()),
                "outcome_rate": float(positive.mean()),
                "classes": _plain(classes),
            }
        if oof_proba is None and isinstance(model, StackingERClassifier):
            oof = getattr(model, "oof_proba_", None)
            if oof is not None and "stack" in oof:
                oof_proba = oof["stack"].to_numpy()
                validation_method = validation_method or (
                    "nested cross-validation: the whole stack refitted in each "
                    "of its 5 folds (oof_proba_['stack'])"
                )
        if oof_proba is not None and positive is not None:
            oof_proba = np.asarray(oof_proba, dtype=float)
            auc = roc_auc_ci(positive, oof_proba)
            card.validation = {
                "method": validation_method or "out-of-fold probabilities",
                "auc": auc.auc,
                "ci_lower": auc.ci_lower,
                "ci_upper": auc.ci_upper,
                "ci_method": "DeLong 95%",
            }
        if isinstance(threshold, str):
            if threshold != "youden":
                raise ValueError(
                    f"threshold must be a number, 'youden' or None; got {threshold!r}"
                )
            if oof_proba is not None and positive is not None:
                card.threshold = float(youden_threshold(positive, oof_proba))
                card.threshold_method = (
                    "Youden's index maximised on the training lesions' "
                    "out-of-fold probabilities"
                )
        elif threshold is not None:
            card.threshold = float(threshold)
            card.threshold_method = "given"
        if X is not None and extractors:
            card.input_schema = InputSchema.from_records(model, X).to_dict()
        return card

    # ---------------------------------------------------------- formats

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready data."""
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """The card of :meth:`to_dict`'s output (unknown keys are ignored)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        """The card for people: headings, lists and tables in Markdown."""
        lines = ["# Model card", "", f"**Model:** {self.model}", ""]
        lines += ["## Intended use", "", self.intended_use, ""]
        lines += ["## Training data", ""]
        if self.training:
            t = self.training
            lines.append(
                f"- {t['n_lesions']} lesions, {t['n_positive']} positive "
                f"({100 * t['outcome_rate']:.1f}%); classes {t['classes']}"
            )
        else:
            lines.append("- not recorded")
        if self.phases:
            lines.append(f"- phases: {', '.join(self.phases)}")
            for phase, masks in self.readers.items():
                lines.append(f"- {phase} ROIs: {', '.join(masks)}")
        lines.append("")
        if self.texture is not None:
            lines += ["## Texture settings", ""]
            lines += [f"- {k}: {v}" for k, v in self.texture.items()] + [""]
        if self.network is not None:
            lines += ["## Network", ""]
            lines += [f"- {k}: {v}" for k, v in self.network.items()] + [""]
        lines += ["## Model building", ""]
        for name, branch in self.branches.items():
            steps = format_steps(branch["steps"])
            lines.append(f"### {name}")
            lines.append("")
            if steps:
                lines.append(f"- features: {steps}")
            if branch["selected"]:
                lines.append(
                    f"- selected ({len(branch['selected'])}): "
                    + ", ".join(f"`{n}`" for n in branch["selected"])
                )
            if "radiomics_score" in branch:
                score = "deep score" if name == "deep" else "radiomics score"
                lines.append(
                    f"- {score} (LASSO log-odds) = "
                    f"{branch['radiomics_score']['formula']} "
                    "(each feature standardised by its training mean and SD)"
                )
            lines.append("")
        lines += ["## Performance (internal validation)", ""]
        if self.validation:
            v = self.validation
            lines.append(
                f"- AUC {v['auc']:.3f} ({v['ci_method']} CI {v['ci_lower']:.3f}-"
                f"{v['ci_upper']:.3f}); {v['method']}"
            )
        else:
            lines.append("- not recorded")
        lines += [
            "",
            "## Decision threshold",
            "",
            f"- {self.threshold:.6g}: {self.threshold_method}",
            "",
        ]
        if self.input_schema:
            lines += [
                "## Input schema",
                "",
                "| phase | image dtypes | ROI grey levels | ROI pixels | image size |",
                "|---|---|---|---|---|",
            ]
            for phase, p in self.input_schema["phases"].items():
                lines.append(
                    f"| {phase} | {', '.join(p['dtypes'])} | {p['grey_min']:g}.."
                    f"{p['grey_max']:g} | {p['area_min']}..{p['area_max']} | "
                    f"{p['shape_min'][0]}x{p['shape_min'][1]}.."
                    f"{p['shape_max'][0]}x{p['shape_max'][1]} |"
                )
            lines.append("")
        lines += ["## Versions", ""]
        lines += [f"- {k}: {v}" for k, v in self.versions.items()]
        lines += ["", f"Card created {self.created}.", ""]
        return "\n".join(lines)


def _describe(model: Any, branches: dict[str, Any]) -> str:
    name = type(model).__name__
    if isinstance(model, StackingERClassifier):
        return f"{name} (branches: {', '.join(branches)}; logistic meta-learner)"
    if isinstance(model, Pipeline):
        kind = next(iter(branches))
        return f"{kind} model: " + " -> ".join(type(s).__name__ for _, s in model.steps)
    return name
