"""Data for sparse coding: whitened natural-image patches and MNIST readers.

* :func:`load_natural_patches` — patches of the photographs that ship with
  scikit-learn (:func:`sklearn.datasets.load_sample_images`), converted to
  grayscale and whitened with the filter of Olshausen & Field (1997), so no
  download is needed.
* :func:`whiten_image`, :func:`load_natural_images`, :func:`extract_patches` —
  the steps, for your own images.
* :func:`load_mnist` — MNIST from a local ``.npz`` file (keys ``x_train``,
  ``y_train``, ``x_test``, ``y_test``) or a folder of the four original IDX
  files (gzipped or not); :func:`read_idx` reads one IDX file.
* :func:`fetch_openml_mnist` — MNIST from OpenML when online.
"""

import gzip
import numbers
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
from sklearn import datasets as _sk_datasets
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = [
    "whiten_image",
    "load_natural_images",
    "extract_patches",
    "load_natural_patches",
    "read_idx",
    "load_mnist",
    "fetch_openml_mnist",
]

# ----------------------------------------------------------------- images


@validate_params(
    {
        "image": ["array-like"],
        "cutoff": [Interval(numbers.Real, 0, None, closed="neither")],
        "variance": [Interval(numbers.Real, 0, None, closed="neither"), None],
    },
    prefer_skip_nested_validation=True,
)
def whiten_image(image, *, cutoff=0.4, variance=0.1):
    """Whiten a grayscale image with the Olshausen & Field filter.

    Multiplies the image's 2-D Fourier transform by

    .. math:: R(f) = f \\, e^{-(f / f_0)^4},

    where ``f`` is the radial spatial frequency in cycles per pixel: the ramp
    ``f`` flattens the ≈ ``1/f`` amplitude spectrum of natural images and the
    exponential rolls off the highest frequencies, where noise and aliasing
    live.  ``f_0 = cutoff`` cycles/pixel; the default 0.4 (that is, 0.8 of the
    Nyquist frequency 0.5) is Olshausen's ``f_0 = 0.4 N`` cycles/image for an
    ``N × N`` image — the 200 cycles/image quoted for his 512 × 512 images.
    To avoid the spurious edges that the DFT's wrap-around would create at the
    borders, the image is mirrored to twice its size before filtering and
    cropped back afterwards.  The result has zero mean and, unless
    ``variance`` is None, is scaled to that pixel variance (0.1, as in
    Olshausen's ``IMAGES.mat``).

    Parameters
    ----------
    image : array-like of shape (height, width)
        A grayscale image.
    cutoff : float > 0, default=0.4
        ``f_0`` in cycles per pixel.
    variance : float > 0 or None, default=0.1
        Pixel variance of the output; None leaves the filter's scale.

    Returns
    -------
    ndarray of shape (height, width), dtype float64
        The whitened image.

    References
    ----------
    B. A. Olshausen and D. J. Field, "Sparse coding with an overcomplete basis
    set: a strategy employed by V1?", Vision Research 37(23), 1997.

    Examples
    --------
    >>> import numpy as np
    >>> from skvsc.datasets import whiten_image
    >>> image = np.cumsum(np.random.default_rng(0).normal(size=(32, 48)), axis=1)
    >>> white = whiten_image(image)
    >>> white.shape, round(float(white.var()), 6), abs(float(white.mean())) < 1e-9
    ((32, 48), 0.1, True)
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(
            f"image must be a 2-D grayscale array, got shape {image.shape}."
        )
    if min(image.shape) < 2:
        raise ValueError(f"image must be at least 2×2, got shape {image.shape}.")
    if not np.all(np.isfinite(image)):
        raise ValueError("image contains NaN or infinity.")
    height, width = image.shape
    mirrored = np.pad(image - image.mean(), ((0, height), (0, width)), mode="symmetric")
    fy = np.fft.fftfreq(2 * height)[:, None]
    fx = np.fft.rfftfreq(2 * width)[None, :]
    rho = np.sqrt(fx * fx + fy * fy)
    response = rho * np.exp(-((rho / cutoff) ** 4))
    white = np.fft.irfft2(np.fft.rfft2(mirrored) * response, s=mirrored.shape)
    white = white[:height, :width]
    white -= white.mean()
    if variance is not None:
        std = white.std()
        if std == 0:
            raise ValueError("image is constant: nothing is left after whitening.")
        white *= np.sqrt(variance) / std
    return white


def _to_gray(image):
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:  # ITU-R BT.601 luma
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114])
    return image


def _downscale(image, factor):
    if factor == 1:
        return image
    height = image.shape[0] // factor * factor
    width = image.shape[1] // factor * factor
    blocks = image[:height, :width].reshape(
        height // factor, factor, width // factor, factor
    )
    return blocks.mean(axis=(1, 3))


@validate_params(
    {
        "whiten": ["boolean"],
        "downscale": [Interval(numbers.Integral, 1, None, closed="left")],
        "cutoff": [Interval(numbers.Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def load_natural_images(*, whiten=True, downscale=2, cutoff=0.4):
    """The photographs bundled with scikit-learn, as grayscale images.

    The two images of :func:`sklearn.datasets.load_sample_images` (a Chinese
    temple and a flower, 427 × 640 colour JPEGs) are converted to luma in
    ``[0, 1]``, block-averaged by ``downscale`` (which also suppresses the JPEG
    block artefacts) and, when ``whiten``, whitened by :func:`whiten_image`.

    Parameters
    ----------
    whiten : bool, default=True
        Apply :func:`whiten_image` (zero mean, pixel variance 0.1).  When False
        the images keep their ``[0, 1]`` gray levels.
    downscale : int >= 1, default=2
        Block-averaging factor.
    cutoff : float > 0, default=0.4
        The whitening filter's ``f_0`` in cycles per pixel.

    Returns
    -------
    list of ndarray of shape (height, width)
        One float64 array per image.

    Examples
    --------
    >>> from skvsc.datasets import load_natural_images
    >>> [image.shape for image in load_natural_images()]
    [(213, 320), (213, 320)]
    """
    images = []
    for image in _sk_datasets.load_sample_images().images:
        gray = _downscale(_to_gray(image) / 255.0, downscale)
        images.append(whiten_image(gray, cutoff=cutoff) if whiten else gray)
    return images


def _check_images(images):
    if isinstance(images, np.ndarray) and images.ndim == 2:
        images = [images]
    images = [np.asarray(image, dtype=np.float64) for image in images]
    if not images:
        raise ValueError("images is empty.")
    for image in images:
        if image.ndim != 2:
            raise ValueError(
                "images must be 2-D grayscale arrays (or a 3-D stack of them), got "
                f"an array of shape {image.shape}."
            )
        if not np.all(np.isfinite(image)):
            raise ValueError("images contain NaN or infinity.")
    return images


@validate_params(
    {
        "images": ["array-like", list],
        "patch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_patches": [Interval(numbers.Integral, 1, None, closed="left")],
        "border": [Interval(numbers.Integral, 0, None, closed="left")],
        "remove_mean": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def extract_patches(
    images, patch_size, n_patches, *, border=0, remove_mean=False, random_state=None
):
    """Draw square patches at random positions from grayscale images.

    Each patch is drawn from an image chosen with probability proportional to
    its number of valid positions, at a uniformly random position, so every
    valid position of every image is equally likely.

    Parameters
    ----------
    images : array-like of shape (height, width) or (n_images, height, width), \
