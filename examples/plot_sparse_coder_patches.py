"""
================================================
Natural-image atoms: SparseCoder vs scikit-learn
================================================

Olshausen & Field (1996) showed that a sparse code of whitened natural-image
patches learns localised, oriented, band-pass atoms — much like the receptive
fields of simple cells in the primary visual cortex.  This example learns such
a dictionary with :class:`skvsc.SparseCoder` and with scikit-learn's
:class:`~sklearn.decomposition.MiniBatchDictionaryLearning`, which minimises
the *same* objective

.. math::

   \\min_{D,\\,Z}\\ \\sum_i \\tfrac12\\|x_i - z_i D\\|_2^2
   + \\lambda\\|z_i\\|_1, \\qquad \\|d_k\\|_2 = 1,

(``lam`` in skvsc is ``alpha`` in scikit-learn), and compares the two
dictionaries on held-out patches.  The patches come from the two photographs
that ship with scikit-learn, whitened by :mod:`skvsc.datasets`.
"""

# %%
# Whitened patches
# ----------------
# :func:`~skvsc.datasets.load_natural_patches` converts the bundled
# photographs to grayscale, whitens them with Olshausen & Field's filter
# (flattening the 1/f spectrum of natural images) and cuts random 8 × 8
# patches, each with its mean removed.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.exceptions import ConvergenceWarning

from skvsc import SparseCoder, sparse_encode
from skvsc.datasets import load_natural_patches
from skvsc.metrics import fraction_zeros, psnr
from skvsc.plotting import plot_atoms

X = load_natural_patches(patch_size=8, n_patches=6000, random_state=0)
X_train, X_test = X[:5000], X[5000:]
print(f"{X_train.shape[0]} training and {X_test.shape[0]} test patches of "
      f"{X.shape[1]} pixels; pixel std {X.std():.2f}")

fig, axes = plt.subplots(2, 8, figsize=(6, 1.8))
for ax, patch in zip(axes.ravel(), X_train):
    ax.imshow(patch.reshape(8, 8), cmap="gray", interpolation="nearest")
    ax.set_axis_off()
fig.suptitle("Whitened 8 × 8 patches")

# %%
# Learn the two dictionaries
# --------------------------
# Both learn 64 atoms with λ = 0.1 in three passes over the data, in
# mini-batches of 256.  :class:`~skvsc.SparseCoder` computes the codes of a
# whole mini-batch at once with FISTA in PyTorch and updates the dictionary
# with the same kind of online (block-coordinate) update as scikit-learn.
lam = 0.1

start = time.perf_counter()
coder = SparseCoder(n_components=64, lam=lam, max_epochs=3, batch_size=256,
                    device="cpu", random_state=0).fit(X_train)
time_skvsc = time.perf_counter() - start

# scikit-learn's coordinate descent warns that some codes did not converge
# to its (very tight) tolerance during these short runs; that is harmless here.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
start = time.perf_counter()
mbdl = MiniBatchDictionaryLearning(n_components=64, alpha=lam, max_iter=3,
                                   batch_size=256, fit_algorithm="cd",
                                   random_state=0).fit(X_train)
time_sklearn = time.perf_counter() - start

# %%
# Compare them on held-out patches
# --------------------------------
# To compare the *dictionaries* and not the inference algorithms, code the
# test patches on both with the same solver, :func:`skvsc.sparse_encode`
# (batched FISTA), and report the objective, the reconstruction PSNR and the
# fraction of exact zeros in the codes.


def evaluate(atoms):
    codes = sparse_encode(X_test, atoms, lam=lam, device="cpu")
    X_hat = codes @ atoms
    energy = np.mean(0.5 * ((X_test - X_hat) ** 2).sum(axis=1)
                     + lam * np.abs(codes).sum(axis=1))
    return codes, energy, psnr(X_test, X_hat), fraction_zeros(codes)


results = {"skvsc.SparseCoder": (coder.components_, time_skvsc),
           "MiniBatchDictionaryLearning": (mbdl.components_, time_sklearn)}
print(f"{'model':<28} {'fit (s)':>7} {'energy':>7} {'PSNR':>6} {'zeros':>6}")
usage = {}
for name, (atoms, seconds) in results.items():
    codes, energy, quality, zeros = evaluate(atoms)
    usage[name] = np.abs(codes).mean(axis=0)
    print(f"{name:<28} {seconds:7.1f} {energy:7.4f} {quality:6.2f} "
          f"{zeros:6.1%}")

# %%
# The two dictionaries reach similar objectives, PSNR and sparsity: they
# solve the same problem with the same kind of dictionary update.  (Fit times
# are indicative only: the gallery is built on a small, shared CPU; on a GPU
# ``SparseCoder`` codes thousands of patches per FISTA iteration, see
# :ref:`sphx_glr_auto_examples_plot_gpu.py`.)
#
# The atoms
# ---------
# Sorted by how much the test codes use them, most used first.  The most used
# atoms of both dictionaries are localised, oriented edges and low-frequency
# patterns; the rarely used ones are still rough after three short passes
# over the data.
for name, (atoms, _) in results.items():
    plot_atoms(atoms, (8, 8), order=np.argsort(-usage[name]), n_cols=16,
               title=name)

plt.show()
