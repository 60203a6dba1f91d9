"""pytest configuration for the doctests of the package (``--doctest-modules``).

The core install has neither PyTorch nor matplotlib. Without them, the one
module that imports torch at its top is not collected, and the docstring
examples that run the network or draw a figure are skipped with the extra to
install, instead of failing.
"""

import importlib.util

import pytest


def _missing(*modules: str) -> bool:
    return any(importlib.util.find_spec(name) is None for name in modules)


NO_TORCH = _missing("torch", "torchvision")
NO_MATPLOTLIB = _missing("matplotlib")

INSTALL = "pip install 'ceusradiomics"
# The public calls that run PyTorch (the rest of ceusradiomics.deep is numpy).
NEEDS_TORCH = ("ResNetFeaturizer(", "preprocess_roi(")

collect_ignore = ["ceusradiomics/deep/_backbone.py"] if NO_TORCH else []


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not isinstance(item, pytest.DoctestItem):
            continue
        source = "\n".join(example.source for example in item.dtest.examples)
        if NO_TORCH and any(call in source for call in NEEDS_TORCH):
            reason = f"needs PyTorch: {INSTALL}[deep]'"
            item.add_marker(pytest.mark.skip(reason=reason))
        if NO_MATPLOTLIB and "matplotlib" in source:
            reason = f"needs matplotlib: {INSTALL}[plot]'"
            item.add_marker(pytest.mark.skip(reason=reason))
