"""Wall time of a grid search serial and on a dask cluster, in one table.

The search is the gallery's ``plot_grid_search_dask.py``: a 3 × 3 grid over
``lam`` × ``beta`` of ``VariationalSparseCoder`` + ``LogisticRegression`` on
600 digits, 2-fold.  It runs serially with 2 and with 1 torch threads, then
through joblib's dask backend on a ``LocalCluster`` of 2 single-threaded
worker processes with 1 and 2 torch threads each (the data scattered once),
and checks that every run found the same mean scores as the serial one.

Run: ``python benchmarks/bench_dask_search.py`` (about 3 minutes on 2 idle
cores; quote the machine's load with the numbers, which it prints).
"""

import os
import time
import warnings

import joblib
import numpy as np
import torch
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from skvsc import VariationalSparseCoder


def search():
    pipe = Pipeline([
        ("vsc", VariationalSparseCoder(n_components=32, max_epochs=3, validation_fraction=0.0,
                                       device="cpu", random_state=0)),
        ("clf", LogisticRegression(max_iter=1000)),
    ])
    return GridSearchCV(pipe, {"vsc__lam": [0.05, 0.15, 0.45], "vsc__beta": [0.5, 1.0, 2.0]},
                        cv=2)


def main():
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    X, _, y, _ = train_test_split(X / 16.0, y, train_size=600, stratify=y, random_state=0)
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}\n")
    print(f"{'run':<36}{'wall s':>8}  same scores as serial")
    reference = None
    for threads in (torch.get_num_threads(), 1):
        torch.set_num_threads(threads)
        start = time.perf_counter()
        result = search().fit(X, y)
        elapsed = time.perf_counter() - start
        reference = result if reference is None else reference
        print(f"{f'serial, {threads} torch thread(s)':<36}{elapsed:>8.1f}  "
              f"{np.allclose(result.cv_results_['mean_test_score'], reference.cv_results_['mean_test_score'])}")
    for threads in (1, 2):
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            client.run(lambda: __import__("skvsc"))  # imports are not timed
            client.run(torch.set_num_threads, threads)
            start = time.perf_counter()
            with joblib.parallel_backend("dask", scatter=[X, y]):
                result = search().fit(X, y)
            elapsed = time.perf_counter() - start
        same = np.allclose(result.cv_results_["mean_test_score"],
                           reference.cv_results_["mean_test_score"])
        print(f"{f'2 workers x {threads} torch thread(s)':<36}{elapsed:>8.1f}  {same}")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
