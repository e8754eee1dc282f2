"""Reproduce paper 002 (Evtimova & LeCun) on MNIST: Table 1, Fig. 7d and Fig. 9.

Trains, with ``l=128`` on the 55k/5k split of MNIST's training set (global
mean/std normalisation), the three models of the authors' MNIST scripts
(``kevtimova/deep-sparse``, ``scripts/MNIST_{SDL,VDL,VDL-NL}.sh``) with their
settings (paper 002 Table 3; λ from Table 1):

* SDL, λ=0.005; VDL, λ=0.02 (Table 1's models);
* VDL-NL, λ=0.01, one hidden layer of 1024 units, decoder learning rate
  halved every 30 epochs (the script's ``--hidden_dim 1024 --sparsity_reg
  0.01 --anneal_lr_D_freq 30 --anneal_lr_D_mult 0.5``; the paper states
  neither the size nor the schedule for MNIST).  Its paper values are those
  of the Fig. 7d VDL-NL model, whose λ the paper does not state.

and prints, on the 10k test set, for the encoder's codes:

* the fraction of exact zeros and the PSNR of the reconstruction, computed
  after undoing the normalisation on the [0, 1] pixel scale (mean of per-image
  PSNRs, as the paper's "average PSNR"; the global-MSE PSNR beside it);
* denoising (Table 1): Gaussian noise of std σ = 1, 1.5 added in the
  normalised space, PSNR of the noisy input and of its reconstruction against
  the clean image, and the codes' sparsity;
* low-label classification (Fig. 9): a ``Pipeline`` of the frozen learner and
  a logistic regression with 1, 5, 10, 100 labels per class (mean over draws),
  against the same classifier on raw (normalised) pixels.  The paper picks,
  for each label count, the best of its λ sweep by validation accuracy; here
  each model is the one trained above.

It ends with one machine-readable line per claimed number and per ordering
claim, for example (a line of the ``--quick`` run)::

    REPRO paper=002 row="VDL zeros % sigma=1.5" paper_value=84.5 ours=67.22 tol=0.02 miss

where ``ok`` means ``|ours − paper| ≤ tol·|paper|`` (orderings: ``true`` or
``false``, ``ok`` when ours holds as the paper's does).  Tolerances, relative:
sparsity 0.02 (about ±1.8 points; the paper's spread over 5 seeds is 0.1–0.3
points), reconstruction PSNR 0.05 (about ±0.9 dB at 17.7 dB and ±0.6 dB at
12.2 dB; the paper's spread is 0.02–0.3 dB, and one seed of another
implementation cannot be held to it), noisy-input PSNR 0.01 (it depends on
the data and σ only, a check of the protocol).

Budgets (one torch thread on the shared 2-core CPU):
  default   the paper's: 200 epochs for every model, keeping the epoch with the
            lowest validation energy (measured: about 21–68 s an epoch for SDL,
            17–42 s for VDL, and about twice the 512-unit VDL-NL's 114 s for
            VDL-NL, so some 20 hours on this CPU; use ``--device cuda``);
  --quick   10k training images, 3 epochs each, 3 draws in Fig. 9 (under 15
            minutes; far from converged, so most rows miss — it checks that
            the protocol runs end to end);
  --epochs N overrides the epochs of all three.

``--vdl-nl-at-vdl-lambda`` trains the earlier VDL-NL instead (λ=0.02, 512
hidden units, constant learning rate), to compare the non-linear decoder
with VDL at equal λ; it is not the paper's model and its VDL-NL rows are
compared with nothing.

Run from the repository root::

    python benchmarks/reproduce_vdl_mnist.py --quick
"""

import argparse
import json
import os
import pickle
import time

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from skvsc import VarianceRegDictLearner
from skvsc.metrics import psnr

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist.npz")
OUTPUT = os.path.join(os.path.dirname(__file__), "output")

