"""The priors and posteriors of skvsc.priors: samplers, summaries and KL terms."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from skvsc.priors import (
    SpikeAndSlab,
    Thresholded,
    gamma_threshold_prior,
    rsample,
    sample,
    shifted_soft_threshold,
    straight_through_threshold,
)
from skvsc.solvers import soft_threshold

N_MC = 200_000
Gamma, Laplace, Normal = (torch.distributions.Gamma, torch.distributions.Laplace,
                          torch.distributions.Normal)


def _mc_mean(values):
    values = values.double()
    return float(values.mean()), float(values.std() / math.sqrt(values.numel()))


def _double(*values):
    return [torch.tensor(v, dtype=torch.float64) for v in values]


# ------------------------------------------------------------ spike-and-slab
@settings(max_examples=15, deadline=None)
@given(
    gamma=st.floats(0.02, 0.98),
    loc=st.floats(-2.0, 2.0),
    scale=st.floats(0.2, 2.0),
    alpha=st.floats(0.01, 0.9),
    prior_scale=st.floats(0.5, 2.0),
)
def test_spike_slab_kl_matches_monte_carlo(gamma, loc, scale, alpha, prior_scale):
    q = SpikeAndSlab(torch.tensor(gamma, dtype=torch.float64), torch.tensor(loc, dtype=torch.float64),
                     torch.tensor(scale, dtype=torch.float64))
    p = SpikeAndSlab(torch.tensor(alpha, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64),
                     torch.tensor(prior_scale, dtype=torch.float64))
    generator = torch.Generator().manual_seed(0)
    z = q.sample((N_MC,), generator=generator)
    # Independent reference: E_q[log q(z) − log p(z)] with densities w.r.t. δ₀ + Lebesgue.
    estimate, stderr = _mc_mean(q.log_prob(z) - p.log_prob(z))
    closed = float(torch.distributions.kl_divergence(q, p))
    assert abs(closed - estimate) < 5 * stderr + 1e-3


def test_spike_slab_kl_is_finite_at_the_ends():
    alpha = torch.tensor(0.1)
    prior = SpikeAndSlab(alpha, torch.tensor(0.0), torch.tensor(1.0))
    off = SpikeAndSlab(torch.tensor(0.0), torch.tensor(0.3), torch.tensor(0.5))
    on = SpikeAndSlab(torch.tensor(1.0), torch.tensor(0.3), torch.tensor(0.5))
    slab_kl = torch.distributions.kl_divergence(on.slab, prior.slab)
    assert torch.isclose(torch.distributions.kl_divergence(off, prior), -torch.log1p(-alpha))
    assert torch.isclose(torch.distributions.kl_divergence(on, prior), -torch.log(alpha) + slab_kl)


@settings(max_examples=15, deadline=None)
@given(
    shape=st.floats(0.3, 8.0),
    rate=st.floats(0.5, 20.0),
    prior_mean=st.floats(0.05, 2.0),
)
def test_gamma_kl_matches_monte_carlo(shape, rate, prior_mean):
    q = torch.distributions.Gamma(torch.tensor(shape, dtype=torch.float64),
                                  torch.tensor(rate, dtype=torch.float64))
    p = gamma_threshold_prior(prior_mean)
    assert math.isclose(float(p.mean), prior_mean, rel_tol=1e-6)
    p = torch.distributions.Gamma(p.concentration.double(), p.rate.double())
    generator = torch.Generator().manual_seed(1)
    threshold = rsample(q, (N_MC,), generator)
    sample_mean, sample_err = _mc_mean(threshold)
    assert abs(sample_mean - shape / rate) < 5 * sample_err
    estimate, stderr = _mc_mean(q.log_prob(threshold) - p.log_prob(threshold))
    closed = float(torch.distributions.kl_divergence(q, p))  # torch's registered KL
    assert abs(closed - estimate) < 5 * stderr + 1e-3


def test_gamma_rsample_is_reparameterised():
    shape = torch.tensor(2.5, requires_grad=True)
    rate = torch.tensor(4.0, requires_grad=True)
    generator = torch.Generator().manual_seed(2)
    rsample(torch.distributions.Gamma(shape, rate), (N_MC,), generator).mean().backward()
    # d E[λ] / d k = 1/r and d E[λ] / d r = −k/r².
    assert math.isclose(float(shape.grad), 1 / 4.0, rel_tol=0.03)
    assert math.isclose(float(rate.grad), -2.5 / 16.0, rel_tol=0.03)


def test_samplers_use_only_the_given_generator():
    state = torch.random.get_rng_state()
    laplace = torch.distributions.Laplace(torch.zeros(5), torch.ones(5))
    first = rsample(laplace, (3,), torch.Generator().manual_seed(3))
    second = rsample(laplace, (3,), torch.Generator().manual_seed(3))
    assert torch.equal(first, second)
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize("family", [torch.distributions.Laplace, torch.distributions.Normal])
def test_straight_through_gradient_reaches_loc_where_code_is_zero(family):
    loc = torch.linspace(-2.0, 2.0, 50, requires_grad=True)
    q = Thresholded(family(loc, torch.full((50,), 0.6)), 1.0)
    z = q.rsample((4,), generator=torch.Generator().manual_seed(4))
    weight = torch.randn(4, 50, generator=torch.Generator().manual_seed(5))
    (z * weight).sum().backward()
    zeroed = z == 0
    assert zeroed.float().mean() > 0.2 and (~zeroed).any()
    # Forward: zero within λ of the mean, else shifted towards it by λ
    # (written out here independently of the library); backward: the identity.
    s = rsample(family(loc.detach(), torch.full((50,), 0.6)), (4,), torch.Generator().manual_seed(4))
    noise = s - loc.detach()
    expected = torch.where(noise.abs() > 1.0, s - torch.sign(noise), torch.zeros_like(s))
    torch.testing.assert_close(z.detach(), expected)
    torch.testing.assert_close(loc.grad, weight.sum(dim=0))
    # Plain autograd through the threshold would stop there.
    plain_loc = loc.detach().clone().requires_grad_(True)
    plain = shifted_soft_threshold(plain_loc + noise, plain_loc, 1.0)
    (plain * weight).sum().backward()
    assert torch.all(plain_loc.grad[zeroed.all(dim=0)] == 0)


def test_shifted_soft_threshold_is_soft_threshold_at_zero_mean():
    s = torch.linspace(-3.0, 3.0, 61)
    torch.testing.assert_close(shifted_soft_threshold(s, 0.0, 0.7), soft_threshold(s, 0.7))
    # Around a mean of 2: zero on [1.3, 2.7], the rest shifted by 0.7 towards 2.
    out = shifted_soft_threshold(torch.tensor([1.0, 1.5, 2.0, 2.6, 3.0]), 2.0, 0.7)
    torch.testing.assert_close(out, torch.tensor([1.7, 0.0, 0.0, 0.0, 2.3]))


@settings(max_examples=20, deadline=None)
@given(loc=st.floats(-3.0, 3.0), scale=st.floats(0.1, 2.0), threshold=st.floats(0.0, 3.0))
def test_thresholded_laplace_is_spike_and_slab(loc, scale, threshold):
    # Paper 003's analytic result: thresholding Laplace(μ, b) around μ gives
    # zero with probability 1 − exp(−λ/b), else exactly Laplace(μ, b).
    base = torch.distributions.Laplace(torch.tensor(loc, dtype=torch.float64),
                                       torch.tensor(scale, dtype=torch.float64))
    q = Thresholded(base, threshold)
    z = q.sample((N_MC,), generator=torch.Generator().manual_seed(0))
    on = z != 0
    p = math.exp(-threshold / scale)
    assert abs(float(q.probs) - p) < 1e-12
    assert abs(float(on.double().mean()) - p) < 6 * math.sqrt(p * (1 - p) / N_MC) + 1e-9
    if on.sum() < 1000:
        return
    slab = z[on]
    # Mean μ (std b√2) and mean absolute deviation b (std b) of Laplace(μ, b).
    n = slab.numel()
    assert abs(float(slab.mean()) - loc) < 6 * scale * math.sqrt(2.0 / n)
    assert abs(float((slab - loc).abs().mean()) - scale) < 6 * scale / math.sqrt(n)
    # A Laplace has P(|z − μ| > b) = 1/e.
    tail = float(((slab - loc).abs() > scale).double().mean())
    assert abs(tail - math.exp(-1)) < 6 * math.sqrt(0.25 / n)


@settings(max_examples=20, deadline=None)
@given(loc=st.floats(-3.0, 3.0), scale=st.floats(0.1, 2.0), threshold=st.floats(0.0, 1.5),
       laplace=st.booleans())
def test_thresholded_median_matches_monte_carlo(loc, scale, threshold, laplace):
    family = torch.distributions.Laplace if laplace else torch.distributions.Normal
    q = Thresholded(family(torch.tensor(loc, dtype=torch.float64),
                           torch.tensor(scale, dtype=torch.float64)), threshold)
    z = q.sample((N_MC,), generator=torch.Generator().manual_seed(2))
    median = float(q.median)
    # The median splits the draws in half: at most ½ strictly below and
    # strictly above it (up to Monte Carlo error, 6 standard errors).
    tol = 6 * math.sqrt(0.25 / N_MC)
    assert float((z < median).double().mean()) <= 0.5 + tol
    assert float((z > median).double().mean()) <= 0.5 + tol
    if median == 0.0:
        return
    assert math.copysign(1.0, median) == math.copysign(1.0, loc) and abs(median) <= abs(loc)


def test_thresholded_gaussian_slab_probability():
    base = torch.distributions.Normal(torch.tensor([0.0, 1.5]), torch.tensor([1.0, 0.5]))
    q = Thresholded(base, 0.8)
    z = q.sample((N_MC,), generator=torch.Generator().manual_seed(1))
    expected = torch.tensor([math.erfc(0.8 / math.sqrt(2)), math.erfc(1.6 / math.sqrt(2))])
    torch.testing.assert_close(q.probs, expected)
    assert torch.all(((z != 0).double().mean(0) - expected).abs() < 0.005)
    torch.testing.assert_close(q.mean, expected * base.mean)
    # The slab is symmetric about μ, so the draws' mean is γ·μ.
    stderr = z.double().std(0) / math.sqrt(N_MC)
    assert torch.all((z.double().mean(0) - q.mean.double()).abs() < 6 * stderr)


def test_straight_through_passes_threshold_gradient():
    threshold = torch.tensor(0.5, requires_grad=True)
    s = torch.tensor([-2.0, 0.1, 1.0])
    straight_through_threshold(s, 0.0, threshold).sum().backward()
    assert float(threshold.grad) == 0.0  # −sign(s) on the two active units cancel
    threshold.grad = None
    straight_through_threshold(s.abs(), 0.0, threshold).sum().backward()
    assert float(threshold.grad) == -2.0
    threshold.grad = None
    # Around a mean of 1: −2 and 0.1 are on, both below the mean (+1 each);
    # 1.0 is at the mean, hence zero.
    straight_through_threshold(s, torch.tensor(1.0), threshold).sum().backward()
    assert float(threshold.grad) == 2.0


def test_thresholded_kl_is_base_kl():
    q = Thresholded(torch.distributions.Laplace(torch.tensor([0.5, -1.0]), torch.tensor([0.2, 1.0])), 0.3)
    p = Thresholded(torch.distributions.Laplace(torch.tensor(0.0), torch.tensor(1.0)), 0.3)
    torch.testing.assert_close(torch.distributions.kl_divergence(q, p),
                               torch.distributions.kl_divergence(q.base, p.base))
    other = Thresholded(p.base, 0.4)
    with pytest.raises(ValueError, match="same threshold"):
        torch.distributions.kl_divergence(q, other)


@settings(max_examples=20, deadline=None)
@given(gamma=st.floats(0.05, 0.95), loc=st.floats(-3.0, 3.0), scale=st.floats(0.1, 2.0))
def test_spike_slab_median_and_mode(gamma, loc, scale):
    q = SpikeAndSlab(*_double(gamma, loc, scale))
    z = q.sample((N_MC,), generator=torch.Generator().manual_seed(3))
    median = float(q.median)
    tol = 6 * math.sqrt(0.25 / N_MC)
    assert float((z < median).double().mean()) <= 0.5 + tol
    assert float((z > median).double().mean()) <= 0.5 + tol
    # The mode: the more probable gate, then the slab's mode.
    assert float(q.mode) == (loc if gamma > 0.5 else 0.0)


def test_spike_slab_expand_draws_like_broadcast_parameters():
    prior = SpikeAndSlab(*_double(0.3, 0.0, 2.0))
    expanded = prior.expand((4, 3))
    explicit = SpikeAndSlab(torch.full((4, 3), 0.3, dtype=torch.float64),
                            torch.zeros(4, 3, dtype=torch.float64),
                            torch.full((4, 3), 2.0, dtype=torch.float64))
    assert expanded.batch_shape == (4, 3)
    torch.testing.assert_close(expanded.mean, explicit.mean)
    torch.testing.assert_close(expanded.median, explicit.median)
    draws = expanded.sample((5,), torch.Generator().manual_seed(0))
    torch.testing.assert_close(draws, explicit.sample((5,), torch.Generator().manual_seed(0)))


# ---------------------------------------------------------------- sampling
@pytest.mark.parametrize("distribution,reference", [
    (Laplace(torch.tensor(0.5), torch.tensor(2.0)), stats.laplace(0.5, 2.0)),
    (Normal(torch.tensor(-1.0), torch.tensor(0.5)), stats.norm(-1.0, 0.5)),
    (torch.distributions.Cauchy(torch.tensor(0.0), torch.tensor(0.5)), stats.cauchy(0.0, 0.5)),
    (Gamma(torch.tensor(2.5), torch.tensor(4.0)), stats.gamma(2.5, scale=1 / 4.0)),
])
def test_rsample_draws_the_distribution(distribution, reference):
    # Kolmogorov–Smirnov against scipy's distribution, for the dispatched
    # families and for the shared-noise (inverse CDF) Gamma path.
    z = rsample(distribution, (20_000,), torch.Generator().manual_seed(0))
    assert torch.isfinite(z).all()
    assert stats.kstest(z.double().numpy(), reference.cdf).pvalue > 1e-3
    if isinstance(distribution, Gamma):
        shared = rsample(distribution.expand((20_000,)), (), torch.Generator().manual_seed(0),
                         noise_shape=(20_000,))
        shared_icdf = rsample(distribution.expand((2, 20_000)), (), torch.Generator().manual_seed(0),
                              noise_shape=(1, 20_000))
        torch.testing.assert_close(shared_icdf[0], shared_icdf[1])
        assert not torch.equal(shared, shared_icdf[0])  # different algorithms, same law
        assert stats.kstest(shared_icdf[0].double().numpy(), reference.cdf).pvalue > 1e-3


@pytest.mark.parametrize("make", [
    lambda loc, scale: Laplace(loc, scale),
    lambda loc, scale: SpikeAndSlab(torch.full_like(loc, 0.4), loc, scale),
    lambda loc, scale: Thresholded(Normal(loc, scale), Gamma(torch.full_like(loc, 3.0),
                                                              torch.full_like(loc, 2.0))),
])
def test_shared_noise_makes_draws_independent_of_the_batch(make):
    # Common random numbers: with noise shared along the batch, a row's draws
    # are the same whatever the other rows are.
    loc = torch.linspace(-1.0, 1.0, 12, dtype=torch.float64).reshape(4, 3)
    scale = torch.full((4, 3), 0.7, dtype=torch.float64)
    full = sample(make(loc, scale), (50,), torch.Generator().manual_seed(1), noise_shape=(50, 1, 3))
    part = sample(make(loc[2:], scale[2:]), (50,), torch.Generator().manual_seed(1),
                  noise_shape=(50, 1, 3))
    assert full.shape == (50, 4, 3)
    torch.testing.assert_close(full[:, 2:], part)


def test_thresholded_sample_is_exact_and_rsample_straight_through():
    loc = torch.linspace(-2.0, 2.0, 7, dtype=torch.float64, requires_grad=True)
    q = Thresholded(Laplace(loc, torch.full((7,), 0.8, dtype=torch.float64)), 0.5)
    exact = q.sample((100,), torch.Generator().manual_seed(2))
    base = rsample(q.base, (100,), torch.Generator().manual_seed(2)).detach()
    assert torch.equal(exact, shifted_soft_threshold(base, loc.detach(), 0.5))
    relaxed = q.rsample((100,), torch.Generator().manual_seed(2))
    torch.testing.assert_close(relaxed.detach(), exact, rtol=0, atol=1e-12)
    assert relaxed.requires_grad and not exact.requires_grad


def test_thresholded_expand_and_learned_threshold_summaries():
    threshold = gamma_threshold_prior(0.4, 3.0, dtype=torch.float64)
    prior = Thresholded(Laplace(*_double(0.0, 1.0)), threshold)
    expanded = prior.expand((6, 2))
    assert expanded.batch_shape == (6, 2) and expanded.threshold.batch_shape == (6, 2)
    # A random threshold enters probs (and the median) at its mean.
    torch.testing.assert_close(expanded.probs, torch.full((6, 2), math.exp(-0.4), dtype=torch.float64))
    z = expanded.sample((2000,), torch.Generator().manual_seed(0))
    assert z.shape == (2000, 6, 2) and (z == 0).any() and (z != 0).any()


# -------------------------------------------------------- thresholded KL
@settings(max_examples=10, deadline=None)
@given(loc=st.floats(-2.0, 2.0), scale=st.floats(0.2, 2.0), shape=st.floats(0.5, 6.0),
       rate=st.floats(0.5, 10.0), prior_mean=st.floats(0.1, 1.5))
def test_learned_threshold_kl_is_the_kl_of_the_pair(loc, scale, shape, rate, prior_mean):
    # Reference: Monte Carlo E_q[log q(s, λ) − log p(s, λ)] with s and λ independent.
    q = Thresholded(Laplace(*_double(loc, scale)), Gamma(*_double(shape, rate)))
    p = Thresholded(Laplace(*_double(0.0, 1.0)),
                    gamma_threshold_prior(prior_mean, 3.0, dtype=torch.float64))
    generator = torch.Generator().manual_seed(4)
    s = rsample(q.base, (N_MC,), generator)
    threshold = rsample(q.threshold, (N_MC,), generator)
    log_ratio = (q.base.log_prob(s) - p.base.log_prob(s)
                 + q.threshold.log_prob(threshold) - p.threshold.log_prob(threshold))
    estimate, stderr = _mc_mean(log_ratio)
    closed = float(torch.distributions.kl_divergence(q, p))
    assert abs(closed - estimate) < 5 * stderr + 1e-3
    with pytest.raises(ValueError, match="same threshold"):
        torch.distributions.kl_divergence(q, Thresholded(p.base, prior_mean))
