"""Command-line entry point: ``python -m ceusradiomics <command>``.

Commands
--------
demo
    The study end to end on the bundled synthetic cohort (or a manifest).
extract
    Batch extraction: a cohort manifest in, one feature table out (resumable).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ceusradiomics",
        description="CEUS radiomics and deep features, the study end to end.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

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
        "--summary-only",
        action="store_true",
        help="only build the cohort and print its summary",
    )
    _add_extract_parser(commands)
    return parser


def _bits(text: str) -> int | dict[str, int]:
    """``--bits 6`` (every family) or ``--bits glcm=6,rlm=5`` (those families)."""
    try:
        if "=" not in text:
            return int(text)
        pairs = (item.split("=") for item in text.split(","))
        return {family.strip(): int(value) for family, value in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an int (e.g. 6) or family=int pairs (e.g. glcm=6,rlm=6); "
            f"got {text!r}"
        ) from None


def _margin(text: str) -> int | float:
    """An int is pixels, anything else a fraction (as ResNetFeaturizer reads it)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number (0.1 = 10% of the ROI box, 8 = 8 pixels); "
                f"got {text!r}"
            ) from None


def _n_jobs(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def _add_extract_parser(commands: argparse._SubParsersAction) -> None:
    extract = commands.add_parser(
        "extract",
        help="extract the features of a cohort manifest into one table",
        description=(
            "Run TextureExtractor (and ResNetFeaturizer with --deep) over every "
            "lesion of a manifest and write one row per lesion to --out (.parquet "
            "or .csv), with a sidecar <out>.json of the settings and versions. "
            "Finished lesions are saved in <out>.partial/ as the run goes, so "
            "running the same command again after an interruption resumes it; "
            "lesions that fail are listed in <out stem>.errors.csv and retried "
            "on the next run. Settings come from the flags or from --params "
            "(a JSON or YAML file with the same names, e.g. wavelet_scales); a "
            "flag given explicitly replaces the file's value. Exit status: 0 "
            "done, 1 some lesions failed, 2 invalid settings or input."
        ),
    )
    # Settings flags default to SUPPRESS: only those given appear in the
    # namespace, so that they override the parameter file and nothing else.
    suppress = argparse.SUPPRESS
    files = extract.add_argument_group("input and output")
    files.add_argument(
        "--manifest",
        metavar="CSV",
        required=True,
        help="the cohort CSV (load_cohort format)",
    )
    files.add_argument(
        "--out",
        metavar="TABLE",
        required=True,
        help="the feature table: .parquet or .csv",
    )
    files.add_argument(
        "--params",
        metavar="FILE",
        default=None,
        help="a parameter file (.json, .yaml or .yml)",
    )
    files.add_argument(
        "--id-column",
        metavar="NAME",
        default="lesion_id",
        help="the manifest's lesion id column (default: lesion_id)",
    )
    files.add_argument(
        "--label-column",
        metavar="NAME",
        default=None,
        help="outcome column copied into the table (default: ER, when present)",
    )

    texture = extract.add_argument_group("texture (TextureExtractor)")
    texture.add_argument(
        "--phases",
        nargs="+",
        metavar="PHASE",
        default=suppress,
        help="phases (default: every phase of the manifest)",
    )
    texture.add_argument(
        "--families",
        metavar="FAMILY",
        nargs="+",
        default=suppress,
        help="subset of hist grad rlm glcm ar wav (default: all)",
    )
    texture.add_argument(
        "--normalization",
        choices=("none", "3sigma", "1-99", "minmax"),
        default=suppress,
        help="grey-level range mapped onto 2**bits levels (default: none)",
    )
    texture.add_argument(
        "--bits",
        metavar="BITS",
        type=_bits,
        default=suppress,
        help="bits of the working image: 6, or per family glcm=6,rlm=6 "
        "(default: 6 for rlm and glcm, 8 otherwise)",
    )
    texture.add_argument(
        "--distances",
        metavar="D",
        nargs="+",
        type=int,
        default=suppress,
        help="co-occurrence distances (default: 1 2 3 4 5)",
    )
    texture.add_argument(
        "--wavelet-scales",
        metavar="K",
        nargs="+",
        type=int,
        default=suppress,
        help="Haar scales: k (scales 1..k) or a list (default: 6)",
    )
    texture.add_argument(
        "--readers",
        choices=("primary", "all"),
        default=suppress,
        help="'all' adds {name}@{reader} columns of further readers (default: primary)",
    )
    texture.add_argument(
        "--n-jobs",
        metavar="N",
        type=_n_jobs,
        default=suppress,
        help="parallel workers over ROIs, -1 = all cores (default: 1)",
    )

    deep = extract.add_argument_group("deep features (ResNetFeaturizer)")
    deep.add_argument(
        "--deep",
        action=argparse.BooleanOptionalAction,
        default=suppress,
        help="also extract ResNet-50 features (needs the [deep] extra)",
    )
    deep.add_argument(
        "--weights",
        default=suppress,
        help="IMAGENET1K_V2 (default), IMAGENET1K_V1, a state-dict file or none "
        "(a random network seeded by --random-state)",
    )
    deep.add_argument(
        "--layer",
        metavar="NODE",
        default=suppress,
        help="network node (default: avgpool)",
    )
    deep.add_argument(
        "--image-size",
        metavar="PX",
        type=int,
        default=suppress,
        help="network input side in pixels (default: 224)",
    )
    deep.add_argument(
        "--crop-margin",
        metavar="MARGIN",
        type=_margin,
        default=suppress,
        help="context around the ROI box: 0.1 = 10%% of its size, 8 = 8 pixels "
        "(default: 0.1)",
    )
    deep.add_argument(
        "--mask-context",
        choices=("keep", "zero"),
        default=suppress,
        help="'zero' blacks out the crop outside the ROI (default: keep)",
    )
    deep.add_argument(
        "--random-state",
        metavar="SEED",
        type=int,
        default=suppress,
        help="seed of the random network of --weights none (default: 0)",
    )
    deep.add_argument(
        "--device",
        metavar="DEVICE",
        default=suppress,
        help="torch device (default: auto)",
    )
    deep.add_argument(
        "--batch-size",
        metavar="N",
        type=int,
        default=suppress,
        help="images per forward pass (default: 16)",
    )

    run = extract.add_argument_group("run")
    run.add_argument(
        "--chunk-size",
        metavar="N",
        type=int,
        default=16,
        help="lesions saved together; a killed run loses at most one chunk "
        "(default: 16)",
    )
    run.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop at the first lesion that fails instead of listing it",
    )
    run.add_argument(
        "--quiet", action="store_true", help="no progress bar and no warnings"
    )


def _settings_flags(given: dict, keys: Iterable[str]) -> dict:
    """The settings given as flags, as the parameter file would spell them."""
    flags = {k: v for k, v in given.items() if k in keys}
    scales = flags.get("wavelet_scales")
    if scales is not None and len(scales) == 1:
        flags["wavelet_scales"] = scales[0]  # one value k: scales 1..k
    return flags


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit code."""
    args = _build_parser().parse_args(argv)
    if args.command == "demo":
        from ceusradiomics._demo import run_demo

        return run_demo(
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
        )
    if args.command == "extract":
        from ceusradiomics._batch import DEFAULT_SETTINGS, run_extract

        return run_extract(
            args.manifest,
            args.out,
            params=args.params,
            overrides=_settings_flags(vars(args), DEFAULT_SETTINGS),
            id_column=args.id_column,
            label_column=args.label_column,
            chunk_size=args.chunk_size,
            quiet=args.quiet,
            fail_fast=args.fail_fast,
        )
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse guards


if __name__ == "__main__":
    sys.exit(main())
