"""skvsc.datasets: whitening, patch extraction and the MNIST readers (no network)."""

import gzip
import struct

import numpy as np
import pytest

from skvsc import datasets
from skvsc.datasets import (
    extract_patches,
    fetch_openml_mnist,
    load_mnist,
    load_natural_images,
    load_natural_patches,
    read_idx,
    whiten_image,
)

# ------------------------------------------------------------------ whitening


def _radial_power(image, bands):
    """Mean power of the image's DFT in annuli of radial frequency (cycles/pixel)."""
    power = np.abs(np.fft.fft2(image - image.mean())) ** 2
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    rho = np.hypot(fx, fy)
    return np.array([power[(rho >= lo) & (rho < hi)].mean() for lo, hi in bands])


def test_whitening_flattens_the_spectrum_of_the_sample_images():
    # Natural images have power ~ 1/f^2: between 0.02-0.05 and 0.15-0.2
    # cycles/pixel the raw power drops by more than 20x.  After the filter
    # R(f) = f exp(-(f/f0)^4) it is flat to within a factor 4 (the remaining
    # tilt is the roll-off exp(-2 (f/f0)^4) and the images' own deviations).
    bands = [(0.02, 0.05), (0.15, 0.2)]
    for raw, white in zip(load_natural_images(whiten=False), load_natural_images()):
        raw_low, raw_mid = _radial_power(raw, bands)
        white_low, white_mid = _radial_power(white, bands)
        assert raw_low / raw_mid > 20
        assert 0.25 < white_low / white_mid < 4
        # and much flatter than before
        assert (raw_low / raw_mid) / (white_low / white_mid) > 10


def test_whitening_multiplies_each_frequency_by_the_filter():
    # A DCT-II cosine along x is exactly periodic after mirroring, so the
    # whitened image is that cosine times R(f) at f = k / (2 width).
    height, width, cutoff = 6, 40, 0.4
    x = np.arange(width)
    for k in (1, 5, 17, 30):
        image = np.tile(np.cos(np.pi * k * (x + 0.5) / width), (height, 1))
        f = k / (2 * width)
        expected = f * np.exp(-((f / cutoff) ** 4)) * image
        np.testing.assert_allclose(
            whiten_image(image, cutoff=cutoff, variance=None), expected, atol=1e-12
        )


def test_whiten_image_normalises_variance_and_mean():
    image = np.random.default_rng(0).normal(size=(30, 50)).cumsum(axis=0)
    white = whiten_image(image, variance=0.25)
    assert white.shape == image.shape
    assert white.mean() == pytest.approx(0, abs=1e-12)
    assert white.var() == pytest.approx(0.25)


@pytest.mark.parametrize(
    "image, match",
    [
        (np.zeros((3, 4, 5)), "2-D"),
        (np.ones((10, 10)), "constant"),
        (np.full((10, 10), np.nan), "NaN"),
        (np.zeros((1, 10)), "2×2"),
    ],
)
def test_whiten_image_bad_input(image, match):
    with pytest.raises(ValueError, match=match):
        whiten_image(image)


def test_load_natural_images_shapes_and_ranges():
    raw = load_natural_images(whiten=False, downscale=1)
    assert [image.shape for image in raw] == [(427, 640), (427, 640)]
    assert all(0 <= image.min() and image.max() <= 1 for image in raw)
    white = load_natural_images()
    assert [image.shape for image in white] == [(213, 320), (213, 320)]
    for image in white:
        assert image.var() == pytest.approx(0.1)


# ------------------------------------------------------------------- patches


def test_load_natural_patches_shapes_means_and_scale():
    X = load_natural_patches(patch_size=12, n_patches=400, random_state=0)
    assert X.shape == (400, 144) and X.dtype == np.float64
    np.testing.assert_allclose(X.mean(axis=1), 0, atol=1e-12)
    # whitened images have pixel variance 0.1; removing each patch's mean
    # takes out little of it, since whitening removed the low frequencies.
    assert 0.05 < X.var() < 0.12
    raw = load_natural_patches(8, 300, whiten=False, remove_mean=False, random_state=0)
    assert raw.shape == (300, 64)
    assert raw.min() >= 0 and raw.max() <= 1 and raw.mean() > 0.1


