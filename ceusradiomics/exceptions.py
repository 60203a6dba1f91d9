"""Exception and warning classes of ceusradiomics.

A problem with one lesion's cell of the records frame (an unreadable or
truncated file, an empty mask, a shape mismatch, NaN pixels, ...) raises a
:class:`ROIError`: a :class:`ValueError` whose ``lesion``, ``column`` and
``path`` attributes say where, and whose message starts
``lesion 'P017', column 'US_image': ``. A missing file raises its subclass
:class:`ROIFileNotFoundError` (also a :class:`FileNotFoundError`), a cell of
the wrong type :class:`ROITypeError` (also a :class:`TypeError`), so code
that catches the built-in classes keeps working. Other errors (bad
parameters, a malformed records frame) are plain :class:`ValueError` /
:class:`TypeError`.

User-visible *conditions* that do not stop a computation get a warning class
of their own here, so they can be filtered precisely.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = [
    "CeusRadiomicsWarning",
    "DegenerateROIWarning",
    "DegenerateStatisticWarning",
    "EmptyFeatureWarning",
    "EmptySelectionWarning",
    "MaskLabelWarning",
    "ROIError",
    "ROIFileNotFoundError",
    "ROITypeError",
    "SeparationWarning",
    "SmallSampleWarning",
    "UndefinedScoreWarning",
    "UntrustedModelError",
]


def _format_id(lesion: Any) -> str:
    if isinstance(lesion, np.generic):
        lesion = lesion.item()  # np.str_('P1') -> 'P1' in the message
    return repr(lesion)


def _location(lesion: Any, column: str | None) -> str:
    """``"lesion 'P017', column 'US_image': "``, or the parts that are known."""
    parts = []
    if lesion is not None:
        parts.append(f"lesion {_format_id(lesion)}")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts) + ": " if parts else ""


def _rebuild(cls: type, reason: str, lesion: Any, column: Any, path: Any):
    return cls(reason, lesion=lesion, column=column, path=path)


class ROIError(ValueError):
    """A problem with one lesion's image or mask cell.

    Parameters
    ----------
    reason : str
        What is wrong, without the location (``"mask is empty"``).
    lesion : hashable, optional
        The lesion id (the records frame's index value).
    column : str, optional
        The records-frame column of the cell (``"US_image"``, ``"AP_mask"``).
    path : str, optional
        The file the cell names, when it is a path.

    Attributes
    ----------
    lesion, column, path, reason
        As given; ``str(error)`` is ``"lesion 'P017', column 'US_image': "``
        followed by `reason`.

    Examples
    --------
    >>> from ceusradiomics.exceptions import ROIError
    >>> error = ROIError("mask is empty", lesion="P017", column="AP_mask")
    >>> str(error)
    "lesion 'P017', column 'AP_mask': mask is empty"
    >>> error.lesion, error.column, isinstance(error, ValueError)
    ('P017', 'AP_mask', True)
    """

    def __init__(
        self,
        reason: str,
        *,
        lesion: Any = None,
        column: str | None = None,
        path: str | os.PathLike[str] | None = None,
    ):
        self.reason = str(reason)
        self.lesion = lesion
        self.column = column
        self.path = None if path is None else os.fsdecode(os.fspath(path))
        super().__init__(_location(lesion, column) + self.reason)

    def located(
        self,
        *,
        lesion: Any = None,
        column: str | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> ROIError:
        """The same error with the lesion, column and path filled in where unknown."""
        return type(self)(
            self.reason,
            lesion=self.lesion if self.lesion is not None else lesion,
            column=self.column if self.column is not None else column,
            path=self.path if self.path is not None else path,
        )

    def __reduce__(self):
        # Keyword-only arguments: pickled (joblib workers) by hand.
        return (
            _rebuild,
            (type(self), self.reason, self.lesion, self.column, self.path),
        )


class ROIFileNotFoundError(ROIError, FileNotFoundError):
    """A cell names a file that does not exist."""


class ROITypeError(ROIError, TypeError):
    """A cell holds something of the wrong type (a non-numeric image, ...)."""


class UntrustedModelError(ValueError):
    """A model file holds types that :func:`ceusradiomics.load_model` does not trust.

    Nothing of the file was constructed. ``types`` lists the fully qualified
    names; pass those you have reviewed as ``load_model(path, trusted=[...])``.
    """

    def __init__(self, message: str, types: list[str] | None = None):
        super().__init__(message)
        self.types = list(types or [])

    def __reduce__(self):
        return (type(self), (self.args[0], self.types))


class CeusRadiomicsWarning(UserWarning):
    """Base class of every warning raised by ceusradiomics."""


class DegenerateROIWarning(CeusRadiomicsWarning):
    """A ROI too small or too uniform for a feature family.

    The affected features are returned as NaN (or the documented value) and
    the computation goes on; the message names the lesion, the phase and the
    family where the caller knows them.
    """


class DegenerateStatisticWarning(CeusRadiomicsWarning):
    """A statistic is undefined on these data and is returned as NaN.

    For example DeLong's test when two AUCs differ but the variance of
    their difference is zero (a few lesions, no discordant pairs).
    """


class MaskLabelWarning(CeusRadiomicsWarning):
    """A mask holds several labels (values), merged into one ROI.

    Label images that hold several regions (0 = outside, 1 = tumour, 2 = ...)
    are read as "nonzero = inside" unless the extractor's ``mask_label``
    picks one; the message names the lesion, the column and the labels.
    """


class EmptySelectionWarning(CeusRadiomicsWarning):
    """A feature selector would have kept no feature.

    Rather than hand an empty table to the next step, the selector keeps the
    single best feature by its own statistic and says so with this warning.
    """


class EmptyFeatureWarning(CeusRadiomicsWarning):
    """Features with no value at all in the training data were dropped.

    A wavelet scale that no lesion's ROI can hold is NaN for every lesion;
    :class:`~ceusradiomics.selection.EmptyFeatureFilter` drops such columns
    before the imputer, with one warning per fit that says how many and
    which.
    """


class SmallSampleWarning(CeusRadiomicsWarning):
    """The data are too few for a setting, which was lowered to fit them.

    For example, :class:`~ceusradiomics.selection.LassoSelector` asked for
    10-fold cross-validation on a training set whose minority class has 4
    lesions runs 4 folds (a test fold needs a lesion of each class), and says
    so once per fit.
    """


class SeparationWarning(CeusRadiomicsWarning):
    """A maximum-likelihood logistic fit did not converge (separation).

    When a predictor, or a combination of predictors, (quasi-)completely
    separates the two classes, the unpenalised maximum-likelihood estimates
    do not exist: the coefficients diverge and their odds ratios, confidence
    intervals and Wald p-values are meaningless. The fit stops after its
    iterations and goes on with the estimates reached (the predictions still
    rank the lesions); the message names the predictors concerned.
    :class:`~ceusradiomics.clinical.ScreenedLogisticRegression` raises it.
    """


class UndefinedScoreWarning(CeusRadiomicsWarning):
    """A score is undefined on some resamples and is reported as NaN.

    A cross-validation test fold, a bootstrap sample or its out-of-bag set
    that holds lesions of one class only has no AUC. Such resamples are
    kept as NaN and left out of the means and intervals, and one warning
    per call says how many there were (see :mod:`ceusradiomics.validation`).
    """
