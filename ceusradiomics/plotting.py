"""Figures of the study: ROC, calibration, decision curves, LASSO, nomogram.

:class:`DecisionCurveDisplay` follows scikit-learn's Display pattern
(:class:`~sklearn.metrics.RocCurveDisplay`): ``from_estimator`` and
``from_predictions`` compute, ``plot`` draws, and the artists are kept as
``line_``, ``ax_`` and ``figure_``. :class:`NomogramDisplay` draws a logistic
model as R's ``rms::nomogram``; its scales are a :class:`Nomogram`, computed
without matplotlib. The ``plot_*`` helpers draw several
models on one Axes as in the study's Figures 3-5, reusing scikit-learn's
:class:`~sklearn.metrics.RocCurveDisplay` and
:class:`~sklearn.calibration.CalibrationDisplay`.

matplotlib is an optional dependency (the ``plot`` extra). It is imported
only when something is drawn, so ``import ceusradiomics.plotting`` works
without it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.utils.validation import check_is_fitted

from ceusradiomics.metrics import (
    _binary_target,
    _check_scores,
    calibration_intercept_slope,
    decision_curve,
    roc_auc_ci,
)

__all__ = [
    "DecisionCurveDisplay",
    "Nomogram",
    "NomogramAxis",
    "NomogramDisplay",
    "plot_calibration_curves",
    "plot_decision_curves",
    "plot_lasso_coefficients",
    "plot_roc_curves",
]


def _pyplot():
    """Import matplotlib.pyplot, or say which extra installs it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "ceusradiomics.plotting needs matplotlib, which is not installed; "
            "install the 'plot' extra: pip install 'ceusradiomics[plot]'."
        ) from err
    return plt


def _axes(ax):
    """Return ``(ax, figure)``, creating both when ``ax`` is None."""
    if ax is None:
        _, ax = _pyplot().subplots()
    else:
        _pyplot()
    return ax, ax.figure


def _check_models(models, name: str) -> dict:
    """Validate a ``{model name: scores}`` mapping."""
    if not isinstance(models, Mapping):
        raise TypeError(
            f"{name} must be a mapping from model name to scores, e.g. "
            f"{{'Radiomics': p1, 'ResNet50': p2}}; got {type(models).__name__}."
        )
    if len(models) == 0:
        raise ValueError(f"{name} is empty; give at least one model.")
    return dict(models)


class DecisionCurveDisplay:
    """Decision curve visualisation: net benefit against threshold probability.

    Create it with :meth:`from_predictions` or :meth:`from_estimator`, which
    compute the curve with :func:`~ceusradiomics.metrics.decision_curve` and
    plot it; or construct it from precomputed arrays and call :meth:`plot`.
    All parameters are stored as attributes.

    Parameters
    ----------
    thresholds : ndarray of shape (n_thresholds,)
        Threshold probabilities, in (0, 1).
    net_benefit : ndarray of shape (n_thresholds,)
        Net benefit of the model at each threshold.
    net_benefit_treat_all : ndarray of shape (n_thresholds,), default=None
        Net benefit of treating everybody; needed to plot the treat-all
        line.
    name : str, default=None
        Legend label of the model's curve; None means ``"Model"``.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The model's decision curve.
    treat_all_line_ : matplotlib.lines.Line2D or None
        The treat-all reference curve, None when not plotted.
    treat_none_line_ : matplotlib.lines.Line2D or None
        The treat-none reference (net benefit 0), None when not plotted.
    ax_ : matplotlib.axes.Axes
        Axes with the curves.
    figure_ : matplotlib.figure.Figure
        Figure containing the Axes.

    See Also
    --------
    ceusradiomics.metrics.decision_curve : The numbers behind the plot.
    plot_decision_curves : Several models on one Axes.
    sklearn.metrics.RocCurveDisplay : The Display this one imitates.

    Notes
    -----
    The model is useful over the thresholds where its curve lies above both
    references. The y axis is cut a little below 0, where the treat-all
    curve plunges, as decision curves are usually shown [1]_.

    References
    ----------
    .. [1] A. J. Vickers and E. B. Elkin, "Decision curve analysis: a novel
           method for evaluating prediction models", Medical Decision Making
           26(6), 565-574, 2006. :doi:`10.1177/0272989X06295361`

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from ceusradiomics.plotting import DecisionCurveDisplay
    >>> y = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> p = [0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9]
    >>> display = DecisionCurveDisplay.from_predictions(y, p, name="Stacking")
    >>> display.line_.get_label()
    'Stacking'
    >>> [line.get_label() for line in display.ax_.get_lines()]
    ['Stacking', 'Treat all', 'Treat none']
    >>> plt.close("all")
    """

    def __init__(
        self, *, thresholds, net_benefit, net_benefit_treat_all=None, name=None
    ):
        self.thresholds = thresholds
        self.net_benefit = net_benefit
        self.net_benefit_treat_all = net_benefit_treat_all
        self.name = name

    def plot(
        self,
        ax=None,
        *,
        name: str | None = None,
        plot_treat_all: bool = True,
        plot_treat_none: bool = True,
        treat_all_kw: dict | None = None,
        treat_none_kw: dict | None = None,
        **kwargs,
    ) -> DecisionCurveDisplay:
        """Plot the decision curve.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; None creates a new figure. Calling ``plot``
            of several displays with the same ``ax`` overlays their curves.
        name : str, default=None
            Legend label; None uses ``self.name``, then ``"Model"``.
        plot_treat_all : bool, default=True
            Draw the treat-all reference (needs ``net_benefit_treat_all``).
        plot_treat_none : bool, default=True
            Draw the treat-none reference, net benefit 0.
        treat_all_kw, treat_none_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` of the references.
        **kwargs : dict
            Keyword arguments for matplotlib's ``plot`` of the model curve.

        Returns
        -------
        display : DecisionCurveDisplay
            ``self``, with ``line_``, ``treat_all_line_``,
            ``treat_none_line_``, ``ax_`` and ``figure_`` set.
        """
        thresholds = np.asarray(self.thresholds, dtype=np.float64)
        model = np.asarray(self.net_benefit, dtype=np.float64)
        if thresholds.shape != model.shape or thresholds.ndim != 1:
            raise ValueError(
                f"thresholds and net_benefit must be 1-D of the same length; "
                f"got shapes {thresholds.shape} and {model.shape}."
            )
        if plot_treat_all and self.net_benefit_treat_all is None:
            raise ValueError(
                "plot_treat_all=True needs net_benefit_treat_all; pass it to the "
                "constructor (decision_curve gives it) or set plot_treat_all=False."
            )
        self.ax_, self.figure_ = _axes(ax)
        had_data = self.ax_.has_data()

        name = self.name if name is None else name
        line_kw = {"label": "Model" if name is None else name, **kwargs}
        (self.line_,) = self.ax_.plot(thresholds, model, **line_kw)
        upper = [np.max(model), 0.0]

        self.treat_all_line_ = None
        if plot_treat_all:
            treat_all = np.asarray(self.net_benefit_treat_all, dtype=np.float64)
            kw = {"label": "Treat all", "color": "0.5", "linewidth": 1.0}
            (self.treat_all_line_,) = self.ax_.plot(
                thresholds, treat_all, **{**kw, **(treat_all_kw or {})}
            )
            upper.append(np.max(treat_all))
        self.treat_none_line_ = None
        if plot_treat_none:
            kw = {
                "label": "Treat none",
                "color": "k",
                "linestyle": "--",
                "linewidth": 1.0,
            }
            (self.treat_none_line_,) = self.ax_.plot(
                thresholds, np.zeros_like(thresholds), **{**kw, **(treat_none_kw or {})}
            )

        # Treat-all plunges towards -inf as pt -> 1: show the useful band,
        # from a little below 0 to a little above the best net benefit, and
        # keep the band of curves already on the Axes.
        top = max(upper)
        span = max(top, 0.05)
        low, high = -0.15 * span, top + 0.05 * span
        if had_data:
            old_low, old_high = self.ax_.get_ylim()
            low, high = min(low, old_low), max(high, old_high)
        self.ax_.set(
            xlim=(thresholds.min(), thresholds.max()),
            ylim=(low, high),
            xlabel="Threshold probability",
            ylabel="Net benefit",
        )
        self.ax_.legend(loc="upper right")
        return self

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_proba,
        *,
        thresholds=None,
        pos_label=None,
        name: str | None = None,
        ax=None,
        plot_treat_all: bool = True,
        plot_treat_none: bool = True,
        **kwargs,
    ) -> DecisionCurveDisplay:
        """Plot a decision curve from true labels and predicted probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Binary labels.
        y_proba : array-like of shape (n_samples,)
            Predicted probabilities of the positive class, in [0, 1].
        thresholds : array-like of float, default=None
            Threshold probabilities in (0, 1); None means 0.01, ..., 0.99.
        pos_label : int, float, bool or str, default=None
            Label of the positive class; None means 1 for labels in {0, 1}
            or {-1, 1}.
        name : str, default=None
            Legend label of the curve; None means ``"Model"``.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; None creates a new figure.
        plot_treat_all, plot_treat_none : bool, default=True
            Draw the reference strategies.
        **kwargs : dict
            Keyword arguments for matplotlib's ``plot`` of the model curve.

        Returns
        -------
        display : DecisionCurveDisplay
            The plotted display.
        """
        curve = decision_curve(y_true, y_proba, thresholds, pos_label=pos_label)
        display = cls(
            thresholds=curve["threshold"].to_numpy(),
            net_benefit=curve["model"].to_numpy(),
            net_benefit_treat_all=curve["treat_all"].to_numpy(),
            name=name,
        )
        return display.plot(
            ax=ax,
            plot_treat_all=plot_treat_all,
            plot_treat_none=plot_treat_none,
            **kwargs,
        )

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        thresholds=None,
        pos_label=None,
        name: str | None = None,
        ax=None,
        plot_treat_all: bool = True,
        plot_treat_none: bool = True,
        **kwargs,
    ) -> DecisionCurveDisplay:
        """Plot a decision curve from a fitted classifier and data.

        Parameters
        ----------
        estimator : estimator instance
            Fitted binary classifier (or pipeline) with ``predict_proba``.
        X : array-like or DataFrame
            Input of ``estimator.predict_proba``.
        y : array-like of shape (n_samples,)
            True labels.
        thresholds : array-like of float, default=None
            Threshold probabilities in (0, 1); None means 0.01, ..., 0.99.
        pos_label : int, float, bool or str, default=None
            The positive class; None means ``estimator.classes_[1]``.
        name : str, default=None
            Legend label; None uses the estimator's class name.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; None creates a new figure.
        plot_treat_all, plot_treat_none : bool, default=True
            Draw the reference strategies.
        **kwargs : dict
            Keyword arguments for matplotlib's ``plot`` of the model curve.

        Returns
        -------
        display : DecisionCurveDisplay
            The plotted display.
        """
        check_is_fitted(estimator)
        if not hasattr(estimator, "predict_proba"):
            raise TypeError(
                f"{type(estimator).__name__} has no predict_proba; a decision "
                f"curve needs predicted probabilities. Use a probabilistic "
                f"classifier or wrap it in CalibratedClassifierCV."
            )
        classes = list(estimator.classes_)
        if len(classes) != 2:
            raise ValueError(
                f"estimator must be a binary classifier; its classes_ are {classes}."
            )
        if pos_label is None:
            pos_label = classes[1]
        elif pos_label not in classes:
            raise ValueError(
                f"pos_label={pos_label!r} is not one of the estimator's classes "
                f"{classes}."
            )
        proba = estimator.predict_proba(X)[:, classes.index(pos_label)]
        return cls.from_predictions(
            y,
            proba,
            thresholds=thresholds,
            pos_label=pos_label,
            name=type(estimator).__name__ if name is None else name,
            ax=ax,
            plot_treat_all=plot_treat_all,
            plot_treat_none=plot_treat_none,
            **kwargs,
        )


