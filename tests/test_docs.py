"""The feature reference is generated from the registry and names every feature."""

import importlib.util
import re
from pathlib import Path

from ceusradiomics.texture import texture_feature_names

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_features", DOCS / "build_features.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_features_md_is_up_to_date():
    assert (DOCS / "features.md").read_text() == _builder().build(), (
        "docs/features.md is stale: run `python docs/build_features.py`"
    )


def test_every_registered_feature_is_documented():
    text = (DOCS / "features.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)` \|", text, re.M))
    names = texture_feature_names(wavelet_scales=8)
    assert set(names) - documented == set()
