"""Every estimator on CUDA vs the CPU, on MNIST-sized data, in one table.

For each estimator (default parameters, one epoch), the script times ``fit``
on 60,000 × 784 rows and ``transform`` of 10,000 rows on the CPU and on the
GPU, then the throughput of :func:`skvsc.sparse_encode` (784 features, 256
and 784 atoms, ``tol=1e-4``, both algorithms), and prints the GPU/CPU speed-up of every row.
With ``--tests`` it then runs the CUDA tests (``tests/test_cuda.py``).

The data are MNIST when ``--mnist PATH`` (an ``.npz`` with ``x_train``) is
given and exists, otherwise uniform noise of the same shape, scaled to [0, 1]
(throughput depends on the shape, the codes' sparsity a little: the table says
which data it used).  Budget: under 8 minutes on one GPU and 16 CPU cores.

Run: ``python benchmarks/bench_gpu.py --tests`` (exits with an error when
PyTorch sees no CUDA device).
"""

import argparse
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import torch

from skvsc import SVAE, SparseCoder, VarianceRegDictLearner, VariationalSparseCoder, sparse_encode

ESTIMATORS = {
    "SparseCoder": lambda device: SparseCoder(n_components=256, max_epochs=1, device=device,
                                              random_state=0),
    "SVAE": lambda device: SVAE(n_components=256, max_epochs=1, device=device, random_state=0),
    "VariationalSparseCoder": lambda device: VariationalSparseCoder(max_epochs=1, device=device,
                                                                    random_state=0),
    "VarianceRegDictLearner": lambda device: VarianceRegDictLearner(max_epochs=1, device=device,
                                                                    random_state=0),
}


def load_data(path, rng):
    if path and os.path.exists(path):
        with np.load(path) as archive:
            X = archive["x_train"].reshape(len(archive["x_train"]), -1).astype(np.float32)
        return X / X.max(), "MNIST"
    return rng.random((60_000, 784), dtype=np.float32), "uniform noise of MNIST's shape"


def timed(function, device):
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = function()
    if device == "cuda":
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default="../shared/data/mnist.npz")
    parser.add_argument("--tests", action="store_true", help="then run tests/test_cuda.py")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("PyTorch sees no CUDA device: nothing to compare.")
    warnings.simplefilter("ignore")  # one epoch: ConvergenceWarning is expected
    rng = np.random.default_rng(0)
    X, source = load_data(args.mnist, rng)
    X_test = X[:10_000]
    print(f"GPU: {torch.cuda.get_device_name(0)}; CPU threads: {torch.get_num_threads()}; "
          f"torch {torch.__version__}; data: {source}, {X.shape[0]:,} x {X.shape[1]}\n")
    rows = []
    for name, make in ESTIMATORS.items():
        times = {}
        for device in ("cpu", "cuda"):
            model, times[device, "fit"] = timed(lambda: make(device).fit(X), device)
            model.transform(X_test[:256])  # warm-up (kernels, allocator)
            _, times[device, "transform"] = timed(lambda: model.transform(X_test), device)
        for what in ("fit", "transform"):
            rows.append((f"{name}.{what}", times["cpu", what], times["cuda", what]))
    for n_atoms in (256, 784):
        dictionary = rng.standard_normal((n_atoms, X.shape[1])).astype(np.float32)
        dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
        for algorithm in ("fista", "lars"):
            times = {}
            for device in ("cpu", "cuda"):
                encode = lambda rows: sparse_encode(  # noqa: E731
                    rows, dictionary, lam=0.1, tol=1e-4, device=device, algorithm=algorithm)
                encode(X_test[:256])  # warm-up
                _, times[device] = timed(lambda: encode(X_test), device)
            rows.append((f"sparse_encode {algorithm} {n_atoms} atoms (10k rows)", times["cpu"],
                         times["cuda"]))

    print(f"{'operation':<44}{'CPU s':>9}{'GPU s':>9}{'GPU speed-up':>14}")
    for name, cpu, gpu in rows:
        print(f"{name:<44}{cpu:>9.2f}{gpu:>9.2f}{cpu / gpu:>13.1f}x")
    if args.tests:
        print("\nCUDA tests:", flush=True)
        sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                  "tests/test_cuda.py", "tests/test_sparse_coding.py",
                                  "-k", "cuda"]))


if __name__ == "__main__":
    main()
