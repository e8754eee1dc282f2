"""The estimator engine shared by every skvsc model.

Everything that is plumbing lives here, once: input validation (dtype, float32
range, layout; memory-mapped arrays chunk by chunk, in ``_data.py``), the local
random generators, transactional ``fit``/``partial_fit`` around the mini-batch
loop (early stopping and divergence detection, in ``_training.py``), chunked
``transform``/``inverse_transform``/``score_samples`` with progress bars,
pickling and the weights-only ``save`` format.  An estimator subclasses
:class:`SparseModelMixin` and writes only its model: the hooks are declared,
with their contracts, on that class.
"""

import numbers
import warnings

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ._data import (as_tensor, is_memory_mapped, training_dtype,
                    validate_mapped)
from ._mixins import EnergyMixin, GenerativeMixin
from ._progress import BAR_MIN_ROWS, progress_bar
from ._training import TrainingMixin
from ._utils import (check_float32_range, device_exists, make_generator, to_cpu_tree,
                     resolve_device, to_cpu, to_device)

__all__ = ["SparseModelMixin", "EnergyMixin", "GenerativeMixin", "TRAINING_CONSTRAINTS"]

# Parameters shared by every trained estimator, with the same meaning everywhere.
TRAINING_CONSTRAINTS = {
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "restore_best": ["boolean"],
    "device": [str],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}

# transform / inverse_transform / score_samples work on chunks of this many
# rows: memory peaks at the output plus one chunk's intermediates.
_CHUNK_ROWS = 2048


