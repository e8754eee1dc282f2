"""Encoding on real, ill-conditioned learned dictionaries (issue 14).

One table: for each dictionary, every method at several tolerance settings,
its time (best of ``--rounds`` interleaved rounds) and its relative gap to the
exact optimum, ``E(z)/E(z*) − 1`` per sample (mean and max), where ``E(z*)``
is, per sample, the lowest energy any run found (SPAMS' LARS, exact, and the
polished skvsc codes, both evaluated in float64).  Then the fastest setting of
each method reaching a mean gap of 1e-4 and 1e-6, with ratios to SPAMS and to
scikit-learn's fastest (for skvsc, the faster of ``sparse_encode``'s two
algorithms: FISTA with its active-set polish, and the batched LARS homotopy),
checked against the targets of issue 14 (skvsc ≥ 1×
SPAMS at 1e-4 and ≥ 0.5× at 1e-6 on MNIST, ≥ 2× SPAMS on whitened patches,
never slower than scikit-learn).

Dictionaries: (a) 784 atoms learned by ``SparseCoder(n_components=784,
lam=0.1, max_epochs=3, random_state=0)`` on the first 10,000 MNIST training
images / 255, encoding test images at λ = 0.1; (b) 256 atoms learned the same
way (10 epochs) on the 8×8 digits / 16, λ = 0.1; (c) the whitened-patch
dictionary of ``bench_sparse_coding.py`` (256 atoms, λ for 10% non-zeros).
Learned dictionaries are cached under ``$SKVSC_BENCH_CACHE`` (default
``/tmp/skvsc_bench_cache``).  Everything runs with 2 threads.

Run ``python benchmarks/bench_encode_real.py`` or ``--quick``.
"""

import argparse
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import sparse_encode as sk_sparse_encode
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skvsc import SparseCoder, sparse_encode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_sparse_coding as patches_bench  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CACHE = Path(os.environ.get("SKVSC_BENCH_CACHE", "/tmp/skvsc_bench_cache"))
TARGETS = (1e-4, 1e-6)


def cached(name, make):
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.npy"
    if path.exists():
        return np.load(path)
    start = time.perf_counter()
    array = make()
    np.save(path, array)
    print(f"  learned {name} in {time.perf_counter() - start:.0f} s (cached at {path})")
    return array


def mnist(n_encode):
    data = np.load(DATA / "mnist.npz")
    X_train = data["x_train"][:10000].reshape(10000, -1) / 255.0
    D = cached("mnist_784", lambda: SparseCoder(
        n_components=784, lam=0.1, max_epochs=3, device="cpu",
        random_state=0).fit(X_train).components_)
    X = data["x_test"][:n_encode].reshape(n_encode, -1) / 255.0
    return "MNIST 784 atoms", X, D.astype(np.float64), 0.1


def digits(n_encode):
    X_all = load_digits().data / 16.0
    D = cached("digits_256", lambda: SparseCoder(
        n_components=256, lam=0.1, max_epochs=10, device="cpu",
        random_state=0).fit(X_all).components_)
    return "8x8 digits 256 atoms", X_all[:n_encode], D.astype(np.float64), 0.1


def whitened(n_encode):
    images = np.load(DATA / "olshausen_images.npz")["images"]
    rng = np.random.default_rng(0)
    X_train = patches_bench.load_patches(20000, images[:, :, :8], rng)
    X = patches_bench.load_patches(n_encode, images[:, :, :8], rng)
    D = cached("whitened_256", lambda: SparseCoder(
        256, lam=0.27, batch_size=256, max_epochs=1, device="cpu",
        random_state=0).fit(X_train).components_).astype(np.float64)
    lam = patches_bench.calibrate_lambda(X_train[-2000:], D)
    return "whitened patches 256", X, D, lam


def energies(X, Z, D, lam):
    Z = np.asarray(Z, dtype=np.float64)
    R = X - Z @ D
    return 0.5 * np.einsum("ij,ij->i", R, R) + lam * np.abs(Z).sum(axis=1)


def methods(X, D, lam, threads, quick):
    import spams

    Xf, Df = np.asfortranarray(X.T), np.asfortranarray(D.T)
    out = [("SPAMS lasso", "exact (LARS)",
            lambda: spams.lasso(Xf, D=Df, lambda1=lam, mode=2,
                                numThreads=threads).toarray().T)]
    for max_iter in ((30, 300) if quick else (30, 100, 300, 1000)):
        out.append(("sklearn lasso_cd", f"max_iter={max_iter}",
                    lambda m=max_iter: sk_sparse_encode(X, D, algorithm="lasso_cd", alpha=lam,
                                                        max_iter=m, n_jobs=threads)))
    out.append(("sklearn lasso_lars", "default",
                lambda: sk_sparse_encode(X, D, algorithm="lasso_lars", alpha=lam,
                                         n_jobs=threads)))
    for tol in ((1e-2, 1e-4) if quick else (1e-2, 1e-3, 1e-4, 1e-5)):
        out.append(("skvsc polish", f"tol={tol:g}",
                    lambda t=tol: sparse_encode(X, D, lam=lam, tol=t, max_iter=5000,
                                                device="cpu")))
    out.append(("skvsc lars", "tol=1e-4",
                lambda: sparse_encode(X, D, lam=lam, tol=1e-4, max_iter=5000, device="cpu",
                                      algorithm="lars")))
    for tol in ((1e-2,) if quick else (1e-2, 1e-3, 1e-4)):
        out.append(("skvsc FISTA only", f"tol={tol:g}",
                    lambda t=tol: fista_only(X, D, lam, t)))
    return out


