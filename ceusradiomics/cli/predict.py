"""``python -m ceusradiomics predict``: saved model and manifest in, probabilities out.

Loads a model saved by ``train`` (or :func:`~ceusradiomics.save_model`) with
:func:`~ceusradiomics.load_model`, which refuses a file holding types it does
not trust, and writes one row per lesion: the probability of the positive
class, the class at the threshold stored in the model card, each branch's
probability for a stack, and a ``warnings`` column naming every input that
lies outside what the model saw in training (another image data type, grey
levels outside the training range, an ROI far outside the training sizes; see
:class:`~ceusradiomics.card.InputSchema`). Lesions that cannot be read go to
``<out stem>.errors.csv``, as with ``extract``.

Exit status: 0 done, 1 some lesions failed, 2 invalid model, manifest or
option, 3 a file could not be written, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ceusradiomics.cli.extract import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_WRITE,
    _failure_status,
    _Problem,
    _record_errors,
    _write_atomically,
    _WriteError,
)
from ceusradiomics.exceptions import CeusRadiomicsWarning, UntrustedModelError
from ceusradiomics.io import load_cohort

__all__ = ["add_parser", "predict_lesions", "run", "run_predict"]


def predict_lesions(
    model: Any, card: Any, X: pd.DataFrame, *, verbose: bool = False
) -> tuple[pd.DataFrame, list[_Problem]]:
    """The predictions table of the lesions of `X` that can be read, and the others.

    Columns: ``probability`` (of ``classes_[1]``), ``predicted`` (the class at
    the card's threshold; 0.5 without a card), ``proba_<branch>`` for a
    stack's branches, ``warnings`` (``"; "``-joined, empty when none).
    """
    from ceusradiomics.card import InputSchema
    from ceusradiomics.cli.train import _extractors, unique_problems
    from ceusradiomics.ensemble import StackingERClassifier

    problems: list[_Problem] = []
    for extractor in _extractors(model, fitted=True):
        previous, extractor.verbose = getattr(extractor, "verbose", False), verbose
        try:
            _, errors = extractor._transform_records(X, on_error="collect")
        finally:
            extractor.verbose = previous
        problems += [_Problem.of(str(e.lesion), e) for e in errors]
    problems = unique_problems(problems)
    failed = {p.lesion for p in problems}
    X = X[[str(lesion) not in failed for lesion in X.index]]
    table = pd.DataFrame(index=X.index.copy())
    if len(X) == 0:
        return table, problems
    branches = None
    if isinstance(model, StackingERClassifier):
        # The branches' and the stack's probabilities in one pass.
        branches = model.branch_predict_proba(X)
        proba = branches.pop("stack").to_numpy()
    else:
        proba = model.predict_proba(X)[:, 1]
    threshold = card.threshold if card is not None else 0.5
    classes = model.classes_
    table["probability"] = proba
    table["predicted"] = np.where(proba >= threshold, classes[1], classes[0])
    for name in () if branches is None else branches.columns:
        table[f"proba_{name}"] = branches[name].to_numpy()
    messages: dict[Any, list[str]] = {lesion: [] for lesion in X.index}
    if card is not None and card.input_schema:
        schema = InputSchema(**card.input_schema)
        messages = schema.check(model, X)
    table["warnings"] = ["; ".join(messages.get(lesion, [])) for lesion in X.index]
    return table, problems


def run_predict(
    model_path: str,
    manifest: str,
    out: str,
    *,
    id_column: str = "lesion_id",
    trusted: list[str] | None = None,
    quiet: bool = False,
) -> int:
    """Predict every lesion of a manifest; return the exit status (see the module)."""
    from ceusradiomics.persist import load_card, load_model

    out_path = Path(out)
    errors_path = out_path.with_name(f"{out_path.stem}.errors.csv")
    try:
        model = load_model(model_path, trusted=trusted)
        card = load_card(model_path)
        X = load_cohort(manifest, id_column=id_column)
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore", CeusRadiomicsWarning)
            table, problems = predict_lesions(model, card, X, verbose=not quiet)
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UntrustedModelError, ValueError, TypeError, OSError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if card is None:
        print(
            "note: the model file has no card: threshold 0.5, no input checks",
            file=sys.stderr,
        )
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        frame = table.reset_index(names=id_column)
        _write_atomically(out_path, lambda tmp: frame.to_csv(tmp, index=False))
        _record_errors(errors_path, problems, id_column)
    except (_WriteError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_WRITE
    flagged = int((table["warnings"] != "").sum()) if len(table) else 0
    if not quiet:
        for lesion, text in zip(table.index, table.get("warnings", []), strict=True):
            if text:
                print(f"warning: lesion {lesion!r}: {text}", file=sys.stderr)
    print(
        f"predicted {len(table)}/{len(X)} lesions into {out_path}"
        + (f"; {flagged} with input warnings" if flagged else "")
    )
    return _failure_status(problems, errors_path)


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``predict`` to the subcommands."""
    predict = commands.add_parser(
        "predict",
        help="probabilities of new lesions from a saved model",
        description=(
            "Load a model saved by 'train' (types outside the library's trusted "
            "list are refused, never run) and write one row per lesion of the "
            "manifest to --out: the probability, the class at the model card's "
            "threshold, the branches' probabilities of a stack, and warnings for "
            "inputs unlike the training data. Lesions that cannot be read go to "
            "<out stem>.errors.csv. Exit status: 0 done, 1 some lesions failed, "
            "2 invalid model, manifest or option, 3 a file could not be written, "
            "130 interrupted."
        ),
    )
    predict.add_argument("--model", metavar="MODEL", required=True)
    predict.add_argument("--manifest", metavar="CSV", required=True)
    predict.add_argument("--out", metavar="CSV", required=True)
    predict.add_argument(
        "--id-column",
        metavar="NAME",
        default="lesion_id",
        help="the lesion id column (default: lesion_id)",
    )
    predict.add_argument(
        "--trust",
        metavar="TYPE",
        nargs="+",
        default=None,
        help="further types to accept in the model file, after reviewing them",
    )
    predict.add_argument(
        "--quiet", action="store_true", help="no progress bar and no warnings"
    )
    predict.set_defaults(handler=run)
    return predict


def run(args: argparse.Namespace) -> int:
    """Run ``predict`` with the parsed command line; return the exit status."""
    return run_predict(
        args.model,
        args.manifest,
        args.out,
        id_column=args.id_column,
        trusted=args.trust,
        quiet=args.quiet,
    )
