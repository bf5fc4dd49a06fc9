"""Adam on q for every start at once (the warm-up of Newton, and ``method="adam"``)."""

from __future__ import annotations

import torch
from torch import Tensor
from tqdm.auto import tqdm

from fhnrnn.fixedpoints._map import Map
from fhnrnn.fixedpoints.options import SearchOptions, Status

_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8
_LR_GROW, _LR_SHRINK, _LR_MIN = 1.05, 0.7, 1e-12
_CHECK_EVERY = 50


def adam_phase(
    problem: Map, x: Tensor, u: Tensor, n_iters: int, settings: SearchOptions, bar: tqdm
) -> tuple[Tensor, Tensor, int]:
    """Adam on q for every start at once; converged and diverged starts freeze.

    Each start has its own learning rate, grown by 5% while its q falls and cut by 30% when
    it rises, and its gradient is clipped to norm ``grad_clip``. The active set is checked
    (one host synchronisation) and compacted every ``_CHECK_EVERY`` iterations.

    Returns the final states (N, d), the status of each start (N,) and the iterations run.
    """
    n = x.shape[0]
    x_all = x.clone()
    status_all = torch.full((n,), Status.ACTIVE, dtype=torch.int8, device=x.device)
    if n_iters == 0:
        return x_all, status_all, 0
    index = torch.arange(n, device=x.device)
    state = {
        "x": x.clone(),
        "u": u,
        "status": status_all.clone(),
        "m": torch.zeros_like(x),
        "v": torch.zeros_like(x),
        "lr": torch.full((n,), settings.lr, dtype=x.dtype, device=x.device),
        "q_prev": torch.full((n,), torch.inf, dtype=x.dtype, device=x.device),
    }
    beta1, beta2 = _ADAM_BETAS
    iteration = 0
    for iteration in range(1, n_iters + 1):
        q, gradient = problem.q_and_gradient(state["x"], state["u"])
        live = state["status"] == Status.ACTIVE
        finite = torch.isfinite(q) & torch.isfinite(gradient).all(dim=1)
        converged = finite & (q < settings.tol_q)
        failed = torch.where(live & ~finite, Status.FAILED, state["status"])
        state["status"] = torch.where(live & converged, Status.CONVERGED, failed).to(torch.int8)
        moving = (state["status"] == Status.ACTIVE)[:, None]
        falling = q < state["q_prev"]
        state["lr"] = torch.where(falling, state["lr"] * _LR_GROW, state["lr"] * _LR_SHRINK).clamp(
            _LR_MIN, settings.lr * 100
        )
        state["q_prev"] = q
        norm = gradient.norm(dim=1, keepdim=True)
        gradient = gradient * (settings.grad_clip / norm).clamp(max=1.0).nan_to_num(1.0)
        state["m"] = torch.where(moving, beta1 * state["m"] + (1 - beta1) * gradient, state["m"])
        state["v"] = torch.where(
            moving, beta2 * state["v"] + (1 - beta2) * gradient * gradient, state["v"]
        )
        m_hat = state["m"] / (1 - beta1**iteration)
        v_hat = state["v"] / (1 - beta2**iteration)
        update = state["lr"][:, None] * m_hat / (v_hat.sqrt() + _ADAM_EPS)
        state["x"] = torch.where(moving, state["x"] - update, state["x"])
        if iteration % _CHECK_EVERY == 0 or iteration == n_iters:
            x_all[index] = state["x"]
            status_all[index] = state["status"]
            keep = (state["status"] == Status.ACTIVE).nonzero().squeeze(1)
            bar.update(iteration - bar.n)
            bar.set_postfix(active=keep.numel(), max_q=f"{float(q.max()):.1e}")
            if keep.numel() == 0:
                break
            index = index[keep]
            state = {key: value[keep] for key, value in state.items()}
    return x_all, status_all, iteration
