"""Reproduce paper 003's table (Fallah & Rozell): variational posteriors vs FISTA.

A linear generator with 256 free (unnormalised) atoms is learned on 16×16
patches of the ten whitened Olshausen & Field images, once per inference
method, and every method is scored by the sparse-coding energy of its
validation codes on its own dictionary,

    E(x) = ½‖x − z D‖² + λ‖z‖₁      (mean over validation patches, λ = 20),

the paper's "validation loss".  Methods: FISTA and ``VariationalSparseCoder``
with the Gaussian, Laplacian, spike-and-slab, thresholded Gaussian and
thresholded Laplacian posteriors and the "+Gamma" learned-threshold variants,
each with J=1 and J=20 samples per input (max-ELBO training).  Ordering claims
checked: FISTA lowest, thresholded Laplacian the lowest variational row,
Gaussian the highest.

The protocol is the authors' (github.com/kfallah/variational-sparse-coding,
``train_vsc_dict.py``, ``utils/data_loader.py``, ``dict_config/*.json``):

* data: training and validation patches drawn at random positions from the
  same ten images (their loader shuffles all patches and holds out 20 %),
  every pixel position z-scored with the training patches' mean and std;
* VAEs: their loss is the per-pixel mean squared error + 0.01·KL, i.e. this
  library's ½‖x − x̂‖²/σ_x² + β·KL with β = 1 and σ_x² = 0.01·256/2
  (σ_x = 1.131); prior spread 0.1 — a variance for the Gaussian families
  (``prior_scale`` = √0.1), a scale for the Laplace ones; thresholds 0.52
  (Gaussian) and 0.25 (Laplace); spike prior 0.1; "+Gamma": threshold prior
  Gamma(3, 3/λ₀) with its KL weighted by 0.1 (the library's defaults
  ``threshold_prior_shape=3``, ``threshold_kl_weight=0.1``); encoder MLP
  256-512-1024-512-256 (their ``MLPEncoder``); free atoms;
* scoring: per validation patch one posterior draw (J=1) or the max-ELBO draw
  among J=20 (the KL does not depend on the draw, so: the draw that
  reconstructs best), energy with λ = 20 on the model's own atoms;
* FISTA: free atoms trained as theirs — random unit-norm start, codes by
  FISTA (here ``skvsc.sparse_encode``) with λ warmed up as 20·w, w = 0.1 + 1e-4
  per step (capped at 1), atoms by SGD on ½‖x − zD‖² + 1e-4‖D‖²_F with step
  0.5 decaying ×0.99 per epoch; validation codes by FISTA at λ = 20.  This is
  done in this script (``train_fista_dictionary``): ``SparseCoder`` keeps
  unit-norm atoms, at which every code is zero at λ = 20.

Remaining differences (library, not protocol): Adam (lr 3e-3) on encoder and
atoms together (theirs: SGD-Nesterov 0.01 with a cyclic schedule on the
encoder, a separate SGD step of 0.5 on the atoms with a 1e-4 Frobenius
penalty); the noise warm-up is linear 0.1 → 1 over ``--warmup`` steps for the
Laplace and Gaussian families and training only (theirs: held at 0.1 for
1,500 steps, then +2e-4 per step, Laplace and concrete slab only, and also
applied to their validation draws); the straight-through estimator passes the
gradient through ``s`` only (theirs also through ``μ`` on the active units);
the spike-and-slab is this library's relaxed sample with sharpness 50 → 200
(theirs: a concrete relaxation with straight-through rounding); and the
budget.

Budget: the paper trains 300 epochs on 80,000 patches (a GPU's worth).  The
stated budget here is 40,000 training / 8,000 validation patches, 20 epochs
(8,000 steps) per model, FISTA included.  ``--quick``: 8,000 / 2,000 patches,
5 epochs per VAE (400 steps), 8 epochs for FISTA (640 steps); about 15
minutes single-threaded on a shared 2-core machine.

The script ends with one machine-readable line per claimed number and per
ordering claim::

    REPRO paper=003 row="Thresholded Laplacian J=1" paper_value=198 ours=173.3 tol=0.10 miss

``ok`` when |ours − paper| ≤ tol·|paper| (tol 0.10 for every energy), else
``miss``; ordering lines say ``ok`` when the claim holds in our numbers.

Usage (from the repository root)::

    python benchmarks/reproduce_vsc_thresholded.py            # stated budget
    python benchmarks/reproduce_vsc_thresholded.py --quick    # small budget
"""

import argparse
import os
import time
import warnings

import numpy as np
import torch

