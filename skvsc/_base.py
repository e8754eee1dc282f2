"""The estimator engine shared by every skvsc model.

Everything that is plumbing lives here, once: input validation, device and dtype
handling, the local random generator, the mini-batch training loop with early
stopping and divergence detection, batched ``transform``/``inverse_transform``
and device-portable pickling.  An estimator subclasses :class:`SparseModelMixin`
and writes only its model:

``_build_module(n_features)``
    Create ``self.module_`` (a ``torch.nn.Module``) on ``self.device_``; may set
    other fitted state.  Called by ``fit`` and by the first ``partial_fit``.
``_encode(X)`` / ``_decode(Z)``
    Deterministic code of a float32 batch, and its reconstruction.
``_batch_loss(X)``
    Scalar training loss of a batch (lower is better).  The default
    ``_train_step`` takes one optimiser step on it; models with another update
    rule (alternating minimisation, online statistics) override ``_train_step``.
``_score_samples(X)``
    Per-sample score (higher is better) used by ``score``.

Optional hooks: ``_make_optimizer`` (Adam on ``module_`` by default),
``_after_step`` (e.g. project decoder columns), ``_validation_batch_loss``
(the loss early stopping monitors; ``_batch_loss`` by default),
``_begin_epoch``, ``_end_fit``, ``_init_from_data`` (data-dependent
initialisation, called once after ``_build_module``).
"""

import copy
import math
import numbers
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["SparseModelMixin", "GenerativeMixin", "resolve_device", "make_generator"]