def plot_roc_curves(
    y_true,
    scores: Mapping,
    *,
    ax=None,
    ci: bool = True,
    alpha: float = 0.05,
    pos_label=None,
    plot_chance_level: bool = True,
):
    """ROC curves of several models on one Axes, AUC and its CI in the legend.

    The study's Figure 4: one curve per model, labelled
    ``"<name>: AUC = 0.774 (95% CI 0.690-0.858)"`` with DeLong's interval
    (:func:`~ceusradiomics.metrics.roc_auc_ci`). Each curve is drawn by
    :class:`sklearn.metrics.RocCurveDisplay`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    scores : mapping of str to array-like of shape (n_samples,)
        Model name to the scores of the positive class, in legend order.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None creates a new figure.
    ci : bool, default=True
        Show DeLong's confidence interval of each AUC in the legend.
    alpha : float, default=0.05
        One minus the confidence level.
    pos_label : int, float, bool or str, default=None
        Label of the positive class; None means 1 for labels in {0, 1} or
        {-1, 1}.
    plot_chance_level : bool, default=True
        Draw the diagonal of a random classifier.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes with the curves.

    See Also
    --------
    sklearn.metrics.RocCurveDisplay : One ROC curve.
    ceusradiomics.metrics.delong_test : Compare two of the AUCs.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from ceusradiomics.plotting import plot_roc_curves
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> scores = {"A": [0.1, 0.3, 0.4, 0.6, 0.35, 0.7, 0.8, 0.9],
    ...           "B": [0.2, 0.5, 0.1, 0.7, 0.6, 0.4, 0.9, 0.3]}
    >>> ax = plot_roc_curves(y, scores)
    >>> [t.get_text() for t in ax.get_legend().get_texts()][:2]
    ['A: AUC = 0.875 (95% CI 0.592-1.000)', 'B: AUC = 0.688 (95% CI 0.252-1.000)']
    >>> plt.close("all")
    """
    from sklearn.metrics import RocCurveDisplay

    models = _check_models(scores, "scores")
    positive = _binary_target(y_true, pos_label, needs_both="AUC")
    ax, _ = _axes(ax)
    for k, (name, score) in enumerate(models.items()):
        score = _check_scores(
            score, f"scores[{name!r}]", positive.size, probability=False
        )
        if ci:
            label = f"{name}: AUC = {roc_auc_ci(positive, score, alpha=alpha)}"
        else:
            label = f"{name}: AUC = {roc_auc_score(positive, score):.3f}"
        fpr, tpr, _ = roc_curve(positive, score)
        RocCurveDisplay(fpr=fpr, tpr=tpr, name=label).plot(
            ax=ax, plot_chance_level=plot_chance_level and k == len(models) - 1
        )
    return ax


