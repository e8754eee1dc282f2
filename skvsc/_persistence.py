"""skvsc's weights-only file format: ``est.save(path)`` and :func:`skvsc.load`.

A file is one ``torch.save`` archive of plain containers: the estimator's class
name, its parameters and non-tensor fitted state as JSON strings, and a flat
dict of tensors (the module's ``state_dict`` and any other fitted tensor or
numeric array).  :func:`load` reads it with ``torch.load(weights_only=True)``,
which refuses anything but tensors and plain containers, so a file cannot run
code when loaded — unlike pickle and joblib files.  The optimiser state and the
random generator are not saved (as with pickling, ``partial_fit`` starts fresh
ones).
"""

import json
import pickle
import warnings
import zipfile

import numpy as np
import torch

from ._utils import device_exists, resolve_device

__all__ = ["save_estimator", "load"]

_FORMAT = "skvsc-weights"
_VERSION = 1
# Fitted state that is rebuilt rather than saved.
_SKIPPED = {"_optimizers", "_generator", "_noise_generator"}


def _estimator_classes():
    import skvsc

    return {name: getattr(skvsc, name) for name in skvsc.__all__
            if isinstance(getattr(skvsc, name), type)}


def _encode(value, key, tensors):
    """JSON-able form of ``value``; tensors and numeric arrays go to ``tensors``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fiub":
            tensors[key] = torch.from_numpy(np.ascontiguousarray(value)).clone()
            return {"__ndarray__": key, "dtype": value.dtype.str}
        if value.dtype.kind in "OU" and all(isinstance(v, str) for v in value.ravel()):
            return {"__strarray__": value.tolist()}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, np.dtype):
        return {"__dtype__": value.str}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{key}.{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{key}.{i}", tensors) for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v, f"{key}.{k}", tensors) for k, v in value.items()}}
    raise TypeError(f"{key} of type {type(value).__name__} cannot be saved in the "
                    "weights-only format.")


def _decode(value, tensors):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__ndarray__" in value:
        return tensors[value["__ndarray__"]].numpy().astype(np.dtype(value["dtype"]), copy=False)
    if "__strarray__" in value:
        return np.asarray(value["__strarray__"], dtype=object)
    if "__device__" in value:
        return torch.device(value["__device__"])
    if "__dtype__" in value:
        return np.dtype(value["__dtype__"])
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, tensors) for k, v in value["__dict__"].items()}
    raise ValueError(f"unknown entry {sorted(value)} in the file")


def save_estimator(estimator, path):
    """Write a fitted ``estimator`` to ``path`` (see :meth:`save`)."""
    tensors = {}
    params = estimator.get_params(deep=False)
    if isinstance(params.get("random_state"), np.random.RandomState):
        raise TypeError("random_state is a RandomState instance, which the weights-only "
                        "format cannot hold; set it to an int or None first.")
    params = _encode(params, "params", tensors)
    state = {}
    for name, value in vars(estimator).items():
        if name in _SKIPPED or name in estimator.get_params(deep=False):
            continue
        if isinstance(value, torch.nn.Module):
            for key, tensor in value.state_dict().items():
                tensors[f"{name}/{key}"] = tensor.detach().cpu().contiguous()
            state[name] = {"__module__": name}
        else:
            state[name] = _encode(value, name, tensors)
    torch.save({"format": _FORMAT, "version": _VERSION,
                "estimator": type(estimator).__name__,
                "params": json.dumps(params), "state": json.dumps(state),
                "tensors": tensors}, path)


def load(path, device=None):
    """Load an estimator written by its ``save`` method, without running any code.

    The file is read with ``torch.load(weights_only=True)``, which accepts only
    tensors and plain containers; the estimator is rebuilt from its class name
    (one of :data:`skvsc.__all__`), its parameters and its weights.  Pickle and
    joblib files, by contrast, can run arbitrary code when loaded: load those
    only from sources you trust.

    Parameters
    ----------
    path : str or path-like
        A file written by ``save``.
    device : str, default=None
        Device to load the weights on; None uses the device the model was
        fitted on, or the CPU (with a warning) where that device does not exist.

    Returns
    -------
    estimator : object
        The fitted estimator.

    Raises
    ------
    ValueError
        If the file is not an skvsc weights-only file, is corrupted, or was
        written by an incompatible version.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.datasets import load_digits
    >>> import skvsc
    >>> X = load_digits().data[:200] / 16.0
    >>> coder = skvsc.SparseCoder(n_components=8, max_epochs=2, device="cpu",
    ...                           random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "coder.skvsc")
    >>> loaded = skvsc.load(coder.save(path) and path)
    >>> bool((loaded.transform(X) == coder.transform(X)).all())
    True
    """
    try:
        archive = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile,
            KeyError, AttributeError) as exc:
        raise ValueError(f"{path!s} is not a readable skvsc weights-only file "
                         f"(corrupted, or another format: {exc})") from exc
    if not (isinstance(archive, dict) and archive.get("format") == _FORMAT):
        raise ValueError(f"{path!s} is not an skvsc weights-only file.")
    if archive.get("version") != _VERSION:
        raise ValueError(f"{path!s} has format version {archive.get('version')!r}; this "
                         f"skvsc reads version {_VERSION}.")
    target = None if device is None else resolve_device(device)  # the user's error, not the file's
    classes = _estimator_classes()
    if archive.get("estimator") not in classes:
        raise ValueError(f"{path!s} holds an unknown estimator {archive.get('estimator')!r}.")
    try:
        tensors = archive["tensors"]
        params = _decode(json.loads(archive["params"]), tensors)
        raw_state = json.loads(archive["state"])
        modules = {name for name, value in raw_state.items()
                   if isinstance(value, dict) and "__module__" in value}
        state = {name: _decode(value, tensors) for name, value in raw_state.items()
                 if name not in modules}
        estimator = classes[archive["estimator"]](**params)
        estimator._validate_params()
        cls = type(estimator)
        for name in raw_state:
            # Fitted state only: never a parameter, a method or a property.
            if not (name.endswith("_") or name.startswith("_")) or hasattr(cls, name):
                raise ValueError(f"entry {name!r} is not fitted state")
        fitted_device = state.get("device_")
        if target is not None:
            pass
        elif fitted_device is not None and not device_exists(fitted_device):
            warnings.warn(f"{archive['estimator']} was fitted on {fitted_device}, which "
                          "does not exist on this machine; its weights are loaded on the "
                          "CPU.", UserWarning, stacklevel=2)
            target = torch.device("cpu")
        else:
            target = fitted_device or torch.device("cpu")
        plain = state
        vars(estimator).update(plain)
        estimator.device_ = target
        estimator._seed_generators()
        estimator._build_module(estimator.n_features_in_)
        for name in modules:
            prefix = f"{name}/"
            weights = {key[len(prefix):]: t for key, t in tensors.items()
                       if key.startswith(prefix)}
            if not all(bool(torch.isfinite(t).all()) for t in weights.values()
                       if t.is_floating_point()):
                raise ValueError(f"the weights of {name} are not finite")
            getattr(estimator, name).load_state_dict(weights)
        # _build_module may have set derived state; the saved values win.
        vars(estimator).update({name: value.to(target) if isinstance(value, torch.Tensor)
                                else value for name, value in plain.items()})
        estimator.device_ = target
        del estimator._generator, estimator._noise_generator
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError,
            json.JSONDecodeError) as exc:
        raise ValueError(f"{path!s} is corrupted or incompatible: {exc}") from exc
    return estimator