def test_load_natural_patches_is_seeded():
    a = load_natural_patches(8, 50, random_state=1)
    np.testing.assert_array_equal(a, load_natural_patches(8, 50, random_state=1))
    assert not np.array_equal(a, load_natural_patches(8, 50, random_state=2))


def test_extract_patches_returns_windows_inside_the_border():
    height, width, size, border = 15, 21, 4, 2
    image = np.arange(height * width, dtype=float).reshape(height, width)
    patches = extract_patches(image, size, 500, border=border, random_state=0)
    assert patches.shape == (500, size * size)
    rows, cols = np.divmod(patches[:, 0].astype(int), width)
    for patch, r, c in zip(patches, rows, cols):
        np.testing.assert_array_equal(patch, image[r:r + size, c:c + size].ravel())
    assert rows.min() == border and rows.max() == height - size - border
    assert cols.min() == border and cols.max() == width - size - border


def test_extract_patches_samples_every_position_equally():
    # Two images with 9 and 21 positions: 30 equally likely positions overall.
    small = np.zeros((5, 5))
    large = np.arange(45, dtype=float).reshape(5, 9) + 1
    patches = extract_patches([small, large], 3, 30000, random_state=0)
    from_large = patches[:, 0] > 0
    assert from_large.mean() == pytest.approx(21 / 30, abs=0.015)
    counts = np.unique(patches[from_large, 0], return_counts=True)[1]
    assert len(counts) == 21
    expected = from_large.sum() / 21
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 50  # 20 degrees of freedom: P(chi2 > 50) < 1e-3


def test_extract_patches_remove_mean_and_stacks():
    images = np.random.default_rng(0).normal(3.0, 1.0, size=(3, 20, 30))
    patches = extract_patches(images, 8, 100, remove_mean=True, random_state=0)
    np.testing.assert_allclose(patches.mean(axis=1), 0, atol=1e-12)
    kept = extract_patches(images, 8, 100, random_state=0)
    np.testing.assert_allclose(kept - kept.mean(axis=1, keepdims=True), patches)


@pytest.mark.parametrize(
    "images, size, match",
    [
        (np.zeros((5, 5)), 6, "does not fit"),
        (np.zeros(10), 2, "2-D"),
        ([np.zeros((5, 5)), np.full((5, 5), np.inf)], 2, "infinity"),
        ([], 2, "empty"),
    ],
)
def test_extract_patches_bad_input(images, size, match):
    with pytest.raises(ValueError, match=match):
        extract_patches(images, size, 10)


def test_patch_size_is_validated():
    with pytest.raises(ValueError, match="patch_size"):
        load_natural_patches(patch_size=0)
    with pytest.raises(ValueError, match="n_patches"):
        load_natural_patches(n_patches=-5)


# --------------------------------------------------------------------- MNIST

