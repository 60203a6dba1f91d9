"""``python -m ceusradiomics train``: a manifest and outcomes in, a saved model out.

The command fits one of the study's models on the lesions of a manifest (the
:func:`~ceusradiomics.io.load_cohort` format) and their outcomes (a column of
the manifest or of a separate CSV), then saves it with
:func:`~ceusradiomics.save_model` (skops, no pickle) and its model card
(:class:`~ceusradiomics.card.ModelCard`), inside the file and as Markdown
beside it.

What it does, in order:

1. read the settings (flags or ``--params``, exactly as ``extract``), the
   manifest and the outcomes; a lesion without an outcome goes to the errors
   file;
2. run the model's extractors once over every lesion, collecting the lesions
   that cannot be read (missing file, empty mask, ...) into
   ``<out stem>.errors.csv``, as ``extract`` does; their features stay in the
   in-process cache, so the fits below extract nothing again;
3. fit the model on the other lesions, with out-of-fold probabilities of the
   training lesions: a stack's own nested ones (``oof_proba_["stack"]``), or
   ``--cv``-fold cross-validated predictions of a single model;
4. choose the decision threshold (Youden's index on those out-of-fold
   probabilities, or ``--threshold``), build the card, save.

Exit status as ``extract``: 0 done, 1 some lesions failed (the model is
trained on the others), 2 invalid settings or input, 3 a file could not be
written, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ceusradiomics.cli._settings import (
    SettingsError,
    add_flags,
    flag_settings,
    make_estimator,
    read_params,
    resolve_settings,
)
from ceusradiomics.cli.extract import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_WRITE,
    _failure_status,
    _Problem,
    _record_errors,
    _WriteError,
)
from ceusradiomics.exceptions import CeusRadiomicsWarning
from ceusradiomics.io import is_missing, load_cohort

__all__ = ["MODELS", "add_parser", "run", "run_train", "train_model"]

#: The models the command fits (see make_study_pipeline and StackingERClassifier).
MODELS = ("stack", "radiomics", "deep", "clinical", "nomogram")


def _labels(
    X: pd.DataFrame,
    labels: str | None,
    label_column: str,
    id_column: str,
) -> tuple[pd.DataFrame, pd.Series]:
    """The records (with the label file's other columns joined) and the labels."""
    if labels is None:
        if label_column not in X.columns:
            raise SettingsError(
                f"--label-column: the manifest has no column {label_column!r} (its "
                f"columns are {[id_column, *X.columns]}); pass --labels FILE for "
                "outcomes in a separate CSV"
            )
        return X.drop(columns=[label_column]), X[label_column]
    path = Path(labels)
    if not path.is_file():
        raise SettingsError(f"--labels: no such file '{labels}'")
    table = pd.read_csv(path, dtype={id_column: str})
    for column in (id_column, label_column):
        if column not in table.columns:
            raise SettingsError(
                f"--labels: '{labels}' has no column {column!r}; its columns are "
                f"{list(table.columns)}"
            )
    if table[id_column].duplicated().any():
        repeated = table[id_column][table[id_column].duplicated()].unique()[:5]
        raise SettingsError(
            f"--labels: '{labels}' repeats the lesion ids {list(repeated)}"
        )
    table = table.set_index(id_column)
    table.index = table.index.astype(X.index.dtype)
    extra = [c for c in table.columns if c != label_column and c not in X.columns]
    return X.join(table[extra]), table[label_column].reindex(X.index)


def build_model(
    kind: str,
    settings: Mapping[str, Any],
    *,
    readers: str,
    clinical_columns: list[str] | None,
    verbose: bool,
    harmonize: str | None = None,
    unseen: str = "error",
) -> Any:
    """The unfitted model of `kind` with the texture and network `settings`.

    With `harmonize` (a batch column such as ``"center"``), the imaging
    branches harmonise their features by ComBat (``unseen``: what to do with
    a centre absent from training, see :class:`~ceusradiomics.ComBat`).
    """
    from ceusradiomics.ensemble import StackingERClassifier, make_study_pipeline

    seed = settings["random_state"]
    phases = settings["phases"]
    phases = tuple(phases) if isinstance(phases, list) else phases
    texture = make_estimator(settings, "texture", readers=readers, verbose=verbose)
    texture_params = {
        k: v
        for k, v in texture.get_params(deep=False).items()
        if k not in {"phases", "readers", "n_jobs", "verbose", "cache"}
    }
    common = {"phases": phases, "random_state": seed, "verbose": verbose}
    if harmonize is not None:
        if kind in {"clinical", "nomogram"}:
            raise SettingsError(
                f"--harmonize applies to the imaging models (stack, radiomics, "
                f"deep); got --model {kind}"
            )
        common["harmonize"] = harmonize
        common["harmonize_params"] = {"unseen": unseen}

    def radiomics():
        return make_study_pipeline(
            "radiomics",
            readers=readers,
            n_jobs=settings["n_jobs"],
            texture_params=texture_params,
            **common,
        )

    def deep():
        pipeline = make_study_pipeline("deep", **common)
        network = make_estimator(settings, "deep", verbose=verbose)
        params = network.get_params(deep=False)
        params.pop("phases", None)
        if harmonize is None:
            featurizer = pipeline.named_steps["resnetfeaturizer"]
        else:  # the featurizer sits beside the batch column
            featurizer = pipeline.named_steps["columntransformer"].transformers[0][1]
        featurizer.set_params(**params)
        return pipeline

    if kind in {"clinical", "nomogram"} and not clinical_columns:
        raise SettingsError(f"--model {kind} needs --clinical-columns")
    if kind == "radiomics":
        return radiomics()
    if kind == "deep":
        return deep()
    if kind == "clinical":
        return make_study_pipeline("clinical", columns=list(clinical_columns))
    if kind == "nomogram":
        return make_study_pipeline(
            "nomogram",
            readers=readers,
            n_jobs=settings["n_jobs"],
            texture_params=texture_params,
            clinical_columns=list(clinical_columns),
            **common,
        )
    return StackingERClassifier(
        estimators=[("radiomics", radiomics()), ("deep", deep())],
        random_state=seed,
        clinical_columns=list(clinical_columns) if clinical_columns else None,
    )


def _readers(X: pd.DataFrame, settings_given: Mapping[str, Any]) -> str:
    """``readers``: as given, else "all" when the manifest has further readers."""
    from ceusradiomics.io import image_phases, mask_readers

    if "readers" in settings_given:
        return settings_given["readers"]
    has_more = any(mask_readers(X, phase) for phase in image_phases(X))
    return "all" if has_more else "primary"


def _extractors(model: Any, *, fitted: bool = False) -> list[Any]:
    """The model's records extractors, one per distinct setting (a stack's
    branches share them); with `fitted`, only fitted ones."""
    from ceusradiomics.card import iter_estimators
    from ceusradiomics.extractors._base import RecordsTransformer

    found: dict[str, Any] = {}
    for _, estimator in iter_estimators(model):
        if not isinstance(estimator, RecordsTransformer):
            continue
        if fitted and not hasattr(estimator, "layout_"):
            continue
        found.setdefault(repr(estimator.get_params(deep=False)), estimator)
    return list(found.values())


def unique_problems(problems: list[_Problem]) -> list[_Problem]:
    """`problems` without repeats (two extractors reading the same bad cell)."""
    return list(dict.fromkeys(problems))


def _check_lesions(model: Any, X: pd.DataFrame, y: pd.Series | None) -> list[_Problem]:
    """Extract every lesion once (filling the cache); the lesions that fail."""
    problems = []
    for extractor in _extractors(model):
        fitted = clone(extractor)
        if hasattr(fitted, "head") and getattr(fitted, "head", None) is not None:
            fitted.set_params(head=None)  # the head is trained in the fit proper
        fitted.fit(X, y)
        _, errors = fitted._transform_records(X, on_error="collect")
        problems += [_Problem.of(str(e.lesion), e) for e in errors]
    return problems


def train_model(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    model: str = "stack",
    settings: Mapping[str, Any] | None = None,
    readers: str = "primary",
    clinical_columns: list[str] | None = None,
    cv: int = 5,
    threshold: float | str = "youden",
    verbose: bool = False,
    harmonize: str | None = None,
    unseen: str = "error",
) -> tuple[Any, Any, list[_Problem]]:
    """Fit the model on the lesions that can be read; its card; the failures.

    Returns ``(fitted model, ModelCard, problems)``. The API behind ``train``.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from ceusradiomics.card import ModelCard

    settings = resolve_settings(overrides=settings) if settings is None else settings
    estimator = build_model(
        model,
        settings,
        readers=readers,
        clinical_columns=clinical_columns,
        verbose=verbose,
        harmonize=harmonize,
        unseen=unseen,
    )
    if harmonize is not None and harmonize not in X.columns:
        raise SettingsError(
            f"--harmonize {harmonize}: the manifest has no column {harmonize!r} "
            "(each lesion's centre or scanner)"
        )
    problems = [
        _Problem(str(lesion), "", "", "MissingLabel", "no outcome for this lesion")
        for lesion in y.index[y.map(is_missing)]
    ]
    keep = ~y.map(is_missing).to_numpy()
    X, y = X[keep], y[keep]
    if clinical_columns:
        absent = [c for c in clinical_columns if c not in X.columns]
        if absent:
            raise SettingsError(
                f"--clinical-columns: {absent} are neither manifest nor labels columns"
            )
    problems = unique_problems(problems + _check_lesions(estimator, X, y))
    failed = {p.lesion for p in problems}
    ok = np.array([str(lesion) not in failed for lesion in X.index])
    X, y = X[ok], y[ok]
    classes = np.unique(y.to_numpy())
    if len(classes) != 2:
        raise SettingsError(
            f"the outcome needs two classes among the {len(y)} usable lesions; got "
            f"{classes.tolist()}"
        )
    if min((y == c).sum() for c in classes) < cv:
        raise SettingsError(
            f"--cv {cv}: the smaller outcome class has only "
            f"{min((y == c).sum() for c in classes)} usable lesions"
        )
    estimator.fit(X, y)
    oof, method = None, None
    if model != "stack":
        splitter = StratifiedKFold(
            cv, shuffle=True, random_state=settings["random_state"]
        )
        oof = cross_val_predict(
            clone(estimator), X, y, cv=splitter, method="predict_proba"
        )[:, 1]
        method = (
            f"stratified {cv}-fold cross-validation: the whole model, selection "
            "included, refitted on each training fold"
        )
    card = ModelCard.from_model(
        estimator,
        X,
        y,
        oof_proba=oof,
        threshold=threshold,
        validation_method=method,
    )
    return estimator, card, problems


def _summary(card: Any, problems: list[_Problem], n_manifest: int) -> list[str]:
    from ceusradiomics.card import format_steps

    t = card.training
    lines = [
        f"trained {card.model}",
        f"lesions used: {t['n_lesions']} of {n_manifest} ({t['n_positive']} "
        f"positive, {100 * t['outcome_rate']:.1f}%)"
        + (f"; {len({p.lesion for p in problems})} failed" if problems else ""),
    ]
    for name, branch in card.branches.items():
        if branch["steps"]:
            lines.append(f"{name}: {format_steps(branch['steps'])}")
        elif branch["selected"]:
            lines.append(f"{name}: {len(branch['selected'])} predictors selected")
    if card.validation:
        v = card.validation
        lines.append(
            f"out-of-fold AUC {v['auc']:.3f} ({v['ci_method']} CI "
            f"{v['ci_lower']:.3f}-{v['ci_upper']:.3f}), {v['method']}"
        )
    lines.append(f"threshold {card.threshold:.4g}: {card.threshold_method}")
    return lines


def run_train(
    manifest: str,
    out: str,
    *,
    labels: str | None = None,
    label_column: str = "ER",
    id_column: str = "lesion_id",
    model: str = "stack",
    clinical_columns: list[str] | None = None,
    params: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    cv: int = 5,
    threshold: float | str = "youden",
    quiet: bool = False,
    harmonize: str | None = None,
    unseen: str = "error",
) -> int:
    """Train, save and describe a model; return the exit status (see the module)."""
    from ceusradiomics.persist import save_model

    started = time.monotonic()
    out_path = Path(out)
    errors_path = out_path.with_name(f"{out_path.stem}.errors.csv")
    card_path = out_path.with_name(f"{out_path.stem}.card.md")
    try:
        overrides = dict(overrides or {})
        settings = resolve_settings(params, overrides)
        given = {**(read_params(params) if params else {}), **overrides}
        X = load_cohort(manifest, id_column=id_column)
        X, y = _labels(X, labels, label_column, id_column)
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore", CeusRadiomicsWarning)
            fitted, card, problems = train_model(
                X,
                y,
                model=model,
                settings=settings,
                readers=_readers(X, given),
                clinical_columns=clinical_columns,
                cv=cv,
                threshold=threshold,
                verbose=not quiet,
                harmonize=harmonize,
                unseen=unseen,
            )
    except KeyboardInterrupt:
        print("interrupted: nothing was saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (SettingsError, ValueError, TypeError, OSError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        save_model(fitted, out_path, card=card)
        card_path.write_text(card.to_markdown(), encoding="utf-8")
        _record_errors(errors_path, problems, id_column)
    except (_WriteError, OSError) as exc:
        print(f"error: cannot write the model or its files: {exc}", file=sys.stderr)
        return EXIT_WRITE
    for line in _summary(card, problems, len(X)):
        print(line)
    print(
        f"saved {out_path} and {card_path.name} in {time.monotonic() - started:.0f} s"
    )
    return _failure_status(problems, errors_path)


def _threshold(text: str) -> float | str:
    if text == "youden":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'youden' or a probability; got {text!r}"
        ) from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be within [0, 1]; got {value}")
    return value


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``train`` to the subcommands."""
    train = commands.add_parser(
        "train",
        help="fit a study model on a manifest and save it with its model card",
        description=(
            "Fit one of the study's models (the stacked radiomics + deep model by "
            "default) on the lesions of a manifest and their outcomes, and save it "
            "to --out with skops (a safe format: loading never runs code from the "
            "file), with its model card inside and as <out stem>.card.md beside "
            "it. Texture and network settings are those of 'extract' (flags or "
            "--params). Lesions that cannot be read are listed in "
            "<out stem>.errors.csv and left out. Exit status: 0 done, 1 some "
            "lesions failed, 2 invalid settings or input, 3 a file could not be "
            "written, 130 interrupted."
        ),
    )
    files = train.add_argument_group("input and output")
    files.add_argument("--manifest", metavar="CSV", required=True)
    files.add_argument(
        "--labels",
        metavar="CSV",
        default=None,
        help="outcomes in a separate CSV (id column and --label-column; its other "
        "columns can be clinical factors); default: a column of the manifest",
    )
    files.add_argument(
        "--label-column",
        metavar="NAME",
        default="ER",
        help="the outcome column (default: ER)",
    )
    files.add_argument(
        "--id-column",
        metavar="NAME",
        default="lesion_id",
        help="the lesion id column (default: lesion_id)",
    )
    files.add_argument(
        "--out", metavar="MODEL", required=True, help="the model file (.skops)"
    )
    files.add_argument("--params", metavar="FILE", default=None)
    model = train.add_argument_group("model")
    model.add_argument(
        "--model",
        choices=MODELS,
        default="stack",
        help="stack: radiomics + deep (+ clinical with --clinical-columns), "
        "late fusion; or one branch, or the radiomics nomogram (default: stack)",
    )
    model.add_argument(
        "--clinical-columns",
        metavar="NAME",
        nargs="+",
        default=None,
        help="clinical factors (manifest or labels columns): the clinical model's, "
        "the nomogram's, or a third branch of the stack",
    )
    model.add_argument(
        "--cv",
        metavar="K",
        type=int,
        default=5,
        help="folds of the out-of-fold probabilities of a single model (the "
        "stack uses its own nested 5 folds) (default: 5)",
    )
    model.add_argument(
        "--threshold",
        type=_threshold,
        default="youden",
        help="'youden' (maximise Youden's index on the out-of-fold "
        "probabilities) or a probability (default: youden)",
    )
    model.add_argument(
        "--harmonize",
        metavar="COLUMN",
        default=None,
        help="a multi-centre cohort's batch column (e.g. center): the imaging "
        "features are harmonised by ComBat, fitted on the training lesions",
    )
    model.add_argument(
        "--unseen-centres",
        choices=("error", "estimate"),
        default="error",
        help="with --harmonize, lesions of a centre absent from training: refused "
        "at predict (error, the default) or harmonised from that centre's own "
        "lesions scored together (estimate)",
    )
    groups = {
        "texture": train.add_argument_group("texture (TextureExtractor)"),
        "deep": train.add_argument_group("deep features (ResNetFeaturizer)"),
    }
    add_flags(groups, exclude=("deep",))
    train.add_argument(
        "--quiet", action="store_true", help="no progress bar and no warnings"
    )
    train.set_defaults(handler=run)
    return train


def run(args: argparse.Namespace) -> int:
    """Run ``train`` with the parsed command line; return the exit status."""
    return run_train(
        args.manifest,
        args.out,
        labels=args.labels,
        label_column=args.label_column,
        id_column=args.id_column,
        model=args.model,
        clinical_columns=args.clinical_columns,
        params=args.params,
        overrides=flag_settings(vars(args)),
        cv=args.cv,
        threshold=args.threshold,
        quiet=args.quiet,
        harmonize=args.harmonize,
        unseen=args.unseen_centres,
    )
