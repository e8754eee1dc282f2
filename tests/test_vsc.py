"""VariationalSparseCoder and its priors (papers 003 and 004)."""

import math

import numpy as np
import pytest
from scipy.special import erfc
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from skvsc import VariationalSparseCoder
from skvsc.priors import (
    SpikeAndSlab,
    Thresholded,
    gamma_threshold_prior,
    rsample,
    shifted_soft_threshold,
    straight_through_threshold,
)
from skvsc.solvers import soft_threshold

N_MC = 200_000


@pytest.fixture(autouse=True)
def _one_thread():
    # Small models on a shared 2-core machine run far faster single-threaded.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def _mc_mean(values):
    values = values.double()
    return float(values.mean()), float(values.std() / math.sqrt(values.numel()))


# ------------------------------------------------------------------ priors
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


# --------------------------------------------------------------- estimator
def _small(**params):
    defaults = dict(n_components=12, hidden_layer_sizes=(32,), max_epochs=4, batch_size=32,
                    device="cpu", random_state=0)
    return VariationalSparseCoder(**{**defaults, **params})


def test_estimator_gradient_reaches_loc_where_all_codes_are_zero(digits):
    X = digits[0][:64]
    vsc = _small(lam=1e3, beta=0.0, max_epochs=1).fit(X)
    assert np.all(vsc.transform(X) == 0)
    vsc.module_.train()
    vsc.module_.zero_grad()
    vsc._batch_loss(vsc._to_tensor(X)).backward()
    loc_head = vsc.module_.encoder.heads[0]
    assert loc_head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("prior", ["spike_slab", "thresholded_laplace"])
def test_warmups_follow_their_per_iteration_schedule(digits, prior):
    X = digits[0][:200]
    seen = []

    class Recording(VariationalSparseCoder):
        def _draw_codes(self, params, n_draws):
            if self.module_.training:
                seen.append((self.n_steps_, self._sharpness(), self._noise_scale()))
            return super()._draw_codes(params, n_draws)

    warmup = 17
    vsc = Recording(prior=prior, n_components=8, hidden_layer_sizes=(16,), batch_size=32,
                    max_epochs=5, n_iter_no_change=100, validation_fraction=0.0,
                    warmup_steps=warmup, device="cpu", random_state=0).fit(X)
    steps = [step for step, _, _ in seen]
    assert steps == list(range(vsc.n_steps_)) and vsc.n_steps_ == 5 * math.ceil(200 / 32)
    for step, sharpness, noise in seen:
        fraction = min(step / warmup, 1.0)
        assert sharpness == pytest.approx(50 + 150 * fraction)
        assert noise == pytest.approx(0.1 + 0.9 * fraction)
    # Per iteration, not per epoch: c changes within the first epoch.
    assert len({sharpness for step, sharpness, _ in seen if step < 7}) == 7
    assert seen[-1][1] == 200.0
    # partial_fit keeps counting.
    vsc.partial_fit(X)
    assert vsc.n_steps_ == 6 * math.ceil(200 / 32)


def test_kl_warmup_anneals_the_training_kl_weight(digits):
    X = digits[0][:200]
    seen = []

    class Recording(VariationalSparseCoder):
        def _kl(self, params):
            seen.append((self.module_.training, self.n_steps_, self._kl_weight()))
            return super()._kl(params)

    vsc = Recording(prior="spike_slab", alpha=0.05, beta=0.7, kl_warmup_steps=10,
                    n_components=8, hidden_layer_sizes=(16,), batch_size=32, max_epochs=3,
                    n_iter_no_change=100, validation_fraction=0.2, device="cpu",
                    random_state=0).fit(X)
    training = [(step, weight) for is_training, step, weight in seen if is_training]
    assert [step for step, _ in training] == list(range(vsc.n_steps_))
    for step, weight in training:
        assert weight == pytest.approx(0.7 * min(step / 10, 1.0))
    # Validation always weighs the KL by beta.
    assert {weight for is_training, _, weight in seen if not is_training} == {0.7}

    # The training loss uses the weight: at step 0 it is the loss with beta = 0.
    def loss(**params):
        vsc.set_params(**params)
        vsc.n_steps_ = 0
        vsc._generator.manual_seed(5)
        with torch.no_grad():
            return float(vsc._batch_loss(vsc._to_tensor(X[:32])))
    vsc.module_.train()
    annealed, no_kl = loss(kl_warmup_steps=10), loss(beta=0.0)
    full = loss(beta=0.7, kl_warmup_steps=0)
    assert annealed == no_kl and full > no_kl


