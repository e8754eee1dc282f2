"""Attacks on the engine, once for every exported estimator.

A fit that fails changes nothing; numbers that do not fit float32 get a named
error; divergence is always a ``TrainingDivergedError``; fitted state means what
it says; the weights-only format round-trips and refuses foreign files.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import skvsc
from skvsc._utils import _SQ_NORM_LIMIT
from skvsc.exceptions import CollapsedCodesWarning, TrainingDivergedError

from test_common import ESTIMATORS

IDS = [f"{type(e).__name__}-{i}" for i, e in enumerate(ESTIMATORS)]
QUIET = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning",
                                   "ignore::skvsc.exceptions.CollapsedCodesWarning")
pytestmark = QUIET

X = np.random.RandomState(0).rand(40, 6)


def _fitted(estimator, data=X):
    return clone(estimator).fit(data)


def _state(est):
    """Everything a user can observe of a fitted estimator."""
    return {
        "codes": est.transform(X),
        "components": est.components_,
        "n_iter": est.n_iter_,
        "n_steps": est.n_steps_,
        "history": {k: list(v) for k, v in est.history_.items()},
        "n_features_in": est.n_features_in_,
        "feature_names_in": getattr(est, "feature_names_in_", None),
        "best_epoch": est.best_epoch_,
    }


def _assert_same_state(before, after):
    for key in before:
        if isinstance(before[key], np.ndarray):
            np.testing.assert_array_equal(before[key], after[key], err_msg=key)
        else:
            assert before[key] == after[key], key


class _Injected(Exception):
    pass


def _fail_at_step(est, step, exception):
    """Make the ``step``-th training step (0-based, counted from now) raise."""
    original = type(est)._train_step
    calls = {"n": 0}

    def train_step(self, batch):
        if calls["n"] == step:
            raise exception
        calls["n"] += 1
        return original(self, batch)

    est._train_step = train_step.__get__(est)
    return est


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(step=st.integers(0, 4), method=st.sampled_from(["fit", "partial_fit"]),
       exception=st.sampled_from([_Injected("boom"), KeyboardInterrupt(),
                                  RuntimeError("CUDA out of memory")]))
def test_an_exception_at_any_training_step_changes_nothing(estimator, step, method, exception):
    est = _fitted(clone(estimator).set_params(batch_size=8))  # 5 steps per epoch
    before = _state(est)
    _fail_at_step(est, step, exception)
    with pytest.raises(type(exception)):
        getattr(est, method)(X[::-1] * 0.5)
    del est._train_step  # the instance patch
    _assert_same_state(before, _state(est))
    # ... and the model still trains afterwards.
    est.partial_fit(X)
    assert est.n_iter_ == before["n_iter"] + 1


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("exception", [_Injected("boom"), KeyboardInterrupt()])
def test_a_failed_first_fit_leaves_an_unfitted_estimator(estimator, exception):
    est = _fail_at_step(clone(estimator), 1, exception)
    with pytest.raises(type(exception)):
        est.fit(X)
    del est._train_step
    assert not [name for name in vars(est) if name.endswith("_") and not name.startswith("__")]
    for method in ("transform", "score", "inverse_transform"):
        with pytest.raises(NotFittedError):
            getattr(est, method)(X)
    with pytest.raises(NotFittedError):
        est.save("unused.skvsc")


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_bad_data_in_fit_and_partial_fit_changes_nothing(estimator):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    est = clone(estimator).fit(frame)
    before = _state(est)
    bad = [X[:, :5], X * 1e30, np.where(X > 0.5, np.nan, X),
           pd.DataFrame(X, columns=[f"g{i}" for i in range(6)]) * 1e30]
    for data in bad:
        if data is not bad[0]:  # fewer features is a legitimate refit, not a bad fit
            with pytest.raises(ValueError):
                est.fit(data)
        with pytest.raises(ValueError):
            est.partial_fit(data)
    _assert_same_state(before, _state(est))
    assert list(est.feature_names_in_) == list(frame.columns)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_values_beyond_float32_get_a_named_error_everywhere(estimator):
    est = _fitted(estimator)
    huge = X * 1e30  # finite in float64; ‖x‖² overflows float32
    calls = {
        "fit": lambda: clone(estimator).fit(huge),
        "partial_fit": lambda: est.partial_fit(huge),
        "transform": lambda: est.transform(huge),
        "score": lambda: est.score(huge),
        "score_samples": lambda: est.score_samples(huge),
        "inverse_transform": lambda: est.inverse_transform(
            np.full((2, est.components_.shape[0]), 1e39)),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="float32"):
            call()


def test_sparse_encode_rejects_a_dictionary_whose_gram_overflows():
    with pytest.raises(ValueError, match="dictionary is out of float32 range"):
        skvsc.sparse_encode(X[:2], np.eye(4, 6) * 1e20, device="cpu")
    with pytest.raises(ValueError, match="X is out of float32 range"):
        skvsc.sparse_encode(X[:2] * 1e39, np.eye(4, 6), device="cpu")


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_non_finite_training_is_a_divergence_that_changes_nothing(estimator):
    est = _fitted(estimator)
    before = _state(est)
    original = type(est)._train_step

    def poisoned(self, batch):
        original(self, batch)
        with torch.no_grad():
            for parameter in self.module_.parameters():
                parameter.fill_(float("nan"))
        return float("nan")

    est._train_step = poisoned.__get__(est)
    with pytest.raises(TrainingDivergedError, match="unchanged"):
        est.partial_fit(X)
    with pytest.raises(TrainingDivergedError):
        est.fit(X)
    del est._train_step
    _assert_same_state(before, _state(est))
    assert np.isfinite(est.transform(X)).all()


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_a_finite_blow_up_of_the_loss_is_a_divergence(estimator):
    est = clone(estimator).set_params(batch_size=8)
    original = type(est)._train_step
    steps = {"n": 0}

    def exploding(self, batch):
        loss = original(self, batch)
        steps["n"] += 1
        return loss if steps["n"] < 3 else 1e27  # finite, but 1e6 × past the first loss

    est._train_step = exploding.__get__(est)
    with pytest.raises(TrainingDivergedError, match="blew up"):
        est.fit(X)


@pytest.mark.parametrize("learning_rate", [1e6, 1e30])
def test_svae_huge_learning_rates_diverge_by_name(learning_rate):
    # The issue's reproducers: a torch.distributions constraint error (1e30) and
    # a loss of 1e27 with no error (1e6).
    svae = skvsc.SVAE(n_components=4, encoder="mlp", hidden_layer_sizes=(8,),
                      learning_rate=learning_rate, max_epochs=15, device="cpu",
                      random_state=0)
    with pytest.raises(TrainingDivergedError):
        svae.fit(X)
    assert not hasattr(svae, "module_")


def test_the_issue_reproducers_for_sparse_coder():
    sc = skvsc.SparseCoder(n_components=4, max_epochs=2, device="cpu", random_state=0).fit(X)
    codes = sc.transform(X)
    with pytest.raises(ValueError, match="float32"):
        sc.partial_fit(X * 1e30)  # was: TrainingDivergedError, then NaN atoms kept
    with pytest.raises(ValueError, match="float32"):
        sc.transform(X * 1e39)  # was: 160 NaN codes
    with pytest.raises(ValueError, match="float32"):
        sc.score(X * 1e30)  # was: -inf
    np.testing.assert_array_equal(sc.transform(X), codes)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_layouts_and_dtypes_give_the_same_codes(estimator):
    est = _fitted(estimator)
    expected = est.transform(X)
    reversed_ = X[::-1]
    np.testing.assert_allclose(est.transform(reversed_)[::-1], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(est.transform(np.asfortranarray(X)), expected, rtol=1e-5,
                               atol=1e-5)
    readonly = X.copy()
    readonly.flags.writeable = False
    np.testing.assert_array_equal(est.transform(readonly), expected)
    codes32 = est.transform(X.astype(np.float32))
    assert codes32.dtype == np.float32 and expected.dtype == np.float64
    # Negative strides in fit as well (torch.from_numpy refuses them).
    clone(estimator).fit(X.astype(np.float32)[::-1])


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_components_is_a_copy_in_the_training_dtype(estimator, dtype):
    est = _fitted(estimator, X.astype(dtype))
    atoms = est.components_
    assert atoms.dtype == dtype
    codes = est.transform(X)
    atoms[...] = 0.0
    np.testing.assert_array_equal(est.transform(X), codes)
    assert np.abs(est.components_).sum() > 0


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_codes_do_not_depend_on_how_rows_are_batched(estimator):
    est = _fitted(estimator)
    whole = est.transform(X)
    one_by_one = np.vstack([est.transform(X[i:i + 1]) for i in range(8)])
    in_threes = np.vstack([est.transform(X[i:i + 3]) for i in range(0, 9, 3)])[:8]
    np.testing.assert_allclose(one_by_one, whole[:8], atol=1e-4)
    np.testing.assert_allclose(in_threes, whole[:8], atol=1e-4)


def test_a_fixed_dictionary_trains_nothing():
    D = np.random.RandomState(1).randn(5, 6)
    sc = skvsc.SparseCoder(dictionary=D, device="cpu").fit(X)
    assert sc.n_iter_ == 0 and sc.n_steps_ == 0
    np.testing.assert_allclose(sc.components_, D, rtol=1e-6)
    sc.partial_fit(X)
    assert sc.n_steps_ == 0
    np.testing.assert_allclose(sc.components_, D, rtol=1e-6)


def test_constant_data_never_leaves_a_zero_atom():
    with pytest.warns(CollapsedCodesWarning, match="every code"):
        sc = skvsc.SparseCoder(n_components=4, max_epochs=2, device="cpu",
                               random_state=0).fit(np.zeros((40, 6)))
    np.testing.assert_allclose(np.linalg.norm(sc.components_, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_weights_only_format_round_trips(estimator, tmp_path):
    est = _fitted(estimator)
    path = tmp_path / "model.skvsc"
    est.save(path)
    loaded = skvsc.load(path)
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    np.testing.assert_array_equal(loaded.components_, est.components_)
    np.testing.assert_array_equal(loaded.inverse_transform(est.transform(X)),
                                  est.inverse_transform(est.transform(X)))
    assert loaded.n_iter_ == est.n_iter_ and loaded.history_ == est.history_
    loaded.partial_fit(X)  # training continues, with a fresh optimiser
    # Pickle keeps working too.
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X),
                                  est.transform(X))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_pickled_model_continues_training_exactly(estimator):
    # A model shipped to another process (dask-ml's Incremental does that for
    # every block) trains on as the original: optimiser moments and random
    # streams travel with it.
    est = _fitted(estimator)
    shipped = pickle.loads(pickle.dumps(est))
    for model in (est, shipped):
        model.partial_fit(X)
        model.partial_fit(X[::-1])
    for a, b in zip(est.module_.state_dict().values(), shipped.module_.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_load_refuses_foreign_and_corrupted_files(tmp_path):
    est = skvsc.SparseCoder(n_components=4, max_epochs=1, device="cpu", random_state=0).fit(X)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(est))
    with pytest.raises(ValueError, match="not"):
        skvsc.load(pickled)
    good = tmp_path / "model.skvsc"
    est.save(good)
    corrupted = tmp_path / "corrupted.skvsc"
    corrupted.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(ValueError):
        skvsc.load(corrupted)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(3)}, foreign)
    with pytest.raises(ValueError, match="not an skvsc"):
        skvsc.load(foreign)


def test_load_does_not_execute_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("executed",))

    evil = tmp_path / "evil.skvsc"
    torch.save({"format": "skvsc-weights", "payload": Payload()}, evil)
    with pytest.raises(ValueError):
        skvsc.load(evil)


def test_fit_warns_when_stopped_while_improving_and_not_when_converged():
    data = np.random.RandomState(0).rand(200, 6)
    with pytest.warns(ConvergenceWarning, match="max_epochs=2"):
        skvsc.SparseCoder(n_components=4, max_epochs=2, device="cpu", random_state=0,
                          tol=0.0).fit(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        sc = skvsc.SparseCoder(n_components=4, max_epochs=50, tol=0.5, device="cpu",
                               random_state=0).fit(data)
    assert sc.n_iter_ < 50


def test_best_epoch_is_the_epoch_whose_weights_are_kept():
    data = np.random.RandomState(0).rand(300, 6)
    kw = dict(n_components=4, encoder="mlp", hidden_layer_sizes=(8,), max_epochs=6,
              validation_fraction=0.2, n_iter_no_change=100, device="cpu", random_state=0)
    svae = skvsc.SVAE(**kw).fit(data)
    losses = svae.history_["validation_loss"]
    assert svae.best_epoch_ == int(np.argmin(losses)) + 1
    assert svae.best_loss_ == pytest.approx(min(losses))
    # The kept weights give the best epoch's (deterministic) validation loss;
    # without restoring, the last epoch's weights stay.
    last = skvsc.SVAE(**kw, restore_best=False).fit(data)
    assert last.best_epoch_ == svae.best_epoch_
    if svae.best_epoch_ != len(losses):
        assert not np.array_equal(svae.components_, last.components_)


def test_the_monitored_validation_loss_is_deterministic():
    vsc = skvsc.VariationalSparseCoder(n_components=4, hidden_layer_sizes=(8,), max_epochs=2,
                                       device="cpu", random_state=0).fit(X)
    held_out = np.random.RandomState(3).rand(30, 6)
    values = {vsc._validation_loss(held_out) for _ in range(3)}
    assert len(values) == 1


def test_a_refused_likelihood_leaves_the_trained_vsc_intact():
    # The issue's first reproducer: the model used to be left untrained.
    vsc = skvsc.VariationalSparseCoder(n_components=4, prior="laplace", hidden_layer_sizes=(8,),
                                       max_epochs=5, device="cpu", random_state=0).fit(X)
    codes = vsc.transform(X)
    with pytest.raises(ValueError, match="bernoulli"):
        vsc.set_params(likelihood="bernoulli").fit(X * 5)
    vsc.set_params(likelihood="gaussian")
    np.testing.assert_array_equal(vsc.transform(X), codes)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@settings(max_examples=8, deadline=None)
@given(exponent=st.floats(0, 40), dtype=st.sampled_from([np.float32, np.float64]),
       layout=st.sampled_from(["C", "F", "reversed"]))
def test_any_magnitude_gives_finite_codes_or_a_named_error(estimator, exponent, dtype, layout):
    est = _fitted(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # float32 overflow in the cast
        data = (X * 10.0**exponent).astype(dtype)
    if not np.isfinite(data).all():
        return  # non-finite input: the existing NaN/inf errors
    data = {"C": data, "F": np.asfortranarray(data), "reversed": data[::-1]}[layout]
    fits = float(np.max(np.sum(data.astype(np.float64) ** 2, axis=1))) <= _SQ_NORM_LIMIT
    for method in (est.transform, est.score_samples):
        if fits:
            assert np.isfinite(method(data)).all()
        else:
            with pytest.raises(ValueError, match="float32"):
                method(data)


@pytest.mark.parametrize("make", [
    lambda lr: skvsc.SVAE(n_components=4, learning_rate=lr, device="cpu", random_state=0),
    lambda lr: skvsc.VariationalSparseCoder(n_components=4, hidden_layer_sizes=(8,),
                                            learning_rate=lr, device="cpu", random_state=0),
    lambda lr: skvsc.VarianceRegDictLearner(n_components=4, learning_rate=lr,
                                            encoder_learning_rate=lr, code_max_iter=20,
                                            device="cpu", random_state=0),
], ids=["SVAE", "VariationalSparseCoder", "VarianceRegDictLearner"])
@pytest.mark.parametrize("learning_rate", [1e10, 1e30])
def test_a_one_batch_partial_fit_that_diverges_is_named_and_undone(make, learning_rate):
    # One batch: the only loss is measured before the only step, so the
    # per-epoch probe of weights and outputs must catch it (review of #13).
    est = make(learning_rate)
    with pytest.raises(TrainingDivergedError):
        est.partial_fit(X)
    assert not hasattr(est, "module_")


def test_digits_scaled_to_the_edge_of_float32_get_a_range_error_not_a_divergence():
    data = X * 1e17  # ‖x‖² ≈ 2e34: below float32's maximum, beyond its headroom
    for est in (skvsc.SparseCoder(n_components=4, max_epochs=1, device="cpu"),
                skvsc.SVAE(n_components=4, max_epochs=1, device="cpu")):
        with pytest.raises(ValueError, match="float32"):
            est.fit(data)


def test_a_fixed_dictionary_out_of_float32_range_is_refused():
    with pytest.raises(ValueError, match="dictionary is out of float32 range"):
        skvsc.SparseCoder(dictionary=np.eye(4, 6) * 1e20, device="cpu").fit(X)


def test_set_params_learning_rate_reaches_partial_fit():
    kw = dict(n_components=4, hidden_layer_sizes=(8,), max_epochs=2, device="cpu",
              random_state=0)
    slow = skvsc.VariationalSparseCoder(**kw).fit(X)
    fast = skvsc.VariationalSparseCoder(**kw).fit(X)
    slow.set_params(learning_rate=1e-6).partial_fit(X)
    fast.set_params(learning_rate=1e-1).partial_fit(X)
    assert not np.allclose(slow.components_, fast.components_)


def test_load_refuses_state_that_is_not_fitted_state(tmp_path):
    est = skvsc.SparseCoder(n_components=4, max_epochs=1, device="cpu", random_state=0).fit(X)
    path = tmp_path / "model.skvsc"
    est.save(path)
    archive = torch.load(path, weights_only=True)
    import json
    state = json.loads(archive["state"])
    state["transform"] = 1  # would shadow the method
    archive["state"] = json.dumps(state)
    torch.save(archive, tmp_path / "shadow.skvsc")
    with pytest.raises(ValueError, match="not fitted state"):
        skvsc.load(tmp_path / "shadow.skvsc")
    archive["params"] = json.dumps({"__dict__": {"lam": -1.0}})
    torch.save(archive, tmp_path / "params.skvsc")
    with pytest.raises(ValueError):
        skvsc.load(tmp_path / "params.skvsc")
    est.save(path)
    archive = torch.load(path, weights_only=True)
    archive["tensors"]["module_/atoms"][0, 0] = float("nan")
    torch.save(archive, tmp_path / "nan.skvsc")
    with pytest.raises(ValueError, match="not finite"):
        skvsc.load(tmp_path / "nan.skvsc")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            skvsc.load(path, device="cuda")


def test_vsc_validation_loss_does_not_depend_on_the_warm_up_step():
    vsc = skvsc.VariationalSparseCoder(n_components=4, hidden_layer_sizes=(8,), max_epochs=2,
                                       warmup_steps=200, device="cpu", random_state=0).fit(X)
    values = set()
    for step in (0, 50, 200):
        vsc.n_steps_ = step
        values.add(vsc._validation_loss(X))
    assert len(values) == 1


def test_score_warns_when_its_codes_stop_uncertified():
    sc = skvsc.SparseCoder(n_components=8, max_epochs=2, device="cpu", random_state=0).fit(X)
    with pytest.warns(ConvergenceWarning, match="code_max_iter=2"):
        sc.set_params(code_max_iter=2, code_tol=1e-8).score(X)
