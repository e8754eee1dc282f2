"""Batched LARS-Lasso homotopy: exact Lasso codes for many samples at once.

Every sample follows its own regularisation path, from ``λ = ‖b‖_∞`` (where
the code is zero) down to the requested ``λ``; all samples take their steps
together, so each step is one dense ``(m, l) × (l, l)`` product and a few
batched rank-one updates, on the CPU or a GPU alike.  Along a path the code is
piecewise linear: it changes direction only where an atom joins the active set
(its correlation reaches the active ones') or leaves it (its coefficient
reaches zero, the Lasso modification of LARS).  Each sample keeps the inverse
of its active Gram block ``G_AA`` in float64, in fixed *slots*, updated by the
block-inverse (Schur complement) formulas: ``O(k²)`` per step instead of a new
factorisation.

References
----------
B. Efron, T. Hastie, I. Johnstone and R. Tibshirani, "Least angle regression",
Annals of Statistics, 2004 (the Lasso modification is their section 3.1).
"""

import torch

__all__ = []

_TINY = 1e-12  # relative: pivots and rates below it are rounding
_SLOTS = 16  # slots added to every row when one row runs out


def _grow(state, capacity):
    """Pad the slot tensors of ``state`` to ``capacity`` slots."""
    pad = capacity - state["slots"].shape[1]
    l = state["c"].shape[1]
    F = torch.nn.functional
    state["slots"] = F.pad(state["slots"], (0, pad), value=l)
    state["z"] = F.pad(state["z"], (0, pad))
    state["signs"] = F.pad(state["signs"], (0, pad))
    state["w"] = F.pad(state["w"], (0, pad))
    state["inverse"] = F.pad(state["inverse"], (0, pad, 0, pad))


