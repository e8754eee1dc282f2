"""Pictures of dictionaries and reconstructions (needs matplotlib).

matplotlib is imported only when a function is called, so ``import skvsc``
works without it; install it with ``pip install "skvsc[plot]"``.
"""

import math
import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_array

__all__ = ["plot_atoms", "plot_reconstructions"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skvsc.plotting needs matplotlib; install it with "
            "`pip install matplotlib` or `pip install \"skvsc[plot]\"`."
        ) from exc
    return plt


def _image_shape(n_features, shape, name):
    if shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"{n_features} features do not form a square image; pass {name}="
                "(height, width)."
            )
        return side, side
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or shape[0] * shape[1] != n_features:
        raise ValueError(
            f"{name}={shape} does not match {n_features} features (need "
            "(height, width) with height * width == n_features)."
        )
    return shape


def _figure(plt, fig, n_rows, n_cols, scale):
    if fig is None:
        fig = plt.figure(figsize=(scale * n_cols, scale * n_rows))
    else:
        fig.clear()
    return fig


@validate_params(
    {
        "components": ["array-like"],
        "patch_shape": [tuple, list, None],
        "n_cols": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_atoms": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "order": ["array-like", None],
        "fig": [None, object],
        "cmap": [str, object],
        "title": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def plot_atoms(
    components,
    patch_shape=None,
    *,
    n_cols=None,
    n_atoms=None,
    order=None,
    fig=None,
    cmap="gray",
    title=None,
):
    """Show dictionary atoms as a grid of small images.

    Each atom is drawn on its own symmetric colour scale ``[-m, m]`` with ``m``
    its largest absolute value, so zero is mid-gray and atoms of any norm are
    visible (as in Olshausen & Field's figures).

    Parameters
    ----------
    components : array-like of shape (n_components, n_features)
        The atoms, one per row (an estimator's ``components_``).
    patch_shape : (height, width), default=None
        Shape of one atom as an image; square when None.
    n_cols : int, default=None
        Columns of the grid; about ``sqrt(n_atoms)`` when None.
    n_atoms : int, default=None
        Draw only the first ``n_atoms`` atoms (after ``order``); all when None.
    order : array-like of int, default=None
        Indices of the atoms to draw, in drawing order (e.g. sorted by usage).
    fig : matplotlib Figure, default=None
        Figure to draw in (it is cleared); a new one when None.
    cmap : str or Colormap, default="gray"
        Colour map.
    title : str, default=None
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with one axes per atom drawn.

    Raises
    ------
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skvsc.plotting import plot_atoms
    >>> fig = plot_atoms(np.random.default_rng(0).normal(size=(12, 64)))
    >>> len(fig.axes)
    12
    """
    components = check_array(components, input_name="components")
    if order is not None:
        order = np.asarray(order, dtype=np.intp).ravel()
        if order.size and (order.min() < -len(components) or order.max() >= len(components)):
            raise ValueError("order holds indices outside the range of atoms.")
        components = components[order]
    if n_atoms is not None:
        components = components[:n_atoms]
    n = len(components)
    if n == 0:
        raise ValueError("no atom to draw.")
    height, width = _image_shape(components.shape[1], patch_shape, "patch_shape")
    n_cols = min(n_cols or math.ceil(math.sqrt(n)), n)
    n_rows = math.ceil(n / n_cols)
    plt = _pyplot()
    fig = _figure(plt, fig, n_rows, n_cols, scale=0.8)
    for index, atom in enumerate(components):
        ax = fig.add_subplot(n_rows, n_cols, index + 1)
        bound = float(np.abs(atom).max()) or 1.0
        ax.imshow(
            atom.reshape(height, width),
            cmap=cmap,
            vmin=-bound,
            vmax=bound,
            interpolation="nearest",
        )
        ax.set_axis_off()
    if title is not None:
        fig.suptitle(title)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.92 if title else 0.99,
                        wspace=0.05, hspace=0.05)
    return fig


@validate_params(
    {
        "X": ["array-like"],
        "X_hat": ["array-like"],
        "image_shape": [tuple, list, None],
        "n": [Interval(numbers.Integral, 1, None, closed="left")],
        "fig": [None, object],
        "cmap": [str, object],
        "title": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def plot_reconstructions(
    X, X_hat, image_shape=None, n=10, *, fig=None, cmap="gray", title=None
):
    """Show samples (top row) above their reconstructions (bottom row).

    Each column shares one gray scale, from the minimum to the maximum of the
    original and its reconstruction, so errors of contrast are visible.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Original samples.
    X_hat : array-like of shape (n_samples, n_features)
        Their reconstructions, e.g. ``model.inverse_transform(model.transform(X))``.
    image_shape : (height, width), default=None
        Shape of one sample as an image; square when None.
    n : int, default=10
        Number of samples to show (the first ``n``; fewer if X is smaller).
    fig : matplotlib Figure, default=None
        Figure to draw in (it is cleared); a new one when None.
    cmap : str or Colormap, default="gray"
        Colour map.
    title : str, default=None
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with ``2 * min(n, n_samples)`` axes in row-major order
        (originals first).

    Raises
    ------
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skvsc.plotting import plot_reconstructions
    >>> X = load_digits().data[:5]
    >>> len(plot_reconstructions(X, X * 0.9, (8, 8)).axes)
    10
    """
    X = check_array(X, input_name="X")
    X_hat = check_array(X_hat, input_name="X_hat")
    if X.shape != X_hat.shape:
        raise ValueError(
            f"X and X_hat must have the same shape, got {X.shape} and {X_hat.shape}."
        )
    height, width = _image_shape(X.shape[1], image_shape, "image_shape")
    n = min(n, len(X))
    plt = _pyplot()
    fig = _figure(plt, fig, 2, n, scale=1.0)
    limits = []
    for column in range(n):
        low = float(min(X[column].min(), X_hat[column].min()))
        high = float(max(X[column].max(), X_hat[column].max()))
        limits.append((low, high if high > low else low + 1.0))
    for row, data in enumerate((X, X_hat)):  # axes in row-major order
        for column in range(n):
            ax = fig.add_subplot(2, n, row * n + column + 1)
            ax.imshow(
                data[column].reshape(height, width),
                cmap=cmap,
                vmin=limits[column][0],
                vmax=limits[column][1],
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel("original" if row == 0 else "reconstruction")
    if title is not None:
        fig.suptitle(title)
    return fig
