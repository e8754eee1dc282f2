"""Olshausen & Field sparse coding: a unit-norm dictionary with FISTA codes."""

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array

from ._base import TRAINING_CONSTRAINTS, EnergyMixin, SparseModelMixin
from ._scoring import masked_cv_score, masked_lasso_predictions
from ._utils import check_float32_range
from .modules import normalize_rows_
from .solvers import _warn_uncertified, fista, lars, lasso_energy

__all__ = ["SparseCoder"]

# During training the codes only steer the dictionary update: a fixed number of
# FISTA iterations (no certificate; transform and score use ``code_tol``).
_TRAIN_ITERS = 6
# Warm-started power iterations for λ_max(DDᵀ) between steps, and their margin.
_POWER_ITERATIONS = 5
_POWER_MARGIN = 1.02
# Mairal et al. (2010, §3.4) weigh the statistics by β_t = (1 − 1/t)^ρ: batch s
# counts ∝ (s/t)^ρ at step t, a window of about t/(ρ+1) recent batches.  ρ = 1
# (a plain running mean, what scikit-learn's MiniBatchDictionaryLearning does
# early on) keeps the codes of the first, poor dictionaries for hundreds of
# steps; ρ = 6 reached a given held-out energy in 2–4× fewer steps on
# natural-image patches (benchmarks/bench_sparse_coding.py).
_FORGET_RHO = 6


class _Dictionary(torch.nn.Module):
    """Atoms as rows, plus the online update's running statistics."""

    def __init__(self, atoms):
        super().__init__()
        n_components, n_features = atoms.shape
        self.atoms = torch.nn.Parameter(atoms, requires_grad=False)
        # A = Σ zᵀz and B = Σ zᵀx over the data seen, with Mairal's forgetting.
        self.register_buffer("A", atoms.new_zeros(n_components, n_components))
        self.register_buffer("B", atoms.new_zeros(n_components, n_features))


