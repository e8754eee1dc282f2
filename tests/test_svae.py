"""SVAE and its priors, checked against independent references."""

import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from sklearn.utils._param_validation import InvalidParameterError

from skvsc import SVAE
from skvsc.metrics import active_units
from skvsc.kl import _kl_normal_laplace, kl_divergence, monte_carlo_kl, quadrature_kl
from skvsc.priors import make_prior, rsample

FAST = dict(encoder="mlp", hidden_layer_sizes=(16,), device="cpu", random_state=0)


def _planted(n_samples=300, n_features=12, n_components=8, seed=0):
    """Sparse Laplace codes through a random unit-norm dictionary, plus noise."""
    rng = np.random.default_rng(seed)
    atoms = rng.normal(size=(n_components, n_features))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    codes = rng.laplace(scale=1.0, size=(n_samples, n_components))
    codes *= rng.random((n_samples, n_components)) < 0.3
    return codes @ atoms + 0.05 * rng.normal(size=(n_samples, n_features))


# ---------------------------------------------------------------- priors / KL
@settings(max_examples=25, deadline=None)
@given(
    mu=st.floats(-2.0, 2.0),
    sigma=st.floats(0.05, 2.0),
    b=st.floats(0.05, 2.0),
)
def test_kl_normal_laplace_matches_monte_carlo(mu, sigma, b):
    q = torch.distributions.Normal(torch.tensor(mu, dtype=torch.float64),
                                   torch.tensor(sigma, dtype=torch.float64))
    p = torch.distributions.Laplace(torch.tensor(0.0, dtype=torch.float64),
                                    torch.tensor(b, dtype=torch.float64))
    analytic = float(_kl_normal_laplace(q, p))
    generator = torch.Generator().manual_seed(0)
    z = mu + sigma * torch.randn(400_000, generator=generator, dtype=torch.float64)
    log_ratio = q.log_prob(z) - p.log_prob(z)
    estimate = float(log_ratio.mean())
    stderr = float(log_ratio.std()) / math.sqrt(z.numel())
    assert analytic == pytest.approx(estimate, abs=5 * stderr + 1e-9)
    assert analytic >= 0.0


def test_kl_normal_laplace_is_registered_in_torch():
    q = torch.distributions.Normal(torch.tensor([0.3, -1.0]), torch.tensor([0.2, 0.7]))
    p = make_prior("laplace", 0.1)
    torch.testing.assert_close(torch.distributions.kl_divergence(q, p), _kl_normal_laplace(q, p))
    # Matches the same quantity integrated numerically by scipy.
    for loc, scale in [(0.3, 0.2), (-1.0, 0.7)]:
        def integrand(z):
            return stats.norm.pdf(z, loc, scale) * (
                stats.norm.logpdf(z, loc, scale) - stats.laplace.logpdf(z, 0.0, 0.1))
        reference, _ = integrate.quad(integrand, loc - 12 * scale, loc + 12 * scale,
                                      points=[0.0], limit=200)
        value = float(_kl_normal_laplace(torch.distributions.Normal(loc, scale), p))
        assert value == pytest.approx(reference, rel=1e-4)


@pytest.mark.parametrize("loc,scale,gamma", [(0.0, 0.1, 0.1), (0.5, 0.2, 0.1), (-1.0, 1.0, 1.0)])
def test_cauchy_kl_quadrature_and_monte_carlo_match_scipy(loc, scale, gamma):
    q = torch.distributions.Normal(torch.tensor(loc, dtype=torch.float64),
                                   torch.tensor(scale, dtype=torch.float64))
    p = torch.distributions.Cauchy(torch.tensor(0.0, dtype=torch.float64),
                                   torch.tensor(gamma, dtype=torch.float64))

    def integrand(z):
        return stats.norm.pdf(z, loc, scale) * (
            stats.norm.logpdf(z, loc, scale) - stats.cauchy.logpdf(z, 0.0, gamma))

    reference, _ = integrate.quad(integrand, loc - 12 * scale, loc + 12 * scale, limit=200)
    assert float(quadrature_kl(q, p)) == pytest.approx(reference, abs=2e-3)
    # No closed form is registered, so kl_divergence falls back: quadrature
    # without a generator, an unbiased Monte Carlo estimate with one.
    assert float(kl_divergence(q, p)) == pytest.approx(reference, abs=2e-3)
    generator = torch.Generator().manual_seed(1)
    estimate = float(kl_divergence(q, p, n_samples=200_000, generator=generator))
    assert estimate == pytest.approx(reference, abs=0.01)
    assert float(monte_carlo_kl(q, p, 10, torch.Generator().manual_seed(2))) != estimate


