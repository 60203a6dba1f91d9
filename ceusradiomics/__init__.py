"""ceusradiomics: radiomics and deep features from contrast-enhanced ultrasound.

The public estimators drop into scikit-learn pipelines; see the README and
``docs/`` for the records data model (one row per lesion) and the study that
the library reproduces.
"""

from ceusradiomics._version import __version__

__all__ = ["__version__"]
