"""
=================
Training on a GPU
=================

Every skvsc estimator and :func:`skvsc.sparse_encode` take a ``device``
parameter, with PyTorch's names:

* ``"auto"`` (the default) — the first CUDA GPU when PyTorch sees one, else
  the CPU;
* ``"cpu"``, ``"cuda"``, ``"cuda:1"``, … — exactly that device; asking for a
  GPU the machine does not have is a clear ``ValueError``, not a silent
  fallback.

The device a model was fitted on is its ``device_`` attribute.  Inputs and
outputs are NumPy arrays whatever the device: the data go to the GPU one
mini-batch at a time and the codes come back as arrays, so an estimator on a
GPU drops into a scikit-learn :class:`~sklearn.pipeline.Pipeline` unchanged.
A model pickled on a GPU machine loads on a machine without one (on the CPU,
with a warning).

This example times batched FISTA on the CPU and, **when PyTorch sees a CUDA
GPU**, on the GPU too, then fits a :class:`~skvsc.SparseCoder` on the GPU.
On a machine without CUDA (such as the one that built this page, if the
output below says so) the GPU parts are skipped and only the CPU is timed.
"""

# %%
# Which devices are there?
# ------------------------
import pickle
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from skvsc import SparseCoder, sparse_encode
from skvsc.datasets import load_natural_patches

has_cuda = torch.cuda.is_available()
devices = ["cpu"] + (["cuda"] if has_cuda else [])
if has_cuda:
    print(f"CUDA is available: {torch.cuda.get_device_name(0)}")
else:
    print("No CUDA GPU here: the GPU parts of this example are skipped.")

# %%
# Batched FISTA on each device
# ----------------------------
# :func:`~skvsc.sparse_encode` solves ``min_z ½‖x − zD‖² + λ‖z‖₁`` for every
# row of ``X`` at once: each FISTA iteration is one matrix product over the
# whole batch, which is what a GPU is good at.  We fix the number of
# iterations (``tol=0``) so that every device does the same work.
X = load_natural_patches(patch_size=8, n_patches=8000, random_state=0)
rng = np.random.default_rng(0)
dictionary = rng.standard_normal((128, X.shape[1]))
dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)

sizes = [500, 2000, 8000]
timings = {device: [] for device in devices}
for device in devices:
    sparse_encode(X[:100], dictionary, lam=0.1, device=device)  # warm-up
    for n in sizes:
        start = time.perf_counter()
        codes = sparse_encode(X[:n], dictionary, lam=0.1, max_iter=100,
                              tol=0.0, device=device)
        if device != "cpu":
            torch.cuda.synchronize()
        timings[device].append(time.perf_counter() - start)
    print(device, ", ".join(f"{n} patches: {t:.2f} s"
                            for n, t in zip(sizes, timings[device])))

fig, ax = plt.subplots(figsize=(5, 3.5))
for device in devices:
    throughput = np.array(sizes) / np.array(timings[device])
    ax.plot(sizes, throughput, "o-", label=device)
ax.set_xscale("log")
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.minorticks_off()
if has_cuda:
    ax.set_yscale("log")  # the GPU is often 10-100 times faster
else:
    ax.set_ylim(bottom=0)
ax.set_xlabel("patches coded together")
ax.set_ylabel("patches per second (100 FISTA iterations)")
ax.set_title("sparse_encode throughput"
             + ("" if has_cuda else " (no GPU found)"))
ax.legend()
fig.tight_layout()

# %%
# Fitting on the GPU
# ------------------
# Pass ``device="cuda"`` (or keep ``"auto"``).  The codes are NumPy arrays
# as usual.  On the CPU-only machine we fit on the CPU instead, so the rest of
# the example still runs.
device = "cuda" if has_cuda else "cpu"
coder = SparseCoder(n_components=64, lam=0.1, max_epochs=2, device=device,
                    random_state=0).fit(X)
codes = coder.transform(X[:5])
print(f"fitted on {coder.device_}; transform returns a {type(codes).__name__} "
      f"of dtype {codes.dtype}")

# %%
# Moving a fitted model between machines
# --------------------------------------
# Pickling stores the weights on the CPU.  Unpickling puts them back on
# ``device_`` when that device exists; on a machine without it the model is
# loaded on the CPU with a warning, and gives the same codes.
restored = pickle.loads(pickle.dumps(coder))
print(f"restored on {restored.device_}; same codes: "
      f"{np.allclose(restored.transform(X[:5]), codes, atol=1e-5)}")

plt.show()
