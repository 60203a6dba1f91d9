"""Warning classes of ceusradiomics.

Errors are plain :class:`ValueError` / :class:`TypeError` /
:class:`FileNotFoundError` with a message naming the lesion, the column and
what is wrong; only user-visible *conditions* that do not stop a computation
get a class of their own here, so they can be filtered precisely.
"""

__all__ = ["CeusRadiomicsWarning", "DegenerateROIWarning", "EmptySelectionWarning"]


class CeusRadiomicsWarning(UserWarning):
    """Base class of every warning raised by ceusradiomics."""


class DegenerateROIWarning(CeusRadiomicsWarning):
    """A ROI too small or too uniform for a feature family.

    The affected features are returned as NaN (or the documented value) and
    the computation goes on; the message names the lesion, the phase and the
    family where the caller knows them.
    """


class EmptySelectionWarning(CeusRadiomicsWarning):
    """A feature selector would have kept no feature.

    Rather than hand an empty table to the next step, the selector keeps the
    single best feature by its own statistic and says so with this warning.
    """
