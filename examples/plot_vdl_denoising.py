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
corrupted with Gaussian noise.  We compare the encoder's one-pass codes with
FISTA codes of the same model.
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
# ``lam`` is the L1 weight relative to the per-pixel squared error (the
# paper's scaling), ``beta`` the weight of the variance hinge that keeps every
# code component in use.  Image patches are signed, so we allow signed codes.
start = time.perf_counter()
vdl = VarianceRegDictLearner(n_components=128, lam=0.02, beta=10.0,
                             positive_code=False, batch_size=100, max_epochs=4,
                             learning_rate=3e-3, encoder_learning_rate=3e-3,
                             code_max_iter=50, validation_fraction=0.0,
                             device="cpu", random_state=0).fit(train)
print(f"fitted in {time.perf_counter() - start:.1f} s ({vdl.n_iter_} epochs)")

# %%
# Denoise
# -------
# Every overlapping 8 × 8 patch of the noisy image is coded and decoded, and
# :func:`~sklearn.feature_extraction.image.reconstruct_from_patches_2d`
# averages the overlaps.


def denoise(model, image):
    patches = extract_patches_2d(image, patch).reshape(-1, 64)
    means = patches.mean(axis=1, keepdims=True)
    codes = model.transform((patches - means) / scale)
    rebuilt = model.inverse_transform(codes) * scale + means
    rebuilt = rebuilt.reshape(-1, *patch)
    return reconstruct_from_patches_2d(rebuilt, image.shape), codes


results = {}
for method in ["encoder", "fista"]:
    vdl.set_params(transform_method=method)
    start = time.perf_counter()
    image, codes = denoise(vdl, noisy)
    seconds = time.perf_counter() - start
    results[method] = image
    print(f"{method:>8}: PSNR {psnr(clean, image, data_range=1.0):.2f} dB, "
          f"{fraction_zeros(codes):.0%} zeros, {seconds:.1f} s for "
          f"{len(codes)} patches")

# %%
# The encoder codes every patch in one pass, about ten times faster than
# FISTA, which optimises each code and denoises better; the encoder is only
# as good as its (here very short) training.  That is the trade-off an
# amortised encoder offers.
fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
panels = [("clean", clean), (f"noisy (σ = {sigma})", noisy),
          ("VDL encoder", results["encoder"]),
          ("VDL + FISTA", results["fista"])]
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
# The variance hinge lets the decoder's columns have any norm; the plot shows
# each on its own scale.  Most are localised, oriented edges.
norms = np.linalg.norm(vdl.components_, axis=1)
plot_atoms(vdl.components_, patch, order=np.argsort(-norms), n_atoms=64,
           title="64 atoms of largest norm")

plt.show()
