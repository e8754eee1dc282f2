"""FISTA and friends against independent references."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.decomposition import sparse_encode as sk_sparse_encode
from sklearn.linear_model import Lasso

from skvsc import sparse_encode
from skvsc._lars import lars_path_end
from skvsc._smooth import fista_autograd, fista_smooth
from skvsc.solvers import (
    fista,
    lars,
    lasso_energy,
    lipschitz_constant,
    soft_threshold,
)


def _problem(seed, n_samples, n_features, n_components, lam_fraction, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((n_samples, n_features))
    # λ as a fraction of λ_max = max |X Dᵀ|, above which every code is zero.
    lam = lam_fraction * np.abs(X @ D.T).max()
    as_t = lambda a: torch.as_tensor(a, dtype=dtype)
    return as_t(X), as_t(D), lam


# Random Lasso problems drawn by hypothesis (see _problem).
LASSO_PROBLEMS = {
    "seed": st.integers(0, 2**16),
    "n_features": st.integers(3, 12),
    "n_components": st.integers(2, 16),
    "lam_fraction": st.floats(0.05, 0.9),
    "positive": st.booleans(),
}


def _lasso_codes(X, D, lam, positive=False):
    """Reference codes from sklearn's Lasso: its 1/n scaling is over the features."""
    n_features = X.shape[1]
    codes = []
    for x in X.numpy():
        lasso = Lasso(alpha=lam / n_features, fit_intercept=False, tol=1e-12,
                      max_iter=200_000, positive=positive)
        codes.append(lasso.fit(D.numpy().T, x).coef_)
    return torch.as_tensor(np.array(codes), dtype=X.dtype)


@given(
    x=st.floats(-10, 10, allow_nan=False),
    threshold=st.floats(0, 5, allow_nan=False),
    positive=st.booleans(),
)
def test_soft_threshold_is_the_l1_prox(x, threshold, positive):
    # prox_{t|.|}(x) minimises ½(u − x)² + t|u| (+ the constraint u ≥ 0).
    out = float(soft_threshold(torch.tensor([x], dtype=torch.float64), threshold, positive)[0])
    grid = np.linspace(min(x, 0) - 1, max(x, 0) + 1, 20001)
    if positive:
        grid = grid[grid >= 0]
    objective = lambda u: 0.5 * (u - x) ** 2 + threshold * np.abs(u)
    assert objective(out) <= objective(grid).min() + 1e-9
    assert (out >= 0) or not positive


@settings(max_examples=15, deadline=None)
@given(**LASSO_PROBLEMS)
def test_fista_reaches_the_lasso_optimum(seed, n_features, n_components, lam_fraction, positive):
    X, D, lam = _problem(seed, 4, n_features, n_components, lam_fraction)
    gram = D @ D.T
    Z, n_iter = fista(gram, X @ D.T, lam, positive=positive, max_iter=20_000, tol=1e-12)
    ours = lasso_energy(X, Z, D, lam)
    reference = lasso_energy(X, _lasso_codes(X, D, lam, positive), D, lam)
    assert n_iter <= 20_000
    if positive:
        assert bool((Z >= 0).all())
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-6, atol=1e-9)


@settings(max_examples=15, deadline=None)
@given(
    **LASSO_PROBLEMS,
    tol=st.sampled_from([1e-2, 1e-4, 1e-6]),
)
def test_bfloat16_warmup_keeps_the_certified_suboptimality(
        seed, n_features, n_components, lam_fraction, positive, tol):
    # The warm-up is forced on, so this runs on CPUs without native bfloat16 too.
    X, D, lam = _problem(seed, 6, n_features, n_components, lam_fraction)
    Z, n_iter = fista(D @ D.T, X @ D.T, lam, positive=positive, max_iter=100_000, tol=tol,
                      warmup_iter=16, sq_norms=X.pow(2).sum(dim=1))
    ours = lasso_energy(X, Z, D, lam)
    optimum = lasso_energy(X, _lasso_codes(X, D, lam, positive), D, lam)
    assert n_iter < 20_000
    if positive:
        assert bool((Z >= 0).all())
    assert bool((ours - optimum <= tol * ours + 1e-12).all())


