"""Sparse inference: soft-thresholding, batched ISTA/FISTA and ``sparse_encode``.

Conventions (those of :mod:`sklearn.decomposition`): a dictionary ``D`` has shape
``(n_components, n_features)``, one atom per row, codes ``Z`` have shape
``(n_samples, n_components)`` and ``X ≈ Z @ D``.  The energy of one sample is

    E(z) = ½‖x − z D‖² + λ‖z‖₁,

the same objective as :func:`sklearn.decomposition.sparse_encode` with
``alpha=λ`` and as SPAMS' ``lasso`` with ``lambda1=λ``.

References
----------
A. Beck and M. Teboulle, "A fast iterative shrinkage-thresholding algorithm for
linear inverse problems", SIAM J. Imaging Sciences, 2009.
"""

import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._lars import lars_path_end
from ._polish import _polish

__all__ = [
    "fista",
    "lars",
    "lasso_energy",
    "lipschitz_constant",
    "soft_threshold",
    "sparse_encode",
]


def soft_threshold(x, threshold, positive=False):
    """Proximal operator of ``threshold * ‖·‖₁`` (and of its non-negative form).

    Parameters
    ----------
    x : torch.Tensor
        Input.
    threshold : float or torch.Tensor
        Non-negative threshold, broadcastable to ``x``.
    positive : bool, default=False
        If True, also project onto the non-negative orthant, i.e. return
        ``max(x − threshold, 0)``.

    Returns
    -------
    torch.Tensor
        ``sign(x) · max(|x| − threshold, 0)``, or its non-negative form.

    Examples
    --------
    >>> import torch
    >>> from skvsc.solvers import soft_threshold
    >>> soft_threshold(torch.tensor([-2.0, 0.5, 3.0]), 1.0)
    tensor([-1.,  0.,  2.])
    """
    if positive:
        return torch.clamp(x - threshold, min=0)
    # x − clip(x, −t, t) is the shrink in one fused pass, exact zeros included.
    if isinstance(threshold, torch.Tensor):
        return x - torch.minimum(torch.maximum(x, -threshold), threshold)
    return x - torch.clamp(x, -threshold, threshold)


def lipschitz_constant(gram):
    """Largest eigenvalue of a Gram matrix ``D Dᵀ``: the Lipschitz constant of ∇f.

    Parameters
    ----------
    gram : torch.Tensor of shape (n_components, n_components)
        Symmetric positive semi-definite matrix.

    Returns
    -------
    float
        ``λ_max(gram)``, computed in float64 for robustness.
    """
    gram = gram.detach().to(torch.float64)
    if not bool(torch.isfinite(gram).all()):
        return math.nan  # a diverged dictionary; the training loop reports it
    return float(torch.linalg.eigvalsh(gram).max().clamp(min=1e-12))


def lasso_energy(X, Z, dictionary, lam):
    """Per-sample energy ``½‖x − z D‖² + λ‖z‖₁``.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        Data.
    Z : torch.Tensor of shape (n_samples, n_components)
        Codes.
    dictionary : torch.Tensor of shape (n_components, n_features)
        Atoms as rows.
    lam : float
        L1 weight λ.

    Returns
    -------
    torch.Tensor of shape (n_samples,)
        Energy of each sample.
    """
    residual = X - Z @ dictionary
    return 0.5 * residual.pow(2).sum(dim=1) + lam * Z.abs().sum(dim=1)


def _converged(Z_new, Z_old, tol):
    """Per-sample test ‖Δz‖ ≤ tol·‖z‖ (a zero code that stays zero converges)."""
    change = torch.linalg.vector_norm(Z_new - Z_old, dim=1)
    scale = torch.linalg.vector_norm(Z_new, dim=1)
    return change <= tol * scale


