"""Priors, posteriors and their KL divergences, as :mod:`torch.distributions`.

Analytic KL terms are registered in torch's KL registry with
:func:`torch.distributions.kl.register_kl`, so
``torch.distributions.kl_divergence(q, p)`` uses them; :func:`kl_divergence`
falls back to Monte Carlo where no closed form exists (e.g. Normal ‖ Cauchy).

Sampling never uses torch's global random stream: every sampler here takes a
:class:`torch.Generator` (draws happen on the CPU and are moved to the
distribution's device).
"""

import math

import numpy as np
import torch
from torch.distributions import Cauchy, Laplace, Normal
from torch.distributions.kl import register_kl

__all__ = [
    "make_prior",
    "kl_normal_laplace",
    "kl_divergence",
    "monte_carlo_kl",
    "quadrature_kl",
    "rsample_normal",
    "sample_icdf",
]

_LOG_2PI = math.log(2.0 * math.pi)


def make_prior(name, scale, *, device=None, dtype=torch.float32):
    """A zero-centred, factorised scalar prior, broadcastable over latents.

    Parameters
    ----------
    name : {"laplace", "cauchy", "gaussian"}
        Family.  ``scale`` is the Laplace scale ``b`` (density
        ``exp(-|z|/b)/(2b)``), the Cauchy scale ``γ`` (half width at half
        maximum) or the Gaussian standard deviation.
    scale : float
        Positive scale.
    device : torch.device or None, default=None
        Device of the parameters.
    dtype : torch.dtype, default=torch.float32
        Dtype of the parameters.

    Returns
    -------
    torch.distributions.Distribution
        ``Laplace(0, scale)``, ``Cauchy(0, scale)`` or ``Normal(0, scale)``.
    """
    families = {"laplace": Laplace, "cauchy": Cauchy, "gaussian": Normal}
    if name not in families:
        raise ValueError(f"Unknown prior {name!r}; use one of {sorted(families)}.")
    if not scale > 0:
        raise ValueError(f"The prior's scale must be positive, got {scale!r}.")
    loc = torch.zeros((), device=device, dtype=dtype)
    return families[name](loc, torch.full((), float(scale), device=device, dtype=dtype))


@register_kl(Normal, Laplace)
def kl_normal_laplace(q, p):
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


def rsample_normal(q, generator, n_samples=None):
    """Reparameterised samples ``μ + σ ε`` of a Normal, with ``ε`` from ``generator``.

    Parameters
    ----------
    q : torch.distributions.Normal
        The distribution; gradients flow to its ``loc`` and ``scale``.
    generator : torch.Generator
        CPU generator for ``ε``.
    n_samples : int or None, default=None
        When given, a leading sample dimension of this size is added.

    Returns
    -------
    torch.Tensor
        Samples of shape ``q.batch_shape`` (or ``(n_samples, *q.batch_shape)``).
    """
    shape = tuple(q.batch_shape) if n_samples is None else (n_samples, *q.batch_shape)
    eps = torch.randn(shape, generator=generator, dtype=q.loc.dtype).to(q.loc.device)
    return q.loc + q.scale * eps


def sample_icdf(distribution, sample_shape, generator):
    """Samples by inverse CDF, with uniforms drawn from ``generator``.

    Works for every distribution with an ``icdf`` (Laplace, Cauchy, Normal,
    ...).  Uniforms are kept inside ``(0, 1)`` so no sample is infinite.

    Parameters
    ----------
    distribution : torch.distributions.Distribution
        The distribution to sample.
    sample_shape : tuple of int
        Shape of the sample, prepended to the distribution's batch shape.
    generator : torch.Generator
        CPU generator.

    Returns
    -------
    torch.Tensor
        The samples (no gradient path to the parameters is intended).
    """
    shape = tuple(sample_shape) + tuple(distribution.batch_shape)
    dtype = distribution.mean.dtype if not isinstance(distribution, Cauchy) else distribution.loc.dtype
    tiny = float(np.finfo(np.float32).eps)
    u = torch.rand(shape, generator=generator, dtype=torch.float64).clamp(tiny, 1.0 - tiny)
    device = distribution.loc.device if hasattr(distribution, "loc") else None
    return distribution.icdf(u.to(dtype=dtype, device=device))


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
        CPU generator.

    Returns
    -------
    torch.Tensor
        Elementwise estimate, shape ``q.batch_shape``.
    """
    z = rsample_normal(q, generator, n_samples)
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