def plot_calibration_curves(
    y_true,
    probas: Mapping,
    *,
    n_bins: int = 5,
    strategy: str = "uniform",
    ax=None,
    pos_label=None,
    show_stats: bool = True,
):
    """Calibration (reliability) curves of several models on one Axes.

    Each curve is drawn by :class:`sklearn.calibration.CalibrationDisplay`
    (binned observed frequency against mean predicted probability); the
    legend adds each model's calibration intercept and slope
    (:func:`~ceusradiomics.metrics.calibration_intercept_slope`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    probas : mapping of str to array-like of shape (n_samples,)
        Model name to predicted probabilities of the positive class.
    n_bins : int, default=5
        Number of bins of :func:`sklearn.calibration.calibration_curve`.
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins, or bins with equal numbers of cases.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None creates a new figure.
    pos_label : int, float, bool or str, default=None
        Label of the positive class; None means 1 for labels in {0, 1} or
        {-1, 1}.
    show_stats : bool, default=True
        Add ``(intercept a, slope b)`` to each legend entry.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes with the curves and the diagonal of perfect calibration.

    See Also
    --------
    sklearn.calibration.CalibrationDisplay : One calibration curve.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from ceusradiomics.plotting import plot_calibration_curves
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=200)
    >>> y = (rng.uniform(size=200) < p).astype(int)
    >>> ax = plot_calibration_curves(y, {"calibrated": p, "overconfident": p**3})
    >>> len(ax.get_legend().get_texts())
    3
    >>> plt.close("all")
    """
    from sklearn.calibration import CalibrationDisplay

    models = _check_models(probas, "probas")
    positive = _binary_target(y_true, pos_label, needs_both="calibration")
    ax, _ = _axes(ax)
    for k, (name, proba) in enumerate(models.items()):
        proba = _check_scores(
            proba, f"probas[{name!r}]", positive.size, probability=True
        )
        label = name
        if show_stats:
            intercept, slope = calibration_intercept_slope(positive, proba)
            label = f"{name} (intercept {intercept:.2f}, slope {slope:.2f})"
        CalibrationDisplay.from_predictions(
            positive,
            proba,
            n_bins=n_bins,
            strategy=strategy,
            name=label,
            ax=ax,
            ref_line=k == 0,
        )
    return ax


def plot_decision_curves(
    y_true,
    probas: Mapping,
    *,
    thresholds=None,
    ax=None,
    pos_label=None,
):
    """Decision curves of several models on one Axes, with treat-all/none.

    The study's Figure 5, one :class:`DecisionCurveDisplay` per model; the
    reference strategies are drawn once.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    probas : mapping of str to array-like of shape (n_samples,)
        Model name to predicted probabilities of the positive class.
    thresholds : array-like of float, default=None
        Threshold probabilities in (0, 1); None means 0.01, ..., 0.99.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None creates a new figure.
    pos_label : int, float, bool or str, default=None
        Label of the positive class; None means 1 for labels in {0, 1} or
        {-1, 1}.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes with the curves.

    See Also
    --------
    DecisionCurveDisplay : One model's decision curve.
    ceusradiomics.metrics.net_benefit : The formula.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from ceusradiomics.plotting import plot_decision_curves
    >>> y = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> probas = {"A": [0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9],
    ...           "B": [0.3, 0.1, 0.5, 0.4, 0.2, 0.8, 0.6, 0.7]}
    >>> ax = plot_decision_curves(y, probas)
    >>> [line.get_label() for line in ax.get_lines()]
    ['A', 'Treat all', 'Treat none', 'B']
    >>> plt.close("all")
    """
    models = _check_models(probas, "probas")
    ax, _ = _axes(ax)
    for k, (name, proba) in enumerate(models.items()):
        DecisionCurveDisplay.from_predictions(
            y_true,
            proba,
            thresholds=thresholds,
            pos_label=pos_label,
            name=name,
            ax=ax,
            plot_treat_all=k == 0,
            plot_treat_none=k == 0,
        )
    return ax


def plot_lasso_coefficients(
    coef,
    *,
    ax=None,
    drop_zero: bool = True,
    sort: bool = True,
):
    """Horizontal bar chart of LASSO coefficients, one bar per feature.

    The study's Figure 3: the features kept by the LASSO with their
    coefficients, positive ones in red and negative ones in blue.

    Parameters
    ----------
    coef : pandas.Series or mapping of str to float
        Coefficients indexed by feature name, e.g.
        ``pd.Series(coefficients, index=feature_names)``.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None creates a new figure.
    drop_zero : bool, default=True
        Leave out the features whose coefficient is exactly 0 (not
        selected).
    sort : bool, default=True
        Order the bars by coefficient, the largest at the top.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes with the bars.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import pandas as pd
    >>> from ceusradiomics.plotting import plot_lasso_coefficients
    >>> coef = pd.Series({"US_Teta2": -0.111, "US_Mean": 0.194,
    ...                   "AP_Perc.50%": -0.009, "PP_S(1,0)Correlat": 0.0})
    >>> ax = plot_lasso_coefficients(coef)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['US_Teta2', 'AP_Perc.50%', 'US_Mean']
    >>> plt.close("all")
    """
    if isinstance(coef, Mapping):
        coef = pd.Series(coef, dtype=np.float64)
    if not isinstance(coef, pd.Series):
        raise TypeError(
            f"coef must be a pandas Series of coefficients indexed by feature "
            f"name; got {type(coef).__name__}. Build one with "
            f"pd.Series(coefficients, index=feature_names)."
        )
    values = pd.to_numeric(coef, errors="raise").astype(np.float64)
    if not np.isfinite(values.to_numpy()).all():
        raise ValueError("coef must be finite; got NaN or infinite coefficients.")
    if drop_zero:
        values = values[values != 0]
    if values.empty:
        raise ValueError(
            "coef has no non-zero coefficient to plot; the LASSO selected no "
            "feature (or pass drop_zero=False)."
        )
    if sort:
        values = values.sort_values(kind="stable")
    ax, _ = _axes(ax)
    position = np.arange(values.size)
    colors = np.where(values.to_numpy() > 0, "tab:red", "tab:blue")
    ax.barh(position, values.to_numpy(), color=colors)
    ax.set_yticks(position, [str(name) for name in values.index])
    ax.axvline(0.0, color="k", linewidth=0.8)
    ax.set(xlabel="Coefficient", ylabel="Feature", title="LASSO feature coefficients")
    return ax


# --------------------------------------------------------------------------
# Nomogram
# --------------------------------------------------------------------------

_CONTINUOUS = "continuous"
_CATEGORICAL = "categorical"
#: Tick values of the probability axis, kept where they fall in its range.
PROBABILITY_TICKS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_FINE_PROBABILITY_TICKS = (0.01, 0.02, 0.05, *PROBABILITY_TICKS, 0.95, 0.98, 0.99)


def _nice_ticks(low: float, high: float, target: int) -> np.ndarray:
    """Round values (1, 2, 2.5 or 5 times a power of ten) in ``[low, high]``.

    About `target` intervals, and at least two ticks when ``low < high``.
    """
    low, high = (low, high) if low <= high else (high, low)
    span = high - low
    if not span > 0:
        return np.array([low])
    for n in range(max(int(target), 1), 4 * max(int(target), 1) + 8):
        raw = span / n
        power = 10.0 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
        first = math.ceil(low / step - 1e-9)
        last = math.floor(high / step + 1e-9)
        if last - first >= 1:
            break
    else:  # pragma: no cover - span > 0 always gives two multiples above
        return np.array([low, high])
    decimals = max(0, 1 - math.floor(math.log10(step)))
    ticks = np.round(np.arange(first, last + 1) * step, decimals)
    return ticks + 0.0  # no negative zero


def _format_values(values) -> list[str]:
    """Numbers with the fewest decimals that show all of them exactly."""
    values = np.asarray(values, dtype=np.float64)
    for decimals in range(9):
        rounded = np.round(values, decimals) + 0.0  # no "-0"
        if np.all(np.abs(rounded - values) <= 1e-9 * np.maximum(1.0, np.abs(values))):
            break
    return [f"{value:.{decimals}f}" for value in rounded]


