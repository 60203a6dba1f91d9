"""The command-line programs: ``python -m ceusradiomics <command>``.

Commands
--------
demo
    The study end to end on the bundled synthetic cohort (or a manifest).
extract
    Batch extraction: a cohort manifest in, one feature table out (resumable).
train
    A manifest and outcomes in, a saved model (skops) and its model card out.
predict
    A saved model and a manifest in, one probability per lesion out.
explain
    A saved model, a manifest and a lesion in, a figure of why out.

Each command is a module of this package with ``add_parser(commands)``, which
adds its subparser and sets ``handler`` (a function of the parsed arguments
that returns the exit status); :func:`main` parses and dispatches. Nothing in
the library imports this package: the programs compose the public API.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ceusradiomics.cli import demo, explain, extract, predict, train

__all__ = ["build_parser", "main"]

_COMMANDS = (demo, extract, train, predict, explain)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m ceusradiomics``, with every command."""
    parser = argparse.ArgumentParser(
        prog="python -m ceusradiomics",
        description="CEUS radiomics and deep features, the study end to end.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for command in _COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the process exit code."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
