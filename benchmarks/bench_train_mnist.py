"""Dictionary learning on MNIST: skvsc SparseCoder vs scikit-learn (issue 14).

Learns 784 atoms at λ = 0.1 on the 60,000 MNIST training images / 255 for
``--epochs`` epoch(s) of mini-batches of 256, with ``SparseCoder`` (online
dictionary update) and ``sklearn.decomposition.MiniBatchDictionaryLearning``
(``fit_algorithm="cd"``), both stepped through the same mini-batches by
``partial_fit``.  Every half epoch the held-out energy
``½‖x − zD‖² + λ‖z‖₁`` (mean over the first ``--n-test`` MNIST test images,
codes certified to 1e-4 relative suboptimality by ``skvsc.sparse_encode``,
in practice within 1e-9 of the optimum on these dictionaries) is measured; only
the learning calls are timed.  scikit-learn runs ``--epochs`` epochs;
SparseCoder runs until its held-out energy reaches scikit-learn's final one
(at most ``--skvsc-epochs``).  Prints the time of one epoch, the held-out
energy after it, and the time to reach scikit-learn's final held-out energy
(interpolated between checkpoints), side by side.  Everything runs with 2
threads.

Run ``python benchmarks/bench_train_mnist.py`` (about 10 minutes on 2 cores,
most of it scikit-learn's epoch) or ``--quick`` (10,000 images).
"""

import argparse
import math
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
        Z = sparse_encode(X, np.asarray(D, dtype=np.float64), lam=LAM, tol=1e-4,
                          max_iter=3000, device="cpu")
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

    return {"sklearn MiniBatchDictionaryLearning(fit_algorithm='cd')":
            (sklearn_step, lambda: mbdl.components_),
            "skvsc SparseCoder": (coder.partial_fit, lambda: coder.components_)}


def learning_curve(step, dictionary, X_train, X_test, order, checkpoints, target=None,
                   min_steps=0):
    """(steps, learning seconds, held-out energy) at each checkpoint; stops below
    ``target`` once past ``min_steps``."""
    curve, done, seconds = [], 0, 0.0
    for checkpoint in checkpoints:
        start = time.perf_counter()
        step(X_train[order[done * BATCH : checkpoint * BATCH]])
        seconds += time.perf_counter() - start
        done = checkpoint
        curve.append((checkpoint, seconds, held_out_energy(X_test, dictionary())))
        print(f"    {checkpoint:5d} steps {seconds:8.1f} s  held-out energy {curve[-1][2]:.5f}",
              flush=True)
        if target is not None and curve[-1][2] <= target and checkpoint >= min_steps:
            break
    return curve


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 training images")
    parser.add_argument("--epochs", type=int, default=1, help="scikit-learn's epochs")
    parser.add_argument("--skvsc-epochs", type=int, default=2,
                        help="at most this many epochs for SparseCoder")
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = np.load(DATA / "mnist.npz")
    n_train = 10000 if args.quick else 60000
    X_train = data["x_train"][:n_train].reshape(n_train, -1) / 255.0
    X_test = data["x_test"][: args.n_test].reshape(args.n_test, -1) / 255.0
    steps_per_epoch = n_train // BATCH
    rng = np.random.default_rng(0)
    epochs = max(args.epochs, args.skvsc_epochs)
    # One shared order: both learners see the same mini-batches.
    order = np.concatenate([rng.permutation(n_train)[: steps_per_epoch * BATCH]
                            for _ in range(epochs)])
    print(f"torch {torch.__version__}, {args.threads} threads, {n_train} training images, "
          f"mini-batches of {BATCH} ({steps_per_epoch} per epoch), {N_ATOMS} atoms, "
          f"λ={LAM}, held-out energy on {args.n_test} test images, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    half = max(1, steps_per_epoch // 2)
    curves, target = {}, None
    with threadpool_limits(args.threads):
        for name, (step, dictionary) in learners(0, args.threads).items():
            n_epochs = args.epochs if target is None else args.skvsc_epochs
            total = n_epochs * steps_per_epoch
            print(f"  {name}", flush=True)
            curves[name] = learning_curve(
                step, dictionary, X_train, X_test, order,
                sorted({half * i for i in range(1, 2 * n_epochs)} | {total}), target=target,
                min_steps=steps_per_epoch)
            if target is None:  # scikit-learn's final held-out energy
                target = curves[name][-1][2]
    names = list(curves)
    sk_seconds = curves[names[0]][-1][1]
    print(f"\nSide by side ({n_train} images, load average {os.getloadavg()[0]:.1f}):")
    print(f"  {'':<56} {'one epoch [s]':>13} {'energy after it':>15} "
          f"{'time to ' + format(target, '.5f') + ' [s]':>18}")
    for name in names:
        curve = curves[name]
        epoch = next(((s, E) for n, s, E in curve if n >= steps_per_epoch), (math.nan, math.nan))
        reach = time_to_reach([(s, E) for _, s, E in curve], target)
        print(f"  {name:<56} {epoch[0]:13.1f} {epoch[1]:15.5f} {reach:18.1f}"
              + (f"   ({sk_seconds / reach:.2f}x scikit-learn's)"
                 if math.isfinite(reach) and name != names[0] else ""))

if __name__ == "__main__":
    main()
