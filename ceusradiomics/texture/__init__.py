"""MaZda 4.6 texture features of 2-D ROIs, as pure functions over arrays.

One module per family; each takes a working image (grey levels, already
normalised and quantised by :func:`quantize` for the matrix families) and a
boolean ROI mask and returns a dict keyed by MaZda's own feature names.
:func:`texture_features` computes every family at once and
:func:`texture_feature_names` lists the names; the conventions are documented
in ``docs/features.md``.
"""

from ceusradiomics.texture._quantize import quantize, roi_intensity_range
from ceusradiomics.texture._registry import (
    DEFAULT_BITS,
    FAMILIES,
    texture_feature_names,
    texture_features,
)
from ceusradiomics.texture.autoregressive import (
    autoregressive_feature_names,
    autoregressive_features,
)
from ceusradiomics.texture.cooccurrence import (
    co_occurrence_feature_names,
    co_occurrence_features,
    co_occurrence_matrix,
    glcm_offsets,
    haralick_features,
)
from ceusradiomics.texture.gradient import (
    absolute_gradient,
    gradient_feature_names,
    gradient_features,
)
from ceusradiomics.texture.histogram import histogram_feature_names, histogram_features
from ceusradiomics.texture.runlength import (
    run_length_feature_names,
    run_length_features,
    run_length_matrix,
)
from ceusradiomics.texture.wavelet import (
    haar_decomposition,
    wavelet_feature_names,
    wavelet_features,
)

__all__ = [
    "DEFAULT_BITS",
    "FAMILIES",
    "absolute_gradient",
    "autoregressive_feature_names",
    "autoregressive_features",
    "co_occurrence_feature_names",
    "co_occurrence_features",
    "co_occurrence_matrix",
    "glcm_offsets",
    "gradient_feature_names",
    "gradient_features",
    "haar_decomposition",
    "haralick_features",
    "histogram_feature_names",
    "histogram_features",
    "quantize",
    "roi_intensity_range",
    "run_length_feature_names",
    "run_length_features",
    "run_length_matrix",
    "texture_feature_names",
    "texture_features",
    "wavelet_feature_names",
    "wavelet_features",
]
