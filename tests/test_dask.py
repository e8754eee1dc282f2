"""skvsc on a dask cluster (issue 17): distributed grid searches, out-of-core
training with dask-ml's ``Incremental``, ``transform`` of dask arrays.

Every test runs on one ``LocalCluster`` of two worker processes with one
thread each, the smallest real cluster: tasks are pickled, shipped to other
processes and run there.  The user guide's "Scaling up" page documents what
is tested here.
"""

import contextlib
import os

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skvsc import SparseCoder, VariationalSparseCoder

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

# Short fits end "still improving": on the workers the warning only prints.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# Workers run OMP_NUM_THREADS torch threads: the user's value, else dask's 1.
WORKER_THREADS = int(os.environ.get("OMP_NUM_THREADS", 1))


@pytest.fixture(scope="module")
def client():
    # The nanny writes its worker environment (OMP_NUM_THREADS=1, ...) into
    # this process's os.environ; later tests' subprocesses must not inherit it.
    environ = dict(os.environ)
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster:
            with distributed.Client(cluster) as client:
                yield client
    finally:
        os.environ.clear()
        os.environ.update(environ)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@contextlib.contextmanager
def _torch_threads(n_threads):
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _search_both_ways(search, X, y=None):
    """The same search fitted serially here and on the cluster through joblib.

    The serial search runs as many torch threads as a worker: float32
    sums are split differently between threads, which moves a score in its
    7th digit (SparseCoder's, measured); with equal thread counts the
    computations, and so the results, must be identical.
    """
    with _torch_threads(WORKER_THREADS):
        serial = clone(search).fit(X, y)
    with joblib.parallel_backend("dask"):
        distributed_ = clone(search).fit(X, y)
    return serial, distributed_


def _assert_same_results(serial, distributed_):
    for key, value in serial.cv_results_.items():
        if key.startswith(("split", "mean_test", "std_test", "rank_test", "param")):
            np.testing.assert_array_equal(distributed_.cv_results_[key], value, err_msg=key)
    assert distributed_.best_params_ == serial.best_params_
    assert distributed_.best_index_ == serial.best_index_


def test_workers_run_omp_num_threads_torch_threads(client):
    # The nanny starts every worker with OMP_NUM_THREADS=1 (dask's
    # distributed.nanny.pre-spawn-environ) unless the environment sets it,
    # and torch reads it when imported: two workers on two cores do not
    # fight over four threads.
    threads = client.run(torch.get_num_threads)
    assert list(threads.values()) == [WORKER_THREADS] * 2


def test_pipeline_grid_search_on_the_cluster_equals_the_serial_one(client, digits):
    X, y = digits
    X, y = X[:300], y[:300]
    pipe = Pipeline([
        ("vsc", VariationalSparseCoder(n_components=16, max_epochs=2, validation_fraction=0.0,
                                       device="cpu", random_state=0)),
        ("clf", LogisticRegression(max_iter=200)),
    ])
    grid = {"vsc__lam": [0.05, 0.2], "vsc__beta": [0.5, 2.0]}
    # The log-loss is continuous: equal scores mean equal models, not merely
    # equally many correct labels.
    search = GridSearchCV(pipe, grid, cv=2, scoring=["accuracy", "neg_log_loss"],
                          refit="neg_log_loss")
    serial, distributed_ = _search_both_ways(search, X, y)
    _assert_same_results(serial, distributed_)
    # The grid matters (the test could not pass with every score equal).
    assert np.ptp(serial.cv_results_["mean_test_neg_log_loss"]) > 0.1
    # The refitted best model is the same model.
    np.testing.assert_array_equal(distributed_.predict_proba(X), serial.predict_proba(X))


def test_unsupervised_lam_search_on_the_cluster_equals_the_serial_one(client, digits):
    X = digits[0][:300]
    coder = SparseCoder(n_components=32, max_epochs=2, batch_size=64, device="cpu",
                        random_state=0)
    search = GridSearchCV(coder, {"lam": [0.03, 0.1, 0.3]}, cv=2)  # by SparseCoder.score
    serial, distributed_ = _search_both_ways(search, X)
    _assert_same_results(serial, distributed_)
    assert np.ptp(serial.cv_results_["mean_test_score"]) > 0.01
    np.testing.assert_array_equal(distributed_.best_estimator_.components_,
                                  serial.best_estimator_.components_)


