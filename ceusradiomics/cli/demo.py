"""``python -m ceusradiomics demo``: the study end to end on a cohort.

Nothing in the library imports this module; it only composes the public API
the way a user would in a notebook.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ceusradiomics.card import (
    format_steps,
    radiomics_score_terms,
    score_formula,
    selection_steps,
)
from ceusradiomics.exceptions import DegenerateROIWarning


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``demo`` to the subcommands."""
    demo = commands.add_parser(
        "demo",
        help="run the study on the bundled synthetic cohort",
        description=(
            "Build the bundled synthetic CEUS cohort (or read a manifest), print its "
            "summary (the study's Table 1), then fit the radiomics, deep and "
            "combined models on a stratified 7:3 split and report them like the "
            "study's Table 2, with figures, into --out."
        ),
    )
    demo.add_argument(
        "--n-lesions", type=int, default=172, help="cohort size (default: 172)"
    )
    demo.add_argument(
        "--random-state", type=int, default=0, help="seed of cohort and split"
    )
    demo.add_argument(
        "--manifest",
        default=None,
        help="a cohort CSV (load_cohort format) instead of the synthetic cohort",
    )
    demo.add_argument(
        "--label-column", default="ER", help="outcome column of the manifest"
    )
    demo.add_argument(
        "--n-jobs", type=int, default=None, help="parallel workers for extraction"
    )
    demo.add_argument(
        "--out",
        default="ceusradiomics-demo",
        help="folder for tables, figures and report (default: ./ceusradiomics-demo)",
    )
    demo.add_argument(
        "--weights",
        default="IMAGENET1K_V2",
        help="ResNet-50 weights: a torchvision name, a state-dict file or 'none' "
        "(random); missing ImageNet weights fall back to random with a note",
    )
    demo.add_argument(
        "--image-size",
        type=int,
        default=224,
        help="network input size in pixels (default: 224, as the study)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument(
        "--thorough",
        action="store_true",
        help="internal validation in full: repeated 5-fold CV x 10 of every model "
        "including the two stacks, and 200 bootstrap samples of the single models "
        "(default: 5-fold CV x 2 of the single models and the nomogram; see "
        "docs/benchmarks.md for the times)",
    )
    demo.add_argument(
        "--summary-only",
        action="store_true",
        help="only build the cohort and print its summary",
    )
    texture = demo.add_argument_group(
        "texture settings",
        "TextureExtractor's settings of the radiomics branch, as in extract "
        "(default: the extractor's own, MaZda's)",
    )
    for setting in _texture_settings():
        texture.add_argument(setting.flag, **setting.kind)
    demo.set_defaults(handler=run)
    return demo


# Chosen by the demo itself from the cohort (phases, readers) or its own flag.
_DEMO_OWN = frozenset({"phases", "readers", "n_jobs"})


def _texture_settings() -> list:
    from ceusradiomics.cli._settings import setting_specs

    return [
        s
        for s in setting_specs().values()
        if s.group == "texture" and s.name not in _DEMO_OWN and s.kind is not None
    ]


def _texture_params(args: argparse.Namespace) -> dict:
    """The texture flags given, validated once by the extractor, as kwargs."""
    from ceusradiomics.cli._settings import _check, flag_settings

    given = flag_settings(vars(args))
    params: dict = {}
    for setting in _texture_settings():
        if setting.name not in given:
            continue
        value = given[setting.name]
        _check(setting, value, setting.flag)
        if setting.via:  # a registered family's parameter
            params.setdefault(setting.via, {})[setting.name] = value
        else:
            params[setting.name] = value
    return params