def fista_only(X, D, lam, tol, max_iter=5000):
    """The pure-FISTA path (polish off), through the same float32 pipeline."""
    from skvsc.solvers import fista, lipschitz_constant

    D_t = torch.as_tensor(D, dtype=torch.float32)
    X_t = torch.as_tensor(X, dtype=torch.float32)
    gram = D_t @ D_t.T
    Z, _ = fista(gram, X_t @ D_t.T, lam, lipschitz=lipschitz_constant(gram), max_iter=max_iter,
                 tol=tol, sq_norms=X_t.pow(2).sum(1), polish=False)
    return Z.numpy()


def run_dictionary(name, X, D, lam, threads, rounds, quick):
    settings = methods(X, D, lam, threads, quick)
    seconds = [math.inf] * len(settings)
    codes = [None] * len(settings)
    for round_ in range(rounds):
        for i, (_, _, function) in enumerate(settings):
            if round_ and seconds[i] > 20:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                Z = function()
                seconds[i] = min(seconds[i], time.perf_counter() - start)
            codes[i] = np.asarray(Z)
    E = np.array([energies(X, Z, D, lam) for Z in codes])
    best = E.min(axis=0)
    gaps = E / best - 1
    nnz = float((codes[0] != 0).sum(1).mean())
    print(f"\n{name}: {len(X)} samples, {D.shape[0]} atoms x {D.shape[1]} features, "
          f"λ={lam:.4g}, {nnz:.1f} non-zeros per exact code, load average "
          f"{os.getloadavg()[0]:.1f}")
    header = f"  {'method':<20} {'setting':<14} {'time [s]':>9} {'mean gap':>9} {'max gap':>9}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for (method, setting, _), t, g in zip(settings, seconds, gaps):
        print(f"  {method:<20} {setting:<14} {t:9.3f} {g.mean():9.1e} {g.max():9.1e}")
    results = {}
    for target in TARGETS:
        fastest = {}
        for (method, setting, _), t, g in zip(settings, seconds, gaps):
            family = ("sklearn" if method.startswith("sklearn")
                      else "skvsc" if method in ("skvsc polish", "skvsc lars") else method)
            if g.mean() <= target and (family not in fastest or t < fastest[family][1]):
                fastest[family] = (f"{method} {setting}", t)
        results[target] = fastest
        ours = fastest.get("skvsc")
        line = f"  mean gap ≤ {target:g}: " + ", ".join(
            f"{v[0]} {v[1]:.3f}s" for v in fastest.values())
        print(line)
        if ours:
            for ref in ("SPAMS lasso", "sklearn"):
                if ref in fastest:
                    print(f"    skvsc vs {ref:<12} {fastest[ref][1] / ours[1]:6.2f}x")
    return results


def check_targets(all_results):
    print("\nTargets (issue 14):")
    checks = []
    for name, results in all_results.items():
        for target in TARGETS:
            fastest = results[target]
            ours = fastest.get("skvsc")
            ratio = lambda ref: (fastest[ref][1] / ours[1]  # noqa: E731
                                 if ours and ref in fastest else float("nan"))
            if name.startswith("MNIST"):
                goal = 1.0 if target == 1e-4 else 0.5
                checks.append((f"{name}, gap {target:g}: vs SPAMS ≥ {goal:g}x",
                               ratio("SPAMS lasso"), goal))
            if name.startswith("whitened") and target == 1e-4:
                checks.append((f"{name}, gap {target:g}: vs SPAMS ≥ 2x", ratio("SPAMS lasso"), 2))
            checks.append((f"{name}, gap {target:g}: vs sklearn ≥ 1x", ratio("sklearn"), 1))
    for label, value, goal in checks:
        status = "met" if value >= goal else ("n/a" if math.isnan(value) else "MISSED")
        print(f"  {label:<58} {value:6.2f}x  {status}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and settings")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, load average "
          f"{os.getloadavg()[0]:.1f}")
    all_results = {}
    with threadpool_limits(args.threads):
        for make, n in ((mnist, 1000 if args.quick else 3000),
                        (digits, 1797), (whitened, 2000 if args.quick else 10000)):
            name, X, D, lam = make(n)
            # Warm-ups: torch's first call, joblib's workers, SPAMS' first call.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                for _, _, function in methods(X[:32], D, lam, args.threads, True)[:2]:
                    function()
            all_results[name] = run_dictionary(name, X, D, lam, args.threads, rounds,
                                               args.quick)
    check_targets(all_results)


if __name__ == "__main__":
    main()
