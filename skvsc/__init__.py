"""skvsc: scikit-learn estimators for sparse coding and sparse variational autoencoders.

Models are trained with PyTorch on the device the user picks (``device="auto"``
uses CUDA when available).  Every estimator is a scikit-learn transformer:
``fit``/``transform``/``inverse_transform``/``score``, usable in a
:class:`~sklearn.pipeline.Pipeline` and under
:class:`~sklearn.model_selection.GridSearchCV`.
"""

from .solvers import sparse_encode
from .sparse_coding import SparseCoder
from .svae import SVAE
from .vdl import VarianceRegDictLearner
from .vsc import VariationalSparseCoder
from ._persistence import load
from . import datasets, exceptions, metrics, plotting  # public helper submodules

__all__ = ["SVAE", "SparseCoder", "VarianceRegDictLearner", "VariationalSparseCoder",
           "load", "sparse_encode"]
__version__ = "0.1.0"