@dataclass(frozen=True, eq=False)
class NomogramAxis:
    """The points axis of one predictor of a :class:`Nomogram`.

    A predictor contributes ``coef * x`` (continuous) or its level's
    coefficient (categorical, 0 for the reference level) to the linear
    predictor. Its axis gives ``points_per_unit * (contribution - offset)``
    points, where `offset` is the lowest contribution on the axis, so every
    axis starts at 0 points.

    Parameters
    ----------
    name : str
        The column of ``X`` the predictor is read from.
    kind : {"continuous", "categorical"}
        How the predictor enters the model.
    coef : float
        Log-odds per unit of the column (continuous); NaN for a categorical
        predictor.
    levels : tuple
        The levels of a categorical predictor, the reference first; empty for
        a continuous one.
    level_coefs : tuple of float
        Each level's contribution to the linear predictor (0 for the
        reference); empty for a continuous predictor.
    limits : tuple of float
        The values at the two ends of a continuous axis (low, high); NaN for
        a categorical one.
    offset : float
        The lowest contribution over the axis: the one at 0 points.
    points_per_unit : float
        Points per unit of linear predictor, the same for every axis of the
        nomogram.
    ticks : tuple
        The values marked on the axis: round numbers within `limits`, or the
        levels.
    """

    name: str
    kind: str
    coef: float
    levels: tuple
    level_coefs: tuple
    limits: tuple
    offset: float
    points_per_unit: float
    ticks: tuple

    def contribution(self, values) -> np.ndarray:
        """Contribution of `values` to the linear predictor (log-odds).

        Parameters
        ----------
        values : array-like of shape (n_samples,)
            Values of the predictor (numbers, or levels).

        Returns
        -------
        ndarray of shape (n_samples,)
            ``coef * values``, or the coefficient of each value's level.
        """
        if self.kind == _CONTINUOUS:
            return self.coef * np.asarray(values, dtype=np.float64)
        values = pd.Series(np.asarray(values, dtype=object).ravel(), dtype=object)
        lookup = dict(zip(self.levels, self.level_coefs, strict=True))
        known = values.isin(list(self.levels)).to_numpy()
        if not known.all():
            unknown = sorted({str(value) for value in values[~known]})
            raise ValueError(
                f"column {self.name!r} has level(s) {unknown} that the model does "
                f"not know; its levels are {list(self.levels)}."
            )
        return values.map(lookup).to_numpy(dtype=np.float64)

    def points(self, values) -> np.ndarray:
        """Points of `values` on this axis.

        Parameters
        ----------
        values : array-like of shape (n_samples,)
            Values of the predictor (numbers, or levels).

        Returns
        -------
        ndarray of shape (n_samples,)
            ``points_per_unit * (contribution(values) - offset)``; values
            beyond the ends of a continuous axis get points beyond them too.
        """
        return self.points_per_unit * (self.contribution(values) - self.offset)

    @property
    def max_points(self) -> float:
        """Points at the far end of the axis (100 for the largest effect)."""
        if self.kind == _CONTINUOUS:
            return float(np.max(self.points(np.asarray(self.limits))))
        return float(np.max(self.points(np.asarray(self.levels, dtype=object))))