# Paper 002, Table 3 (MNIST) hyper-parameters, λ from Table 1; VDL-NL as in the
# authors' scripts/MNIST_VDL-NL.sh (Table 3 lists λ from 0 to 0.02 for it).
MODELS = {
    "SDL": {"variance_reg": False, "lam": 0.005, "gamma": 1.0, "code_step": 1.0,
                "learning_rate": 1e-3, "encoder_learning_rate": 3e-4},
    "VDL": {"variance_reg": True, "lam": 0.02, "beta": 10.0, "gamma": 5.0, "var_threshold": 0.5,
                "code_step": 0.5, "learning_rate": 3e-4, "encoder_learning_rate": 1e-4},
    "VDL-NL": {"variance_reg": True, "decoder": "mlp", "hidden_size": 1024, "lam": 0.01, "beta": 10.0,
                   "gamma": 100.0, "var_threshold": 0.5, "code_step": 0.5, "learning_rate": 3e-4,
                   "learning_rate_decay": 0.5, "learning_rate_decay_every": 30,
                   "encoder_learning_rate": 1e-4, "decoder_bias_decay": 1e-3},
}
#: The earlier VDL-NL (``--vdl-nl-at-vdl-lambda``): VDL's λ, 512 units, no schedule.
VDL_NL_AT_VDL_LAMBDA = {**MODELS["VDL-NL"], "lam": 0.02, "hidden_size": 512,
                        "learning_rate_decay": 1.0}
PAPER_EPOCHS = 200
PAPER = {  # Table 1: L0(z), PSNR ŷ; σ=1: PSNR y_σ, L0, PSNR ŷ_σ; σ=1.5: same
    "SDL": (89.7, 17.3, (10.2, 87.3, 16.9), (6.7, 84.6, 15.7)),
    "VDL": (91.8, 17.7, (10.2, 88.1, 15.4), (6.7, 84.5, 12.2)),
}
PAPER_FIG7D = {"VDL-NL": (92.2, 18.3)}  # zeros %, PSNR ŷ of the Fig. 7d VDL-NL model
TOL = {"zeros": 0.02, "psnr": 0.05, "psnr_noisy": 0.01}


def load(quick, seed):
    data = np.load(DATA)
    x_train = data["x_train"].reshape(-1, 784).astype(np.float64) / 255.0
    x_test = data["x_test"].reshape(-1, 784).astype(np.float64) / 255.0
    mean, std = x_train.mean(), x_train.std()

    def normalise(x):
        return ((x - mean) / std).astype(np.float32)

    y_train, y_test = data["y_train"].astype(int), data["y_test"].astype(int)
    if quick:
        keep = np.random.default_rng(seed).permutation(len(x_train))[:10000]
        x_train, y_train = x_train[keep], y_train[keep]
    return normalise(x_train), y_train, normalise(x_test), y_test, mean, std


def per_image_psnr(clean01, recon01):
    mse = ((clean01 - recon01) ** 2).mean(axis=1)
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12))))


def evaluate(model, X_test, mean, std, rng):
    def undo(x):
        return x.astype(np.float64) * std + mean

    clean = undo(X_test)
    Z = model.transform(X_test)
    rec = undo(model.inverse_transform(Z))
    row = {
        "zeros": 100 * float((Z == 0).mean()),
        "psnr": per_image_psnr(clean, rec),
        "psnr_global": psnr(clean, rec, data_range=1.0),
        "dead": int(((Z != 0).sum(axis=0) == 0).sum()),
    }
    for sigma in (1.0, 1.5):
        noisy = (X_test + sigma * rng.standard_normal(X_test.shape)).astype(np.float32)
        Zs = model.transform(noisy)
        row[f"sigma{sigma}"] = {
            "psnr_noisy": per_image_psnr(clean, undo(noisy)),
            "zeros": 100 * float((Zs == 0).mean()),
            "psnr": per_image_psnr(clean, undo(model.inverse_transform(Zs))),
        }
    return row


