"""Training from memory-mapped arrays, progress bars and loss reads of the engine."""

import numpy as np
import pytest
from sklearn.base import clone

import skvsc._data
import skvsc._training
from skvsc import SparseCoder, sparse_encode

from test_common import ESTIMATORS

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore::skvsc.exceptions.CollapsedCodesWarning")]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((700, 12)).astype(np.float32)


def mapped(array, path):
    """``array`` written to ``path`` and reopened read-only, memory-mapped."""
    np.save(path, array)
    return np.load(path, mmap_mode="r")


def weights(estimator):
    return [t.numpy() for t in estimator.module_.state_dict().values()]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_memmap_fit_equals_in_memory_fit(estimator, data, tmp_path):
    # Same seed, same batches: streaming is an implementation detail.
    params = {"max_epochs": 2, "validation_fraction": 0.2, "batch_size": 64}
    X = mapped(data, tmp_path / "X.npy")
    streamed = clone(estimator).set_params(**params).fit(X)
    in_memory = clone(estimator).set_params(**params).fit(data)
    assert all(np.array_equal(a, b) for a, b in zip(weights(streamed), weights(in_memory)))
    assert streamed.history_["validation_loss"] == in_memory.history_["validation_loss"]
    np.testing.assert_array_equal(streamed.transform(X), in_memory.transform(data))


def test_memmap_is_read_in_batches_not_whole(data, tmp_path, monkeypatch):
    # Every conversion of a memory-mapped X to a tensor is one batch or chunk.
    X = mapped(np.tile(data, (8, 1)), tmp_path / "X.npy")
    sizes = []
    as_tensor = skvsc._data.as_tensor

    def recording(array, device):
        sizes.append(len(array))
        return as_tensor(array, device)

    monkeypatch.setattr("skvsc._base.as_tensor", recording)
    coder = SparseCoder(n_components=6, batch_size=100, max_epochs=1, device="cpu",
                        random_state=0).fit(X)
    assert max(sizes) <= 2048 < len(X)
    sizes.clear()
    coder.transform(X)
    assert max(sizes) <= 2048


def test_memmap_validation_is_complete(data, tmp_path):
    bad = data.copy()
    bad[-1, 3] = np.nan  # in the last chunk only
    coder = SparseCoder(n_components=4, max_epochs=1, device="cpu")
    with pytest.raises(ValueError, match="NaN"):
        coder.fit(mapped(bad, tmp_path / "bad.npy"))
    assert not hasattr(coder, "module_")
    huge = data.copy()
    huge[-1] = 1e30
    with pytest.raises(ValueError, match="float32 range"):
        coder.fit(mapped(huge, tmp_path / "huge.npy"))
    cube = np.zeros((4, 3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="2D"):
        coder.fit(mapped(cube, tmp_path / "cube.npy"))
    coder.fit(mapped(data, tmp_path / "X.npy"))
    with pytest.raises(ValueError, match="features"):
        coder.transform(mapped(data[:, :5], tmp_path / "narrow.npy"))


def test_integer_memmap_gives_float64_like_an_integer_array(tmp_path):
    counts = np.random.default_rng(1).integers(0, 5, size=(300, 8))
    params = {"n_components": 4, "max_epochs": 1, "device": "cpu", "random_state": 0}
    streamed = SparseCoder(**params).fit(mapped(counts, tmp_path / "counts.npy"))
    in_memory = SparseCoder(**params).fit(counts)
    codes = streamed.transform(mapped(counts, tmp_path / "counts.npy"))
    assert codes.dtype == streamed.components_.dtype == np.float64
    np.testing.assert_array_equal(codes, in_memory.transform(counts))


def test_data_moments_match_numpy_in_float64(data):
    X = np.concatenate([data, data[:123] * 3 + 1])
    mean, variance = skvsc._data.data_moments(X)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(mean, X64.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(variance, ((X64 - X64.mean(axis=0)) ** 2).mean(), rtol=1e-12)


def test_verbose_zero_is_silent_and_verbose_writes_log_lines(data, capsys):
    SparseCoder(n_components=4, max_epochs=2, device="cpu", random_state=0).fit(data)
    assert capsys.readouterr().err == ""
    coder = SparseCoder(n_components=4, max_epochs=2, verbose=2, device="cpu", random_state=0)
    coder.fit(data)
    err = capsys.readouterr().err
    # stderr is not a terminal here: whole lines, no carriage returns.
    assert "\r" not in err
    summaries = [line for line in err.splitlines() if "|" not in line]
    assert [line.split(" loss ")[0] for line in summaries] == [
        "SparseCoder epoch 1/2", "SparseCoder epoch 2/2"]
    assert "6/6" in err  # the bar counts batches: 2 epochs × 3 of 256 rows


def test_transform_of_large_input_shows_progress(data, capsys, monkeypatch):
    monkeypatch.setattr("skvsc._base.BAR_MIN_ROWS", 500)
    coder = SparseCoder(n_components=4, max_epochs=1, device="cpu", random_state=0).fit(data)
    coder.transform(data)
    assert capsys.readouterr().err == ""  # verbose=0
    coder.set_params(verbose=1).transform(data)
    err = capsys.readouterr().err
    assert "SparseCoder.transform" in err and "700/700" in err
    coder.transform(data[:100])  # small input: no bar
    assert capsys.readouterr().err == ""


def test_step_losses_are_read_in_groups(data, monkeypatch):
    # One host read per group of steps, not one per step (a GPU synchronisation each).
    reads = []
    read_losses = skvsc._training.TrainingMixin._read_losses

    def counting(self, pending, *args):
        reads.append(len(pending))
        return read_losses(self, pending, *args)

    monkeypatch.setattr(skvsc._training.TrainingMixin, "_read_losses", counting)
    X = np.tile(data, (10, 1))
    SparseCoder(n_components=4, batch_size=10, max_epochs=1, device="cpu").fit(X)
    n_steps = len(X) // 10
    assert sum(reads) == n_steps
    assert len([n for n in reads if n]) <= n_steps // skvsc._training._LOSS_READS_EVERY + 2


def test_sparse_encode_progress_only_when_asked(data, capsys):
    dictionary = np.eye(12, dtype=np.float32)
    sparse_encode(data, dictionary, lam=0.1, batch_size=256)
    assert capsys.readouterr().err == ""
    sparse_encode(data, dictionary, lam=0.1, batch_size=256, verbose=1)
    err = capsys.readouterr().err
    assert "sparse_encode" in err and "700/700" in err and "\r" not in err
