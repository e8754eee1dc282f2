"""The training loop of every skvsc estimator: transactions, mini-batches,
early stopping and divergence detection.

:class:`TrainingMixin` is a base of :class:`~skvsc._base.SparseModelMixin`;
it calls the hooks declared there (``_train_step``, ``_encode``, ...).
"""

import contextlib
import copy
import math
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._data import RowSubset, is_memory_mapped
from ._progress import progress_bar
from ._utils import is_finite, make_generator
from .exceptions import CollapsedCodesWarning, TrainingDivergedError

__all__ = ["TrainingMixin"]

# In-memory training data up to this size are converted once and moved to the
# model's device; larger arrays, and memory-mapped ones, are read batch by batch.
_DEVICE_DATA_BYTES = 2**31
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


class TrainingMixin:
    """``fit``'s machinery: run the hooks of :class:`SparseModelMixin` over
    mini-batches inside a transaction, stop early, and turn every numerical
    failure into a :class:`~skvsc.exceptions.TrainingDivergedError`."""

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
                              f"{self.history_['time'][-1]:.1f}s", file=sys.stderr)

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