def test_fista_returns_exact_zeros_where_zero_is_optimal():
    X, D, lam = _problem(3, 40, 10, 15, 0.3)
    B = X @ D.T
    zero_optimal = B.abs().amax(dim=1) <= lam
    assert 0 < int(zero_optimal.sum()) < len(X)
    Z, _ = fista(D @ D.T, B, lam, max_iter=5000, tol=1e-8)
    assert bool((Z[zero_optimal] == 0).all())
    assert bool((Z[~zero_optimal] != 0).any(dim=1).all())
    # When every sample is zero at the optimum, no iteration runs.
    Z, n_iter = fista(D @ D.T, B[zero_optimal], lam, max_iter=5000, tol=1e-8)
    assert n_iter == 0 and bool((Z == 0).all())


def test_warmup_iterations_count_towards_max_iter():
    X, D, lam = _problem(1, 8, 10, 40, 0.1)
    _, n_iter = fista(D @ D.T, X @ D.T, lam, max_iter=5, tol=0, warmup_iter=16)
    assert n_iter == 5
    with pytest.raises(ValueError, match="warmup_iter"):
        fista(D @ D.T, X @ D.T, lam, warmup_iter=-1)


def test_fista_codes_do_not_depend_on_the_batch():
    # float64, so that rounding differences between a batched and a single-row
    # product stay far below what one extra iteration would change.
    X, D, lam = _problem(0, 64, 20, 30, 0.3)
    gram = D @ D.T
    Z_all, _ = fista(gram, X @ D.T, lam, tol=1e-4, max_iter=500)
    Z_one = torch.cat([fista(gram, X[i : i + 1] @ D.T, lam, tol=1e-4, max_iter=500)[0]
                       for i in range(len(X))])
    np.testing.assert_allclose(Z_all.numpy(), Z_one.numpy(), rtol=1e-10, atol=1e-12)


def test_fista_reports_iterations_and_stops_at_max_iter():
    X, D, lam = _problem(1, 8, 10, 40, 0.1)
    gram = D @ D.T
    _, n_iter = fista(gram, X @ D.T, lam, max_iter=3, tol=0)
    assert n_iter == 3
    _, n_iter = fista(gram, X @ D.T, lam, max_iter=10_000, tol=1e-3)
    assert 3 < n_iter < 10_000


def test_fista_from_the_optimum_stops_immediately():
    X, D, lam = _problem(2, 5, 10, 15, 0.3)
    gram = D @ D.T
    Z, _ = fista(gram, X @ D.T, lam, max_iter=20_000, tol=1e-13)
    Z2, n_iter = fista(gram, X @ D.T, lam, init=Z, max_iter=100, tol=1e-6)
    assert n_iter == 1
    np.testing.assert_allclose(Z2.numpy(), Z.numpy(), atol=1e-8)


def _closed_form_lasso(X, D, calls):
    """``½‖X − ZD‖²``'s value and gradient in closed form; counts its calls."""

    def value_and_grad(Z):
        calls.append(1)
        residual = Z @ D - X
        return 0.5 * residual.pow(2).sum(), residual @ D.T

    return value_and_grad


