"""skvsc: scikit-learn estimators for sparse coding and sparse variational autoencoders.

Models are trained with PyTorch on the device the user picks (``device="auto"``
uses CUDA when available).  Every estimator is a scikit-learn transformer:
``fit``/``transform``/``inverse_transform``/``score``, usable in a
:class:`~sklearn.pipeline.Pipeline` and under
:class:`~sklearn.model_selection.GridSearchCV`.
"""

import os

# libgomp (torch's OpenMP runtime on Linux) decides how long idle worker
# threads spin before they sleep.  The models here run many small kernels back
# to back, so that choice matters (2 cores, measured on this project's CI kind
# of machine; transform of 10,000 patches / the VDL gallery example):
#   idle machine:             spin 3000: 0.11 s / 16 s   passive: 0.22 s / 25 s
#   one other busy process:   spin 3000: 0.41 s / 28 s   passive: 0.21 s / 20 s
# and libgomp's default (a long spin) took 9 min instead of 20 s for the example
# with one other busy process.  A short spin is the compromise; on a machine
# shared with busy processes, set OMP_WAIT_POLICY=PASSIVE.  Like scikit-learn's
# KMP_* defaults, this only takes effect if torch is not imported yet, and any
# setting of the user's wins.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "3000"

from .solvers import sparse_encode  # noqa: E402
from .sparse_coding import SparseCoder  # noqa: E402
from .svae import SVAE
from .vdl import VarianceRegDictLearner
from .vsc import VariationalSparseCoder
from ._persistence import load
from . import datasets, exceptions, metrics, plotting  # public helper submodules

__all__ = ["SVAE", "SparseCoder", "VarianceRegDictLearner", "VariationalSparseCoder",
           "load", "sparse_encode"]
__version__ = "0.1.0"