@pytest.mark.parametrize("params", [
    dict(prior="thresholded_laplace", lam=0.2),
    dict(prior="thresholded_gaussian", decoder="linear", lam=0.2),
    dict(prior="thresholded_laplace", learn_threshold=True, n_draws=3, lam=0.2),
    dict(prior="spike_slab", alpha=0.1),
])
def test_transform_is_deterministic_and_truly_sparse(digits, params):
    X = digits[0][:300]
    vsc = _small(**params).fit(X)
    codes = vsc.transform(X)
    assert codes.shape == (300, 12) and codes.dtype == np.float64
    assert (codes == 0).mean() > 0.05 and (codes != 0).any()
    np.testing.assert_array_equal(codes, vsc.transform(X))
    np.testing.assert_allclose(codes[:7], vsc.transform(X[:7]), rtol=1e-6, atol=1e-6)
    # Reference: the code rule applied to the encoder's posterior parameters.
    with torch.no_grad():
        post = vsc._posterior(vsc._to_tensor(X))
    loc = post["loc"].numpy()
    if params["prior"] == "spike_slab":
        expected = np.where(post["gamma"].numpy() > 0.5, loc, 0.0)
    else:
        # The posterior median of z: with γ = P(|s − μ| > λ) and F the slab's
        # CDF, zero if (1 − γ) + γ·F(0) ≥ ½, else the slab's point where
        # γ·F(t) + 1 − γ = ½ — by bisection here, not the closed form.
        lam = vsc.lam
        if params.get("learn_threshold"):
            lam = (post["gamma_shape"] / post["gamma_rate"]).numpy()
        scale = post["scale"].numpy()
        if params["prior"] == "thresholded_laplace":
            gamma = np.exp(-lam / scale)
            below = lambda t: 0.5 * np.exp(-np.abs(t - loc) / scale)  # noqa: E731  F(t), t < μ
        else:
            gamma = erfc(lam / (scale * np.sqrt(2.0)))
            below = lambda t: 0.5 * erfc((np.abs(t - loc) + lam) / (scale * np.sqrt(2.0))) / gamma  # noqa: E731
        # By symmetry, work with |μ| and restore the sign.
        sign, loc = np.sign(loc), np.abs(loc)
        zero = (1 - gamma) + gamma * below(0.0) >= 0.5
        low, high = np.zeros_like(loc), loc.copy()
        for _ in range(60):
            mid = 0.5 * (low + high)
            too_low = (1 - gamma) + gamma * below(mid) < 0.5
            low, high = np.where(too_low, mid, low), np.where(too_low, high, mid)
        expected = np.where(zero, 0.0, sign * 0.5 * (low + high))
    np.testing.assert_allclose(codes, expected, rtol=1e-5, atol=1e-6)


def test_plain_baselines_give_dense_codes(digits):
    for prior in ("gaussian", "laplace"):
        codes = _small(prior=prior, max_epochs=2).fit(digits[0][:200]).transform(digits[0][:50])
        assert np.all(codes != 0)


def test_inverse_transform_sample_and_components(digits):
    X = digits[0][:300]
    vsc = _small(decoder="linear", max_epochs=6).fit(X)
    codes = vsc.transform(X)
    recon = vsc.inverse_transform(codes)
    assert recon.shape == X.shape
    # Linear decoder: inverse_transform is the code times the dictionary.
    np.testing.assert_allclose(recon, codes @ vsc.components_, rtol=1e-4, atol=1e-4)
    assert np.mean((recon - X) ** 2) < np.mean((X - X.mean(0)) ** 2) + np.mean(X.mean(0) ** 2)
    first = vsc.sample(5, random_state=1)
    assert first.shape == (5, 64)
    np.testing.assert_array_equal(first, vsc.sample(5, random_state=1))
    assert not np.array_equal(first, vsc.sample(5, random_state=2))
    mlp = _small(prior="spike_slab", likelihood="bernoulli").fit(X / 16.0)
    samples = mlp.sample(4, random_state=0)
    assert np.all((samples >= 0) & (samples <= 1))
    assert mlp.components_.shape == (12, 64)


@pytest.mark.parametrize("prior", ["gaussian", "spike_slab", "thresholded_laplace"])
def test_sample_posterior_matches_the_posterior_in_closed_form(digits, prior):
    # Monte Carlo moments of the draws against the encoder's posterior parameters:
    # Gaussian mean and variance; spike-and-slab P(z != 0) = γ; thresholded
    # Laplace P(z = 0) = P(|s − μ| <= λ) = 1 − exp(−λ/σ).
    X = digits[0][:200]
    vsc = _small(prior=prior, max_epochs=3).fit(X)
    n_draws = 4000
    draws = vsc.sample_posterior(X[:5], n_draws=n_draws, random_state=0)
    assert draws.shape == (n_draws, 5, 12) and draws.dtype == X.dtype
    np.testing.assert_array_equal(draws, vsc.sample_posterior(X[:5], n_draws, random_state=0))
    assert not np.array_equal(draws, vsc.sample_posterior(X[:5], n_draws, random_state=1))
    with torch.no_grad():
        post = {k: v.double().numpy() for k, v in vsc._posterior(vsc._to_tensor(X[:5])).items()}
    loc, scale = post["loc"], post["scale"]
    if prior == "gaussian":
        mean_err = scale / math.sqrt(n_draws)
        assert np.all(np.abs(draws.mean(0) - loc) < 5 * mean_err)
        np.testing.assert_allclose(draws.std(0), scale, rtol=0.1)
        return
    if prior == "spike_slab":
        p = post["gamma"]
        frequency = (draws != 0).mean(0)
    else:
        p = np.exp(-vsc.lam / scale)
        frequency = (draws != 0).mean(0)
        # On the support the draws are Laplace(μ, σ): centred on μ.
        on = draws != 0
        slab_mean = np.where(on, draws, 0).sum(0) / np.maximum(on.sum(0), 1)
        enough = on.sum(0) > 200
        assert enough.any()
        err = scale * np.sqrt(2.0 / np.maximum(on.sum(0), 1))
        assert np.all(np.abs(slab_mean - loc)[enough] < 6 * err[enough])
    err = np.sqrt(p * (1 - p) / n_draws) + 1e-3
    assert np.all(np.abs(frequency - p) < 5 * err)
    assert 0 < (draws == 0).mean() < 1


