"""skvsc.plotting on the Agg backend: the right axes, images and errors."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skvsc.plotting import plot_atoms, plot_reconstructions  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_atoms_one_axes_per_atom_in_a_grid():
    components = np.random.default_rng(0).normal(size=(10, 64))
    fig = plot_atoms(components, n_cols=4)
    assert len(fig.axes) == 10
    rows, cols = fig.axes[0].get_subplotspec().get_geometry()[:2]
    assert (rows, cols) == (3, 4)
    # each axes shows its atom, reshaped, on a symmetric colour scale
    image = fig.axes[3].images[0]
    np.testing.assert_array_equal(image.get_array(), components[3].reshape(8, 8))
    low, high = image.get_clim()
    assert low == -high == -np.abs(components[3]).max()


def test_plot_atoms_shape_order_and_subset():
    components = np.arange(6 * 12, dtype=float).reshape(6, 12) + 1
    fig = plot_atoms(components, patch_shape=(3, 4), order=[5, 0, 2], n_atoms=2,
                     title="atoms")
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(),
                                  components[5].reshape(3, 4))
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(),
                                  components[0].reshape(3, 4))
    assert fig._suptitle.get_text() == "atoms"


def test_plot_atoms_reuses_a_figure_and_handles_zero_atoms():
    fig = plt.figure()
    fig.add_subplot(1, 1, 1)
    out = plot_atoms(np.zeros((4, 16)), fig=fig)
    assert out is fig and len(fig.axes) == 4


def test_plot_atoms_bad_input():
    with pytest.raises(ValueError, match="square"):
        plot_atoms(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="does not match"):
        plot_atoms(np.zeros((3, 10)), patch_shape=(3, 3))
    with pytest.raises(ValueError, match="outside"):
        plot_atoms(np.zeros((3, 4)), order=[3])
    with pytest.raises(ValueError, match="NaN"):
        plot_atoms(np.full((3, 4), np.nan))


def test_plot_reconstructions_two_rows():
    X = np.random.default_rng(0).random((20, 48))
    fig = plot_reconstructions(X, X * 0.5, (6, 8), n=5)
    assert len(fig.axes) == 10
    np.testing.assert_array_equal(fig.axes[2].images[0].get_array(), X[2].reshape(6, 8))
    np.testing.assert_array_equal(fig.axes[7].images[0].get_array(),
                                  0.5 * X[2].reshape(6, 8))
    assert fig.axes[2].images[0].get_clim() == fig.axes[7].images[0].get_clim()
    assert len(plot_reconstructions(X[:3], X[:3], (6, 8)).axes) == 6


def test_plot_reconstructions_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        plot_reconstructions(np.zeros((3, 4)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="image_shape"):
        plot_reconstructions(np.zeros((3, 4)), np.zeros((3, 4)), (3, 3))


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install"):
        plot_atoms(np.zeros((2, 4)))


def test_importing_skvsc_does_not_import_matplotlib():
    import subprocess

    code = "import sys, skvsc, skvsc.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
