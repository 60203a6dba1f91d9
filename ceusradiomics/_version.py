"""The package version, and the versions of the packages a result depends on."""

import platform
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ceusradiomics")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Python's, this package's and each of `names`' version (None: not installed)."""
    found: dict[str, str | None] = {
        "python": platform.python_version(),
        "ceusradiomics": __version__,
    }
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found