def _span_sq_norms(gram, correlation):
    """``b G⁺ bᵀ`` per row: ``‖x‖²`` of the part of ``x`` in the atoms' span.

    For ``G = D Dᵀ`` and ``b = x Dᵀ`` this is the squared norm of the projection
    of ``x`` onto the row space of ``D``; for any positive semi-definite ``G``
    it is the constant that makes ``½zGz − zb + ½ bG⁺bᵀ`` a squared residual.
    Eigenvalues below ``n·eps·λ_max`` count as zero.
    """
    evals, evecs = torch.linalg.eigh(gram.detach().to(torch.float64))
    eps = torch.finfo(correlation.dtype).eps
    keep = evals > evals[-1].clamp(min=0) * gram.shape[0] * eps
    W = (evecs[:, keep] * evals[keep].rsqrt()).to(correlation.dtype)
    return (correlation @ W).pow(2).sum(dim=1)


_GAP_EVERY = 2  # iterations between duality-gap checks (the 1st, then every 2nd)
_WARMUP_ITER = 16  # bfloat16 iterations before the certified ones (see fista)


def _native_bfloat16(device):
    """Whether ``device`` multiplies bfloat16 matrices natively (faster than float32)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        # torch.cpu's feature probes are private; without them, stay in float32.
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return False


def _bfloat16_warmup(B, M, step, threshold, positive, n_iter):
    """``n_iter`` plain FISTA iterations in bfloat16, from zero (see :func:`fista`).

    Returns the iterate, the momentum point (both in ``B``'s dtype) and the
    momentum counter ``t``, so that FISTA continues where this stopped.
    """
    M = M.to(torch.bfloat16)
    step_B = (step * B).to(torch.bfloat16)
    Z = torch.zeros_like(step_B)
    Y, t = None, 1.0
    for _ in range(n_iter):
        # The first step, from Y = 0, needs no product.
        V = step_B.clone() if Y is None else torch.addmm(step_B, Y, M)
        Z_new = _shrink(V, threshold, positive)
        Y, t = _momentum(Z, Z_new, t)
        Z = Z_new
    return Z.to(B.dtype), Y.to(B.dtype), t


def _shrink(V, threshold, positive):
    """FISTA's proximal step on the gradient step ``V`` (in place where possible)."""
    if positive:
        return V.sub_(threshold).clamp_(min=0)
    if math.isfinite(threshold):
        return torch.nn.functional.softshrink(V, threshold)  # one fused pass
    return soft_threshold(V, threshold)  # a diverged dictionary: NaNs go through


def _momentum(Z, Z_new, t):
    """FISTA's momentum point ``Z_new + β(Z_new − Z)`` (one pass) and next ``t``."""
    t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
    return torch.lerp(Z, Z_new, 1.0 + (t - 1.0) / t_next), t_next


def _certified(Y, B, step_C, step, q, lam, tol, positive):
    """Per-sample test ``gap(Y) ≤ tol·P(Y)`` (see :func:`fista`).

    ``step_C = step·(B − Y G)``, the gradient step already taken from ``Y``.
    """
    if positive:
        c_max = step_C.amax(dim=1).clamp(min=0) / step
    else:
        c_max = step_C.abs().amax(dim=1) / step
    s = torch.where(c_max > lam, lam / c_max.clamp(min=1e-30), torch.ones_like(c_max))
    l1 = Y.abs().sum(dim=1)
    yc = (Y * step_C).sum(dim=1) / step
    rr = (q - (Y * B).sum(dim=1) - yc).clamp(min=0)
    gap = 0.5 * (1.0 - s).square() * rr + (lam * l1 - s * yc).clamp(min=0)
    done = gap <= tol * (0.5 * rr + lam * l1)
    if positive:
        done &= Y.amin(dim=1) >= 0
    return done


_POLISH_FIRST = 256  # first active-set polish, in iterations (see fista)
_POLISH_EVERY = 64  # iterations between later polishes


def fista(gram, correlation, lam, *, lipschitz=None, init=None, positive=False,
          max_iter=200, tol=1e-4, sq_norms=None, warmup_iter="auto", polish=True,
          return_uncertified=False):
    """Batched FISTA for ``½‖x − zD‖² + λ‖z‖₁`` in Gram form, with duality-gap stopping.

    Each iteration is one ``(n, l) × (l, l)`` product, ``∇ = Y G − B`` at the
    momentum point ``Y``, with ``G = D Dᵀ`` and ``B = X Dᵀ``.

    **Stopping rule and exactness.**  The same product gives, for free, a dual
    feasible point ``θ = s·r`` (``r = x − yD`` the residual at the momentum
    point ``y``, ``s = min(1, λ/‖D r‖_∞)``; when ``sq_norms`` is None, only the
    part of ``r`` in the atoms' span is scaled) and hence a per-sample duality
    gap ``gap(y) = ½(1 − s)²‖r‖² + Σ_j (λ|y_j| − s·y_j (Dr)_j) ≥ E(y) − E*``.
    Every other iteration (the first, third, ...) a sample stops once
    ``gap(y) ≤ tol · E(y)`` and returns the proximal-gradient step from ``y``,
    whose energy is at most ``E(y)``.  So every returned code ``z`` satisfies
    ``E(z) − E* ≤ tol·E(y)``: ``tol`` is a certified *relative suboptimality*
    per sample, not a change in ``z``; samples still running at ``max_iter``
    return their last iterate uncertified.
    The certificate is computed in the dtype of ``correlation``: below about
    ``1e-6`` in float32 (``1e-14`` in float64) rounding hides it and the
    sample runs to ``max_iter``.  Codes contain exact zeros (soft-thresholding).

    Samples stop independently and converged samples are dropped from the
    working set, so a code does not depend on the other samples of the batch.

    **Speed-ups that keep the certificate.**  A sample with ``‖b‖_∞ ≤ λ`` (its
    optimality condition at zero) is returned as exact zeros without iterating.
    When the codes start from zero and ``tol`` is not None, the first
    ``warmup_iter`` iterations run in bfloat16, whose matrix products are two
    to four times faster than float32 ones on hardware with native bfloat16
    arithmetic (recent x86 CPUs, NVIDIA GPUs from Ampere on).  bfloat16 finds
    the support and signs of the codes, but its 8-bit mantissa limits the
    energy to about ``1e-4`` relative, so FISTA then restarts in the dtype of
    ``correlation`` from that point and runs until the certificate above
    holds: the guarantee is unchanged, only reached sooner (about 1.7× fewer
    float32-equivalent operations on natural-image patches).

    **Active-set polish.**  On ill-conditioned dictionaries (atoms learned
    from images) FISTA finds the support and signs of the codes long before
    their values converge.  With ``polish=True`` (and ``tol`` not None), at
    iteration ``_POLISH_FIRST`` (256) and every ``_POLISH_EVERY`` (64) after
    it, and at ``max_iter``, each running sample jumps to the exact Lasso
    optimum on its current support and signs: one batched float64 Cholesky
    solve of the ``|S|×|S|`` Gram blocks, re-solved after dropping atoms whose
    sign flips, and accepted only where it lowers the energy (else a descent
    step towards it).  The momentum restarts there and the next iteration
    checks the polished point's duality gap; a polished point that passes is
    returned as it is (exact on its support, so far closer to the optimum than
    ``tol``).  A wrong support or sign, or an inactive atom that violates its
    optimality condition, fails the certificate, and FISTA continues from
    the polished point.  The guarantee is unchanged.

    Parameters
    ----------
    gram : torch.Tensor of shape (n_components, n_components)
        ``D Dᵀ`` (any symmetric positive semi-definite matrix).
    correlation : torch.Tensor of shape (n_samples, n_components)
        ``X Dᵀ``.
    lam : float
        L1 weight λ ≥ 0.
    lipschitz : float, default=None
        ``λ_max(G)``; computed when None.  The step is ``1/L`` and the threshold
        ``λ/L``.
    init : torch.Tensor of shape (n_samples, n_components), default=None
        Warm start; zeros when None.
    positive : bool, default=False
        Constrain the codes to be non-negative (the dual constraint becomes
        ``max_j (Dr)_j ≤ λ``; a momentum point with a negative entry is not
        certified).
    max_iter : int, default=200
        Maximum number of iterations.
    tol : float or None, default=1e-4
        Per-sample relative duality gap at which a sample stops (see above);
        0 runs every sample to ``max_iter`` unless its gap is exactly 0, and
        None runs exactly ``max_iter`` iterations without any certificate.
    sq_norms : torch.Tensor of shape (n_samples,), default=None
        ``‖x‖²`` of each sample, when the correlations come from data ``x``.
        When None, the squared norm of the part of ``x`` in the atoms' span,
        ``b G⁺ bᵀ``, is used instead (one extra product and an eigendecomposition
        of ``gram``); it gives a tighter certificate when ``x`` has a large part
        outside the span.
    warmup_iter : int or "auto", default="auto"
        Iterations run in bfloat16 before the certified iterations (see
        above); used only when ``init`` is None and ``tol`` is not None.
        ``"auto"`` is 16 where the device multiplies bfloat16 matrices
        natively and 0 elsewhere.
    polish : bool, default=True
        Run the active-set polish described above (only when ``tol`` is not
        None).  False is plain FISTA.
    return_uncertified : bool, default=False
        Also return which samples stopped at ``max_iter`` uncertified.

    Returns
    -------
    codes : torch.Tensor of shape (n_samples, n_components)
        The codes.
    n_iter : int
        Iterations run (by the slowest sample).
    uncertified : torch.Tensor of bool, shape (n_samples,)
        Only with ``return_uncertified=True``: the samples that reached
        ``max_iter`` without their certificate (all False when ``tol`` is
        None: no certificate was asked for).
    """
    if warmup_iter != "auto" and not (isinstance(warmup_iter, numbers.Integral)
                                      and warmup_iter >= 0):
        raise ValueError(f"warmup_iter must be 'auto' or an int >= 0, got {warmup_iter!r}.")
    if lipschitz is None:
        lipschitz = lipschitz_constant(gram)
    dtype = correlation.dtype
    gram = gram.to(dtype)
    if tol is None:
        sq_norms = correlation.new_zeros(correlation.shape[0])  # no certificate
    elif sq_norms is None:
        sq_norms = _span_sq_norms(gram, correlation)
    step = 1.0 / lipschitz
    threshold = lam * step
    n_samples = correlation.shape[0]
    result = torch.zeros_like(correlation)
    uncertified = torch.zeros(n_samples, dtype=torch.bool, device=correlation.device)

    def returned(n_iter):
        return (result, n_iter, uncertified) if return_uncertified else (result, n_iter)

    if n_samples == 0:
        return returned(0)
    # The gradient step Y + step·(B − YG) as one product: step·B + Y (I − step·G).
    # Finished samples leave the working set at once, so later products shrink.
    M = torch.eye(gram.shape[0], dtype=dtype, device=gram.device).sub_(gram, alpha=step)
    B, q = correlation, sq_norms.to(dtype)
    active = torch.arange(n_samples, device=correlation.device)
    if init is None and math.isfinite(threshold):
        # z = 0 is optimal iff ‖b‖_∞ ≤ λ: those codes are exact zeros already.
        c_max = B.amax(dim=1) if positive else B.abs().amax(dim=1)
        rows = (c_max > lam).nonzero().squeeze(1)
        if rows.numel() == 0:
            return returned(0)
        if rows.numel() < n_samples:
            active, B, q = active[rows], B[rows], q[rows]
    if (init is not None or tol is None or dtype == torch.bfloat16
            or not math.isfinite(threshold)):
        warmup_iter = 0
    elif warmup_iter == "auto":
        warmup_iter = _WARMUP_ITER if _native_bfloat16(B.device) else 0
    warmup_iter = min(warmup_iter, max_iter - 1)
    if warmup_iter > 0:
        # Continue from the bfloat16 iterate, its momentum point and step count.
        Z, Y, t = _bfloat16_warmup(B, M, step, threshold, positive, warmup_iter)
    else:
        Y = torch.zeros_like(B) if init is None else init.to(dtype).clone()
        Z, t = Y, 1.0
    if polish and tol is not None and math.isfinite(threshold):
        # G with an extra zero row and column: the pad index of _support_systems.
        G_ext = torch.nn.functional.pad(gram.detach().to(torch.float64), (0, 1, 0, 1))
        next_polish = max(_POLISH_FIRST, warmup_iter + 1)
    else:
        next_polish = math.inf
    n_iter = warmup_iter
    for n_iter in range(warmup_iter + 1, max_iter + 1):
        polished = n_iter >= next_polish or (n_iter == max_iter and math.isfinite(next_polish))
        if polished:
            # Jump to the exact optimum on each sample's support and signs (or
            # towards it, see _polish), restart the momentum there, and certify
            # the polished point with this iteration's gradient.
            Z = Y = _polish(Z, B, G_ext, lam, positive)
            t = 1.0
            next_polish = n_iter + _POLISH_EVERY
        V = torch.addmm(B, Y, M, beta=step)
        if tol is None:
            done = None
        elif (polished or (n_iter - warmup_iter - 1) % _GAP_EVERY == 0
              or n_iter == max_iter):
            done = _certified(Y, B, V - Y, step, q, lam, tol, positive)
        else:
            done = None
        # A certified polished point is returned as it is: exact on its support.
        Y_done = Y if polished else None
        Z_new = _shrink(V, threshold, positive)
        Y, t = _momentum(Z, Z_new, t)
        Z = Z_new
        if done is not None and bool(done.any()):
            # Record the finished samples and drop them from the working set.
            rows = done.nonzero().squeeze(1)
            finished = (Z if Y_done is None else Y_done).index_select(0, rows)
            result.index_copy_(0, active.index_select(0, rows), finished)
            rows = (~done).nonzero().squeeze(1)
            if rows.numel() == 0:
                return returned(n_iter)
            active, Z, Y, B, q = (tensor.index_select(0, rows) for tensor in (active, Z, Y, B, q))
    result.index_copy_(0, active, Z)
    if tol is not None:
        uncertified[active] = True  # still running at max_iter
    return returned(n_iter)


def lars(gram, correlation, lam, *, lipschitz=None, positive=False, max_iter=200, tol=1e-4,
         sq_norms=None, return_uncertified=False):
    """Batched LARS-Lasso homotopy for ``½‖x − zD‖² + λ‖z‖₁``, with a certificate.

    Every sample follows its own regularisation path from ``‖b‖_∞`` down to
    ``λ``: an atom joins where its correlation reaches the active ones' and
    leaves where its coefficient reaches zero (the Lasso modification of LARS,
    Efron et al., 2004).  All samples step together (one ``(n, l) × (l, l)``
    product and rank-one updates of each sample's float64 inverse of its
    active Gram block per step), and the end point is re-solved on its final
    support and signs: exact up to rounding.  The duality gap of :func:`fista`
    checks every code; one that fails ``tol`` (rounding on a near-singular
    support) continues with :func:`fista` from there, so ``tol`` keeps its
    meaning.

    Parameters
    ----------
    gram : torch.Tensor of shape (n_components, n_components)
        ``D Dᵀ``.
    correlation : torch.Tensor of shape (n_samples, n_components)
        ``X Dᵀ``.
    lam : float
        L1 weight λ ≥ 0.
    lipschitz : float, default=None
        ``λ_max(G)``, for the FISTA fallback; computed when needed.
    positive : bool, default=False
        Non-negative codes.
    max_iter : int, default=200
        FISTA iterations for the codes that fail the certificate.
    tol : float or None, default=1e-4
        Certified relative suboptimality, as in :func:`fista`; None skips
        the check.
    sq_norms : torch.Tensor of shape (n_samples,), default=None
        ``‖x‖²`` of each sample, as in :func:`fista`.
    return_uncertified : bool, default=False
        Also return which codes are not certified.

    Returns
    -------
    codes : torch.Tensor of shape (n_samples, n_components)
        The codes.
    n_steps : int
        Path steps of the longest path, plus the fallback's FISTA iterations.
    uncertified : torch.Tensor of bool, shape (n_samples,)
        Only with ``return_uncertified=True``: codes without their certificate.

    See Also
    --------
    fista : The iterative solver (faster on well-conditioned dictionaries).
    sklearn.linear_model.LassoLars : The same homotopy, one sample at a time.
    """
    Z, n_steps, _ = lars_path_end(gram, correlation, lam, positive=positive)
    uncertified = torch.zeros(len(Z), dtype=torch.bool, device=Z.device)
    if tol is not None:
        gram = gram.to(correlation.dtype)
        if sq_norms is None:
            sq_norms = _span_sq_norms(gram, correlation)
        # fista's certificate at Z, with a unit step (so step_C = B − Z G).
        done = _certified(Z, correlation, correlation - Z @ gram, 1.0,
                          sq_norms.to(Z.dtype), lam, tol, positive)
        rows = (~done).nonzero().squeeze(1)
        if rows.numel():
            Z[rows], n_iter, uncertified[rows] = fista(
                gram, correlation[rows], lam, lipschitz=lipschitz, init=Z[rows],
                positive=positive, max_iter=max_iter, tol=tol, sq_norms=sq_norms[rows],
                return_uncertified=True)
            n_steps += n_iter
    return (Z, n_steps, uncertified) if return_uncertified else (Z, n_steps)


@validate_params(
    {
        "X": ["array-like"],
        "dictionary": ["array-like"],
        "lam": [Interval(numbers.Real, 0, None, closed="left")],
        "positive": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str],
        "verbose": ["verbose"],
        "algorithm": [StrOptions({"fista", "lars"})],
    },
    prefer_skip_nested_validation=True,
)
def sparse_encode(X, dictionary, *, lam=1.0, positive=False, max_iter=1000, tol=1e-4,
                  batch_size=4096, device="auto", verbose=0, algorithm="fista"):
    """Sparse codes of ``X`` on a fixed dictionary, by batched FISTA or LARS.

    Solves, for every row ``x`` of ``X`` independently,
    ``min_z ½‖x − z D‖² + λ‖z‖₁`` — the objective of
    :func:`sklearn.decomposition.sparse_encode` with ``alpha=lam`` — in float32
    on ``device``, and returns the codes in ``X``'s float dtype.  Each sample
    stops on its own duality-gap certificate, so its code does not depend on
    the rest of the batch; codes have exact zeros.  Where the device
    multiplies bfloat16 matrices natively, the first iterations run in
    bfloat16 and the certified ones in float32 (see
    :func:`skvsc.solvers.fista`), about twice as fast at the same tolerance.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data.
    dictionary : array-like of shape (n_components, n_features)
        Atoms as rows (normalising them is the caller's choice).
    lam : float, default=1.0
        L1 weight λ: larger gives sparser codes.
    positive : bool, default=False
        Constrain the codes to be non-negative.
    max_iter : int, default=1000
        Maximum FISTA iterations.
    tol : float, default=1e-4
        Certified per-sample relative suboptimality: a sample stops once its
        duality gap is at most ``tol`` times its energy, so its energy is within
        that factor of the optimum (see :func:`skvsc.solvers.fista`).  In
        practice the energy is far closer than the bound (about ``1e-2·tol``
        on natural-image patches).  Values below about ``1e-6`` cannot be
        certified in float32 and run to ``max_iter``.
    batch_size : int, default=4096
        Samples solved together; bounds memory.
    device : str, default="auto"
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    verbose : int, default=0
        ≥ 1 draws a progress bar over the rows (tqdm) on stderr.
    algorithm : {"fista", "lars"}, default="fista"
        ``"fista"``: :func:`skvsc.solvers.fista` with its active-set polish.
        ``"lars"``: the batched LARS-Lasso homotopy
        (:func:`skvsc.solvers.lars`), exact up to rounding and certified the
        same way; one step per atom joining or leaving a support.  Measured
        in ``benchmarks/bench_encode_real.py``: 5× faster than FISTA on 256
        atoms learned from 8 × 8 digits, on par or slower on 784 MNIST
        atoms, 3–12× slower on whitened image patches.

    Returns
    -------
    ndarray of shape (n_samples, n_components)
        The codes.

    See Also
    --------
    sklearn.decomposition.sparse_encode : LARS, coordinate descent and OMP on
        the same objective.
    SparseCoder : Learns the dictionary as well.

    Examples
    --------
    >>> import numpy as np
    >>> from skvsc import sparse_encode
    >>> D = np.eye(3)
    >>> sparse_encode(np.array([[2.0, -0.5, 0.0]]), D, lam=1.0).round(3)
    array([[ 1., -0.,  0.]])
    """
    from ._progress import progress_bar
    from ._utils import check_float32_range, resolve_device

    X = check_array(X, dtype=[np.float64, np.float32])
    D = check_array(dictionary, dtype=[np.float64, np.float32])
    # float32 compute: ‖x‖² and the Gram's diagonal ‖d‖² must not overflow
    # (by Cauchy–Schwarz, then no entry of the Gram or of X Dᵀ does).
    check_float32_range(X, "X")
    check_float32_range(D, "the dictionary")
    if D.shape[1] != X.shape[1]:
        raise ValueError(
            f"The dictionary has {D.shape[1]} features but X has {X.shape[1]}."
        )
    torch_device = resolve_device(device)
    D_t = torch.as_tensor(D, dtype=torch.float32, device=torch_device)
    gram = D_t @ D_t.T
    lipschitz = lipschitz_constant(gram)
    codes = np.empty((X.shape[0], D.shape[0]), dtype=X.dtype)
    n_uncertified = 0
    bar = progress_bar(total=X.shape[0], desc="sparse_encode", unit="row", verbose=verbose)
    with torch.no_grad():
        solve = lars if algorithm == "lars" else fista
        for start in range(0, X.shape[0], batch_size):
            X_t = torch.as_tensor(X[start : start + batch_size], dtype=torch.float32,
                                  device=torch_device)
            Z, _, uncertified = solve(gram, X_t @ D_t.T, lam, lipschitz=lipschitz,
                                      positive=positive, max_iter=max_iter, tol=tol,
                                      sq_norms=X_t.pow(2).sum(dim=1), return_uncertified=True)
            n_uncertified += int(uncertified.sum())
            codes[start : start + batch_size] = Z.cpu().numpy()
            bar.update(len(Z))
    bar.close()
    _warn_uncertified(n_uncertified, X.shape[0], max_iter, tol, "max_iter", stacklevel=4)
    return codes


def _warn_uncertified(n_uncertified, n_samples, max_iter, tol, argument, stacklevel=3):
    """Warn (ConvergenceWarning) that ``n_uncertified`` codes stopped at the cap."""
    if n_uncertified:
        warnings.warn(
            f"{n_uncertified} of {n_samples} sparse codes stopped at {argument}="
            f"{max_iter} iterations without reaching the certified relative "
            f"suboptimality tol={tol:g}; raise `{argument}` (or `tol`).",
            ConvergenceWarning, stacklevel=stacklevel)