or list of 2-D arrays
        Grayscale images; a list may mix sizes.
    patch_size : int
        Side of the square patches (8, 12, 16 are usual).
    n_patches : int
        Number of patches.
    border : int, default=0
        Pixels to skip along every image edge (Olshausen's ``BUFF``).
    remove_mean : bool, default=False
        Subtract each patch's own mean (its DC component).
    random_state : int, RandomState instance or None, default=None
        Seeds the positions.

    Returns
    -------
    ndarray of shape (n_patches, patch_size * patch_size), dtype float64
        Patches flattened in row-major order.

    Raises
    ------
    ValueError
        If no image is larger than ``patch_size + 2 * border``.

    Examples
    --------
    >>> import numpy as np
    >>> from skvsc.datasets import extract_patches
    >>> images = np.random.default_rng(0).normal(size=(3, 20, 30))
    >>> patches = extract_patches(images, 8, 100, remove_mean=True, random_state=0)
    >>> patches.shape, bool(np.allclose(patches.mean(axis=1), 0))
    ((100, 64), True)
    """
    images = _check_images(images)
    rng = check_random_state(random_state)
    span = patch_size + 2 * border
    counts = np.array(
        [max(h - span + 1, 0) * max(w - span + 1, 0) for h, w in (i.shape for i in images)],
        dtype=np.float64,
    )
    if counts.sum() == 0:
        raise ValueError(
            f"patch_size={patch_size} with border={border} does not fit in any image "
            f"(shapes {[image.shape for image in images]})."
        )
    which = rng.choice(len(images), size=n_patches, p=counts / counts.sum())
    patches = np.empty((n_patches, patch_size, patch_size))
    for index, image in enumerate(images):
        chosen = np.flatnonzero(which == index)
        if chosen.size == 0:
            continue
        height, width = image.shape
        rows = border + rng.randint(0, height - span + 1, size=chosen.size)
        cols = border + rng.randint(0, width - span + 1, size=chosen.size)
        windows = np.lib.stride_tricks.sliding_window_view(image, (patch_size, patch_size))
        patches[chosen] = windows[rows, cols]
    patches = patches.reshape(n_patches, -1)
    if remove_mean:
        patches -= patches.mean(axis=1, keepdims=True)
    return patches


@validate_params(
    {
        "patch_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_patches": [Interval(numbers.Integral, 1, None, closed="left")],
        "whiten": ["boolean"],
        "remove_mean": ["boolean"],
        "downscale": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_natural_patches(
    patch_size=8,
    n_patches=10000,
    *,
    whiten=True,
    remove_mean=True,
    downscale=2,
    random_state=None,
):
    """Patches of natural images, whitened as in Olshausen & Field (1997).

    The images are those bundled with scikit-learn (see
    :func:`load_natural_images`), so no download is needed.  With the
    defaults, each image is converted to grayscale, block-averaged by 2,
    whitened by :func:`whiten_image` (``R(f) = f exp(-(f/f_0)^4)``,
    ``f_0 = 0.4`` cycles/pixel, then scaled to pixel variance 0.1), and
    ``n_patches`` patches are drawn at random positions at least 4 pixels from
    the image edges; finally each patch's mean is removed.

    Parameters
    ----------
    patch_size : int, default=8
        Side of the square patches (8, 12 and 16 are usual).
    n_patches : int, default=10000
        Number of patches.  Patches overlap: the two images hold about
        ``2 × 205 × 312`` distinct 8 × 8 positions.
    whiten : bool, default=True
        Whiten the images first.  When False the patches are gray levels in
        ``[0, 1]`` (before mean removal).
    remove_mean : bool, default=True
        Subtract each patch's own mean.
    downscale : int >= 1, default=2
        Block-averaging factor applied to the photographs before whitening.
    random_state : int, RandomState instance or None, default=None
        Seeds the patch positions.

    Returns
    -------
    ndarray of shape (n_patches, patch_size ** 2), dtype float64
        One flattened patch (row-major) per row.

    See Also
    --------
    extract_patches : Patches from your own images.

    References
    ----------
    B. A. Olshausen and D. J. Field, "Sparse coding with an overcomplete basis
    set: a strategy employed by V1?", Vision Research 37(23), 1997.

    Examples
    --------
    >>> from skvsc.datasets import load_natural_patches
    >>> X = load_natural_patches(patch_size=12, n_patches=500, random_state=0)
    >>> X.shape
    (500, 144)
    """
    images = load_natural_images(whiten=whiten, downscale=downscale)
    return extract_patches(
        images,
        patch_size,
        n_patches,
        border=4,
        remove_mean=remove_mean,
        random_state=random_state,
    )


# ------------------------------------------------------------------ MNIST

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def read_idx(path):
    """Read one IDX file (the format of the original MNIST files).

    Parameters
    ----------
    path : str or path-like
        The file; a name ending in ``.gz`` is decompressed.

    Returns
    -------
    ndarray
        The array, with the shape and element type stored in the header
        (multi-byte types converted to native byte order).

    Raises
    ------
    ValueError
        If the header is not an IDX header or the data does not match it.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from skvsc.datasets import read_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number).")
    dtype = _IDX_DTYPES[data[2]]
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header.")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: the header announces shape {shape} ({expected} bytes of data) "
            f"but the file holds {len(data) - header} bytes."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