# Parameters shared by every trained estimator, with the same meaning everywhere.
TRAINING_CONSTRAINTS = {
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "device": [str],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


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


def _device_exists(device):
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


# Training data up to this size is moved to the model's device in one piece.
_DEVICE_DATA_BYTES = 2**31


class TrainingDivergedError(FloatingPointError):
    """Raised when the training loss stops being finite."""


class SparseModelMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """Engine for the skvsc estimators (see the module docstring for the hooks).

    Subclasses also inherit from :class:`sklearn.base.BaseEstimator` and declare
    the parameters they use in ``__init__``; the engine reads ``batch_size``,
    ``max_epochs``, ``learning_rate``, ``validation_fraction``, ``tol``,
    ``n_iter_no_change``, ``device``, ``random_state`` and ``verbose``.
    """

    #: Hint appended to the divergence error; subclasses name their own knobs.
    _divergence_hint = "lower `learning_rate` or change `lam`/`beta`"

    # ------------------------------------------------------------------ data
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def _validate_X(self, X, *, reset):
        """Validated 2-D float ndarray; sets ``n_features_in_`` when ``reset``."""
        return validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_min_samples=1,
        )

    def _to_tensor(self, X, device=None):
        """Float32 tensor on ``device`` (default ``device_``), copying at most once.

        Read-only arrays (memmaps) are copied because torch cannot wrap them.
        """
        X = np.asarray(X)
        if X.dtype != np.float32 or not X.flags.writeable:
            X = X.astype(np.float32)
        return torch.from_numpy(X).to(self.device_ if device is None else device)

    def _batched(self, function, X, batch_size=None):
        """Apply ``function`` (tensor -> tensor) to ``X`` in batches.

        Memory stays bounded whatever ``len(X)`` is; the result is a numpy array
        of ``X``'s float dtype.
        """
        batch_size = batch_size or max(self.batch_size, 1024)
        outputs = []
        with torch.no_grad():
            for start in range(0, X.shape[0], batch_size):
                out = function(self._to_tensor(X[start : start + batch_size]))
                outputs.append(out.detach().cpu().numpy())
        return np.concatenate(outputs).astype(X.dtype, copy=False)

    # ----------------------------------------------------------------- setup
    def _setup_fit(self, X, device):
        """Set the device and the generator, and build a fresh module."""
        self.device_ = device
        self._generator = make_generator(self.random_state)
        self.history_ = {"train_loss": [], "validation_loss": [], "time": []}
        self.n_iter_ = 0
        self.n_steps_ = 0
        self._build_module(X.shape[1])
        self._init_from_data(X)
        self._optimizer = self._make_optimizer()

    def _init_from_data(self, X):
        """Hook: data-dependent initialisation after ``_build_module`` (e.g.
        input scaling statistics); ``X`` is the validated training ndarray."""

    def _make_optimizer(self):
        """Adam on every parameter of ``module_`` (None when it has none)."""
        params = [p for p in self.module_.parameters() if p.requires_grad]
        if not params:
            return None
        return torch.optim.Adam(params, lr=self.learning_rate)

    # ---------------------------------------------------------- training loop
    def _fit_epochs(self, X, max_epochs, validation_fraction):
        """Run the mini-batch loop on validated ``X``; returns ``self``."""
        n_samples = X.shape[0]
        n_validation = int(round(validation_fraction * n_samples))
        if validation_fraction > 0 and n_samples - max(n_validation, 1) >= 1:
            # At least one validation sample, and always one to train on.
            n_validation = max(n_validation, 1)
        else:
            n_validation = 0
        order = torch.randperm(n_samples, generator=self._generator)
        X_validation = X[order[:n_validation].numpy()] if n_validation else None
        # The training set is converted once; on a GPU it moves there whole
        # when it is small enough, so batches are slices in device memory.
        storage = self.device_ if X.nbytes < _DEVICE_DATA_BYTES else torch.device("cpu")
        X_train = self._to_tensor(X, device=storage)[order[n_validation:].to(storage)]
        n_train = X_train.shape[0]
        batch_size = min(self.batch_size, n_train)

        best_loss, best_state, epochs_no_improve = math.inf, None, 0
        progress = _Progress(max_epochs, self.verbose, type(self).__name__)
        for epoch in range(max_epochs):
            start = time.perf_counter()
            self.module_.train()
            self._begin_epoch(epoch)
            permutation = torch.randperm(n_train, generator=self._generator).to(storage)
            total, count = 0.0, 0
            for begin in range(0, n_train, batch_size):
                index = permutation[begin : begin + batch_size]
                batch = X_train[index].to(self.device_, non_blocking=True)
                loss = float(self._train_step(batch))
                self.n_steps_ += 1
                if not math.isfinite(loss):
                    self._raise_diverged(epoch, f"the training loss became {loss}")
                total += loss * len(index)
                count += len(index)
            if not all(bool(torch.isfinite(t).all()) for t in self.module_.state_dict().values()):
                self._raise_diverged(epoch, "the model's weights stopped being finite")
            train_loss = total / count
            self.module_.eval()
            monitored = train_loss
            if X_validation is not None:
                monitored = self._validation_loss(X_validation)
                self.history_["validation_loss"].append(monitored)
            self.history_["train_loss"].append(train_loss)
            self.history_["time"].append(time.perf_counter() - start)
            self.n_iter_ += 1
            progress.update(epoch, train_loss, monitored if X_validation is not None else None)

            if monitored < best_loss - self.tol * max(abs(best_loss), 1e-12) or not math.isfinite(best_loss):
                best_loss, epochs_no_improve = monitored, 0
                if X_validation is not None:
                    best_state = copy.deepcopy(self.module_.state_dict())
            else:
                epochs_no_improve += 1
                if epochs_no_improve >= self.n_iter_no_change:
                    break
        progress.close()
        if best_state is not None:
            # Early stopping keeps the epoch with the best validation loss.
            self.module_.load_state_dict(best_state)
        self._end_fit()
        return self

    def _end_fit(self):
        """Hook called when ``fit`` or ``partial_fit`` finishes training."""

    def _raise_diverged(self, epoch, what):
        raise TrainingDivergedError(
            f"{type(self).__name__} diverged at epoch {epoch + 1}: {what}. Likely "
            f"cause: the step is too large for this data; {self._divergence_hint}, "
            "or scale X."
        )

    def _begin_epoch(self, epoch):
        """Hook called at the start of every epoch (schedules, warm-ups)."""

    def _train_step(self, X):
        """One optimiser step on ``_batch_loss``; returns the loss as a float."""
        self._optimizer.zero_grad(set_to_none=True)
        loss = self._batch_loss(X)
        loss.backward()
        self._optimizer.step()
        self._after_step()
        return loss.item()

    def _after_step(self):
        """Hook called after every optimiser step (e.g. column normalisation)."""

    def _validation_loss(self, X):
        """Mean ``_validation_batch_loss`` over ``X`` (a validated ndarray)."""
        total = 0.0
        batch_size = max(self.batch_size, 1024)
        with torch.no_grad():
            for start in range(0, X.shape[0], batch_size):
                batch = self._to_tensor(X[start : start + batch_size])
                total += float(self._validation_batch_loss(batch)) * batch.shape[0]
        return total / X.shape[0]

    def _validation_batch_loss(self, X):
        """Mean loss of a held-out batch, monitored by early stopping."""
        return self._batch_loss(X)

    # ------------------------------------------------------------ public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the model on ``X`` (mini-batches, at most ``max_epochs`` passes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        # Everything that can fail is checked before any fitted state changes.
        device = resolve_device(self.device)
        X = self._validate_X(X, reset=True)
        self._setup_fit(X, device)
        return self._fit_epochs(X, self.max_epochs, self.validation_fraction)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Update the model with one pass over ``X`` (fits it on the first call).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first_call = not hasattr(self, "module_")
        if first_call:
            device = resolve_device(self.device)
        X = self._validate_X(X, reset=first_call)
        if first_call:
            self._setup_fit(X, device)
        elif getattr(self, "_optimizer", None) is None:
            self._optimizer = self._make_optimizer()
        if getattr(self, "_generator", None) is None:
            self._generator = make_generator(self.random_state)
        # One epoch over X, without a validation split.
        return self._fit_epochs(X, 1, validation_fraction=0.0)

    def transform(self, X):
        """Encode ``X`` into its sparse codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Deterministic codes, in ``X``'s float dtype.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        self.module_.eval()
        return self._batched(self._encode, X)

    def inverse_transform(self, X):
        """Reconstruct data from codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            Reconstructions, in the codes' float dtype.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=[np.float64, np.float32])
        if Z.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {Z.shape[1]} features (codes), but {type(self).__name__} "
                f"expects {self._n_features_out} (n_components)."
            )
        self.module_.eval()
        return self._batched(self._decode, Z)

    def score_samples(self, X):
        """Per-sample score: higher is better (see the estimator's ``score``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        ndarray of shape (n_samples,)
            Score of each sample.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        self.module_.eval()
        return self._batched(self._score_samples, X)

    def score(self, X, y=None):
        """Mean per-sample score of ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        float
            ``score_samples(X).mean()``.
        """
        return float(np.mean(self.score_samples(X)))

    # -------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        # Optimiser and generator hold device-bound references; they are
        # rebuilt lazily by partial_fit after loading.
        state.pop("_optimizer", None)
        state.pop("_generator", None)
        for key, value in list(state.items()):
            state[key] = _to_cpu(value)
        return state

    def __setstate__(self, state):
        device = state.get("device_")
        if device is not None and not _device_exists(device):
            warnings.warn(
                f"{type(self).__name__} was fitted on {device}, which does not exist "
                "on this machine; its weights are loaded on the CPU.",
                UserWarning,
                stacklevel=2,
            )
            state["device_"] = device = torch.device("cpu")
        if device is not None:
            state = {key: _to_device(value, device) for key, value in state.items()}
        if hasattr(super(), "__setstate__"):
            super().__setstate__(state)
        else:
            self.__dict__.update(state)


class GenerativeMixin:
    """``sample`` and ``sample_posterior`` for the VAEs.

    The estimator implements ``_sample_latents(n_samples, generator)``,
    returning a tensor of prior draws of shape (n_samples, n_components), and
    ``_posterior_draws(X, n_draws, generator)``, returning exact draws from
    ``q(z | x)`` of shape (n_draws, n_samples, n_components) for a batch ``X``
    on the device, with its standard noise drawn from ``generator`` on the CPU.
    """

    @validate_params(
        {
            "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def sample(self, n_samples=1, random_state=None):
        """Generate data: latents drawn from the prior, then the decoder's mean.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws (a local generator); an int gives reproducible
            samples.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            The decoded samples (the likelihood's mean, without observation
            noise), in float64.
        """
        check_is_fitted(self)
        generator = make_generator(random_state)
        self.module_.eval()
        with torch.no_grad():
            Z = self._sample_latents(n_samples, generator).to(self.device_)
            return self._decode(Z).cpu().numpy().astype(np.float64)

    @validate_params(
        {
            "X": ["array-like"],
            "n_draws": [Interval(numbers.Integral, 1, None, closed="left")],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def sample_posterior(self, X, n_draws=1, random_state=None):
        """Draw codes from the approximate posterior ``q(z | x)``.

        Exact draws, without any relaxation used in training.  Where
        :meth:`transform` gives one deterministic code per input, these are the
        stochastic codes whose average log-likelihood the ELBO measures: use
        them to evaluate sampled reconstructions (as paper 000's Table 1 and
        paper 003 do) or to gauge the posterior's spread.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.
        n_draws : int, default=1
            Number of draws per input.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws (a local generator); an int gives reproducible
            draws.

        Returns
        -------
        ndarray of shape (n_draws, n_samples, n_components)
            The draws, in ``X``'s float dtype.
        """
        check_is_fitted(self, "module_")
        X = self._validate_X(X, reset=False)
        generator = make_generator(random_state)
        self.module_.eval()

        def draw(batch):
            return self._posterior_draws(batch, n_draws, generator).transpose(0, 1)

        return np.ascontiguousarray(self._batched(draw, X).transpose(1, 0, 2))


def _to_cpu(value):
    if isinstance(value, torch.nn.Module):
        return copy.deepcopy(value).to("cpu")
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return value


def _to_device(value, device):
    if isinstance(value, (torch.nn.Module, torch.Tensor)):
        return value.to(device)
    return value


class _Progress:
    """A dependency-free progress line on stderr, for ``verbose >= 1``."""

    def __init__(self, total, verbose, name):
        self.total, self.verbose, self.name = total, verbose, name
        self.start = time.perf_counter()

    def update(self, epoch, train_loss, validation_loss):
        if not self.verbose:
            return
        width = 20
        done = int(width * (epoch + 1) / self.total)
        line = (
            f"\r{self.name} [{'#' * done}{'.' * (width - done)}] epoch "
            f"{epoch + 1}/{self.total} loss {train_loss:.5g}"
        )
        if validation_loss is not None:
            line += f" val {validation_loss:.5g}"
        line += f" {time.perf_counter() - self.start:.1f}s"
        end = "\n" if self.verbose > 1 else ""
        print(line, end=end, file=sys.stderr, flush=True)

    def close(self):
        if self.verbose:
            print(file=sys.stderr, flush=True)