_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
          np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def _write_idx(path, array, big_endian_dtype, compress=False):
    """The IDX layout written out by hand: 0, 0, type code, ndim, sizes, data."""
    array = np.asarray(array, dtype=big_endian_dtype)
    header = bytes([0, 0, _CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
def test_read_idx_round_trip(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    array = rng.integers(-100, 100, size=(3, 4, 5)).astype(np.float64) / 4
    if np.dtype(dtype).kind in "iu":
        array = np.abs(array * 4) if np.dtype(dtype).kind == "u" else array * 4
    path = tmp_path / ("a-idx3" + (".gz" if compress else ""))
    _write_idx(path, array, np.dtype(dtype), compress)
    loaded = read_idx(path)
    assert loaded.shape == (3, 4, 5)
    assert loaded.dtype == np.dtype(dtype).newbyteorder("=")
    assert loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array.astype(dtype))


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad-idx1"
    bad.write_bytes(b"\x08\x03\x00\x00abcd")
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    short = tmp_path / "short-idx1"
    short.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(ValueError, match="5 bytes|holds 2"):
        read_idx(short)
    header = tmp_path / "header-idx3"
    header.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(header)


def _tiny_mnist(rng, n):
    return (rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8),
            rng.integers(0, 10, size=n).astype(np.uint8))


def test_load_mnist_from_idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    x_train, y_train = _tiny_mnist(rng, 7)
    x_test, y_test = _tiny_mnist(rng, 3)
    # both spellings and compressions seen in the wild
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", x_train, np.uint8, True)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", y_train, np.uint8)
    _write_idx(tmp_path / "t10k-images.idx3-ubyte", x_test, np.uint8)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y_test, np.uint8, True)
    X_train, Y_train, X_test, Y_test = load_mnist(tmp_path)
    assert X_train.shape == (7, 784) and X_test.shape == (3, 784)
    np.testing.assert_allclose(X_train, x_train.reshape(7, -1) / 255.0)
    np.testing.assert_array_equal(Y_train, y_train)
    np.testing.assert_array_equal(Y_test, y_test)
    assert Y_train.dtype == np.int64
    raw = load_mnist(str(tmp_path), scale=False, flatten=False)
    np.testing.assert_array_equal(raw[2], x_test)
    assert raw[0].dtype == np.uint8


def test_load_mnist_from_npz(tmp_path):
    rng = np.random.default_rng(1)
    x_train, y_train = _tiny_mnist(rng, 5)
    x_test, y_test = _tiny_mnist(rng, 2)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    X_train, Y_train, X_test, Y_test = load_mnist(path)
    np.testing.assert_allclose(X_test, x_test.reshape(2, -1) / 255.0)
    np.testing.assert_array_equal(Y_train, y_train)
    assert 0 <= X_train.min() and X_train.max() <= 1


def test_load_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere.npz")
    with pytest.raises(FileNotFoundError, match="train-images"):
        load_mnist(tmp_path)  # empty folder
    incomplete = tmp_path / "incomplete.npz"
    np.savez(incomplete, x_train=np.zeros((1, 28, 28)))
    with pytest.raises(ValueError, match="lacks"):
        load_mnist(incomplete)
    text = tmp_path / "notes.txt"
    text.write_text("not an archive")
    with pytest.raises(ValueError, match="not a .npz"):
        load_mnist(text)
    mismatched = tmp_path / "mismatched.npz"
    np.savez(mismatched, x_train=np.zeros((3, 28, 28)), y_train=np.zeros(2),
             x_test=np.zeros((1, 28, 28)), y_test=np.zeros(1))
    with pytest.raises(ValueError, match="do not match"):
        load_mnist(mismatched)
    with pytest.raises(ValueError, match="scale"):
        load_mnist(tmp_path, scale="yes")


def test_fetch_openml_mnist_splits_the_download(monkeypatch):
    # No network: stand in for OpenML with arrays of the real shape.
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(70000, 784)).astype(np.float64)
    y = rng.integers(0, 10, size=70000).astype(str).astype(object)
    calls = {}

    def fake_fetch_openml(name, **kwargs):
        calls.update(kwargs, name=name)
        return X, y

    monkeypatch.setattr(datasets._sk_datasets, "fetch_openml", fake_fetch_openml)
    X_train, y_train, X_test, y_test = fetch_openml_mnist(data_home="somewhere")
    assert calls["name"] == "mnist_784" and calls["data_home"] == "somewhere"
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    np.testing.assert_allclose(X_test, X[60000:] / 255.0)
    np.testing.assert_array_equal(y_train, y[:60000].astype(int))
    assert y_train.dtype == np.int64