def test_incremental_training_reaches_the_energy_of_fit(client, digits):
    dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
    # 1792 = 14 batches of 128 rows; blocks of 256 rows are 2 batches each.
    # Fair comparison: both see every row n_epochs times in 14 batches of 128
    # per pass (70 dictionary updates each); they differ only in the order
    # (fit shuffles the whole array, Incremental shuffles the blocks and
    # partial_fit the rows within each block).
    X = digits[0][:1792]
    n_epochs = 5
    coder = SparseCoder(n_components=32, lam=0.1, batch_size=128, max_epochs=n_epochs,
                        n_iter_no_change=n_epochs, device="cpu", random_state=0)
    in_memory = clone(coder).fit(X)

    incremental = dask_ml_wrappers.Incremental(clone(coder), random_state=0)
    X_dask = da.from_array(X, chunks=(256, -1))
    for _ in range(n_epochs):
        incremental.partial_fit(X_dask)  # one pass over the blocks, on the workers
    streamed = incremental.estimator_
    assert streamed.n_steps_ == in_memory.n_steps_ == 70

    # Within 1% of fit's mean energy: fit's own energies over random_state
    # 0-4 span 0.903-0.910 (0.8%), those of Incremental (in process) 0.906-0.919.
    energy = in_memory.energy(X).mean()
    assert streamed.energy(X).mean() == pytest.approx(energy, rel=0.01)
    # A bound that tells training apart: half the passes end 2.4-3% higher.
    half = clone(coder).set_params(max_epochs=n_epochs // 2).fit(X)
    assert half.energy(X).mean() > 1.02 * energy


@pytest.mark.parametrize("estimator", [
    SparseCoder(n_components=16, lam=0.1, batch_size=128, device="cpu", random_state=0),
    VariationalSparseCoder(n_components=8, batch_size=128, device="cpu", random_state=0),
], ids=lambda e: type(e).__name__)
def test_incremental_on_the_cluster_equals_incremental_in_process(client, digits, estimator):
    # The model travels between workers as a pickle, which carries its
    # optimiser moments and random streams: training is the same computation.
    dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
    X_dask = da.from_array(digits[0][:1024], chunks=(256, -1))

    def train():
        incremental = dask_ml_wrappers.Incremental(clone(estimator), random_state=0)
        for _ in range(2):
            incremental.partial_fit(X_dask)
        return incremental.estimator_

    with _torch_threads(WORKER_THREADS), dask.config.set(scheduler="synchronous"):
        in_process = train()
    on_cluster = train()
    assert on_cluster.n_steps_ == in_process.n_steps_ == 16
    for a, b in zip(in_process.module_.state_dict().values(),
                    on_cluster.module_.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_transform_of_a_dask_array_equals_transform_in_memory(client, digits):
    dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
    X = digits[0][:1000]
    coder = SparseCoder(n_components=32, max_epochs=3, device="cpu", random_state=0).fit(X)
    X_dask = da.from_array(X, chunks=(256, -1))
    codes = coder.transform(X)
    by_map_blocks = X_dask.map_blocks(coder.transform, chunks=(X_dask.chunks[0], (32,)),
                                      dtype=X.dtype)
    assert by_map_blocks.chunks == ((256, 256, 256, 232), (32,))
    # ParallelPostFit declares the input's chunks for the output, (64,)
    # columns instead of 32: right values, wrong lazy shape until computed.
    by_post_fit = dask_ml_wrappers.ParallelPostFit(coder).transform(X_dask)
    for lazy in (by_map_blocks, by_post_fit):
        assert isinstance(lazy, da.Array)
        computed = lazy.compute()  # on the workers
        assert computed.shape == codes.shape and computed.dtype == codes.dtype
        # FISTA certifies each code to code_tol of its optimal energy; its
        # float32 sums depend on the batch's shape and on the thread count,
        # so codes agree to that accuracy, not bit for bit.
        np.testing.assert_allclose(computed, codes, atol=1e-4)
        energies = 0.5 * ((X - computed @ coder.components_) ** 2).sum(1) \
            + coder.lam * np.abs(computed).sum(1)
        np.testing.assert_allclose(energies, coder.energy(X), rtol=2 * coder.code_tol)

