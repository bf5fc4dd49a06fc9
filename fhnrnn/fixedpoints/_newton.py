"""Damped Newton / Levenberg-Marquardt on ``r(x) = F(x, u) - x``, with polishing."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from fhnrnn.fixedpoints._dense import DenseModel
from fhnrnn.fixedpoints._krylov import KrylovModel
from fhnrnn.fixedpoints._map import Map, chunks, half_squared_norm
from fhnrnn.fixedpoints.options import SearchOptions, Status

_MU_INIT, _MU_MIN, _MU_MAX = 1e-3, 1e-12, 1e12
_MU_UP, _MU_DOWN = 10.0, 10.0
_LM_TRIES = 8
_POLISH_GAIN = 0.1
_CHORD_STEPS = 3
_FLOOR_ULPS = 16.0
_STALL_WINDOW, _STALL_RATIO, _STALL_MU, _CRAWL_RATIO = 5, 0.5, 1e-2, 0.9


def newton_phase(
    problem: Map,
    x: Tensor,
    u: Tensor,
    adam_status: Tensor,
    n_iters: int,
    settings: SearchOptions,
    bar: tqdm,
) -> tuple[Tensor, int]:
    """Damped Newton / Levenberg-Marquardt on ``r(x) = F(x, u) - x`` for every start.

    Each iteration builds a linear model of r for the starts still working (in chunks of
    ``problem.newton_chunk`` points: the dense Jacobian or a Krylov space), tries the full
    Newton step and keeps it where it lowers q, otherwise Levenberg-Marquardt steps with
    growing damping (see :func:`_newton_step`). A start below ``tol_q`` goes on (polishing)
    until q is at the rounding floor of evaluating ``F(x) - x`` or stops falling tenfold per
    iteration; see :func:`_next_status` for when a start is given up. The host synchronises
    a few times per iteration and chunk (selecting working starts, ending GMRES and the
    damping loop): negligible next to the Jacobian products.

    Returns the final states (N, d) and the iterations run.
    """
    q = torch.cat([problem.q(x[rows], u[rows]) for rows in chunks(x.shape[0], problem.chunk * 16)])
    finite = torch.isfinite(q)
    below = finite & (q < settings.tol_q)
    status = torch.where(
        ~finite | (adam_status == Status.FAILED),
        Status.FAILED,
        torch.where(below, torch.where(q > 0, Status.POLISHING, Status.CONVERGED), Status.ACTIVE),
    ).to(torch.int8)
    mu = torch.full_like(q, _MU_INIT)
    q_reference = q.clone()
    age = torch.zeros_like(status, dtype=torch.int32)
    x = x.clone()
    iteration = 0
    for iteration in range(1, n_iters + 1):
        working = (status <= Status.POLISHING).nonzero().squeeze(1)
        bar.update(1)
        bar.set_postfix(active=working.numel())
        if working.numel() == 0:
            return x, iteration - 1
        for rows in working.split(problem.newton_chunk):
            polishing = status[rows] == Status.POLISHING
            step = _newton_step(problem, x[rows], u[rows], mu[rows], polishing)
            x[rows], mu[rows] = step.x, step.mu
            status[rows], q_reference[rows], age[rows] = _next_status(
                status[rows], step, q_reference[rows], age[rows], settings.tol_q
            )
    return x, iteration


@dataclass
class _Step:
    x: Tensor  # (c, d) new states
    q_old: Tensor  # (c,) q before the iteration
    q: Tensor  # (c,) q after it
    accepted: Tensor  # (c,) bool: a Newton or Levenberg-Marquardt step was taken
    floor: Tensor  # (c,) bool: q is down to the rounding error of evaluating F(x) - x
    mu: Tensor  # (c,) new damping


def _linear_model(problem: Map, x: Tensor, u: Tensor) -> DenseModel | KrylovModel:
    if problem.solver == "krylov":
        try:
            return KrylovModel(problem, x, u)
        except Exception as err:  # double backward is missing for some ops
            problem.solver = "dense"
            warnings.warn(
                f"step does not support double backward ({type(err).__name__}: {err}); "
                "using dense Jacobians for the Newton steps",
                RuntimeWarning,
                stacklevel=2,
            )
    return DenseModel(problem, x, u)


def _rounding_floor(x: Tensor, fx: Tensor) -> Tensor:
    """q below which rounding in evaluating ``F(x) - x`` dominates, shape (c,)."""
    scale = torch.maximum(x.abs().amax(dim=1), fx.abs().amax(dim=1)).clamp(min=1.0)
    unit = _FLOOR_ULPS * torch.finfo(x.dtype).eps * scale
    return 0.5 * x.shape[1] * unit * unit


def _newton_step(problem: Map, x: Tensor, u: Tensor, mu: Tensor, polishing: Tensor) -> _Step:
    """One iteration for a chunk of points: Newton (+ chord steps), else Levenberg-Marquardt.

    With dense Jacobians, an accepted Newton step is followed by up to ``_CHORD_STEPS``
    chord steps that reuse the factorisation (one evaluation of F each) while each divides q
    by ten: this usually finishes the polishing without another Jacobian.
    """
    model = _linear_model(problem, x, u)
    q = half_squared_norm(model.r)
    delta = model.newton_step()
    solved = torch.isfinite(delta).all(dim=1)
    trial = x + torch.where(solved[:, None], delta, torch.zeros_like(delta))
    f_trial = problem.evaluate(trial, u)
    q_trial = half_squared_norm(f_trial - trial)
    accepted = solved & (q_trial < q)
    new_x = torch.where(accepted[:, None], trial, x)
    new_fx = torch.where(accepted[:, None], f_trial, model.fx)
    new_q = torch.where(accepted, q_trial, q)
    mu = torch.where(accepted, (mu / _MU_DOWN).clamp(min=_MU_MIN), mu)
    if model.chords:
        _chord_steps(problem, model, new_x, u, new_fx, new_q, accepted)
    rows = (~accepted & ~polishing).nonzero().squeeze(1)
    if rows.numel():
        new_x[rows], new_fx[rows], new_q[rows], mu[rows], accepted[rows] = levenberg_marquardt(
            problem,
            x[rows],
            u[rows],
            model.fx[rows],
            q[rows],
            model.normal_equations(rows),
            mu[rows],
        )
    floor = new_q <= _rounding_floor(new_x, new_fx)
    return _Step(new_x, q, new_q, accepted, floor, mu)


def _chord_steps(
    problem: Map,
    model: DenseModel,
    x: Tensor,
    u: Tensor,
    fx: Tensor,
    q: Tensor,
    moving: Tensor,
) -> None:
    """Chord steps ``dx = -J_r(x_0)^{-1} r(x)`` for the points ``moving``; updates x, fx, q.

    The solves run on the whole chunk (zero residual elsewhere): cheaper than gathering the
    factorisation of a subset.
    """
    rows = moving.nonzero().squeeze(1)
    for _ in range(_CHORD_STEPS):
        if rows.numel() == 0:
            return
        residual = torch.zeros_like(x)
        residual[rows] = fx[rows] - x[rows]
        delta = model.newton_step(residual)[rows]
        usable = torch.isfinite(delta).all(dim=1)
        trial = x[rows] + torch.where(usable[:, None], delta, torch.zeros_like(delta))
        f_trial = problem.evaluate(trial, u[rows])
        q_trial = half_squared_norm(f_trial - trial)
        better = usable & (q_trial < q[rows])
        gaining = better & (q_trial < _POLISH_GAIN * q[rows])
        gaining &= q_trial > _rounding_floor(trial, f_trial)
        x[rows] = torch.where(better[:, None], trial, x[rows])
        fx[rows] = torch.where(better[:, None], f_trial, fx[rows])
        q[rows] = torch.where(better, q_trial, q[rows])
        rows = rows[gaining]


def levenberg_marquardt(
    problem: Map,
    x: Tensor,
    u: Tensor,
    fx: Tensor,
    q: Tensor,
    normal_equations: tuple[Tensor, Tensor, Tensor | None],
    mu: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Up to ``_LM_TRIES`` damped steps per point: ``(N + mu s I) y = g``, ``dx = B^T y``.

    ``N`` (c, p, p) and ``g`` (c, p) are the normal equations of the linear model in the
    coordinates of ``B`` (c, p, d) (the identity when None); ``s`` is the mean of the nonzero
    diagonal entries of N (a Krylov basis pads unused directions with zeros, as many as the
    batch's largest Krylov space needs), so the damping is relative to the model's scale
    and a point's steps do not depend on the other points of its batch. mu grows tenfold
    after each rejected try and shrinks tenfold after an accepted one.
    Returns the new states (c, d), F at them (c, d), q (c,), mu (c,) and which points moved.
    """
    normal, rhs, basis = normal_equations
    diagonal = normal.diagonal(dim1=1, dim2=2)
    used = (diagonal > 0).sum(dim=1).clamp(min=1)
    scale = (diagonal.sum(dim=1) / used).clamp(min=torch.finfo(x.dtype).tiny)
    eye = torch.eye(normal.shape[-1], dtype=x.dtype, device=x.device)
    new_x, new_fx, new_q = x.clone(), fx.clone(), q.clone()
    pending = torch.ones_like(q, dtype=torch.bool)
    for _ in range(_LM_TRIES):
        factor, info = torch.linalg.cholesky_ex(normal + (mu * scale)[:, None, None] * eye)
        coefficients = torch.cholesky_solve(rhs.unsqueeze(-1), factor)
        delta = coefficients if basis is None else basis.transpose(1, 2) @ coefficients
        delta = delta.squeeze(-1)
        usable = (info == 0) & torch.isfinite(delta).all(dim=1)
        trial = x + torch.where(usable[:, None], delta, torch.zeros_like(delta))
        f_trial = problem.evaluate(trial, u)
        q_trial = half_squared_norm(f_trial - trial)
        accepted = pending & usable & (q_trial < q)
        new_x = torch.where(accepted[:, None], trial, new_x)
        new_fx = torch.where(accepted[:, None], f_trial, new_fx)
        new_q = torch.where(accepted, q_trial, new_q)
        mu = torch.where(
            accepted, (mu / _MU_DOWN).clamp(min=_MU_MIN), torch.where(pending, mu * _MU_UP, mu)
        )
        pending = pending & ~accepted
        if not bool(pending.any()):
            break
    return new_x, new_fx, new_q, mu, ~pending