_MNIST_STEMS = ("train-images", "train-labels", "t10k-images", "t10k-labels")


def _find_idx(folder, stem):
    candidates = sorted(
        name
        for name in os.listdir(folder)
        if name.startswith(stem) and "idx" in name
    )
    if not candidates:
        raise FileNotFoundError(
            f"no IDX file starting with {stem!r} in {folder} (expected e.g. "
            f"{stem}-idx{3 if 'images' in stem else 1}-ubyte or the same name + .gz)."
        )
    return os.path.join(folder, candidates[0])


def _finish_mnist(X_train, y_train, X_test, y_test, scale, flatten):
    def images(X):
        X = np.asarray(X)
        if flatten:
            X = X.reshape(len(X), -1)
        return X.astype(np.float64) / 255.0 if scale else X

    def labels(y):
        return np.asarray(y).astype(np.int64)

    return images(X_train), labels(y_train), images(X_test), labels(y_test)


@validate_params(
    {"path": [str, os.PathLike], "scale": ["boolean"], "flatten": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_mnist(path, *, scale=True, flatten=True):
    """Load MNIST from a local ``.npz`` file or a folder of IDX files.

    Parameters
    ----------
    path : str or path-like
        Either a ``.npz`` file with the arrays ``x_train`` (60000, 28, 28),
        ``y_train``, ``x_test``, ``y_test`` (the layout of
        ``keras.datasets.mnist``), or a folder holding the four original files
        ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` — each may be
        gzipped (``.gz``) and ``-idx`` may be spelt ``.idx``.
    scale : bool, default=True
        Return images as float64 in ``[0, 1]`` (divided by 255); otherwise
        keep the stored type (uint8).
    flatten : bool, default=True
        Return images as rows of 784 pixels; otherwise (n, 28, 28).

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Images and int64 labels of the training and test sets.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or a file is missing from the folder.
    ValueError
        If a file is not in the expected format.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning
    applied to document recognition", Proc. IEEE 86(11), 1998.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from skvsc.datasets import load_mnist
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.npz")
    >>> x = np.zeros((2, 28, 28), dtype=np.uint8); y = np.array([3, 5], dtype=np.uint8)
    >>> np.savez(path, x_train=x, y_train=y, x_test=x[:1], y_test=y[:1])
    >>> X_train, y_train, X_test, y_test = load_mnist(path)
    >>> X_train.shape, y_train.tolist(), X_test.shape
    ((2, 784), [3, 5], (1, 784))
    """
    path = Path(path)
    if path.is_dir():
        arrays = [read_idx(_find_idx(path, stem)) for stem in _MNIST_STEMS]
    elif path.is_file():
        if not zipfile.is_zipfile(path):
            raise ValueError(
                f"{path} is not a .npz file; pass a .npz file or a folder of IDX files."
            )
        with np.load(path, allow_pickle=False) as data:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(data.files)
            if missing:
                raise ValueError(
                    f"{path} lacks the arrays {sorted(missing)}; expected x_train, "
                    "y_train, x_test, y_test."
                )
            arrays = [data[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    else:
        raise FileNotFoundError(f"{path} does not exist.")
    X_train, y_train, X_test, y_test = arrays
    for X, y, name in ((X_train, y_train, "training"), (X_test, y_test, "test")):
        if X.ndim != 3 or len(X) != len(y) or y.ndim != 1:
            raise ValueError(
                f"the {name} images {X.shape} and labels {y.shape} do not match "
                "(expected images (n, height, width) and n labels)."
            )
    return _finish_mnist(X_train, y_train, X_test, y_test, scale, flatten)


@validate_params(
    {
        "data_home": [str, os.PathLike, None],
        "scale": ["boolean"],
        "flatten": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fetch_openml_mnist(*, data_home=None, scale=True, flatten=True):
    """Download MNIST from OpenML (``mnist_784``); needs network access.

    A thin wrapper over :func:`sklearn.datasets.fetch_openml` (which caches the
    download in ``data_home``) returning the standard split: the first 60,000
    images for training and the last 10,000 for testing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Cache folder; scikit-learn's default (``~/scikit_learn_data``) when None.
    scale : bool, default=True
        Return images as float64 in ``[0, 1]``; otherwise as uint8.
    flatten : bool, default=True
        Return images as rows of 784 pixels; otherwise (n, 28, 28).

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        As :func:`load_mnist`.

    See Also
    --------
    load_mnist : The same arrays from local files.

    Examples
    --------
    Needs network access, so it is not run here:

    >>> from skvsc.datasets import fetch_openml_mnist
    >>> X_train, y_train, X_test, y_test = fetch_openml_mnist()  # doctest: +SKIP
    >>> X_train.shape, X_test.shape  # doctest: +SKIP
    ((60000, 784), (10000, 784))
    """
    X, y = _sk_datasets.fetch_openml(
        "mnist_784", version=1, as_frame=False, return_X_y=True, data_home=data_home
    )
    X = np.asarray(X)
    if X.shape != (70000, 784):
        raise ValueError(f"unexpected shape {X.shape} from OpenML mnist_784.")
    X = np.rint(X).astype(np.uint8).reshape(-1, 28, 28)
    y = np.asarray(y).astype(np.int64)
    return _finish_mnist(X[:60000], y[:60000], X[60000:], y[60000:], scale, flatten)
