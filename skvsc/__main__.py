"""Command line: ``python -m skvsc demo`` runs the main job end to end.

The demo fits every skvsc estimator on two data sets that ship with
scikit-learn — the 8 × 8 handwritten digits and 8 × 8 whitened patches of the
bundled photographs — and prints one table: fit time, reconstruction PSNR and
fraction of exact zeros of the codes on a held-out split, and (digits) the
test accuracy of a logistic regression on the codes, beside the same
classifier on raw pixels.  Estimators are looked up in :mod:`skvsc` by name
at run time, so the table grows as models are added; their settings are the
single :data:`DEMO_SETTINGS` dictionary.
"""

import argparse
import sys
import time
import traceback
import warnings

from sklearn.exceptions import ConvergenceWarning

__all__ = ["DEMO_SETTINGS", "run_demo", "format_table", "main"]

#: Demo settings of each estimator, per data set.  Every entry is passed to the
#: constructor (keys the estimator does not have are skipped with a notice);
#: ``device`` and ``random_state`` come from the command line.  Each model is
#: budgeted about 15 s in total on a 2-core CPU.
DEMO_SETTINGS = {
    "SparseCoder": {
        "digits": dict(n_components=64, lam=0.1, max_epochs=10),
        "patches": dict(n_components=128, lam=0.1, max_epochs=3),
    },
    "SVAE": {
        "digits": dict(n_components=64, max_epochs=40, batch_size=128,
                       validation_fraction=0.0),
        "patches": dict(n_components=128, max_epochs=8, batch_size=128,
                        validation_fraction=0.0),
    },
    "VariationalSparseCoder": {
        "digits": dict(n_components=64, max_epochs=40, batch_size=128,
                       validation_fraction=0.0),
        "patches": dict(n_components=128, max_epochs=10, batch_size=128,
                        validation_fraction=0.0),
    },
    "VarianceRegDictLearner": {
        "digits": dict(n_components=64, max_epochs=20, learning_rate=3e-3,
                       encoder_learning_rate=1e-3, code_max_iter=50,
                       validation_fraction=0.0),
        "patches": dict(n_components=128, max_epochs=3, learning_rate=3e-3,
                        encoder_learning_rate=1e-3, code_max_iter=50,
                        validation_fraction=0.0),
    },
}

#: Overrides applied to every estimator with ``--quick`` (used by the tests).
QUICK_SETTINGS = dict(max_epochs=1)

#: Table columns, in order.
COLUMNS = ("model", "data", "fit s", "cpu s", "PSNR dB", "zeros", "accuracy")

_N_PATCHES = {False: (10000, 2000), True: (600, 200)}  # (train, test)


def _say(message, stream):
    print(message, file=stream, flush=True)


def _load_data(quick, seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from .datasets import load_natural_patches

    digits = load_digits()
    X = digits.data / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=0.25, stratify=digits.target, random_state=seed
    )
    if quick:
        X_train, y_train = X_train[:400], y_train[:400]
    n_train, n_test = _N_PATCHES[quick]
    patches = load_natural_patches(8, n_train + n_test, random_state=seed)
    return {
        "digits": (X_train, y_train, X_test, y_test),
        "patches": (patches[:n_train], None, patches[n_train:], None),
    }


def _build(cls, settings, device, seed, quick, stream):
    params = dict(settings)
    if quick:
        params.update(QUICK_SETTINGS)
    params.update(device=device, random_state=seed)
    known = cls().get_params()
    unknown = sorted(set(params) - set(known))
    if unknown:
        _say(f"  ({cls.__name__} has no parameter {', '.join(unknown)}: skipped)", stream)
    return cls(**{k: v for k, v in params.items() if k in known})


