"""VarianceRegDictLearner: the hinge's gradient, collapse, SDL's norms, the encoder."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.datasets import load_digits

from skvsc import VarianceRegDictLearner
from skvsc.vdl import code_energy, variance_hinge, variance_hinge_grad


@pytest.fixture(scope="module")
def digits():
    X = load_digits().data
    return ((X - X.mean()) / X.std()).astype(np.float32)


def _eq11(Z, T, beta):
    """Paper 002 eq. (11)/(30), written out in float64 NumPy."""
    n = Z.shape[0]
    mu = Z.mean(axis=0)
    s = np.sqrt(Z.var(axis=0, ddof=1))
    active = s < T
    factor = np.where(active, (T - s) / np.where(s > 0, s, 1.0), 0.0)
    return -2.0 * beta / (n - 1) * factor * (Z - mu)


@settings(max_examples=40, deadline=None)
@given(
    Z=st.integers(2, 12).flatmap(
        lambda n: arrays(np.float64, (n, 4), elements=st.floats(-3, 3, width=64))
    ),
    T=st.floats(0.05, 3.0),
    beta=st.floats(0.1, 100.0),
)
def test_hinge_gradient_matches_eq11_and_autograd(Z, T, beta):
    # A (nearly) constant column has an ill-conditioned 1/s: give such columns
    # (and only them, so that no other column becomes constant) a ramp.
    flat = Z.var(axis=0, ddof=1) < 1e-3
    Z = Z + np.linspace(0.0, 1.0, Z.shape[0])[:, None] * flat
    Zt = torch.tensor(Z, requires_grad=True)
    value = beta * variance_hinge(Zt, T, eps=0.0)
    (auto,) = torch.autograd.grad(value, Zt)
    closed_value, closed = variance_hinge_grad(Zt.detach(), T, eps=0.0)
    expected = _eq11(Z, T, beta)
    np.testing.assert_allclose(auto.numpy(), expected, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(beta * closed.numpy(), expected, rtol=1e-8, atol=1e-10)
    s = np.sqrt(Z.var(axis=0, ddof=1))
    np.testing.assert_allclose(beta * float(closed_value), beta * np.sum(np.maximum(T - s, 0) ** 2),
                               rtol=1e-10)


def _fitted(X, **params):
    defaults = {"n_components": 8, "max_epochs": 1, "code_max_iter": 30, "device": "cpu",
                    "random_state": 0}
    return VarianceRegDictLearner(**{**defaults, **params}).fit(X)


@pytest.mark.parametrize("hinge", [True, False])
def test_closed_form_smooth_energy_matches_autograd(digits, hinge):
    # The linear decoder's inference energy (Gram form, closed-form gradient)
    # equals the energy written directly, and so do the gradients.
    model = _fitted(digits[:300], gamma=3.0, beta=7.0)
    X = torch.from_numpy(digits[:50])
    with torch.no_grad():
        E = model.module_.encoder(X)
    gen = torch.Generator().manual_seed(0)
    Z = torch.rand(50, 8, generator=gen, dtype=torch.float32) * 2
    value_and_grad, value_only = model._smooth_energy(X, E, hinge=hinge)
    assert value_only is None  # the value alone would cost as much
    value, grad = value_and_grad(Z)

    A = model.module_.decoder.atoms.detach()
    Zr = Z.clone().requires_grad_(True)
    direct = (X - Zr @ A).pow(2).sum() / 64 + 3.0 / 8 * (Zr - E).pow(2).sum()
    if hinge:
        direct = direct + 7.0 * variance_hinge(Zr, 0.5)
    (direct_grad,) = torch.autograd.grad(direct, Zr)
    assert float(value) == pytest.approx(float(direct.detach()), rel=1e-4)
    np.testing.assert_allclose(grad.numpy(), direct_grad.numpy(), rtol=1e-3, atol=1e-4)


def test_code_energy_is_eq13_without_the_hinge(digits):
    # Written out in float64 NumPy for the MLP decoder: (1/d)‖x − D(z)‖² +
    # (γ/l)‖z − e‖² + λ‖z‖₁ per sample.
    model = _fitted(digits[:300], decoder="mlp", hidden_size=16)
    decoder = model.module_.decoder
    X = torch.from_numpy(digits[:40])
    gen = torch.Generator().manual_seed(1)
    Z, E = torch.rand(2, 40, 8, generator=gen)
    with torch.no_grad():
        ours = code_energy(X, Z, decoder, 0.3, E=E, gamma=5.0).numpy()
        D_z = decoder(Z).double().numpy()
    Xn, Zn, En = X.double().numpy(), Z.double().numpy(), E.double().numpy()
    expected = (((Xn - D_z) ** 2).sum(1) / 64 + 5.0 / 8 * ((Zn - En) ** 2).sum(1)
                + 0.3 * np.abs(Zn).sum(1))
    np.testing.assert_allclose(ours, expected, rtol=1e-5)


@pytest.mark.parametrize("decoder", ["linear", "mlp"])
def test_training_codes_stop_on_their_relative_change(digits, decoder):
    # code_change_tol is a relative change: a looser one stops FISTA sooner.
    X = torch.from_numpy(digits[:100])
    model = _fitted(digits[:300], decoder=decoder, hidden_size=16, code_max_iter=500)
    with torch.no_grad():
        E = model.module_.encoder(X)
    n_iters = [model._infer(X, E, hinge=True, tol=tol)[1] for tol in (1e-2, 1e-3)]
    assert n_iters[0] < n_iters[1] < 500
    # At the looser tolerance the last step moved no code by more than 1e-2 relative.
    Z, n_iter = model._infer(X, E, hinge=True, tol=1e-2)
    model.set_params(code_max_iter=n_iter - 1)
    Z_before, _ = model._infer(X, E, hinge=True, tol=0.0)
    change = torch.linalg.vector_norm(Z - Z_before, dim=1)
    assert bool((change <= 1e-2 * torch.linalg.vector_norm(Z, dim=1)).all())


def _track(X, epochs, **params):
    """Train one epoch at a time; record FISTA codes' L1, their std and atom norms."""
    model = VarianceRegDictLearner(n_components=16, lam=0.05, learning_rate=3e-2,
                                   encoder_learning_rate=1e-2, code_max_iter=50,
                                   device="cpu", random_state=0, **params)
    Xt = torch.from_numpy(X[:250])
    records = []
    for _ in range(epochs):
        model.partial_fit(X)
        with torch.no_grad():
            Z, _ = model._infer(Xt, model.module_.encoder(Xt), hinge=True, tol=1e-3)
        records.append((float(Z.abs().sum(1).mean()), float(Z.std(0).median()),
                        float(np.linalg.norm(model.components_, axis=1).mean())))
    return np.array(records)


