"""The matrix-free linear model of the residual: batched GMRES on Jacobian-vector products."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from fhnrnn.fixedpoints._map import Map

_KRYLOV_RTOL = 1e-13
_LM_DIRECTIONS = 10


class KrylovModel:
    """``r(x + dx) ~ r + J_r dx`` restricted to a small subspace, matrix-free.

    GMRES builds an orthonormal basis ``V`` with ``J_r V_k = V_{k+1} H`` from
    Jacobian-vector products (see :meth:`Map.linearise`, about one evaluation of the map
    each), so a step costs k of them instead of the d needed for the dense Jacobian. The
    Newton step is the GMRES solution of ``J_r dx = -r``. Damped steps minimise
    ``||r + J_r W y||^2 + lambda ||y||^2`` over ``dx = W y``, where W is V_k plus the
    steepest-descent direction ``J_r^T r`` (not in the Krylov space in general, and the way
    out of the slow regions where Newton steps fail).
    """

    chords = False

    def __init__(self, problem: Map, x: Tensor, u: Tensor):
        self.problem, self.x, self.u = problem, x, u
        self.fx, self.linearisation = problem.linearise(x, u)
        self.r = self.fx - x
        self.krylov = gmres(lambda v: self.linearisation.times(v) - v, -self.r, problem.krylov_dim)

    def newton_step(self) -> Tensor:
        """The GMRES solution of ``J_r dx = -r``, shape (c, d)."""
        return self.krylov.solution

    def normal_equations(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """``(A A^T, -A r, W)`` with ``A = J_r W`` as rows (c, p, d), for ``rows``.

        W is V_k followed by ``_LM_DIRECTIONS`` Golub-Kahan directions ``(J_r^T J_r)^i J_r^T r``
        (the Krylov space of least squares, starting with steepest descent), orthonormalised.
        When only some points need them, the map is linearised again at those points alone,
        so that the 2 * ``_LM_DIRECTIONS`` products cost in proportion.
        """
        r = self.r[rows]
        linearisation = self.linearisation
        if rows.numel() < self.r.shape[0]:
            _, linearisation = self.problem.linearise(self.x[rows], self.u[rows])
        basis = self.krylov.basis[rows]
        images = torch.einsum(
            "cjk,cjd->ckd", self.krylov.hessenberg[rows], self.krylov.full_basis[rows]
        )
        direction = linearisation.transpose_times(r) - r
        for _ in range(_LM_DIRECTIONS):
            for _ in range(2):
                direction = direction - torch.einsum(
                    "ckd,ck->cd", basis, torch.einsum("ckd,cd->ck", basis, direction)
                )
            norm = direction.norm(dim=1, keepdim=True)
            direction = torch.where(
                norm > 0, direction / norm.clamp(min=torch.finfo(norm.dtype).tiny), 0.0
            )
            image = linearisation.times(direction) - direction
            basis = torch.cat([basis, direction[:, None]], dim=1)
            images = torch.cat([images, image[:, None]], dim=1)
            direction = linearisation.transpose_times(image) - image
        return images @ images.transpose(1, 2), -(images @ r.unsqueeze(-1)).squeeze(-1), basis


@dataclass
class Krylov:
    """GMRES result for a batch; point i uses the first ``dims[i]`` of the k columns."""

    solution: Tensor  # (c, d)
    full_basis: Tensor  # (c, k + 1, d): V_{k+1}, rows past dims[i] + 1 are zero
    hessenberg: Tensor  # (c, k + 1, k): A V_k = V_{k+1} H, columns past dims[i] are zero
    dims: Tensor  # (c,) Krylov dimension of each point

    @property
    def basis(self) -> Tensor:
        """``V_k`` with the columns past each point's dimension zeroed, shape (c, k, d)."""
        k = self.hessenberg.shape[2]
        used = torch.arange(k, device=self.dims.device) < self.dims[:, None]
        return self.full_basis[:, :k] * used[:, :, None]