@dataclass(frozen=True, eq=False)
class Nomogram:
    """The scales of a logistic model's nomogram, without the drawing.

    Each predictor has a points axis (:class:`NomogramAxis`); the predictor
    whose contribution to the linear predictor varies most over its axis
    spans 0-100 points, and ``points_per_unit = 100 / that range``. A
    lesion's total points ``T`` (the sum of its points on every axis) give
    back the linear predictor, ``offset + T / points_per_unit`` with
    ``offset = intercept + sum of the axes' offsets``, and the probability,
    its logistic, as in R's ``rms::nomogram`` [1]_. Build it with
    :meth:`from_estimator` or :meth:`from_coefficients`;
    :class:`NomogramDisplay` draws it.

    Parameters
    ----------
    axes : tuple of NomogramAxis
        One axis per predictor with a non-zero coefficient, in the model's
        order.
    intercept : float
        Intercept of the model, in the units of ``X``.
    points_per_unit : float
        Points per unit of linear predictor.
    feature_names_in : tuple of str
        The columns of ``X`` in order, to read an array ``X`` by position.

    See Also
    --------
    NomogramDisplay : Draws the axes.

    Notes
    -----
    A continuous axis spans the values of ``X`` between the percentiles
    `percentiles` (default: the observed range; ``(1, 99)`` leaves out the
    extreme 2%), with ticks at round numbers; a column with two distinct
    values gets a tick at each. A categorical axis has one tick per level.
    Each axis starts at 0 points at the value or level with the lowest
    contribution (a negative coefficient puts the high values on the
    left). A lesion beyond a continuous axis's range gets points beyond its
    ends; :meth:`probability_from_points` stays exact. Predictors with a
    coefficient of 0 (those a screen dropped) get no axis. R's ``datadist``
    spans the 10th smallest to the 10th largest value instead (the 5th-95th
    percentiles below 200 lesions): pass ``percentiles`` to imitate it.

    References
    ----------
    .. [1] F. E. Harrell, *Regression Modeling Strategies*, 2nd ed.,
           Springer, 2015, section 5.5.3. :doi:`10.1007/978-3-319-19425-7`

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from ceusradiomics.plotting import Nomogram
    >>> X = pd.DataFrame({"size_cm": [2.0, 4.0, 6.0, 10.0],
    ...                   "afp": [">400", "<20", "<20", ">400"]})
    >>> coef = {"size_cm": 0.25, "afp[>400]": 1.0}
    >>> nomogram = Nomogram.from_coefficients(coef, -2.0, X)
    >>> [(axis.name, axis.max_points) for axis in nomogram.axes]
    [('size_cm', 100.0), ('afp', 50.0)]
    >>> nomogram.points(X)
       size_cm   afp
    0      0.0  50.0
    1     25.0   0.0
    2     50.0   0.0
    3    100.0  50.0
    >>> points = nomogram.total_points(X)
    >>> nomogram.probability_from_points(points).round(3)
    array([0.378, 0.269, 0.378, 0.818])
    """

    axes: tuple
    intercept: float
    points_per_unit: float
    feature_names_in: tuple

    # ----------------------------------------------------------- the scales

    @property
    def offset(self) -> float:
        """Linear predictor at 0 total points."""
        return float(self.intercept + sum(axis.offset for axis in self.axes))

    @property
    def max_total_points(self) -> float:
        """Total points of the lesion at the far end of every axis."""
        return float(sum(axis.max_points for axis in self.axes))

    def _column(self, X, name: str):
        if hasattr(X, "columns"):
            if name not in X.columns:
                raise ValueError(
                    f"X has no column {name!r}; the nomogram reads the columns "
                    f"{[axis.name for axis in self.axes]}."
                )
            return X[name].to_numpy()
        X = np.asarray(X, dtype=object)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names_in):
            raise ValueError(
                f"X must be a DataFrame or a 2-D array with "
                f"{len(self.feature_names_in)} columns "
                f"{list(self.feature_names_in)}; got shape {X.shape}."
            )
        return X[:, list(self.feature_names_in).index(name)]

    def points(self, X) -> pd.DataFrame:
        """Points of each lesion on each predictor's axis.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The lesions, with the columns the nomogram was built from.

        Returns
        -------
        pandas.DataFrame of shape (n_samples, n_axes)
            One column per axis, named by its predictor, with the index of
            ``X`` when it is a DataFrame.
        """
        table = {
            axis.name: axis.points(self._column(X, axis.name)) for axis in self.axes
        }
        return pd.DataFrame(table, index=getattr(X, "index", None))

    def total_points(self, X) -> np.ndarray:
        """Total points of each lesion: the sum over the axes.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The lesions, with the columns the nomogram was built from.

        Returns
        -------
        ndarray of shape (n_samples,)
            Total points.
        """
        return self.points(X).to_numpy().sum(axis=1)

    def linear_predictor_from_points(self, points) -> np.ndarray:
        """Linear predictor (log-odds) at total `points`.

        Parameters
        ----------
        points : float or array-like
            Total points.

        Returns
        -------
        ndarray
            ``offset + points / points_per_unit``.
        """
        return self.offset + np.asarray(points, dtype=np.float64) / self.points_per_unit

    def probability_from_points(self, points) -> np.ndarray:
        """Predicted probability at total `points`.

        Parameters
        ----------
        points : float or array-like
            Total points.

        Returns
        -------
        ndarray
            The logistic of :meth:`linear_predictor_from_points`; for a
            lesion's total points, the model's ``predict_proba(X)[:, 1]``.
        """
        return special.expit(self.linear_predictor_from_points(points))

    def points_from_linear_predictor(self, linear_predictor) -> np.ndarray:
        """Total points at a linear predictor (the inverse map).

        Parameters
        ----------
        linear_predictor : float or array-like
            Log-odds.

        Returns
        -------
        ndarray
            ``(linear_predictor - offset) * points_per_unit``.
        """
        lp = np.asarray(linear_predictor, dtype=np.float64)
        return (lp - self.offset) * self.points_per_unit

    def points_from_probability(self, probability) -> np.ndarray:
        """Total points at a probability (the inverse map).

        Parameters
        ----------
        probability : float or array-like
            Probabilities in (0, 1).

        Returns
        -------
        ndarray
            Total points whose probability is `probability`.
        """
        return self.points_from_linear_predictor(
            special.logit(np.asarray(probability, dtype=np.float64))
        )

    # --------------------------------------------------------- constructors

    @classmethod
    def _build(cls, specs, intercept, frame, percentiles) -> Nomogram:
        """The nomogram of ``specs``, the predictors, over ``frame``.

        ``specs``: ``(name, coef)`` of a continuous predictor or ``(name,
        levels, coefs)`` of a categorical one; ``frame``: a DataFrame whose
        columns are the names.
        """
        low_q, high_q = _check_percentiles(percentiles)
        prepared = []  # keyword arguments of each NomogramAxis, and its span
        for spec in specs:
            if len(spec) == 2:
                name, coef = spec
                if coef == 0:
                    continue
                values = pd.to_numeric(frame[name], errors="coerce").to_numpy(
                    dtype=np.float64
                )
                values = values[np.isfinite(values)]
                if values.size == 0:
                    raise ValueError(
                        f"column {name!r} of X has no finite value to span its axis."
                    )
                distinct = np.unique(values)
                if distinct.size <= 2:  # a tick at each value
                    limits, ticks = (distinct[0], distinct[-1]), tuple(distinct)
                else:
                    limits, ticks = np.percentile(values, [low_q, high_q]), None
                contributions = coef * np.asarray(limits, dtype=np.float64)
                axis = {
                    "kind": _CONTINUOUS,
                    "coef": float(coef),
                    "levels": (),
                    "level_coefs": (),
                    "limits": tuple(float(v) for v in limits),
                    "ticks": ticks,
                }
            else:
                name, levels, coefs = spec
                contributions = np.asarray(coefs, dtype=np.float64)
                if not np.any(contributions != 0):
                    continue
                axis = {
                    "kind": _CATEGORICAL,
                    "coef": np.nan,
                    "levels": tuple(levels),
                    "level_coefs": tuple(float(c) for c in contributions),
                    "limits": (np.nan, np.nan),
                    "ticks": tuple(levels),
                }
            axis.update(name=str(name), offset=float(contributions.min()))
            prepared.append((axis, float(np.ptp(contributions))))
        if not prepared:
            raise ValueError(
                "the model has no predictor with a non-zero coefficient: there is "
                "nothing to draw on a nomogram."
            )
        largest = max(span for _, span in prepared)
        if not largest > 0:
            raise ValueError(
                "no predictor's contribution varies over X (each column is "
                "constant on its axis); pass an X with the spread of the cohort."
            )
        per_unit = 100.0 / largest
        axes = []
        for axis, span in prepared:
            if axis["ticks"] is None:
                # about one tick per 12 points, between 2 and 10
                target = int(np.clip(round(per_unit * span / 12), 2, 10))
                axis["ticks"] = _nice_ticks(*axis["limits"], target)
            if axis["kind"] == _CONTINUOUS:
                axis["ticks"] = tuple(float(value) for value in axis["ticks"])
            axes.append(NomogramAxis(points_per_unit=per_unit, **axis))
        return cls(
            axes=tuple(axes),
            intercept=float(intercept),
            points_per_unit=per_unit,
            feature_names_in=tuple(str(c) for c in frame.columns),
        )

    @classmethod
    def from_coefficients(cls, coef, intercept, X, *, percentiles=(0, 100)) -> Nomogram:
        """Build the nomogram of a logistic model given by its coefficients.

        For a model fitted elsewhere (R, statsmodels, a published table) or
        on derived columns, such as a radiomics score next to clinical
        factors.

        Parameters
        ----------
        coef : mapping or pandas.Series of str to float
            Coefficient (log odds ratio) of each term: a column of `X` for a
            continuous predictor, ``"column[level]"`` for a level of a
            categorical one. The level of a categorical column without a term
            is its reference (coefficient 0); there must be exactly one.
        intercept : float
            The intercept.
        X : pandas.DataFrame
            The lesions, in the units of the coefficients; they set the
            range of each continuous axis and the levels of each categorical
            one.
        percentiles : tuple of float, default=(0, 100)
            Percentiles of ``X`` at the ends of a continuous axis; ``(1,
            99)`` leaves out the extreme 2%.

        Returns
        -------
        Nomogram
            The scales.
        """
        if isinstance(coef, Mapping):
            coef = pd.Series(coef, dtype=np.float64)
        if not isinstance(coef, pd.Series):
            raise TypeError(
                f"coef must be a mapping or pandas Series from term name to "
                f"coefficient; got {type(coef).__name__}."
            )
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"X must be a pandas DataFrame whose columns the terms name; got "
                f"{type(X).__name__}."
            )
        coef = pd.to_numeric(coef, errors="raise").astype(np.float64)
        columns = {str(c): c for c in X.columns}
        continuous, categorical = {}, {}
        for term, value in coef.items():
            term = str(term)
            if term in columns:
                continuous[term] = continuous.get(term, 0.0) + float(value)
                continue
            match = re.fullmatch(r"(.+)\[(.*)\]", term, flags=re.S)
            if match is None or match.group(1) not in columns:
                raise ValueError(
                    f"term {term!r} of coef is neither a column of X nor "
                    f"'column[level]'; X's columns are {list(columns)}."
                )
            categorical.setdefault(match.group(1), {})[match.group(2)] = float(value)
        specs = []
        for name in columns:
            if name in continuous and name in categorical:
                raise ValueError(
                    f"column {name!r} has both a continuous term and level terms "
                    "in coef; give one or the other."
                )
            if name in continuous:
                specs.append((name, continuous[name]))
            elif name in categorical:
                specs.append(_level_spec(name, X[columns[name]], categorical[name]))
        frame = X.rename(columns=str)
        return cls._build(specs, intercept, frame, percentiles)

    @classmethod
    def from_estimator(cls, estimator, X, *, percentiles=(0, 100)) -> Nomogram:
        """Build the nomogram of a fitted binary logistic model.

        Parameters
        ----------
        estimator : estimator instance
            A fitted binary :class:`~sklearn.linear_model.LogisticRegression`
            or :class:`~ceusradiomics.clinical.ScreenedLogisticRegression`,
            or a :class:`~sklearn.pipeline.Pipeline` ending in one whose
            earlier steps are :class:`~sklearn.preprocessing.StandardScaler`,
            ``"passthrough"``, or a
            :class:`~sklearn.compose.ColumnTransformer` that only selects
            (``"passthrough"``) or standardises columns. The axes are in the
            units of `X`: the scaling is undone.
        X : DataFrame or array-like of shape (n_samples, n_features)
            The input of ``estimator.predict_proba``; it sets the range of
            each continuous axis (typically the training cohort).
        percentiles : tuple of float, default=(0, 100)
            Percentiles of ``X`` at the ends of a continuous axis; ``(1,
            99)`` leaves out the extreme 2%.

        Returns
        -------
        Nomogram
            The scales; its probabilities equal
            ``estimator.predict_proba(X)[:, 1]``.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        from ceusradiomics.clinical import ScreenedLogisticRegression

        if isinstance(estimator, Pipeline):
            steps, final = list(estimator.steps[:-1]), estimator.steps[-1][1]
        else:
            steps, final = [], estimator
        if not isinstance(final, LogisticRegression | ScreenedLogisticRegression):
            raise TypeError(
                f"a nomogram needs a logistic model: LogisticRegression or "
                f"ScreenedLogisticRegression, or a Pipeline ending in one; got "
                f"{_name(final)}."
            )
        check_is_fitted(estimator)
        check_is_fitted(final)
        classes = list(final.classes_)
        coef = np.asarray(final.coef_, dtype=np.float64)
        if len(classes) != 2 or coef.shape[0] != 1:
            raise ValueError(
                f"a nomogram needs a binary logistic model; {_name(final)} has "
                f"classes_ {classes}."
            )
        frame = _input_frame(estimator, X)
        sources = _trace_preprocessing(steps, list(frame.columns))
        n_inputs = final.n_features_in_
        if len(sources) != n_inputs:  # pragma: no cover - sklearn checks shapes
            raise ValueError(
                f"the steps before {_name(final)} give {len(sources)} columns; "
                f"it was fitted on {n_inputs}."
            )
        names = [
            str(name)
            for name in getattr(
                final, "feature_names_in_", [f"x{i}" for i in range(n_inputs)]
            )
        ]
        intercept = float(np.asarray(final.intercept_, dtype=np.float64).ravel()[0])
        categories = getattr(final, "categories_", None) or {}
        continuous, specs, used = {}, [], set()
        position = 0
        terms = []
        for name, (source, scale, shift) in zip(names, sources, strict=True):
            if name in categories:
                levels = list(categories[name])
                width = len(levels) - 1
                if (scale, shift) != (1.0, 0.0) or source in used:
                    raise ValueError(
                        f"the categorical predictor {name!r} must be a column of X "
                        f"passed through unchanged; the steps before "
                        f"{_name(final)} transform it."
                    )
                level_coefs = [0.0, *coef[0, position : position + width]]
                specs.append((source, tuple(levels), level_coefs))
                used.add(source)
                terms += [f"{name}[{level}]" for level in levels[1:]]
                position += width
                continue
            beta = coef[0, position]
            # x' = scale * x + shift: beta * x' = (beta * scale) x + beta * shift
            intercept += beta * shift
            if source not in continuous:
                specs.append((source, None))
            continuous[source] = continuous.get(source, 0.0) + beta * scale
            terms.append(name)
            position += 1
        if categories and list(map(str, final.terms_)) != terms:
            raise ValueError(  # pragma: no cover - guards a change of terms_
                f"{_name(final)}.terms_ {list(final.terms_)} do not follow its "
                f"predictors and categories_ ({terms})."
            )
        if used & set(continuous):
            raise ValueError(
                "a column of X enters the model both as a categorical and as a "
                "continuous predictor; a nomogram cannot draw it on one axis."
            )
        specs = [
            (spec[0], continuous[spec[0]]) if len(spec) == 2 else spec for spec in specs
        ]
        nomogram = cls._build(specs, intercept, frame, percentiles)
        _check_reproduces(nomogram, estimator, frame)
        return nomogram


def _name(estimator) -> str:
    return estimator if isinstance(estimator, str) else type(estimator).__name__


def _check_percentiles(percentiles) -> tuple[float, float]:
    try:
        low, high = (float(value) for value in percentiles)
    except (TypeError, ValueError):
        raise ValueError(
            f"percentiles must be two numbers (low, high) with 0 <= low < high "
            f"<= 100; got {percentiles!r}."
        ) from None
    if not 0 <= low < high <= 100:
        raise ValueError(
            f"percentiles must be two numbers (low, high) with 0 <= low < high "
            f"<= 100; got {percentiles!r}."
        )
    return low, high


def _level_spec(name: str, values: pd.Series, coefs: Mapping) -> tuple:
    """``(name, levels, coefs)`` of a categorical column, reference first."""
    from ceusradiomics.clinical import _ordered_levels

    observed = _ordered_levels(values, observed_only=False)
    by_text = {str(level): level for level in observed}
    unknown = sorted(set(coefs) - set(by_text))
    if unknown:
        raise ValueError(
            f"coef has terms for level(s) {unknown} of column {name!r}, which X "
            f"does not have; its levels are {[str(v) for v in observed]}."
        )
    references = [level for level in observed if str(level) not in coefs]
    if len(references) != 1:
        raise ValueError(
            f"column {name!r} must have exactly one level without a term (the "
            f"reference); got {[str(v) for v in references]}."
        )
    levels = references + [level for level in observed if str(level) in coefs]
    return (name, tuple(levels), [0.0] + [coefs[str(lv)] for lv in levels[1:]])


def _first_step(estimator):
    """The estimator that sees ``X``: the first step of a pipeline that acts."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            if step is not None and not isinstance(step, str):
                return _first_step(step)
    return estimator