def _accuracy(model, X_train, y_train, X_test, y_test):
    """Test accuracy of a logistic regression on the (frozen) model's codes."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [] if model is None else [("codes", FrozenEstimator(model))]
    steps += [("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=2000))]
    return Pipeline(steps).fit(X_train, y_train).score(X_test, y_test)


def run_demo(*, quick=False, device="auto", seed=0, models=None, threads=1,
             stream=None):
    """Fit every available estimator on digits and natural patches.

    Parameters
    ----------
    quick : bool, default=False
        Tiny budget (one epoch, small data sets): a smoke test, not a result.
    device : str, default="auto"
        Passed to every estimator.
    seed : int, default=0
        Seeds the data splits, the patches and every estimator.
    models : list of str, default=None
        Names of estimators to run (keys of :data:`DEMO_SETTINGS`); all when None.
    threads : int or None, default=1
        ``torch.set_num_threads`` during the demo (restored afterwards); None
        keeps torch's default.  The demo's models are small, and on a busy or
        small CPU, synchronising several threads costs more than it saves.
    stream : file-like, default=sys.stderr
        Where progress lines go.

    Returns
    -------
    list of dict
        One row per (model, data set) with the keys of :data:`COLUMNS`, plus
        ``"error"`` (None, or the message of a failed fit).
    """
    import torch

    import skvsc
    from .metrics import fraction_zeros, psnr

    stream = sys.stderr if stream is None else stream
    names = list(DEMO_SETTINGS) if models is None else list(models)
    unknown = [name for name in names if name not in DEMO_SETTINGS]
    if unknown:
        raise ValueError(
            f"unknown model(s) {unknown}; choose among {list(DEMO_SETTINGS)}."
        )
    available = [n for n in names if getattr(skvsc, n, None) is not None]
    missing = [n for n in names if n not in available]
    if missing:
        _say(f"not in this version of skvsc (skipped): {', '.join(missing)}", stream)

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        start, start_cpu = time.perf_counter(), time.process_time()
        _say("loading digits and whitened natural-image patches ...", stream)
        data = _load_data(quick, seed)
        rows = []

        X_train, y_train, X_test, y_test = data["digits"]
        tic, cpu = time.perf_counter(), time.process_time()
        accuracy = _accuracy(None, X_train, y_train, X_test, y_test)
        rows.append({
            "model": "raw pixels", "data": "digits",
            "fit s": time.perf_counter() - tic,
            "cpu s": time.process_time() - cpu, "PSNR dB": None,
            "zeros": fraction_zeros(X_test), "accuracy": accuracy, "error": None,
        })

        for name in available:
            cls = getattr(skvsc, name)
            for dataset, settings in DEMO_SETTINGS[name].items():
                X_train, y_train, X_test, y_test = data[dataset]
                row = {"model": name, "data": dataset, "fit s": None,
                       "cpu s": None, "PSNR dB": None, "zeros": None, "accuracy": None,
                       "error": None}
                _say(f"[{time.perf_counter() - start:6.1f}s] fitting {name} on "
                     f"{dataset} {X_train.shape} ...", stream)
                try:
                    model = _build(cls, settings, device, seed, quick, stream)
                    tic, cpu = time.perf_counter(), time.process_time()
                    with warnings.catch_warnings(record=True) as caught:
                        # The demo's budgets are short on purpose: one word in
                        # its log line instead of a warning per fit.
                        warnings.simplefilter("always", ConvergenceWarning)
                        model.fit(X_train)
                    still_improving = False
                    for warning in caught:
                        if "max_epochs" in str(warning.message):
                            still_improving = True
                        else:  # anything else is news: pass it on
                            warnings.warn_explicit(warning.message, warning.category,
                                                   warning.filename, warning.lineno)
                    row["fit s"] = time.perf_counter() - tic
                    row["cpu s"] = time.process_time() - cpu
                    codes = model.transform(X_test)
                    row["PSNR dB"] = psnr(X_test, model.inverse_transform(codes))
                    row["zeros"] = fraction_zeros(codes)
                    if y_train is not None:
                        row["accuracy"] = _accuracy(model, X_train, y_train,
                                                    X_test, y_test)
                    _say(f"[{time.perf_counter() - start:6.1f}s]   done: fit "
                         f"{row['fit s']:.1f}s, PSNR {row['PSNR dB']:.1f} dB, "
                         f"{row['zeros']:.0%} zeros"
                         + (" (stopped at max_epochs, still improving)"
                            if still_improving else ""), stream)
                except Exception as exc:  # report and go on with the next model
                    row["error"] = f"{type(exc).__name__}: {exc}"
                    _say(f"[{time.perf_counter() - start:6.1f}s]   FAILED: "
                         f"{row['error']}", stream)
                    _say(traceback.format_exc(limit=3), stream)
                rows.append(row)
        _say(f"[{time.perf_counter() - start:6.1f}s] finished "
             f"({time.process_time() - start_cpu:.1f} CPU s)", stream)
        return rows
    finally:
        torch.set_num_threads(previous_threads)


def format_table(rows):
    """The demo's rows as one plain-text table."""

    def cell(column, value):
        if value is None:
            return "-"
        if column in ("fit s", "cpu s"):
            return f"{value:.1f}"
        if column == "PSNR dB":
            return "inf" if value == float("inf") else f"{value:.2f}"
        if column in ("zeros", "accuracy"):
            return f"{value:.3f}"
        return str(value)

    body = []
    for row in rows:
        cells = [cell(c, row[c]) for c in COLUMNS]
        if row.get("error"):
            cells[COLUMNS.index("fit s")] = "FAILED"
        body.append(cells)
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(COLUMNS)]
    left = {"model", "data"}

    def line(cells):
        return "  ".join(
            c.ljust(w) if col in left else c.rjust(w)
            for c, w, col in zip(cells, widths, COLUMNS)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(COLUMNS), rule, *map(line, body)])


