"""SparseCoder: learning, the scikit-learn world, persistence and bad input."""

import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import SparseCoder as SklearnSparseCoder
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from skvsc import SparseCoder, sparse_encode
from skvsc.exceptions import TrainingDivergedError


def planted_problem(seed=0, n_features=64, n_atoms=96, n_samples=3000, n_active=3,
                    noise=0.01):
    """Data made of ``n_active`` atoms of a random unit-norm dictionary each."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_atoms, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    Z = np.zeros((n_samples, n_atoms))
    for row in Z:
        support = rng.choice(n_atoms, n_active, replace=False)
        row[support] = rng.choice([-1, 1], n_active) * rng.uniform(0.5, 1.5, n_active)
    return Z @ D + noise * rng.standard_normal((n_samples, n_features)), D


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def fitted(digits):
    X, _ = digits
    return SparseCoder(n_components=24, lam=0.2, max_epochs=3, device="cpu",
                       random_state=0).fit(X)


def test_recovers_a_planted_dictionary():
    X, D = planted_problem()
    coder = SparseCoder(n_components=96, lam=0.2, batch_size=64, max_epochs=10, tol=0,
                        device="cpu", random_state=0).fit(X)
    best_cosine = np.abs(coder.components_ @ D.T).max(axis=0)
    # Achieved: 94 of the 96 planted atoms (97.9%) at |cosine| ≥ 0.95.
    assert (best_cosine >= 0.95).mean() >= 0.9


@pytest.mark.parametrize("dict_update", ["online", "projected_gradient"])
def test_learning_lowers_the_energy_with_unit_norm_atoms(digits, dict_update):
    X, _ = digits
    coder = SparseCoder(n_components=32, lam=0.2, dict_update=dict_update,
                        max_epochs=4, tol=0, device="cpu", random_state=0).fit(X)
    losses = coder.history_["train_loss"]
    assert losses[-1] < 0.8 * losses[0]
    np.testing.assert_allclose(np.linalg.norm(coder.components_, axis=1), 1, rtol=1e-5)


def test_transform_is_the_fista_code_and_inverse_transform_decodes(fitted, digits):
    X, _ = digits
    codes = fitted.transform(X[:50])
    expected = sparse_encode(X[:50], fitted.components_, lam=fitted.lam,
                             max_iter=fitted.code_max_iter, tol=fitted.code_tol,
                             device="cpu")
    np.testing.assert_allclose(codes, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fitted.inverse_transform(codes),
                               codes @ fitted.components_, rtol=1e-5, atol=1e-6)
    energy = 0.5 * ((X[:50] - codes @ fitted.components_) ** 2).sum(1) \
        + fitted.lam * np.abs(codes).sum(1)
    np.testing.assert_allclose(fitted.energy(X[:50]), energy, rtol=1e-5)


def test_lars_transform_is_the_exact_code_and_leaves_training_alone(fitted, digits):
    X, _ = digits
    lars = pickle.loads(pickle.dumps(fitted)).set_params(transform_algorithm="lars")
    exact = SklearnSparseCoder(fitted.components_.astype(np.float64),
                               transform_algorithm="lasso_lars",
                               transform_alpha=fitted.lam).transform(X[:200])
    energy = lambda Z: (0.5 * ((X[:200] - Z @ fitted.components_) ** 2).sum(1)  # noqa: E731
                        + fitted.lam * np.abs(Z).sum(1))
    codes = lars.transform(X[:200])
    np.testing.assert_allclose(energy(codes), energy(exact), rtol=1e-5)
    np.testing.assert_allclose(lars.energy(X[:200]), energy(codes), rtol=1e-5)
    # score's codes (masked-feature cross-validation) do not depend on it.
    assert lars.score(X[:200]) == fitted.score(X[:200])
    refit = SparseCoder(n_components=24, lam=0.2, max_epochs=3, device="cpu", random_state=0,
                        transform_algorithm="lars").fit(X)
    np.testing.assert_array_equal(refit.components_, fitted.components_)


def test_fixed_dictionary_matches_scikit_learn_sparse_coder(digits):
    X, _ = digits
    rng = np.random.default_rng(0)
    D = rng.standard_normal((20, X.shape[1]))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    ours = SparseCoder(dictionary=D, lam=0.5, code_tol=1e-7, code_max_iter=5000,
                       device="cpu").fit(X[:100])
    theirs = SklearnSparseCoder(D, transform_algorithm="lasso_cd", transform_alpha=0.5,
                                transform_max_iter=20_000)
    np.testing.assert_allclose(ours.components_, D, rtol=1e-6)
    np.testing.assert_allclose(ours.transform(X[:100]), theirs.transform(X[:100]), atol=1e-3)


def test_positive_codes(digits):
    X, _ = digits
    coder = SparseCoder(n_components=16, positive_code=True, max_epochs=2, device="cpu",
                        random_state=0).fit(X)
    assert (coder.transform(X) >= 0).all()


def test_partial_fit_learns_incrementally(digits):
    X, _ = digits
    coder = SparseCoder(n_components=24, lam=0.2, device="cpu", random_state=0)
    before = None
    for _ in range(3):
        coder.partial_fit(X)
        score = -coder.energy(X).mean()
        assert before is None or score > before
        before = score
    assert coder.n_iter_ == 3


def test_same_seed_same_model_and_fit_does_not_touch_parameters(digits):
    X, _ = digits
    params = dict(n_components=16, max_epochs=2, device="auto", random_state=3)
    a = SparseCoder(**params).fit(X)
    b = SparseCoder(**params).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert a.get_params() == SparseCoder(**params).get_params()
    assert a.device == "auto" and a.device_.type in ("cpu", "cuda")


def test_validation_split_and_early_stopping(digits):
    X, _ = digits
    coder = SparseCoder(n_components=16, max_epochs=50, validation_fraction=0.2, tol=0.05,
                        n_iter_no_change=1, device="cpu", random_state=0).fit(X)
    assert 1 <= coder.n_iter_ < 50
    assert len(coder.history_["validation_loss"]) == coder.n_iter_
    assert len(coder.history_["train_loss"]) == coder.n_iter_


def test_verbose_prints_progress(digits, capsys):
    X, _ = digits
    SparseCoder(n_components=8, max_epochs=2, verbose=1, device="cpu").fit(X[:200])
    assert "epoch 2/2" in capsys.readouterr().err


def test_divergence_is_a_clear_error(digits):
    X, _ = digits
    coder = SparseCoder(n_components=8, dict_update="projected_gradient",
                        learning_rate=1e38, max_epochs=3, device="cpu", random_state=0)
    with pytest.raises(TrainingDivergedError, match="learning_rate"):
        coder.fit(X * 1e3)


def test_pipeline_with_logistic_regression_and_grid_search(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    pipe = Pipeline([
        ("coder", SparseCoder(n_components=64, max_epochs=3, device="cpu", random_state=0)),
        ("clf", LogisticRegression(max_iter=2000)),
    ])
    search = GridSearchCV(pipe, {"coder__lam": [0.1, 0.3]}, cv=2, n_jobs=2)
    search.fit(X_train, y_train)
    # Chance is 10%.
    assert search.score(X_test, y_test) > 0.85


def test_unsupervised_grid_search_uses_score(digits):
    X, _ = digits
    search = GridSearchCV(
        SparseCoder(n_components=16, max_epochs=2, device="cpu", random_state=0),
        {"n_components": [4, 16]}, cv=2,
    ).fit(X)
    # More atoms predict held-out pixels better (masked-feature CV).
    assert search.best_params_ == {"n_components": 16}
    assert np.all(search.cv_results_["mean_test_score"] < 0)


@pytest.mark.parametrize("dump, load", [
    (pickle.dumps, pickle.loads),
    (lambda est: _joblib_bytes(est), lambda data: _joblib_load(data)),
])
def test_pickle_and_joblib_round_trips(fitted, digits, dump, load):
    X, _ = digits
    clone = load(dump(fitted))
    np.testing.assert_array_equal(clone.transform(X), fitted.transform(X))
    clone.partial_fit(X[:100])  # training can go on after loading


def _joblib_bytes(estimator):
    import io
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


def _joblib_load(data):
    import io
    return joblib.load(io.BytesIO(data))


def test_model_from_a_missing_gpu_loads_on_cpu_with_a_warning(fitted, digits):
    X, _ = digits
    state = pickle.dumps(fitted)
    gpu_model = pickle.loads(state)
    gpu_model.device_ = torch.device("cuda", 99)  # as if fitted on a big GPU box
    data = pickle.dumps(gpu_model)
    with pytest.warns(UserWarning, match="cuda:99"):
        loaded = pickle.loads(data)
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.transform(X[:20]), fitted.transform(X[:20]))


BAD_X = {
    "nan": np.full((5, 64), np.nan),
    "inf": np.full((5, 64), np.inf),
    "wrong feature count": np.ones((5, 10)),
    "sparse": scipy.sparse.csr_matrix(np.ones((5, 64))),
    "empty": np.empty((0, 64)),
    "1-D": np.ones(64),
    "complex": np.ones((5, 64)) + 1j,
}
BAD_X_MESSAGES = {
    "nan": "NaN", "inf": "infinity", "wrong feature count": "features",
    "sparse": "[Ss]parse", "empty": "0 sample", "1-D": "2D array", "complex": "[Cc]omplex",
}


@pytest.mark.parametrize("case", sorted(BAD_X))
@pytest.mark.parametrize("method", ["fit", "partial_fit", "transform", "score"])
def test_bad_input_is_a_clear_error_and_changes_nothing(fitted, case, method):
    if method == "fit" and case == "wrong feature count":
        pytest.skip("fit on new data with other features is a legitimate refit")
    model = pickle.loads(pickle.dumps(fitted))
    before = model.components_.copy(), model.n_features_in_, model.n_iter_
    # scikit-learn's convention: TypeError for sparse input, ValueError otherwise.
    error = TypeError if case == "sparse" else ValueError
    with pytest.raises(error, match=BAD_X_MESSAGES[case]):
        getattr(model, method)(BAD_X[case])
    np.testing.assert_array_equal(model.components_, before[0])
    assert (model.n_features_in_, model.n_iter_) == before[1:]


@pytest.mark.parametrize("params, message", [
    ({"lam": -0.1}, "lam"),
    ({"n_components": 0}, "n_components"),
    ({"batch_size": 0}, "batch_size"),
    ({"dict_update": "sgd"}, "dict_update"),
    ({"transform_algorithm": "omp"}, "transform_algorithm"),
    ({"device": "tpu"}, "tpu"),
    ({"device": "cuda:12345"}, "cuda"),
])
def test_bad_parameters_are_clear_errors_and_change_nothing(fitted, digits, params, message):
    X, _ = digits
    model = pickle.loads(pickle.dumps(fitted))
    before = model.components_.copy()
    with pytest.raises(ValueError, match=message):
        model.set_params(**params).fit(X)
    np.testing.assert_array_equal(model.components_, before)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="CUDA is not available"):
        SparseCoder(device="cuda").fit(X)


def test_inverse_transform_checks_the_code_width(fitted):
    with pytest.raises(ValueError, match="n_components"):
        fitted.inverse_transform(np.ones((2, 5)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(digits):
    X, _ = digits
    params = dict(n_components=16, max_epochs=2, random_state=0)
    gpu = SparseCoder(device="cuda", **params).fit(X)
    cpu = SparseCoder(device="cpu", **params).fit(X)
    assert gpu.device_.type == "cuda"
    np.testing.assert_allclose(gpu.components_, cpu.components_, atol=1e-3)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(gpu)).transform(X[:10]),
                               gpu.transform(X[:10]))
