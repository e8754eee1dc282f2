"""Runtime utilities shared by the engine and the solvers: devices, random
generators, float32 range checks and moving state between devices."""

import copy

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["resolve_device", "device_exists", "make_generator", "check_float32_range",
           "to_cpu", "to_cpu_tree", "to_device"]


def resolve_device(device):
    """Turn a user's ``device`` string into an available :class:`torch.device`.

    Parameters
    ----------
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` or ``"mps"``.

    Returns
    -------
    torch.device
        The resolved device.

    Raises
    ------
    ValueError
        If the string names no device torch knows, or a device that this
        machine does not have.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid device; use 'auto', 'cpu', 'cuda' "
            "or 'cuda:N'."
        ) from exc
    if resolved.type == "cpu":
        return resolved
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine; use device='cpu' or device='auto'."
            )
        index = resolved.index if resolved.index is not None else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
        return torch.device("cuda", index)
    if resolved.type == "mps" and torch.backends.mps.is_available():
        return resolved
    raise ValueError(
        f"device={device!r} is not available on this machine; use 'auto', 'cpu' "
        "or an existing 'cuda:N'."
    )


def device_exists(device):
    """Whether a :class:`torch.device` recorded on some machine exists on this one."""
    if device.type == "cpu":
        return True
    try:
        resolve_device(str(device))
    except ValueError:
        return False
    return True


def make_generator(random_state, device="cpu"):
    """A local :class:`torch.Generator` seeded from a scikit-learn ``random_state``.

    The global torch seed is never touched, so fitting an estimator does not
    change the random stream of the user's other code.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        As everywhere in scikit-learn.
    device : str or torch.device, default="cpu"
        Device of the generator.

    Returns
    -------
    torch.Generator
        A freshly seeded generator.
    """
    seed = int(check_random_state(random_state).randint(0, 2**31 - 1))
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


# The largest squared row norm accepted: float32's maximum with a headroom of
# 1e6 for the sums over a batch, the products with weights and the losses that
# the models compute from ‖x‖² (digits × 1e18, ‖x‖² ≈ 6e37, passed a bare
# float32 bound and then overflowed inside training).
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_SQ_NORM_LIMIT = _FLOAT32_MAX / 1e6
# Rows are checked this many at a time, so the check never copies a large array.
_RANGE_CHUNK = 65536


def check_float32_range(array, name):
    """Raise ``ValueError`` unless every row's squared norm fits float32 with headroom.

    Every model computes in float32 and squares its inputs (energies, Gram
    matrices, Gaussian likelihoods), so a row with a huge ``‖x‖²`` would turn
    into ``inf``/NaN silently; rows must have ``‖x‖² ≤ 3.4e32`` (float32's
    maximum over a headroom of 1e6).  Checked in float64, chunk by chunk.

    Parameters
    ----------
    array : ndarray of shape (n_rows, n_columns)
        Finite float array (already validated).
    name : str
        What the array is, for the message (``"X"``, ``"the dictionary"``).
    """
    if array.size == 0:
        return
    # Cheap bound first: max|a|² · n_columns.
    peak = max(float(array.max()), -float(array.min()))  # no |array| temporary
    if peak * peak * array.shape[1] <= _SQ_NORM_LIMIT:
        return
    worst = 0.0
    for start in range(0, array.shape[0], _RANGE_CHUNK):
        chunk = np.asarray(array[start:start + _RANGE_CHUNK], dtype=np.float64)
        worst = max(worst, float(np.einsum("ij,ij->i", chunk, chunk).max()))
    if not worst <= _SQ_NORM_LIMIT:
        raise ValueError(
            f"{name} is out of float32 range: a row's squared norm reaches "
            f"{worst:.3g} (largest |value| {peak:.3g}); skvsc computes in float32 "
            f"and accepts squared norms up to {_SQ_NORM_LIMIT:.3g} (float32's maximum "
            f"{_FLOAT32_MAX:.3g} over a headroom of 1e6). Scale {name} down "
            "(e.g. with sklearn.preprocessing.StandardScaler)."
        )


def to_cpu(value):
    """A CPU copy of a module or tensor (other values unchanged), for pickling."""
    if isinstance(value, torch.nn.Module):
        return copy.deepcopy(value).to("cpu")
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return value


def to_cpu_tree(value):
    """``value`` with every tensor in its nested dicts and lists moved to the CPU
    (an optimiser's ``state_dict``)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: to_cpu_tree(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_cpu_tree(item) for item in value)
    return value


def to_device(value, device):
    """Move a module or tensor to ``device`` (other values unchanged)."""
    if isinstance(value, (torch.nn.Module, torch.Tensor)):
        return value.to(device)
    return value


def is_finite(tensors):
    """Whether every tensor in an iterable holds only finite values."""
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


