"""Why this lesion? Per-lesion explanations of the study's models.

The first piece (issue 19): the radiomics branch's linear score, explained
exactly. The LASSO's radiomics score of lesion :math:`i` is

.. math::

    \\mathrm{score}_i = b + \\sum_{j \\in S} w_j z_{ij},

with :math:`z_{ij}` feature :math:`j` of lesion :math:`i` standardised by the
training mean and SD and :math:`S` the selected features, so the
contribution of feature :math:`j` to lesion :math:`i`'s score is
:math:`w_j z_{ij}`, and the contributions plus the intercept are the score.
No approximation is involved (unlike SHAP values of the forest, which
explain the forest's probability, not the score).

Class-activation maps of the deep branch and SHAP values of the forest are
still to come (torch, matplotlib and shap will be imported lazily).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

__all__ = ["radiomics_contributions"]


def radiomics_contributions(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Each selected feature's contribution to each lesion's radiomics score.

    Parameters
    ----------
    model : estimator
        A fitted model with a LASSO radiomics score: a
        :func:`~ceusradiomics.ensemble.make_study_pipeline` radiomics (or
        deep) pipeline, a radiomics nomogram, or a
        :class:`~ceusradiomics.StackingERClassifier` (its ``"radiomics"``
        branch is explained).
    X : DataFrame
        The lesions, as the model takes them (records frame or table).

    Returns
    -------
    DataFrame of shape (n_lesions, n_selected)
        ``coef_j * z_ij`` per lesion (rows, indexed like `X`) and selected
        feature (columns, from the most negative coefficient to the most
        positive). ``frame.attrs["intercept"]`` holds the intercept: the
        row sums plus it are the radiomics scores,
        :meth:`~ceusradiomics.LassoSelector.radiomics_score`.

    Raises
    ------
    ValueError
        If the model has no fitted LASSO selector.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ceusradiomics import LassoSelector
    >>> from ceusradiomics.explain import radiomics_contributions
    >>> X, y = make_classification(n_samples=80, n_features=6, random_state=0)
    >>> X = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    >>> model = make_pipeline(
    ...     StandardScaler(), LassoSelector(cv=5, random_state=0)
    ... ).set_output(transform="pandas").fit(X, y)
    >>> parts = radiomics_contributions(model, X)
    >>> score = parts.sum(axis=1) + parts.attrs["intercept"]
    >>> lasso = model[-1]
    >>> bool(abs(score - lasso.radiomics_score(model[:-1].transform(X))).max() < 1e-10)
    True
    """
    from ceusradiomics.card import _lasso_of, branches_of
    from ceusradiomics.ensemble import StackingERClassifier

    check_is_fitted(model)
    target = model
    if isinstance(model, StackingERClassifier):
        branches = branches_of(model)
        if "radiomics" not in branches:
            raise ValueError(
                "the stack has no 'radiomics' branch to explain; its branches are "
                f"{list(branches)}"
            )
        target = branches["radiomics"]
    found = _lasso_of(target)
    if found is None:
        raise ValueError(
            f"{type(model).__name__} has no fitted LassoSelector: there is no "
            "radiomics score to explain"
        )
    lasso, pipeline = found
    position = next(k for k, (_, s) in enumerate(pipeline.steps) if s is lasso)
    standardised = pipeline[:position].transform(X) if position else X
    values = np.asarray(standardised, dtype=np.float64)
    support = lasso.coef_ != 0
    coef = lasso.coef_[support]
    names = np.asarray(lasso.feature_names_in_, dtype=object)[support]
    order = np.argsort(coef, kind="stable")
    index = X.index if isinstance(X, pd.DataFrame) else None
    frame = pd.DataFrame(
        values[:, support][:, order] * coef[order],
        index=index,
        columns=[str(n) for n in names[order]],
    )
    frame.attrs["intercept"] = float(np.ravel(lasso.intercept_)[0])
    return frame
