"""Active-set polish of FISTA's Lasso iterates: the exact solution on each
sample's support and signs, by batched Cholesky factorisations
(:func:`skvsc.solvers.fista` calls it; its duality gap certifies the result)."""

import torch

__all__ = []

_POLISH_BLOCK = 1 << 22  # float64 entries of the padded |S|×|S| systems per solve
_POLISH_DROPS = 2  # re-solves after dropping the atoms whose sign flipped


def _support_systems(Z, G_ext, B, lam, positive):
    """Support, signs and the padded support-restricted systems of each row of ``Z``.

    Returns ``idx`` (m, k) — the support of each row in increasing order, padded
    with the index ``l`` of an extra, all-zero column — and, in float64, the
    Gram blocks ``G_SS`` (identity on the pad) and right-hand sides
    ``b_S − λ·sign(z_S)`` (zero on the pad).
    """
    l = Z.shape[1]
    support = Z != 0
    size = support.sum(dim=1)
    k = int(size.max())
    # Support indices first (stably sorted, so in increasing order), then the rest.
    idx = torch.argsort((~support).to(torch.uint8), dim=1, stable=True)[:, :k]
    pad = torch.arange(k, device=Z.device) >= size[:, None]
    idx = idx.masked_fill(pad, l)
    G_SS = G_ext[idx[:, :, None], idx[:, None, :]]
    G_SS.diagonal(dim1=1, dim2=2).add_(pad.to(G_SS.dtype))
    signs = torch.ones_like(Z) if positive else torch.sign(Z)
    signs = torch.nn.functional.pad(signs, (0, 1)).gather(1, idx)
    signs.masked_fill_(pad, 0)
    rhs = torch.nn.functional.pad(B, (0, 1)).gather(1, idx).to(G_SS.dtype)
    rhs.sub_(signs.to(rhs.dtype), alpha=lam)
    return idx, signs, G_SS, rhs


def _polish(Z, B, G_ext, lam, positive, n_drops=_POLISH_DROPS):
    """Active-set polish of FISTA iterates ``Z`` (batched; never raises the energy).

    For each row, with ``S`` the support of ``z`` and ``σ`` its signs, solves
    the Lasso restricted to ``S`` as if the signs were right — one linear
    system ``G_SS u_S = b_S − λσ_S`` per row, by a batched float64 Cholesky
    factorisation of the padded ``|S|×|S|`` blocks (rows sorted by support
    size and solved in blocks, so padding stays small).  Atoms whose sign
    flips in ``u`` leave the support and the system is solved again, up to
    ``n_drops`` times.  The result replaces ``z`` where its energy is lower.
    Elsewhere ``z`` moves towards the first solution only as far as every
    sign holds: on that face the energy is the convex quadratic that the
    solution minimises, so the move is a descent step.  Where the signs and
    support were right, the row lands on the exact Lasso optimum — which the
    caller's duality-gap certificate checks (inactive atoms included).
    """
    m, l = Z.shape
    result = Z.clone()
    if m == 0:
        return result
    size = (Z != 0).sum(dim=1)
    order = torch.argsort(size)
    sizes = size[order].tolist()
    start = 0
    while start < m:
        k = max(sizes[start], 1)
        # Rows sharing roughly this block size, within the memory budget.
        stop = min(m, start + max(1, _POLISH_BLOCK // (k * k)))
        stop = min(stop, start + max(1, _POLISH_BLOCK // max(sizes[stop - 1], 1) ** 2))
        rows = order[start:stop]
        start = stop
        if sizes[stop - 1] == 0:
            continue
        z = Z.index_select(0, rows)
        idx, signs, G_SS, rhs = _support_systems(z, G_ext, B.index_select(0, rows), lam,
                                                 positive)
        z_S = torch.nn.functional.pad(z, (0, 1)).gather(1, idx).to(G_SS.dtype)
        b_S = rhs + lam * signs.to(rhs.dtype)

        def energy(u):  # of the rows' codes u on their supports, up to ½‖x‖²
            quadratic = 0.5 * (torch.bmm(G_SS, u.unsqueeze(2)).squeeze(2) * u).sum(dim=1)
            return quadratic - (b_S * u).sum(dim=1) + lam * u.abs().sum(dim=1)

        keep = signs != 0
        first = None
        for _ in range(n_drops + 1):
            # Dropped atoms: identity rows and columns, zero right-hand side.
            G_keep = G_SS * (keep.unsqueeze(1) & keep.unsqueeze(2))
            G_keep.diagonal(dim1=1, dim2=2).add_((~keep).to(G_SS.dtype))
            chol, info = torch.linalg.cholesky_ex(G_keep)
            u = torch.cholesky_solve((rhs * keep).unsqueeze(2), chol).squeeze(2)
            failed = (info != 0) | ~torch.isfinite(u).all(dim=1)
            u.masked_fill_(failed.unsqueeze(1), 0.0)
            if first is None:
                first, first_failed = u, failed
            crossing = keep & (u * signs <= 0)
            if not bool(crossing.any()):
                break
            keep = keep & ~crossing
        u = u.masked_fill(u * signs <= 0, 0.0)
        # The descent step towards the first solution, as far as every sign holds.
        crossing = first * signs < 0
        ratio = torch.where(crossing, z_S / (z_S - first).masked_fill(~crossing, 1.0),
                            torch.ones_like(first))
        alpha = ratio.amin(dim=1, keepdim=True).clamp_(0.0, 1.0)
        alpha.masked_fill_(first_failed.unsqueeze(1), 0.0)
        step = torch.lerp(z_S, first, alpha)
        step.masked_fill_(step * signs <= 0, 0.0)  # the atoms that reached zero leave
        better = (energy(u) < energy(step)) & ~failed
        new = torch.where(better.unsqueeze(1), u, step).to(Z.dtype)
        out = Z.new_zeros(len(rows), l + 1).scatter_(1, idx, new)[:, :l]
        result.index_copy_(0, rows, out)
    return result
