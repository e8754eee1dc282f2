"""
======================================================
Image denoising with a variance-regularised dictionary
======================================================

A dictionary learned on clean natural images can denoise a noisy one: code
each noisy patch sparsely on the dictionary, rebuild the patch from its code
and average the overlapping patches.  Noise, which no few atoms explain well,
is mostly left out of the reconstruction.

:class:`~skvsc.VarianceRegDictLearner` (Evtimova & LeCun, 2022) learns the
dictionary together with a LISTA *encoder* that predicts the sparse codes in
one cheap pass.  Here it is trained on patches of one photograph that ships
with scikit-learn (the flower) and denoises the other (the Chinese temple),
corrupted with Gaussian noise, in its two modes: VDL (variance
regularisation) and SDL (unit-norm atoms).  We also compare the encoder's
one-pass codes with FISTA codes of the same model.
"""

# %%
# Clean training patches, a noisy test image
# ------------------------------------------
# Both photographs are converted to grayscale in [0, 1] and block-averaged by
# 4 to keep the example fast.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_image
from sklearn.feature_extraction.image import (extract_patches_2d,
                                              reconstruct_from_patches_2d)

from skvsc import VarianceRegDictLearner
from skvsc.metrics import fraction_zeros, psnr
from skvsc.plotting import plot_atoms


def gray_image(name, factor=4):
    image = load_sample_image(name).astype(float).mean(axis=2) / 255.0
    h, w = (np.array(image.shape) // factor) * factor
    blocks = image[:h, :w].reshape(h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(1, 3))


clean = gray_image("china.jpg")
rng = np.random.default_rng(0)
sigma = 0.1
noisy = clean + sigma * rng.standard_normal(clean.shape)

patch = (8, 8)
train = extract_patches_2d(gray_image("flower.jpg"), patch, max_patches=3000,
                           random_state=0).reshape(-1, 64)
# The model has no bias: remove each patch's mean (put back after decoding)
# and bring the data to unit scale, the scale the paper's λ and T assume.
train -= train.mean(axis=1, keepdims=True)
scale = train.std()
train /= scale
print(f"{len(train)} training patches; test image {clean.shape}, "
      f"noisy PSNR {psnr(clean, noisy, data_range=1.0):.2f} dB")

# %%
# Learn the dictionary and the encoder
# ------------------------------------
# Two models of paper 002, both ``VarianceRegDictLearner``:
#
# * **VDL** (``variance_reg=True``): free decoder columns, and a hinge of
#   weight ``beta`` that keeps the standard deviation of every code component
#   over a mini-batch above ``var_threshold``;
# * **SDL** (``variance_reg=False``): classical dictionary learning, decoder
#   columns projected to unit norm, no hinge.
#
# ``lam`` is the L1 weight relative to the per-pixel squared error (the
# paper's scaling).  Image patches are signed, so we allow signed codes; the
# short budget (six passes) gets a large Adam step.
settings = dict(n_components=128, lam=0.05, positive_code=False,
                batch_size=100, max_epochs=6, learning_rate=1e-2,
                encoder_learning_rate=1e-2, code_max_iter=50,
                validation_fraction=0.0, device="cpu", random_state=0)
models = {}
for name, variance_reg in [("VDL", True), ("SDL", False)]:
    start = time.perf_counter()
    models[name] = VarianceRegDictLearner(variance_reg=variance_reg,
                                          **settings).fit(train)
    print(f"{name} fitted in {time.perf_counter() - start:.1f} s")

# %%
# Denoise
# -------
# Every overlapping 8 × 8 patch of the noisy image is coded and decoded, and
# :func:`~sklearn.feature_extraction.image.reconstruct_from_patches_2d`
# averages the overlaps.  ``transform_method`` picks the codes: the LISTA
# encoder's one-pass prediction, or FISTA on the learned dictionary.


def denoise(model, image):
    patches = extract_patches_2d(image, patch).reshape(-1, 64)
    means = patches.mean(axis=1, keepdims=True)
    codes = model.transform((patches - means) / scale)
    rebuilt = model.inverse_transform(codes) * scale + means
    rebuilt = rebuilt.reshape(-1, *patch)
    return reconstruct_from_patches_2d(rebuilt, image.shape), codes


results = {}
for name, model in models.items():
    for method in ["encoder", "fista"]:
        model.set_params(transform_method=method)
        start = time.perf_counter()
        image, codes = denoise(model, noisy)
        seconds = time.perf_counter() - start
        results[name, method] = image
        print(f"{name} {method:>7}: PSNR "
              f"{psnr(clean, image, data_range=1.0):.2f} dB, "
              f"{fraction_zeros(codes):.0%} zeros, {seconds:.1f} s")

# %%
# Both models remove a good part of the noise.  The encoder codes all the
# patches in one pass, several times faster than FISTA, which optimises
# every code on the learned dictionary; after this short training the two
# give similar PSNRs — the point of training an amortised encoder with the
# dictionary.
fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
panels = [("clean", clean), (f"noisy (σ = {sigma})", noisy),
          ("VDL, encoder codes", results["VDL", "encoder"]),
          ("SDL, encoder codes", results["SDL", "encoder"])]
for ax, (title, image) in zip(axes, panels):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    if title != "clean":
        title += f"\n{psnr(clean, image, data_range=1.0):.1f} dB"
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()

# %%
# The learned atoms
# -----------------
# The 32 atoms of largest norm of each model (SDL's all have norm 1: there,
# the first 32), each on its own grey scale.  After six short passes, SDL's
# atoms already show edges and curves; VDL's, whose norms are free, are
# still rougher at this budget.
for name, model in models.items():
    norms = np.linalg.norm(model.components_, axis=1)
    fig = plot_atoms(model.components_, patch, order=np.argsort(-norms),
                     n_atoms=32, n_cols=16, title=f"{name} atoms")
    fig.set_size_inches(8, 1.45)
    fig.subplots_adjust(top=0.82, hspace=0.08)

plt.show()
