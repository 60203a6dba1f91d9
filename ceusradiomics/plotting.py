"""Figures of the study: ROC, calibration and decision curves, LASSO coefficients.

:class:`DecisionCurveDisplay` follows scikit-learn's Display pattern
(:class:`~sklearn.metrics.RocCurveDisplay`): ``from_estimator`` and
``from_predictions`` compute, ``plot`` draws, and the artists are kept as
``line_``, ``ax_`` and ``figure_``. The ``plot_*`` helpers draw several
models on one Axes as in the study's Figures 3-5, reusing scikit-learn's
:class:`~sklearn.metrics.RocCurveDisplay` and
:class:`~sklearn.calibration.CalibrationDisplay`.

matplotlib is an optional dependency (the ``plot`` extra). It is imported
only when something is drawn, so ``import ceusradiomics.plotting`` works
without it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
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
