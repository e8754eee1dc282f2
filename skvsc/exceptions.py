"""Exceptions and warnings raised by skvsc.

Alongside scikit-learn's own classes, which skvsc uses where they fit
(:class:`sklearn.exceptions.NotFittedError`,
:class:`sklearn.exceptions.ConvergenceWarning`).
"""

__all__ = ["TrainingDivergedError", "CollapsedCodesWarning"]


class TrainingDivergedError(FloatingPointError):
    """Training diverged.

    Raised when the training loss, the validation loss or the weights stop
    being finite, when a distribution receives non-finite parameters, or when
    the training loss blows up to more than a million times its first value.
    The estimator is left exactly as it was before the failed ``fit`` or
    ``partial_fit`` call.

    See Also
    --------
    sklearn.exceptions.ConvergenceWarning : Training stopped before converging.

    Examples
    --------
    >>> import numpy as np
    >>> from skvsc import SVAE
    >>> from skvsc.exceptions import TrainingDivergedError
    >>> X = np.random.RandomState(0).rand(40, 6)
    >>> svae = SVAE(n_components=4, encoder="mlp", hidden_layer_sizes=(8,),
    ...             learning_rate=1e6, max_epochs=15, device="cpu", random_state=0)
    >>> try:
    ...     svae.fit(X)
    ... except TrainingDivergedError:
    ...     print("diverged; still unfitted:", not hasattr(svae, "module_"))
    diverged; still unfitted: True
    """


class CollapsedCodesWarning(UserWarning):
    """The fitted model's codes carry little or no information.

    Warned by ``fit`` when the codes of the training data are all zero, or when
    most units are never active on it; the message names the parameters that
    bring the codes back (usually a smaller ``lam`` or longer training).

    See Also
    --------
    skvsc.metrics.fraction_zeros : Fraction of exact zeros in codes.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skvsc import SparseCoder
    >>> from skvsc.exceptions import CollapsedCodesWarning
    >>> X = np.random.RandomState(0).rand(40, 6)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = SparseCoder(n_components=4, lam=100.0, max_epochs=1,
    ...                     device="cpu").fit(X)
    >>> any(issubclass(w.category, CollapsedCodesWarning) for w in caught)
    True
    """
