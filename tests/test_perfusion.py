"""CEUS perfusion: TIC extraction, bolus fits, VueBox parameters, PerfusionExtractor.

Oracles: closed forms of the lognormal and gamma-variate calculus (modes,
inflection points, means), scipy.integrate.quad for every area, a brute-force
dense-grid search of the steepest slopes for any model, and the ground truth
of the synthetic cohort's cine loops.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, ndimage
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from ceusradiomics import PerfusionExtractor, TextureExtractor
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.exceptions import (
    DegenerateROIWarning,
    ROIError,
    ROIFileNotFoundError,
    ROITypeError,
)
from ceusradiomics.perfusion import (
    BOLUS_MODELS,
    LIVER_PHASE_WINDOWS,
    PERFUSION_PARAMETERS,
    BolusFit,
    fit_bolus,
    frame_correlation,
    gamma_variate,
    ldrw_bolus,
    linearize_intensity,
    liver_phase,
    lognormal_bolus,
    perfusion_parameters,
    select_phase_frames,
    time_intensity_curve,
    washout_onset,
)

MODELS = {
    "lognormal": lognormal_bolus,
    "gamma": gamma_variate,
    "ldrw": ldrw_bolus,
}
# Two bolus shapes per model (params besides offset, auc and t0).
SHAPES = {
    "lognormal": [
        {"mu": np.log(10.0), "sigma": 0.5},
        {"mu": np.log(25.0), "sigma": 0.9},
    ],
    "gamma": [{"alpha": 2.5, "beta": 4.0}, {"alpha": 6.0, "beta": 1.5}],
    "ldrw": [{"mu": 15.0, "lam": 2.0}, {"mu": 30.0, "lam": 8.0}],
}
CASES = [(m, s) for m in SHAPES for s in SHAPES[m]]
NO_QOF = [p for p in PERFUSION_PARAMETERS if p != "QOF"]


def _fit(model, shape, offset=1.5, auc=400.0, t0=12.0):
    return BolusFit(model, {"offset": offset, "auc": auc, **shape, "t0": t0})


def _density(model, shape):
    """Unit-area bolus g(tau) as a Python function of scalar tau (oracle)."""
    fn = MODELS[model]
    return lambda tau: float(fn(tau, **shape)) if tau > 0 else 0.0


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def test_model_values_by_hand():
    tau, mu, s = 15.0, np.log(10.0), 0.5
    z = (np.log(tau) - mu) / s
    hand = np.exp(-z * z / 2) / (np.sqrt(2 * np.pi) * s * tau)
    assert lognormal_bolus(5.0 + tau, mu=mu, sigma=s, t0=5.0) == pytest.approx(hand)
    # gamma: 4^2 e^-2 / (Gamma(3) 2^3)
    assert gamma_variate(6.0, alpha=2.0, beta=2.0, t0=2.0) == pytest.approx(
        16 * np.exp(-2) / 16
    )
    # LDRW at its scale: e^0 sqrt(lam / (2 pi mu^2))
    assert ldrw_bolus(10.0, mu=10.0, lam=2.0) == pytest.approx(
        np.sqrt(2.0 / (2 * np.pi * 100.0))
    )
    # Offset before the arrival, offset + bolus after.
    t = np.array([0.0, 4.0, 5.0, 6.0])
    np.testing.assert_allclose(
        gamma_variate(t, offset=3.0, auc=2.0, alpha=2.0, beta=2.0, t0=5.0)[:3], 3.0
    )


@pytest.mark.parametrize(("model", "shape"), CASES)
def test_model_area_mode_and_mean(model, shape):
    g = _density(model, shape)
    fit = _fit(model, shape, offset=0.0, auc=1.0, t0=0.0)
    spec = fit._spec
    a, b = fit._shape()
    area = integrate.quad(g, 0, np.inf, limit=200)[0]
    mean = integrate.quad(lambda x: x * g(x), 0, np.inf, limit=200)[0]
    assert area == pytest.approx(1.0, rel=1e-7)
    assert spec.mean(a, b) == pytest.approx(mean, rel=1e-6)
    grid = np.linspace(1e-4, 200, 400_001)
    assert spec.mode(a, b) == pytest.approx(
        grid[np.argmax(g(0) + MODELS[model](grid, **shape))], abs=1e-3
    )
    x = spec.mode(a, b) * 1.7
    assert spec.cdf(np.array([x]), a, b)[0] == pytest.approx(
        integrate.quad(g, 0, x)[0], rel=1e-7
    )


def test_bolus_models_registry():
    assert BOLUS_MODELS["lognormal"] == ("offset", "auc", "mu", "sigma", "t0")
    assert BOLUS_MODELS["gamma"] == ("offset", "auc", "alpha", "beta", "t0")
    assert BOLUS_MODELS["ldrw"] == ("offset", "auc", "mu", "lam", "t0")


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------


def _closed_form_parameters(model, shape, auc, t0):
    """VueBox parameters from the closed-form inflection points (oracle)."""
    if model == "lognormal":
        mu, s = shape["mu"], shape["sigma"]
        root = 0.5 * s * np.sqrt(s * s + 4)
        t_in, t_out = np.exp(mu - 1.5 * s * s - root), np.exp(mu - 1.5 * s * s + root)
        mode, mean = np.exp(mu - s * s), np.exp(mu + s * s / 2)
    else:
        a, b = shape["alpha"], shape["beta"]
        t_in, t_out = b * (a - np.sqrt(a)), b * (a + np.sqrt(a))
        mode, mean = a * b, (a + 1) * b
    return _parameters_from_points(model, shape, auc, t0, t_in, t_out, mode, mean)


def _brute_force_parameters(model, shape, auc, t0):
    """VueBox parameters from a dense grid of the model (oracle for any model)."""
    g = _density(model, shape)
    tau = np.linspace(1e-5, 400.0, 2_000_001)
    values = MODELS[model](tau, **shape)
    slope = np.gradient(values, tau)
    mode = tau[np.argmax(values)]
    mean = integrate.quad(lambda x: x * g(x), 0, np.inf, limit=200)[0]
    return _parameters_from_points(
        model, shape, auc, t0, tau[np.argmax(slope)], tau[np.argmin(slope)], mode, mean
    )


def _parameters_from_points(model, shape, auc, t0, t_in, t_out, mode, mean):
    g = _density(model, shape)
    h = 1e-6 * mode
    slope_in = (g(t_in + h) - g(t_in - h)) / (2 * h)
    slope_out = (g(t_out + h) - g(t_out - h)) / (2 * h)
    ti = t_in - g(t_in) / slope_in
    to = t_out - g(t_out) / slope_out
    wi = auc * integrate.quad(g, ti, mode)[0]
    wo = auc * integrate.quad(g, mode, to)[0]
    return {
        "PE": auc * g(mode),
        "TTP": t0 + mode,
        "RT": mode - ti,
        "mTTI": mean - ti,
        "WiAUC": wi,
        "WiR": auc * slope_in,
        "WiPI": wi / (mode - ti),
        "WoR": auc * slope_out,
        "WoAUC": wo,
        "WiWoAUC": wi + wo,
        "FT": to - mode,
    }


@pytest.mark.parametrize(("model", "shape"), [c for c in CASES if c[0] != "ldrw"])
def test_parameters_match_closed_forms(model, shape):
    params = perfusion_parameters(_fit(model, shape))
    expected = _closed_form_parameters(model, shape, 400.0, 12.0)
    for name in NO_QOF:
        assert params[name] == pytest.approx(expected[name], rel=1e-6), name
    assert params["QOF"] == 100.0
    assert list(params) == list(PERFUSION_PARAMETERS)


@pytest.mark.parametrize(("model", "shape"), CASES)
def test_parameters_match_brute_force(model, shape):
    params = perfusion_parameters(_fit(model, shape))
    expected = _brute_force_parameters(model, shape, 400.0, 12.0)
    for name in NO_QOF:
        assert params[name] == pytest.approx(expected[name], rel=2e-4), name


def test_parameter_invariants():
    shape = SHAPES["lognormal"][0]
    base = perfusion_parameters(_fit("lognormal", shape))
    assert base["WoR"] < 0 < base["WiR"]
    assert base["WiWoAUC"] == pytest.approx(base["WiAUC"] + base["WoAUC"])
    assert base["WiPI"] == pytest.approx(base["WiAUC"] / base["RT"])
    # The offset changes nothing; the area scales the amplitudes only.
    shifted = perfusion_parameters(_fit("lognormal", shape, offset=50.0, auc=800.0))
    for name in ("PE", "WiAUC", "WiR", "WiPI", "WoR", "WoAUC", "WiWoAUC"):
        assert shifted[name] == pytest.approx(2 * base[name])
    for name in ("RT", "mTTI", "FT"):
        assert shifted[name] == pytest.approx(base[name])
    # A later arrival delays TTP only.
    later = perfusion_parameters(_fit("lognormal", shape, t0=20.0))
    assert later["TTP"] == pytest.approx(base["TTP"] + 8.0)
    assert later["RT"] == pytest.approx(base["RT"])


def test_parameter_errors():
    with pytest.raises(TypeError, match="fit must be a BolusFit"):
        perfusion_parameters({"model": "lognormal"})
    no_bolus = _fit("lognormal", SHAPES["lognormal"][0], auc=0.0)
    with pytest.raises(ValueError, match=r"the fit has no bolus \(auc = 0\)"):
        perfusion_parameters(no_bolus)
    with pytest.raises(ValueError, match=r"model must be one of \['gamma', 'ldrw', "):
        BolusFit("weibull", {})
    with pytest.raises(ValueError, match=r"params of a gamma fit must have the keys"):
        BolusFit("gamma", {"offset": 0.0})


# --------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "shape"), CASES)
@pytest.mark.parametrize("fps", [1.0, 10.0])
def test_fit_recovers_noise_free_curves(model, shape, fps):
    t = np.arange(0.0, 180.0, 1.0 / fps)
    truth = _fit(model, shape)
    fit = fit_bolus(t, truth(t), model=model)
    assert fit.model == model and fit.n_samples == t.size
    assert fit.qof == pytest.approx(100.0)
    for name, value in truth.params.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name
    expected = perfusion_parameters(truth)
    got = perfusion_parameters(fit)
    for name in NO_QOF:  # the issue asks for 2%; the fit is exact
        assert got[name] == pytest.approx(expected[name], rel=1e-4), name


def test_fit_irregular_times_and_dropouts():
    rng = np.random.default_rng(5)
    t = np.sort(rng.uniform(0.0, 150.0, 300))
    truth = _fit("lognormal", SHAPES["lognormal"][1])
    y = truth(t)
    y[rng.random(t.size) < 0.3] = np.nan
    fit = fit_bolus(t, y)
    assert fit.n_samples == np.isfinite(y).sum()
    assert fit.t_first == t[np.isfinite(y)][0]
    for name, value in truth.params.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-5), name


@pytest.mark.parametrize(("model", "shape"), CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_fit_with_noise_and_dropouts_within_15_percent(model, shape, seed):
    """10 frames/s for 3 min, 10% multiplicative noise, 10% frames dropped."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 180.0, 0.1)
    truth = _fit(model, shape)
    y = truth(t) * rng.lognormal(0.0, 0.1, t.size)
    y[rng.random(t.size) < 0.1] = np.nan
    fit = fit_bolus(t, y, model=model)
    assert 90.0 < fit.qof < 100.0
    expected = perfusion_parameters(truth)
    got = perfusion_parameters(fit)
    for name in NO_QOF:
        assert got[name] == pytest.approx(expected[name], rel=0.15), name