def gmres(apply: Callable[[Tensor], Tensor], b: Tensor, max_dim: int) -> Krylov:
    """Solve ``A_i x_i = b_i`` for a batch of points by GMRES (no restart).

    Arnoldi with classical Gram-Schmidt applied twice, Givens rotations for the residual of
    every point at every iteration; a point stops (its later columns become the identity)
    once its residual is below ``_KRYLOV_RTOL * ||b_i||``, and the loop stops when every point
    has, or after ``max_dim`` iterations.

    Parameters
    ----------
    apply : callable
        ``V (c, d) -> A V`` row by row.
    b : Tensor, shape (c, d)
    max_dim : int
        Largest Krylov dimension.
    """
    c, d = b.shape
    tiny = torch.finfo(b.dtype).tiny
    beta = b.norm(dim=1)
    basis = b.new_zeros(c, max_dim + 1, d)
    hessenberg = b.new_zeros(c, max_dim + 1, max_dim)
    upper = b.new_zeros(c, max_dim, max_dim)
    cosines, sines = b.new_zeros(c, max_dim), b.new_zeros(c, max_dim)
    rhs = b.new_zeros(c, max_dim + 1)
    rhs[:, 0] = beta
    basis[:, 0] = b / beta.clamp(min=tiny)[:, None]
    live = beta > 0
    dims = torch.zeros(c, dtype=torch.long, device=b.device)
    size = 0
    for j in range(max_dim):
        size = j + 1
        column, basis[:, j + 1] = _arnoldi_column(apply, basis[:, : j + 1], live)
        hessenberg[:, : j + 2, j] = column
        for i in range(j):
            above, below = column[:, i].clone(), column[:, i + 1].clone()
            column[:, i] = cosines[:, i] * above + sines[:, i] * below
            column[:, i + 1] = cosines[:, i] * below - sines[:, i] * above
        radius = torch.hypot(column[:, j], column[:, j + 1])
        rotate = live & (radius > tiny)
        cosines[:, j] = torch.where(rotate, column[:, j] / radius.clamp(min=tiny), 1.0)
        sines[:, j] = torch.where(rotate, column[:, j + 1] / radius.clamp(min=tiny), 0.0)
        column[:, j] = torch.where(rotate, radius, 1.0)
        identity = torch.zeros_like(column[:, : j + 1])
        identity[:, j] = 1.0
        upper[:, : j + 1, j] = torch.where(rotate[:, None], column[:, : j + 1], identity)
        previous = rhs[:, j].clone()
        rhs[:, j] = torch.where(rotate, cosines[:, j] * previous, 0.0)
        rhs[:, j + 1] = torch.where(rotate, -sines[:, j] * previous, 0.0)
        dims = dims + live.to(dims.dtype)
        live = rotate & (rhs[:, j + 1].abs() > _KRYLOV_RTOL * beta)
        if not bool(live.any()):
            break
    coefficients = torch.linalg.solve_triangular(
        upper[:, :size, :size], rhs[:, :size, None], upper=True
    )
    solution = (basis[:, :size].transpose(1, 2) @ coefficients).squeeze(-1)
    return Krylov(solution, basis[:, : size + 1], hessenberg[:, : size + 1, :size], dims)


def _arnoldi_column(
    apply: Callable[[Tensor], Tensor], basis: Tensor, live: Tensor
) -> tuple[Tensor, Tensor]:
    """Orthogonalise ``A v_j`` against ``basis`` (c, j+1, d): the Hessenberg column and v_{j+1}.

    A remainder below ``_KRYLOV_RTOL`` times ``||A v_j||`` is rounding error: the space is
    invariant (breakdown), and the column ends in an exact zero. Points that are not live
    get a zero column and a zero vector.
    """
    w = apply(basis[:, -1])
    scale = w.norm(dim=1)
    coefficients = torch.zeros_like(basis[:, :, 0])
    for _ in range(2):
        projection = torch.einsum("cjd,cd->cj", basis, w)
        w = w - torch.einsum("cjd,cj->cd", basis, projection)
        coefficients = coefficients + projection
    norm = w.norm(dim=1)
    grows = live & (norm > _KRYLOV_RTOL * scale)
    norm = torch.where(grows, norm, 0.0)
    column = torch.cat([coefficients, norm[:, None]], dim=1) * live[:, None]
    following = torch.where(
        grows[:, None], w / norm.clamp(min=torch.finfo(w.dtype).tiny)[:, None], 0.0
    )
    return column, following