def test_collapse_without_hinge_or_normalisation_but_not_with_vdl(digits):
    X = digits[:1000]
    # Ablation: no hinge (beta=0) and no normalisation (variance_reg=True).
    ablation = _track(X, 16, beta=0.0)
    vdl = _track(X, 16, beta=100.0)
    l1, std, norm = ablation.T
    # The codes' L1 norms shrink and the decoder keeps growing to compensate.
    assert l1[-1] < 0.6 * l1.max()
    assert norm[-1] > 1.4 * norm[7] and norm[7] > 1.4 * norm[0]
    assert std[-1] < 0.3 * 0.5
    l1_v, std_v, norm_v = vdl.T
    # VDL: the components' spread stays at the threshold T=0.5, the codes' L1
    # norms do not fall and the decoder's norms level off.
    assert std_v[-1] > 0.8 * 0.5
    assert l1_v[-1] > 0.85 * l1_v[7]
    assert norm_v[-1] < 1.15 * norm_v[7]
    assert norm_v[-1] < 0.6 * norm[-1]


class _RecordingSDL(VarianceRegDictLearner):
    def _train_step(self, X):
        loss = super()._train_step(X)
        decoder = self.module_.decoder
        weights = ([decoder.weight] if self.decoder == "linear"
                   else [decoder.layer1.weight, decoder.layer2.weight])
        self.norms_seen_.extend(
            torch.linalg.vector_norm(w.detach(), dim=0).numpy().copy() for w in weights)
        return loss


@pytest.mark.parametrize("decoder", ["linear", "mlp"])
def test_sdl_keeps_every_column_at_unit_norm_after_every_step(digits, decoder):
    model = _RecordingSDL(n_components=8, variance_reg=False, decoder=decoder,
                          hidden_size=16, lam=0.005, gamma=1.0, code_step=1.0,
                          learning_rate=1e-2, max_epochs=2, batch_size=100,
                          code_max_iter=20, device="cpu", random_state=0)
    model.norms_seen_ = []
    model.fit(digits[:500])
    n_layers = 1 if decoder == "linear" else 2
    assert len(model.norms_seen_) == n_layers * model.n_steps_ > 0
    for norms in model.norms_seen_:
        np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    if decoder == "linear":
        np.testing.assert_allclose(np.linalg.norm(model.components_, axis=1), 1.0, atol=1e-5)
    # VDL leaves the decoder free: its norms move away from 1.
    vdl = _fitted(digits[:500], decoder=decoder, hidden_size=16, learning_rate=1e-2,
                  max_epochs=2, batch_size=100)
    assert np.abs(np.linalg.norm(vdl.module_.decoder.atoms.detach().numpy(), axis=1)
                  - 1).max() > 1e-2


