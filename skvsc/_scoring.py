"""Model-selection criteria shared by the estimators' ``score``.

Masked-feature cross-validation of a dictionary model (SparseCoder,
VarianceRegDictLearner): the features are split into ``N_FOLDS`` folds by a
fixed permutation; for each fold, every sample is encoded from the *other*
features only (the atoms restricted to them) and the held-out fold is
predicted from that code.  The criterion is minus half the squared error of
these out-of-fold predictions, summed over all features.  It is the same
quantity whatever λ is, and it is not monotone in λ: too small a λ fits the
observed features' noise and predicts the held-out ones badly, too large a λ
shrinks the codes towards zero (the cross-validation of matrix factorisation
and dictionary learning by held-out entries; Wold 1978, Owen & Perry 2009,
Mairal et al. 2010 §5 "image inpainting").
"""

import numpy as np
import torch

from ._smooth import fista_autograd
from .solvers import _warn_uncertified, fista, lipschitz_constant

__all__ = [
    "N_FOLDS",
    "feature_folds",
    "masked_lasso_predictions",
    "masked_decoder_predictions",
    "masked_cv_score",
]

#: Number of feature folds of the masked-feature cross-validation.
N_FOLDS = 4
#: Seed of the fixed permutation that assigns the features to folds.
_FOLD_SEED = 0


def feature_folds(n_features, n_folds=N_FOLDS):
    """Fold index (0 … ``n_folds − 1``) of every feature, from a fixed permutation.

    Parameters
    ----------
    n_features : int
        Number of features.
    n_folds : int, default=N_FOLDS
        Number of folds; at most ``n_features`` are used.

    Returns
    -------
    ndarray of shape (n_features,)
        The fold of each feature; the folds' sizes differ by at most one.
    """
    n_folds = max(1, min(n_folds, n_features))
    permutation = np.random.RandomState(_FOLD_SEED).permutation(n_features)
    folds = np.empty(n_features, dtype=np.int64)
    folds[permutation] = np.arange(n_features) % n_folds
    return folds


def _held_and_observed(n_features, n_folds, device):
    """``(held, observed)`` feature indices of every fold with something to
    encode from (a single feature has nothing: its prediction stays 0)."""
    folds = torch.as_tensor(feature_folds(n_features, n_folds), device=device)
    for fold in range(int(folds.max()) + 1):
        observed = (folds != fold).nonzero().squeeze(1)
        if observed.numel():
            yield (folds == fold).nonzero().squeeze(1), observed


def masked_lasso_predictions(X, atoms, lam, *, positive=False, max_iter=300, tol=1e-4,
                             n_folds=N_FOLDS):
    """Out-of-fold predictions of ``X`` by the lasso codes of the other features.

    For each fold ``H`` of :func:`feature_folds` with observed features
    ``O`` (the others), the code of a sample is FISTA's solution of

    .. math:: \\min_z \\tfrac12\\|x_O - z D_O\\|^2 + \\lambda\\frac{|O|}{d}\\|z\\|_1,

    with ``D_O`` the atoms restricted to ``O``, and ``x_H`` is predicted by
    ``z D_H``.  The weight ``λ·|O|/d`` keeps the balance of the full problem
    per observed feature (the squared error sums over ``|O|`` features instead
    of ``d``), so the code's shrinkage, ``λ/‖d_O‖² ≈ λ/(|O|/d)`` per unit-norm
    atom, is the full problem's.  Every fold's samples share one Gram matrix,
    and each sample stops on its own certificate, so a prediction does not
    depend on the rest of the batch.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        Data.
    atoms : torch.Tensor of shape (n_components, n_features)
        Dictionary, one atom per row.
    lam : float
        λ of the full problem, in the ``½‖x − zD‖² + λ‖z‖₁`` scaling.
    positive : bool, default=False
        Non-negative codes.
    max_iter : int, default=300
        FISTA iterations per fold.
    tol : float, default=1e-4
        FISTA's certified relative suboptimality per sample.
    n_folds : int, default=N_FOLDS
        Number of feature folds.

    Returns
    -------
    torch.Tensor of shape (n_samples, n_features)
        Every feature predicted from the codes of the other folds.
    """
    n_features = X.shape[1]
    prediction = torch.zeros_like(X)
    n_uncertified = n_codes = 0
    for held, observed in _held_and_observed(n_features, n_folds, X.device):
        atoms_observed = atoms.index_select(1, observed)
        X_observed = X.index_select(1, observed)
        gram = atoms_observed @ atoms_observed.T
        codes, _, uncertified = fista(
            gram, X_observed @ atoms_observed.T, lam * observed.numel() / n_features,
            lipschitz=lipschitz_constant(gram), positive=positive, max_iter=max_iter,
            tol=tol, sq_norms=X_observed.pow(2).sum(dim=1), return_uncertified=True)
        n_uncertified += int(uncertified.sum())
        n_codes += X.shape[0]
        prediction.index_copy_(1, held, codes @ atoms.index_select(1, held))
    # The estimators' parameter is code_max_iter; score warns as transform does.
    _warn_uncertified(n_uncertified, n_codes, max_iter, tol, "code_max_iter", stacklevel=5)
    return prediction


