"""Exceptions and warnings raised by skvsc.

Alongside scikit-learn's own classes, which skvsc uses where they fit
(:class:`sklearn.exceptions.NotFittedError`,
:class:`sklearn.exceptions.ConvergenceWarning`).
"""

__all__ = ["TrainingDivergedError", "CollapsedCodesWarning"]


class TrainingDivergedError(FloatingPointError):
    """Training diverged: the loss or the weights stopped being finite, or the
    loss blew up by orders of magnitude.

    The estimator is left exactly as it was before the failed ``fit`` or
    ``partial_fit`` call.
    """


class CollapsedCodesWarning(UserWarning):
    """The fitted model's codes are all zero, or most of its units are never
    active on the training data."""
