"""Priors, posteriors and their KL divergences, as :mod:`torch.distributions`.

The KL terms between the distributions defined here are registered in torch's
KL registry beside them (private ``_kl_*`` functions, as in
``torch/distributions/kl.py``), so ``torch.distributions.kl_divergence(q, p)``
uses them; the other KL terms of the package are in :mod:`skvsc.kl`.

Sampling never uses torch's global random stream: :func:`rsample` is the one
sampler, and it draws its standard noise from a :class:`torch.Generator` on that
generator's device (a CUDA generator draws on the GPU; a CPU generator's draws
are moved to the distribution's device).
"""

import math
from typing import ClassVar

import torch
from torch.distributions import (
    Cauchy,
    Distribution,
    Gamma,
    Laplace,
    Normal,
    constraints,
)
from torch.distributions.kl import register_kl
from torch.distributions.utils import broadcast_all

from .solvers import soft_threshold

__all__ = [
    "SpikeAndSlab",
    "Thresholded",
    "gamma_threshold_prior",
    "make_prior",
    "rsample",
    "shifted_soft_threshold",
    "straight_through_threshold",
]

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


# ------------------------------------------------------------------ sampling
#: Uniform noise lies in ``[ε, 1 − ε]``, ε the float32 machine epsilon: the one
#: clamp convention of this module (inverse CDFs stay finite, and 1 − ε is
#: representable in float32).
_UNIFORM_EPS = float(torch.finfo(torch.float32).eps)
#: Probabilities are clamped to ``[_PROB_EPS, 1 − _PROB_EPS]`` inside logarithms.
_PROB_EPS = 1e-6


def _standard_noise(kind, shape, generator, like):
    """Standard ``"normal"`` or ``"uniform"`` noise of ``shape`` in ``like``'s dtype.

    Drawn from ``generator`` on the generator's own device (``like``'s when
    there is none), then placed on ``like``'s device: the noise of a CUDA
    generator never visits the host, and a CPU generator gives the same
    numbers whatever the distribution's device.
    """
    device = like.device if generator is None else generator.device
    if kind == "normal":
        noise = torch.randn(shape, generator=generator, device=device, dtype=like.dtype)
    else:
        noise = torch.rand(shape, generator=generator, device=device, dtype=like.dtype)
        noise = noise.clamp(_UNIFORM_EPS, 1.0 - _UNIFORM_EPS)
    return noise.to(like.device)


def rsample(distribution, sample_shape=(), generator=None, *, noise_shape=None):
    """Reparameterised sample of ``distribution``, with its noise from ``generator``.

    The one sampler of skvsc.  The distributions of this module implement
    ``rsample(sample_shape, generator, noise_shape=...)`` themselves; torch's
    own are dispatched here: :class:`~torch.distributions.Normal` as
    ``μ + σε``, :class:`~torch.distributions.Gamma` by
    ``torch._standard_gamma`` (implicit reparameterisation gradient, Figurnov
    et al. 2018), and every other distribution with an ``icdf`` (Laplace,
    Cauchy, Uniform, ...) by the inverse CDF of uniform noise.

    Parameters
    ----------
    distribution : torch.distributions.Distribution
        The distribution; gradients flow to its parameters.
    sample_shape : tuple of int, default=()
        Prepended to the batch shape.
    generator : torch.Generator or None, default=None
        Source of the noise, drawn on the generator's device.  None uses
        torch's global random stream.
    noise_shape : tuple of int or None, default=None
        Shape of the standard noise, broadcastable to ``sample_shape +
        batch_shape`` (the default).  A dimension of size 1 shares the noise
        along it — common random numbers, e.g. the same noise for every input
        of a batch, so that a Monte Carlo estimate per input does not depend on
        the rest of the batch.  Gamma draws with shared noise use the inverse
        CDF and carry no gradient.

    Returns
    -------
    torch.Tensor
        Sample of shape ``sample_shape + batch_shape``.
    """
    shape = torch.Size(sample_shape) + distribution.batch_shape
    noise_shape = shape if noise_shape is None else torch.Size(noise_shape)
    if isinstance(distribution, _GeneratorSampled):
        return distribution.rsample(sample_shape, generator, noise_shape=noise_shape)
    if isinstance(distribution, Normal):
        noise = _standard_noise("normal", noise_shape, generator, distribution.loc)
        return distribution.loc + distribution.scale * noise
    if isinstance(distribution, Gamma):
        return _rsample_gamma(distribution, shape, noise_shape, generator)
    uniform = _standard_noise("uniform", noise_shape, generator, distribution.mean)
    try:
        return distribution.icdf(uniform)
    except NotImplementedError:
        raise NotImplementedError(
            f"No generator-based sampler for {type(distribution).__name__}.") from None