@pytest.mark.parametrize("gradient", ["closed form", "autograd"])
@pytest.mark.parametrize("step", [None, "fixed"])
def test_smooth_fista_matches_gram_fista(step, gradient):
    # Both ways of giving the smooth term, with a fixed step or backtracking,
    # reach the Lasso optimum that the Gram-form solver certifies.
    X, D, lam = _problem(3, 6, 12, 20, 0.2)
    gram = D @ D.T
    Z_ref, _ = fista(gram, X @ D.T, lam, max_iter=20_000, tol=1e-12)
    fixed = 1.0 / lipschitz_constant(gram) if step == "fixed" else None
    init = torch.zeros_like(Z_ref)
    if gradient == "closed form":
        Z, _ = fista_smooth(_closed_form_lasso(X, D, []), init, lam, step=fixed,
                            max_iter=20_000, tol=1e-12)
    else:
        Z, _ = fista_autograd(lambda Z: 0.5 * (X - Z @ D).pow(2).sum(), init, lam,
                              step=fixed, max_iter=20_000, tol=1e-12)
    np.testing.assert_allclose(lasso_energy(X, Z, D, lam).numpy(),
                               lasso_energy(X, Z_ref, D, lam).numpy(), rtol=1e-7)


def test_smooth_fista_tests_backtracking_with_the_value_alone():
    # A value-only callable replaces value_and_grad in the sufficient-decrease
    # test: same iterates, one value_and_grad call per iteration instead of
    # one plus one per test.
    X, D, lam = _problem(5, 6, 12, 20, 0.2)
    init = torch.zeros(6, 20, dtype=torch.float64)
    calls_both, calls_split, calls_value = [], [], []

    def value(Z):
        calls_value.append(1)
        return 0.5 * (Z @ D - X).pow(2).sum()

    Z_both, n_both = fista_smooth(_closed_form_lasso(X, D, calls_both), init, lam,
                                  max_iter=50, tol=0.0)
    Z_split, n_split = fista_smooth(_closed_form_lasso(X, D, calls_split), init, lam,
                                    value=value, max_iter=50, tol=0.0)
    np.testing.assert_allclose(Z_split.numpy(), Z_both.numpy(), rtol=1e-12, atol=1e-14)
    assert n_both == n_split == 50
    assert len(calls_split) == 50
    assert len(calls_value) >= 50 and len(calls_both) == 50 + len(calls_value)


def test_lipschitz_constant_is_the_largest_eigenvalue():
    _, D, _ = _problem(4, 1, 10, 25, 0.1)
    gram = D @ D.T
    assert lipschitz_constant(gram) == pytest.approx(np.linalg.norm(D.numpy(), 2) ** 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_encode_matches_scikit_learn(dtype):
    rng = np.random.default_rng(0)
    D = rng.standard_normal((40, 16))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((200, 16)).astype(dtype)
    lam = 0.5
    ours = sparse_encode(X, D, lam=lam, tol=1e-6, max_iter=5000, device="cpu")
    theirs = sk_sparse_encode(X.astype(np.float64), D, algorithm="lasso_cd", alpha=lam,
                              max_iter=10_000)
    assert ours.dtype == dtype
    energy = lambda Z: 0.5 * ((X - Z @ D) ** 2).sum(1) + lam * np.abs(Z).sum(1)
    np.testing.assert_allclose(energy(ours), energy(theirs), rtol=1e-4)
    assert (ours == 0).mean() > 0.3


def test_sparse_encode_positive_and_batches():
    rng = np.random.default_rng(1)
    D = rng.standard_normal((30, 10))
    X = rng.standard_normal((50, 10))
    Z = sparse_encode(X, D, lam=0.3, positive=True, batch_size=7, device="cpu")
    Z_full = sparse_encode(X, D, lam=0.3, positive=True, batch_size=4096, device="cpu")
    assert (Z >= 0).all()
    # Chunking only bounds memory: float32 rounding may shift a sample's stopping
    # iteration, which moves its code by about the solver's tolerance.
    np.testing.assert_allclose(Z, Z_full, atol=1e-3 * np.abs(Z_full).max())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lam": -1.0}, "lam"),
        ({"device": "tpu"}, "tpu"),
        ({"max_iter": 0}, "max_iter"),
        ({"algorithm": "omp"}, "algorithm"),
    ],
)
def test_sparse_encode_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sparse_encode(np.ones((2, 3)), np.eye(3), **kwargs)


