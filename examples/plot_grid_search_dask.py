"""
==============================================
A grid search on a dask cluster through joblib
==============================================

A grid search fits one pipeline per candidate and fold, each independent of
the others: work that spreads over several processes, GPUs or machines.
scikit-learn's :class:`~sklearn.model_selection.GridSearchCV` runs its fits
through joblib, and joblib can hand them to a `dask.distributed
<https://distributed.dask.org>`_ cluster instead of running them one after
the other.  Nothing changes in the estimators or in the search: the only new
lines create the cluster and say ``joblib.parallel_backend("dask")``.

Here the cluster is a :class:`~distributed.LocalCluster` of two worker
processes on this machine; the same code drives a cluster of many machines
(``Client("scheduler-address:8786")``), one GPU per worker (see the user
guide's *Scaling up* page).  We tune the ``lam`` × ``beta`` grid of a
:class:`~skvsc.VariationalSparseCoder` feeding a logistic regression on the
8 × 8 digits (``pip install "skvsc[dask]"`` for dask).

Run as a script, code that starts worker processes must sit under
``if __name__ == "__main__":`` (Python starts them by re-importing the
script); in a notebook, or in this gallery, it need not.
"""

# %%
# Data and pipeline
# -----------------
import logging

import joblib
import matplotlib.pyplot as plt
import numpy as np
import torch
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from skvsc import VariationalSparseCoder

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=600, stratify=y, random_state=0)

pipe = Pipeline([
    ("vsc", VariationalSparseCoder(n_components=32, max_epochs=3,
                                   validation_fraction=0.0, device="cpu",
                                   random_state=0)),
    ("clf", LogisticRegression(max_iter=1000)),
])
param_grid = {"vsc__lam": [0.05, 0.15, 0.45], "vsc__beta": [0.5, 1.0, 2.0]}
search = GridSearchCV(pipe, param_grid, cv=2)

# %%
# The cluster
# -----------
# Two worker processes with one thread each.  Dask's nanny starts every
# worker with ``OMP_NUM_THREADS=1``, so each runs one torch thread and the
# two do not fight over this machine's two cores.  (``silence_logs`` keeps
# the cluster's routine messages, such as its shutdown, out of this page.)
cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                       silence_logs=logging.ERROR)
client = Client(cluster)
print("torch threads per worker:", client.run(torch.get_num_threads))

# %%
# The search
# ----------
# Inside ``joblib.parallel_backend("dask")`` every fit of the search is a
# task on the cluster.  ``scatter`` sends the training data to every worker
# once, instead of once with each task.  Each worker trains its models with
# its own torch; with ``device="auto"`` a worker that sees a GPU trains on it.
with joblib.parallel_backend("dask", scatter=[X_train, y_train]):
    search.fit(X_train, y_train)

print("best parameters:", search.best_params_)
print(f"cross-validated accuracy {search.best_score_:.3f}, "
      f"test accuracy {search.score(X_test, y_test):.3f}")

client.close()
cluster.close()

# %%
# The search is the same search: with the same ``random_state``, each fit
# computes exactly what it computes serially, so ``cv_results_`` and
# ``best_params_`` are those of ``search.fit(X_train, y_train)`` without the
# backend (``tests/test_dask.py`` checks it).  What changes is the wall time.
#
# Cross-validated accuracy over the grid
# --------------------------------------
lams, betas = param_grid["vsc__lam"], param_grid["vsc__beta"]
results = search.cv_results_
table = np.empty((len(lams), len(betas)))
for lam, beta, score in zip(results["param_vsc__lam"], results["param_vsc__beta"],
                            results["mean_test_score"]):
    table[lams.index(lam), betas.index(beta)] = score

fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
image = ax.imshow(table, cmap="viridis", vmin=0, vmax=1, origin="lower")
for i in range(len(lams)):
    for j in range(len(betas)):
        ax.text(j, i, f"{table[i, j]:.2f}", ha="center", va="center",
                color="white" if table[i, j] < 0.6 else "black")
ax.set_xticks(range(len(betas)), [str(b) for b in betas])
ax.set_yticks(range(len(lams)), [str(v) for v in lams])
ax.set_xlabel("beta (KL weight β)")
ax.set_ylabel("lam (threshold λ₀)")
ax.set_title("mean cross-validated accuracy")
fig.colorbar(image, ax=ax, shrink=0.8)
plt.show()

# %%
# Small thresholds and a light KL give the best features, as in
# :ref:`sphx_glr_auto_examples_plot_vsc_pipeline_grid_search.py`.  Two
# workers on two cores at most halve the wall time; on a cluster, the search
# takes about as long as its slowest fits divided among the workers.
