"""Drop the features that no training sample holds (all NaN)."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted
from sklearn_compat.base import _fit_context
from sklearn_compat.utils.validation import validate_data

from ceusradiomics.exceptions import EmptyFeatureWarning

__all__ = ["EmptyFeatureFilter"]

#: Names of dropped features quoted in the warning; the rest are counted.
_NAMES_SHOWN = 5


class EmptyFeatureFilter(SelectorMixin, BaseEstimator):
    """Drop the features that are missing (NaN) in every training sample.

    A wavelet scale wider than every lesion's ROI is NaN for all of them:
    there is nothing to impute it from. This step, placed before the imputer,
    drops such columns with a single
    :class:`~ceusradiomics.exceptions.EmptyFeatureWarning` per fit that says
    how many and which, where :class:`~sklearn.impute.SimpleImputer` would
    drop them too but with a warning of its own that cannot be told apart
    from other problems. Columns with at least one value are kept as they
    are, NaN included.

    Attributes
    ----------
    empty_features_ : ndarray of str
        Names of the dropped features, in input order (input column names,
        or ``x0``, ``x1``, ... for arrays); empty when none was.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.impute.SimpleImputer : The imputer that follows in the study's
        chain.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from ceusradiomics.selection import EmptyFeatureFilter
    >>> X = np.array([[1.0, np.nan, np.nan], [2.0, np.nan, 3.0]])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     kept = EmptyFeatureFilter().fit_transform(X)
    >>> kept
    array([[ 1., nan],
           [ 2.,  3.]])
    >>> print(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
    1 of 3 features has no value in any of the 2 training samples and is
    dropped: 'x1'.
    """

    _parameter_constraints: ClassVar[dict] = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Find the features with no value in ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature table; NaN marks a missing value.
        y : None
            Ignored.

        Returns
        -------
        self : EmptyFeatureFilter
            The fitted filter.

        Raises
        ------
        ValueError
            If every feature is missing in every sample.
        """
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        empty = np.isnan(X).all(axis=0)
        names = np.asarray(
            getattr(self, "feature_names_in_", [f"x{i}" for i in range(X.shape[1])]),
            dtype=object,
        )
        if empty.all():
            raise ValueError(
                f"every one of the {X.shape[1]} features is NaN in every one of "
                f"the {X.shape[0]} samples: there is nothing to keep."
            )
        self.empty_features_ = names[empty].astype(str)
        self._keep = ~empty
        n_empty = int(empty.sum())
        if n_empty:
            shown = ", ".join(repr(str(n)) for n in self.empty_features_[:_NAMES_SHOWN])
            more = n_empty - min(n_empty, _NAMES_SHOWN)
            has, verb = ("has", "is") if n_empty == 1 else ("have", "are")
            warnings.warn(
                f"{n_empty} of {X.shape[1]} features {has} no value in any of the "
                f"{X.shape[0]} training samples and {verb} dropped: {shown}"
                + (f" and {more} more." if more else "."),
                EmptyFeatureWarning,
                stacklevel=3,  # past the _fit_context wrapper, to the caller
            )
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self._keep

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
