"""Feature selection for radiomics tables, as scikit-learn selectors.

The study's chain, each step fitted inside every CV fold: inter-reader ICC
(:class:`ICCFilter`), dropping the features that no lesion holds
(:class:`EmptyFeatureFilter`, before the imputer), z-scoring, the
Mann-Whitney U test (:class:`MannWhitneySelector`), correlation pruning
(:class:`CorrelationPruner`) and the LASSO (:class:`LassoSelector`).
"""

from ceusradiomics.selection._correlation import CorrelationPruner, correlation_matrix
from ceusradiomics.selection._empty import EmptyFeatureFilter
from ceusradiomics.selection._icc import (
    ICC_KINDS,
    ICCFilter,
    ICCResult,
    intraclass_correlation,
)
from ceusradiomics.selection._lasso import LassoSelector
from ceusradiomics.selection._univariate import MannWhitneySelector

__all__ = [
    "ICC_KINDS",
    "CorrelationPruner",
    "EmptyFeatureFilter",
    "ICCFilter",
    "ICCResult",
    "LassoSelector",
    "MannWhitneySelector",
    "correlation_matrix",
    "intraclass_correlation",
]
