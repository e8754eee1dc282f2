"""How long OpenMP threads spin before sleeping, and what it costs skvsc.

libgomp (PyTorch's OpenMP runtime on Linux) keeps an idle worker thread
spinning for ``GOMP_SPINCOUNT`` iterations (300,000 by default, when it has no
more threads than CPUs) before it sleeps.  skvsc's models run many small
kernels back to back, so the choice matters — and it belongs to the user, not
to a library import.  This script measures it: every cell is a fresh Python
process (the variable is read when torch loads) running

- ``transform``: ``SparseCoder.transform`` of 10,000 whitened 8×8 patches of
  natural images (FISTA, tol 1e-4, a dictionary of 128 atoms fitted
  beforehand), and
- ``fit``: 3 epochs of ``VarianceRegDictLearner`` on the 1,797 digits,

at 1 thread and at every core (``torch.set_num_threads``), on an idle machine
and beside one busy process per core minus one ("contended": a CPU-bound
Python loop), with libgomp's default, ``GOMP_SPINCOUNT=3000`` and
``OMP_WAIT_POLICY=PASSIVE``.  It prints one table of median wall times over
``--repeats`` runs and the ratio of each setting to the default.

Run: ``python benchmarks/bench_omp_wait.py`` (a few minutes; run it alone).
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys

SETTINGS = {
    "libgomp default": {},
    "GOMP_SPINCOUNT=3000": {"GOMP_SPINCOUNT": "3000"},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
}

WORKLOAD = r"""
import json, sys, time, warnings
import numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
warnings.simplefilter("ignore")
from sklearn.datasets import load_digits
from skvsc import SparseCoder, VarianceRegDictLearner
from skvsc.datasets import load_natural_patches
patches = load_natural_patches(n_patches=10_000, random_state=0).astype(np.float32)
coder = SparseCoder(n_components=128, lam=0.1, max_epochs=1, device="cpu",
                    random_state=0).fit(patches[:2000])
coder.transform(patches[:500])
start = time.perf_counter(); coder.transform(patches); transform = time.perf_counter() - start
digits = load_digits().data / 16.0
start = time.perf_counter()
VarianceRegDictLearner(n_components=64, max_epochs=3, device="cpu", random_state=0).fit(digits)
fit = time.perf_counter() - start
print(json.dumps({"transform": transform, "fit": fit}))
"""


def busy():
    while True:
        pass


def run(threads, setting, environment):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env.update(environment)
    output = subprocess.run([sys.executable, "-c", WORKLOAD, str(threads)], env=env,
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count()
    print(f"{cores} cores; median of {args.repeats} runs per cell; seconds\n")
    print(f"{'load':<11}{'threads':>8}  {'setting':<26}{'transform':>10}{'fit':>8}"
          f"{'vs default':>16}")
    for load in ("idle", "contended"):
        hogs = []
        if load == "contended":
            hogs = [multiprocessing.Process(target=busy, daemon=True)
                    for _ in range(max(cores - 1, 1))]
            for hog in hogs:
                hog.start()
        try:
            for threads in sorted({1, cores}):
                baseline = None
                for setting, environment in SETTINGS.items():
                    runs = [run(threads, setting, environment) for _ in range(args.repeats)]
                    times = {key: statistics.median(r[key] for r in runs)
                             for key in ("transform", "fit")}
                    baseline = baseline or times
                    ratio = " ".join(f"{times[k] / baseline[k]:.2f}" for k in times)
                    print(f"{load:<11}{threads:>8}  {setting:<26}{times['transform']:>10.2f}"
                          f"{times['fit']:>8.2f}{ratio:>16}", flush=True)
        finally:
            for hog in hogs:
                hog.terminate()


if __name__ == "__main__":
    main()