def run(args: argparse.Namespace) -> int:
    """Run ``demo`` with the parsed command line; return the exit status."""
    from ceusradiomics.cli._settings import SettingsError

    try:
        texture_params = _texture_params(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_demo(
        texture_params=texture_params,
        n_lesions=args.n_lesions,
        random_state=args.random_state,
        manifest=args.manifest,
        label_column=args.label_column,
        n_jobs=args.n_jobs,
        summary_only=args.summary_only,
        out=args.out,
        weights=None if args.weights.lower() == "none" else args.weights,
        image_size=args.image_size,
        quiet=args.quiet,
        thorough=args.thorough,
    )


def cohort_table(y: pd.Series, clinical: pd.DataFrame | None, split: pd.Series) -> str:
    """The study's Table 1: characteristics per split, as plain text."""
    lines = []
    groups = [("Training", split == "train"), ("Testing", split == "test")]
    header = f"{'Characteristic':<22}" + "".join(f"{name:>16}" for name, _ in groups)
    lines += [header, "-" * len(header)]

    def row(label, values):
        lines.append(f"{label:<22}" + "".join(f"{v:>16}" for v in values))

    row("Number", [int(sel.sum()) for _, sel in groups])
    if clinical is not None:
        row(
            "Age (mean +/- SD)",
            [
                f"{clinical.loc[sel, 'age'].mean():.1f} +/- "
                f"{clinical.loc[sel, 'age'].std():.1f}"
                for _, sel in groups
            ],
        )
        for column, title in [
            ("sex", "Sex"),
            ("size_group", "Size (cm)"),
            ("hepatitis", "Hepatitis"),
            ("cirrhosis", "Cirrhosis"),
            ("afp_group", "AFP (ng/ml)"),
        ]:
            if column not in clinical:
                continue
            lines.append(title)
            for level in sorted(clinical[column].dropna().unique()):
                row(
                    f"  {level}",
                    [
                        int((clinical.loc[sel, column] == level).sum())
                        for _, sel in groups
                    ],
                )
    lines.append("ER")
    row("  positive", [int(y[sel].sum()) for _, sel in groups])
    row("  negative", [int((1 - y[sel]).sum()) for _, sel in groups])
    return "\n".join(lines)


def run_demo(
    *,
    n_lesions: int = 172,
    random_state: int = 0,
    manifest: str | None = None,
    label_column: str = "ER",
    n_jobs: int | None = None,
    summary_only: bool = False,
    out: str | os.PathLike = "ceusradiomics-demo",
    weights: str | None = "IMAGENET1K_V2",
    image_size: int = 224,
    quiet: bool = False,
    texture_params: dict | None = None,
    thorough: bool = False,
) -> int:
    """Run the demo and print its report; returns the exit code.

    `texture_params` are further TextureExtractor settings of the radiomics
    branch (``{"normalization": "minmax"}``).
    """
    from ceusradiomics.datasets import make_ceus_cohort
    from ceusradiomics.io import load_cohort

    start = time.perf_counter()
    if manifest is None:
        X, y, clinical = make_ceus_cohort(
            n_lesions=n_lesions, random_state=random_state
        )
        source = f"bundled synthetic CEUS cohort (random_state={random_state})"
    else:
        X, y = load_cohort(manifest, label_column=label_column)
        clinical = None
        source = f"manifest {manifest}"
    y = y.astype(int)
    # A plain array of ids: a pyarrow-backed string index does not split.
    train, test = train_test_split(
        X.index.to_numpy(), test_size=0.3, stratify=y, random_state=random_state
    )
    split = pd.Series("train", index=X.index).where(~X.index.isin(test), "test")

    readers = [c for c in X.columns if "_mask_" in c]
    n_repeated = int(X[readers].notna().any(axis=1).sum()) if readers else 0
    phases = [c.removesuffix("_image") for c in X.columns if c.endswith("_image")]
    print(f"Cohort: {source}")
    print(
        f"  {len(X)} lesions, {int(y.sum())} with early recurrence (ER), "
        f"phases {phases}, {n_repeated} lesions with a second reader's ROI"
    )
    print(f"  built in {time.perf_counter() - start:.1f} s")
    print()
    table1 = cohort_table(y, clinical, split)
    clinical_tables = None
    if clinical is not None:
        clinical_tables = _table_one(clinical, y, split)
        print("Table 1. Characteristics of the training and testing cohorts")
        print(_text(clinical_tables["by_split"]))
        print()
        print("Table 1b. Characteristics by early recurrence (whole cohort)")
        print(_text(clinical_tables["by_er"]))
    else:
        print(table1)
    if summary_only:
        return 0

    print()
    return _study(
        X,
        y,
        train,
        test,
        table1=table1,
        phases=tuple(phases),
        readers="all" if n_repeated >= 3 else "primary",
        out=Path(out),
        weights=weights,
        image_size=image_size,
        n_jobs=n_jobs,
        random_state=random_state,
        quiet=quiet,
        source=source,
        texture_params=texture_params or {},
        clinical=clinical,
        clinical_tables=clinical_tables,
        thorough=thorough,
    )


#: The clinical factors of the study's Table 1 given to the clinical model
#: (size_group is size_cm cut at 5 cm: one of the two is enough).
CLINICAL_FACTORS = ("age", "sex", "size_cm", "hepatitis", "cirrhosis", "afp_group")


def _table_one(clinical: pd.DataFrame, y: pd.Series, split: pd.Series) -> dict:
    """Table 1 with its tests: training vs testing, and ER vs no ER."""
    from ceusradiomics.clinical import table_one

    cohort = split.map({"train": "training", "test": "testing"})
    cohort = pd.Categorical(cohort, categories=["training", "testing"])
    return {
        "by_split": table_one(clinical.assign(cohort=cohort), "cohort"),
        "by_er": table_one(clinical.assign(ER=y.to_numpy()), "ER"),
    }


def _text(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    if "p-value" in shown:
        shown["p-value"] = [
            "" if pd.isna(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")
            for p in shown["p-value"]
        ]
    return shown.astype(object).where(shown.notna(), "").to_string()


def _available_weights(weights: str | None) -> tuple[str | None, str | None]:
    """The weights to use, and a one-line note when ImageNet's are missing."""
    if weights is None:
        return None, "random ResNet-50 weights (--weights none)"
    from ceusradiomics.deep._weights import (
        WeightsNotFoundError,
        fetch_named_weights,
        resolve_weights,
    )

    kind, member = resolve_weights(weights)
    if kind != "named":
        return weights, None
    try:
        fetch_named_weights(member)
    except WeightsNotFoundError as exc:
        return None, (
            f"ImageNet weights {weights} are not available offline "
            f"({str(exc).split('Expected the file ')[-1].split(' (')[0]}); "
            "running the deep branch with random weights instead"
        )
    return weights, None


def _study(
    X,
    y,
    train,
    test,
    *,
    table1,
    phases,
    readers,
    out,
    weights,
    image_size,
    n_jobs,
    random_state,
    quiet,
    source,
    texture_params,
    clinical=None,
    clinical_tables=None,
    thorough=False,
):
    """Fit the models on the training split and report them like Table 2.

    With a clinical table: the clinical model (univariable screen ->
    multivariable logistic), radiomics, ResNet-50, the imaging stack, the
    clinical + imaging stack and the radiomics nomogram; without one, the
    study's three models.
    """
    from ceusradiomics.ensemble import StackingERClassifier, make_study_pipeline
    from ceusradiomics.metrics import (
        binary_report,
        delong_test,
        roc_auc_ci,
        youden_threshold,
    )

    weights, note = _available_weights(weights)
    if note:
        print(f"Note: {note}.")
    common = {"phases": phases, "random_state": random_state, "verbose": not quiet}
    factors = None
    if clinical is not None:
        factors = [c for c in CLINICAL_FACTORS if c in clinical.columns]
        # Clinical factors travel in the records frame; the extractors ignore
        # the columns that are not theirs.
        X = X.join(clinical[factors])
    stack = StackingERClassifier(
        estimators=[
            (
                "radiomics",
                make_study_pipeline(
                    "radiomics",
                    readers=readers,
                    n_jobs=n_jobs,
                    texture_params=texture_params,
                    **common,
                ),
            ),
            (
                "deep",
                make_study_pipeline(
                    "deep", weights=weights, image_size=image_size, **common
                ),
            ),
        ],
        random_state=random_state,
        clinical_columns=factors,
    )
    X_train, y_train = X.loc[train], y.loc[train]
    X_test, y_test = X.loc[test], y.loc[test]

    start = time.perf_counter()
    with warnings.catch_warnings():
        # Constant or tiny ROIs give NaN features, imputed in the pipelines.
        warnings.simplefilter("ignore", DegenerateROIWarning)
        stack.fit(X_train, y_train)
        # Training scores are out-of-fold (a refitted forest scores its own
        # training lesions perfectly); the threshold is chosen on them.
        proba = {
            "train": stack.oof_proba_.copy(),
            "test": stack.branch_predict_proba(X_test),
        }
        clinical_model = nomogram = None
        if factors:
            clinical_model = stack.named_estimators_["clinical"][-1]
            _imaging_stack(proba, y_train, random_state)
            nomogram = _nomogram(
                proba,
                X_train,
                y_train,
                X_test,
                list(clinical_model.selected_),
                phases=phases,
                readers=readers,
                random_state=random_state,
                texture_params=texture_params,
            )
    seconds = time.perf_counter() - start
    network = "ResNet-50" + (" (random weights)" if weights is None else "")
    if factors:
        names = {
            "clinical": "Clinical",
            "radiomics": "Radiomics",
            "deep": network,
            "imaging": "Imaging stack",
            "stack": "Clinical + imaging stack",
            "nomogram": "Radiomics nomogram",
        }
    else:
        names = {
            "radiomics": "Radiomics",
            "deep": network,
            "stack": "Deep learning radiomics",
        }
    labels = {"train": y_train, "test": y_test}

    rows = []
    for cohort in ("train", "test"):
        for key, name in names.items():
            score = proba[cohort][key]
            # The cut-off is chosen on training data and applied unchanged.
            threshold = youden_threshold(y_train, proba["train"][key])
            auc = roc_auc_ci(labels[cohort], score)
            report = binary_report(labels[cohort], score, threshold=threshold)
            row = {
                "cohort": "Training" if cohort == "train" else "Testing",
                "model": name,
                "AUC": auc.auc,
                "AUC 95% CI": f"{auc.ci_lower:.3f}-{auc.ci_upper:.3f}",
            }
            # Each proportion with its Wilson 95% interval.
            proportions = report.to_frame()  # once per row, not per metric
            for metric, column in _PROPORTIONS.items():
                value = proportions.loc[metric]
                row[column] = value["estimate"]
                row[f"{column} 95% CI"] = (
                    f"{value['ci_lower']:.3f}-{value['ci_upper']:.3f}"
                )
            row["threshold"] = threshold
            rows.append(row)
    table2 = pd.DataFrame(rows)
    # The combined model against its parts; with a clinical model, every
    # imaging model against it (does imaging add to the clinical factors?).
    pairs = [("stack", key) for key in ("radiomics", "deep")]
    if factors:
        pairs = [("imaging", "radiomics"), ("imaging", "deep")] + [
            (key, "clinical")
            for key in ("radiomics", "deep", "imaging", "stack", "nomogram")
        ]
    tests = []
    for cohort in ("train", "test"):
        for first, second in pairs:
            result = delong_test(
                labels[cohort], proba[cohort][first], proba[cohort][second]
            )
            tests.append(
                {
                    "cohort": "Training" if cohort == "train" else "Testing",
                    "comparison": f"{names[first]} vs {names[second]}",
                    "AUC difference": result.difference,
                    "z": result.z,
                    "p": result.p_value,
                }
            )
    delong = pd.DataFrame(tests)

    radiomics = stack.named_estimators_["radiomics"]
    deep = stack.named_estimators_["deep"]
    counts = selection_steps(radiomics), selection_steps(deep)
    print(
        f"Models fitted on {len(train)} lesions in {seconds:.0f} s "
        f"(stack with 5-fold out-of-fold predictions)."
    )
    for branch, steps in zip(("radiomics", "deep"), counts, strict=True):
        print(f"  {branch} features: " + format_steps(steps))
    score_terms = score_formula(radiomics_score_terms(radiomics))
    print(f"  radiomics score = {score_terms}")
    print()
    odds = None
    if clinical_model is not None:
        odds = _odds_ratio_table(clinical_model)
        print()
        print(
            "Clinical factors, training cohort: univariable and multivariable "
            "logistic regression (odds ratio, 95% CI, Wald p)"
        )
        print(odds.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        lr = nomogram[-1]
        print(
            "  radiomics nomogram: radiomics score + "
            + ", ".join(lr.selected_[1:] if len(lr.selected_) > 1 else ["nothing"])
        )
    print()
    print(
        f"Table 2. Performance of the {len(names)} models, with 95% CIs (DeLong "
        "for the AUC, Wilson for the proportions; training: 5-fold out-of-fold "
        "scores; threshold: Youden on them)"
    )
    print(_format_table2(table2))
    print()
    print("DeLong tests of correlated AUCs")
    print(delong.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    validation = _internal_validation(
        stack,
        nomogram,
        X,
        y,
        factors,
        names,
        thorough=thorough,
        random_state=random_state,
    )

    out.mkdir(parents=True, exist_ok=True)
    table2.to_csv(out / "table2.csv", index=False)
    if validation is not None:
        validation["summary"].to_csv(out / "repeated_cv.csv", index=False)
        validation["result"].scores.to_csv(out / "repeated_cv_splits.csv", index=False)
        if "bootstrap" in validation:
            validation["bootstrap"].to_csv(out / "bootstrap.csv", index=False)
    delong.to_csv(out / "delong.csv", index=False)
    if clinical_tables is not None:
        clinical_tables["by_split"].to_csv(out / "table1.csv")
        clinical_tables["by_er"].to_csv(out / "table1_er.csv")
    if odds is not None:
        odds.to_csv(out / "odds_ratios.csv", index=False)
    pd.concat({c: p for c, p in proba.items()}, names=["cohort"]).to_csv(
        out / "predictions.csv"
    )
    shown_figures: dict = {}  # kept open for the HTML report, then closed
    figures = _figures(
        out,
        labels,
        proba,
        names,
        radiomics,
        deep,
        nomogram,
        X_train,
        on_figure=shown_figures.__setitem__,
    )
    if figures:
        explained = _explanations(stack, X_test, y_test, out)
        for stem, fig in explained.items():
            figures += [f"{stem}.png", f"{stem}.svg"]
            shown_figures[stem] = fig
    _write_report(
        out / "report.md",
        source=source,
        table1=table1,
        table2=table2,
        delong=delong,
        counts=counts,
        score=score_terms,
        figures=figures,
        note=note,
        clinical_tables=clinical_tables,
        odds=odds,
        validation=validation,
    )
    if validation is not None and figures:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 5))
        validation["result"].plot(ax=ax)
        ax.set_title(validation["title"])
        for label in ax.get_xticklabels():  # long model names
            label.set_rotation(20)
            label.set_horizontalalignment("right")
        fig.tight_layout()
        for suffix in ("png", "svg"):
            fig.savefig(out / f"repeated_cv.{suffix}", dpi=120, bbox_inches="tight")
            figures.append(f"repeated_cv.{suffix}")
        shown_figures["repeated_cv"] = fig
    _write_html_report(
        out / "report.html",
        validation=validation,
        source=source,
        note=note,
        n_train=len(train),
        n_test=len(test),
        y_train=y_train,
        texture_params=texture_params,
        weights=weights,
        clinical_tables=clinical_tables,
        odds=odds,
        counts=counts,
        score=score_terms,
        table2=table2,
        delong=delong,
        figures=shown_figures,
        n_candidates=counts[0][0][1],
    )
    if shown_figures:
        import matplotlib.pyplot as plt

        for fig in shown_figures.values():
            plt.close(fig)
    written = [
        "table2.csv",
        "delong.csv",
        "predictions.csv",
        "report.md",
        "report.html",
    ]
    if clinical_tables is not None:
        written += ["table1.csv", "table1_er.csv", "odds_ratios.csv"]
    if validation is not None:
        written += ["repeated_cv.csv", "repeated_cv_splits.csv"]
        written += ["bootstrap.csv"] if "bootstrap" in validation else []
    print()
    print(f"Wrote {out}/: " + ", ".join(written + figures))
    return 0


def _explanations(stack, X_test, y_test, out) -> dict:
    """Explanation figures of the first testing lesion with ER and the first
    without (cohort order: not picked for the picture), as PNG and SVG."""
    from ceusradiomics.explain import LesionExplanationDisplay

    figures = {}
    for label in (1, 0):
        found = y_test.index[y_test.to_numpy() == label]
        if len(found) == 0:
            continue
        lesion = found[0]
        display = LesionExplanationDisplay.from_estimator(stack, X_test, lesion)
        outcome = "ER" if label else "no ER"
        display.figure_.suptitle(f"Lesion {lesion} (testing, {outcome})")
        stem = f"explain_{lesion}"
        for suffix in ("png", "svg"):
            display.figure_.savefig(out / f"{stem}.{suffix}", dpi=110)
        figures[stem] = display.figure_
    return figures


def _write_html_report(
    path,
    *,
    validation=None,
    source,
    note,
    n_train,
    n_test,
    y_train,
    texture_params,
    weights,
    clinical_tables,
    odds,
    counts,
    score,
    table2,
    delong,
    figures,
    n_candidates,
):
    """``report.html``: the study as one self-contained page, TRIPOD-ordered.

    Every table is the frame written to its CSV beside it; every figure is
    embedded as SVG (no file, no network needed to open it).
    """
    import platform

    from ceusradiomics import __version__
    from ceusradiomics.report import StudyReport

    (
        data,
        outcome,
        predictors,
        building,
        performance,
        validation_title,
        curves,
        limits,
    ) = StudyReport.tripod_sections()
    report = StudyReport(
        "CEUS deep-learning radiomics: study reproduction",
        subtitle=f"ceusradiomics {__version__}, Python {platform.python_version()}",
    )
    report.add_section(data).add_text(
        f"Cohort: {source}. Stratified 7:3 split: {n_train} training and {n_test} "
        "testing lesions; every selection step is fitted on the training split only."
    )
    if clinical_tables is not None:
        report.add_table(
            clinical_tables["by_split"],
            caption="Table 1. Training and testing cohorts, with tests",
            csv_name="table1.csv",
        )
        report.add_table(
            clinical_tables["by_er"],
            caption="Table 1b. By early recurrence",
            csv_name="table1_er.csv",
        )
    report.add_section(outcome).add_text(
        f"Early recurrence (ER), binary: {int(y_train.sum())} of {n_train} training "
        "lesions are positive."
    )
    settings = {"normalization": "none", **(texture_params or {})}
    report.add_section(predictors).add_list(
        [
            "MaZda texture features of each phase's ROI (TextureExtractor, "
            + ", ".join(f"{k}={v!r}" for k, v in settings.items())
            + ")",
            "ResNet-50 pooled features of each phase's ROI crop, weights: "
            + ("random (no ImageNet weights)" if weights is None else str(weights)),
        ]
        + (
            ["Clinical factors: " + ", ".join(CLINICAL_FACTORS)]
            if odds is not None
            else []
        )
    )
    report.add_section(building)
    for branch, steps in zip(("Radiomics", "Deep"), counts, strict=True):
        report.add_text(f"{branch}: " + format_steps(steps))
    report.add_text(f"Radiomics score = {score}")
    if odds is not None:
        report.add_table(
            odds,
            caption="Clinical factors: univariable and multivariable odds ratios",
            csv_name="odds_ratios.csv",
        )
    report.add_section(performance)
    if validation is not None:
        report.add_text(
            "Primary estimates: " + validation["title"] + ". " + validation["method"]
        )
        report.add_table(
            validation["summary"],
            caption="Repeated cross-validation, whole cohort: mean AUC with the "
            "corrected resampled t 95% CI",
            csv_name="repeated_cv.csv",
        )
        report.add_text(
            "Below, the study's design: one stratified 7:3 split (its testing "
            "figures swing from one seed to the next)."
        )
    report.add_table(
        table2,
        caption="Table 2. AUC with DeLong 95% CI; accuracy, sensitivity, "
        "specificity, PPV, NPV with Wilson 95% CIs; training rows out of fold",
        csv_name="table2.csv",
    )
    report.add_table(delong, caption="DeLong tests", csv_name="delong.csv")
    for stem in ("roc", "nomogram"):
        if stem in figures:
            report.add_figure(figures[stem], name=f"{stem}.svg")
    report.add_section(validation_title).add_text(
        "Training figures of Table 2 are out-of-fold scores (5-fold; the stacks' "
        "are nested)."
    )
    if validation is not None:
        if "repeated_cv" in figures:
            report.add_figure(figures["repeated_cv"], name="repeated_cv.svg")
        if "bootstrap" in validation:
            report.add_table(
                validation["bootstrap"],
                caption=f"Bootstrap validation ({THOROUGH_BOOTSTRAP} samples): "
                "apparent, optimism, corrected; the .632+ AUC",
                csv_name="bootstrap.csv",
            )
            for caution in validation.get("cautions", []):
                report.add_text(caution)
    report.add_section(curves)
    for stem in ("calibration", "decision_curves", "lasso_coefficients"):
        if stem in figures:
            report.add_figure(figures[stem], name=f"{stem}.svg")
    explained = [stem for stem in figures if stem.startswith("explain_")]
    if explained:
        report.add_section("Why these predictions? Two testing lesions").add_text(
            "The first testing lesion with ER and the first without (in the "
            "cohort's order, not chosen for the picture): each phase's crop with "
            "its ROI and the ResNet-50 branch's class-activation map (red pushes "
            "the deep score up, blue down; the map's mean is the phase's term of "
            "the score), the largest terms of the radiomics score, and each "
            "branch's probability."
        )
        for stem in explained:
            report.add_figure(figures[stem], name=f"{stem}.svg")
    events = int(y_train.sum())
    limitations = [
        f"{events} events for {n_candidates} candidate texture features (and "
        "thousands of deep ones) before selection: about "
        f"{events / max(n_candidates, 1):.2f} events per candidate predictor.",
        "A single 7:3 split: the testing AUCs swing from one seed to the next.",
    ]
    if weights is None:
        limitations.append(
            "The network has random weights, not ImageNet's: its features are not "
            "the study's."
        )
    if note:
        limitations.append(f"Note: {note}.")
    report.add_section(limits).add_list(limitations)
    report.write(path)


#: Repeats of the 5-fold CV by default and with --thorough, and the
#: bootstrap samples of --thorough (docs/benchmarks.md times both).
DEFAULT_REPEATS, THOROUGH_REPEATS, THOROUGH_BOOTSTRAP = 2, 10, 200


def _quiet(model):
    """`model` with every ``verbose`` parameter off: no progress bar per fold."""
    params = model.get_params(deep=True)
    return model.set_params(
        **{
            key: False
            for key, value in params.items()
            if key.split("__")[-1] == "verbose" and value is True
        }
    )


def _harrell_cautions(bootstrap: pd.DataFrame) -> list[str]:
    """A caution for each model that fits its training data perfectly.

    Harrell's optimism is the gap between a bootstrap model's AUC on its own
    sample and on the original data, which shares about 63% of its lesions:
    for a model whose apparent AUC is 1 (a random forest, an RBF SVM) that
    gap stays small and the "corrected" AUC stays high; the .632+ estimator
    was designed for this case.
    """
    auc = bootstrap[bootstrap["metric"] == "auc"]
    return [
        f"{row.model}: apparent AUC {row.apparent:.3f}, so Harrell's corrected "
        f"AUC ({row.corrected:.3f}) understates its optimism (the original data "
        "share about 63% of each bootstrap sample's lesions); read the .632+ AUC "
        "and the repeated cross-validation instead."
        for row in auc.itertuples()
        if row.apparent >= 0.99
    ]


def _internal_validation(
    stack, nomogram, X, y, factors, names, *, thorough, random_state
) -> dict:
    """Repeated cross-validation (and, thorough, the bootstrap) on the whole cohort.

    The primary estimates of each model's AUC, with the corrected resampled t
    interval: by default 5-fold CV repeated twice for the single models and
    the nomogram; with ``thorough`` ten repeats, the two stacks too (their
    own nested training scores switched off: the CV is the outer loop), and
    200 bootstrap samples of the single models (Harrell's optimism and the
    .632+ AUC).
    """
    from sklearn.base import clone
    from sklearn.model_selection import RepeatedStratifiedKFold

    from ceusradiomics.ensemble import StackingERClassifier
    from ceusradiomics.validation import bootstrap_validation, cross_validate_models

    # The fitted branches' settings (clone drops the fit), the clinical one too.
    branches = dict(stack.named_estimators_)
    models = {}
    if factors:
        models[names["clinical"]] = clone(branches["clinical"])
    models[names["radiomics"]] = clone(branches["radiomics"])
    models[names["deep"]] = clone(branches["deep"])
    if nomogram is not None:
        models[names["nomogram"]] = clone(nomogram)
    if thorough:
        imaging = [(n, _quiet(clone(branches[n]))) for n in ("radiomics", "deep")]
        key = "imaging" if factors else "stack"
        models[names[key]] = StackingERClassifier(
            estimators=imaging, random_state=random_state, nested_oof=False
        )
        if factors:
            models[names["stack"]] = StackingERClassifier(
                estimators=[*imaging, ("clinical", clone(branches["clinical"]))],
                random_state=random_state,
                nested_oof=False,
            )
    models = {name: _quiet(model) for name, model in models.items()}
    repeats = THOROUGH_REPEATS if thorough else DEFAULT_REPEATS
    cv = RepeatedStratifiedKFold(
        n_splits=5, n_repeats=repeats, random_state=random_state
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateROIWarning)
        result = cross_validate_models(models, X, y, cv=cv)
    summary = result.to_frame().reset_index(names="model")
    title = (
        f"Repeated 5-fold cross-validation x {repeats}, all {len(y)} lesions "
        f"({time.perf_counter() - start:.0f} s)"
    )
    print()
    print(f"{title}: mean AUC with the corrected resampled t 95% CI")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    validation = {
        "result": result,
        "summary": summary,
        "title": title,
        "method": "Every model is refitted, selection included, on each training "
        "fold; the interval is Nadeau and Bengio's corrected resampled t."
        + ("" if thorough else " The stacks and the bootstrap run with --thorough."),
    }
    if thorough:
        rows = []
        for name, model in models.items():
            if isinstance(model, StackingERClassifier):
                continue
            table = bootstrap_validation(
                model, X, y, n_bootstrap=THOROUGH_BOOTSTRAP, random_state=random_state
            ).to_frame()
            rows.append(table.reset_index(names="metric").assign(model=name))
        validation["bootstrap"] = pd.concat(rows, ignore_index=True)
        validation["cautions"] = _harrell_cautions(validation["bootstrap"])
        print()
        print(f"Bootstrap validation ({THOROUGH_BOOTSTRAP} samples)")
        print(
            validation["bootstrap"].to_string(
                index=False, float_format=lambda v: f"{v:.3f}"
            )
        )
        for caution in validation["cautions"]:
            print(f"  {caution}")
    return validation


def _imaging_stack(proba: dict, y_train, random_state) -> None:
    """Add the imaging-only stack (radiomics + ResNet-50) to `proba`.

    The same late fusion as the stack's, on the two imaging branches'
    out-of-fold scores: a logistic regression fitted on them (test scores)
    and cross-validated on them with the stack's folds (training scores).
    The branches are the ones already fitted, so this costs no refit.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    columns = ["radiomics", "deep"]
    train = proba["train"][columns].to_numpy()
    meta = LogisticRegression().fit(train, y_train)
    proba["test"]["imaging"] = meta.predict_proba(proba["test"][columns].to_numpy())[
        :, 1
    ]
    folds = StratifiedKFold(5, shuffle=True, random_state=random_state)
    proba["train"]["imaging"] = cross_val_predict(
        LogisticRegression(), train, y_train, cv=folds, method="predict_proba"
    )[:, 1]


def _nomogram(
    proba,
    X_train,
    y_train,
    X_test,
    factors,
    *,
    phases,
    readers,
    random_state,
    texture_params,
):
    """Fit the radiomics nomogram; add its scores (training: out-of-fold)."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from ceusradiomics.ensemble import make_study_pipeline

    model = make_study_pipeline(
        "nomogram",
        phases=phases,
        readers=readers,
        random_state=random_state,
        texture_params=texture_params,
        clinical_columns=factors,
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=random_state)
    proba["train"]["nomogram"] = cross_val_predict(
        clone(model), X_train, y_train, cv=folds, method="predict_proba"
    )[:, 1]
    model.fit(X_train, y_train)
    proba["test"]["nomogram"] = model.predict_proba(X_test)[:, 1]
    return model


def _odds_ratio_table(model) -> pd.DataFrame:
    """Univariable and multivariable odds ratios side by side, per term."""

    def formatted(table):
        return pd.DataFrame(
            {
                "OR (95% CI)": [
                    f"{r.odds_ratio:.2f} ({r.ci_lower:.2f}-{r.ci_upper:.2f})"
                    for r in table.itertuples()
                ],
                "p": table["p_value"].to_numpy(),
            },
            index=table.index,
        )

    uni = formatted(model.univariable_)
    multi = formatted(model.multivariable_)
    joined = uni.add_suffix(" univariable").join(multi.add_suffix(" multivariable"))
    return joined.reset_index(names="term")


_PROPORTIONS = {
    "accuracy": "accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "ppv": "PPV",
    "npv": "NPV",
}


def _format_table2(table2: pd.DataFrame) -> str:
    """Table 2 as text: each figure with its 95% CI (DeLong for the AUC,
    Wilson for the proportions)."""
    shown = table2[["cohort", "model"]].copy()
    for column in ["AUC", *_PROPORTIONS.values()]:
        shown[column] = [
            f"{value:.3f} ({ci})"
            for value, ci in zip(
                table2[column], table2[f"{column} 95% CI"], strict=True
            )
        ]
    return shown.to_string(index=False)


def _figures(
    out,
    labels,
    proba,
    names,
    radiomics,
    deep,
    nomogram=None,
    X_train=None,
    on_figure=None,
) -> list[str]:
    """The study's figures, each as PNG and SVG; none without matplotlib.

    Every model keeps one colour and one name across the figures, and the
    legends sit below the axes, where they cover no curve.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing: no figures (pip install 'ceusradiomics[plot]')")
        return []
    from ceusradiomics.plotting import (
        plot_calibration_curves,
        plot_decision_curves,
        plot_lasso_coefficients,
        plot_roc_curves,
    )

    written = []
    palette = dict(zip(names.values(), plt.get_cmap("tab10").colors, strict=False))
    shown = list(names.values())

    def save(fig, stem, layout=True):
        if layout:
            fig.tight_layout()
        for suffix in ("png", "svg"):
            # "tight": the legends below the axes are part of the figure.
            fig.savefig(out / f"{stem}.{suffix}", dpi=120, bbox_inches="tight")
            written.append(f"{stem}.{suffix}")
        if on_figure is None:
            plt.close(fig)
        else:
            on_figure(stem, fig)  # the caller closes it

    def styled(ax):
        # The models' colours in order, whatever a plotting function draws.
        ax.set_prop_cycle(color=[palette[n] for n in shown])
        return ax

    def legend_below(ax):
        handles, texts = ax.get_legend_handles_labels()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.legend(
            handles,
            texts,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            fontsize="small",
            frameon=False,
        )

    def by_model(cohort):
        return {names[k]: proba[cohort][k] for k in names}

    height = 5 + 0.25 * len(names)
    fig, axes = plt.subplots(1, 2, figsize=(12, height))
    for ax, cohort in zip(axes, ("train", "test"), strict=True):
        plot_roc_curves(labels[cohort], by_model(cohort), ax=styled(ax))
        ax.set_title("Training cohort" if cohort == "train" else "Testing cohort")
        legend_below(ax)
    save(fig, "roc")

    fig, ax = plt.subplots(figsize=(6, height))
    plot_calibration_curves(labels["test"], by_model("test"), ax=styled(ax))
    ax.set_title("Calibration, testing cohort")
    legend_below(ax)
    save(fig, "calibration")

    fig, axes = plt.subplots(1, 2, figsize=(12, height))
    for ax, cohort in zip(axes, ("train", "test"), strict=True):
        plot_decision_curves(labels[cohort], by_model(cohort), ax=styled(ax))
        ax.set_title("Training cohort" if cohort == "train" else "Testing cohort")
        legend_below(ax)
    save(fig, "decision_curves")

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, (title, pipeline) in zip(
        axes, (("Radiomics", radiomics), ("Deep learning", deep)), strict=True
    ):
        lasso = pipeline.named_steps["lassoselector"]
        coef = pd.Series(np.ravel(lasso.coef_), index=lasso.feature_names_in_)
        coef = coef[coef != 0]
        top = coef.reindex(coef.abs().sort_values(ascending=False).index[:20])
        plot_lasso_coefficients(top, ax=ax)
        more = f" (20 largest of {len(coef)})" if len(coef) > 20 else ""
        ax.set_title(f"{title}: LASSO coefficients{more}")
    save(fig, "lasso_coefficients")

    if nomogram is not None:
        from ceusradiomics.plotting import NomogramDisplay

        # The score is an axis of its own: the model on what it sees.
        display = NomogramDisplay.from_estimator(
            nomogram[-1], nomogram[:-1].transform(X_train)
        )
        # The display lays out its own rows (tight_layout cannot).
        save(display.figure_, "nomogram", layout=False)
    return written


def _write_report(
    path,
    *,
    source,
    table1,
    table2,
    delong,
    counts,
    score,
    figures,
    note,
    clinical_tables=None,
    odds=None,
    validation=None,
):
    lines = [
        "# CEUS deep-learning radiomics: study reproduction",
        "",
        f"Cohort: {source}. Stratified 7:3 split; every selection step fitted on the "
        "training split only. Training metrics are out-of-fold (5-fold) scores, "
        "and each model's threshold is the Youden point of those.",
    ]
    if note:
        lines += ["", f"Note: {note}."]
    if validation is not None:
        lines += [
            "",
            "## Internal validation: the primary estimates",
            "",
            f"{validation['title']}. {validation['method']}",
            "",
            "```",
            validation["summary"].to_string(
                index=False, float_format=lambda v: f"{v:.3f}"
            ),
            "```",
        ]
        if "bootstrap" in validation:
            lines += [
                "",
                "Bootstrap validation (Harrell's optimism correction and the "
                ".632+ AUC)",
                "",
                "```",
                validation["bootstrap"].to_string(
                    index=False, float_format=lambda v: f"{v:.3f}"
                ),
                "```",
            ]
            for caution in validation.get("cautions", []):
                lines += ["", caution]
    if clinical_tables is None:
        lines += ["", "## Table 1", "", "```", table1, "```"]
    else:
        from ceusradiomics.clinical import markdown_table

        lines += [
            "",
            "## Table 1. Training and testing cohorts",
            "",
            markdown_table(clinical_tables["by_split"]),
            "",
            "## Table 1b. By early recurrence",
            "",
            markdown_table(clinical_tables["by_er"]),
        ]
    if odds is not None:
        lines += [
            "",
            "## Clinical factors (training cohort)",
            "",
            "Univariable logistic regression of each factor, then the factors "
            "with p < 0.05 in one multivariable model: the clinical model.",
            "",
            "```",
            odds.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
            "```",
        ]
    lines += ["", "## Feature selection", ""]
    for branch, steps in zip(("Radiomics", "Deep"), counts, strict=True):
        lines.append(f"- {branch}: " + format_steps(steps))
    lines += [
        "",
        f"Radiomics score = {score}",
        "",
        "## Table 2",
        "",
        "```",
        _format_table2(table2),
        "```",
        "",
        "## DeLong tests",
        "",
        "```",
        delong.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
        "```",
    ]
    if figures:
        lines += ["", "## Figures", ""] + [
            f"![{f}]({f})" for f in figures if f.endswith(".png")
        ]
    path.write_text("\n".join(lines) + "\n")
