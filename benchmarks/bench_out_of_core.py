"""Peak memory of one training epoch on a memory-mapped array vs in memory.

``fit`` streams mini-batches from a ``np.memmap`` / ``np.load(mmap_mode="r")``
array instead of converting it to one tensor.  This script writes a float32
array of ``--rows`` × 64 (4,194,304 rows = 1 GiB by default) to a temporary
file, then for each estimator fits one epoch

- on the memory-mapped file (streamed), and
- on the same data loaded into memory (the file read into an ndarray first),

and prints one table: wall time, the peak rise of the process's *anonymous*
memory during ``fit`` (``RssAnon`` sampled every 2 ms; the file's pages in the
page cache are ``RssFile`` and do not count), that rise as a fraction of the
data size, and whether the two fits learned bit-identical weights.

Run: ``python benchmarks/bench_out_of_core.py`` (about 5 minutes on 2 cores;
``--rows 1048576`` for a quicker look).
"""

import argparse
import os
import tempfile
import threading
import time
import warnings

import numpy as np

from skvsc import SVAE, SparseCoder


def anonymous_memory():
    """The process's resident anonymous memory, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("RssAnon not found in /proc/self/status")


def peak_rise(function):
    """Run ``function``; return its result, its wall time and the peak rise of
    anonymous memory above the level when it started."""
    baseline = anonymous_memory()
    peak, done = [baseline], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], anonymous_memory())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    try:
        result = function()
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
    return result, elapsed, max(peak[0], anonymous_memory()) - baseline


ESTIMATORS = {
    "SparseCoder": lambda: SparseCoder(n_components=64, lam=0.1, batch_size=256, max_epochs=1,
                                       device="cpu", random_state=0),
    "SVAE (linear encoder)": lambda: SVAE(n_components=64, encoder="linear", batch_size=1024,
                                          max_epochs=1, validation_fraction=0.1,
                                          device="cpu", random_state=0),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4 * 2**20)
    args = parser.parse_args()
    n_features = 64
    warnings.simplefilter("ignore")  # one epoch: ConvergenceWarning is expected

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "X.npy")
        rng = np.random.default_rng(0)
        X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                      shape=(args.rows, n_features))
        for start in range(0, args.rows, 2**18):
            stop = min(start + 2**18, args.rows)
            X[start:stop] = rng.standard_normal((stop - start, n_features), dtype=np.float32)
        X.flush()
        del X
        size = args.rows * n_features * 4
        print(f"data: {args.rows:,} x {n_features} float32 = {size / 2**30:.2f} GiB\n")
        print(f"{'estimator':<24}{'input':<12}{'time':>9}{'peak anon rise':>17}"
              f"{'/ data':>8}{'same weights':>14}")
        for name, make in ESTIMATORS.items():
            mapped = np.load(path, mmap_mode="r")
            streamed, t_map, rise_map = peak_rise(lambda: make().fit(mapped))
            in_memory = np.load(path)  # read before measuring: the data itself is not counted
            loaded, t_mem, rise_mem = peak_rise(lambda data=in_memory: make().fit(data))
            same = all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(
                streamed.module_.state_dict().values(), loaded.module_.state_dict().values()))
            del in_memory, loaded
            for label, elapsed, rise in (("memmap", t_map, rise_map),
                                         ("in memory", t_mem, rise_mem)):
                print(f"{name:<24}{label:<12}{elapsed:>8.1f}s{rise / 2**20:>13.0f} MiB"
                      f"{rise / size:>8.1%}{str(same) if label == 'memmap' else '':>14}")


if __name__ == "__main__":
    main()
