"""Reproduce paper 000 (Jiang & de la Iglesia): SVAE vs SVAE-Norm vs sparse coding.

16×16 patches of the ten whitened Olshausen & Field images, a held-out test
split, 450 latents and the prior Laplace(0, 0.1) (``lam=10``).  Fits
``SparseCoder``, ``SVAE(normalize_decoder=False)`` (the original SVAE, with
paper 000's β weighting and ResNet encoder) and ``SVAE(normalize_decoder=True)``
(SVAE-Norm), then prints the test MSE of each (paper Table 1: 0.0150 / 0.00875
/ 0.00769) and the active units at threshold 0.5 (std of the posterior mean
over the test set; paper §4.3: 154 of 450 for SVAE, 374 for SVAE-Norm), and
writes the three atom grids (all atoms, sorted by activity) and the atoms and
code statistics (``.npz``) to ``benchmarks/output/``.

Scale: the patches keep the images' own scale (pixel variance about 0.08), at
which the paper's MSEs (0.0150 = 19 % of the variance for sparse coding) make
sense.  At that scale unit-norm atoms cannot give hundreds of codes with a
*standard deviation* above 0.5 (``Σₖ Var(zₖ) ≈ E‖x‖² ≈ 20``), so the table
reports active units both by the std criterion (paper §4.3 text) and by the
max criterion (paper Fig. 5a caption: activity above 0.5 "for any image").
``--unit-variance`` rescales the patches to unit pixel variance instead.

Held-out split: every image is cut into 64×64 tiles and a random 15 % of the
tiles are test tiles; test patches lie inside test tiles, training patches
touch none, so no test pixel is seen in training.

Usage (from the repository root)::

    python benchmarks/reproduce_svae_norm.py            # stated budget
    python benchmarks/reproduce_svae_norm.py --quick    # ~1 min: 10k patches, 10 epochs

The paper does not give its sparse-coding λ.  SparseCoder uses λ = 0.3 in
``½‖x − Dz‖² + λ‖z‖₁`` (0.6 in the paper's energy without the ½), at which its
test MSE matches Table 1; ``--sc-lam 0`` uses instead the SVAE's MAP value
``β·lam·σ_x²`` (0.098 with the defaults), a much weaker penalty.

Measured with the default budget (50 000 training / 10 000 test patches, seed
0, one CPU thread; ``python benchmarks/reproduce_svae_norm.py``, 22 Nov 2026;
SVAEs ~3 min each, SparseCoder ~10 s on a lightly loaded CPU)::

    model         test MSE  sampled MSE ± std    paper  active max>0.5  paper  MAP MSE
    SparseCoder    0.01452                  -  0.01500             450      -        -
    SVAE           0.00571  0.01043 ± 1.0e-05  0.00875             135    154  0.00332
    SVAE-Norm      0.00797  0.01817 ± 2.0e-05  0.00769             435    374  0.00362
    (--sc-lam 0: SparseCoder with λ = 0.098 has test MSE 0.00351)

"test MSE" decodes ``transform``'s posterior mean; "sampled MSE" decodes one
code drawn from q(z|x), mean and std over 50 draws: Table 1's column "STD
(Monte Carlo Samples)" shows the paper's MSE is of sampled codes, and our
spreads have its size (paper 1.6e-5 / 2.3e-5).  Sampling costs SVAE-Norm,
which uses more units per patch, more, so the ordering fails by more.

Active units by the std > 0.5 criterion: 0 for every model at this scale.
SVAE-Norm / SVAE active units (max criterion): 3.22 (paper 2.43).  Table 1's
ordering holds for sparse coding vs the VAEs but not between the two SVAEs.
SVAE-Norm's atoms are localised, oriented edges (Gabor-like) among the most
active units; the original SVAE's few active atoms are PCA-like gratings and
~300 are pixel noise of small norm, as in the paper's Fig. 2 and 5.

"MAP MSE" is the test MSE of the model's own MAP codes on its learned atoms
(``½‖x − zU‖² + β·lam·σ_x²·‖z‖₁``, by :func:`skvsc.sparse_encode`): what the
encoder's μ would give with exact inference.

Why the unnormalised SVAE reconstructs better here (docs/benchmarks.rst has
the measurements): the KL is not invariant to rescaling an atom, so the
SVAE's used atoms settle at norm ≈ (mean |code| on a unit-norm atom) / 0.1
(median 2.2 for its 135 used atoms: their L1 penalty is about half of
SVAE-Norm's); the same mechanism shrinks the unused atoms (over-pruning).
No faithful setting tried (σ_x 0.05–0.4, learning rate 5e-4–2e-3, encoder
width 256–1024, patch means removed, all 30 epochs without early stopping)
gives both Table 1's MSE ordering and a 2× active-unit ratio.  Beware early
stopping at small learning rates or σ_x: SVAE-Norm's validation β-ELBO can
stall while its atoms are still random, and the kept epoch then has a low
MSE with noise atoms (check the atom grid).
"""

