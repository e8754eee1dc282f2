"""Cost of the transactional snapshot behind every ``fit``/``partial_fit`` (issue 13).

Each call first snapshots what training changes in place (weights, optimiser
moments, generator, history), so that any exception can restore the estimator.
Prints, per estimator with its default architecture on MNIST (784 features),
the snapshot's time beside one ``partial_fit`` on 1,024 rows, in one run.

Run from the project root: ``python benchmarks/bench_transaction.py``
(needs ``../shared/data/mnist.npz``).
"""

import time
import warnings
from pathlib import Path

import numpy as np
import torch

import skvsc

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def main():
    torch.set_num_threads(2)
    warnings.simplefilter("ignore")
    X = np.load(DATA)["x_train"][:2000].reshape(-1, 784) / 255.0
    estimators = [
        skvsc.SparseCoder(n_components=256, max_epochs=1),
        skvsc.SVAE(max_epochs=1),
        skvsc.VariationalSparseCoder(max_epochs=1),
        skvsc.VarianceRegDictLearner(max_epochs=1),
    ]
    print(f"{'estimator':24s} {'weights':>9s} {'snapshot':>10s} {'partial_fit':>12s} {'share':>7s}")
    for est in estimators:
        est.set_params(device="cpu", random_state=0).fit(X)
        n_weights = sum(t.numel() for t in est.module_.state_dict().values())
        start = time.perf_counter()
        for _ in range(20):
            with est._transaction():
                pass
        snapshot = (time.perf_counter() - start) / 20
        start = time.perf_counter()
        est.partial_fit(X[:1024])
        step = time.perf_counter() - start
        print(f"{type(est).__name__:24s} {n_weights / 1e6:8.2f}M {snapshot * 1e3:8.2f}ms "
              f"{step * 1e3:10.0f}ms {snapshot / step:7.2%}")


if __name__ == "__main__":
    main()