def lars_path_end(gram, correlation, lam, *, positive=False, max_steps=None):
    """Exact Lasso codes ``argmin_z ½ zGzᵀ − z·b + λ‖z‖₁`` by batched LARS.

    Parameters
    ----------
    gram : torch.Tensor of shape (n_components, n_components)
        ``D Dᵀ``.
    correlation : torch.Tensor of shape (n_samples, n_components)
        ``X Dᵀ``.
    lam : float
        L1 weight λ ≥ 0.
    positive : bool, default=False
        Non-negative codes.
    max_steps : int, default=None
        Path steps (joins and leaves) before giving up; ``8·n_components``
        when None.

    Returns
    -------
    codes : torch.Tensor of shape (n_samples, n_components)
        The codes, in ``correlation``'s dtype.
    n_steps : int
        Steps taken by the longest path.
    unfinished : torch.Tensor of bool, shape (n_samples,)
        Samples whose path did not reach ``λ`` within ``max_steps``; their
        codes are the path's last point, a good start for an iterative
        solver.  (An atom linearly dependent on the active ones never joins:
        the path goes on without it.)
    """
    m, l = correlation.shape
    device, out_dtype = correlation.device, correlation.dtype
    f64 = torch.float64
    G = gram.detach().to(f64)
    # The pad column l of an extended Gram (zeros) lets empty slots gather zeros.
    G_ext = torch.nn.functional.pad(G, (0, 1, 0, 1))
    G_dense = gram.detach().to(out_dtype)
    codes = torch.zeros(m, l, dtype=out_dtype, device=device)
    unfinished = torch.zeros(m, dtype=torch.bool, device=device)
    if max_steps is None:
        max_steps = 8 * l
    b = correlation.detach().to(f64)
    start = b if positive else b.abs()
    C, first = start.max(dim=1)
    rows = (C > lam).nonzero().squeeze(1)
    if rows.numel() == 0:
        return codes, 0, unfinished
    b, C, first = b[rows], C[rows], first[rows]
    m = rows.numel()
    ar = torch.arange(m, device=device)
    state = {
        "rows": rows,
        "c": b.clone(),  # correlations b − z G, updated along the path
        "b": b,
        "C": C,  # the common |c| of the active atoms
        "slots": first[:, None].clone(),  # atom of each slot (l: empty)
        "z": torch.zeros(m, 1, dtype=f64, device=device),
        "signs": torch.sign(b[ar, first])[:, None],
        "inverse": (1.0 / G[first, first])[:, None, None],
        "w": (torch.sign(b[ar, first]) / G[first, first])[:, None],
        "active": torch.zeros(m, l, dtype=torch.bool, device=device),
        "blocked": torch.zeros(m, l, dtype=torch.bool, device=device),
        "alive": torch.ones(m, dtype=torch.bool, device=device),
    }
    state["active"][ar, first] = True
    n_steps = 0

    def finish(done, at_lam=True):
        """Store the finished rows' codes (at ``λ``: re-solved on their active sets).

        Finished rows stay in the state, frozen, until a quarter of the rows
        are finished: copying every state tensor costs more than a few idle rows.
        """
        s = {key: state[key][done] for key in ("rows", "b", "slots", "inverse", "signs", "z")}
        z = s["z"]
        if at_lam:
            # On the final active set and signs the optimum solves G_AA z = b_A − λ s_A.
            b_A = torch.nn.functional.pad(s["b"], (0, 1)).gather(1, s["slots"])
            z = torch.bmm(s["inverse"], (b_A - lam * s["signs"]).unsqueeze(2)).squeeze(2)
        z = z.masked_fill(s["slots"] == l, 0.0)
        full = torch.zeros(len(z), l + 1, dtype=f64, device=device).scatter_(1, s["slots"], z)
        codes[s["rows"]] = full[:, :l].to(out_dtype)
        alive = state["alive"]
        alive &= ~done
        if 4 * int(alive.sum()) <= 3 * len(alive):
            for key in state:
                state[key] = state[key][alive]

    while bool(state["alive"].any()):
        if n_steps >= max_steps:
            unfinished[state["rows"][state["alive"]]] = True
            finish(state["alive"].clone(), at_lam=False)
            break
        n_steps += 1
        m = state["rows"].numel()
        slots, inverse, signs, w = (state[key] for key in ("slots", "inverse", "signs", "w"))
        occupied = slots != l
        # w solves G_AA w = s_A (kept up to date below): moving the active
        # coefficients along w keeps their correlations equal as C decreases
        # at unit rate; a is the rate of change of every correlation.
        W = torch.zeros(m, l + 1, dtype=f64, device=device).scatter_(1, slots, w)[:, :l]
        a = (W.to(G_dense.dtype) @ G_dense).to(f64)
        C, c = state["C"], state["c"]
        Cc = C[:, None]
        # Join: an inactive correlation reaches ±(C − γ).
        up = torch.where((1.0 - a) > _TINY, (Cc - c) / (1.0 - a), torch.inf)
        if positive:
            gamma_join = up
        else:
            down = torch.where((1.0 + a) > _TINY, (Cc + c) / (1.0 + a), torch.inf)
            gamma_join = torch.minimum(up, down)
        excluded = state["active"] | state["blocked"]
        gamma_join = gamma_join.masked_fill_(excluded | (gamma_join <= 0), torch.inf)
        gamma_join, join = gamma_join.min(dim=1)
        # Leave: an active coefficient reaches zero.
        z = state["z"]
        ratio = -z / torch.where(w != 0, w, torch.ones_like(w))
        ratio.masked_fill_(~(occupied & (z * w < 0) & (ratio > 0)), torch.inf)
        gamma_leave, leave = ratio.min(dim=1)
        gamma_stop = C - lam
        alive = state["alive"]
        gamma = torch.minimum(torch.minimum(gamma_join, gamma_leave), gamma_stop)
        gamma.masked_fill_(~alive, 0.0)
        z.add_(gamma[:, None] * w)
        c.sub_(gamma[:, None] * a)
        C.sub_(gamma)
        stop = alive & (gamma_stop <= torch.minimum(gamma_join, gamma_leave))
        drop = alive & ~stop & (gamma_leave < gamma_join)
        add = alive & ~stop & ~drop
        if bool(add.any()) and not bool((~occupied[add]).any(dim=1).all()):
            _grow(state, slots.shape[1] + _SLOTS)
            slots, inverse, signs, w, z = (state[key]
                                           for key in ("slots", "inverse", "signs", "w", "z"))
        # One rank-one update of every inverse (in place), M += coef · v vᵀ:
        # for a join, the block-inverse formula with u = M g and the Schur
        # complement p = G_jj − g·u; for a leave, M − M_i M_iᵀ / M_ii.
        j = join.masked_fill(~add, l)
        g = G_ext[slots, j[:, None]]  # G between the active atoms and j
        u = torch.bmm(inverse, g.unsqueeze(2)).squeeze(2)
        pivot = G_ext[j, j] - (g * u).sum(dim=1)
        dependent = add & ~(pivot > _TINY * G_ext[j, j])
        if bool(dependent.any()):
            # A linearly dependent atom cannot join: block it and step on.
            state["blocked"][dependent.nonzero().squeeze(1), join[dependent]] = True
            add &= ~dependent
        M_i = inverse.gather(2, leave[:, None, None].expand(-1, inverse.shape[1], 1)).squeeze(2)
        M_ii = M_i.gather(1, leave[:, None]).squeeze(1)
        v = torch.where(add[:, None], u, torch.where(drop[:, None], M_i, 0.0))
        coef = torch.where(add, 1.0 / pivot, torch.where(drop, -1.0 / M_ii, 0.0))
        # The direction follows the same formulas: w += coef · v (v·s − s_new).
        w_i = w.gather(1, leave[:, None]).squeeze(1)
        new_sign = (torch.ones_like(gamma) if positive
                    else torch.sign(c.gather(1, join[:, None]).squeeze(1)))
        vs = torch.where(add, (g * w).sum(dim=1) - new_sign, torch.where(drop, w_i, 0.0))
        w.addcmul_(v, (coef * vs)[:, None])
        inverse.baddbmm_((v * coef[:, None]).unsqueeze(2), v.unsqueeze(1))
        if bool(drop.any()):
            r = drop.nonzero().squeeze(1)
            i = leave[r]
            inverse[r, i, :] = 0.0
            inverse[r, :, i] = 0.0
            state["active"][r, slots[r, i]] = False
            slots[r, i] = l
            z[r, i] = 0.0
            signs[r, i] = 0.0
            w[r, i] = 0.0
        if bool(add.any()):
            r = add.nonzero().squeeze(1)
            f = (slots[r] == l).to(torch.uint8).argmax(dim=1)
            p = pivot[r]
            inverse[r, f, :] = -u[r] / p[:, None]
            inverse[r, :, f] = -u[r] / p[:, None]
            inverse[r, f, f] = 1.0 / p
            slots[r, f] = join[r]
            state["active"][r, join[r]] = True
            z[r, f] = 0.0
            signs[r, f] = new_sign[r]
            w[r, f] = -vs[r] / p
        if bool(stop.any()):
            finish(stop)
    return codes, n_steps, unfinished