def low_label(models, X_train, y_train, X_test, y_test, shots, n_draws, seed):
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y_train == c) for c in range(10)]
    results = {name: {} for name in ["raw pixels", *models]}
    for k in shots:
        scores = {name: [] for name in results}
        for _ in range(n_draws):
            index = np.concatenate([rng.choice(ids, k, replace=False) for ids in by_class])
            for name in results:
                clf = LogisticRegression(max_iter=2000)
                if name == "raw pixels":
                    estimator = clf
                else:
                    estimator = Pipeline([("sc", FrozenEstimator(models[name])), ("clf", clf)])
                estimator.fit(X_train[index], y_train[index])
                scores[name].append(estimator.score(X_test, y_test))
        for name, by_k in results.items():
            by_k[k] = 100 * float(np.mean(scores[name]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k images, 3 epochs")
    parser.add_argument("--epochs", type=int, default=None, help="epochs for every model")
    parser.add_argument("--models", default="SDL,VDL,VDL-NL")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest on a shared CPU)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vdl-nl-at-vdl-lambda", action="store_true",
                        help="the earlier VDL-NL (λ=0.02, 512 units, no schedule), to "
                             "compare with VDL at equal λ; not the paper's model")
    args = parser.parse_args()
    settings = dict(MODELS)
    if args.vdl_nl_at_vdl_lambda:
        settings["VDL-NL"] = VDL_NL_AT_VDL_LAMBDA
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    os.makedirs(OUTPUT, exist_ok=True)

    X_train, y_train, X_test, y_test, mean, std = load(args.quick, args.seed)
    names = args.models.split(",")
    print(f"MNIST: {len(X_train)} training images (of which 1/12 held out for early "
          f"stopping), {len(X_test)} test; l=128")
    models, rows = {}, {}
    for name in names:
        epochs = args.epochs or (3 if args.quick else PAPER_EPOCHS)
        model = VarianceRegDictLearner(
            n_components=128, batch_size=250, max_epochs=epochs,
            validation_fraction=5000 / 60000, n_iter_no_change=epochs,
            device=args.device, random_state=args.seed, **settings[name])
        start = time.perf_counter()
        model.fit(X_train)
        elapsed = time.perf_counter() - start
        best = int(np.argmin(model.history_["validation_loss"])) + 1
        print(f"{name}: {model.n_iter_} epochs in {elapsed:.0f} s (best epoch {best}, "
              f"val energy {min(model.history_['validation_loss']):.4f}, "
              f"last FISTA iterations {model.code_n_iter_})", flush=True)
        models[name] = model
        tag = "quick" if args.quick else f"full{'' if args.epochs is None else args.epochs}"
        with open(os.path.join(OUTPUT, f"vdl_mnist_{name}_{tag}.pkl"), "wb") as f:
            pickle.dump(model, f)
        rows[name] = evaluate(model, X_test, mean, std, np.random.default_rng(args.seed))
        rows[name].update(epochs=model.n_iter_, seconds=elapsed, best_epoch=best)
        _save_atoms(model, name, args.quick)

    print("\nTable 1 (test set, encoder codes; paper values in brackets)")
    header = (f"{'model':7} {'λ':>6} {'zeros %':>14} {'PSNR ŷ':>13} {'σ':>4} "
              f"{'PSNR y_σ':>13} {'zeros_σ %':>14} {'PSNR ŷ_σ':>13}")
    print(header)
    def ref(paper, j, k=None):
        return "" if paper is None else f"[{paper[j] if k is None else paper[j][k]}]"

    for name in names:
        r, p = rows[name], PAPER.get(name)
        for i, sigma in enumerate((1.0, 1.5)):
            s = r[f"sigma{sigma}"]
            print(f"{name:7} {settings[name]['lam']:>6} {r['zeros']:>6.1f} {ref(p, 0):>7} "
                  f"{r['psnr']:>5.1f} {ref(p, 1):>7} {sigma:>4} "
                  f"{s['psnr_noisy']:>5.1f} {ref(p, 2 + i, 0):>7} {s['zeros']:>6.1f} "
                  f"{ref(p, 2 + i, 1):>7} {s['psnr']:>5.1f} {ref(p, 2 + i, 2):>7}")
    print("(global-MSE PSNR ŷ: " + ", ".join(
        f"{n} {rows[n]['psnr_global']:.1f}" for n in names) + "; dead code units: " +
        ", ".join(f"{n} {rows[n]['dead']}" for n in names) + ")")

    shots = (1, 5, 10, 100)
    n_draws = 3 if args.quick else 5
    acc = low_label(models, X_train, y_train, X_test, y_test, shots, n_draws, args.seed)
    print(f"\nFig. 9: test accuracy % of a logistic regression, labels per class "
          f"(mean of {n_draws} draws)")
    print(f"{'features':12}" + "".join(f"{k:>8}" for k in shots))
    for name, by_k in acc.items():
        print(f"{name:12}" + "".join(f"{by_k[k]:>8.1f}" for k in shots))

    tag = "quick" if args.quick else f"full{'' if args.epochs is None else args.epochs}"
    with open(os.path.join(OUTPUT, f"vdl_mnist_{tag}.json"), "w") as f:
        json.dump({"table1": rows, "fig9": acc, "args": vars(args)}, f, indent=1)

    print()
    paper_vdl_nl = not args.vdl_nl_at_vdl_lambda
    for line in repro_lines(rows, acc, shots, paper_vdl_nl):
        print(line)


