"""FISTA for energies that are not a Lasso in Gram form: ``f(Z) + λ‖Z‖₁``
with a smooth ``f`` given by its value and gradient (a non-linear decoder,
terms that couple the samples).  :mod:`skvsc.solvers` holds the certified
Lasso solver these complement."""

import torch

from .solvers import _converged, _momentum, soft_threshold

__all__ = ["autograd_value_and_grad", "fista_autograd", "fista_smooth"]


def autograd_value_and_grad(smooth):
    """``smooth``'s value and gradient from autograd, in scipy's ``jac=True`` convention.

    Parameters
    ----------
    smooth : callable
        ``smooth(Z) -> scalar tensor``, differentiable in ``Z``.

    Returns
    -------
    callable
        ``value_and_grad(Z) -> (value, grad)``, both detached; it records a graph
        even when called under :func:`torch.no_grad`.
    """

    def value_and_grad(Z):
        with torch.enable_grad():
            Z = Z.detach().requires_grad_(True)
            value = smooth(Z)
            (grad,) = torch.autograd.grad(value, Z)
        return value.detach(), grad

    return value_and_grad


def fista_smooth(value_and_grad, init, lam, *, value=None, step=None, positive=False,
                 max_iter=200, tol=1e-4, backtracking=None, eta=2.0):
    """FISTA for ``f(Z) + λ‖Z‖₁`` with ``f``'s value and gradient from a callable.

    For energies that are not a Lasso in Gram form: a non-linear decoder, or
    terms that couple the samples (paper 002's variance hinge).  There is no
    duality-gap certificate here; the iterations stop when every sample's
    relative change ``‖Δz‖ ≤ tol·‖z‖``.

    Parameters
    ----------
    value_and_grad : callable
        ``value_and_grad(Z) -> (value, grad)``: ``f`` summed over the batch (a
        scalar tensor) and its gradient, of ``Z``'s shape — scipy's
        ``jac=True`` convention.  :func:`autograd_value_and_grad` builds one
        from ``f`` alone.
    init : torch.Tensor of shape (n_samples, n_components)
        Initial codes (e.g. zeros, or an encoder's prediction).
    lam : float
        L1 weight λ.
    value : callable, default=None
        ``value(Z) -> scalar tensor``, ``f`` alone, for backtracking's
        sufficient-decrease test, where the gradient is not needed (it saves
        autograd's backward pass); called under :func:`torch.no_grad`.  None
        uses ``value_and_grad(Z)[0]``.
    step : float, default=None
        Fixed step size (paper 002 uses 0.5–1 with its 1/d scaling).  When None,
        backtracking is used, from a step of 1.
    positive : bool, default=False
        Constrain the codes to be non-negative.
    max_iter : int, default=200
        Maximum number of iterations.
    tol : float, default=1e-4
        Relative-change tolerance, per sample; 0 runs ``max_iter`` iterations
        (unless the codes stop moving exactly).
    backtracking : bool, default=None
        Use Beck–Teboulle backtracking; defaults to ``step is None``.  With a
        fixed ``step`` it starts from ``1/step`` and only increases L, so the
        step is shortened only where it would not decrease the energy.  The
        step is shared by the batch.
    eta : float, default=2.0
        Factor by which backtracking increases the Lipschitz estimate.

    Returns
    -------
    codes : torch.Tensor of shape (n_samples, n_components)
        The codes (detached).
    n_iter : int
        Iterations run.
    """
    if backtracking is None:
        backtracking = step is None
    if value is None:
        def value(Z):
            return value_and_grad(Z)[0]
    lipschitz = 1.0 if step is None else 1.0 / step

    Z = init.detach().clone()
    Y = Z
    t = 1.0
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        f_y, grad_y = value_and_grad(Y)
        while True:
            Z_new = soft_threshold(Y - grad_y / lipschitz, lam / lipschitz, positive)
            if not backtracking:
                break
            with torch.no_grad():
                diff = Z_new - Y
                f_new = value(Z_new)
                bound = f_y + (grad_y * diff).sum() + 0.5 * lipschitz * diff.pow(2).sum()
            if f_new <= bound + 1e-6 * abs(float(bound)) or lipschitz > 1e12:
                break
            lipschitz *= eta
        done = _converged(Z_new, Z, tol)
        Y, t = _momentum(Z, Z_new, t)
        Z = Z_new
        if bool(done.all()):
            break
    return Z.detach(), n_iter


def fista_autograd(smooth, init, lam, **kwargs):
    """:func:`fista_smooth` for ``smooth(Z) + λ‖Z‖₁`` with the gradient from autograd.

    Parameters
    ----------
    smooth : callable
        ``smooth(Z) -> scalar tensor``, differentiable in ``Z`` (summed over the
        batch).
    init : torch.Tensor of shape (n_samples, n_components)
        Initial codes.
    lam : float
        L1 weight λ.
    **kwargs
        ``step``, ``positive``, ``max_iter``, ``tol``, ``backtracking`` and
        ``eta`` of :func:`fista_smooth`.

    Returns
    -------
    codes : torch.Tensor of shape (n_samples, n_components)
        The codes (detached).
    n_iter : int
        Iterations run.
    """
    return fista_smooth(autograd_value_and_grad(smooth), init, lam, value=smooth, **kwargs)