def test_encoder_mse_to_fista_codes_falls(digits):
    # gamma=0 so that FISTA's codes are not pulled towards the encoder's: the
    # target is the minimiser of the energy, only initialised at E(y).
    X = digits[:1000]
    Xt = torch.from_numpy(X[:250])
    model = VarianceRegDictLearner(n_components=16, gamma=0.0, encoder_learning_rate=3e-3,
                                   learning_rate=3e-3, code_max_iter=100, device="cpu",
                                   random_state=0)
    relative_mse = []
    for _ in range(6):
        model.partial_fit(X)
        with torch.no_grad():
            E = model.module_.encoder(Xt)
            Z, _ = model._infer(Xt, E, hinge=True, tol=1e-4)
        relative_mse.append(float(((E - Z) ** 2).sum(1).mean() / Z.pow(2).sum(1).mean()))
    assert np.all(np.diff(relative_mse) < 0)
    assert relative_mse[-1] < 0.6 * relative_mse[0]


@pytest.mark.parametrize("decoder", ["linear", "mlp"])
def test_transform_methods_are_deterministic_and_per_sample(digits, decoder):
    model = _fitted(digits[:400], decoder=decoder, hidden_size=16)
    for method in ("encoder", "fista"):
        model.set_params(transform_method=method)
        Z = model.transform(digits[:60])
        assert Z.shape == (60, 8) and (Z >= 0).all()
        np.testing.assert_array_equal(Z, model.transform(digits[:60]))
        np.testing.assert_allclose(model.transform(digits[10:20]), Z[10:20], atol=1e-5)
        assert np.isfinite(model.score(digits[:60]))
    rec = model.inverse_transform(Z)
    assert rec.shape == (60, 64)


def test_mlp_components_are_one_hot_responses_without_bias(digits):
    model = _fitted(digits[:300], decoder="mlp", hidden_size=16)
    decoder = model.module_.decoder
    with torch.no_grad():
        saved = decoder.layer1.bias.clone()
        decoder.layer1.bias.zero_()
        expected = decoder(torch.eye(8)).numpy()
        decoder.layer1.bias.copy_(saved)
    np.testing.assert_allclose(model.components_, expected, rtol=1e-5, atol=1e-6)
    assert model.components_.shape == (8, 64)


def test_fista_transform_lowers_the_energy_of_encoder_codes(digits):
    model = _fitted(digits[:500], max_epochs=2, code_max_iter=200)
    X = digits[:100]
    encoder_energy = model.energy(X).mean()
    model.set_params(transform_method="fista")
    assert model.energy(X).mean() < encoder_energy


def test_signed_codes_and_pickle_round_trip(digits):
    model = _fitted(digits[:300], positive_code=False)
    Z = model.transform(digits[:50])
    assert (Z < 0).any()
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.transform(digits[:50]), Z)
    clone.partial_fit(digits[:300])  # optimisers are rebuilt lazily


def test_same_random_state_same_model(digits):
    a = _fitted(digits[:300], decoder="mlp", hidden_size=16)
    b = _fitted(digits[:300], decoder="mlp", hidden_size=16)
    np.testing.assert_array_equal(a.components_, b.components_)


@pytest.mark.parametrize("params", [{"lam": -1.0}, {"decoder": "conv"},
                                    {"transform_method": "lista"}, {"code_step": 0.0}])
def test_invalid_parameters_raise(digits, params):
    with pytest.raises(ValueError):
        VarianceRegDictLearner(**params).fit(digits[:20])


def test_decoder_learning_rate_decays_by_steps_of_epochs(digits):
    # The authors' VDL-NL schedule, scaled down: ×0.5 every 2 epochs.  During
    # epoch e (from 0) the decoder's rate is lr·0.5**(e // 2); the encoder's
    # stays.  The rates are recorded by every training step.
    seen = []

    class Recording(VarianceRegDictLearner):
        def _train_step(self, X):
            loss = super()._train_step(X)
            seen.append((self.n_iter_, self._optimizers["decoder"].param_groups[0]["lr"],
                         self._optimizers["encoder"].param_groups[0]["lr"]))
            return loss

    Recording(n_components=8, learning_rate=1e-2, learning_rate_decay=0.5,
              learning_rate_decay_every=2, encoder_learning_rate=3e-3, max_epochs=5,
              batch_size=100, code_max_iter=10, device="cpu", random_state=0).fit(digits[:500])
    epochs = sorted({epoch for epoch, _, _ in seen})
    assert epochs == [0, 1, 2, 3, 4]
    for epoch, decoder_lr, encoder_lr in seen:
        assert decoder_lr == pytest.approx(1e-2 * 0.5 ** (epoch // 2), rel=1e-12)
        assert encoder_lr == 3e-3