def _input_frame(estimator, X) -> pd.DataFrame:
    """``X`` as a DataFrame with the columns the estimator was fitted on."""
    estimator = _first_step(estimator)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"{_name(estimator)} was fitted on a DataFrame; pass X as a "
                f"DataFrame with its columns {list(names)}."
            )
        missing = [name for name in names if name not in X.columns]
        if missing:
            raise ValueError(
                f"X lacks the column(s) {missing} that {_name(estimator)} was "
                f"fitted on."
            )
        return X[list(names)]
    n_features = estimator.n_features_in_
    values = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
    if values.ndim != 2 or values.shape[1] != n_features:
        raise ValueError(
            f"X must have {n_features} columns, as when {_name(estimator)} was "
            f"fitted; got shape {values.shape}."
        )
    return pd.DataFrame(
        values,
        columns=[f"x{i}" for i in range(n_features)],
        index=getattr(X, "index", None),
    )


def _is_identity(transformer) -> bool:
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(transformer, str):
        return transformer == "passthrough"
    return (
        isinstance(transformer, FunctionTransformer)
        and transformer.func is None
        and transformer.inverse_func is None
    )


def _selected_positions(columns, names: list) -> list[int]:
    """Positions in ``names`` of a ColumnTransformer's column selection."""
    n = len(names)
    if isinstance(columns, slice):
        if isinstance(columns.start, str) or isinstance(columns.stop, str):
            start = names.index(columns.start) if columns.start is not None else 0
            stop = names.index(columns.stop) + 1 if columns.stop is not None else n
            return list(range(start, stop))
        return list(range(n))[columns]
    if isinstance(columns, str | int | np.integer):
        columns = [columns]
    columns = list(np.asarray(columns).ravel())
    if columns and isinstance(columns[0], bool | np.bool_):
        return [i for i, keep in enumerate(columns) if keep]
    return [names.index(str(c)) if isinstance(c, str) else int(c) for c in columns]