def test_qof_is_r_squared_in_percent():
    rng = np.random.default_rng(2)
    t = np.arange(0.0, 120.0, 0.5)
    y = _fit("gamma", SHAPES["gamma"][0])(t) + rng.normal(0, 1.0, t.size)
    fit = fit_bolus(t, y, model="gamma")
    residual = y - fit(t)
    r2 = 1 - residual @ residual / np.sum((y - y.mean()) ** 2)
    assert fit.qof == pytest.approx(100 * r2)


def test_fit_errors():
    t = np.arange(0.0, 60.0, 1.0)
    curve = _fit("lognormal", SHAPES["lognormal"][0])(t)
    with pytest.raises(ValueError, match=r"has 14 valid sample\(s\); fitting the 5-p"):
        fit_bolus(t[:14], curve[:14] + np.arange(14))
    dropped = curve.copy()
    dropped[10:] = np.nan
    with pytest.raises(ValueError, match=r"needs at least 15 \(3 per parameter\)"):
        fit_bolus(t, dropped)
    with pytest.raises(ValueError, match=r"is flat \(every valid sample is 7\)"):
        fit_bolus(t, np.full(t.size, 7.0))
    with pytest.raises(ValueError, match="is flat"):
        fit_bolus(t, np.zeros(t.size))
    with pytest.raises(
        ValueError, match=r"still rises at its last sample \(t = 59 s\)"
    ):
        fit_bolus(t, t**2)
    with pytest.raises(ValueError, match="peaks at its first sample"):
        fit_bolus(t, np.exp(-t / 10))
    with pytest.raises(
        ValueError, match=r"strictly increasing; got 3 then 3 at index 4"
    ):
        fit_bolus(np.array([0, 1, 2, 3, 3.0]), np.ones(5))
    with pytest.raises(ValueError, match=r"one value per time; got times \(60,\)"):
        fit_bolus(t, curve[:-1])
    with pytest.raises(ValueError, match="intensity must be finite or NaN"):
        fit_bolus(t, np.where(t == 5, np.inf, curve))
    with pytest.raises(ValueError, match="times must be finite"):
        fit_bolus(np.where(t == 5, np.nan, t), curve)
    with pytest.raises(ValueError, match="model must be one of"):
        fit_bolus(t, curve, model="Lognormal")


