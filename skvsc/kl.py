"""KL divergences that are not between two distributions of :mod:`skvsc.priors`.

The Normal ‖ Laplace closed form (the SVAE's posterior against its prior) is
registered in torch's KL registry; :func:`kl_divergence` falls back to
Gauss–Hermite quadrature or Monte Carlo where no closed form exists (Normal ‖
Cauchy); :func:`thresholded_laplace_kl` is the exact KL of the *codes* of a
thresholded Laplace posterior, which ``score`` uses.
"""

import math

import numpy as np
import torch
from torch.distributions import Laplace, Normal
from torch.distributions.kl import register_kl

from .priors import rsample

__all__ = ["kl_divergence", "monte_carlo_kl", "quadrature_kl", "thresholded_laplace_kl"]

_LOG_2PI = math.log(2.0 * math.pi)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(q, p):
    """KL(N(μ, σ²) ‖ Laplace(m, b)) in closed form (elementwise).

    With ``t = μ − m``:

    .. math::

        \\mathrm{KL} = \\log(2b) - \\tfrac12\\log(2\\pi\\sigma^2) - \\tfrac12
        + \\frac{t}{b}\\,\\mathrm{erf}\\!\\Big(\\frac{t}{\\sqrt2\\sigma}\\Big)
        + \\frac{\\sigma}{b}\\sqrt{\\tfrac{2}{\\pi}}\\,e^{-t^2/2\\sigma^2},

    i.e. minus the Gaussian entropy minus ``E_q[log p(z)]``, where
    ``E|z − m| = t·erf(t/√2σ) + σ√(2/π)·exp(−t²/2σ²)`` is the mean of a folded
    normal.  Registered in torch's KL registry, so
    ``torch.distributions.kl_divergence(Normal(...), Laplace(...))`` calls it.

    Parameters
    ----------
    q : torch.distributions.Normal
        The Gaussian (posterior).
    p : torch.distributions.Laplace
        The Laplace (prior).

    Returns
    -------
    torch.Tensor
        The KL, broadcast over the batch shapes of ``q`` and ``p``.
    """
    sigma, b = q.scale, p.scale
    t = q.loc - p.loc
    mean_abs = t * torch.erf(t / (math.sqrt(2.0) * sigma)) + sigma * math.sqrt(
        2.0 / math.pi
    ) * torch.exp(-0.5 * (t / sigma) ** 2)
    return torch.log(2.0 * b) - 0.5 * _LOG_2PI - torch.log(sigma) - 0.5 + mean_abs / b


def monte_carlo_kl(q, p, n_samples, generator):
    """Monte Carlo estimate of KL(q ‖ p) for a Normal ``q`` and any ``p``.

    Uses ``KL = −H(q) − E_q[log p(z)]`` with the Gaussian entropy exact and the
    cross-entropy averaged over ``n_samples`` reparameterised samples (same σ as
    ``q``), so the estimate is unbiased and differentiable in ``q``'s
    parameters.

    Parameters
    ----------
    q : torch.distributions.Normal
        Posterior.
    p : torch.distributions.Distribution
        Prior with a ``log_prob``.
    n_samples : int
        Number of samples.
    generator : torch.Generator
        Source of the noise (see :func:`rsample`).

    Returns
    -------
    torch.Tensor
        Elementwise estimate, shape ``q.batch_shape``.
    """
    z = rsample(q, (n_samples,), generator)
    return -q.entropy() - p.log_prob(z).mean(dim=0)