def _next_status(
    status: Tensor, step: _Step, q_reference: Tensor, age: Tensor, tol_q: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Status after a Newton iteration, with the stall-detection window (all on device).

    A polishing point is done once at its rounding floor, or when the iteration did not
    divide its q by ten. An active point below ``tol_q`` is done at the floor and polishes
    otherwise. An active point is given up when its damping exceeds ``_MU_MAX``, or when
    over a window of ``_STALL_WINDOW`` iterations its q fell by less than 10%, or by less
    than half while its steps were heavily damped (mu above ``_STALL_MU``).
    """
    polishing = status == Status.POLISHING
    still_polishing = step.accepted & ~step.floor & (step.q < _POLISH_GAIN * step.q_old)
    status = torch.where(polishing & ~still_polishing, Status.CONVERGED, status)
    active = status == Status.ACTIVE
    reached = active & (step.q < tol_q)
    finished = torch.where(step.floor, Status.CONVERGED, Status.POLISHING)
    status = torch.where(reached, finished, status)
    status = torch.where(active & ~reached & (step.mu > _MU_MAX), Status.FAILED, status)
    active = status == Status.ACTIVE
    age = torch.where(active, age + 1, age)
    window_done = active & (age >= _STALL_WINDOW)
    slow = (step.q > _STALL_RATIO * q_reference) & (step.mu > _STALL_MU)
    stalled = window_done & (slow | (step.q > _CRAWL_RATIO * q_reference))
    status = torch.where(stalled, Status.FAILED, status)
    q_reference = torch.where(window_done, step.q, q_reference)
    age = torch.where(window_done, torch.zeros_like(age), age)
    return status.to(torch.int8), q_reference, age


# --------------------------------------------------------------------------------------
# Unique points, characterisation
# --------------------------------------------------------------------------------------