# --------------------------------------------------------------------------
# Time-intensity curve
# --------------------------------------------------------------------------


def test_linearize_intensity_by_hand():
    values = np.array([0.0, 127.5, 255.0])
    np.testing.assert_allclose(
        linearize_intensity(values, dynamic_range_db=40.0), [1e-4, 1e-2, 1.0]
    )
    np.testing.assert_allclose(
        linearize_intensity(np.array([1000.0]), dynamic_range_db=30, max_value=4000),
        [10 ** (-2.25)],
    )
    with pytest.raises(ValueError, match=r"reach 256, above max_value=255"):
        linearize_intensity(np.array([256.0]))
    with pytest.raises(ValueError, match="dynamic_range_db must be a positive"):
        linearize_intensity(values, dynamic_range_db=0.0)
    with pytest.raises(TypeError, match="max_value must be a positive number"):
        linearize_intensity(values, max_value="255")


@pytest.fixture(scope="module")
def speckle_cine():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (12, 20, 24), dtype=np.uint8)
    mask = np.zeros((20, 24), dtype=bool)
    mask[4:15, 6:19] = True
    mask[8, 8] = False
    return frames, mask


def test_curve_matches_loop_oracle(speckle_cine):
    frames, mask = speckle_cine
    rows, cols = np.nonzero(mask)
    pixels = list(zip(rows, cols, strict=True))
    mean = [np.mean([float(f[r, c]) for r, c in pixels]) for f in frames]
    np.testing.assert_allclose(time_intensity_curve(frames, mask), mean)
    median = [np.median(f[mask]) for f in frames]
    np.testing.assert_allclose(
        time_intensity_curve(frames, mask.astype(np.uint8), statistic="median"), median
    )
    power = [
        np.mean([10 ** (6 * (float(f[r, c]) / 255 - 1)) for r, c in pixels])
        for f in frames
    ]
    linear = time_intensity_curve(frames, mask, linearize="log")
    np.testing.assert_allclose(linear, power)
    # Linearised per pixel, then averaged: not the linearised mean.
    assert np.all(linear > linearize_intensity(np.array(mean)))