def _rsample_gamma(distribution, shape, noise_shape, generator):
    concentration, rate = distribution.concentration, distribution.rate
    if noise_shape == shape:
        # Drawn where the generator lives; autograd follows the copies.
        device = concentration.device if generator is None else generator.device
        standard = torch._standard_gamma(concentration.expand(shape).to(device),
                                         generator=generator).to(concentration.device)
    else:
        # Shared noise needs a monotone map of it: the inverse CDF (scipy's).
        from scipy.special import gammaincinv

        uniform = _standard_noise("uniform", noise_shape, generator, concentration)
        standard = gammaincinv(concentration.detach().cpu().double().numpy(),
                               uniform.cpu().double().numpy())
        standard = torch.as_tensor(standard, dtype=concentration.dtype,
                                   device=concentration.device)
    value = standard / rate.expand(shape)
    return value.clamp(min=torch.finfo(value.dtype).tiny)


def sample(distribution, sample_shape=(), generator=None, *, noise_shape=None):
    """Exact draws of ``distribution`` without gradient, noise as in :func:`rsample`.

    The same noise as :func:`rsample`; the distributions of this module
    return their exact values (e.g. :class:`Thresholded` applies the
    threshold itself rather than its straight-through estimator).
    """
    with torch.no_grad():
        if isinstance(distribution, _GeneratorSampled):
            return distribution.sample(sample_shape, generator, noise_shape=noise_shape)
        return rsample(distribution, sample_shape, generator, noise_shape=noise_shape)


class _GeneratorSampled(Distribution):
    """A distribution whose ``rsample`` and ``sample`` take a generator and a
    noise shape (see :func:`rsample`); subclasses implement ``_draw``."""

    def _draw(self, sample_shape, generator, noise_shape, exact):
        raise NotImplementedError

    def _noise_shape(self, sample_shape, noise_shape):
        return self._extended_shape(sample_shape) if noise_shape is None else torch.Size(noise_shape)

    def rsample(self, sample_shape=(), generator=None, *, noise_shape=None):
        noise_shape = self._noise_shape(sample_shape, noise_shape)
        return self._draw(torch.Size(sample_shape), generator, noise_shape, exact=False)

    def sample(self, sample_shape=(), generator=None, *, noise_shape=None):
        noise_shape = self._noise_shape(sample_shape, noise_shape)
        with torch.no_grad():
            return self._draw(torch.Size(sample_shape), generator, noise_shape, exact=True)


