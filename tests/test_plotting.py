"""Tests of ceusradiomics.plotting (matplotlib Agg backend)."""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from ceusradiomics.metrics import (
    calibration_intercept_slope,
    net_benefit,
    roc_auc_ci,
)
from ceusradiomics.plotting import (
    DecisionCurveDisplay,
    plot_calibration_curves,
    plot_decision_curves,
    plot_lasso_coefficients,
    plot_roc_curves,
)


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [31, 20])
    signal = rng.normal(size=51) + 1.2 * y
    p1 = 1 / (1 + np.exp(-signal))
    p2 = 1 / (1 + np.exp(-(0.5 * signal + rng.normal(scale=0.8, size=51))))
    return y, p1, p2


def test_import_does_not_import_matplotlib_and_missing_extra_is_named():
    script = textwrap.dedent(
        """
        import sys
        import ceusradiomics.plotting as plotting
        assert "matplotlib" not in sys.modules, "matplotlib imported eagerly"
        sys.modules["matplotlib"] = None  # as if it were not installed
        sys.modules["matplotlib.pyplot"] = None
        try:
            plotting.plot_lasso_coefficients({"a": 1.0})
        except ImportError as err:
            print(err)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "needs matplotlib" in out.stdout
    assert "pip install 'ceusradiomics[plot]'" in out.stdout


# --------------------------------------------------------------------------
# DecisionCurveDisplay
# --------------------------------------------------------------------------
def test_display_from_predictions_attributes_and_data(plt, data):
    y, p1, _ = data
    thresholds = np.linspace(0.05, 0.95, 19)
    display = DecisionCurveDisplay.from_predictions(
        y, p1, thresholds=thresholds, name="Stacking", color="tab:green"
    )
    assert isinstance(display, DecisionCurveDisplay)
    assert display.ax_ is display.line_.axes
    assert display.figure_ is display.ax_.figure
    assert display.line_.get_label() == "Stacking"
    assert display.line_.get_color() == "tab:green"
    assert_array_equal(display.line_.get_xdata(), thresholds)
    assert_allclose(display.line_.get_ydata(), net_benefit(y, p1, thresholds))
    prevalence = 20 / 51
    assert_allclose(
        display.treat_all_line_.get_ydata(),
        prevalence - (1 - prevalence) * thresholds / (1 - thresholds),
    )
    assert_array_equal(display.treat_none_line_.get_ydata(), np.zeros(19))
    assert display.ax_.get_xlabel() == "Threshold probability"
    assert display.ax_.get_ylabel() == "Net benefit"
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["Stacking", "Treat all", "Treat none"]
    low, high = display.ax_.get_ylim()
    top = max(
        display.line_.get_ydata().max(), display.treat_all_line_.get_ydata().max()
    )
    assert low < 0 < top < high


def test_display_default_thresholds_and_name(plt, data):
    y, p1, _ = data
    display = DecisionCurveDisplay.from_predictions(y, p1, plot_treat_all=False)
    assert_allclose(display.line_.get_xdata(), np.arange(1, 100) / 100)
    assert display.line_.get_label() == "Model"
    assert display.treat_all_line_ is None
    assert display.treat_none_line_ is not None


def test_display_constructor_and_plot_on_given_axes(plt):
    _, ax = plt.subplots()
    display = DecisionCurveDisplay(
        thresholds=np.array([0.1, 0.2, 0.3]), net_benefit=np.array([0.3, 0.2, 0.1])
    )
    out = display.plot(ax=ax, name="given", plot_treat_all=False, plot_treat_none=False)
    assert out is display
    assert display.ax_ is ax
    assert len(ax.get_lines()) == 1
    assert display.line_.get_label() == "given"
    assert display.treat_all_line_ is None and display.treat_none_line_ is None
    with pytest.raises(
        ValueError, match="plot_treat_all=True needs net_benefit_treat_all"
    ):
        display.plot(ax=ax)
    bad = DecisionCurveDisplay(thresholds=[0.1, 0.2], net_benefit=[0.3])
    with pytest.raises(ValueError, match="must be 1-D of the same length"):
        bad.plot(plot_treat_all=False)


def test_display_overlay_keeps_both_ranges(plt, data):
    y, p1, p2 = data
    first = DecisionCurveDisplay.from_predictions(y, p1 * 0.3, name="low")
    _, high_before = first.ax_.get_ylim()
    DecisionCurveDisplay.from_predictions(
        y, p2, name="other", ax=first.ax_, plot_treat_all=False
    )
    _, high_after = first.ax_.get_ylim()
    assert high_after >= high_before


def test_display_from_estimator(plt, data):
    y, p1, _ = data
    X = np.log(p1 / (1 - p1))[:, None]
    clf = LogisticRegression().fit(X, y)
    display = DecisionCurveDisplay.from_estimator(clf, X, y, thresholds=[0.2, 0.4, 0.6])
    assert display.line_.get_label() == "LogisticRegression"
    expected = net_benefit(y, clf.predict_proba(X)[:, 1], [0.2, 0.4, 0.6])
    assert_allclose(display.line_.get_ydata(), expected)
    # string classes: pos_label picks the column of predict_proba
    labels = np.where(y == 1, "ER", "noER")
    clf_s = LogisticRegression().fit(X, labels)
    display = DecisionCurveDisplay.from_estimator(
        clf_s, X, labels, thresholds=[0.2, 0.4], pos_label="ER", name="lr"
    )
    proba_er = clf_s.predict_proba(X)[:, list(clf_s.classes_).index("ER")]
    assert_allclose(
        display.line_.get_ydata(),
        net_benefit(labels, proba_er, [0.2, 0.4], pos_label="ER"),
    )


def test_display_from_estimator_errors(plt, data):
    y, p1, _ = data
    X = p1[:, None]
    with pytest.raises(NotFittedError):
        DecisionCurveDisplay.from_estimator(LogisticRegression(), X, y)
    svc = LinearSVC().fit(X, y)
    with pytest.raises(TypeError, match="LinearSVC has no predict_proba"):
        DecisionCurveDisplay.from_estimator(svc, X, y)
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"pos_label=2 is not one of the estimator's"):
        DecisionCurveDisplay.from_estimator(clf, X, y, pos_label=2)
    multi = LogisticRegression().fit(X, np.arange(51) % 3)
    with pytest.raises(ValueError, match="estimator must be a binary classifier"):
        DecisionCurveDisplay.from_estimator(multi, X, np.arange(51) % 3)


# --------------------------------------------------------------------------
# figure helpers
# --------------------------------------------------------------------------
def test_plot_roc_curves_legend_has_auc_with_delong_ci(plt, data):
    y, p1, p2 = data
    ax = plot_roc_curves(y, {"Radiomics": p2, "Stacking": p1})
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == f"Radiomics: AUC = {roc_auc_ci(y, p2)}"
    assert legend[1] == f"Stacking: AUC = {roc_auc_ci(y, p1)}"
    assert "95% CI" in legend[1]
    assert legend[2] == "Chance level (AUC = 0.5)"
    assert len(ax.get_lines()) == 3
    ax2 = plot_roc_curves(y, {"A": p1}, ci=False, plot_chance_level=False)
    texts = [t.get_text() for t in ax2.get_legend().get_texts()]
    assert texts == [f"A: AUC = {roc_auc_ci(y, p1).auc:.3f}"]


def test_plot_calibration_curves(plt, data):
    y, p1, p2 = data
    _, ax = plt.subplots()
    out = plot_calibration_curves(y, {"A": p1, "B": p2}, ax=ax)
    assert out is ax
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    intercept, slope = calibration_intercept_slope(y, p1)
    assert f"A (intercept {intercept:.2f}, slope {slope:.2f})" in legend
    assert legend.count("Perfectly calibrated") == 1
    assert len(legend) == 3
    ax2 = plot_calibration_curves(y, {"A": p1}, show_stats=False, n_bins=4)
    assert "A" in [t.get_text() for t in ax2.get_legend().get_texts()]


def test_plot_decision_curves(plt, data):
    y, p1, p2 = data
    t = [0.1, 0.3, 0.5]
    ax = plot_decision_curves(y, {"A": p1, "B": p2}, thresholds=t)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["A", "Treat all", "Treat none", "B"]
    assert_allclose(lines["A"].get_ydata(), net_benefit(y, p1, t))
    assert_allclose(lines["B"].get_ydata(), net_benefit(y, p2, t))


def test_plot_lasso_coefficients(plt):
    coef = pd.Series(
        {"US_Teta2": -0.111, "US_Mean": 0.194, "AP_Perc.50%": -0.009, "zero": 0.0}
    )
    ax = plot_lasso_coefficients(coef)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "US_Teta2",
        "AP_Perc.50%",
        "US_Mean",
    ]
    widths = [bar.get_width() for bar in ax.patches]
    assert_allclose(widths, [-0.111, -0.009, 0.194])
    colors = [bar.get_facecolor() for bar in ax.patches]
    assert colors[0] == colors[1] != colors[2]
    ax2 = plot_lasso_coefficients(coef.to_dict(), drop_zero=False, sort=False)
    assert [t.get_text() for t in ax2.get_yticklabels()] == list(coef.index)


def test_plot_helpers_errors(plt, data):
    y, p1, _ = data
    with pytest.raises(TypeError, match="scores must be a mapping from model name"):
        plot_roc_curves(y, [p1])
    with pytest.raises(ValueError, match="probas is empty"):
        plot_decision_curves(y, {})
    with pytest.raises(ValueError, match=r"probas\['A'\] must hold probabilities"):
        plot_calibration_curves(y, {"A": p1 + 1})
    with pytest.raises(
        ValueError, match=r"y_true and scores\['A'\] must have the same"
    ):
        plot_roc_curves(y, {"A": p1[:-1]})
    with pytest.raises(TypeError, match="coef must be a pandas Series"):
        plot_lasso_coefficients(np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="coef has no non-zero coefficient"):
        plot_lasso_coefficients(pd.Series({"a": 0.0}))
    with pytest.raises(ValueError, match="coef must be finite"):
        plot_lasso_coefficients(pd.Series({"a": np.nan}))
