"""The default VariationalSparseCoder pipeline against raw pixels, split by split (issue 12).

One table: for stratified 3/4 – 1/4 splits of scikit-learn's digits (pixels /
16, split seeds 0 … n−1), the test accuracy of ``LogisticRegression()`` on the
raw pixels and of ``Pipeline([("vsc", VariationalSparseCoder(random_state=0)),
("clf", LogisticRegression())])``, then their means and the number of splits
on which the pipeline scores at least as well.  ``bench_defaults.py`` uses
split 0 only.

Run from the project root: ``python benchmarks/bench_defaults_splits.py
[--splits 6]`` (about 30 s on 2 cores).
"""

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skvsc import VariationalSparseCoder


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=6)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the classifier's own ConvergenceWarnings
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    print(f"{'split':>5s} {'raw pixels':>11s} {'VSC pipeline':>13s}")
    rows = []
    for seed in range(args.splits):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=seed)
        raw = LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
        pipe = Pipeline([("vsc", VariationalSparseCoder(random_state=0)),
                         ("clf", LogisticRegression())]).fit(X_train, y_train)
        rows.append((raw, pipe.score(X_test, y_test)))
        print(f"{seed:5d} {rows[-1][0]:11.4f} {rows[-1][1]:13.4f}", flush=True)
    rows = np.array(rows)
    wins = int((rows[:, 1] >= rows[:, 0]).sum())
    print(f"{'mean':>5s} {rows[:, 0].mean():11.4f} {rows[:, 1].mean():13.4f}   "
          f"pipeline >= raw on {wins} of {len(rows)} splits")


if __name__ == "__main__":
    main()