def _affine(sources: list, scaler) -> list:
    """``sources`` after a fitted StandardScaler: ``(x - mean) / scale``."""
    n = len(sources)
    # mean_ is kept even with with_mean=False, which does not subtract it
    mean = np.asarray(scaler.mean_) if scaler.with_mean else np.zeros(n)
    scale = np.asarray(scaler.scale_) if scaler.with_std else np.ones(n)
    return [
        (source, float(a / s), float((b - m) / s))
        for (source, a, b), m, s in zip(sources, mean, scale, strict=True)
    ]


def _refuse(step_name: str, step) -> TypeError:
    return TypeError(
        f"step {step_name!r} is a {_name(step)}: the nomogram's axes are in the "
        f"units of X, which only affine preprocessing keeps. Supported steps "
        f"before the logistic model are StandardScaler, 'passthrough' and a "
        f"ColumnTransformer that only passes through or standardises columns. "
        f"Otherwise draw the final model on the data it sees: "
        f"NomogramDisplay.from_estimator(pipeline[-1], pipeline[:-1].transform(X))."
    )


def _trace_preprocessing(steps, names: list) -> list:
    """Each input of the final estimator as ``(column of X, scale, shift)``.

    The input is ``scale * X[column] + shift``: the steps are identity,
    column selection or standardisation, and anything else is refused.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    sources = [(name, 1.0, 0.0) for name in names]
    for step_name, step in steps:
        if step is None or _is_identity(step):
            continue
        if isinstance(step, StandardScaler):
            sources = _affine(sources, step)
            continue
        if not isinstance(step, ColumnTransformer):
            raise _refuse(step_name, step)
        inner_names = [str(n) for n in getattr(step, "feature_names_in_", [])]
        if not inner_names:
            inner_names = [f"x{i}" for i in range(len(sources))]
        out = []
        for name, transformer, columns in step.transformers_:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            picked = [sources[i] for i in _selected_positions(columns, inner_names)]
            if _is_identity(transformer):
                out += picked
            elif isinstance(transformer, StandardScaler):
                out += _affine(picked, transformer)
            else:
                raise _refuse(f"{step_name}/{name}", transformer)
        sources = out
    return sources


def _check_reproduces(nomogram, estimator, frame) -> None:
    """Refuse a nomogram that does not give ``estimator.predict_proba``."""
    complete = frame.notna().all(axis=1).to_numpy()
    if not complete.any():
        return
    named = getattr(_first_step(estimator), "feature_names_in_", None) is not None
    rows = frame[complete] if named else frame.to_numpy()[complete]
    expected = estimator.predict_proba(rows)[:, 1]
    got = nomogram.probability_from_points(nomogram.total_points(frame[complete]))
    if not np.allclose(got, expected, rtol=0, atol=1e-8):
        raise ValueError(  # pragma: no cover - guards an unsupported model
            f"the nomogram of {_name(estimator)} does not reproduce its "
            f"predict_proba (largest difference "
            f"{np.max(np.abs(got - expected)):.3g}); it cannot be drawn as one."
        )


class NomogramDisplay:
    """Nomogram of a logistic model, drawn as R's ``rms::nomogram``.

    Axes stacked top to bottom: ``Points`` (0-100), one points axis per
    predictor (the largest effect spans 0-100), ``Total Points``, ``Linear
    Predictor`` and the probability of the event. To read it, find each
    predictor's value on its axis, go up to the Points axis, add the points,
    find the sum on the Total Points axis and go down to the probability:
    the model's predicted probability. Create it with :meth:`from_estimator`
    or :meth:`from_coefficients`, or from a :class:`Nomogram` and call
    :meth:`plot`.

    Parameters
    ----------
    nomogram : Nomogram
        The scales to draw.
    outcome : str, default="ER"
        The event, in the label of the probability axis,
        ``"Probability of <outcome>"``.

    Attributes
    ----------
    axis_lines_ : dict of str to matplotlib.lines.Line2D
        The line of each axis, keyed by its label (``"Points"``, each
        predictor's name, ``"Total Points"``, ``"Linear Predictor"``,
        ``"Probability of ER"``).
    tick_labels_ : dict of str to list of matplotlib.text.Text
        The tick labels of each axis in the order of the ticks' values (or
        levels), keyed as `axis_lines_`; a label's x position is its tick's.
    row_labels_ : list of matplotlib.text.Text
        The axes' names, top to bottom.
    ax_ : matplotlib.axes.Axes
        Axes with the nomogram. Its x coordinate is in points: 0-100 on the
        Points axis and on each predictor's axis; the Total Points axis and
        the two below it are squeezed into the same 0-100 width.
    figure_ : matplotlib.figure.Figure
        Figure containing the Axes.

    See Also
    --------
    Nomogram : The scales, and a lesion's points, without drawing.
    DecisionCurveDisplay : The clinical usefulness of the same model.

    Notes
    -----
    The layout follows ``rms::nomogram`` [1]_: continuous axes have ticks at
    round values within the range of ``X`` (see :class:`Nomogram`),
    categorical axes one tick per level, and the probability axis ticks at
    0.1, ..., 0.9 that fall within its range (0.01-0.99 when fewer than two
    do). Labels that would overlap their neighbour go below the line.

    References
    ----------
    .. [1] F. E. Harrell, *rms: Regression Modeling Strategies*, R package,
           function ``nomogram``. https://CRAN.R-project.org/package=rms

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ceusradiomics.plotting import NomogramDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"size_cm": rng.uniform(1, 10, 200),
    ...                   "age": rng.uniform(30, 80, 200)})
    >>> risk = 0.6 * X["size_cm"] - 0.03 * X["age"]
    >>> y = (risk + rng.logistic(size=200) > 1.5).astype(int)
    >>> model = LogisticRegression().fit(X, y)
    >>> display = NomogramDisplay.from_estimator(model, X)
    >>> for label in display.row_labels_:
    ...     print(label.get_text())
    Points
    size_cm
    age
    Total Points
    Linear Predictor
    Probability of ER
    >>> [label.get_text() for label in display.tick_labels_["size_cm"]]
    ['2', '4', '6', '8']
    >>> nomogram = display.nomogram
    >>> points = nomogram.total_points(X.head(3))
    >>> np.allclose(nomogram.probability_from_points(points),
    ...             model.predict_proba(X.head(3))[:, 1], rtol=0, atol=1e-12)
    True
    >>> plt.close("all")
    """

    def __init__(self, *, nomogram, outcome="ER"):
        self.nomogram = nomogram
        self.outcome = outcome

    def _rows(self, probability_ticks) -> list:
        """``(label, values, x positions, tick texts, (x start, x end))``."""
        nomogram = self.nomogram
        points = np.arange(0, 101, 10, dtype=np.float64)
        rows = [("Points", points, _format_values(points), (0.0, 100.0))]
        for axis in nomogram.axes:
            if axis.kind == _CONTINUOUS:
                ticks = np.asarray(axis.ticks, dtype=np.float64)
                texts = _format_values(ticks)
                ends = axis.points(np.asarray(axis.limits))
            else:
                ticks = np.asarray(axis.ticks, dtype=object)
                texts = [str(level) for level in axis.ticks]
                ends = axis.points(ticks)
            x = axis.points(ticks)
            rows.append((axis.name, x, texts, (float(ends.min()), float(ends.max()))))

        total = nomogram.max_total_points
        width = 100.0 / total  # Points-axis units per total point
        ticks = _nice_ticks(0.0, total, 10)
        rows.append(("Total Points", ticks * width, _format_values(ticks), (0, 100)))
        lp_low = float(nomogram.linear_predictor_from_points(0.0))
        lp_high = float(nomogram.linear_predictor_from_points(total))
        ticks = _nice_ticks(lp_low, lp_high, 8)
        x = nomogram.points_from_linear_predictor(ticks) * width
        rows.append(("Linear Predictor", x, _format_values(ticks), (0, 100)))
        p_low, p_high = special.expit([lp_low, lp_high])
        if probability_ticks is None:
            ticks = np.array([p for p in PROBABILITY_TICKS if p_low <= p <= p_high])
            if ticks.size < 2:
                fine = _FINE_PROBABILITY_TICKS
                ticks = np.array([p for p in fine if p_low <= p <= p_high])
            if ticks.size < 2:
                ticks = _nice_ticks(p_low, p_high, 4)
        else:
            ticks = np.asarray(probability_ticks, dtype=np.float64)
            if np.any((ticks <= 0) | (ticks >= 1)):
                raise ValueError(
                    f"probability_ticks must be in (0, 1); got {ticks.tolist()}."
                )
        x = nomogram.points_from_probability(ticks) * width
        label = f"Probability of {self.outcome}"
        rows.append((label, x, [f"{p:g}" for p in ticks], (0, 100)))
        return rows

    def plot(self, ax=None, *, probability_ticks=None, fontsize=9.0, **kwargs):
        """Draw the nomogram.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; None creates a figure sized to the number of
            axes. The nomogram's axis names are drawn to the left of `ax`.
        probability_ticks : array-like of float, default=None
            Probabilities to mark on the probability axis; None means those
            of 0.1, ..., 0.9 within its range.
        fontsize : float, default=9.0
            Font size of the axis names; tick labels are one point smaller.
        **kwargs : dict
            Keyword arguments for matplotlib's ``plot`` of the axis lines
            and ticks (e.g. ``color``, ``linewidth``).

        Returns
        -------
        display : NomogramDisplay
            ``self``, with ``axis_lines_``, ``tick_labels_``,
            ``row_labels_``, ``ax_`` and ``figure_`` set.
        """
        rows = self._rows(probability_ticks)
        n_rows = len(rows)
        if ax is None:
            plt = _pyplot()
            longest = max(len(row[0]) for row in rows)
            label_in = 0.6 * fontsize / 72 * longest + 0.25
            width, height = 8.0, 0.5 * n_rows + 0.4
            figure = plt.figure(figsize=(width, height))
            left = label_in / width
            ax = figure.add_axes((left, 0.2 / height, 0.98 - left, 1 - 0.4 / height))
        else:
            _pyplot()
        self.ax_, self.figure_ = ax, ax.figure
        ax.set_axis_off()
        ax.set_xlim(-3, 103)
        ax.set_ylim(-(n_rows - 1) - 0.6, 0.75)

        # Label widths in data units, to send a crowded label below its line.
        box = ax.get_position()
        axes_inches = max(box.width * self.figure_.get_figwidth(), 1e-3)
        per_char = 0.6 * (fontsize - 1) / 72 * 106 / axes_inches

        line_kw = {"color": "k", "linewidth": 0.8, **kwargs}
        self.axis_lines_, self.tick_labels_, self.row_labels_ = {}, {}, []
        for k, (label, x, texts, (start, end)) in enumerate(rows):
            y = -float(k)
            (self.axis_lines_[label],) = ax.plot([start, end], [y, y], **line_kw)
            x = np.asarray(x, dtype=np.float64)
            segments_x = np.column_stack([x, x, np.full_like(x, np.nan)]).ravel()
            segments_y = np.tile([y, y + 0.12, np.nan], x.size)
            ax.plot(segments_x, segments_y, **line_kw)
            tick_labels = [None] * x.size  # in the order of the ticks
            right = {0: -np.inf, 1: -np.inf}  # right edge of each lane's last label
            for position in np.argsort(x, kind="stable"):
                text, where = texts[position], float(x[position])
                half = 0.5 * per_char * len(text)
                lane = 0 if where - half >= right[0] + 0.5 else 1
                if lane == 1 and where - half < right[1] + 0.5:
                    lane = 0
                right[lane] = where + half
                tick_labels[position] = ax.text(
                    where,
                    y + 0.17 if lane == 0 else y - 0.08,
                    text,
                    ha="center",
                    va="bottom" if lane == 0 else "top",
                    fontsize=fontsize - 1,
                )
            self.tick_labels_[label] = tick_labels
            self.row_labels_.append(
                ax.text(
                    -0.01,
                    y,
                    label,
                    transform=ax.get_yaxis_transform(),
                    ha="right",
                    va="center",
                    fontsize=fontsize,
                    clip_on=False,
                )
            )
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        percentiles=(0, 100),
        outcome="ER",
        ax=None,
        probability_ticks=None,
        **kwargs,
    ) -> NomogramDisplay:
        """Draw the nomogram of a fitted binary logistic model.

        Parameters
        ----------
        estimator : estimator instance
            A fitted binary :class:`~sklearn.linear_model.LogisticRegression`
            or :class:`~ceusradiomics.clinical.ScreenedLogisticRegression`,
            or a :class:`~sklearn.pipeline.Pipeline` ending in one after
            :class:`~sklearn.preprocessing.StandardScaler`, ``"passthrough"``
            or column-selecting steps (see :meth:`Nomogram.from_estimator`).
            The axes are in the units of `X`.
        X : DataFrame or array-like of shape (n_samples, n_features)
            The input of ``estimator.predict_proba`` (typically the training
            cohort); it sets the range of each continuous axis.
        percentiles : tuple of float, default=(0, 100)
            Percentiles of ``X`` at the ends of a continuous axis: the
            observed range; ``(1, 99)`` leaves out the extreme 2%.
        outcome : str, default="ER"
            The event, in the label ``"Probability of <outcome>"``.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; None creates a new figure.
        probability_ticks : array-like of float, default=None
            Probabilities to mark; None means 0.1, ..., 0.9 within range.
        **kwargs : dict
            Keyword arguments for :meth:`plot`.

        Returns
        -------
        display : NomogramDisplay
            The plotted display; ``display.nomogram`` holds the scales.

        Raises
        ------
        TypeError
            If the model is not logistic, or a preprocessing step is not
            affine.
        ValueError
            If the model is not binary.
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        """
        nomogram = Nomogram.from_estimator(estimator, X, percentiles=percentiles)
        return cls(nomogram=nomogram, outcome=outcome).plot(
            ax=ax, probability_ticks=probability_ticks, **kwargs
        )

    @classmethod
    def from_coefficients(
        cls,
        coef,
        intercept,
        X,
        *,
        percentiles=(0, 100),
        outcome="ER",
        ax=None,
        probability_ticks=None,
        **kwargs,
    ) -> NomogramDisplay:
        """Draw the nomogram of a logistic model given by its coefficients.

        Parameters
        ----------
        coef : mapping or pandas.Series of str to float
            Coefficient of each term: a column of `X`, or
            ``"column[level]"`` for a level of a categorical column (see
            :meth:`Nomogram.from_coefficients`).
        intercept : float
            The intercept.
        X : pandas.DataFrame
            The lesions; they set the range of each axis.
        percentiles : tuple of float, default=(0, 100)
            Percentiles of ``X`` at the ends of a continuous axis.
        outcome : str, default="ER"
            The event, in the label ``"Probability of <outcome>"``.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; None creates a new figure.
        probability_ticks : array-like of float, default=None
            Probabilities to mark; None means 0.1, ..., 0.9 within range.
        **kwargs : dict
            Keyword arguments for :meth:`plot`.

        Returns
        -------
        display : NomogramDisplay
            The plotted display.
        """
        nomogram = Nomogram.from_coefficients(
            coef, intercept, X, percentiles=percentiles
        )
        return cls(nomogram=nomogram, outcome=outcome).plot(
            ax=ax, probability_ticks=probability_ticks, **kwargs
        )
