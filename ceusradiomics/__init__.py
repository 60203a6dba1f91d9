"""ceusradiomics: radiomics and deep features from contrast-enhanced ultrasound.

The public estimators drop into scikit-learn pipelines; see the README and
``docs/`` for the records data model (one row per lesion) and the study that
the library reproduces. ``import ceusradiomics`` never imports PyTorch or
matplotlib.
"""

from ceusradiomics._cache import clear_feature_cache
from ceusradiomics._version import __version__
from ceusradiomics.clinical import ScreenedLogisticRegression
from ceusradiomics.ensemble import StackingERClassifier
from ceusradiomics.extractors import (
    PerfusionExtractor,
    ResNetFeaturizer,
    TextureExtractor,
)
from ceusradiomics.harmonize import ComBat
from ceusradiomics.persist import load_model, save_model
from ceusradiomics.selection import (
    CorrelationPruner,
    ICCFilter,
    LassoSelector,
    MannWhitneySelector,
)

__all__ = [
    "ComBat",
    "CorrelationPruner",
    "ICCFilter",
    "LassoSelector",
    "MannWhitneySelector",
    "PerfusionExtractor",
    "ResNetFeaturizer",
    "ScreenedLogisticRegression",
    "StackingERClassifier",
    "TextureExtractor",
    "__version__",
    "clear_feature_cache",
    "load_model",
    "save_model",
]