import argparse
import os
import time

import numpy as np
import torch

from skvsc import SVAE, SparseCoder, sparse_encode
from skvsc.metrics import active_units

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data", "olshausen_images.npz")
OUTPUT = os.path.join(HERE, "output")
PAPER = {"SparseCoder": (0.0150, None), "SVAE": (0.00875, 154), "SVAE-Norm": (0.00769, 374)}


def split_blocks(images, block, test_fraction, rng):
    """Mark a random ``test_fraction`` of the ``block×block`` tiles of every image as test."""
    height, width, n_images = images.shape
    return rng.random((n_images, height // block, width // block)) < test_fraction


def sample_patches(images, n_patches, is_test, block, size, want_test, rng):
    """Random ``size×size`` patches lying only on test tiles (or only on training tiles)."""
    height, width, n_images = images.shape
    patches = np.empty((n_patches, size * size), dtype=np.float32)
    count = 0
    while count < n_patches:
        k = int(rng.integers(n_images))
        r = int(rng.integers(height - size + 1))
        c = int(rng.integers(width - size + 1))
        tiles = is_test[k, r // block : (r + size - 1) // block + 1,
                        c // block : (c + size - 1) // block + 1]
        if (tiles.all() if want_test else not tiles.any()):
            patches[count] = images[r : r + size, c : c + size, k].ravel()
            count += 1
    return patches


def atom_grid(components, size, n_cols=None):
    """Tile atoms (rows of ``components``) into one image, each on its own ±max scale."""
    n_atoms = components.shape[0]
    n_cols = n_cols or int(np.ceil(np.sqrt(n_atoms)))
    n_rows = int(np.ceil(n_atoms / n_cols))
    pad = 1
    grid = np.full((n_rows * (size + pad) + pad, n_cols * (size + pad) + pad), 1.0)
    for k, atom in enumerate(components):
        scale = np.abs(atom).max() or 1.0
        tile = 0.5 + 0.5 * atom.reshape(size, size) / scale
        r, c = divmod(k, n_cols)
        grid[pad + r * (size + pad) : (r + 1) * (size + pad), pad + c * (size + pad) : (c + 1) * (size + pad)] = tile
    return grid


def save_grid(grid, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 8 * grid.shape[0] / grid.shape[1] + 0.4), dpi=100)
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small budget (a couple of minutes)")
    parser.add_argument("--n-train", type=int, default=None, help="training patches")
    parser.add_argument("--n-test", type=int, default=None, help="test patches")
    parser.add_argument("--epochs", type=int, default=None, help="max epochs of each SVAE")
    parser.add_argument("--sc-epochs", type=int, default=None, help="max epochs of SparseCoder")
    parser.add_argument("--n-components", type=int, default=450)
    parser.add_argument("--lam", type=float, default=10.0, help="prior Laplace(0, 1/lam)")
    parser.add_argument("--beta", type=float, default=0.5)
    parser.add_argument("--noise-std", type=float, default=0.14)
    parser.add_argument("--encoder", default="resnet", choices=["linear", "mlp", "resnet"])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-iter-no-change", type=int, default=5,
                        help="SVAE early-stopping patience (epochs); >= --epochs trains every "
                             "epoch")
    parser.add_argument("--validation-fraction", type=float, default=0.1,
                        help="SVAE validation split for early stopping and for choosing the "
                             "kept epoch (0: the training loss decides)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 avoids oversubscription on a shared CPU)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=list(PAPER), choices=list(PAPER),
                        help="which models to fit")
    parser.add_argument("--sc-lam", type=float, default=None,
                        help="SparseCoder L1 weight of ½‖x − Dz‖² + λ‖z‖₁ (default 0.3; "
                             "pass 0 for the SVAE's MAP value beta*lam*noise_std**2)")
    parser.add_argument("--unit-variance", action="store_true",
                        help="scale the patches to unit pixel variance (default: the "
                             "images' own scale, pixel variance ~0.08, as in the paper)")
    args = parser.parse_args()

    n_train = args.n_train or (10_000 if args.quick else 50_000)
    n_test = args.n_test or (2_000 if args.quick else 10_000)
    epochs = args.epochs or (10 if args.quick else 30)
    sc_epochs = args.sc_epochs or (1 if args.quick else 2)
    if args.threads:
        torch.set_num_threads(args.threads)

    images = np.load(DATA)["images"]
    rng = np.random.default_rng(args.seed)
    size, block = 16, 64
    is_test = split_blocks(images, block, 0.15, rng)
    X_train = sample_patches(images, n_train, is_test, block, size, False, rng)
    X_test = sample_patches(images, n_test, is_test, block, size, True, rng)
    print(f"patches: train {X_train.shape}, test {X_test.shape}, raw pixel variance "
          f"train {X_train.var():.4f} test {X_test.var():.4f}")
    if args.unit_variance:
        # One global factor (from the training patches) to unit pixel variance.
        scale = float(X_train.std())
        X_train, X_test = X_train / scale, X_test / scale
        print(f"scaled by 1/{scale:.4f}: test pixel variance {X_test.var():.4f}")

    common = dict(n_components=args.n_components, lam=args.lam, beta=args.beta,
                  noise_std=args.noise_std, encoder=args.encoder,
                  hidden_layer_sizes=tuple(args.hidden), max_epochs=epochs,
                  batch_size=args.batch_size, learning_rate=args.learning_rate,
                  validation_fraction=args.validation_fraction,
                  n_iter_no_change=args.n_iter_no_change, device=args.device,
                  random_state=args.seed)
    if args.sc_lam is None:
        sc_lam = 0.3
    elif args.sc_lam == 0:
        sc_lam = args.beta * args.lam * args.noise_std**2
    else:
        sc_lam = args.sc_lam
    models = {}
    if "SparseCoder" in args.models:
        models["SparseCoder"] = SparseCoder(
            n_components=args.n_components, lam=sc_lam, max_epochs=sc_epochs,
            batch_size=256, code_max_iter=200, device=args.device, random_state=args.seed)
    if "SVAE" in args.models:
        models["SVAE"] = SVAE(normalize_decoder=False, **common)
    if "SVAE-Norm" in args.models:
        models["SVAE-Norm"] = SVAE(normalize_decoder=True, **common)

    os.makedirs(OUTPUT, exist_ok=True)
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - start
        codes = model.transform(X_test)
        mse = float(np.mean((model.inverse_transform(codes) - X_test) ** 2))
        active = active_units(codes, threshold=0.5)
        active_max = active_units(codes, threshold=0.5, criterion="max")
        norms = np.linalg.norm(model.components_, axis=1)
        map_mse = sampled_mse = sampled_std = float("nan")
        if name != "SparseCoder":
            # Table 1's protocol: reconstructions of codes drawn from q(z|x), whose MSE
            # has a Monte Carlo spread ("STD (Monte Carlo Samples)", 50 trials).
            trials = [np.mean((model.sample_posterior(X_test, random_state=trial)[0]
                               @ model.components_ - X_test) ** 2) for trial in range(50)]
            sampled_mse, sampled_std = float(np.mean(trials)), float(np.std(trials))
            # The model's own MAP codes: ½‖x − zU‖² + β·lam·σ_x²·‖z‖₁ on its learned atoms,
            # i.e. what the encoder's μ would give if amortised inference were exact.
            map_codes = sparse_encode(X_test, model.components_,
                                      lam=args.beta * args.lam * args.noise_std**2,
                                      max_iter=2000, device=args.device)
            map_mse = float(np.mean((map_codes @ model.components_ - X_test) ** 2))
        rows.append((name, mse, active, active_max, model.n_iter_, seconds, np.median(norms),
                     map_mse, sampled_mse, sampled_std))
        order = np.argsort(-np.abs(codes).max(axis=0))  # most active first
        grid = atom_grid(model.components_[order], size, n_cols=25)
        suffix = f"_lam{sc_lam:g}" if name == "SparseCoder" and sc_lam != 0.3 else ""
        path = os.path.join(OUTPUT, f"svae_norm_atoms_{name}{suffix}.png")
        save_grid(grid, path, f"{name}: all {args.n_components} atoms, most active first "
                  f"(active: {active_max} by max, {active} by std; test MSE {mse:.4g})")
        np.savez_compressed(path[:-4] + ".npz", components=model.components_,
                            code_std=codes.std(axis=0), code_max=np.abs(codes).max(axis=0))
        print(f"{name}: done in {seconds:.0f}s ({model.n_iter_} epochs); atoms -> {path}",
              flush=True)

    print()
    print(f"budget: {n_train} train / {n_test} test patches, SVAE max_epochs={epochs}, "
          f"SparseCoder max_epochs={sc_epochs} (lam={sc_lam:.4g}), encoder={args.encoder} "
          f"{tuple(args.hidden)}, beta={args.beta}, noise_std={args.noise_std}, "
          f"lam={args.lam}, threads={torch.get_num_threads()}")
    print(f"{'model':<12} {'test MSE':>9} {'sampled MSE ± std':>19} {'paper':>8} {'MSE/var':>8} "
          f"{'active std>0.5':>14} {'active max>0.5':>14} {'paper':>6} {'median |atom|':>13} "
          f"{'MAP MSE':>8} {'epochs':>6} {'time':>7}")
    variance = float(X_test.var())
    for (name, mse, active, active_max, n_iter, seconds, norm, map_mse, sampled_mse,
         sampled_std) in rows:
        paper_mse, paper_active = PAPER[name]
        sampled = "-" if np.isnan(sampled_mse) else f"{sampled_mse:.5f} ± {sampled_std:.1e}"
        print(f"{name:<12} {mse:>9.5f} {sampled:>19} {paper_mse:>8.5f} {mse / variance:>8.3f} "
              f"{active:>14} {active_max:>14} "
              f"{paper_active if paper_active is not None else '-':>6} "
              f"{norm:>13.3g} {'-' if np.isnan(map_mse) else f'{map_mse:.5f}':>8} "
              f"{n_iter:>6} {seconds:>6.0f}s")
    print("test MSE: reconstruction of transform's posterior mean; sampled MSE: of one code "
          "drawn from q(z|x), mean and std over 50 draws (Table 1's protocol, paper std "
          "1.6e-5 / 2.3e-5)")
    result = {name: (mse, active, active_max, sampled)
              for name, mse, active, active_max, *_, sampled, _ in rows}
    if "SVAE" in result and "SVAE-Norm" in result:
        for label, i in (("std", 1), ("max", 2)):
            ratio = result["SVAE-Norm"][i] / max(result["SVAE"][i], 1)
            print(f"active-unit ratio SVAE-Norm / SVAE ({label} criterion): {ratio:.2f} "
                  "(paper 374/154 = 2.43; target >= 2)")
        for label, i in (("mean codes", 0), ("sampled codes", 3)):
            ordering = result["SVAE-Norm"][i] < result["SVAE"][i]
            if "SparseCoder" in result:
                ordering = ordering and result["SVAE"][i] < result["SparseCoder"][0]
            print(f"MSE ordering of Table 1 holds ({label}): {ordering}")


if __name__ == "__main__":
    main()