class SparseModelMixin(TrainingMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """Engine for the skvsc estimators.

    Subclasses also inherit from :class:`sklearn.base.BaseEstimator` and declare
    the parameters they use in ``__init__``; the engine reads ``batch_size``,
    ``max_epochs``, ``learning_rate``, ``validation_fraction``, ``tol``,
    ``n_iter_no_change``, ``restore_best``, ``device``, ``random_state`` and
    ``verbose`` (constraints in ``TRAINING_CONSTRAINTS``).

    **Required hooks** (they raise ``NotImplementedError`` here):
    ``_build_module``, ``_encode``, ``_decode``, ``_batch_loss``,
    ``_score_samples`` and ``_atoms``.  **Optional hooks**, with working
    defaults: ``_check_training_data``, ``_init_from_data``,
    ``_make_optimizers``, ``_train_step``, ``_after_step``,
    ``_validation_batch_loss``, ``_end_fit`` and the class attributes
    ``_divergence_hint`` and ``_collapse_hint``.

    **State.**  ``fit`` and ``partial_fit`` are transactions: any exception
    raised inside them (bad data, divergence, ``KeyboardInterrupt``, an error
    in a hook) restores the estimator exactly as it was.  Hooks may set new
    attributes freely; they change modules, optimisers and the generator in
    place, and replace (never mutate) other tensors and arrays.
    """

    #: Hint appended to the divergence error; subclasses name their own knobs.
    _divergence_hint = "lower `learning_rate` or change `lam`/`beta`"
    #: Hint of the collapse warning: the knobs that bring codes back.
    _collapse_hint = "lower `lam` or train longer (`max_epochs`)"
    #: Whether the codes have exact zeros (the collapse check counts them).
    _exact_zero_codes = True
    #: Whether every step projects the weights to a bounded set (e.g. unit-norm
    #: atoms), so that the per-epoch output probe can be skipped.
    _bounded_weights = False

    # ------------------------------------------------------ required hooks
    def _build_module(self, n_features):
        """Create ``self.module_`` (a ``torch.nn.Module``) on ``self.device_``,
        drawing any randomness from ``self._generator``; may set other fitted
        state.  Called by ``fit`` and by the first ``partial_fit``."""
        raise NotImplementedError

    def _encode(self, X):
        """Deterministic codes of a float32 batch on the device."""
        raise NotImplementedError

    def _decode(self, Z):
        """Reconstruction (the likelihood's mean) of a batch of codes."""
        raise NotImplementedError

    def _batch_loss(self, X):
        """Scalar training loss of a batch (lower is better); the default
        ``_train_step`` takes one step of every optimiser on it."""
        raise NotImplementedError

    def _score_samples(self, X):
        """Per-sample score of a batch (higher is better), used by ``score``."""
        raise NotImplementedError

    def _atoms(self):
        """Tensor of shape (n_components, n_features) behind ``components_``."""
        raise NotImplementedError

    # ------------------------------------------------------ optional hooks
    def _check_training_data(self, X):
        """Raise ``ValueError`` if the validated ndarray ``X`` cannot be
        trained on (e.g. outside a likelihood's support).  Runs before any
        state changes."""

    def _init_from_data(self, X):
        """Data-dependent initialisation after ``_build_module`` (e.g. input
        scaling statistics); ``X`` is the validated training ndarray."""

    def _make_optimizers(self):
        """A dict of named optimisers; Adam on every trainable parameter of
        ``module_`` by default, empty when there is none."""
        params = [p for p in self.module_.parameters() if p.requires_grad]
        if not params:
            return {}
        return {"module": torch.optim.Adam(params, lr=self.learning_rate)}

    def _optimizer_params(self):
        """The parameters ``_make_optimizers`` reads: ``partial_fit`` rebuilds
        the optimisers when ``set_params`` changed them."""
        return (self.learning_rate,)

    def _train_step(self, X):
        """One step of every optimiser on ``_batch_loss``; returns the loss (a
        0-d tensor, left on the device, or a float).  Models with another
        update rule override it."""
        for optimizer in self._optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        loss = self._batch_loss(X)
        loss.backward()
        for optimizer in self._optimizers.values():
            optimizer.step()
        self._after_step()
        return loss.detach()

    def _after_step(self):
        """Called after every training step (e.g. project decoder columns)."""

    def _validation_batch_loss(self, X):
        """Mean loss of a held-out batch, monitored by early stopping; runs
        with a generator of fixed seed, so it is deterministic."""
        return self._batch_loss(X)

    def _end_fit(self):
        """Called when ``fit`` or ``partial_fit`` finishes training."""

    @property
    def _learns(self):
        """Whether ``fit`` trains anything (False for a fixed dictionary)."""
        return True

    # ------------------------------------------------------------------ data
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags

    @property
    def _n_features_out(self):
        return self._atoms().shape[0]

    @property
    def components_(self):
        """The atoms, one per row: a copy in the training data's float dtype.
        """
        check_is_fitted(self, "module_")
        with torch.no_grad():
            return np.array(self._atoms().detach().cpu().numpy(), dtype=self._dtype)

    def _validate_X(self, X, *, reset):
        """Validated 2-D float ndarray within float32 range; sets
        ``n_features_in_`` (and feature names) when ``reset``."""
        if is_memory_mapped(X):
            return validate_mapped(self, X, reset=reset)  # never copied whole
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32],
                          ensure_min_samples=1)
        check_float32_range(X, "X")
        return X

    def _to_tensor(self, X, device=None):
        """Contiguous float32 tensor on ``device`` (default ``device_``)."""
        return as_tensor(X, self.device_ if device is None else device)

    def _chunked(self, function, X, dtype=None, operation=None):
        """``function`` (tensor -> tensor) applied to ``X`` chunk by chunk.

        The result is filled into one preallocated array of ``dtype``
        (default ``X``'s float dtype), so memory peaks at the output plus one
        chunk.  A public ``operation`` (its name) shows a progress bar when
        ``verbose >= 1`` and ``X`` has at least ``BAR_MIN_ROWS`` rows.
        """
        dtype = training_dtype(X) if dtype is None else dtype
        n_rows = X.shape[0]
        bar = progress_bar(total=n_rows, desc=f"{type(self).__name__}.{operation}", unit="row",
                           verbose=self.verbose if operation and n_rows >= BAR_MIN_ROWS else 0)
        out = None
        try:
            with torch.no_grad():
                for start in range(0, n_rows, _CHUNK_ROWS):
                    value = function(self._to_tensor(X[start:start + _CHUNK_ROWS]))
                    value = value.detach().cpu().numpy()
                    if out is None:
                        out = np.empty((n_rows, *value.shape[1:]), dtype=dtype)
                    out[start:start + len(value)] = value
                    bar.update(len(value))
        finally:
            bar.close()
        return out

    def _per_row(self, function, X, operation):
        """``function`` of a batch (one output row per input row) over data
        ``X`` of a fitted model: validated, in eval mode, chunk by chunk; the
        public ``operation`` names the progress bar."""
        check_is_fitted(self, "module_")
        X = self._validate_X(X, reset=False)
        self.module_.eval()
        return self._chunked(function, X, operation=operation)

    # ----------------------------------------------------------------- setup
    def _setup_fit(self, X, device):
        """Set the device and the generator, and build a fresh module."""
        self.device_ = device
        self._dtype = training_dtype(X)
        self._seed_generators()
        self.history_ = {"train_loss": [], "validation_loss": [], "time": []}
        self.n_iter_ = 0
        self.n_steps_ = 0
        self._build_module(X.shape[1])
        self._init_from_data(X)
        self._build_optimizers()

    def _seed_generators(self):
        """Seed ``_generator`` (CPU: weights, shuffling) and ``_noise_generator``
        (on ``device_``: the training noise of the VAEs).

        On the CPU they are one generator, so CPU results do not depend on the
        split; on a GPU the noise is drawn where it is used, without a copy
        from the host at every step.
        """
        self._generator = make_generator(self.random_state)
        if self.device_.type == "cpu":
            self._noise_generator = self._generator
        else:
            self._noise_generator = make_generator(self.random_state, device=self.device_)

    def _build_optimizers(self):
        self._optimizers = self._make_optimizers()
        self._optimizers_built_for = self._optimizer_params()

    # ------------------------------------------------------------ public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the model on ``X`` (mini-batches, at most ``max_epochs`` passes).

        A transaction: if anything fails (invalid data, divergence, an
        interrupt), the estimator is left exactly as it was.

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
        with self._transaction():
            device = resolve_device(self.device)
            X = self._validate_X(X, reset=True)
            self._check_training_data(X)
            self._setup_fit(X, device)
            if self._learns:
                self._fit_epochs(X, self.max_epochs, self.validation_fraction)
            self._end_fit()
            if self._learns:
                self._warn_if_collapsed(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Update the model with one pass over ``X`` (fits it on the first call).

        A transaction, as :meth:`fit`: one call either completes or changes
        nothing.

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
        with self._transaction():
            first_call = not hasattr(self, "module_")
            device = resolve_device(self.device) if first_call else self.device_
            X = self._validate_X(X, reset=first_call)
            self._check_training_data(X)
            if first_call:
                self._setup_fit(X, device)
            if (getattr(self, "_optimizers", None) is None  # e.g. after unpickling
                    or getattr(self, "_optimizers_built_for", None) != self._optimizer_params()):
                self._build_optimizers()  # fresh moments at the new learning rate
            if getattr(self, "_generator", None) is None:
                self._seed_generators()
            if self._learns:
                # One epoch over X, without a validation split.
                self._fit_epochs(X, 1, validation_fraction=0.0, warn=False)
            self._end_fit()
        return self

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
        return self._per_row(self._encode, X, "transform")

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
        check_is_fitted(self, "module_")
        Z = check_array(X, dtype=[np.float64, np.float32])
        if Z.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {Z.shape[1]} features (codes), but {type(self).__name__} "
                f"expects {self._n_features_out} (n_components)."
            )
        check_float32_range(Z, "the codes")
        self.module_.eval()
        return self._chunked(self._decode, Z, operation="inverse_transform")

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
        return self._per_row(self._score_samples, X, "score_samples")

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
        return float(np.mean(self.score_samples(X), dtype=np.float64))

    # ------------------------------------------------------------ persistence
    def save(self, path):
        """Save the fitted estimator in skvsc's weights-only format.

        Unlike pickle or joblib files, the file holds only parameters (as
        JSON) and tensors, and :func:`skvsc.load` reads it with
        ``torch.load(weights_only=True)``: loading it runs no code from the
        file.

        Parameters
        ----------
        path : str or path-like
            Destination file (conventionally ``*.skvsc``).

        Returns
        -------
        self : object
            The estimator, unchanged.
        """
        from ._persistence import save_estimator

        check_is_fitted(self, "module_")
        save_estimator(self, path)
        return self

    # -------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        # Optimisers and generators travel as their states, so that a model
        # shipped between processes (dask-ml's Incremental moves it to each
        # block's worker) continues training exactly as it would have.
        optimizers = state.pop("_optimizers", None)
        if optimizers is not None:
            state["_optimizer_states"] = {name: optimizer.state_dict()
                                          for name, optimizer in optimizers.items()}
        generator = state.pop("_generator", None)
        noise_generator = state.pop("_noise_generator", None)
        if generator is not None:
            state["_generator_state"] = generator.get_state()
            if noise_generator is not generator:
                state["_noise_generator_state"] = noise_generator.get_state()
        for key, value in list(state.items()):
            state[key] = to_cpu(value)
        if "_optimizer_states" in state:
            state["_optimizer_states"] = to_cpu_tree(state["_optimizer_states"])
        return state

    def __setstate__(self, state):
        device = state.get("device_")
        if device is not None and not device_exists(device):
            warnings.warn(
                f"{type(self).__name__} was fitted on {device}, which does not exist "
                "on this machine; its weights are loaded on the CPU.",
                UserWarning,
                stacklevel=2,
            )
            state["device_"] = device = torch.device("cpu")
        optimizer_states = state.pop("_optimizer_states", None)
        generator_state = state.pop("_generator_state", None)
        noise_generator_state = state.pop("_noise_generator_state", None)
        if device is not None:
            state = {key: to_device(value, device) for key, value in state.items()}
        if hasattr(super(), "__setstate__"):
            super().__setstate__(state)
        else:
            self.__dict__.update(state)
        if generator_state is not None:
            self._generator = torch.Generator()
            self._generator.set_state(generator_state)
            self._noise_generator = self._generator
            # A model fitted on a GPU keeps a noise stream there; loaded on
            # the CPU (no GPU here), its device_ is the CPU and one stream serves.
            if device.type != "cpu":
                self._noise_generator = torch.Generator(device=device)
                self._noise_generator.set_state(noise_generator_state)
        if optimizer_states is not None:
            self._build_optimizers()  # load_state_dict moves the moments to the weights' device
            for name, optimizer in self._optimizers.items():
                optimizer.load_state_dict(optimizer_states[name])