def test_sparse_encode_rejects_mismatched_dictionary():
    with pytest.raises(ValueError, match="features"):
        sparse_encode(np.ones((2, 4)), np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        sparse_encode(np.array([[np.nan, 1.0, 0.0]]), np.eye(3))


def _correlated_problem(seed, n_samples, n_features, n_components, correlation, lam_fraction):
    """Ill-conditioned problems: atoms are noisy copies of a few prototypes."""
    rng = np.random.default_rng(seed)
    n_prototypes = max(1, n_components // 3)
    prototypes = rng.standard_normal((n_prototypes, n_features))
    D = (correlation * prototypes[rng.integers(0, n_prototypes, n_components)]
         + (1 - correlation) * rng.standard_normal((n_components, n_features)))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((n_samples, 3)) @ D[:3] + 0.1 * rng.standard_normal((n_samples,
                                                                                  n_features))
    lam = lam_fraction * np.abs(X @ D.T).max()
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float64)
    return as_t(X), as_t(D), lam


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_features=st.integers(8, 24),
    n_components=st.integers(8, 40),
    correlation=st.floats(0.8, 0.99),
    lam_fraction=st.floats(0.01, 0.5),
    positive=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    tol=st.sampled_from([1e-3, 1e-5]),
)
def test_polished_codes_match_scikit_learn_lasso_on_ill_conditioned_problems(
        seed, n_features, n_components, correlation, lam_fraction, positive, dtype, tol):
    # float32 rounding hides gaps much below 1e-4 of the energy (see fista).
    assume(dtype == torch.float64 or tol >= 1e-4)
    X, D, lam = _correlated_problem(seed, 6, n_features, n_components, correlation,
                                    lam_fraction)
    gram = D @ D.T
    # The first polish at iteration 2, so that it (not FISTA alone) finishes.
    from skvsc import solvers

    saved = solvers._POLISH_FIRST, solvers._POLISH_EVERY
    solvers._POLISH_FIRST, solvers._POLISH_EVERY = 2, 4
    try:
        Z, _n_iter, uncertified = fista(gram.to(dtype), (X @ D.T).to(dtype), lam,
                                       positive=positive, max_iter=100_000, tol=tol,
                                       sq_norms=X.pow(2).sum(dim=1).to(dtype),
                                       return_uncertified=True)
    finally:
        solvers._POLISH_FIRST, solvers._POLISH_EVERY = saved
    assert not bool(uncertified.any())
    ours = lasso_energy(X, Z.double(), D, lam)
    optimum = lasso_energy(X, _lasso_codes(X, D, lam, positive), D, lam)
    if positive:
        assert bool((Z >= 0).all())
    # The certified relative suboptimality, with float32 rounding of the energy.
    slack = 1e-12 if dtype == torch.float64 else 1e-6 * float(X.pow(2).sum(1).max())
    assert bool((ours - optimum <= tol * ours + slack).all())


def test_polish_repairs_a_wrong_support_and_signs():
    from skvsc import solvers

    X, D, lam = _correlated_problem(7, 20, 16, 30, 0.9, 0.05)
    gram = D @ D.T
    B = X @ D.T
    Z_opt, _ = fista(gram, B, lam, max_iter=100_000, tol=1e-12)
    optimum = lasso_energy(X, Z_opt, D, lam)
    # A start whose signs are all flipped and with every inactive atom switched
    # on: its KKT conditions fail on every atom.
    wrong = torch.where(Z_opt != 0, -Z_opt, torch.full_like(Z_opt, 0.1))
    G_ext = torch.nn.functional.pad(gram, (0, 1, 0, 1))
    polished = solvers._polish(wrong, B, G_ext, lam, False)
    assert bool((lasso_energy(X, polished, D, lam) <= lasso_energy(X, wrong, D, lam)).all())
    # FISTA from that start, polishing at once: the certificate catches the
    # violations and FISTA plus later polishes repair them.
    saved = solvers._POLISH_FIRST, solvers._POLISH_EVERY
    solvers._POLISH_FIRST, solvers._POLISH_EVERY = 1, 4
    try:
        Z, _, uncertified = fista(gram, B, lam, init=wrong, max_iter=100_000, tol=1e-9,
                                  sq_norms=X.pow(2).sum(dim=1), return_uncertified=True)
    finally:
        solvers._POLISH_FIRST, solvers._POLISH_EVERY = saved
    assert not bool(uncertified.any())
    np.testing.assert_allclose(lasso_energy(X, Z, D, lam).numpy(), optimum.numpy(),
                               rtol=1e-8)
    assert bool((torch.sign(Z) == torch.sign(Z_opt)).all())


