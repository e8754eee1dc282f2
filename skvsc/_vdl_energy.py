"""The energy of variance-regularised dictionary learning (paper 002), term by
term: one function for the codes' energy (used by inference, training,
``energy`` and early stopping) and the batch variance hinge with its
closed-form gradient."""

import torch

__all__ = ["code_energy", "variance_hinge", "variance_hinge_grad"]

#: Added to the batch variance before the square root, so the hinge and its
#: gradient stay finite for a component that is constant over the batch.
_VAR_EPS = 1e-8


def variance_hinge(Z, threshold, eps=_VAR_EPS):
    """Sum over components of the squared hinge ``[(T − std_j(Z))₊]²``.

    ``std_j`` is the unbiased standard deviation of column ``j`` of ``Z`` over
    the batch (divisor ``n − 1``, paper 002 eq. 7), computed as
    ``sqrt(Var_j + eps)``.  Its gradient is eq. (11)/(30):
    ``−2/(n−1) · (T − s_j)/s_j · (z_ij − μ_j)`` where ``s_j < T``, else 0.

    Parameters
    ----------
    Z : torch.Tensor of shape (n_samples, n_components)
        A batch of codes, ``n_samples ≥ 2``.
    threshold : float
        ``T``.
    eps : float, default=1e-8
        Added to the variance inside the square root.

    Returns
    -------
    torch.Tensor
        Scalar (not multiplied by β).
    """
    std = torch.sqrt(Z.var(dim=0, correction=1) + eps)
    return torch.relu(threshold - std).pow(2).sum()


def variance_hinge_grad(Z, threshold, eps=_VAR_EPS):
    """Closed-form gradient of :func:`variance_hinge` (paper 002 eq. 11/30).

    Parameters
    ----------
    Z : torch.Tensor of shape (n_samples, n_components)
        A batch of codes, ``n_samples ≥ 2``.
    threshold : float
        ``T``.
    eps : float, default=1e-8
        Added to the variance inside the square root.

    Returns
    -------
    value : torch.Tensor
        Scalar hinge value.
    grad : torch.Tensor of shape (n_samples, n_components)
        ``−2/(n−1) · (T − s_j)₊/s_j · (z_ij − μ_j)``.
    """
    n = Z.shape[0]
    centred = Z - Z.mean(dim=0, keepdim=True)
    std = torch.sqrt(centred.pow(2).sum(dim=0) / (n - 1) + eps)
    gap = torch.relu(threshold - std)
    grad = (-2.0 / (n - 1)) * (gap / std) * centred
    return gap.pow(2).sum(), grad


def code_energy(X, Z, decoder, lam, *, E=None, gamma=0.0):
    """Per-sample energy of codes ``Z``: paper 002 eq. 13 without the batch hinge.

    ``(1/d)‖x − D(z)‖² + (γ/l)‖z − e‖² + λ‖z‖₁``, in the scaling of the
    authors' code (``d`` features, ``l`` components).  Training adds
    ``β·``:func:`variance_hinge` over the batch; with ``γ = 0`` it is the
    energy that ``energy`` and early stopping report.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        Standardised data.
    Z : torch.Tensor of shape (n_samples, n_components)
        Codes.
    decoder : callable
        ``decoder(Z) -> tensor of shape (n_samples, n_features)``.
    lam : float
        L1 weight λ.
    E : torch.Tensor of shape (n_samples, n_components), default=None
        The encoder's codes ``e``; needed when ``gamma > 0``.
    gamma : float, default=0.0
        Weight γ of the encoder-prediction term.

    Returns
    -------
    torch.Tensor of shape (n_samples,)
        Energy of each sample.
    """
    energy = (X - decoder(Z)).pow(2).mean(dim=1)
    if gamma:
        energy = energy + (gamma / Z.shape[1]) * (Z - E).pow(2).sum(dim=1)
    if lam:
        energy = energy + lam * Z.abs().sum(dim=1)
    return energy