def test_curve_handles_long_loops_in_chunks():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 200, (600, 6, 5), dtype=np.uint8)
    mask = np.ones((6, 5), dtype=bool)
    np.testing.assert_allclose(
        time_intensity_curve(frames, mask, linearize="log", max_value=200.0),
        linearize_intensity(frames, max_value=200.0).mean(axis=(1, 2)),
    )


def _moving_scene(n_frames=30, moved=(7, 18, 19)):
    rng = np.random.default_rng(3)
    scene = ndimage.zoom(rng.random((12, 12)), 4, order=1)  # 48 x 48 structure
    frames = np.repeat(scene[None] * 100 + 50, n_frames, axis=0)
    frames *= np.linspace(1.0, 1.5, n_frames)[:, None, None]  # enhancement
    frames += rng.normal(0, 2.0, frames.shape)  # speckle-like noise
    for k in moved:
        frames[k] = np.roll(frames[k], 12, axis=1)
    mask = np.zeros(scene.shape, dtype=bool)
    mask[16:32, 16:32] = True
    return frames, mask


def test_frame_correlation_matches_corrcoef_oracle():
    frames, mask = _moving_scene()
    r = frame_correlation(frames, mask, sigma=1.5, margin=5)
    crop = ndimage.gaussian_filter(
        frames[:, 11:37, 11:37], (0, 1.5, 1.5), mode="nearest"
    )
    reference = np.median(crop, axis=0)
    oracle = [np.corrcoef(f.ravel(), reference.ravel())[0, 1] for f in crop]
    np.testing.assert_allclose(r, oracle, atol=1e-12)
    moved = np.zeros(len(frames), dtype=bool)
    moved[[7, 18, 19]] = True
    assert r[~moved].min() > 0.95 > 0.5 > r[moved].max()


def test_frame_correlation_of_uniform_frames_is_nan():
    frames = np.ones((4, 10, 10))
    frames[2] = np.arange(100.0).reshape(10, 10)
    r = frame_correlation(frames, np.ones((10, 10)))
    assert np.isnan(r).all()  # the median frame itself is uniform
    with pytest.raises(ValueError, match="margin must be a non-negative int"):
        frame_correlation(frames, np.ones((10, 10)), margin=-1)


def test_motion_threshold_drops_displaced_frames():
    frames, mask = _moving_scene()
    curve = time_intensity_curve(frames, mask, motion_threshold=0.5)
    assert np.flatnonzero(np.isnan(curve)).tolist() == [7, 18, 19]
    full = time_intensity_curve(frames, mask)
    np.testing.assert_array_equal(curve[~np.isnan(curve)], np.delete(full, [7, 18, 19]))
    with pytest.raises(ValueError, match=r"motion_threshold must be in \[-1, 1\]"):
        time_intensity_curve(frames, mask, motion_threshold=1.5)


def test_curve_errors(speckle_cine):
    frames, mask = speckle_cine
    with pytest.raises(ValueError, match=r"shape \(n_frames, rows, columns\); got an"):
        time_intensity_curve(frames[0], mask)
    with pytest.raises(
        ValueError, match=r"got frames \(12, 20, 24\) and mask \(20, 23\)"
    ):
        time_intensity_curve(frames, mask[:, :-1])
    with pytest.raises(ValueError, match="mask is empty"):
        time_intensity_curve(frames, np.zeros_like(mask))
    with pytest.raises(TypeError, match="frames must hold integers or floats"):
        time_intensity_curve(frames > 3, mask)
    with pytest.raises(ValueError, match="statistic must be 'mean' or 'median'"):
        time_intensity_curve(frames, mask, statistic="max")
    with pytest.raises(ValueError, match="linearize must be None or 'log'"):
        time_intensity_curve(frames, mask, linearize="db")
    with pytest.raises(ValueError, match="above max_value=100"):
        time_intensity_curve(frames, mask, linearize="log", max_value=100)


