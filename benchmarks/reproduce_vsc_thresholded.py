"""Reproduce paper 003's table (Fallah & Rozell): variational posteriors vs FISTA.

A linear generator with 256 unit-norm atoms is learned on 16×16 patches of the
ten whitened Olshausen & Field images, once per inference method, and every
method is scored by the sparse-coding energy of its validation codes on its own
dictionary,

    E(x) = ½‖x − z D‖² + λ‖z‖₁      (mean over validation patches),

with the same λ for all.  Methods: FISTA (``SparseCoder`` to learn D,
``skvsc.sparse_encode`` for the validation codes) and ``VariationalSparseCoder``
with the Gaussian, Laplacian, spike-and-slab, thresholded Gaussian and
thresholded Laplacian posteriors (optionally their "+Gamma" learned-threshold
variants), each with J=1 and J=20 samples per input (max-ELBO training).
The ordering to reproduce: FISTA best, thresholded Laplacian best of the
variational ones, Gaussian worst.

How the paper scores a VAE (its authors' code, github.com/kfallah/
variational-sparse-coding, ``train_vsc_dict.py``): the
validation loss is the energy above, per patch, with the FISTA λ, of a code
*sampled* from the posterior — for J=20 the sample with the highest ELBO among
J draws (the max-ELBO choice of training), for J=1 the single draw.  That is
the ``E sample`` column here: ``sample_posterior(X_val, n_draws=J)``, keeping
per patch the draw with the smallest reconstruction error (the KL does not
depend on the draw, so that is the max-ELBO draw).  A dense, noisy Gaussian
sample pays for its noise in both terms, which is why the paper's Gaussian is
worst by far.  The ``E mean`` column scores ``transform``'s deterministic codes
instead (posterior mean / thresholded mean / most probable support), an extra
view that the paper does not report.

The VAEs share the generative model whose MAP energy FISTA minimises:
Gaussian noise ``σ_x`` (``--noise-std``, default 0.3 pixel units), prior scale
``b = σ_x²/λ`` (so that ``σ_x²·(−log joint)`` is ``E``), threshold λ₀ = λ (the
coordinate-wise shrinkage of the MAP code), β = 1, unit-norm atoms
(``normalize_decoder=True``; unnormalised atoms would let any method lower the
L1 term by growing D).  (The paper instead z-scores every pixel, uses λ = 20
for the energy and trains its VAEs with a KL weight of 0.01, prior spread 0.1
and threshold 0.25, unrelated to λ; its numbers are on that scale, so compare
orderings only.)  Patches are divided by one global factor so training pixels
have unit variance; validation patches come from the bottom 96 rows of every
image, training patches from the rest.

Budget: the paper trains 300 epochs on 80,000 patches (a GPU's worth).  The
default here is 40,000 training / 8,000 validation patches, 20 epochs per VAE
and 4 for FISTA's dictionary (8× the quick budget's VAE steps: about an hour
single-threaded, not run); ``--quick`` is 10,000 / 2,000 patches, 10 epochs
per VAE (1,000 Adam steps), 2 for FISTA (8 minutes single-threaded on the
shared 2-core CPU, 22 November 2026).

Result at the quick budget (docs/benchmarks.rst has the table): FISTA best and
the thresholded Laplacian best of the variational posteriors, under both
protocols; with the paper's sampled codes J=20 beats J=1 for every posterior
but the spike-and-slab.  Not reproduced: the Gaussian is not the worst — the
spike-and-slab is, under both protocols.  Here every prior is matched to the
energy's λ (``b = σ_x²/λ``), so the dense Gaussian codes are shrunk the way the
energy wants and pay little for it; the paper's VAEs are trained without
reference to its λ = 20, which its dense Gaussian codes then pay in full.

Usage (from the repository root)::

    python benchmarks/reproduce_vsc_thresholded.py            # stated budget
    python benchmarks/reproduce_vsc_thresholded.py --quick    # small budget
    python benchmarks/reproduce_vsc_thresholded.py --quick --methods Spike-and-slab --alpha 0.1
"""

import argparse
import os
import time

import numpy as np
import torch

