"""Every estimator on a CUDA device (skipped where PyTorch sees no GPU).

CI has no GPU; ``benchmarks/bench_gpu.py --tests`` runs this file on one.
"""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits

import skvsc
from skvsc import SparseCoder, sparse_encode

from test_common import ESTIMATORS

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::skvsc.exceptions.CollapsedCodesWarning"),
]


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:600] / 16.0).astype(np.float32)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_fit_transform_save_on_cuda(estimator, X, tmp_path):
    model = clone(estimator).set_params(device="cuda", max_epochs=2).fit(X)
    assert model.device_.type == "cuda"
    assert all(t.device.type == "cuda" for t in model.module_.state_dict().values())
    codes = model.transform(X)
    assert isinstance(codes, np.ndarray) and np.isfinite(codes).all()
    assert np.isfinite(model.inverse_transform(codes)).all()
    assert np.isfinite(model.score(X))
    model.partial_fit(X)  # optimisers and generators work after a fit
    path = tmp_path / "model.pt"
    model.save(path)
    np.testing.assert_array_equal(skvsc.load(path).transform(X), model.transform(X))
    on_cpu = skvsc.load(path, device="cpu")
    np.testing.assert_allclose(on_cpu.transform(X), model.transform(X), rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).transform(X),
                                  model.transform(X))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_training_noise_is_drawn_on_the_gpu(estimator, X):
    model = clone(estimator).set_params(device="cuda", max_epochs=1).fit(X)
    assert model._noise_generator.device.type == "cuda"
    assert model._generator.device.type == "cpu"  # weights and shuffling: as on the CPU


def test_cuda_fit_is_reproducible(X):
    params = {"n_components": 16, "max_epochs": 2, "device": "cuda", "random_state": 0}
    for estimator in ESTIMATORS:
        a = clone(estimator).set_params(**params).fit(X)
        b = clone(estimator).set_params(**params).fit(X)
        np.testing.assert_allclose(a.transform(X), b.transform(X), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("algorithm", ["fista", "lars"])
def test_sparse_encode_on_cuda_matches_the_cpu(X, algorithm):
    dictionary = SparseCoder(n_components=32, max_epochs=2, device="cpu",
                             random_state=0).fit(X).components_
    cpu = sparse_encode(X, dictionary, lam=0.1, tol=1e-6, device="cpu", algorithm=algorithm)
    gpu = sparse_encode(X, dictionary, lam=0.1, tol=1e-6, device="cuda", algorithm=algorithm)

    def energy(Z):
        return 0.5 * ((X - Z @ dictionary) ** 2).sum(1) + 0.1 * np.abs(Z).sum(1)

    # Both certified to 1e-6 relative: their energies agree to that order.
    np.testing.assert_allclose(energy(gpu), energy(cpu), rtol=1e-4)


def test_memmap_training_on_cuda_matches_in_memory(X, tmp_path):
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    params = {"n_components": 16, "max_epochs": 2, "device": "cuda", "random_state": 0}
    a = SparseCoder(**params).fit(mapped)
    b = SparseCoder(**params).fit(X)
    np.testing.assert_allclose(a.components_, b.components_, rtol=1e-5, atol=1e-6)
