"""
=================================================
The sparsity–quality trade-off of all four models
=================================================

Every skvsc estimator has a ``lam`` that makes its codes sparser.  Sparser
codes are cheaper to store and often easier to interpret, but reconstruct
the data less well.  This example sweeps ``lam`` for each of the four
estimators on the 8 × 8 digits and plots, on held-out digits, the fraction of
exact zeros in the codes against the PSNR of the reconstructions — the plot
of Evtimova & LeCun's Figure 4, for all four models at once.

The budgets are tiny (a few seconds per fit), so read the curves as a
qualitative picture, not a benchmark: see :ref:`benchmarks` for the
full-budget numbers.
"""

# %%
# Data
# ----
# One standardisation for every model (a global mean and scale), undone
# before the PSNR is computed on the original [0, 1] pixel scale.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skvsc import (SVAE, SparseCoder, VarianceRegDictLearner,
                   VariationalSparseCoder)
from skvsc.metrics import fraction_zeros, psnr

X = load_digits().data / 16.0
X_train, X_test = train_test_split(X, train_size=1000, random_state=0)
mean, scale = X_train.mean(), X_train.std()
Z_train, Z_test = (X_train - mean) / scale, (X_test - mean) / scale

# %%
# Four models, three values of ``lam`` each
# -----------------------------------------
# What ``lam`` means differs (see the :ref:`user guide <user_guide>`): the L1
# weight of the energy for ``SparseCoder``, the same weight relative to the
# per-pixel error for ``VarianceRegDictLearner``, the rate of the Laplace
# prior for ``SVAE`` and the soft-threshold of ``VariationalSparseCoder``.
# All use 32 components.
common = dict(n_components=32, device="cpu", random_state=0)
sweeps = {
    "SparseCoder": (
        lambda lam: SparseCoder(lam=lam, max_epochs=5, **common),
        [0.3, 1.0, 3.0]),
    "VarianceRegDictLearner": (
        lambda lam: VarianceRegDictLearner(
            lam=lam, positive_code=False, batch_size=100, max_epochs=15,
            learning_rate=3e-3, encoder_learning_rate=3e-3, code_max_iter=50,
            validation_fraction=0.0, **common),
        [0.005, 0.02, 0.08]),
    "VariationalSparseCoder": (
        lambda lam: VariationalSparseCoder(
            lam=lam, max_epochs=15, validation_fraction=0.0, **common),
        [0.1, 0.5, 1.5]),
    "SVAE": (
        lambda lam: SVAE(
            lam=lam, noise_std=0.5, encoder="mlp", hidden_layer_sizes=(64,),
            max_epochs=15, validation_fraction=0.0, **common),
        [0.3, 1.0, 3.0]),
}

rows = []
for name, (make, lams) in sweeps.items():
    start = time.perf_counter()
    for lam in lams:
        model = make(lam).fit(Z_train)
        codes = model.transform(Z_test)
        X_hat = model.inverse_transform(codes) * scale + mean
        quality = psnr(X_test, X_hat, data_range=1.0)
        rows.append((name, lam, fraction_zeros(codes), quality))
    print(f"{name}: {time.perf_counter() - start:.1f} s for {len(lams)} fits")

print(f"\n{'model':<24} {'lam':>6} {'zeros':>6} {'PSNR (dB)':>10}")
for name, lam, zeros, quality in rows:
    print(f"{name:<24} {lam:>6g} {zeros:>6.1%} {quality:>10.2f}")

# %%
# The plot
# --------
fig, ax = plt.subplots(figsize=(6.5, 4.5))
for (name, _), marker in zip(sweeps.items(), "osD^"):
    points = [(zeros, quality, lam)
              for n, lam, zeros, quality in rows if n == name]
    zeros, quality, lams = zip(*points)
    ax.plot(np.array(zeros) * 100, quality, marker=marker, label=name)
    for x, y, lam in points:
        ax.annotate(f"{lam:g}", (x * 100, y), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
ax.set_xlabel("exact zeros in the test codes (%)")
ax.set_ylabel("test PSNR (dB)")
ax.set_title("Sparsity vs reconstruction, digits, labels = lam")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()

# %%
# Reading the plot: for the three models with exact zeros, a larger ``lam``
# moves the point right (sparser) and, beyond some sparsity, down (worse
# reconstruction).  ``SparseCoder`` and
# ``VarianceRegDictLearner`` code each sample by optimisation and have exact
# zeros; ``VariationalSparseCoder``'s thresholded posterior gives exact zeros
# from a single encoder pass.  ``SVAE``'s codes are posterior *means*: small
# where the prior dominates but never exactly zero, so its points sit at 0 %
# whatever ``lam`` (its ``lam`` sets the scale of the prior instead).
plt.show()