_NOTES = """\
fit s: wall-clock seconds of fit (raw pixels: of the classifier); cpu s: CPU
seconds this process used meanwhile (well below fit s when other programs
share the CPU).  PSNR dB: reconstruction of the held-out split,
10 log10(range^2 / MSE) with one MSE over all its values and range = max - min
of the held-out data.  zeros: fraction of exact zeros in the held-out codes
(raw pixels: in the pixels).  accuracy: LogisticRegression on the standardised
codes in a Pipeline (coder frozen after its unsupervised fit), digits test
split (25%, stratified)."""


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m skvsc",
        description="skvsc: scikit-learn estimators for sparse coding and sparse "
        "variational autoencoders, trained with PyTorch.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="fit every skvsc estimator on bundled data and print one table",
        description="Fit every skvsc estimator on scikit-learn's 8x8 digits and on "
        "8x8 whitened patches of its sample photographs; print fit time, "
        "reconstruction PSNR, fraction of zero codes and the accuracy of a "
        "logistic regression on the codes (digits), beside raw pixels.",
    )
    demo.add_argument("--quick", action="store_true",
                      help="tiny budget (1 epoch, small data): a smoke test")
    demo.add_argument("--device", default="auto",
                      help='torch device: "auto" (default), "cpu", "cuda", "cuda:N"')
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--models", nargs="+", metavar="NAME",
                      choices=list(DEMO_SETTINGS),
                      help=f"only these estimators (of {', '.join(DEMO_SETTINGS)})")
    demo.add_argument("--threads", type=int, default=1,
                      help="torch CPU threads during the demo (default 1; 0 keeps "
                      "torch's default)")
    return parser


def main(argv=None):
    """Entry point of ``python -m skvsc``; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "demo":
        parser.print_help()
        return 2
    rows = run_demo(quick=args.quick, device=args.device, seed=args.seed,
                    models=args.models, threads=args.threads or None)
    print()
    print(format_table(rows))
    print()
    print(_NOTES)
    failed = [f"{r['model']} on {r['data']}" for r in rows if r.get("error")]
    if failed:
        print(f"\nFAILED: {', '.join(failed)} (see the messages above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
