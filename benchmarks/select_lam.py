"""Unsupervised selection of λ for SparseCoder on digits: ``score`` against ``lam``.

``score`` is masked-feature cross-validation (each quarter of the pixels
predicted from the codes of the other three quarters), so
``GridSearchCV(SparseCoder(...), {"lam": [...]})`` needs no labels.  This
script prints, for every λ of the grid, the 3-fold mean of ``score`` and, for
contrast, of the energy (which contains λ‖z‖₁ and so always prefers the
smallest λ), the fraction of exact zeros, and the λ that ``GridSearchCV``
picks.

Usage: ``python benchmarks/select_lam.py [--n-components 64] [--max-epochs 10]``
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, KFold

from skvsc import SparseCoder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-components", type=int, default=64)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    X = load_digits().data / 16.0
    lams = [0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]
    estimator = SparseCoder(n_components=args.n_components, max_epochs=args.max_epochs,
                            device=args.device, random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GridSearchCV(estimator, {"lam": lams}, cv=3).fit(X)
        # The energy and the sparsity of the same cross-validated models.
        energy, zeros = {lam: [] for lam in lams}, {lam: [] for lam in lams}
        for train, test in KFold(3).split(X):
            for lam in lams:
                model = SparseCoder(**{**estimator.get_params(), "lam": lam}).fit(X[train])
                energy[lam].append(model.energy(X[test]).mean())
                zeros[lam].append((model.transform(X[test]) == 0).mean())
    elapsed = time.perf_counter() - start
    scores = search.cv_results_["mean_test_score"]
    print(f"digits/16, {X.shape[0]} samples, SparseCoder(n_components={args.n_components}, "
          f"max_epochs={args.max_epochs}), 3-fold CV, {elapsed:.0f} s")
    print(f"{'lam':>6}  {'score (masked CV)':>18}  {'energy':>8}  {'zeros':>6}")
    for lam, score in zip(lams, scores):
        mark = "  <- chosen" if lam == search.best_params_["lam"] else ""
        print(f"{lam:6.2f}  {score:18.4f}  {np.mean(energy[lam]):8.4f}  "
              f"{np.mean(zeros[lam]):6.3f}{mark}")
    print(f"GridSearchCV picks lam={search.best_params_['lam']}")


if __name__ == "__main__":
    main()
