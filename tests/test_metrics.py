"""skvsc.metrics against closed forms and independent computations."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skvsc.metrics import active_units, active_units_mask, fraction_zeros, psnr

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)


def test_psnr_closed_form():
    X = np.array([[0.0, 2.0], [1.0, 1.0]])  # range 2
    X_hat = X + np.array([[0.1, -0.1], [0.3, -0.3]])  # MSE (0.01+0.01+0.09+0.09)/4 = 0.05
    assert psnr(X, X_hat) == pytest.approx(10 * np.log10(4 / 0.05))
    assert psnr(X, X_hat, data_range=1.0) == pytest.approx(10 * np.log10(1 / 0.05))
    assert psnr(X, X) == np.inf


def test_psnr_uses_one_global_mse():
    # One bad sample: the global convention averages squared errors, not PSNRs.
    X = np.zeros((4, 3))
    X[0, 0] = 1.0
    X_hat = X.copy()
    X_hat[1] += 0.5
    mse = 3 * 0.25 / 12
    assert psnr(X, X_hat) == pytest.approx(-10 * np.log10(mse))


@settings(max_examples=30, deadline=None)
@given(
    X=arrays(np.float64, (5, 4), elements=finite),
    noise=arrays(
        np.float64, (5, 4), elements=st.floats(-1, 1).filter(lambda v: v == 0 or abs(v) > 1e-6)
    ),
    scale=st.floats(0.1, 10),
)
def test_psnr_properties(X, noise, scale):
    # Shifting by 3 would absorb a range below float64's resolution there.
    if np.ptp(X) < 1e-6 or not np.any(noise):
        return
    value = psnr(X, X + noise)
    # Invariant to a common shift and scale of data and reconstruction.
    assert psnr(scale * X + 3, scale * (X + noise) + 3) == pytest.approx(value, abs=1e-6)
    # Doubling the error costs 20 log10(2) ≈ 6.02 dB.
    assert psnr(X, X + 2 * noise) == pytest.approx(value - 20 * np.log10(2), abs=1e-6)


def test_psnr_accepts_float32_and_lists():
    X = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    assert np.isfinite(psnr(X, X * 0.9))
    assert np.isfinite(psnr(X.tolist(), (X * 0.9).tolist()))


@pytest.mark.parametrize(
    "X, X_hat, kwargs, match",
    [
        (np.zeros((2, 2)), np.zeros((2, 3)), {}, "same shape"),
        (np.ones((2, 2)), np.zeros((2, 2)), {}, "constant"),
        (np.array([[0.0, np.nan]]), np.zeros((1, 2)), {}, "NaN"),
        (np.array([[0.0, 1.0]]), np.array([[0.0, np.inf]]), {}, "infinity"),
        (np.zeros(3), np.zeros(3), {}, "2D array"),
        (np.eye(2), np.eye(2), {"data_range": 0.0}, "data_range"),
        (np.eye(2), np.eye(2), {"data_range": -1.0}, "data_range"),
    ],
)
def test_psnr_bad_input(X, X_hat, kwargs, match):
    with pytest.raises(ValueError, match=match):
        psnr(X, X_hat, **kwargs)


def test_fraction_zeros_counts_exact_zeros_only():
    codes = np.array([[0.0, -0.0, 1e-30], [np.finfo(float).tiny, 0.0, 5.0]])
    assert fraction_zeros(codes) == pytest.approx(3 / 6)


@settings(max_examples=30, deadline=None)
@given(mask=arrays(bool, st.tuples(st.integers(1, 6), st.integers(1, 6))))
def test_fraction_zeros_matches_count(mask):
    codes = np.where(mask, 0.0, 1.5)
    assert fraction_zeros(codes) == pytest.approx(mask.mean())


def test_fraction_zeros_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        fraction_zeros([[0.0, np.nan]])
    with pytest.raises(ValueError):
        fraction_zeros(np.empty((0, 3)))


def test_active_units_on_planted_scales():
    rng = np.random.default_rng(0)
    stds = np.array([2.0, 1.0, 0.6, 0.4, 0.1, 0.0])
    codes = rng.normal(size=(20000, 6)) * stds
    np.testing.assert_array_equal(active_units_mask(codes), stds > 0.5)
    assert active_units(codes) == 3
    assert active_units(codes, threshold=0.05) == 5
    assert active_units(codes, threshold=3.0) == 0


def test_active_units_max_criterion():
    # A unit that fires once, strongly, has a small std but a large max.
    codes = np.zeros((1000, 2))
    codes[0, 0] = 5.0
    codes[:, 1] = 0.4
    assert active_units(codes) == 0
    np.testing.assert_array_equal(
        active_units_mask(codes, criterion="max"), [True, False]
    )


def test_active_units_bad_input():
    with pytest.raises(ValueError, match="criterion"):
        active_units(np.eye(3), criterion="var")
    with pytest.raises(ValueError, match="threshold"):
        active_units(np.eye(3), threshold=-1)
    with pytest.raises(ValueError, match="infinity"):
        active_units([[np.inf, 0.0]])