class SparseCoder(EnergyMixin, SparseModelMixin, BaseEstimator):
    """Sparse coding (Olshausen & Field) with FISTA inference, trained by PyTorch.

    Learns a dictionary ``D`` of ``n_components`` unit-norm atoms minimising, per
    sample, the energy

    .. math:: E(x, z) = \\tfrac12\\|x - zD\\|_2^2 + \\lambda\\|z\\|_1,

    alternating batched FISTA codes on a mini-batch with a dictionary update.
    Paper 000 writes the energy without the ½: its λ is twice ours.  The
    objective is that of :class:`sklearn.decomposition.MiniBatchDictionaryLearning`
    with ``alpha=lam``.

    Parameters
    ----------
    n_components : int, default=None
        Number of atoms; ``n_features`` when None.
    lam : float, default=0.1
        λ, the L1 weight of the codes: larger means sparser codes.
    dictionary : array-like of shape (n_components, n_features), default=None
        A fixed dictionary.  When given, ``fit`` learns nothing and the estimator
        is a FISTA coder on these atoms (used as given, not normalised), like
        :class:`sklearn.decomposition.SparseCoder`.
    dict_update : {"online", "projected_gradient"}, default="online"
        ``"online"``: Mairal et al.'s block-coordinate update (one sweep per
        mini-batch) on the running statistics ``A = Σ β zᵀz``, ``B = Σ β zᵀx``,
        weighted by the forgetting factor ``β_t = (1 − 1/t)^6`` of Mairal et
        al. (2010, §3.4) — faster than scikit-learn's running mean on the
        benchmark.  ``"projected_gradient"``: one gradient step of size
        ``learning_rate`` on the batch-mean reconstruction error, then every
        atom projected back to unit norm (paper 000 §2.1).  ``"online"``
        reached every held-out energy many times faster in
        ``benchmarks/bench_sparse_coding.py``, hence the default.
    positive_code : bool, default=False
        Constrain the codes to be non-negative.
    transform_algorithm : {"fista", "lars"}, default="fista"
        Solver of the codes of ``transform`` (and ``energy``), as
        ``algorithm`` of :func:`skvsc.sparse_encode`: certified FISTA with
        its active-set polish, or the batched LARS homotopy (exact; 5×
        faster than FISTA on 256 atoms learned from 8 × 8 digits, on par or
        slower on 784 MNIST atoms, slower on whitened patches).  ``score``
        always uses FISTA.
    code_max_iter : int, default=1000
        Maximum FISTA iterations per code of ``transform`` and ``score``; a
        :class:`~sklearn.exceptions.ConvergenceWarning` says how many codes
        reached it without their certificate.  Learned image dictionaries are
        ill-conditioned: on a 784-atom MNIST dictionary most codes needed more
        than 300 iterations (the active-set polish of
        :func:`skvsc.solvers.fista` certifies them from about 256 on).
    code_tol : float, default=1e-4
        FISTA's certified per-sample relative suboptimality (its duality gap
        over its energy, see :func:`skvsc.solvers.fista`) for ``transform`` and
        ``score``.  During training the codes only steer the dictionary update:
        each mini-batch gets ``min(code_max_iter, 6)`` FISTA iterations from
        zero, without a certificate — on natural-image patches 6 to 10
        iterations reached the same held-out energy per step as codes
        certified to ``3e-2``, at a third to half of the cost.
    batch_size : int, default=256
        Mini-batch size.
    max_epochs : int, default=10
        Maximum passes over the data.
    learning_rate : float, default=0.1
        Step of the projected-gradient update (unused by ``"online"``).
    validation_fraction : float, default=0.0
        Fraction of the data held out to monitor the energy for early stopping;
        0 monitors the training energy.
    tol : float, default=1e-4
        Early stopping: relative decrease of the monitored energy that counts as
        an improvement.
    n_iter_no_change : int, default=2
        Early stopping: epochs without improvement before stopping.
    restore_best : bool, default=True
        With a validation split, end with the weights of the epoch whose
        validation loss was lowest (``best_epoch_``); False keeps the last
        epoch's.
    device : str, default="auto"
        ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial dictionary and the shuffling (a local generator).
    verbose : int, default=0
        Progress on stderr when ≥ 1.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The atoms, one per row, of unit norm.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_iter_ : int
        Epochs run.
    n_steps_ : int
        Mini-batch updates run.
    device_ : torch.device
        Device the model lives on.
    history_ : dict
        Per-epoch ``train_loss`` (mean energy), ``validation_loss`` and ``time``.
    best_epoch_ : int
        Epoch (1-based) with the lowest monitored loss: the validation loss with
        a validation split, else the training loss.
    best_loss_ : float
        That loss.

    See Also
    --------
    sklearn.decomposition.MiniBatchDictionaryLearning : The same objective,
        solved on the CPU with LARS or coordinate descent.
    sparse_encode : FISTA codes on a given dictionary.

    References
    ----------
    B. A. Olshausen and D. J. Field, "Emergence of simple-cell receptive field
    properties by learning a sparse code for natural images", Nature, 1996.
    J. Mairal, F. Bach, J. Ponce and G. Sapiro, "Online dictionary learning for
    sparse coding", ICML 2009.
    J. Mairal, F. Bach, J. Ponce and G. Sapiro, "Online learning for matrix
    factorization and sparse coding", JMLR 11, 2010.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvsc import SparseCoder
    >>> X = load_digits().data / 16.0
    >>> coder = SparseCoder(n_components=32, lam=0.2, max_epochs=3,
    ...                     device="cpu", random_state=0).fit(X)
    >>> codes = coder.transform(X)
    >>> codes.shape
    (1797, 32)
    >>> bool((codes == 0).mean() > 0.5)
    True
    """

    _parameter_constraints = {
        **TRAINING_CONSTRAINTS,
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "lam": [Interval(numbers.Real, 0, None, closed="left")],
        "dictionary": ["array-like", None],
        "dict_update": [StrOptions({"online", "projected_gradient"})],
        "positive_code": ["boolean"],
        "transform_algorithm": [StrOptions({"fista", "lars"})],
        "code_max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "code_tol": [Interval(numbers.Real, 0, None, closed="left")],
    }

    _divergence_hint = "lower `learning_rate` (projected_gradient) or raise `lam`"
    _bounded_weights = True  # unit-norm atoms after every step

    def __init__(
        self,
        n_components=None,
        *,
        lam=0.1,
        dictionary=None,
        dict_update="online",
        positive_code=False,
        transform_algorithm="fista",
        code_max_iter=1000,
        code_tol=1e-4,
        batch_size=256,
        max_epochs=10,
        learning_rate=0.1,
        validation_fraction=0.0,
        tol=1e-4,
        n_iter_no_change=2,
        restore_best=True,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.lam = lam
        self.dictionary = dictionary
        self.dict_update = dict_update
        self.positive_code = positive_code
        self.transform_algorithm = transform_algorithm
        self.code_max_iter = code_max_iter
        self.code_tol = code_tol
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.restore_best = restore_best
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------- model
    def _build_module(self, n_features):
        if self.dictionary is not None:
            atoms = check_array(self.dictionary, dtype=[np.float64, np.float32])
            check_float32_range(atoms, "the dictionary")
            if atoms.shape[1] != n_features:
                raise ValueError(
                    f"dictionary has {atoms.shape[1]} features but X has {n_features}."
                )
            atoms = torch.as_tensor(atoms, dtype=torch.float32).clone()
        else:
            atoms = self._initial_atoms(n_features)
        self.module_ = _Dictionary(atoms).to(self.device_)
        self._refresh_gram()

    def _initial_atoms(self, n_features):
        # Random unit vectors; data-dependent restarts happen for unused atoms.
        n_components = self.n_components or n_features
        atoms = torch.randn(n_components, n_features, generator=self._generator)
        return atoms / torch.linalg.vector_norm(atoms, dim=1, keepdim=True)

    def _make_optimizers(self):
        return {}  # both dictionary updates are written out below

    @property
    def _learns(self):
        return self.dictionary is None

    def _refresh_gram(self, exact=True):
        """Gram matrix and Lipschitz constant of the current atoms.

        ``exact=False`` (after a dictionary update) estimates ``λ_max`` by a few
        power iterations warm-started from the previous top eigenvector, times
        a 2% safety margin: the dictionary moves little per step, and an exact
        eigendecomposition would cost as much as the step's FISTA.
        """
        atoms = self.module_.atoms
        gram = atoms @ atoms.T
        self._gram = gram
        vector = getattr(self, "_top_vector", None)
        self._lipschitz_exact = exact or vector is None or vector.shape[0] != gram.shape[0]
        if self._lipschitz_exact:
            evals, evecs = torch.linalg.eigh(gram.detach().to(torch.float64))
            self._lipschitz = float(evals[-1].clamp(min=1e-12))
            self._top_vector = evecs[:, -1].to(gram.dtype)
            return
        for _ in range(_POWER_ITERATIONS):
            vector = gram @ vector
            vector = vector / torch.linalg.vector_norm(vector).clamp(min=1e-30)
        self._top_vector = vector
        self._lipschitz = max(float(vector @ gram @ vector) * _POWER_MARGIN, 1e-12)

    def _atoms(self):
        return self.module_.atoms

    def _codes(self, X, training=False):
        # Training steps: a few uncertified FISTA iterations; transform and
        # energy: certified to code_tol by transform_algorithm, warn at the cap.
        solve = lars if not training and self.transform_algorithm == "lars" else fista
        max_iter = min(self.code_max_iter, _TRAIN_ITERS) if training else self.code_max_iter
        Z, _, uncertified = solve(
            self._gram, X @ self.module_.atoms.T, self.lam, lipschitz=self._lipschitz,
            positive=self.positive_code, max_iter=max_iter,
            tol=None if training else self.code_tol, sq_norms=X.pow(2).sum(dim=1),
            return_uncertified=True)
        if not training:
            _warn_uncertified(int(uncertified.sum()), X.shape[0], max_iter, self.code_tol,
                              "code_max_iter")
        return Z

    def _exact_codes(self, X):
        # transform/score: the step from the exact λ_max, as in sparse_encode
        # (fit and partial_fit end with an exact refresh; validation during
        # training gets one here).
        if not getattr(self, "_lipschitz_exact", True):
            self._refresh_gram(exact=True)
        return self._codes(X)

    def _encode(self, X):
        return self._exact_codes(X)

    def _decode(self, Z):
        return Z @ self.module_.atoms

    def _score_samples(self, X):
        # Masked-feature cross-validation (see ``score``).
        prediction = masked_lasso_predictions(
            X, self.module_.atoms, self.lam, positive=self.positive_code,
            max_iter=self.code_max_iter, tol=self.code_tol)
        return masked_cv_score(X, prediction)

    def _energy_samples(self, X):
        return lasso_energy(X, self._exact_codes(X), self.module_.atoms, self.lam)

    def _batch_loss(self, X):
        return lasso_energy(X, self._exact_codes(X), self.module_.atoms, self.lam).mean()

    # -------------------------------------------------------------- learning
    def _train_step(self, X):
        with torch.no_grad():
            Z = self._codes(X, training=True)
            energy = lasso_energy(X, Z, self.module_.atoms, self.lam).mean()  # read later
            if self.dict_update == "online":
                restarted = self._online_update(X, Z)
            else:
                restarted = self._gradient_update(X, Z)
            self._refresh_gram(exact=restarted)
        return energy

    def _gradient_update(self, X, Z):
        atoms = self.module_.atoms
        # Gradient of the batch-mean ½‖x − zD‖² (paper 000 averages, not sums).
        grad = Z.T @ (Z @ atoms - X) / X.shape[0]
        atoms -= self.learning_rate * grad
        normalize_rows_(atoms)
        return False

    def _online_update(self, X, Z):
        module = self.module_
        n = X.shape[0]
        # Mairal's forgetting factor β_t = (1 − 1/t)^ρ (see _FORGET_RHO).
        step = self.n_steps_
        forget = (1.0 - 1.0 / (step + 1)) ** _FORGET_RHO
        module.A.mul_(forget).add_(Z.T @ Z / n)
        module.B.mul_(forget).add_(Z.T @ X / n)
        atoms, A, B = module.atoms, module.A, module.B
        unused = torch.diagonal(A) < 1e-10
        _block_coordinate_sweep(atoms, A, B, unused)
        if bool(unused.any()):
            self._restart_atoms(unused, X, Z)
            return True
        return False

    def _restart_atoms(self, unused, X, Z):
        # Unused atoms restart on the worst-reconstructed samples' residuals
        # (online dictionary learning's restart); where a residual is zero
        # (e.g. constant data) the atom keeps its direction, so no atom ever
        # ends with zero norm.
        atoms = self.module_.atoms
        residual = X - Z @ atoms
        sq_norms = residual.pow(2).sum(dim=1)
        worst = torch.argsort(sq_norms, descending=True)
        index = torch.nonzero(unused).flatten()[: len(worst)]
        worst = worst[: len(index)]
        nonzero = sq_norms[worst] > 0
        atoms[index[nonzero]] = residual[worst[nonzero]]
        normalize_rows_(atoms)

    def _end_fit(self):
        self._refresh_gram(exact=True)  # transform/score: the exact λ_max

    # ------------------------------------------------------------ public API
    def score(self, X, y=None):
        """Masked-feature cross-validation: how well each feature is predicted from the others.

        The features are split into 4 folds by a fixed permutation.  For each
        fold, every sample is encoded by FISTA from the other features only
        (the atoms restricted to them, L1 weight ``lam·|O|/d`` for ``|O|`` of
        ``d`` features observed, so the codes shrink as the full problem's
        do), and the held-out fold is predicted by ``z D``.  The score is
        ``−½‖x − x̂‖²``, the squared error of these out-of-fold predictions
        summed over all features, averaged over the samples.  Unlike the
        energy it contains no λ-penalty: too small a ``lam`` fits noise and
        predicts held-out features badly, too large a ``lam`` shrinks the codes
        away, so unsupervised :class:`~sklearn.model_selection.GridSearchCV`
        over ``lam`` (or ``n_components``) picks a value in between.  It is
        deterministic and per sample (:meth:`score_samples` gives the
        per-sample values); it costs about four :meth:`transform` calls.  The
        training objective is available as :meth:`energy`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        float
            Mean ``−½‖x − x̂‖²``; higher is better.
        """
        return super().score(X)


def _block_coordinate_sweep(atoms, A, B, skip):
    """One pass of Mairal's update: atom k minimises ``½tr(DᵀDA) − tr(DᵀB)``
    with the others fixed, then is projected to unit norm, in turn for every k."""
    if atoms.device.type == "cpu":
        # The sweep is sequential; numpy's per-call overhead is a tenth of torch's.
        D, A, B = atoms.detach().numpy(), A.numpy(), B.numpy()
        skip = skip.numpy()
        for k in range(D.shape[0]):
            if skip[k]:
                continue
            atom = D[k]
            atom += (B[k] - A[k] @ D) / A[k, k]
            atom /= max(float(np.sqrt(atom @ atom)), 1e-12)
        return
    for k in range(atoms.shape[0]):
        if skip[k]:
            continue
        atoms[k] += (B[k] - A[k] @ atoms) / A[k, k]
        atoms[k] /= torch.linalg.vector_norm(atoms[k]).clamp(min=1e-12)
