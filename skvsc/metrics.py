"""Metrics for sparse codes and their reconstructions.

All functions take NumPy array-likes (or anything :func:`numpy.asarray` accepts,
such as the output of an estimator's ``transform``), validate them, and return
plain Python floats / ints or NumPy arrays.
"""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_array

__all__ = ["psnr", "fraction_zeros", "active_units", "active_units_mask"]


def _as_2d(X, name):
    return check_array(
        X,
        dtype=[np.float64, np.float32],
        ensure_2d=True,
        allow_nd=False,
        ensure_all_finite=True,
        input_name=name,
    )


@validate_params(
    {
        "X": ["array-like"],
        "X_hat": ["array-like"],
        "data_range": [Interval(numbers.Real, 0, None, closed="neither"), None],
    },
    prefer_skip_nested_validation=True,
)
def psnr(X, X_hat, data_range=None):
    """Peak signal-to-noise ratio of a reconstruction, in decibels.

    .. math:: \\mathrm{PSNR} = 10 \\log_{10} \\frac{R^2}{\\mathrm{MSE}},
       \\qquad \\mathrm{MSE} = \\frac{1}{n d}\\sum_{i,j} (X_{ij} - \\hat X_{ij})^2,

    with one **global** mean squared error over all samples and features (not
    the mean of per-sample PSNRs), and ``R`` the data range.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Reference data.
    X_hat : array-like of shape (n_samples, n_features)
        Reconstruction of ``X`` (for example ``model.inverse_transform(
        model.transform(X))``).
    data_range : float > 0, default=None
        The peak-to-peak range ``R`` of the signal.  When None it is
        ``X.max() - X.min()`` over the whole reference array (so the value
        depends on the data only, never on the reconstruction).  Pass it
        explicitly to compare PSNRs across data sets, e.g. ``1.0`` for images
        scaled to ``[0, 1]``.

    Returns
    -------
    float
        The PSNR in dB; ``inf`` for a perfect reconstruction.

    Raises
    ------
    ValueError
        If the shapes differ, the inputs are not finite, or ``data_range`` is
        None and ``X`` is constant.

    Examples
    --------
    >>> import numpy as np
    >>> from skvsc.metrics import psnr
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> round(psnr(X, X + 0.1), 6)  # MSE 0.01, range 1
    20.0
    >>> psnr(X, X)
    inf
    """
    X = _as_2d(X, "X")
    X_hat = _as_2d(X_hat, "X_hat")
    if X.shape != X_hat.shape:
        raise ValueError(
            f"X and X_hat must have the same shape, got {X.shape} and {X_hat.shape}."
        )
    if data_range is None:
        data_range = float(X.max() - X.min())
        if data_range == 0.0:
            raise ValueError(
                "X is constant, so its data range is 0 and the PSNR is undefined; "
                "pass data_range explicitly."
            )
    diff = X.astype(np.float64) - X_hat.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return float("inf")
    # In logs, so that tiny ranges do not underflow when squared.
    return float(20.0 * np.log10(float(data_range)) - 10.0 * np.log10(mse))


@validate_params({"codes": ["array-like"]}, prefer_skip_nested_validation=True)
def fraction_zeros(codes):
    """Fraction of entries of a code matrix that are exactly zero.

    Only exact zeros count (``code == 0``): small non-zero values, as produced
    by amortised encoders of VAEs, do not.  This is the sparsity of the codes as
    a downstream consumer sees it.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_components)
        Codes, e.g. the output of ``transform``.

    Returns
    -------
    float
        Number of exact zeros divided by ``codes.size``, in ``[0, 1]``.

    Examples
    --------
    >>> from skvsc.metrics import fraction_zeros
    >>> fraction_zeros([[0.0, 1.0, 0.0], [1e-12, 0.0, -2.0]])
    0.5
    """
    codes = _as_2d(codes, "codes")
    return float(np.count_nonzero(codes == 0) / codes.size)


@validate_params(
    {
        "codes": ["array-like"],
        "threshold": [Interval(numbers.Real, 0, None, closed="left")],
        "criterion": [StrOptions({"std", "max"})],
    },
    prefer_skip_nested_validation=True,
)
def active_units_mask(codes, threshold=0.5, criterion="std"):
    """Which latent units are active over a data set.

    Paper 000 (§4.3) separates "noise" units from useful ones by thresholding
    the activity of each unit over a held-out set, with threshold 0.5.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_components)
        Codes of a data set (for a VAE, the posterior means), one row per sample.
    threshold : float >= 0, default=0.5
        A unit is active when its statistic is strictly greater than this.
    criterion : {"std", "max"}, default="std"
        ``"std"``: the standard deviation of the unit's code over the samples
        (the text of paper 000 §4.3).  ``"max"``: the largest absolute code of
        the unit over the samples (the caption of paper 000, Fig. 5a: units that
        "did not achieve activity greater than 0.5 for any image").

    Returns
    -------
    ndarray of shape (n_components,), dtype bool
        True for the active units.

    See Also
    --------
    active_units : The number of active units.

    Examples
    --------
    >>> import numpy as np
    >>> from skvsc.metrics import active_units_mask
    >>> codes = np.array([[2.0, 0.1, 0.0], [-2.0, 0.0, 0.9], [0.0, 0.1, 0.0]])
    >>> active_units_mask(codes)
    array([ True, False, False])
    >>> active_units_mask(codes, criterion="max")
    array([ True, False,  True])
    """
    codes = _as_2d(codes, "codes")
    if criterion == "std":
        statistic = codes.astype(np.float64).std(axis=0)
    else:
        statistic = np.abs(codes).max(axis=0)
    return statistic > threshold


@validate_params(
    {
        "codes": ["array-like"],
        "threshold": [Interval(numbers.Real, 0, None, closed="left")],
        "criterion": [StrOptions({"std", "max"})],
    },
    prefer_skip_nested_validation=True,
)
def active_units(codes, threshold=0.5, criterion="std"):
    """Number of latent units whose activity over the data exceeds a threshold.

    The count of "Gabor" (non-noise) units of paper 000 §4.3: by default the
    units whose code has a standard deviation over the data set greater than
    ``threshold = 0.5``.  The value depends on the scale of the codes, so
    compare it between models whose decoders are normalised alike (e.g.
    unit-norm atoms).

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_components)
        Codes of a data set, one row per sample.
    threshold : float >= 0, default=0.5
        A unit is active when its statistic is strictly greater than this.
    criterion : {"std", "max"}, default="std"
        See :func:`active_units_mask`.

    Returns
    -------
    int
        The number of active units, between 0 and ``n_components``.

    See Also
    --------
    active_units_mask : Which units are active.

    References
    ----------
    L. P. Jiang and L. de la Iglesia, "Improved training of sparse coding
    variational autoencoder via weight normalization", 2021, §4.3 "Noise
    filters" (paper 000 in the project's reading list).

    Examples
    --------
    >>> import numpy as np
    >>> from skvsc.metrics import active_units
    >>> rng = np.random.default_rng(0)
    >>> codes = rng.normal(size=(1000, 4)) * [2.0, 1.0, 0.1, 0.0]
    >>> active_units(codes)
    2
    """
    return int(np.count_nonzero(active_units_mask(codes, threshold, criterion)))