# --------------------------------------------------------------------------
# Phases, wash-out, frame selection
# --------------------------------------------------------------------------


def test_liver_phase_windows():
    assert dict(LIVER_PHASE_WINDOWS) == {
        "arterial": (10.0, 45.0),
        "portal": (45.0, 120.0),
        "late": (120.0, np.inf),
    }
    labels = liver_phase([0.0, 9.99, 10.0, 44.9, 45.0, 119.9, 120.0, 600.0])
    assert labels.tolist() == [
        "",
        "",
        "arterial",
        "arterial",
        "portal",
        "portal",
        "late",
        "late",
    ]
    custom = liver_phase([5.0, 35.0], {"early": (0, 30), "rest": (30, 90)})
    assert custom.tolist() == ["early", "rest"]
    with pytest.raises(ValueError, match=r"window 'a' must have start < end"):
        liver_phase([1.0], {"a": (5, 5)})
    with pytest.raises(TypeError, match="windows must be a non-empty mapping"):
        liver_phase([1.0], [(0, 5)])


def _lognormal(offset, auc, mode, sigma, t0, t_last=180.0):
    return BolusFit(
        "lognormal",
        {
            "offset": offset,
            "auc": auc,
            "mu": np.log(mode) + sigma**2,
            "sigma": sigma,
            "t0": t0,
        },
        t_first=0.0,
        t_last=t_last,
    )


def test_washout_onset_matches_dense_search():
    lesion = _lognormal(1.0, 3000.0, 9.0, 0.6, 13.0)
    liver = _lognormal(1.0, 4000.0, 25.0, 1.0, 19.0)
    onset = washout_onset(lesion, liver)
    t = np.arange(perfusion_parameters(lesion)["TTP"], 180.0, 1e-4)
    first_below = t[np.argmax(lesion(t) < liver(t))]
    assert onset == pytest.approx(first_below, abs=2e-4)
    assert lesion(onset) == pytest.approx(liver(onset))


def test_washout_onset_edge_cases():
    lesion = _lognormal(1.0, 3000.0, 9.0, 0.6, 13.0)
    brighter_liver = _lognormal(1.0, 9e5, 9.0, 0.6, 13.0)
    # Darker than the liver at its own peak: the onset is its TTP.
    assert washout_onset(lesion, brighter_liver) == pytest.approx(
        perfusion_parameters(lesion)["TTP"]
    )
    dim_liver = _lognormal(0.5, 10.0, 25.0, 1.0, 19.0)  # always below
    assert np.isnan(washout_onset(lesion, dim_liver))
    late_liver = _lognormal(1.0, 4000.0, 25.0, 1.0, 19.0)
    assert np.isnan(washout_onset(lesion, late_liver, t_max=20.0))
    unbounded = BolusFit("lognormal", lesion.params)
    with pytest.raises(ValueError, match="t_max must be finite; pass t_max="):
        washout_onset(unbounded, late_liver)
    with pytest.raises(TypeError, match="reference must be a BolusFit"):
        washout_onset(lesion, None)


@pytest.fixture(scope="module")
def uniform_cine():
    times = np.arange(0.0, 150.0, 1.0)
    level = 10 + _lognormal(0.0, 2000.0, 10.0, 0.5, 12.0)(times)
    frames = level[:, None, None] * np.ones((1, 6, 6))
    return frames, times, np.ones((6, 6), dtype=bool), level


def test_select_phase_frames_rule(uniform_cine):
    frames, times, mask, level = uniform_cine
    spiky = frames.copy()
    spiky[40] *= 3.0  # a flash in the arterial window must not win
    chosen = select_phase_frames(spiky, times, mask)
    # Oracle: the loop over the window of the 3-frame running median.
    best, best_value = None, -np.inf
    for k in range(10, 45):
        value = np.median(spiky[k - 1 : k + 2].mean(axis=(1, 2)))
        if value > best_value:
            best, best_value = k, value
    assert chosen.ap_index == best == int(np.argmax(level))
    assert chosen.pp_index == 82 and chosen.pp_time == 82.0  # middle of 45-120
    assert chosen.ap_time == times[chosen.ap_index]
    np.testing.assert_array_equal(chosen.ap_image, spiky[chosen.ap_index])
    later = select_phase_frames(frames, times, mask, portal_time=60.4)
    assert later.pp_index == 60


def test_select_phase_frames_skips_dropped_frames():
    frames, mask = _moving_scene(n_frames=120, moved=(60, 61, 62, 63))
    times = np.arange(120.0)
    chosen = select_phase_frames(
        frames, times, mask, portal_time=61.0, motion_threshold=0.5
    )
    assert chosen.pp_index in (59, 64)


