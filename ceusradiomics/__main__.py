"""``python -m ceusradiomics <command>``: the programs of :mod:`ceusradiomics.cli`."""

import sys

from ceusradiomics.cli import main

if __name__ == "__main__":
    sys.exit(main())
