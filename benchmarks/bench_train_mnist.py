"""Dictionary learning on MNIST: skvsc SparseCoder vs scikit-learn (issue 14).

Learns 784 atoms at λ = 0.1 on the 60,000 MNIST training images / 255 for
``--epochs`` epoch(s) of mini-batches of 256, with ``SparseCoder`` (online
dictionary update) and ``sklearn.decomposition.MiniBatchDictionaryLearning``
(``fit_algorithm="cd"``), both stepped through the same mini-batches by
``partial_fit``.  At checkpoints the held-out energy ``½‖x − zD‖² + λ‖z‖₁``
(mean over the first ``--n-test`` MNIST test images, exact codes from
``skvsc.sparse_encode(algorithm="lars")``) is measured; only the learning
calls are timed.  Prints one table and the time each method needs to reach
scikit-learn's final held-out energy (interpolated between checkpoints).
Everything runs with 2 threads.

Run ``python benchmarks/bench_train_mnist.py`` (about 10 minutes on 2 cores)
or ``--quick`` (10,000 images).
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skvsc import SparseCoder, sparse_encode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sparse_coding import energy, time_to_reach  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
N_ATOMS, BATCH, LAM = 784, 256, 0.1


def held_out_energy(X, D):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        Z = sparse_encode(X, np.asarray(D, dtype=np.float64), lam=LAM, algorithm="lars",
                          tol=1e-6, device="cpu")
    return energy(X, Z, np.asarray(D, dtype=np.float64), LAM)


def learners(seed, threads):
    coder = SparseCoder(N_ATOMS, lam=LAM, batch_size=BATCH, device="cpu", random_state=seed)
    mbdl = MiniBatchDictionaryLearning(n_components=N_ATOMS, alpha=LAM, batch_size=BATCH,
                                       fit_algorithm="cd", n_jobs=threads, random_state=seed)

    def sklearn_step(X_chunk):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for start in range(0, len(X_chunk), BATCH):  # partial_fit = one mini-batch
                mbdl.partial_fit(X_chunk[start : start + BATCH])

    return {"skvsc SparseCoder": (coder.partial_fit, lambda: coder.components_),
            "sklearn MiniBatchDictLearning": (sklearn_step, lambda: mbdl.components_)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 training images")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = np.load(DATA / "mnist.npz")
    n_train = 10000 if args.quick else 60000
    X_train = data["x_train"][:n_train].reshape(n_train, -1) / 255.0
    X_test = data["x_test"][: args.n_test].reshape(args.n_test, -1) / 255.0
    steps_per_epoch = n_train // BATCH
    total = args.epochs * steps_per_epoch
    checkpoints = sorted({s for s in (4, 16, 32, 64, 96, 128, 160, 196, 235, 300, 400, 470,
                                      600, 705) if s < total} | {total})
    rng = np.random.default_rng(0)
    order = np.concatenate([rng.permutation(n_train)[: steps_per_epoch * BATCH]
                            for _ in range(args.epochs)])
    print(f"torch {torch.__version__}, {args.threads} threads, {n_train} training images, "
          f"{args.epochs} epoch(s) = {total} mini-batches of {BATCH}, {N_ATOMS} atoms, "
          f"λ={LAM}, load average {os.getloadavg()[0]:.1f}", flush=True)
    curves = {}
    with threadpool_limits(args.threads):
        for name, (step, dictionary) in learners(0, args.threads).items():
            curve, done, seconds = [], 0, 0.0
            for checkpoint in checkpoints:
                start = time.perf_counter()
                step(X_train[order[done * BATCH : checkpoint * BATCH]])
                seconds += time.perf_counter() - start
                done = checkpoint
                curve.append((seconds, held_out_energy(X_test, dictionary())))
            curves[name] = curve
            print(f"  {name:<30} {seconds:8.1f} s, final held-out energy {curve[-1][1]:.5f}",
                  flush=True)
    names = list(curves)
    print(f"\nHeld-out energy on {args.n_test} test images (learning time [s] / energy), "
          f"load average {os.getloadavg()[0]:.1f}")
    header = f"{'steps':>6} " + " ".join(f"{name:>30}" for name in names)
    print(header)
    print("-" * len(header))
    for row, checkpoint in enumerate(checkpoints):
        cells = [f"{curves[n][row][0]:9.1f} / {curves[n][row][1]:9.5f}" for n in names]
        print(f"{checkpoint:>6} " + " ".join(f"{c:>30}" for c in cells))
    target = curves[names[1]][-1][1]
    print(f"\nTime to reach scikit-learn's final held-out energy {target:.5f}:")
    for name in names:
        print(f"  {name:<30} {time_to_reach(curves[name], target):8.1f} s")
    ours, theirs = time_to_reach(curves[names[0]], target), curves[names[1]][-1][0]
    print(f"  one epoch: skvsc {curves[names[0]][-1][0] / args.epochs:.1f} s, scikit-learn "
          f"{theirs / args.epochs:.1f} s; skvsc reaches scikit-learn's final energy "
          f"{theirs / ours:.1f}x sooner")


if __name__ == "__main__":
    main()
