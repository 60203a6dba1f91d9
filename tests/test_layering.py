"""The package's layers, read from its source with ``ast`` (nothing is imported).

* The feature cores, ``ceusradiomics/texture/``, ``ceusradiomics/deep/`` and
  ``ceusradiomics/perfusion/``, compute on arrays: they must not import the
  I/O layer (``ceusradiomics.io``) nor the estimators built on top of them
  (``ceusradiomics.extractors``).
* The command line (``ceusradiomics/cli/``) sits on top of everything: only
  itself and ``ceusradiomics/__main__.py`` may import it.

Every import statement counts, also one inside a function or under
``if TYPE_CHECKING:``; relative imports are resolved against the module's
package.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "ceusradiomics"

CORE_PACKAGES = ("texture", "deep", "perfusion")
CORE_MODULES = ()
CORE_FORBIDDEN = ("io", "extractors")

CLI_PACKAGES = ("cli",)
CLI_MODULES = ("__main__.py",)
CLI_FORBIDDEN = ("cli",)


def _module_and_package(path, package_dir):
    """The dotted name of the module at ``path`` and of its package (lists)."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        module = parts[:-1]
        return module, module
    return parts, parts[:-1]


def _imported_names(node, package):
    """Every module name an import statement may load, relative ones resolved."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        if node.level - 1 > len(package) - 1:
            return []  # beyond the top-level package: Python refuses it too
        base = package[: len(package) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module
    # ``from pkg import name``: name may be a submodule (``from ceusradiomics
    # import io``), so pkg.name counts as imported too.
    return [module] + [f"{module}.{a.name}" for a in node.names if a.name != "*"]


def _matches(name, target):
    return name == target or name.startswith(target + ".")


def _rules(relative, top):
    """The modules that the file at ``relative`` (to the package) may not import."""
    parts = relative.parts
    forbidden = []
    in_core = (len(parts) > 1 and parts[0] in CORE_PACKAGES) or (
        len(parts) == 1 and parts[0] in CORE_MODULES
    )
    if in_core:
        forbidden += [f"{top}.{name}" for name in CORE_FORBIDDEN]
    in_cli = (len(parts) > 1 and parts[0] in CLI_PACKAGES) or (
        len(parts) == 1 and parts[0] in CLI_MODULES
    )
    if not in_cli:
        forbidden += [f"{top}.{name}" for name in CLI_FORBIDDEN]
    return forbidden


def layering_violations(package_dir):
    """``file:line -> imported module`` for every import across the layers."""
    package_dir = Path(package_dir)
    top = package_dir.name
    violations = []
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir)
        forbidden = _rules(relative, top)
        if not forbidden:
            continue
        _, package = _module_and_package(path, package_dir)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = _imported_names(node, package)
            for target in forbidden:
                hits = [name for name in names if _matches(name, target)]
                if hits:
                    where = path.relative_to(package_dir.parent).as_posix()
                    violations.append(f"{where}:{node.lineno} -> {min(hits, key=len)}")
    return sorted(set(violations), key=_sort_key)


def _sort_key(violation):
    where, _, imported = violation.partition(" -> ")
    file, _, line = where.rpartition(":")
    return file, int(line), imported


def test_package_respects_its_layers():
    violations = layering_violations(PACKAGE_DIR)
    assert not violations, (
        "imports across the package's layers (the feature cores must not import "
        "ceusradiomics.io or ceusradiomics.extractors; only the CLI and "
        "__main__.py may import the CLI):\n" + "\n".join(violations)
    )


def _write(root, relative, source=""):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


def test_walker_catches_forbidden_imports(tmp_path):
    pkg = tmp_path / "ceusradiomics"
    for module in [
        "__init__.py",
        "io.py",
        "iox.py",
        "exceptions.py",
        "texture/_kernels.py",
        "deep/__init__.py",
        "cli/__init__.py",
    ]:
        _write(pkg, module)
    # The feature cores.
    _write(pkg, "texture/a.py", "import ceusradiomics.io\n")
    _write(pkg, "texture/b.py", "import numpy\nfrom ceusradiomics import io\n")
    _write(pkg, "texture/c.py", "from ..io import read_image\n")
    _write(
        pkg,
        "deep/d.py",
        "def load(x):\n"
        "    from ceusradiomics.extractors import TextureExtractor\n"
        "    return TextureExtractor\n",
    )
    _write(pkg, "deep/e.py", "from .. import exceptions, extractors\n")
    _write(pkg, "perfusion/_fit.py", "from ceusradiomics.io import read_cine\n")
    # Allowed: siblings, other modules, a name that only starts like io.
    _write(
        pkg,
        "texture/ok.py",
        "from . import _kernels\n"
        "from ._kernels import glcm\n"
        "from ceusradiomics.exceptions import DegenerateROIWarning\n"
        "from ceusradiomics import iox\n"
        "import ceusradiomics.iox\n",
    )
    _write(pkg, "texture/__init__.py", "from .ok import *\n")
    # The command line.
    _write(pkg, "selection/s.py", "from ceusradiomics.cli import main\n")
    _write(pkg, "plotting.py", "def f():\n    from .cli import extract\n")
    _write(pkg, "ensemble.py", "import ceusradiomics.cli.demo\n")
    # Allowed: the CLI itself, __main__.py, core modules importing io elsewhere.
    _write(pkg, "cli/_extract.py", "from ceusradiomics.cli import _common\n")
    _write(pkg, "cli/_demo.py", "from ..io import load_cohort\nfrom . import x\n")
    _write(pkg, "__main__.py", "from ceusradiomics.cli import main\n")
    _write(pkg, "extractors.py", "from ceusradiomics.io import load_roi\n")

    assert layering_violations(pkg) == [
        "ceusradiomics/deep/d.py:2 -> ceusradiomics.extractors",
        "ceusradiomics/deep/e.py:1 -> ceusradiomics.extractors",
        "ceusradiomics/ensemble.py:1 -> ceusradiomics.cli.demo",
        "ceusradiomics/perfusion/_fit.py:1 -> ceusradiomics.io",
        "ceusradiomics/plotting.py:2 -> ceusradiomics.cli",
        "ceusradiomics/selection/s.py:1 -> ceusradiomics.cli",
        "ceusradiomics/texture/a.py:1 -> ceusradiomics.io",
        "ceusradiomics/texture/b.py:2 -> ceusradiomics.io",
        "ceusradiomics/texture/c.py:1 -> ceusradiomics.io",
    ]