def test_bernoulli_likelihood_rejects_data_outside_unit_interval(digits):
    with pytest.raises(ValueError, match=r"X in \[0, 1\]"):
        _small(likelihood="bernoulli").fit(digits[0][:50])


def test_learn_threshold_needs_positive_lam(digits):
    with pytest.raises(ValueError, match="lam > 0"):
        _small(learn_threshold=True, lam=0.0).fit(digits[0][:50])


def test_score_matches_the_exact_elbo_of_a_linear_gaussian_model(digits):
    # Gaussian posterior, linear decoder, fixed noise: the ELBO has a closed form,
    # E‖x − zD‖² = ‖x − μD‖² + Σₖ σₖ²‖dₖ‖².
    X = digits[0][:300] / 16.0
    vsc = _small(prior="gaussian", decoder="linear", noise_std=0.5, max_epochs=5).fit(X)
    with torch.no_grad():
        post = vsc._posterior(vsc._to_tensor(X))
        D = vsc.module_.decoder.atoms
        mu, sigma = post["loc"], post["scale"]
        fit = ((vsc._to_tensor(X) - mu @ D) ** 2).sum(1) + (sigma**2 @ (D**2).sum(1))
        d = X.shape[1]
        kl = torch.distributions.kl_divergence(torch.distributions.Normal(mu, sigma),
                                               torch.distributions.Normal(0.0, 1.0)).sum(1)
        exact = -fit / (2 * 0.25) - 0.5 * d * math.log(2 * math.pi * 0.25) - kl
    scores = vsc.score_samples(X)
    assert abs(scores.mean() - float(exact.mean())) < 0.02 * abs(float(exact.mean()))
    assert vsc.score(X) == pytest.approx(scores.mean())


def test_same_random_state_same_model(digits):
    X = digits[0][:200]
    first = _small(prior="spike_slab", n_draws=2).fit(X).transform(X)
    second = _small(prior="spike_slab", n_draws=2).fit(X).transform(X)
    np.testing.assert_array_equal(first, second)


# ---------------------------------------------------- the user's pipeline
def test_default_pipeline_on_digits_is_well_above_chance(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline([("vsc", VariationalSparseCoder(random_state=0)),
                     ("clf", LogisticRegression(max_iter=2000))])
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.85  # chance is 0.1
    codes = pipe.named_steps["vsc"].transform(X_test)
    assert (codes == 0).mean() > 0.3


def test_pipeline_grid_search_in_parallel(digits):
    X_train, X_test, y_train, y_test = digits
    vsc = VariationalSparseCoder(n_components=32, max_epochs=10, warmup_steps=20, random_state=0)
    pipe = Pipeline([("vsc", vsc), ("clf", LogisticRegression(max_iter=1000))])
    grid = {"vsc__lam": [0.25, 0.5], "vsc__beta": [0.5, 1.0]}
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X_train[:600], y_train[:600])
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.5  # chance is 0.1
    assert search.score(X_test, y_test) > 0.6


def test_spike_slab_pipeline_grid_search_over_alpha(digits):
    X_train, X_test, y_train, y_test = digits
    vsc = VariationalSparseCoder(prior="spike_slab", n_components=32, max_epochs=10,
                                 warmup_steps=20, random_state=0)
    pipe = Pipeline([("vsc", vsc), ("clf", LogisticRegression(max_iter=1000))])
    search = GridSearchCV(pipe, {"vsc__alpha": [0.1, 0.5]}, cv=2).fit(X_train[:600], y_train[:600])
    assert search.best_params_["vsc__alpha"] in (0.1, 0.5)
    assert search.best_score_ > 0.3


def test_unsupervised_grid_search_uses_the_elbo(digits):
    X = digits[0][:400]
    grid = GridSearchCV(_small(max_epochs=3), {"lam": [0.25, 1.0]}, cv=2).fit(X)
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