from skvsc import VariationalSparseCoder, sparse_encode
from skvsc.datasets import extract_patches

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data", "olshausen_images.npz")
LAM = 20.0  # λ of the energy (the authors' lambda_)
NOISE_STD = (0.01 * 256 / 2) ** 0.5  # their MSE-per-pixel + 0.01·KL loss as σ_x
TOL = 0.10
PAPER = {  # paper 003's validation loss, J=1 and J=20
    "FISTA": (1.01e2, None),
    "Gaussian": (1.35e3, 1.35e3),
    "Laplacian": (5.96e2, 5.79e2),
    "Spike-and-slab": (2.52e2, 2.39e2),
    "Thresholded Gaussian": (2.32e2, 2.30e2),
    "Thresholded Gaussian+Gamma": (2.85e2, 2.70e2),
    "Thresholded Laplacian": (1.98e2, 1.94e2),
    "Thresholded Laplacian+Gamma": (2.23e2, 2.11e2),
}
# The authors' per-method settings (dict_config/*.json).
METHODS = {
    "Gaussian": dict(prior="gaussian", prior_scale=0.1**0.5),
    "Laplacian": dict(prior="laplace", prior_scale=0.1),
    "Spike-and-slab": dict(prior="spike_slab", prior_scale=0.1**0.5, slab_probability=0.1),
    "Thresholded Gaussian": dict(prior="thresholded_gaussian", prior_scale=0.1**0.5, lam=0.52),
    "Thresholded Gaussian+Gamma": dict(prior="thresholded_gaussian", prior_scale=0.1**0.5,
                                       lam=0.52, learn_threshold=True),
    "Thresholded Laplacian": dict(prior="thresholded_laplace", prior_scale=0.1, lam=0.25),
    "Thresholded Laplacian+Gamma": dict(prior="thresholded_laplace", prior_scale=0.1, lam=0.25,
                                        learn_threshold=True),
}
ENCODER = (512, 1024, 512, 256)  # their MLPEncoder for 16×16 patches


def load_patches(n_train, n_val, seed):
    """The authors' split: train and validation patches from the same images.

    Patches at random positions of all ten images, the first ``n_train`` for
    training and the rest for validation; every pixel position z-scored with
    the training patches' mean and standard deviation.
    """
    images = np.load(DATA)["images"].transpose(2, 0, 1)  # (10, 512, 512)
    patches = extract_patches(images, 16, n_train + n_val, random_state=seed)
    order = np.random.default_rng(seed).permutation(len(patches))
    train, val = patches[order[:n_train]], patches[order[n_train:]]
    mean, std = train.mean(axis=0), train.std(axis=0)
    return ((train - mean) / std).astype(np.float32), ((val - mean) / std).astype(np.float32)


def energy(X, Z, D, lam=LAM):
    residual = X - Z @ D
    return float(np.mean(0.5 * np.sum(residual**2, axis=1) + lam * np.sum(np.abs(Z), axis=1)))


def fista_codes(X, D, lam, max_iter):
    with warnings.catch_warnings():  # a capped FISTA during training is expected
        warnings.simplefilter("ignore")
        return sparse_encode(X, D, lam=lam, max_iter=max_iter, device="cpu")


def train_fista_dictionary(X, epochs, seed, batch_size=100, lr=0.5, lr_decay=0.99,
                           fnorm=1e-4, max_iter=300):
    """The authors' FISTA baseline: free atoms, λ warm-up, SGD with decay.

    Not ``SparseCoder``: that keeps its atoms at unit norm.  Returns the
    dictionary (n_atoms, n_features).
    """
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((256, X.shape[1])).astype(np.float32)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    warmup, step_size = 0.1, lr
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X) - batch_size + 1, batch_size):
            x = X[order[start:start + batch_size]]
            z = fista_codes(x, D, LAM * warmup, max_iter)
            warmup = min(warmup + 1e-4, 1.0)
            grad = z.T @ (x - z @ D) / batch_size - 2 * fnorm * D
            D += step_size * grad
        step_size *= lr_decay
    return D


def max_elbo_sample(vsc, X, n_draws, seed):
    """Per input, the posterior draw with the highest ELBO among ``n_draws``.

    The KL term does not depend on the draw and the likelihood is Gaussian
    with a fixed σ_x, so the max-ELBO draw is the one that reconstructs best
    (the authors' ``sample_method="max"``).
    """
    draws = vsc.sample_posterior(X, n_draws=n_draws, random_state=seed)
    D = vsc.components_
    best = np.zeros_like(draws[0])
    best_error = np.full(len(X), np.inf)
    for Z in draws:
        error = np.sum((X - Z @ D) ** 2, axis=1)
        better = error < best_error
        best[better], best_error[better] = Z[better], error[better]
    return best