@pytest.mark.parametrize("name,variance", [("laplace", 2.0), ("gaussian", 1.0)])
def test_prior_scale_is_one_over_lam(name, variance):
    prior = make_prior(name, 0.5)
    z = rsample(prior, (200_000,), torch.Generator().manual_seed(0)).double()
    assert float(z.var()) == pytest.approx(variance * 0.25, rel=0.03)
    assert torch.isfinite(rsample(make_prior("cauchy", 0.5), (10_000,),
                                      torch.Generator().manual_seed(0))).all()


# --------------------------------------------------------------- estimator
class _RecordingSVAE(SVAE):
    """Records the decoder's column norms after every optimiser step."""

    def _after_step(self):
        super()._after_step()
        self.recorded_norms_ = getattr(self, "recorded_norms_", [])
        weight = self.module_.decoder.weight.detach()
        self.recorded_norms_.append(torch.linalg.vector_norm(weight, dim=0).numpy().copy())


def test_unit_norm_columns_after_every_step():
    X = _planted()
    model = _RecordingSVAE(n_components=8, max_epochs=3, batch_size=32, lam=2.0,
                           learning_rate=1e-2, **FAST).fit(X)
    norms = np.array(model.recorded_norms_)
    assert len(norms) == model.n_steps_ > 10
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(model.components_, axis=1), 1.0, atol=1e-5)
    # Without the projection, the same training moves the norms away from 1.
    free = _RecordingSVAE(n_components=8, max_epochs=3, batch_size=32, lam=2.0,
                          learning_rate=1e-2, normalize_decoder=False, **FAST).fit(X)
    assert np.abs(np.array(free.recorded_norms_)[-1] - 1.0).max() > 0.05


