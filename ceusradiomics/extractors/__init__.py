"""scikit-learn transformers from the records frame to a feature table.

The records frame (one row per lesion, ``{phase}_image`` / ``{phase}_mask``
columns, see :mod:`ceusradiomics.io`) goes in; a :class:`pandas.DataFrame`
indexed by lesion id comes out. Every extractor shares one base
(:mod:`ceusradiomics.extractors._base`) that checks the frame, reads and
validates each cell once, caches, parallelises, reports and names; the
maths lives in :mod:`ceusradiomics.texture`, :mod:`ceusradiomics.deep` and
:mod:`ceusradiomics.perfusion`.
"""

from ceusradiomics.extractors._perfusion import PerfusionExtractor
from ceusradiomics.extractors._resnet import ResNetFeaturizer
from ceusradiomics.extractors._texture import TextureExtractor

__all__ = ["PerfusionExtractor", "ResNetFeaturizer", "TextureExtractor"]
