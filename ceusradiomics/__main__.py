"""Command-line entry point: ``python -m ceusradiomics <command>``.

Commands
--------
demo
    The study end to end on the bundled synthetic cohort (or a manifest).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


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
        help="folder for the tables, figures and report (default: ./ceusradiomics-demo)",
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
    return parser


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
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse guards


if __name__ == "__main__":
    sys.exit(main())