def _repro(row, paper_value, ours, tol):
    ok = abs(ours - paper_value) <= tol * abs(paper_value)
    return (f'REPRO paper=002 row="{row}" paper_value={paper_value:g} ours={ours:.2f} '
            f"tol={tol:.2f} {'ok' if ok else 'miss'}")


def _repro_order(row, holds):
    """An ordering claim of the paper (it holds there): ok when it holds here."""
    return (f'REPRO paper=002 row="{row}" paper_value=true ours={str(holds).lower()} '
            f"tol=0 {'ok' if holds else 'miss'}")


def repro_lines(rows, acc, shots, paper_vdl_nl):
    """The REPRO lines of every claimed number and ordering of the models run."""
    lines = []
    for name, paper in PAPER.items():
        if name not in rows:
            continue
        r = rows[name]
        lines.append(_repro(f"{name} zeros %", paper[0], r["zeros"], TOL["zeros"]))
        lines.append(_repro(f"{name} PSNR", paper[1], r["psnr"], TOL["psnr"]))
        for sigma, (psnr_noisy, zeros, psnr_denoised) in zip((1.0, 1.5), paper[2:]):
            s = r[f"sigma{sigma}"]
            lines.append(_repro(f"{name} noisy-input PSNR sigma={sigma:g}", psnr_noisy,
                                s["psnr_noisy"], TOL["psnr_noisy"]))
            lines.append(_repro(f"{name} zeros % sigma={sigma:g}", zeros, s["zeros"],
                                TOL["zeros"]))
            lines.append(_repro(f"{name} PSNR sigma={sigma:g}", psnr_denoised, s["psnr"],
                                TOL["psnr"]))
            # Table 1's claim: the reconstruction is less noisy than the input.
            lines.append(_repro_order(f"{name} denoises: PSNR sigma={sigma:g} > noisy input",
                                      s["psnr"] > s["psnr_noisy"]))
    if paper_vdl_nl and "VDL-NL" in rows:
        zeros, psnr_paper = PAPER_FIG7D["VDL-NL"]
        lines.append(_repro("VDL-NL zeros % (Fig. 7d)", zeros, rows["VDL-NL"]["zeros"],
                            TOL["zeros"]))
        lines.append(_repro("VDL-NL PSNR (Fig. 7d)", psnr_paper, rows["VDL-NL"]["psnr"],
                            TOL["psnr"]))
    # Fig. 9: every encoder's codes beat raw pixels; VDL-NL beats the others up
    # to 10 labels per class.
    learned = [name for name in acc if name != "raw pixels"]
    for k in shots:
        for name in learned:
            lines.append(_repro_order(f"Fig. 9 {name} > raw pixels, {k} labels/class",
                                      acc[name][k] > acc["raw pixels"][k]))
    others = [name for name in learned if name != "VDL-NL"]
    if paper_vdl_nl and "VDL-NL" in acc and others:
        for k in (k for k in shots if k <= 10):
            lines.append(_repro_order(
                f"Fig. 9 VDL-NL > {', '.join(others)}, {k} labels/class",
                all(acc["VDL-NL"][k] > acc[name][k] for name in others)))
    return lines


def _save_atoms(model, name, quick):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    atoms = model.components_[:64].reshape(-1, 28, 28)
    fig, axes = plt.subplots(8, 8, figsize=(6, 6))
    for ax, atom in zip(axes.ravel(), atoms):
        ax.imshow(atom, cmap="gray")
        ax.axis("off")
    fig.suptitle(f"{name} atoms")
    fig.savefig(os.path.join(OUTPUT, f"vdl_atoms_{name}{'_quick' if quick else ''}.png"))
    plt.close(fig)


if __name__ == "__main__":
    main()
