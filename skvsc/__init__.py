"""skvsc: scikit-learn estimators for sparse coding and sparse variational autoencoders.

Models are trained with PyTorch on the device the user picks (``device="auto"``
uses CUDA when available).  Every estimator is a scikit-learn transformer:
``fit``/``transform``/``inverse_transform``/``score``, usable in a
:class:`~sklearn.pipeline.Pipeline` and under
:class:`~sklearn.model_selection.GridSearchCV`.
"""

import os

# libgomp, torch's OpenMP runtime on Linux, spin-waits by default: as soon as
# another process competes for a core, the small CPU kernels of these models
# run 10-30x slower (measured: 9 min instead of 24 s for the VDL gallery
# example on 2 cores with one other busy process).  Sleeping threads cost
# nothing measurable.  Like scikit-learn's KMP_* defaults, this only takes
# effect if torch is not imported yet, and the user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .solvers import sparse_encode  # noqa: E402
from .sparse_coding import SparseCoder  # noqa: E402
from .svae import SVAE
from .vdl import VarianceRegDictLearner
from .vsc import VariationalSparseCoder
from . import datasets, metrics, plotting  # public helper submodules

__all__ = ["SVAE", "SparseCoder", "VarianceRegDictLearner", "VariationalSparseCoder", "sparse_encode"]
__version__ = "0.1.0"
