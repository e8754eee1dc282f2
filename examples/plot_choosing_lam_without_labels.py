"""
=====================================
Choosing λ and β without labels
=====================================

Every skvsc estimator's ``score`` is a criterion that
:class:`~sklearn.model_selection.GridSearchCV` can *maximise* without labels,
and that does not contain the searched ``lam`` or ``beta`` as a penalty:

* :class:`~skvsc.SparseCoder` (and :class:`~skvsc.VarianceRegDictLearner`)
  score by **masked-feature cross-validation**: each sample is encoded from
  three quarters of its pixels, and the remaining quarter is predicted from
  that code.  A λ too small fits the noise of the observed pixels and
  predicts the hidden ones badly; a λ too large shrinks the codes to nothing.
  (The energy ``½‖x − zD‖² + λ‖z‖₁``, still available as ``energy``, always
  prefers the smallest λ.)
* :class:`~skvsc.VariationalSparseCoder` and :class:`~skvsc.SVAE` score by
  the **evidence lower bound with β = 1**, whatever β they were trained with,
  evaluated with fixed noise.

Here both searches run on scikit-learn's 8 × 8 digits, and the supervised
search — the accuracy of a logistic regression on the codes — is shown
beside the unsupervised one for comparison.
"""

# %%
# Data
# ----
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skvsc import SparseCoder, VariationalSparseCoder

# Short trainings keep this example fast; they stop before convergence.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X = X[:900] / 16.0
y = y[:900]

# %%
# λ of a sparse coder, without and with labels
# --------------------------------------------
lams = [0.01, 0.03, 0.1, 0.3, 1.0]
coder = SparseCoder(n_components=64, max_epochs=3, device="cpu", random_state=0)

unsupervised = GridSearchCV(coder, {"lam": lams}, cv=3).fit(X)
supervised = GridSearchCV(
    Pipeline([("coder", coder), ("clf", LogisticRegression(max_iter=300))]),
    {"coder__lam": lams}, cv=3).fit(X, y)

energies = [SparseCoder(n_components=64, lam=lam, max_epochs=3, device="cpu",
                        random_state=0).fit(X).energy(X).mean() for lam in lams]

fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), layout="constrained")
panels = [
    (unsupervised.cv_results_["mean_test_score"], "score (masked-feature CV)",
     unsupervised.best_params_["lam"]),
    (supervised.cv_results_["mean_test_score"], "accuracy of a classifier on the codes",
     supervised.best_params_["coder__lam"]),
    (-np.asarray(energies), "−energy (not a selection criterion)", lams[0]),
]
for ax, (values, title, chosen) in zip(axes, panels):
    ax.semilogx(lams, values, "o-")
    ax.axvline(chosen, color="C3", ls="--", label=f"argmax: λ = {chosen:g}")
    ax.set(xlabel="lam", title=title)
    ax.legend(loc="lower center")
print("unsupervised choice:", unsupervised.best_params_,
      " supervised choice:", supervised.best_params_)

# %%
# The unsupervised criterion peaks at an interior λ (0.3 here: the λ whose
# codes best predict unseen pixels), while the negative energy only ever
# falls with λ.  The classifier prefers denser codes (λ = 0.03): predicting
# pixels and predicting labels are different questions, and when labels exist
# the supervised search answers the second one directly.
#
# λ and β of a variational sparse coder
# -------------------------------------
# The ELBO with β = 1 scores every candidate the same way, so ``beta`` can be
# searched with ``lam``.
vsc = VariationalSparseCoder(n_components=32, max_epochs=15, validation_fraction=0.0,
                             device="cpu", random_state=0)
grid = {"lam": [0.1, 0.3, 1.0], "beta": [0.3, 1.0, 3.0]}
with warnings.catch_warnings():
    # A very large lam switches every unit off, and skvsc says so.
    warnings.simplefilter("ignore")
    search = GridSearchCV(vsc, grid, cv=2).fit(X)

scores = search.cv_results_["mean_test_score"].reshape(len(grid["lam"]), len(grid["beta"]))
fig, ax = plt.subplots(figsize=(4.5, 3.5), layout="constrained")
image = ax.imshow(scores, cmap="viridis")
ax.set(xticks=range(3), xticklabels=grid["beta"], yticks=range(3),
       yticklabels=grid["lam"], xlabel="beta", ylabel="lam",
       title="held-out ELBO (β = 1), nats")
for (i, j), value in np.ndenumerate(scores):
    ax.text(j, i, f"{value:.1f}", ha="center", va="center", color="w")
fig.colorbar(image)
print("chosen:", search.best_params_)
plt.show()
