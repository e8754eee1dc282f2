"""Public methods that only some estimators have: ``energy`` (the models
with an explicit energy) and ``sample``/``sample_posterior`` (the VAEs)."""

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted

from ._utils import make_generator

__all__ = ["EnergyMixin", "GenerativeMixin"]


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
        return self._per_row(self._energy_samples, X, "energy")


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