def test_polish_keeps_exact_optimum_and_reports_uncertified():
    X, D, lam = _correlated_problem(3, 10, 12, 20, 0.9, 0.1)
    gram = D @ D.T
    _, _, uncertified = fista(gram, X @ D.T, lam, max_iter=2, tol=1e-8, polish=False,
                              return_uncertified=True)
    assert uncertified.dtype == torch.bool and bool(uncertified.all())
    _, _, uncertified = fista(gram, X @ D.T, lam, max_iter=2, tol=None,
                              return_uncertified=True)
    assert not bool(uncertified.any())


def test_sparse_encode_warns_when_max_iter_is_too_small():
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(0)
    D = rng.standard_normal((40, 16))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((30, 16))
    with pytest.warns(ConvergenceWarning, match=r"of 30 sparse codes .*max_iter=2\b.*`max_iter`"):
        sparse_encode(X, D, lam=0.1, max_iter=2, tol=1e-6, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        sparse_encode(X, D, lam=0.1, max_iter=5000, tol=1e-4, device="cpu")


def test_sparse_coder_transform_warns_naming_code_max_iter():
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from skvsc import SparseCoder

    rng = np.random.default_rng(0)
    D = rng.standard_normal((40, 16))
    X = rng.standard_normal((30, 16))
    coder = SparseCoder(dictionary=D, lam=0.1, code_max_iter=2, code_tol=1e-6,
                        device="cpu").fit(X)
    with pytest.warns(ConvergenceWarning, match="code_max_iter"):
        coder.transform(X)
    coder.set_params(code_max_iter=5000, code_tol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        coder.transform(X)  # (score's masked problems are harder; see test_robustness)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_features=st.integers(4, 24),
    n_components=st.integers(3, 48),
    correlation=st.floats(0.0, 0.99),
    lam_fraction=st.floats(0.01, 0.9),
    positive=st.booleans(),
)
def test_lars_path_end_is_the_lasso_optimum(seed, n_features, n_components, correlation,
                                            lam_fraction, positive):
    # Over-complete and ill-conditioned draws included: atoms that are noisy
    # copies of a few prototypes, more atoms than features.
    X, D, lam = _correlated_problem(seed, 24, n_features, n_components, correlation,
                                    lam_fraction)
    Z, _n_steps, unfinished = lars_path_end(D @ D.T, X @ D.T, lam, positive=positive)
    optimum = lasso_energy(X, _lasso_codes(X, D, lam, positive), D, lam)
    ours = lasso_energy(X, Z, D, lam)
    if positive:
        assert bool((Z >= 0).all())
    done = ~unfinished
    assert bool((ours[done] - optimum[done] <= 1e-9 * optimum[done] + 1e-12).all())
    # KKT: active correlations equal λ·sign(z), inactive ones at most λ.
    C = X @ D.T - Z @ (D @ D.T)
    active = Z != 0
    assert torch.allclose(C[active & done[:, None]],
                          lam * torch.sign(Z[active & done[:, None]]), rtol=1e-6, atol=1e-9)
    inactive = C.clamp(min=0) if positive else C.abs()
    assert bool((inactive[~active & done[:, None]] <= lam * (1 + 1e-6) + 1e-9).all())
    # The wrapper certifies every code, falling back to FISTA where LARS stopped.
    Z_cert, _n, uncertified = lars(D @ D.T, X @ D.T, lam, positive=positive, tol=1e-9,
                                   max_iter=100_000, sq_norms=X.pow(2).sum(1),
                                   return_uncertified=True)
    assert not bool(uncertified.any())
    assert bool((lasso_energy(X, Z_cert, D, lam) - optimum <= 1e-9 * optimum + 1e-12).all())


def test_lars_blocks_a_duplicated_atom_and_still_reaches_the_optimum():
    X, D, lam = _problem(3, 10, 6, 8, 0.05)
    D = torch.cat([D, D[:2], -D[2:3]])  # exact copies, and a sign-flipped copy
    Z, _n_steps, unfinished = lars_path_end(D @ D.T, X @ D.T, lam)
    assert not bool(unfinished.any())
    optimum = lasso_energy(X, _lasso_codes(X, D, lam), D, lam)
    assert bool((lasso_energy(X, Z, D, lam) - optimum <= 1e-9 * optimum).all())


def test_lars_returns_zeros_above_lambda_max_and_counts_steps():
    X, D, lam = _problem(4, 5, 6, 10, 1.0)
    Z, n_steps, unfinished = lars_path_end(D @ D.T, X @ D.T, lam * 1.01)
    assert n_steps == 0 and not bool(Z.any()) and not bool(unfinished.any())
    # The path of a sample with an orthonormal dictionary: one join per atom above λ.
    x = torch.tensor([[3.0, -2.0, 0.5, 1.5]], dtype=torch.float64)
    Z, n_steps, _ = lars_path_end(torch.eye(4, dtype=torch.float64), x, 1.0)
    assert n_steps == 3
    assert torch.equal(Z, torch.tensor([[2.0, -1.0, 0.0, 0.5]], dtype=torch.float64))


@pytest.mark.parametrize("positive", [False, True])
def test_sparse_encode_lars_matches_scikit_learn_lasso_lars(positive):
    rng = np.random.default_rng(0)
    D = rng.standard_normal((24, 10))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    X = rng.standard_normal((30, 10))
    ours = sparse_encode(X, D, lam=0.3, algorithm="lars", positive=positive, tol=1e-6)
    theirs = sk_sparse_encode(X, D, algorithm="lasso_lars", alpha=0.3, positive=positive)
    energy = lambda Z: 0.5 * ((X - Z @ D) ** 2).sum(1) + 0.3 * np.abs(Z).sum(1)  # noqa: E731
    assert np.all(energy(ours) <= energy(theirs) * (1 + 1e-6) + 1e-9)
    assert ours.dtype == X.dtype


def test_lars_stopped_by_max_steps_returns_its_path_point_and_the_wrapper_finishes():
    X, D, lam = _correlated_problem(5, 6, 12, 30, 0.9, 0.02)
    Z, n_steps, unfinished = lars_path_end(D @ D.T, X @ D.T, lam, max_steps=3)
    assert n_steps == 3 and bool(unfinished.all())
    # Three steps from zero: at most three atoms, on the path, so above the optimum.
    assert bool(((Z != 0).sum(1) <= 3).all())
    optimum = lasso_energy(X, _lasso_codes(X, D, lam), D, lam)
    assert bool((lasso_energy(X, Z, D, lam) > optimum).all())
    assert bool((lasso_energy(X, Z, D, lam) < lasso_energy(X, 0 * Z, D, lam)).all())
    # On the path the active correlations are all equal to the largest one, above λ.
    C = (X @ D.T - Z @ (D @ D.T)).abs()
    largest = C.amax(dim=1, keepdim=True).expand_as(C)
    active = Z != 0
    assert torch.allclose(C[active], largest[active], rtol=1e-9)
    assert bool((largest[:, 0] > lam).all())
