"""Defaults on real data: what a new user gets without tuning (issue 12).

One table, every row measured in one run: MNIST (10,000 training images,
2,000 test images, pixels / 255) and scikit-learn's 8×8 digits (a stratified
3/4 – 1/4 split, pixels / 16).  Per representation: the test accuracy of
``Pipeline([(name, representation), ("clf", LogisticRegression())])``, the
seconds to fit the pipeline, the fraction of exact zeros in the test codes,
the test reconstruction MSE (per pixel; the mean image's MSE is printed for
scale), and for skvsc estimators the epochs run and the epoch kept.

Run from the project root::

    python benchmarks/bench_defaults.py            # MNIST and digits
    python benchmarks/bench_defaults.py --digits   # digits only (seconds)

MNIST needs ``../shared/data/mnist.npz``.  Single-threaded BLAS/torch would be
fairer to nobody: torch and NumPy use the machine's 2 cores.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, MiniBatchDictionaryLearning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import skvsc

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def datasets(digits_only):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0)
    yield "digits", X_train, y_train, X_test, y_test
    if digits_only:
        return
    mnist = np.load(DATA)
    yield ("MNIST", mnist["x_train"][:10000].reshape(-1, 784) / 255.0, mnist["y_train"][:10000],
           mnist["x_test"][:2000].reshape(-1, 784) / 255.0, mnist["y_test"][:2000])


def representations(n_features):
    yield "raw pixels", FunctionTransformer()
    yield "PCA(200)", PCA(min(200, n_features), random_state=0)
    # scikit-learn's defaults (n_components = n_features, alpha = 1, 1000
    # iterations) run for many minutes on MNIST; a common setting instead.
    yield ("MiniBatchDictionaryLearning(200, alpha=0.1)",
           MiniBatchDictionaryLearning(min(200, n_features), alpha=0.1, batch_size=256,
                                       max_iter=10, random_state=0))
    for cls in (skvsc.SparseCoder, skvsc.SVAE, skvsc.VariationalSparseCoder,
                skvsc.VarianceRegDictLearner):
        yield f"{cls.__name__}()", cls(random_state=0)


def reconstruction_mse(model, X):
    if not hasattr(model, "inverse_transform") or isinstance(model, FunctionTransformer):
        return 0.0
    if isinstance(model, MiniBatchDictionaryLearning):
        return float(np.mean((model.transform(X) @ model.components_ - X) ** 2))
    return float(np.mean((model.inverse_transform(model.transform(X)) - X) ** 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digits", action="store_true", help="digits only")
    args = parser.parse_args()
    torch.set_num_threads(2)
    header = (f"{'data':7s} {'representation':44s} {'accuracy':>8s} {'fit s':>7s} "
              f"{'zeros':>6s} {'test MSE':>9s} {'epochs':>6s} {'best':>5s}")
    print(header)
    print("-" * len(header))
    for name, X_train, y_train, X_test, y_test in datasets(args.digits):
        mean_mse = float(np.mean((X_test - X_train.mean(axis=0)) ** 2))
        for label, representation in representations(X_train.shape[1]):
            pipe = Pipeline([("rep", representation), ("clf", LogisticRegression())])
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                pipe.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            model = pipe.named_steps["rep"]
            codes = model.transform(X_test)
            accuracy = pipe.score(X_test, y_test)
            skvsc_model = isinstance(model, skvsc._base.SparseModelMixin)
            epochs = f"{model.n_iter_:6d}" if skvsc_model else f"{'':6s}"
            best = f"{model.best_epoch_:5d}" if skvsc_model else f"{'':5s}"
            # skvsc's own warnings (a ConvergenceWarning of the classifier is not one).
            flagged = sorted({w.category.__name__ for w in caught if skvsc_model and (
                type(model).__name__ in str(w.message) or "code_max_iter" in str(w.message))})
            print(f"{name:7s} {label:44s} {accuracy:8.4f} {seconds:7.1f} "
                  f"{np.mean(codes == 0):6.3f} {reconstruction_mse(model, X_test):9.4f} "
                  f"{epochs} {best}  {' '.join(flagged)}", flush=True)
        print(f"{name:7s} {'(mean image)':44s} {'':8s} {'':7s} {'':6s} {mean_mse:9.4f}")


if __name__ == "__main__":
    main()
