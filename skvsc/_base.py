"""The estimator engine shared by every skvsc model.

Everything that is plumbing lives here, once: input validation (dtype, float32
range, layout), the local random generator, the mini-batch training loop with
early stopping and divergence detection, transactional ``fit``/``partial_fit``,
chunked ``transform``/``inverse_transform``/``score_samples``, warnings about
unconverged or collapsed models, pickling and the weights-only ``save`` format.
An estimator subclasses :class:`SparseModelMixin` and writes only its model:
the hooks are declared, with their contracts, on that class.
"""

import contextlib
import copy
import math
import numbers
import time
import warnings

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted, validate_data

from ._data import (RowSubset, as_tensor, is_memory_mapped, training_dtype,
                    validate_mapped)
from ._progress import progress_bar
from ._utils import (check_float32_range, device_exists, is_finite, make_generator,
                     resolve_device, to_cpu, to_device)
from .exceptions import CollapsedCodesWarning, TrainingDivergedError

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

# Training data up to this size is moved to the model's device in one piece.
_DEVICE_DATA_BYTES = 2**31
# transform / inverse_transform / score_samples work on chunks of this many
# rows: memory peaks at the output plus one chunk's intermediates.
_CHUNK_ROWS = 2048
# A finite loss that grows past its first value by this factor (and by at
# least this many units) is a divergence, not a bad epoch: no model of this
# package legitimately multiplies its training loss by a million.
_BLOWUP_FACTOR = 1e6
# The collapse check encodes at most this many training samples.
_COLLAPSE_CHECK_ROWS = 2048
# After every epoch the model must code this many training rows to finite
# values, and no weight may exceed _WEIGHT_LIMIT in magnitude (float32
# products of such weights overflow within a few layers).
_PROBE_ROWS = 256
_WEIGHT_LIMIT = 1e12
# Seed of the fixed noise behind a deterministic validation loss.
_VALIDATION_SEED = 0
# Training losses are read from the device once per this many steps.
_LOSS_READS_EVERY = 32


class SparseModelMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
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

    def _chunked(self, function, X, dtype=None):
        """``function`` (tensor -> tensor) applied to ``X`` chunk by chunk.

        The result is filled into one preallocated array of ``dtype``
        (default ``X``'s), so memory peaks at the output plus one chunk.
        """
        dtype = X.dtype if dtype is None else dtype
        out = None
        with torch.no_grad():
            for start in range(0, X.shape[0], _CHUNK_ROWS):
                value = function(self._to_tensor(X[start:start + _CHUNK_ROWS]))
                value = value.detach().cpu().numpy()
                if out is None:
                    out = np.empty((X.shape[0], *value.shape[1:]), dtype=dtype)
                out[start:start + len(value)] = value
        return out

    def _per_row(self, function, X):
        """``function`` of a batch (one output row per input row) over data
        ``X`` of a fitted model: validated, in eval mode, chunk by chunk."""
        check_is_fitted(self, "module_")
        X = self._validate_X(X, reset=False)
        self.module_.eval()
        return self._chunked(function, X)

    # ---------------------------------------------------------- transactions
    @contextlib.contextmanager
    def _transaction(self):
        """Undo every change to ``self`` if the body raises (anything at all).

        Snapshot: the attribute dict (shallow), the weights and buffers of
        modules, the optimisers' state, the generator's state and ``history_``
        — what training changes in place.  Cost: one copy of the weights and
        optimiser moments per call, measured in the closing note of issue 13.
        """
        attributes = dict(vars(self))
        saved = []
        for value in attributes.values():
            values = value.values() if isinstance(value, dict) else (value,)
            for item in values:
                if isinstance(item, torch.nn.Module):
                    saved.append((item, {k: v.clone() for k, v in item.state_dict().items()}))
                elif isinstance(item, torch.optim.Optimizer):
                    saved.append((item, copy.deepcopy(item.state_dict())))
                elif isinstance(item, torch.Generator):
                    saved.append((item, item.get_state()))
        history = copy.deepcopy(attributes.get("history_"))
        try:
            yield
        except BaseException:
            vars(self).clear()
            vars(self).update(attributes)
            if history is not None:
                self.history_ = history
            for item, state in saved:
                if isinstance(item, torch.Generator):
                    item.set_state(state)
                else:
                    item.load_state_dict(state)
            raise

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

    # ---------------------------------------------------------- training loop
    def _training_split(self, X, validation_fraction):
        """Shuffle the rows of ``X`` once and split them.

        Returns the training rows — a float32 tensor on ``device_`` when ``X``
        is an in-memory array of moderate size (batches are then slices in
        device memory), otherwise a :class:`RowSubset` that reads each batch's
        rows from ``X`` (a memory-mapped ``X`` is never copied whole) — and the
        validation rows (a :class:`RowSubset`, or None).  Both give the same
        batches for the same seed.
        """
        n_samples = X.shape[0]
        n_validation = int(round(validation_fraction * n_samples))
        if validation_fraction > 0 and n_samples - max(n_validation, 1) >= 1:
            # At least one validation sample, and always one to train on.
            n_validation = max(n_validation, 1)
        else:
            n_validation = 0
        order = torch.randperm(n_samples, generator=self._generator)
        validation = RowSubset(X, order[:n_validation].numpy()) if n_validation else None
        if is_memory_mapped(X) or X.nbytes >= _DEVICE_DATA_BYTES:
            return RowSubset(X, order[n_validation:].numpy()), validation
        train = self._to_tensor(X)[order[n_validation:].to(self.device_)]
        return train, validation

    def _batches(self, train, batch_size):
        """The shuffled mini-batches of one epoch, as float32 tensors on ``device_``."""
        permutation = torch.randperm(len(train), generator=self._generator)
        for begin in range(0, len(train), batch_size):
            index = permutation[begin:begin + batch_size]
            if isinstance(train, torch.Tensor):
                yield train[index.to(train.device)]
            else:
                yield self._to_tensor(train[index.numpy()])

    def _fit_epochs(self, X, max_epochs, validation_fraction, *, warn=True):
        """Run the mini-batch loop on validated ``X``."""
        train, validation = self._training_split(X, validation_fraction)
        n_train = len(train)
        batch_size = min(self.batch_size, n_train)
        bar = progress_bar(total=max_epochs * math.ceil(n_train / batch_size),
                           desc=type(self).__name__, unit="batch", verbose=self.verbose)
        best_loss, best_epoch, best_state, epochs_no_improve = math.inf, 0, None, 0
        first_loss, stopped_early, postfix = None, False, {}
        try:
            for epoch in range(max_epochs):
                start = time.perf_counter()
                bar.set_description(f"{type(self).__name__} epoch {epoch + 1}/{max_epochs}",
                                    refresh=False)
                self.module_.train()
                train_loss, first_loss = self._train_epoch(train, batch_size, epoch, first_loss,
                                                           bar, postfix)
                self.module_.eval()
                probe = train[:_PROBE_ROWS]
                self._check_health(probe if isinstance(probe, torch.Tensor)
                                   else self._to_tensor(probe), epoch)
                monitored = train_loss
                if validation is not None:
                    with self._named_divergence(epoch):
                        monitored = self._validation_loss(validation)
                    if not math.isfinite(monitored):
                        self._raise_diverged(epoch, f"the validation loss became {monitored}")
                    self.history_["validation_loss"].append(monitored)
                self.history_["train_loss"].append(train_loss)
                self.history_["time"].append(time.perf_counter() - start)
                self.n_iter_ += 1
                bar.set_postfix(postfix | {"loss": f"{train_loss:.5g}"}, refresh=False)
                summary = f"loss {train_loss:.5g}"
                if validation is not None:
                    summary += f" val {monitored:.5g}"
                    postfix["val"] = f"{monitored:.5g}"
                if self.verbose > 1:
                    bar.write(f"{type(self).__name__} epoch {epoch + 1}/{max_epochs} {summary} "
                              f"{self.history_['time'][-1]:.1f}s")

                if epoch == 0 or monitored < best_loss - self.tol * max(abs(best_loss), 1e-12):
                    best_loss, best_epoch, epochs_no_improve = monitored, epoch, 0
                    if validation is not None and self.restore_best:
                        best_state = {k: v.clone() for k, v in self.module_.state_dict().items()}
                else:
                    epochs_no_improve += 1
                    if epochs_no_improve >= self.n_iter_no_change:
                        stopped_early = True
                        break
        finally:
            bar.close()
        self.best_epoch_ = self.n_iter_ - (epoch - best_epoch)
        self.best_loss_ = best_loss
        if best_state is not None and best_epoch != epoch:
            # Early stopping keeps the epoch with the best validation loss.
            self.module_.load_state_dict(best_state)
        if warn and max_epochs > 1 and not stopped_early and epochs_no_improve == 0:
            what = "validation" if validation is not None else "training"
            warnings.warn(
                f"{type(self).__name__} stopped at max_epochs={max_epochs} while its "
                f"{what} loss was still improving (by more than tol={self.tol:g} "
                "relative in the last epoch); raise max_epochs for a converged model.",
                ConvergenceWarning,
                stacklevel=4,  # _fit_epochs, fit, sklearn's _fit_context, the caller
            )

    def _train_epoch(self, train, batch_size, epoch, first_loss, bar, postfix):
        """One pass over the training rows; returns the mean training loss and
        the first loss of the fit (``first_loss``, or this epoch's first).

        The step losses stay on the device and are read in groups of
        ``_LOSS_READS_EVERY`` steps, so that a GPU is not synchronised with
        the host at every step; each group is checked for divergence (a
        non-finite loss, or one that blew up past the fit's first loss).
        """
        total, pending, seen = 0.0, [], 0
        for batch in self._batches(train, batch_size):
            pending.append((self._checked_step(batch, epoch), len(batch)))
            seen += len(batch)
            if len(pending) == _LOSS_READS_EVERY or first_loss is None:
                total, first_loss = self._read_losses(pending, total, first_loss, epoch)
                bar.update(len(pending))
                bar.set_postfix(postfix | {"loss": f"{total / seen:.5g}"}, refresh=False)
                pending = []
        total, first_loss = self._read_losses(pending, total, first_loss, epoch)
        bar.update(len(pending))
        return total / len(train), first_loss

    def _read_losses(self, pending, total, first, epoch):
        """Read ``(loss, batch size)`` pairs to the host and check them against
        the fit's ``first`` loss; returns ``total`` plus their sum weighted by
        batch size, and the first loss."""
        if not pending:
            return total, first
        # Stacked on the device and read once: one synchronisation per group.
        losses = torch.stack([torch.as_tensor(loss, dtype=torch.float64, device=self.device_)
                              .reshape(()) for loss, _ in pending]).tolist()
        for loss in losses:
            if not math.isfinite(loss):
                self._raise_diverged(epoch, f"the training loss became {loss}")
            if first is None:
                first = loss
            elif loss > first + _BLOWUP_FACTOR * max(abs(first), 1.0):
                self._raise_diverged(
                    epoch, f"the training loss blew up from {first:.4g} to {loss:.4g}")
        return total + sum(loss * size for loss, (_, size) in zip(losses, pending)), first

    @contextlib.contextmanager
    def _named_divergence(self, epoch):
        """Turn the errors of non-finite network outputs into a divergence.

        Validated data cannot make a step fail, but non-finite outputs can:
        torch.distributions rejects a NaN or infinite ``loc`` or ``scale``.
        """
        try:
            yield
        except ValueError as exc:
            if "Expected parameter" in str(exc) or not is_finite(self.module_.parameters()):
                self._raise_diverged(epoch, f"a distribution got non-finite parameters ({exc})")
            raise

    def _checked_step(self, batch, epoch):
        """``_train_step`` with every numerical failure named a divergence; the
        loss is returned unread (a tensor stays on the device)."""
        with self._named_divergence(epoch):
            loss = self._train_step(batch)
        self.n_steps_ += 1
        return loss.detach() if isinstance(loss, torch.Tensor) else loss

    def _check_health(self, probe, epoch):
        """Divergence that the step losses cannot see: after an epoch, weights
        must be finite and below ``_WEIGHT_LIMIT``, and the model must map a
        few training rows to finite codes and reconstructions (a one-batch
        ``partial_fit`` measures its loss before its only step)."""
        weights = [t for t in self.module_.state_dict().values() if t.is_floating_point()]
        if not is_finite(weights):
            self._raise_diverged(epoch, "the model's weights stopped being finite")
        largest = max((float(t.abs().max()) for t in weights if t.numel()), default=0.0)
        if largest > _WEIGHT_LIMIT:
            self._raise_diverged(epoch, f"a weight reached {largest:.3g}")
        if self._bounded_weights:
            return
        with torch.no_grad(), self._named_divergence(epoch):
            codes = self._encode(probe)
            if not (is_finite([codes]) and is_finite([self._decode(codes)])):
                self._raise_diverged(epoch, "the model's codes or reconstructions "
                                            "stopped being finite")

    def _raise_diverged(self, epoch, what):
        raise TrainingDivergedError(
            f"{type(self).__name__} diverged at epoch {epoch + 1}: {what}. Likely "
            f"cause: the step is too large for this data; {self._divergence_hint}, "
            "or scale X. The estimator is unchanged."
        )

    def _validation_loss(self, X):
        """Mean ``_validation_batch_loss`` over ``X``, with fixed noise.

        The training generator is swapped for one of fixed seed, so that a
        stochastic loss (a VAE's sampled ELBO) gives the same value for the
        same model and early stopping compares models, not noise draws.
        """
        generators = self._generator, self._noise_generator
        self._generator = make_generator(_VALIDATION_SEED)
        self._noise_generator = (self._generator if self.device_.type == "cpu"
                                 else make_generator(_VALIDATION_SEED, device=self.device_))
        try:
            losses = self._chunked(
                lambda batch: self._validation_batch_loss(batch).reshape(1).expand(len(batch)),
                X, dtype=np.float64)
        finally:
            self._generator, self._noise_generator = generators
        return float(losses.mean())

    def _warn_if_collapsed(self, X):
        """Warn when the codes of (a sample of) the training data are all zero,
        or when most units are never active on it."""
        with warnings.catch_warnings():
            # transform itself warns about uncertified codes; not twice.
            warnings.simplefilter("ignore", ConvergenceWarning)
            codes = self._chunked(self._encode, X[:_COLLAPSE_CHECK_ROWS], dtype=np.float32)
        active = np.abs(codes) > (0.0 if self._exact_zero_codes else 1e-3)
        if not active.any():
            warnings.warn(
                f"{type(self).__name__}: every code of the training data is zero, "
                f"so the codes carry no information; {self._collapse_hint}.",
                CollapsedCodesWarning, stacklevel=4)
        elif active.any(axis=0).mean() < 0.5:
            n_dead = int((~active.any(axis=0)).sum())
            warnings.warn(
                f"{type(self).__name__}: {n_dead} of {codes.shape[1]} units are never "
                f"active on the training data; {self._collapse_hint}, or use fewer "
                "n_components.", CollapsedCodesWarning, stacklevel=4)

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
        return self._per_row(self._encode, X)

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
        return self._chunked(self._decode, Z)

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
        return self._per_row(self._score_samples, X)

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
        # Optimisers and generator hold device-bound references; partial_fit
        # rebuilds them lazily after loading.
        state.pop("_optimizers", None)
        state.pop("_generator", None)
        state.pop("_noise_generator", None)
        for key, value in list(state.items()):
            state[key] = to_cpu(value)
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
        if device is not None:
            state = {key: to_device(value, device) for key, value in state.items()}
        if hasattr(super(), "__setstate__"):
            super().__setstate__(state)
        else:
            self.__dict__.update(state)


class EnergyMixin:
    """``energy`` for the estimators that minimise an explicit energy of
    their codes; the estimator implements ``_energy_samples(X)``."""

    def energy(self, X):
        """Per-sample energy of the codes of :meth:`transform` (lower is better).

        The objective that training and inference minimise, whose formula the
        class docstring gives.  It contains ``lam`` as a penalty, so it is not a
        criterion to select ``lam`` with: use :meth:`score`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        ndarray of shape (n_samples,)
            The energy of each sample; ``energy(X).mean()`` is the mean energy.
        """
        return self._per_row(self._energy_samples, X)


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

        return np.ascontiguousarray(self._chunked(draw, X).transpose(1, 0, 2))
