"""VariationalSparseCoder and its priors (papers 003 and 004)."""

import math

import numpy as np
import pytest
import torch
from scipy.special import erfc
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from skvsc import VariationalSparseCoder

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
        def _training_draws(self, q, n_draws):
            if self.module_.training:
                seen.append((self.n_steps_, self._sharpness(), self._noise_scale()))
            return super()._training_draws(q, n_draws)

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
        def _kl(self, q, p):
            seen.append((self.module_.training, self.n_steps_, self._kl_weight()))
            return super()._kl(q, p)

    vsc = Recording(prior="spike_slab", slab_probability=0.05, beta=0.7, kl_warmup_steps=10,
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
    dict(prior="spike_slab", slab_probability=0.1),
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
        q = vsc._posterior(vsc._to_tensor(X))
    if params["prior"] == "spike_slab":
        loc = q.loc.numpy()
        expected = np.where(q.probs.numpy() > 0.5, loc, 0.0)
    else:
        # The posterior median of z: with γ = P(|s − μ| > λ) and F the slab's
        # CDF, zero if (1 − γ) + γ·F(0) ≥ ½, else the slab's point where
        # γ·F(t) + 1 − γ = ½ — by bisection here, not the closed form.
        loc, scale, lam = q.base.loc.numpy(), q.base.scale.numpy(), vsc.lam
        if params.get("learn_threshold"):
            lam = (q.threshold.concentration / q.threshold.rate).numpy()
        if params["prior"] == "thresholded_laplace":
            gamma = np.exp(-lam / scale)
            below = lambda t: 0.5 * np.exp(-np.abs(t - loc) / scale)
        else:
            gamma = erfc(lam / (scale * np.sqrt(2.0)))
            below = lambda t: 0.5 * erfc((np.abs(t - loc) + lam) / (scale * np.sqrt(2.0))) / gamma
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
        q = vsc._posterior(vsc._to_tensor(X[:5]))
    slab = q if prior == "gaussian" else getattr(q, "base", q)
    loc, scale = slab.loc.double().numpy(), slab.scale.double().numpy()
    if prior == "gaussian":
        mean_err = scale / math.sqrt(n_draws)
        assert np.all(np.abs(draws.mean(0) - loc) < 5 * mean_err)
        np.testing.assert_allclose(draws.std(0), scale, rtol=0.1)
        return
    if prior == "spike_slab":
        p = q.probs.double().numpy()
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
        q = vsc._posterior(vsc._to_tensor(X))
        D = vsc.module_.decoder.atoms
        mu, sigma = q.loc, q.scale
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


def test_spike_slab_pipeline_grid_search_over_slab_probability(digits):
    X_train, X_test, y_train, y_test = digits
    vsc = VariationalSparseCoder(prior="spike_slab", n_components=32, max_epochs=10,
                                 warmup_steps=20, random_state=0)
    pipe = Pipeline([("vsc", vsc), ("clf", LogisticRegression(max_iter=1000))])
    search = GridSearchCV(pipe, {"vsc__slab_probability": [0.1, 0.5]}, cv=2)
    search.fit(X_train[:600], y_train[:600])
    assert search.best_params_["vsc__slab_probability"] in (0.1, 0.5)
    assert search.best_score_ > 0.3


def test_unsupervised_grid_search_uses_the_elbo(digits):
    X = digits[0][:400]
    grid = GridSearchCV(_small(max_epochs=3), {"lam": [0.25, 1.0]}, cv=2).fit(X)
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