from skvsc import SparseCoder, VariationalSparseCoder, sparse_encode
from skvsc.datasets import extract_patches

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data", "olshausen_images.npz")
PAPER = {  # paper 003's validation loss, J=1 and J=20 (its own scale)
    "FISTA": (1.01e2, None),
    "Gaussian": (1.35e3, 1.35e3),
    "Laplacian": (5.96e2, 5.79e2),
    "Spike-and-slab": (2.52e2, 2.39e2),
    "Thresholded Gaussian": (2.32e2, 2.30e2),
    "Thresholded Gaussian+Gamma": (2.85e2, 2.70e2),
    "Thresholded Laplacian": (1.98e2, 1.94e2),
    "Thresholded Laplacian+Gamma": (2.23e2, 2.11e2),
}
# The authors' per-method training settings (dict_config/*.json of their code):
# prior spread 0.1 — a variance for the Gaussian families (their Gaussian KL
# divides by it), a scale for the Laplace ones — thresholds 0.52 (Gaussian)
# and 0.25 (Laplace), spike prior 0.1.  Used with ``--authors``.
AUTHORS = {
    "Gaussian": dict(prior_scale=0.1**0.5),
    "Laplacian": dict(prior_scale=0.1),
    "Spike-and-slab": dict(prior_scale=0.1**0.5, alpha=0.1),
    "Thresholded Gaussian": dict(prior_scale=0.1**0.5, lam=0.52),
    "Thresholded Gaussian+Gamma": dict(prior_scale=0.1**0.5, lam=0.52),
    "Thresholded Laplacian": dict(prior_scale=0.1, lam=0.25),
    "Thresholded Laplacian+Gamma": dict(prior_scale=0.1, lam=0.25),
}
METHODS = {
    "Gaussian": dict(prior="gaussian"),
    "Laplacian": dict(prior="laplace"),
    "Spike-and-slab": dict(prior="spike_slab"),
    "Thresholded Gaussian": dict(prior="thresholded_gaussian"),
    "Thresholded Gaussian+Gamma": dict(prior="thresholded_gaussian", learn_threshold=True),
    "Thresholded Laplacian": dict(prior="thresholded_laplace"),
    "Thresholded Laplacian+Gamma": dict(prior="thresholded_laplace", learn_threshold=True),
}


def load_patches(n_train, n_val, seed, per_pixel=False):
    """Training and validation patches, scaled by the training patches' statistics.

    Default: one global factor to unit pixel variance.  ``per_pixel``: every
    pixel position z-scored separately (mean and std over the training
    patches), as the authors' data loader does.
    """
    images = np.load(DATA)["images"].transpose(2, 0, 1)  # (10, 512, 512)
    train = extract_patches(images[:, :416], 16, n_train, random_state=seed)
    val = extract_patches(images[:, 416:], 16, n_val, random_state=seed + 1)
    if per_pixel:
        mean, scale = train.mean(axis=0), train.std(axis=0)
        train, val = train - mean, val - mean
    else:
        scale = train.std()
    return (train / scale).astype(np.float32), (val / scale).astype(np.float32)


def energy(X, Z, D, lam):
    residual = X - Z @ D
    return float(np.mean(0.5 * np.sum(residual**2, axis=1) + lam * np.sum(np.abs(Z), axis=1)))