def test_select_phase_frames_errors(uniform_cine):
    frames, times, mask, _ = uniform_cine
    with pytest.raises(ValueError, match=r"no usable frame in the arterial window"):
        select_phase_frames(frames[:8], times[:8], mask)
    with pytest.raises(ValueError, match=r"loop covers 0-39 s after injection"):
        select_phase_frames(frames[:40], times[:40], mask)
    with pytest.raises(ValueError, match="portal_time must lie in portal_window"):
        select_phase_frames(frames, times, mask, portal_time=20.0)
    with pytest.raises(ValueError, match=r"one value per frame; got 149 times"):
        select_phase_frames(frames, times[:-1], mask)


# --------------------------------------------------------------------------
# The synthetic cohort's cine loops
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cine_cohort():
    return make_ceus_cohort(16, image_size=64, cine=True, random_state=7)


def test_cohort_cine_is_an_addition(cine_cohort):
    X, y, clinical, truth = cine_cohort
    X0, y0, clinical0 = make_ceus_cohort(16, image_size=64, random_state=7)
    assert list(X.columns) == [
        *X0.columns,
        "CEUS_cine",
        "CEUS_mask",
        "CEUS_reference_mask",
    ]
    for column in X0:
        for a, b in zip(X0[column], X[column], strict=True):
            assert (a is None and b is None) or np.array_equal(a, b)
    pd.testing.assert_series_equal(y, y0)
    pd.testing.assert_frame_equal(clinical, clinical0)
    assert truth.index.equals(X.index)


def test_cohort_cine_layout(cine_cohort):
    X, _, _, truth = cine_cohort
    frames, times = X.iloc[0]["CEUS_cine"]
    assert frames.shape == (181, 64, 64) and frames.dtype == np.uint8
    np.testing.assert_array_equal(times, np.arange(181.0))
    for _, row in X.iterrows():
        mask, ring = row["CEUS_mask"], row["CEUS_reference_mask"]
        assert mask.shape == ring.shape == (64, 64) and mask.dtype == bool
        assert mask.sum() > 50 and ring.sum() > 50 and not (mask & ring).any()
    expected = [f"CEUS_TIC_{p}" for p in NO_QOF] + ["CEUS_TIC_WashoutOnset"]
    expected += [
        f"{r}_{k}" for r in ("lesion", "reference") for k in BOLUS_MODELS["lognormal"]
    ]
    assert list(truth.columns) == expected
    X2, *_ = make_ceus_cohort(
        3,
        image_size=64,
        cine=True,
        cine_frame_rate=2.5,
        cine_duration=60.0,
        cine_size=32,
        random_state=0,
    )
    frames, times = X2.iloc[0]["CEUS_cine"]
    assert frames.shape == (151, 32, 32)
    assert times[1] == 0.4 and times[-1] == 60.0


def test_cohort_cine_depends_on_outcome():
    _, y, _, truth = make_ceus_cohort(
        60, image_size=64, cine=True, cine_size=32, cine_duration=60.0, random_state=0
    )
    by_class = truth.groupby(y).median()
    assert by_class.loc[1, "CEUS_TIC_TTP"] < by_class.loc[0, "CEUS_TIC_TTP"]
    assert by_class.loc[1, "CEUS_TIC_FT"] < by_class.loc[0, "CEUS_TIC_FT"]
    assert by_class.loc[1, "lesion_sigma"] < by_class.loc[0, "lesion_sigma"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cine": "yes"}, TypeError, r"cine must be a bool; got 'yes'"),
        (
            {"cine": True, "cine_frame_rate": 0.0},
            ValueError,
            r"cine_frame_rate must be > 0",
        ),
        (
            {"cine": True, "cine_duration": 30.0},
            ValueError,
            r"cine_duration must be >= 60 s",
        ),
        (
            {"cine": True, "cine_size": 16},
            ValueError,
            r"cine_size must be an int >= 32",
        ),
        ({"cine": True, "cine_size": 64.0}, TypeError, r"cine_size must be an int"),
    ],
)
def test_cohort_cine_parameter_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_ceus_cohort(4, image_size=64, **kwargs)


# --------------------------------------------------------------------------
# PerfusionExtractor
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cine_features(cine_cohort):
    X = cine_cohort[0]
    extractor = PerfusionExtractor(linearize="log").fit(X)
    return extractor, extractor.transform(X)


def test_extractor_recovers_cohort_ground_truth(cine_cohort, cine_features):
    _, _, _, truth = cine_cohort
    extractor, features = cine_features
    names = [f"CEUS_TIC_{p}" for p in PERFUSION_PARAMETERS] + ["CEUS_TIC_WashoutOnset"]
    assert features.columns.tolist() == names
    assert extractor.get_feature_names_out().tolist() == names
    assert extractor.n_features_out_ == 13 and extractor.phases_ == ("CEUS",)
    assert features.index.equals(truth.index)
    # Through speckle, log compression to uint8 and back (1 frame/s).
    both = truth.columns.intersection(features.columns)
    assert features[both].isna().equals(truth[both].isna())  # no wash-out: NaN
    error = (features[both] / truth[both] - 1).abs()
    assert error.max().max() < 0.15
    assert error.median().max() < 0.06
    assert (features["CEUS_TIC_QOF"] > 95).all()