def repro(row, paper, ours, tol=TOL):
    ok = abs(ours - paper) <= tol * abs(paper)
    print(f'REPRO paper=003 row="{row}" paper_value={paper:g} ours={ours:.1f} tol={tol:.2f} '
          f'{"ok" if ok else "miss"}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small budget (about 15 minutes)")
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-val", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="epochs per VAE")
    parser.add_argument("--fista-epochs", type=int, default=None, help="epochs of FISTA's atoms")
    parser.add_argument("--learning-rate", type=float, default=3e-3, help="Adam, VAEs")
    parser.add_argument("--warmup", type=int, default=None,
                        help="noise / sharpness warm-up steps (default: half the VAE run)")
    parser.add_argument("--draws", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                        metavar="METHOD", help="variational posteriors to run (default: all)")
    parser.add_argument("--fista-on-vae", action="store_true",
                        help="also report FISTA's energy on each VAE's atoms (slow)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_train = args.n_train or (8_000 if args.quick else 40_000)
    n_val = args.n_val or (2_000 if args.quick else 8_000)
    epochs = args.epochs or (5 if args.quick else 20)
    fista_epochs = args.fista_epochs or (8 if args.quick else 20)
    steps = epochs * (n_train // 100)
    warmup = args.warmup if args.warmup is not None else steps // 2
    X, X_val = load_patches(n_train, n_val, seed=0)
    print(f"patches: {n_train} train, {n_val} validation (16x16, same images, per-pixel "
          f"z-scored); VAEs {epochs} epochs ({steps} Adam steps, lr {args.learning_rate}, "
          f"warm-up {warmup}), encoder {ENCODER}; FISTA {fista_epochs} epochs "
          f"({fista_epochs * (n_train // 100)} SGD steps); λ={LAM}; σ_x={NOISE_STD:.4f}",
          flush=True)

    ours = {}
    start = time.perf_counter()
    D = train_fista_dictionary(X, fista_epochs, seed=0)
    Z = fista_codes(X_val, D, LAM, 1000)
    ours["FISTA", 1] = energy(X_val, Z, D)
    print(f"FISTA: energy {ours['FISTA', 1]:.2f}, zeros {(Z == 0).mean():.3f}, mean atom norm "
          f"{np.linalg.norm(D, axis=1).mean():.2f}, {time.perf_counter() - start:.0f}s", flush=True)

    extra = {}
    for name in args.methods:
        for draws in args.draws:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning at a short budget
                vsc = VariationalSparseCoder(
                    n_components=256, decoder="linear", hidden_layer_sizes=ENCODER,
                    likelihood="gaussian", noise_std=NOISE_STD, beta=1.0, n_draws=draws,
                    batch_size=100, learning_rate=args.learning_rate, max_epochs=epochs,
                    validation_fraction=0.0, n_iter_no_change=epochs, warmup_steps=warmup,
                    device=args.device, random_state=0, **METHODS[name],
                ).fit(X)
            D = vsc.components_
            Z_sample = max_elbo_sample(vsc, X_val, draws, seed=1)
            ours[name, draws] = energy(X_val, Z_sample, D)
            e_mean = energy(X_val, vsc.transform(X_val), D)
            line = (f"{name}, J={draws}: validation energy {ours[name, draws]:.2f} (max-ELBO "
                    f"sample; zeros {(Z_sample == 0).mean():.2f}), deterministic code {e_mean:.2f}")
            if args.fista_on_vae:
                line += f", FISTA on its atoms {energy(X_val, fista_codes(X_val, D, LAM, 1000), D):.2f}"
            extra[name, draws] = e_mean
            print(line + f", {time.perf_counter() - start:.0f}s", flush=True)

    print(f"\n{'method':28s}" + "".join(f"{'ours J=' + str(j):>11s}{'paper':>8s}"
                                        for j in args.draws))
    for name in ["FISTA", *args.methods]:
        line = f"{name:28s}"
        for i, draws in enumerate(args.draws):
            key = (name, 1) if name == "FISTA" else (name, draws)
            paper = PAPER[name][0 if name == "FISTA" else min(i, 1)]
            if name == "FISTA" and i > 0:
                line += f"{'—':>11s}{'—':>8s}"
            else:
                line += f"{ours[key]:11.1f}{paper:8.0f}"
        print(line)

    print()
    repro("FISTA", PAPER["FISTA"][0], ours["FISTA", 1])
    for name in args.methods:
        for draws in args.draws:
            if draws in (1, 20):
                repro(f"{name} J={draws}", PAPER[name][0 if draws == 1 else 1], ours[name, draws])
    for draws in args.draws:
        vae = {n: ours[n, draws] for n in args.methods}
        if not vae:
            continue
        claims = [
            ("FISTA below every variational row", ours["FISTA", 1] < min(vae.values())),
        ]
        if "Thresholded Laplacian" in vae:
            claims.append(("Thresholded Laplacian lowest variational row",
                           min(vae, key=vae.get) == "Thresholded Laplacian"))
        if "Gaussian" in vae:
            claims.append(("Gaussian highest", max(vae, key=vae.get) == "Gaussian"))
        for claim, holds in claims:
            best = min(vae, key=vae.get)
            print(f'REPRO paper=003 row="ordering J={draws}: {claim}" paper_value=holds '
                  f'ours="{"holds" if holds else "fails"} (lowest VAE: {best})" tol=0 '
                  f'{"ok" if holds else "miss"}')


if __name__ == "__main__":
    main()
