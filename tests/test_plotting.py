"""Tests of ceusradiomics.plotting (matplotlib Agg backend)."""

import io
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ceusradiomics.metrics import (
    calibration_intercept_slope,
    net_benefit,
    roc_auc_ci,
)
from ceusradiomics.plotting import (
    DecisionCurveDisplay,
    Nomogram,
    NomogramDisplay,
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


# --------------------------------------------------------------------------
# Nomogram
# --------------------------------------------------------------------------
CATEGORICAL = ["sex", "size_group", "hepatitis", "cirrhosis", "afp_group"]


@pytest.fixture(scope="module")
def cohort():
    from ceusradiomics.datasets import make_ceus_cohort

    _, y, clinical = make_ceus_cohort(random_state=0)
    return clinical, y


def _linear_map(texts):
    """(value -> x) of a linear axis, from its first and last tick label."""
    (v0, x0), (v1, x1) = [(float(t.get_text()), t.get_position()[0]) for t in texts][
        :: len(texts) - 1
    ]
    return lambda v: x0 + (np.asarray(v, dtype=float) - v0) * (x1 - x0) / (v1 - v0)


def _read_off(display, X):
    """The probability of each lesion, read off the drawn axes only.

    Each predictor's points are the x position of its value on its own axis
    (linear between the labelled ticks, or the tick of its level), which is
    the Points scale (checked); the sum is placed on the Total Points axis,
    and the Linear Predictor axis at that x gives the log-odds.
    """
    labels = display.tick_labels_
    points_axis = labels["Points"]
    assert [t.get_text() for t in points_axis] == [str(v) for v in range(0, 101, 10)]
    assert_allclose([t.get_position()[0] for t in points_axis], np.arange(0, 101, 10))
    total = np.zeros(len(X))
    for axis in display.nomogram.axes:
        texts = labels[axis.name]
        if axis.kind == "continuous":
            total += _linear_map(texts)(X[axis.name].to_numpy(dtype=float))
        else:
            where = {t.get_text(): t.get_position()[0] for t in texts}
            total += np.array([where[str(v)] for v in X[axis.name]])
    x = _linear_map(labels["Total Points"])(total)
    lp_x = _linear_map(labels["Linear Predictor"])
    lp0, lp1 = lp_x(0.0), lp_x(1.0)  # invert the x <- log-odds map
    return 1 / (1 + np.exp(-(x - lp0) / (lp1 - lp0))), total


def _check_nomogram(display, model, X, X_model=None):
    """Check the scales and the drawing against ``model.predict_proba``.

    ``X``: a DataFrame with the nomogram's column names; ``X_model``: the
    same lesions as the model takes them, when not ``X``.
    """
    nomogram = display.nomogram
    expected = model.predict_proba(X if X_model is None else X_model)[:, 1]
    # the scales: axes start at 0, the largest effect spans 0-100
    for axis in nomogram.axes:
        ends = axis.limits if axis.kind == "continuous" else axis.levels
        assert min(axis.points(np.asarray(ends, dtype=object))) == pytest.approx(0)
    assert max(a.max_points for a in nomogram.axes) == pytest.approx(100, abs=1e-12)
    # the pure computation, each axis read separately then added
    by_axis = sum(axis.points(X[axis.name].to_numpy()) for axis in nomogram.axes)
    assert_allclose(nomogram.total_points(X), by_axis, rtol=0, atol=1e-12)
    assert_allclose(
        nomogram.probability_from_points(by_axis), expected, rtol=0, atol=1e-9
    )
    assert_allclose(
        nomogram.points_from_probability(expected), by_axis, rtol=0, atol=1e-7
    )
    # the drawing: read off the axes only
    proba, total = _read_off(display, X)
    assert_allclose(total, by_axis, rtol=0, atol=1e-9)
    assert_allclose(proba, expected, rtol=0, atol=1e-9)
    # the probability ticks sit where their log-odds are on the LP axis
    lp_x = _linear_map(display.tick_labels_["Linear Predictor"])
    label = f"Probability of {display.outcome}"
    for text in display.tick_labels_[label]:
        p = float(text.get_text())
        assert text.get_position()[0] == pytest.approx(lp_x(np.log(p / (1 - p))))
    rows = [t.get_text() for t in display.row_labels_]
    assert rows == [
        "Points",
        *[a.name for a in nomogram.axes],
        "Total Points",
        "Linear Predictor",
        label,
    ]
    assert list(display.axis_lines_) == rows
    assert display.figure_ is display.ax_.figure


def _no_overlap(display):
    """No two tick labels of one axis overlap once rendered."""
    renderer = display.figure_.canvas.get_renderer()
    for label, texts in display.tick_labels_.items():
        boxes = [t.get_window_extent(renderer) for t in texts]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not a.overlaps(b), (label, a, b)


def test_nomogram_logistic_two_numeric_predictors(plt, cohort):
    clinical, y = cohort
    X = clinical[["age", "size_cm"]]
    model = LogisticRegression().fit(X, y)
    display = NomogramDisplay.from_estimator(model, X)
    _check_nomogram(display, model, X)
    age, size = display.nomogram.axes
    assert age.coef == model.coef_[0, 0] < 0
    assert size.max_points == pytest.approx(100)  # size has the larger effect
    assert age.limits == (X["age"].min(), X["age"].max())
    # a negative coefficient: the oldest lesion at 0 points, ticks reversed
    assert age.points([X["age"].max()])[0] == pytest.approx(0)
    x = [t.get_position()[0] for t in display.tick_labels_["age"]]
    assert np.all(np.diff([float(t) for t in age.ticks]) > 0)
    assert np.all(np.diff(x) < 0)
    # ticks are round values inside the range
    assert set(size.ticks) <= set(np.arange(0.0, 21.0))
    assert X["size_cm"].min() <= min(size.ticks) <= max(size.ticks) <= 13
    _no_overlap(display)


def test_nomogram_standard_scaler_pipeline_in_original_units(plt, cohort):
    clinical, y = cohort
    X = clinical[["age", "size_cm"]]
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    display = NomogramDisplay.from_estimator(pipe, X)
    _check_nomogram(display, pipe, X)
    scaler, lr = pipe[0], pipe[-1]
    nomogram = display.nomogram
    assert_allclose(
        [a.coef for a in nomogram.axes], lr.coef_[0] / scaler.scale_, rtol=1e-12
    )
    assert_allclose(
        nomogram.intercept,
        lr.intercept_[0] - np.sum(lr.coef_[0] * scaler.mean_ / scaler.scale_),
        rtol=1e-12,
    )
    # the same axes as a model fitted on unscaled data would give
    assert [a.name for a in nomogram.axes] == ["age", "size_cm"]
    assert (
        nomogram.axes[1].ticks
        == NomogramDisplay.from_estimator(LogisticRegression().fit(X, y), X)
        .nomogram.axes[1]
        .ticks
    )
    # an array X: columns by position, named x0, x1; with_mean=False too
    arr = X.to_numpy()
    pipe2 = make_pipeline(
        StandardScaler(with_mean=False), "passthrough", LogisticRegression()
    ).fit(arr, y)
    display2 = NomogramDisplay.from_estimator(pipe2, arr)
    assert [a.name for a in display2.nomogram.axes] == ["x0", "x1"]
    _check_nomogram(display2, pipe2, pd.DataFrame(arr, columns=["x0", "x1"]), arr)
    assert_allclose(
        display2.nomogram.total_points(arr),
        display2.nomogram.total_points(pd.DataFrame(arr, columns=["x0", "x1"])),
    )


def test_nomogram_column_transformer_selection(plt, cohort):
    from sklearn.compose import ColumnTransformer

    clinical, y = cohort
    selector = ColumnTransformer(
        [("scaled", StandardScaler(), ["size_cm"]), ("raw", "passthrough", ["age"])]
    )
    pipe = make_pipeline(selector, LogisticRegression()).fit(clinical, y)
    display = NomogramDisplay.from_estimator(pipe, clinical)
    assert [a.name for a in display.nomogram.axes] == ["size_cm", "age"]
    _check_nomogram(display, pipe, clinical)


def test_nomogram_screened_logistic_categorical(plt, cohort):
    from ceusradiomics.clinical import ScreenedLogisticRegression

    clinical, y = cohort
    model = ScreenedLogisticRegression(alpha=0.2, categorical=CATEGORICAL)
    model.fit(clinical, y)
    assert list(model.selected_) == ["age", "size_cm", "size_group", "afp_group"]
    display = NomogramDisplay.from_estimator(model, clinical)
    _check_nomogram(display, model, clinical)
    axes = {axis.name: axis for axis in display.nomogram.axes}
    assert list(axes) == list(model.selected_)  # dropped predictors: no axis
    afp, group = axes["afp_group"], axes["size_group"]
    # one tick per level, the level with the lowest contribution at 0 points
    assert afp.kind == "categorical" and afp.levels == ("<20", "20-400", ">400")
    texts = display.tick_labels_["afp_group"]
    assert [t.get_text() for t in texts] == ["<20", "20-400", ">400"]
    coefs = model.coef_[0][
        [list(model.terms_).index(f"afp_group[{v}]") for v in ("20-400", ">400")]
    ]
    assert min(coefs) > 0  # so the reference level "<20" sits at 0
    scale = display.nomogram.points_per_unit
    assert_allclose(afp.points(["<20", "20-400", ">400"]), [0, *(scale * coefs)])
    # size_group[>=5] has a negative coefficient: ">=5" at 0, "<5" above it
    assert group.points([">=5"])[0] == 0 < group.points(["<5"])[0]
    with pytest.raises(ValueError, match=r"level\(s\) \['huge'\] that the model"):
        afp.points(["huge"])
    display.figure_.savefig(io.BytesIO(), format="png")
    _no_overlap(display)


def test_nomogram_percentiles_and_binary_column(plt, cohort):
    clinical, y = cohort
    X = clinical[["size_cm"]].assign(
        cirrhosis=(clinical["cirrhosis"] == "positive").astype(int)
    )
    model = LogisticRegression().fit(X, y)
    nomogram = Nomogram.from_estimator(model, X, percentiles=(1, 99))
    size, cirrhosis = nomogram.axes
    assert size.limits == tuple(np.percentile(X["size_cm"], [1, 99]))
    assert cirrhosis.ticks == (0.0, 1.0)  # two values: a tick at each
    # lesions beyond the 1st-99th percentiles lie beyond the axis, still exact
    points = nomogram.total_points(X)
    assert points.min() < 0 or points.max() > nomogram.max_total_points
    assert_allclose(
        nomogram.probability_from_points(points),
        model.predict_proba(X)[:, 1],
        rtol=0,
        atol=1e-9,
    )
    with pytest.raises(ValueError, match=r"percentiles must be two numbers"):
        Nomogram.from_estimator(model, X, percentiles=(50, 50))


def test_nomogram_from_coefficients_and_plot_on_given_axes(plt):
    X = pd.DataFrame(
        {"size_cm": [2.0, 4.0, 6.0, 10.0], "afp": [">400", "<20", "<20", ">400"]}
    )
    nomogram = Nomogram.from_coefficients({"size_cm": 0.25, "afp[>400]": 1.0}, -2.0, X)
    assert_allclose(nomogram.points(X)["afp"], [50, 0, 0, 50])
    assert nomogram.points_per_unit == 50  # size spans 2 log-odds
    lp = -2.0 + 0.25 * X["size_cm"] + (X["afp"] == ">400")
    assert_allclose(
        nomogram.probability_from_points(nomogram.total_points(X)),
        1 / (1 + np.exp(-lp)),
        rtol=0,
        atol=1e-12,
    )
    _, ax = plt.subplots()
    display = NomogramDisplay(nomogram=nomogram, outcome="recurrence")
    out = display.plot(ax=ax, probability_ticks=[0.25, 0.5], color="tab:blue")
    assert out is display and display.ax_ is ax
    assert display.axis_lines_["Points"].get_color() == "tab:blue"
    texts = display.tick_labels_["Probability of recurrence"]
    assert [t.get_text() for t in texts] == ["0.25", "0.5"]
    display2 = NomogramDisplay.from_coefficients(
        pd.Series({"size_cm": 0.25}), 0.0, X, outcome="ER"
    )
    assert [a.name for a in display2.nomogram.axes] == ["size_cm"]
    with pytest.raises(ValueError, match="probability_ticks must be in"):
        display.plot(probability_ticks=[0, 0.5])
    with pytest.raises(ValueError, match=r"term 'stage\[T2\]' of coef is neither"):
        Nomogram.from_coefficients({"stage[T2]": 1.0}, 0.0, X)
    three = X.assign(afp=["<20", "20-400", ">400", "<20"])
    with pytest.raises(ValueError, match="exactly one level without a term"):
        Nomogram.from_coefficients({"afp[>400]": 1.0}, 0.0, three)
    with pytest.raises(ValueError, match=r"level\(s\) \['<30'\] of column 'afp'"):
        Nomogram.from_coefficients({"afp[<30]": 1.0}, 0.0, X)
    with pytest.raises(ValueError, match="no predictor with a non-zero"):
        Nomogram.from_coefficients({"size_cm": 0.0}, 0.0, X)
    with pytest.raises(TypeError, match="X must be a pandas DataFrame"):
        Nomogram.from_coefficients({"size_cm": 1.0}, 0.0, X.to_numpy())


def test_nomogram_errors(plt, cohort):
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier

    clinical, y = cohort
    X = clinical[["age", "size_cm"]]
    with pytest.raises(NotFittedError):
        NomogramDisplay.from_estimator(LogisticRegression(), X)
    with pytest.raises(NotFittedError):
        NomogramDisplay.from_estimator(make_pipeline(LogisticRegression()), X)
    with pytest.raises(
        TypeError, match=r"a nomogram needs a logistic model.*got LinearSVC"
    ):
        NomogramDisplay.from_estimator(LinearSVC().fit(X, y), X)
    forest = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=2))
    with pytest.raises(TypeError, match="got RandomForestClassifier"):
        NomogramDisplay.from_estimator(forest.fit(X, y), X)
    multi = LogisticRegression().fit(X, np.arange(len(y)) % 3)
    with pytest.raises(ValueError, match="needs a binary logistic model"):
        NomogramDisplay.from_estimator(multi, X)
    pca = make_pipeline(PCA(1), LogisticRegression()).fit(X, y)
    with pytest.raises(TypeError, match=r"step 'pca' is a PCA.*only affine"):
        NomogramDisplay.from_estimator(pca, X)
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"X lacks the column\(s\) \['size_cm'\]"):
        NomogramDisplay.from_estimator(model, X[["age"]])
    with pytest.raises(TypeError, match="fitted on a DataFrame"):
        NomogramDisplay.from_estimator(model, X.to_numpy())
    with pytest.raises(ValueError, match="X must have 2 columns"):
        NomogramDisplay.from_estimator(
            LogisticRegression().fit(X.to_numpy(), y), X.to_numpy()[:, :1]
        )