# ------------------------------------------------------- spike-and-slab (004)
class SpikeAndSlab(_GeneratorSampled):
    """Spike-and-slab distribution ``z = b·s``, ``b ~ Bernoulli(γ)``, ``s ~ N(μ, σ²)``.

    The prior of Tonolini et al. (paper 004) is ``SpikeAndSlab(α, 0, 1)``; its
    posterior has per-sample ``γ, μ, σ``.  ``log_prob`` is the density with
    respect to ``δ₀ + Lebesgue``: ``log(1 − γ)`` at exactly zero, ``log γ +
    log N(z; μ, σ²)`` elsewhere.  Draws are exact (exact zeros where the spike
    is chosen); gradients of :meth:`rsample` reach ``μ`` and ``σ``, not ``γ``.

    Parameters
    ----------
    probs : torch.Tensor
        Slab probability ``γ`` in [0, 1].
    loc, scale : torch.Tensor
        Mean and standard deviation of the Gaussian slab.
    """

    arg_constraints: ClassVar[dict] = {
        "probs": constraints.unit_interval,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = False

    def __init__(self, probs, loc, scale, validate_args=None):
        self.probs, self.loc, self.scale = broadcast_all(probs, loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(SpikeAndSlab, _instance)
        batch_shape = torch.Size(batch_shape)
        new.probs = self.probs.expand(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        super(SpikeAndSlab, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def slab(self):
        """The Gaussian slab ``N(μ, σ²)``."""
        return Normal(self.loc, self.scale)

    @property
    def mean(self):
        return self.probs * self.loc

    @property
    def mode(self):
        """``μ·1[γ > ½]``: the most probable gate and, on it, the slab's mode."""
        return torch.where(self.probs > 0.5, self.loc, torch.zeros_like(self.loc))

    @property
    def median(self):
        """The median of ``z``: zero unless the slab's mass on one side of zero exceeds ½.

        With ``P(z < 0) = γΦ(−μ/σ)``: ``μ + σΦ⁻¹(1/(2γ))`` when that is at
        least ½, ``μ + σΦ⁻¹(1 − 1/(2γ))`` when ``P(z ≤ 0) < ½``, else 0.
        """
        gamma = self.probs.clamp(min=_PROB_EPS)
        below = gamma * torch.special.ndtr(-self.loc / self.scale)

        def slab_quantile(p):
            return self.loc + self.scale * torch.special.ndtri(p.clamp(_UNIFORM_EPS, 1.0 - _UNIFORM_EPS))

        negative = slab_quantile(0.5 / gamma)
        positive = slab_quantile(1.0 - 0.5 / gamma)
        zero = torch.zeros_like(self.loc)
        return torch.where(below >= 0.5, negative,
                           torch.where(below + 1.0 - gamma < 0.5, positive, zero))

    @property
    def variance(self):
        return self.probs * (self.scale**2 + self.loc**2) - (self.probs * self.loc) ** 2

    def log_prob(self, value):
        gamma = self.probs.clamp(_PROB_EPS, 1.0 - _PROB_EPS)
        slab = torch.log(gamma) + self.slab.log_prob(value)
        return torch.where(value == 0, torch.log1p(-gamma), slab)

    def _draw(self, sample_shape, generator, noise_shape, exact):
        on = _standard_noise("uniform", noise_shape, generator, self.loc) < self.probs
        slab = rsample(self.slab, sample_shape, generator, noise_shape=noise_shape)
        return torch.where(on, slab, torch.zeros_like(slab))


@register_kl(SpikeAndSlab, SpikeAndSlab)
def _kl_spike_slab_spike_slab(q, p):
    """KL(q ‖ p) between spike-and-slab distributions, in closed form (elementwise).

    Spike and slab have disjoint supports (a point mass and a density), so

    .. math::

        \\mathrm{KL} = \\gamma\\log\\frac{\\gamma}{\\alpha}
        + (1-\\gamma)\\log\\frac{1-\\gamma}{1-\\alpha}
        + \\gamma\\,\\mathrm{KL}(N(\\mu,\\sigma^2)\\,\\|\\,N(\\mu_p,\\sigma_p^2)),

    with ``γ`` (q's slab probability) and ``α`` (p's) clamped to
    ``[1e-6, 1 − 1e-6]`` inside the logarithms (Tonolini et al., paper 004).
    """
    gamma, alpha = q.probs, p.probs
    gamma_c = gamma.clamp(_PROB_EPS, 1.0 - _PROB_EPS)
    alpha_c = alpha.clamp(_PROB_EPS, 1.0 - _PROB_EPS)
    bernoulli = gamma * (torch.log(gamma_c) - torch.log(alpha_c)) + (1.0 - gamma) * (
        torch.log1p(-gamma_c) - torch.log1p(-alpha_c)
    )
    return bernoulli + gamma * torch.distributions.kl_divergence(q.slab, p.slab)


# ----------------------------------------------------- thresholded priors (003)
def shifted_soft_threshold(s, loc, threshold):
    """Paper 003's shifted soft-threshold of a sample ``s`` around its mean ``μ``.

    ``h(s) = 0`` where ``|s − μ| ≤ λ`` and ``s − λ·sign(s − μ)`` elsewhere:
    the probability mass within ``λ`` of the mean collapses to zero and the
    rest shifts towards ``μ`` by ``λ``, so the non-zero values are centred
    on ``μ`` again (Fallah & Rozell 2022, Fig. 2).  For ``μ = 0`` it is the
    ordinary soft-threshold ``T_λ``.  With ``s ~ Laplace(μ, b)`` the result is
    exactly spike-and-slab: zero with probability ``1 − exp(−λ/b)``, else
    ``Laplace(μ, b)`` (the Laplace tail is memoryless).

    Parameters
    ----------
    s : torch.Tensor
        Samples of the base distribution.
    loc : torch.Tensor or float
        Its mean ``μ``, broadcastable to ``s``.
    threshold : torch.Tensor or float
        ``λ ≥ 0``, broadcastable to ``s``.

    Returns
    -------
    torch.Tensor
        ``h(s)``, with exact zeros.
    """
    noise = s - loc
    shrunk = soft_threshold(noise, threshold)
    return torch.where(shrunk != 0, loc + shrunk, torch.zeros_like(shrunk))


def straight_through_threshold(s, loc, threshold):
    """Shifted soft-threshold with a straight-through gradient (paper 003).

    Returns ``z = s + h(sg[s]) − sg[s]``, where ``h`` is
    :func:`shifted_soft_threshold` around the (stopped) mean ``μ`` and ``sg``
    stops gradients.  The forward value is ``h(s)`` up to rounding (exact
    zeros where ``|s − μ| ≤ λ``); the gradient with respect to ``s`` is the
    identity everywhere, so the inference network still learns where a unit
    is switched off; ``λ`` receives ``∂h/∂λ = −sign(s − μ)`` where the code is on.

    Parameters
    ----------
    s : torch.Tensor
        Samples of the base distribution.
    loc : torch.Tensor or float
        The base distribution's mean ``μ``, broadcastable to ``s``.
    threshold : float or torch.Tensor
        Non-negative threshold ``λ``, broadcastable to ``s``.

    Returns
    -------
    torch.Tensor
        The thresholded sample.
    """
    s_stopped = s.detach()
    loc = loc.detach() if torch.is_tensor(loc) else loc
    return s + shifted_soft_threshold(s_stopped, loc, threshold) - s_stopped


class Thresholded(_GeneratorSampled):
    """Distribution of ``z = h(s)``, ``s ~ base``, with ``h`` the shifted soft-threshold.

    The thresholded priors and posteriors of Fallah & Rozell (paper 003): the
    base is a Laplace or a Gaussian with mean ``μ``; ``h`` zeroes a sample
    within ``λ`` of ``μ`` and shifts the rest towards ``μ`` by ``λ``
    (:func:`shifted_soft_threshold`).  The threshold is fixed, or itself
    random — a distribution (paper 003's Gamma), drawn independently of ``s``
    with every sample.  ``z`` is a spike-and-slab variable with slab
    probability :attr:`probs` and a slab symmetric about ``μ`` (for a Laplace
    base, exactly ``Laplace(μ, b)``).  :meth:`rsample` uses the
    straight-through :func:`straight_through_threshold`; :meth:`sample` is exact.

    Parameters
    ----------
    base : torch.distributions.Normal or torch.distributions.Laplace
        Distribution of ``s``.
    threshold : float, torch.Tensor or torch.distributions.Distribution
        ``λ ≥ 0``, broadcastable to the base's batch shape, or a distribution
        of ``λ`` (e.g. a :class:`~torch.distributions.Gamma`).
    """

    arg_constraints: ClassVar[dict] = {}
    support = constraints.real
    has_rsample = True

    def __init__(self, base, threshold, validate_args=None):
        self.base = base
        self.threshold = threshold
        super().__init__(base.batch_shape, validate_args=False)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Thresholded, _instance)
        new.base = self.base.expand(batch_shape)
        new.threshold = (self.threshold.expand(batch_shape) if self._learned_threshold
                         else self.threshold)
        super(Thresholded, new).__init__(new.base.batch_shape, validate_args=False)
        return new

    @property
    def _learned_threshold(self):
        return isinstance(self.threshold, Distribution)

    @property
    def _plugin_threshold(self):
        # A random threshold enters the summaries below at its mean.
        return self.threshold.mean if self._learned_threshold else self.threshold

    @property
    def probs(self):
        """Slab probability ``P(z ≠ 0) = P(|s − μ| > λ)``.

        ``exp(−λ/b)`` for a ``Laplace(μ, b)`` base, ``erfc(λ/(σ√2))`` for
        ``N(μ, σ²)``; a random threshold enters at its mean.
        """
        threshold = self._plugin_threshold
        if isinstance(self.base, Laplace):
            return torch.exp(-threshold / self.base.scale)
        return torch.erfc(threshold / (self.base.scale * math.sqrt(2.0)))

    @property
    def mean(self):
        return self.probs * self.base.mean

    @property
    def median(self):
        """Median of ``z``: a soft-threshold of ``μ``, with exact zeros.

        Zero unless ``γ > ½``; then ``sign(μ)·max(|μ| − t, 0)`` with ``t`` the
        distance from ``μ`` of the slab's ``1 − 1/(2γ)`` quantile:
        ``σ·log(γ/(2γ − 1))`` for a Laplace base, ``σ√2·erfinv(2 − 2γ) − λ``
        for a Gaussian one.  ``t → 0`` (the median tends to ``μ``) as
        ``λ → 0``.  A random threshold enters at its mean.
        """
        loc, scale = self.base.loc, self.base.scale
        gamma = self.probs
        on = gamma > 0.5
        gamma_on = torch.where(on, gamma, torch.ones_like(gamma))  # keeps the logs finite
        if isinstance(self.base, Laplace):
            shrink = scale * torch.log(gamma_on / (2.0 * gamma_on - 1.0))
        else:
            shrink = (scale * math.sqrt(2.0) * torch.erfinv(2.0 - 2.0 * gamma_on)
                      - self._plugin_threshold)
        return torch.where(on, soft_threshold(loc, shrink.clamp(min=0.0)), torch.zeros_like(loc))

    def _draw(self, sample_shape, generator, noise_shape, exact):
        s = rsample(self.base, sample_shape, generator, noise_shape=noise_shape)
        threshold = self.threshold
        if self._learned_threshold:
            threshold = rsample(threshold, sample_shape, generator, noise_shape=noise_shape)
        if exact:
            return shifted_soft_threshold(s, self.base.mean, threshold)
        return straight_through_threshold(s, self.base.mean, threshold)


@register_kl(Thresholded, Thresholded)
def _kl_thresholded_thresholded(q, p):
    """Paper 003's KL between two thresholded distributions.

    ``KL(q.base ‖ p.base)``, the KL of the base distributions that Fallah &
    Rozell train with, plus, for random thresholds, ``KL(q.threshold ‖
    p.threshold)``: the KL of the pair ``(s, λ)``.  It is a surrogate: the
    thresholds shift around different means on the two sides, so it is not
    in general a bound on the KL of the thresholded variables.  Fixed
    thresholds must be equal on both sides (``ValueError`` otherwise).
    """
    base = torch.distributions.kl_divergence(q.base, p.base)
    if q._learned_threshold and p._learned_threshold:
        return base + torch.distributions.kl_divergence(q.threshold, p.threshold)
    same = q.threshold is p.threshold
    if not same and not (q._learned_threshold or p._learned_threshold):
        same = bool(torch.all(torch.as_tensor(q.threshold) == torch.as_tensor(p.threshold)))
    if not same:
        raise ValueError("KL(Thresholded ‖ Thresholded) needs the same threshold on both "
                         "sides, or random thresholds on both.")
    return base


def gamma_threshold_prior(mean, concentration=3.0, *, dtype=torch.float32, device=None):
    """Gamma prior on a threshold with the given mean: ``Gamma(k, k/λ₀)``.

    Paper 003's code uses ``k = 3`` (``Gamma(3, 3/λ₀)`` in
    ``model/vi_encoder.py`` of kfallah/variational-sparse-coding);
    ``torch.distributions.kl_divergence`` between two
    :class:`~torch.distributions.Gamma` distributions is registered by torch.

    Parameters
    ----------
    mean : float or torch.Tensor
        ``λ₀ > 0``.
    concentration : float, default=3.0
        Shape ``k``: larger concentrates the thresholds around ``λ₀``.
    dtype : torch.dtype, default=torch.float32
        Dtype of the parameters.
    device : torch.device or None, default=None
        Device of the parameters.

    Returns
    -------
    torch.distributions.Gamma
    """
    mean = torch.as_tensor(mean, dtype=dtype, device=device)
    concentration = torch.full_like(mean, float(concentration))
    return Gamma(concentration, concentration / mean)