def max_elbo_sample(vsc, X, n_draws, seed):
    """Per input, the posterior draw with the highest ELBO among ``n_draws``.

    The KL term does not depend on the draw and the likelihood is Gaussian
    with a fixed σ_x, so the max-ELBO draw is the one that reconstructs best
    (paper 003's ``sample_method="max"``).
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small budget (a few minutes)")
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-val", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="epochs per model")
    parser.add_argument("--fista-epochs", type=int, default=None, help="epochs of SparseCoder")
    parser.add_argument("--lam", type=float, default=0.3, help="λ of the energy (FISTA's L1 weight)")
    parser.add_argument("--noise-std", type=float, default=0.3,
                        help="σ_x of the VAEs' Gaussian likelihood (pixel units)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="threshold λ₀ of the thresholded posteriors (default: --lam)")
    parser.add_argument("--alpha", type=float, default=0.2, help="spike-and-slab prior α")
    parser.add_argument("--beta", type=float, default=1.0, help="KL weight of the VAEs")
    parser.add_argument("--prior-scale", type=float, default=None,
                        help="prior spread of the VAEs (default: σ_x²/λ, the energy's MAP "
                             "model; the paper's authors use 0.1 with --beta 0.01)")
    parser.add_argument("--free-atoms", action="store_true",
                        help="VAEs learn unnormalised atoms (the authors' normalize: false); "
                             "FISTA's stay unit-norm")
    parser.add_argument("--per-pixel", action="store_true",
                        help="z-score every pixel position (the authors' data loader)")
    parser.add_argument("--authors", action="store_true",
                        help="the authors' setting: --per-pixel --free-atoms --lam 20, their loss "
                             "weights (mean squared error per pixel + 0.01·KL, i.e. β = 1 with "
                             "σ_x² = 0.01·256/2) and their per-method priors and thresholds")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=300, help="warm-up iterations")
    parser.add_argument("--no-gamma", action="store_true", help="skip the +Gamma variants")
    parser.add_argument("--draws", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                        metavar="METHOD", help="variational posteriors to run (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.authors:
        args.per_pixel = args.free_atoms = True
        args.lam, args.beta, args.noise_std = 20.0, 1.0, (0.01 * 256 / 2) ** 0.5
    torch.set_num_threads(args.threads)
    n_train = args.n_train or (10_000 if args.quick else 40_000)
    n_val = args.n_val or (2_000 if args.quick else 8_000)
    epochs = args.epochs or (10 if args.quick else 20)
    fista_epochs = args.fista_epochs or (2 if args.quick else 4)
    threshold = args.lam if args.threshold is None else args.threshold
    matched = args.prior_scale is None  # then the VAEs' MAP energy is E
    prior_scale = args.noise_std**2 / args.lam if matched else args.prior_scale
    X, X_val = load_patches(n_train, n_val, seed=0, per_pixel=args.per_pixel)
    if args.authors:
        priors = "the authors' per-method priors, thresholds and α (AUTHORS in the script)"
    else:
        priors = (f"prior scale b{'=σ_x²/λ' if matched else ''}={prior_scale:g}; "
                  f"threshold λ₀={threshold}; α={args.alpha}")
    print(f"patches: {n_train} train, {n_val} validation (16x16, "
          f"{'per-pixel z-scored' if args.per_pixel else 'unit pixel variance'}); "
          f"{epochs} epochs per VAE, {fista_epochs} for FISTA; energy λ={args.lam}; "
          f"σ_x={args.noise_std:.4g}; β={args.beta}; {priors}; Adam lr {args.learning_rate}; "
          f"warm-up {args.warmup} iterations; {'free' if args.free_atoms else 'unit-norm'} VAE atoms")

    rows = []
    start = time.perf_counter()
    coder = SparseCoder(n_components=256, lam=args.lam, max_epochs=fista_epochs, batch_size=256,
                        device=args.device, random_state=0).fit(X)
    D = coder.components_
    Z = sparse_encode(X_val, D, lam=args.lam, max_iter=1000, device=args.device)
    fista_energy = energy(X_val, Z, D, args.lam)
    rows.append(("FISTA", {1: (fista_energy, fista_energy, float((Z == 0).mean()), fista_energy,
                               time.perf_counter() - start)}))
    print(f"FISTA: energy {fista_energy:.2f}", flush=True)

    for name, params in METHODS.items():
        if name not in args.methods or (args.no_gamma and params.get("learn_threshold")):
            continue
        results = {}
        settings = dict(prior_scale=prior_scale, lam=threshold, alpha=args.alpha)
        if args.authors:
            settings.update(AUTHORS[name])
        for draws in args.draws:
            start = time.perf_counter()
            vsc = VariationalSparseCoder(
                n_components=256, decoder="linear", normalize_decoder=not args.free_atoms,
                likelihood="gaussian", noise_std=args.noise_std, beta=args.beta, n_draws=draws,
                batch_size=100, learning_rate=args.learning_rate, max_epochs=epochs,
                validation_fraction=0.0, n_iter_no_change=epochs, warmup_steps=args.warmup,
                device=args.device, random_state=0, **settings, **params,
            ).fit(X)
            fit_time = time.perf_counter() - start
            D = vsc.components_
            Z_sample = max_elbo_sample(vsc, X_val, draws, seed=1)
            Z_mean = vsc.transform(X_val)
            # The authors' reference: exact codes (FISTA) on the same dictionary.
            Z_fista = sparse_encode(X_val, D, lam=args.lam, max_iter=1000, device=args.device)
            results[draws] = (energy(X_val, Z_sample, D, args.lam), energy(X_val, Z_mean, D, args.lam),
                              float((Z_sample == 0).mean()), energy(X_val, Z_fista, D, args.lam),
                              fit_time)
            print(f"{name}, J={draws}: energy of a max-ELBO sample {results[draws][0]:.2f}, "
                  f"of the deterministic code {results[draws][1]:.2f}", flush=True)
        rows.append((name, results))

    print("\nE sample: energy of a max-ELBO posterior sample among J draws (the paper's "
          "validation loss); E mean: energy of transform's deterministic code; zeros: "
          "fraction of exact zeros in the sampled codes; FISTA: energy of exact codes on "
          "the same dictionary")
    header = f"{'method':28s}"
    for j in args.draws:
        header += f"{'sample J=' + str(j):>12s}{'mean J=' + str(j):>11s}{'zeros':>6s}{'FISTA':>8s}"
    print(header + f"{'paper J=1':>10s}{'paper J=20':>11s}{'fit s':>7s}")
    for name, results in rows:
        line = f"{name:28s}"
        for draws in args.draws:
            if draws in results:
                e_sample, e_mean, zeros, e_fista, _ = results[draws]
                line += f"{e_sample:12.2f}{e_mean:11.2f}{zeros:6.2f}{e_fista:8.2f}"
            else:
                line += f"{'—':>12s}{'—':>11s}{'':6s}{'':8s}"
        paper = PAPER[name]
        line += f"{paper[0]:10.3g}" + (f"{paper[1]:11.3g}" if paper[1] else f"{'—':>11s}")
        line += f"{sum(r[-1] for r in results.values()):7.0f}"
        print(line)


if __name__ == "__main__":
    main()