def test_elbo_rises_on_small_data():
    X = _planted()
    params = dict(n_components=8, lam=2.0, noise_std=0.2, batch_size=32,
                  learning_rate=5e-3, validation_fraction=0.0, **FAST)
    short = SVAE(max_epochs=1, **params).fit(X)
    long = SVAE(max_epochs=40, n_iter_no_change=40, **params).fit(X)
    assert long.score(X) > short.score(X) + 1.0
    losses = long.history_["train_loss"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    # The reconstruction of the posterior mean improves as well.
    def mse(model):
        return np.mean((model.inverse_transform(model.transform(X)) - X) ** 2)
    assert mse(long) < 0.5 * mse(short)


def test_score_is_the_elbo():
    """score_samples equals a large Monte Carlo ELBO computed from scratch."""
    X = _planted(n_samples=5)
    model = SVAE(n_components=8, lam=2.0, noise_std=0.3, max_epochs=2, **FAST).fit(X)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        q = model.module_.posterior(Xt)
        q = torch.distributions.Normal(q.loc.double(), q.scale.double())
        generator = torch.Generator().manual_seed(0)
        eps = torch.randn((200_000, *q.loc.shape), generator=generator, dtype=torch.float64)
        z = q.loc + q.scale * eps
        U = torch.as_tensor(model.components_, dtype=torch.float64)
        log_lik = torch.distributions.Normal(z @ U, 0.3).log_prob(Xt.double()).sum(-1)
        log_prior = torch.distributions.Laplace(0.0, 1 / 2.0).log_prob(z).sum(-1)
        log_q = q.log_prob(z).sum(-1)
        terms = log_lik + log_prior - log_q
        elbo = terms.mean(0).numpy()
        stderr = (terms.std(0) / math.sqrt(terms.shape[0])).numpy()
    assert np.all(np.abs(model.score_samples(X) - elbo) < 5 * stderr + 1e-4 * np.abs(elbo))


def test_transform_is_posterior_mean_and_inverse_is_linear():
    X = _planted(n_samples=50)
    model = SVAE(n_components=8, max_epochs=2, **FAST).fit(X)
    Z = model.transform(X)
    np.testing.assert_array_equal(Z, model.transform(X))
    with torch.no_grad():
        mu = model.module_.posterior(torch.as_tensor(X, dtype=torch.float32)).loc.numpy()
    np.testing.assert_allclose(Z, mu, rtol=1e-6)
    np.testing.assert_allclose(model.inverse_transform(Z), Z @ model.components_, rtol=1e-4,
                               atol=1e-6)


def test_sample_shape_reproducibility_and_covariance():
    X = _planted()
    model = SVAE(n_components=8, lam=2.0, max_epochs=1, **FAST).fit(X)
    assert model.sample(7, random_state=0).shape == (7, X.shape[1])
    np.testing.assert_array_equal(model.sample(5, random_state=3),
                                  model.sample(5, random_state=3))
    assert not np.allclose(model.sample(5, random_state=3), model.sample(5, random_state=4))
    # Decoded prior samples: covariance Var(z)·U Uᵀ, with Var(z) = 2/lam² for Laplace.
    samples = model.sample(200_000, random_state=0)
    U = model.components_.astype(np.float64)
    expected = (2.0 / 2.0**2) * U.T @ U
    np.testing.assert_allclose(np.cov(samples.T), expected, atol=0.02 * np.abs(expected).max())
    with pytest.raises(InvalidParameterError):
        model.sample(0)


def test_sample_posterior_draws_the_gaussian_posterior():
    # Moments of the draws against q(z|x) = N(μ, σ²), and the mean squared error of
    # sampled reconstructions against its closed form ‖x − Uμ‖² + Σₖ σₖ²‖uₖ‖².
    X = _planted(n_samples=6)
    model = SVAE(n_components=8, lam=2.0, noise_std=0.3, max_epochs=2, **FAST).fit(X)
    n_draws = 20_000
    draws = model.sample_posterior(X, n_draws=n_draws, random_state=0)
    assert draws.shape == (n_draws, 6, 8) and draws.dtype == X.dtype
    np.testing.assert_array_equal(draws[:3], model.sample_posterior(X, 3, random_state=0)[:3])
    assert not np.array_equal(draws[:3], model.sample_posterior(X, 3, random_state=1))
    with torch.no_grad():
        q = model.module_.posterior(torch.as_tensor(X, dtype=torch.float32))
    loc, scale = q.loc.double().numpy(), q.scale.double().numpy()
    assert np.all(np.abs(draws.mean(0) - loc) < 5 * scale / math.sqrt(n_draws))
    np.testing.assert_allclose(draws.std(0), scale, rtol=0.03)
    U = model.components_.astype(np.float64)
    squared_error = ((draws @ U - X) ** 2).sum(-1)
    expected = ((loc @ U - X) ** 2).sum(-1) + scale**2 @ (U**2).sum(1)
    stderr = squared_error.std(0) / math.sqrt(n_draws)
    assert np.all(np.abs(squared_error.mean(0) - expected) < 5 * stderr)
    with pytest.raises(InvalidParameterError):
        model.sample_posterior(X, n_draws=0)


@pytest.mark.parametrize("prior", ["cauchy", "gaussian"])
@pytest.mark.parametrize("encoder", ["linear", "resnet"])
def test_other_priors_and_encoders_train(prior, encoder):
    X = _planted(n_samples=100)
    params = {**FAST, "encoder": encoder}
    model = SVAE(n_components=6, prior=prior, max_epochs=2, n_kl_samples=4, **params).fit(X)
    assert np.isfinite(model.score(X))
    assert model.transform(X).shape == (100, 6)
    again = SVAE(n_components=6, prior=prior, max_epochs=2, n_kl_samples=4, **params).fit(X)
    np.testing.assert_array_equal(model.transform(X), again.transform(X))


def test_normalisation_keeps_units_active():
    """The paper's mechanism, in miniature: without the projection the decoder
    columns grow and the codes shrink, so fewer units pass the 0.5 threshold."""
    X = _planted(n_samples=400, n_features=16, n_components=12, seed=1) * 3.0
    params = dict(n_components=24, lam=5.0, noise_std=0.3, beta=1.0, max_epochs=30,
                  batch_size=32, learning_rate=1e-2, validation_fraction=0.0,
                  n_iter_no_change=30, **FAST)
    norm = SVAE(normalize_decoder=True, **params).fit(X)
    free = SVAE(normalize_decoder=False, **params).fit(X)
    assert np.median(np.linalg.norm(free.components_, axis=1)) > 1.0
    assert active_units(norm.transform(X)) > active_units(free.transform(X))


def test_bad_parameters_raise_clear_errors():
    X = _planted(n_samples=20)
    with pytest.raises(InvalidParameterError, match="lam"):
        SVAE(lam=0.0, **FAST).fit(X)
    with pytest.raises(InvalidParameterError, match="prior"):
        SVAE(prior="horseshoe", **FAST).fit(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        SVAE(**{**FAST, "hidden_layer_sizes": (0,)}).fit(X)


def test_pickle_round_trip():
    X = _planted(n_samples=40)
    model = SVAE(n_components=4, max_epochs=1, **FAST).fit(X)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    np.testing.assert_array_equal(loaded.sample(3, random_state=0), model.sample(3, random_state=0))
