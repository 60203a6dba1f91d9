"""``python -m ceusradiomics explain``: one lesion's explanation as a figure.

Loads a model saved by ``train`` (or :func:`~ceusradiomics.save_model`) with
:func:`~ceusradiomics.load_model`, reads the lesion from a manifest and draws
:class:`~ceusradiomics.explain.LesionExplanationDisplay`: the phases with
their ROI and the deep branch's activation map, the largest contributions to
the radiomics score (or the forest's SHAP values) and the branches' and the
stack's probabilities. The figure's format follows ``--out``'s suffix (PNG,
SVG, PDF); with several ``--lesion``, ``--out`` is a folder that receives
``<lesion>.png`` each. As ``predict``, it names on stderr every lesion unlike
the training data (the model card's input schema), unless ``--quiet``.

Exit status: 0 done, 2 invalid model, manifest, lesion or option (a lesion
whose images cannot be read included), 3 a file could not be written, 130
interrupted.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from ceusradiomics.cli.extract import EXIT_INTERRUPTED, EXIT_INVALID, EXIT_WRITE
from ceusradiomics.exceptions import CeusRadiomicsWarning, UntrustedModelError
from ceusradiomics.io import load_cohort

__all__ = ["add_parser", "run", "run_explain"]

METHODS = ("cam", "gradcam", "gradcam++")


def _targets(lesions: list[str], out: str) -> list[Path]:
    out_path = Path(out)
    if len(lesions) == 1 and out_path.suffix:
        return [out_path]
    if out_path.suffix:
        raise ValueError(
            f"--out {out!r} names a file, but {len(lesions)} lesions were asked "
            "for: pass a folder (each lesion is written to <lesion>.png in it)"
        )
    return [out_path / f"{lesion}.png" for lesion in lesions]


def run_explain(
    model_path: str,
    manifest: str,
    lesions: list[str],
    out: str,
    *,
    id_column: str = "lesion_id",
    method: str = "cam",
    layer: str | None = None,
    contributions: str = "lasso",
    top: int = 10,
    trusted: list[str] | None = None,
    quiet: bool = False,
) -> int:
    """Explain each lesion into a figure; return the exit status (see the module)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no window, no display needed
    import matplotlib.pyplot as plt

    from ceusradiomics.card import InputSchema
    from ceusradiomics.explain import LesionExplanationDisplay
    from ceusradiomics.persist import load_card, load_model

    displays = []
    try:
        targets = _targets(lesions, out)
        model = load_model(model_path, trusted=trusted)
        X = load_cohort(manifest, id_column=id_column)
        X.index = X.index.astype(str)
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore", CeusRadiomicsWarning)
            for lesion in lesions:
                displays.append(
                    LesionExplanationDisplay.from_estimator(
                        model,
                        X,
                        lesion,
                        method=method,
                        layer=layer,
                        contributions=contributions,
                        top=top,
                    )
                )
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UntrustedModelError, ValueError, TypeError, OSError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        for display in displays:
            plt.close(display.figure_)
        return EXIT_INVALID
    # As predict: say which lesions lie outside what the model was trained on
    # (an explanation of an out-of-range input explains an extrapolation).
    card = load_card(model_path)
    if not quiet and card is not None and card.input_schema:
        messages = InputSchema(**card.input_schema).check(model, X.loc[lesions])
        for lesion in lesions:
            if messages.get(lesion):
                text = "; ".join(messages[lesion])
                print(f"warning: lesion {lesion!r}: {text}", file=sys.stderr)
    status = 0
    for display, target in zip(displays, targets, strict=True):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            display.figure_.savefig(target, dpi=130)
        except OSError as exc:
            print(f"error: cannot write {target}: {exc}", file=sys.stderr)
            status = EXIT_WRITE
        else:
            proba = ", ".join(
                f"{name} {value:.3f}" for name, value in display.probabilities.items()
            )
            print(f"lesion {display.lesion}: {proba} -> {target}")
        finally:
            plt.close(display.figure_)
    return status


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``explain`` to the subcommands."""
    explain = commands.add_parser(
        "explain",
        help="a figure explaining one lesion's prediction by a saved model",
        description=(
            "Load a model saved by 'train' and draw, for each --lesion of the "
            "manifest, its phases with the deep branch's activation map, the "
            "largest contributions to the radiomics score (or the forest's SHAP "
            "values) and the branches' and the stack's probabilities. Exit "
            "status: 0 done, 2 invalid model, manifest, lesion or option, 3 a "
            "file could not be written, 130 interrupted."
        ),
    )
    explain.add_argument("--model", metavar="MODEL", required=True)
    explain.add_argument("--manifest", metavar="CSV", required=True)
    explain.add_argument(
        "--lesion", metavar="ID", nargs="+", required=True, help="lesion id(s)"
    )
    explain.add_argument(
        "--out",
        metavar="PATH",
        required=True,
        help="the figure (.png, .svg, .pdf) for one lesion; a folder for several",
    )
    explain.add_argument(
        "--method",
        choices=METHODS,
        default="cam",
        help="the deep branch's map: the exact CAM (default), Grad-CAM, Grad-CAM++",
    )
    explain.add_argument(
        "--layer",
        metavar="NAME",
        default=None,
        help="the network layer of --method gradcam/gradcam++ (e.g. layer3)",
    )
    explain.add_argument(
        "--contributions",
        choices=("lasso", "shap"),
        default="lasso",
        help="bars: the radiomics score's terms (default) or the forest's SHAP values",
    )
    explain.add_argument("--top", type=int, default=10, help="bars shown (default: 10)")
    explain.add_argument(
        "--id-column",
        metavar="NAME",
        default="lesion_id",
        help="the lesion id column (default: lesion_id)",
    )
    explain.add_argument(
        "--trust",
        metavar="TYPE",
        nargs="+",
        default=None,
        help="further types to accept in the model file, after reviewing them",
    )
    explain.add_argument("--quiet", action="store_true", help="no warnings")
    explain.set_defaults(handler=run)
    return explain


def run(args: argparse.Namespace) -> int:
    """Run ``explain`` with the parsed command line; return the exit status."""
    if args.top < 1:
        print(f"error: --top must be >= 1; got {args.top}", file=sys.stderr)
        return EXIT_INVALID
    return run_explain(
        args.model,
        args.manifest,
        args.lesion,
        args.out,
        id_column=args.id_column,
        method=args.method,
        layer=args.layer,
        contributions=args.contributions,
        top=args.top,
        trusted=args.trust,
        quiet=args.quiet,
    )
