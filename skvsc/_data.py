"""Training data that need not fit in memory.

``fit`` accepts memory-mapped arrays (``np.memmap``, ``np.load(path,
mmap_mode="r")``): they are validated chunk by chunk and mini-batches are
gathered from them row by row, so the array is never copied whole — the pages
it reads live in the operating system's file cache, not in the process.
"""

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from ._utils import check_float32_range

__all__ = ["RowSubset", "as_tensor", "data_moments", "is_memory_mapped", "training_dtype",
           "validate_mapped"]

# Rows read at a time when a memory-mapped array is validated or reduced.
_CHUNK_ROWS = 65536
_FLOAT_DTYPES = [np.float64, np.float32]


def is_memory_mapped(X):
    """Whether ``X`` is a memory-mapped array (views of one included)."""
    return isinstance(X, np.memmap)


def validate_mapped(estimator, X, *, reset):
    """Validate a memory-mapped ``X`` chunk by chunk, without copying it.

    The checks of scikit-learn's ``validate_data`` (2-D, numeric, finite, at
    least one sample, ``n_features_in_`` set or matched) and the float32 range
    check, each applied to one chunk at a time.  Returns ``X`` itself:
    batches are converted to float32 when they are read.
    """
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array, got a {X.ndim}D memory-mapped array "
                         f"of shape {X.shape}.")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric, got a memory-mapped array of dtype {X.dtype}.")
    # The first chunk goes through validate_data itself: it sets or checks
    # n_features_in_ and raises scikit-learn's own messages (empty X, width).
    validate_data(estimator, X[:_CHUNK_ROWS], reset=reset, dtype=_FLOAT_DTYPES,
                  ensure_min_samples=1)
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        chunk = check_array(X[start:start + _CHUNK_ROWS], dtype=_FLOAT_DTYPES)
        check_float32_range(chunk, "X")
    return X


def training_dtype(X):
    """The float dtype results are returned in: ``X``'s, or float64 for integers
    (as scikit-learn's validation would have converted them)."""
    return X.dtype if X.dtype in _FLOAT_DTYPES else np.dtype(np.float64)


def as_tensor(X, device):
    """A contiguous float32 tensor of ``X`` on ``device``, copying at most once.

    Read-only arrays (memmaps) and negative strides are copied because
    ``torch.from_numpy`` cannot wrap them.
    """
    X = np.asarray(X)
    if X.dtype != np.float32 or not X.flags.writeable or not X.flags.c_contiguous:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not X.flags.writeable:
            X = X.copy()
    return torch.from_numpy(X).to(device)


class RowSubset:
    """The rows ``rows`` of a 2-D array, in that order, read only when asked for.

    Indexing with a slice or an integer array reads those rows of the
    underlying array (one fancy-indexing copy of just them), so a training or
    validation split of a memory-mapped array costs its index, not its data.

    Parameters
    ----------
    data : ndarray of shape (n_samples, n_features)
        The array, possibly memory-mapped.
    rows : ndarray of shape (n_rows,)
        Row indices into ``data``.
    """

    def __init__(self, data, rows):
        self.data = data
        self.rows = np.asarray(rows)

    @property
    def shape(self):
        return (len(self.rows), self.data.shape[1])

    @property
    def dtype(self):
        return self.data.dtype

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        return self.data[self.rows[key]]


def data_moments(X):
    """Column means and the mean squared deviation from them, in float64.

    Accumulated chunk by chunk (Chan et al.'s pairwise update), so neither a
    float64 copy nor a centred copy of ``X`` is ever made.

    Returns
    -------
    mean : ndarray of shape (n_features,)
        Column means.
    variance : float
        ``mean((X − mean)²)`` over all entries.
    """
    count, mean, squares = 0, np.zeros(X.shape[1]), np.zeros(X.shape[1])
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        chunk = np.asarray(X[start:start + _CHUNK_ROWS], dtype=np.float64)
        n = chunk.shape[0]
        chunk_mean = chunk.mean(axis=0)
        chunk_squares = ((chunk - chunk_mean) ** 2).sum(axis=0)
        delta = chunk_mean - mean
        total = count + n
        squares += chunk_squares + delta**2 * count * n / total
        mean += delta * n / total
        count = total
    return mean, float(squares.sum() / (count * X.shape[1]))
