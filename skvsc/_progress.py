"""Progress bars for ``verbose >= 1``, drawn by tqdm.

In a notebook, ``tqdm.auto`` draws a widget; on a terminal, the usual bar on
stderr; when stderr is a file or a pipe (a batch job's log), a bar redrawn in
place with carriage returns would pile every refresh onto one line, so the
bar writes whole lines instead, at most one every ``_LOG_INTERVAL`` seconds.
"""

import sys

__all__ = ["progress_bar"]

# Seconds between two lines of a bar written to a log file.
_LOG_INTERVAL = 10.0
# Outputs smaller than this many rows are computed without a bar.
BAR_MIN_ROWS = 20_000


class _Lines:
    """A stream for tqdm that writes each refresh as a line of its own."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        text = text.replace("\r", "")
        if text.strip():
            self.stream.write(text.rstrip("\n") + "\n")

    def flush(self):
        self.stream.flush()


class _Silent:
    """The bar of ``verbose=0``: does nothing (tqdm is not even imported)."""

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def set_description(self, *args, **kwargs):
        pass

    def write(self, text, file=None):
        pass

    def close(self):
        pass


def _bar_class():
    # Imported when a bar is first drawn, not with skvsc: tqdm.auto decides
    # between the widget and the text bar from the running IPython kernel.
    from tqdm.auto import tqdm as auto
    from tqdm.autonotebook import tqdm as notebook
    from tqdm.std import tqdm as text
    return auto, (notebook is not text)


def progress_bar(*, total, desc, unit, verbose):
    """A tqdm bar on stderr, or a disabled one (a no-op) when ``verbose`` is 0.

    Parameters
    ----------
    total : int
        Number of units the bar counts to.
    desc : str
        Label (the estimator's name and the operation).
    unit : str
        What one unit is ("batch", "row").
    verbose : int
        The estimator's ``verbose``; 0 disables the bar.

    Returns
    -------
    tqdm.tqdm
        Call ``update``, ``set_description``, ``set_postfix``, ``write`` and
        ``close`` on it as on any tqdm bar (a silent stand-in when ``verbose`` is 0).
    """
    if not verbose:
        return _Silent()
    bar, in_notebook = _bar_class()
    options = {"total": total, "desc": desc, "unit": unit, "leave": True}
    if in_notebook:
        return bar(**options)
    if sys.stderr.isatty():
        return bar(file=sys.stderr, **options)
    return bar(file=_Lines(sys.stderr), mininterval=_LOG_INTERVAL, ascii=True, ncols=100,
               **options)