def test_extractor_matches_the_pure_functions(cine_cohort, cine_features):
    X = cine_cohort[0]
    _, features = cine_features
    row = X.iloc[3]
    frames, times = row["CEUS_cine"]
    curve = time_intensity_curve(frames, row["CEUS_mask"], linearize="log")
    expected = perfusion_parameters(fit_bolus(times, curve))
    got = features.iloc[3]
    for name, value in expected.items():
        assert got[f"CEUS_TIC_{name}"] == pytest.approx(value, rel=1e-12)


def test_extractor_in_a_cross_validated_pipeline(cine_cohort):
    X, y, _, _ = cine_cohort
    model = make_pipeline(
        PerfusionExtractor(linearize="log"),
        SimpleImputer(),  # WashoutOnset is NaN without wash-out in the loop
        StandardScaler(),
        LogisticRegression(),
    )
    scores = cross_val_score(model, X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


def test_extractor_composes_with_texture_extractor(cine_cohort, cine_features):
    X = cine_cohort[0].iloc[:5]
    union = FeatureUnion(
        [
            ("texture", TextureExtractor(phases=("AP",), families=("hist",))),
            ("tic", PerfusionExtractor(linearize="log")),
        ]
    ).set_output(transform="pandas")
    table = union.fit_transform(X)
    assert table.shape == (5, 9 + 13)
    assert table.columns[0] == "texture__AP_Mean"
    assert table.columns[9] == "tic__CEUS_TIC_PE"
    np.testing.assert_allclose(
        table["tic__CEUS_TIC_TTP"], cine_features[1]["CEUS_TIC_TTP"].iloc[:5]
    )
    columns = ColumnTransformer(
        [("tic", PerfusionExtractor(), ["CEUS_cine", "CEUS_mask"])],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    out = columns.fit_transform(X)
    assert out.columns.tolist()[:2] == ["CEUS_TIC_PE", "CEUS_TIC_TTP"]
    assert out.shape == (5, 12)  # no reference column: no WashoutOnset


def test_extractor_clone_pickle_and_fit_state(cine_cohort):
    X = cine_cohort[0].iloc[:2]
    extractor = PerfusionExtractor(model="gamma", linearize="log")
    with pytest.raises(NotFittedError, match="call 'fit'"):
        extractor.get_feature_names_out()
    stateless = extractor.transform(X)  # transform without fit is allowed
    assert not hasattr(extractor, "phases_")
    fitted = pickle.loads(pickle.dumps(clone(extractor).fit(X)))
    pd.testing.assert_frame_equal(fitted.transform(X), stateless)
    assert fitted.get_params()["model"] == "gamma"
    assert extractor.set_output(transform="pandas") is extractor
    pd.testing.assert_frame_equal(extractor.fit_transform(X), stateless)
    tags = extractor.__sklearn_tags__()
    assert not tags.input_tags.two_d_array and not tags.requires_fit


def test_extractor_parallel_equals_serial(cine_cohort, cine_features):
    X = cine_cohort[0].iloc[:4]
    parallel = PerfusionExtractor(linearize="log", n_jobs=2).fit_transform(X)
    pd.testing.assert_frame_equal(parallel, cine_features[1].iloc[:4])


def _cine_records(n_lesions=3):
    times = np.arange(0.0, 120.0, 1.0)
    rng = np.random.default_rng(0)
    records = {}
    for i in range(n_lesions):
        level = 20 + _lognormal(0.0, 3000.0 * (i + 1), 10.0, 0.6, 12.0)(times)
        frames = level[:, None, None] * rng.uniform(0.9, 1.1, (1, 8, 8))
        records[f"P{i}"] = {"cine": (frames, times), "mask": np.eye(8) > 0}
    return pd.DataFrame.from_dict(records, orient="index")


def test_extractor_bare_cine_column_and_formats(tmp_path):
    X = _cine_records()
    features = PerfusionExtractor().fit_transform(X)
    assert features.columns.tolist() == [f"TIC_{p}" for p in PERFUSION_PARAMETERS]
    frames, times = X.loc["P1", "cine"]
    # A bare array of frames needs frame_rate; 1 frame/s gives the same times.
    X_array = X.copy()
    X_array["cine"] = pd.Series([c[0] for c in X["cine"]], index=X.index, dtype=object)
    pd.testing.assert_frame_equal(
        PerfusionExtractor(frame_rate=1.0).fit_transform(X_array), features
    )
    with pytest.raises(
        ROIError, match=r"^lesion 'P0', column 'cine': a cine array without its times"
    ) as info:
        PerfusionExtractor().fit_transform(X_array)
    assert info.value.lesion == "P0"
    assert info.value.column == "cine"
    # A multi-page TIFF path, read with read_cine.
    from PIL import Image

    # 8-bit pages: scaled into 0..255 (a plain cast would wrap the peak).
    frames = np.round(frames * 0.6).astype(np.uint8)
    pages = [Image.fromarray(f) for f in frames]
    path = tmp_path / "loop.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    X_path = X.iloc[[1]].copy()
    X_path["cine"] = str(path)
    from_file = PerfusionExtractor(frame_rate=1.0).fit_transform(X_path)
    curve = time_intensity_curve(frames, X.loc["P1", "mask"])
    expected = perfusion_parameters(fit_bolus(times, curve))
    assert from_file.iloc[0]["TIC_TTP"] == pytest.approx(expected["TTP"])


def test_extractor_flat_loop_is_degenerate():
    X = _cine_records()
    frames, times = X.loc["P1", "cine"]
    X.loc["P1", "cine"] = (np.full_like(frames, 30.0), times)
    with pytest.warns(DegenerateROIWarning, match=r"lesion 'P1', column 'mask': the"):
        features = PerfusionExtractor().fit_transform(X)
    assert features.loc["P1"].isna().all()
    assert features.drop(index="P1").notna().all().all()


def _short_loop(X):
    frames, times = X.loc["P2", "cine"]
    X.loc["P2", "cine"] = (frames[:10], times[:10])


def _set_cell(lesion, column, value):
    def edit(X):
        X.loc[lesion, column] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "error", "lesion", "column", "match"),
    [
        pytest.param(
            _short_loop,
            ROIError,
            "P2",
            "mask",
            "the time-intensity curve has 10 valid sample",
            id="short-loop",
        ),
        pytest.param(
            _set_cell("P0", "mask", np.ones((8, 9), dtype=bool)),
            ROIError,
            "P0",
            "mask",
            r"mask must have the same shape as image; got image \(8, 8\) and mask "
            r"\(8, 9\)",
            id="mask-shape",
        ),
        pytest.param(
            _set_cell("P1", "mask", np.zeros((8, 8), dtype=bool)),
            ROIError,
            "P1",
            "mask",
            r"mask must contain at least one ROI pixel \(nonzero\): the mask is empty",
            id="empty-mask",
        ),
        pytest.param(
            _set_cell("P1", "cine", None),
            ROIError,
            "P1",
            "cine",
            "no cine: the cell is empty",
            id="empty-cine-cell",
        ),
        pytest.param(
            _set_cell("P1", "cine", 3.5),
            ROITypeError,
            "P1",
            "cine",
            r"a cine cell must be a path, a \(frames, times\) tuple",
            id="cine-cell-type",
        ),
    ],
)
def test_extractor_cell_errors_name_lesion_and_column(
    edit, error, lesion, column, match
):
    X = _cine_records()
    edit(X)
    with pytest.raises(
        error, match=rf"^lesion '{lesion}', column '{column}': {match}"
    ) as info:
        PerfusionExtractor().fit_transform(X)
    assert info.value.lesion == lesion
    assert info.value.column == column
    assert info.value.path is None