def masked_decoder_predictions(X, decode, n_components, lam, *, positive=False, step=None,
                               max_iter=200, n_folds=N_FOLDS):
    """:func:`masked_lasso_predictions` for a non-linear decoder.

    For each fold ``H`` with observed features ``O``, the code minimises
    ``(1/d)‖x_O − D(z)_O‖² + λ·(|O|/d)·‖z‖₁`` (the ``1/d`` scaling of
    :class:`~skvsc.VarianceRegDictLearner`), by FISTA with autograd gradients
    from ``z = 0``, and ``x_H`` is predicted by ``D(z)_H``.  With a fixed
    ``step`` every sample runs ``max_iter`` iterations (no batch-wide stopping
    test), so a prediction does not depend on the rest of the batch.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        Data.
    decode : callable
        ``decode(Z) -> tensor of shape (n_samples, n_features)``, differentiable.
    n_components : int
        Code dimension.
    lam : float
        λ of the full problem in the ``1/d`` scaling.
    positive : bool, default=False
        Non-negative codes.
    step : float or None, default=None
        Fixed FISTA step; None backtracks (shared by the batch).
    max_iter : int, default=200
        FISTA iterations per fold.
    n_folds : int, default=N_FOLDS
        Number of feature folds.

    Returns
    -------
    torch.Tensor of shape (n_samples, n_features)
        Every feature predicted from the codes of the other folds.
    """
    n_features = X.shape[1]
    prediction = torch.zeros_like(X)
    init = X.new_zeros(X.shape[0], n_components)
    for held, observed in _held_and_observed(n_features, n_folds, X.device):
        X_observed = X.index_select(1, observed)

        def smooth(Z, X_observed=X_observed, observed=observed):
            residual = X_observed - decode(Z).index_select(1, observed)
            return residual.pow(2).sum() / n_features

        codes, _ = fista_autograd(smooth, init, lam * observed.numel() / n_features,
                                  step=step, positive=positive, max_iter=max_iter,
                                  tol=0.0 if step is not None else 1e-4)
        with torch.no_grad():
            prediction.index_copy_(1, held, decode(codes).index_select(1, held))
    return prediction


def masked_cv_score(X, prediction):
    """Per-sample criterion ``−½‖x − x̂‖²`` of out-of-fold predictions ``x̂``.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        Data.
    prediction : torch.Tensor of shape (n_samples, n_features)
        Out-of-fold predictions.

    Returns
    -------
    torch.Tensor of shape (n_samples,)
        Higher is better.
    """
    return -0.5 * (X - prediction).pow(2).sum(dim=1)