def quadrature_kl(q, p, n_points=64):
    """Deterministic KL(q ‖ p) for a Normal ``q`` by Gauss–Hermite quadrature.

    ``E_q[log p(z)]`` is integrated with ``n_points`` Gauss–Hermite nodes; the
    entropy is exact.  Used where a reproducible value is needed (scores,
    validation).  For a Cauchy prior of scale γ the absolute error per latent is
    below 2e-3 while σ ≤ 3γ, about 0.06 at σ = 10γ (the log density's poles at
    ±iγ come close to the real axis relative to σ).

    Parameters
    ----------
    q : torch.distributions.Normal
        Posterior.
    p : torch.distributions.Distribution
        Prior with a ``log_prob``.
    n_points : int, default=64
        Number of quadrature nodes.

    Returns
    -------
    torch.Tensor
        Elementwise KL, shape ``q.batch_shape``.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_points)
    weights = weights / weights.sum()
    cross = 0.0
    for node, weight in zip(nodes.tolist(), weights.tolist()):
        # One node at a time: memory stays that of one batch of latents.
        cross = cross + weight * p.log_prob(q.loc + q.scale * node)
    return -q.entropy() - cross


def kl_divergence(q, p, *, n_samples=1, generator=None):
    """KL(q ‖ p): analytic when registered, otherwise estimated.

    Parameters
    ----------
    q : torch.distributions.Normal
        Posterior.
    p : torch.distributions.Distribution
        Prior.
    n_samples : int, default=1
        Monte Carlo samples when no closed form is registered.
    generator : torch.Generator or None, default=None
        Generator for the Monte Carlo estimate.  When None and no closed form
        exists, the deterministic :func:`quadrature_kl` is used instead.

    Returns
    -------
    torch.Tensor
        Elementwise KL.
    """
    try:
        return torch.distributions.kl_divergence(q, p)
    except NotImplementedError:
        if generator is None:
            return quadrature_kl(q, p)
        return monte_carlo_kl(q, p, n_samples, generator)


def thresholded_laplace_kl(loc, scale, threshold, prior_scale):
    """Exact KL between the codes of a thresholded Laplace posterior and prior, per unit.

    With ``s ~ Laplace(μ, σ)`` and the shifted soft-threshold ``z = h(s)``
    (zero where ``|s − μ| ≤ λ``, else ``s − λ·sign(s − μ)``), the code is a
    spike-and-slab: ``z = 0`` with probability ``1 − γ_q``, ``γ_q = exp(−λ/σ)``,
    else ``z ~ Laplace(μ, σ)`` (memorylessness of the tails).  The prior's
    code, ``soft(s, λ)`` with ``s ~ Laplace(0, b)``, is the spike-and-slab with
    ``γ_p = exp(−λ/b)`` and slab ``Laplace(0, b)``.  Hence

    .. math:: \\mathrm{KL} = (1-\\gamma_q)\\log\\frac{1-\\gamma_q}{1-\\gamma_p}
              + \\gamma_q\\log\\frac{\\gamma_q}{\\gamma_p}
              + \\gamma_q\\,\\mathrm{KL}\\big(\\mathrm{Laplace}(\\mu,\\sigma)\\,\\|\\,
              \\mathrm{Laplace}(0, b)\\big),

    which depends on λ (the KL of the base distributions does not) and
    equals it at ``λ = 0``.

    Parameters
    ----------
    loc, scale : torch.Tensor
        ``μ`` and ``σ`` of the posterior's base Laplace.
    threshold : float
        λ ≥ 0.
    prior_scale : float
        ``b``, the prior's Laplace scale.

    Returns
    -------
    torch.Tensor
        The KL of each unit, broadcast from ``loc`` and ``scale``.
    """
    on_q = torch.exp(-threshold / scale)
    off_q = -torch.expm1(-threshold / scale)
    on_p = torch.as_tensor(math.exp(-threshold / prior_scale), dtype=loc.dtype, device=loc.device)
    off_p = -torch.expm1(-torch.as_tensor(threshold / prior_scale, dtype=loc.dtype,
                                          device=loc.device))
    distance = loc.abs()
    slab = (torch.log(prior_scale / scale)
            + (scale * torch.exp(-distance / scale) + distance) / prior_scale - 1.0)
    xlogy = torch.special.xlogy
    return (xlogy(off_q, off_q) - xlogy(off_q, off_p)
            + xlogy(on_q, on_q) - xlogy(on_q, on_p) + on_q * slab)