def test_extractor_missing_cine_file_is_located(tmp_path):
    X = _cine_records()
    path = str(tmp_path / "nope.tif")
    X.loc["P1", "cine"] = path
    with pytest.raises(
        ROIFileNotFoundError,
        match=r"^lesion 'P1', column 'cine': no such cine file: '.*nope\.tif'",
    ) as info:
        PerfusionExtractor(frame_rate=1.0).fit_transform(X)
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.lesion == "P1"
    assert info.value.column == "cine"
    assert info.value.path == path


def test_extractor_errors():
    X = _cine_records()
    with pytest.raises(TypeError, match="X must be the records DataFrame"):
        PerfusionExtractor().fit(X.to_numpy())
    with pytest.raises(ValueError, match=r"X has no 'cine' or '\{phase\}_cine' column"):
        PerfusionExtractor().fit(X.drop(columns="cine"))
    with pytest.raises(ValueError, match=r"X has no ROI column \['mask'\]"):
        PerfusionExtractor().fit(X.drop(columns="mask"))
    with pytest.raises(ValueError, match=r"unknown cine phase\(s\) \['AP'\]"):
        PerfusionExtractor(phases="AP").fit(X)
    with pytest.raises(InvalidParameterError, match="'model' parameter"):
        PerfusionExtractor(model="weibull").fit(X)
    with pytest.raises(InvalidParameterError, match="'motion_threshold' parameter"):
        PerfusionExtractor(motion_threshold=2.0).fit(X)
    fitted = PerfusionExtractor().fit(X)
    with pytest.raises(ValueError, match=r"X lacks the columns \['mask'\]"):
        fitted.transform(X.drop(columns="mask"))
